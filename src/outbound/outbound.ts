import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { AccountLimits } from '../accounts/account.view.js';
import type { Catalog } from '../catalog/catalog.js';
import type { AddressGuard } from '../net/guard.js';
import { SmtpPool, type SmtpPoolOptions } from '../protocols/smtp-pool.js';
import type { Database } from '../store/schema.js';
import type { AccountRow, Repositories } from '../store/index.js';
import { defaultResolveTxt, type ResolveTxt } from './dmarc.js';
import { SendLimiter, limitSpecFor } from './limits.js';
import { OutboxService, sendsViaPlatform } from './outbox.service.js';
import { platformRelay } from './platform.js';
import { SendWorker, type SendWorkerDeps, type SendWorkerOptions } from './send-worker.js';
import { SentCopier } from './sent-copy.js';
import { Composer, type ComposerOptions } from './composer.js';

/** Test and tuning knobs of the outbound module (AppOptions.outbound). */
export interface OutboundOptions {
  worker?: Partial<SendWorkerOptions>;
  pool?: Partial<Omit<SmtpPoolOptions, 'guard' | 'logger'>>;
  /** DNS TXT lookups for DMARC (tests answer from a table) */
  resolveTxt?: ResolveTxt;
  /** the limiter's clock (tests move time) */
  limiterNow?: () => Date;
  sentCopy?: { timeoutMs?: number; searchDelayMs?: number };
  /** composing drafts on worker threads (threads: 0 composes on the main thread) */
  compose?: ComposerOptions;
}

export interface Outbound {
  outbox: OutboxService;
  worker: SendWorker;
  limiter: SendLimiter;
  pool: SmtpPool;
  /** stops claiming, closes the pool (messages on a connection finish, the rest go back to the queue), waits for the worker */
  close(): Promise<void>;
}

/**
 * Wires the outbound module: limiter, pool, Sent copier, outbox service and send worker. The
 * limiter is made first (the accounts module shows its usage), the rest once accounts exist.
 *
 * @example
 *   const limiter = createLimiter(store.db);
 *   const outbound = createOutbound({ ..., limiter });
 *   outbound.worker.start();
 */
export function createLimiter(db: Kysely<Database>, options: OutboundOptions = {}): SendLimiter {
  return new SendLimiter(db, options.limiterNow);
}

/**
 * The most recipients a message through `row` can have: its provider's per-message limit and, for
 * mail it sends itself where the windows count recipients, each window's whole limit (a message
 * over it would wait forever); the windows do not cap mail that goes through the platform, nor
 * mail that may overflow to it. The smallest cap, or null.
 */
function recipientCap(row: AccountRow, limits: AccountLimits, catalog: Catalog, platformConfigured: boolean): { max: number; per: string } | null {
  const caps: Array<{ max: number; per: string }> = [];
  if (limits.recipientsPerMessage !== null) caps.push({ max: limits.recipientsPerMessage, per: 'per message' });
  if (!sendsViaPlatform(row) && !(limits.fallbackToPlatform && platformConfigured)) {
    const spec = limitSpecFor(limits, row.preset ? catalog.get(row.preset) : undefined);
    if (spec.countsRecipients) {
      for (const [per, max] of [['a day', spec.perDay], ['an hour', spec.perHour], ['a minute', spec.perMinute]] as const) if (typeof max === 'number') caps.push({ max, per });
    }
  }
  return caps.reduce<{ max: number; per: string } | null>((a, b) => (a === null || b.max < a.max ? b : a), null);
}

export function createOutbound(deps: {
  repos: Repositories;
  accounts: AccountsService;
  catalog: Catalog;
  guard: AddressGuard;
  events: SendWorkerDeps['events'];
  limiter: SendLimiter;
  platformSmtpUrl: string | null;
  platformFrom: string | null;
  logger: Logger;
  options?: OutboundOptions;
  /** access tokens of gmail/outlook accounts (the oauth module) */
  oauth?: SendWorkerDeps['oauth'];
  /** the correspondence record of each message sent through an account (the inbound module) */
  records?: SendWorkerDeps['records'];
  /** counts send outcomes and limit deferrals (the metrics module) */
  metrics?: SendWorkerDeps['metrics'];
}): Outbound {
  const o = deps.options ?? {};
  const log = deps.logger.child({ module: 'outbound' });
  const relay = platformRelay(deps.platformSmtpUrl, deps.platformFrom);
  const pool = new SmtpPool({ guard: deps.guard, logger: log, ...o.pool });
  const copier = new SentCopier({ guard: deps.guard, logger: log, ...o.sentCopy });
  const composer = new Composer({
    ...o.compose,
    onThreadFailure: (err) => log.warn({ err }, 'composer threads unavailable: messages are composed on the main thread'),
  });
  const outbox = new OutboxService({
    repos: deps.repos,
    platformConfigured: relay !== null,
    recipientCap: (row) => recipientCap(row, deps.accounts.effectiveLimits(row), deps.catalog, relay !== null),
  });
  const worker = new SendWorker({
    repos: deps.repos,
    accounts: deps.accounts,
    catalog: deps.catalog,
    limiter: deps.limiter,
    pool,
    copier,
    events: deps.events,
    records: deps.records,
    platform: relay,
    resolveTxt: o.resolveTxt ?? defaultResolveTxt(),
    logger: deps.logger,
    options: o.worker,
    oauth: deps.oauth,
    metrics: deps.metrics,
    composer,
  });
  return {
    outbox, worker, limiter: deps.limiter, pool,
    async close() {
      // no more claims from here; messages not yet on an SMTP connection come back from the pool
      // at once (the worker defers them, so no job waits in `sending` for its visibility timeout),
      // while messages on a connection finish; then the worker's jobs in flight settle (bounded)
      const stopped = worker.stop();
      await pool.close();
      await stopped;
      await composer.close();
    },
  };
}
