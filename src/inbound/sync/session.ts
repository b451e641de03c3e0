import type { Logger } from 'pino';
import { MailportError } from '../../core/errors.js';
import type { Credentials } from '../../core/types.js';
import type { CheckContext, CheckLogger } from '../../protocols/context.js';
import { LeaseLostError, type AccountRow, type Lease, type Repositories } from '../../store/index.js';
import type { CorrespondenceService } from '../correspondence.service.js';
import { backoffDelay, type SyncOptions } from './options.js';

/** Failures that mean the credentials are wrong: no automatic retry with the same ones. */
export const AUTH_CODES = new Set(['AUTH_FAILED', 'APP_PASSWORD_REQUIRED', 'OAUTH_REQUIRED', 'OAUTH_REVOKED']);

export type SessionState = 'connecting' | 'syncing' | 'idle' | 'backoff' | 'error' | 'waiting' | 'stopped';

/** What a mailbox session needs from the rest of Mailport (the supervisor builds it). */
export interface SessionDeps {
  repos: Pick<Repositories, 'sync' | 'correspondence' | 'accounts'>;
  correspondence: Pick<CorrespondenceService, 'ingest' | 'ingestMany' | 'parseMany'>;
  /** the password, or a fresh OAuth access token (a new one when `rejected` is the token the server just refused) */
  credentials(account: AccountRow, opts?: { rejected?: string }): Promise<Credentials>;
  /** guard, connect budget, provider facts, logger */
  checkContext(account: AccountRow): CheckContext;
  /** turns the account red with the reason (an event goes out once per change) */
  reportFailure(account: AccountRow, err: MailportError): Promise<void>;
  /** the account works again after a failure this session reported */
  reportRecovered(account: AccountRow): Promise<void>;
  /** waits for one of the node's connect slots (so 2,000 sessions do not all log in at the same moment); call the result to free it */
  connectSlot?(): Promise<() => void>;
  /** waits until the node's sessions hold few enough fetched bytes to fetch `bytes` more (SyncOptions.fetchBudgetBytes); call the result once they are stored */
  fetchBudget?(bytes: number): Promise<() => void>;
  options: SyncOptions;
  logger: Logger;
  now(): Date;
}

/**
 * A session's protocol client logs here once signed in: to the node's sync logger with the
 * account id, the pino child made only for an entry that is logged (one kept per session costs
 * about 1 KB; 2,000 idle sessions should cost little).
 */
export class AccountLog implements CheckLogger {
  constructor(
    private readonly base: Logger,
    private readonly accountId: string,
  ) {}

  debug(obj: object, msg?: string): void {
    if (this.base.isLevelEnabled('debug')) this.base.child({ accountId: this.accountId }).debug(obj, msg);
  }

  info(obj: object, msg?: string): void {
    if (this.base.isLevelEnabled('info')) this.base.child({ accountId: this.accountId }).info(obj, msg);
  }

  warn(obj: object, msg?: string): void {
    if (this.base.isLevelEnabled('warn')) this.base.child({ accountId: this.accountId }).warn(obj, msg);
  }
}

/**
 * What IMAP and POP3 sessions share: the state kept in memory and (fenced) in the database,
 * the reconnect loop with backoff, and a stop that wakes any wait at once.
 */
export abstract class MailboxSession {
  state: SessionState = 'connecting';
  /** the last time the server answered (sync lag is measured from it) */
  lastOkAt: number | null = null;
  /** set when the lease was lost: the supervisor must not release it */
  leaseLost = false;
  /** the session stopped after a failure that needs a person (wrong password, revoked sign-in) */
  needsAttention = false;
  protected stopping = false;
  private wakeWait: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private lastStateWrite = 0;
  private reportedRed = false;
  /** a child logger made when something is logged (rare), not kept: 2,000 idle sessions should cost little */
  protected get log(): Logger {
    return this.deps.logger.child({ accountId: this.account.id });
  }

  constructor(
    readonly account: AccountRow,
    readonly lease: Lease,
    protected readonly deps: SessionDeps,
  ) {}

  start(): void {
    this.loop ??= this.run().catch((err) => this.log.error({ err }, 'sync session crashed'));
  }

  /** Stops: breaks IDLE or any wait, logs out (bounded), resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.shutdown();
    await this.loop;
    this.state = 'stopped';
  }

  /**
   * Stops at once, without a polite LOGOUT: the connection is closed now (the lease is lost or
   * can no longer be proven, and another node may take the mailbox any moment).
   */
  async abort(): Promise<void> {
    this.stopping = true;
    this.wake();
    this.closeNow();
    await this.loop;
    this.state = 'stopped';
  }

  /** Ends whatever the session waits for now (IDLE, backoff, poll timer). */
  wake(): void {
    const w = this.wakeWait;
    this.wakeWait = null;
    w?.();
  }

  /** Sleeps up to `ms`; {@link wake} or stop ends it early. */
  protected sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wakeWait = null;
        resolve();
      }, ms);
      this.wakeWait = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** One connection's life: connect, sync, wait for changes; returns when stopping. Throws to reconnect. */
  protected abstract connectAndSync(): Promise<void>;
  /** Logs out (bounded) and closes the connection (stop). */
  protected abstract shutdown(): Promise<void>;
  /** Closes the connection at once (abort). */
  protected abstract closeNow(): void;

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        await this.connectAndSync();
        failures = 0;
      } catch (err) {
        if (this.stopping) break;
        if (err instanceof LeaseLostError) {
          this.leaseLost = true;
          this.log.warn('lease lost: another node took this account over; stopping');
          break;
        }
        const e = this.classified(err);
        failures++;
        if (e.code === 'OAUTH_REQUIRED' && this.account.status !== 'active') {
          // an OAuth account whose sign-in was cleared while its session ran: nothing failed, it stays
          // grey until its owner signs in (the supervisor starts no session for it until then)
          this.needsAttention = true;
          this.log.debug('sync waits: the account has not been signed in yet');
          break;
        }
        if (AUTH_CODES.has(e.code)) {
          await this.fail(e, true);
          this.needsAttention = true;
          this.log.warn({ code: e.code }, 'sync stopped: the credentials were refused');
          break;
        }
        if (failures >= this.deps.options.failuresBeforeRed) await this.fail(e, true);
        else await this.fail(e, false);
        const delay = backoffDelay(failures, this.deps.options);
        this.log.info({ code: e.code, failures, delayMs: delay }, 'sync session failed; reconnecting later');
        await this.setState('backoff');
        await this.sleep(delay);
      }
    }
  }

  protected abstract classified(err: unknown): MailportError;

  /** Records the failure on the sync row, and turns the account red when `red`. */
  private async fail(e: MailportError, red: boolean): Promise<void> {
    const at = this.deps.now().toISOString();
    const lastError = JSON.stringify({ code: e.code, message: e.message, hint: e.hint ?? null, at });
    await this.write(() => this.deps.repos.sync.setState(this.lease, { state: red ? 'error' : 'backoff', last_error: lastError }, at));
    this.state = red ? 'error' : 'backoff';
    if (red) {
      this.reportedRed = true;
      await this.deps.reportFailure(this.account, e).catch((err) => this.log.error({ err }, 'could not record the account failure'));
    }
  }

  /** Called when the server answered as it should: the account is green again if this session had turned it red. */
  protected async ok(): Promise<void> {
    this.lastOkAt = this.deps.now().getTime();
    if (this.reportedRed || this.account.status === 'error') {
      this.reportedRed = false;
      this.account.status = 'active';
      await this.deps.reportRecovered(this.account).catch((err) => this.log.error({ err }, 'could not record the account recovery'));
    }
  }

  /**
   * Sets the session state; written to the sync row when it changes, and at most once a minute
   * otherwise (the last contact time). Fenced: a lost lease throws LeaseLostError.
   */
  protected async setState(state: SessionState, extra: { initial_done_at?: string } = {}): Promise<void> {
    const now = this.deps.now();
    const changed = state !== this.state;
    this.state = state;
    if (!changed && !extra.initial_done_at && now.getTime() - this.lastStateWrite < 60_000) return;
    this.lastStateWrite = now.getTime();
    const patch: { state: string; last_ok_at?: string; last_error?: null; initial_done_at?: string } = { state, ...extra };
    if (this.lastOkAt !== null) patch.last_ok_at = new Date(this.lastOkAt).toISOString();
    if (state === 'idle' || state === 'syncing') patch.last_error = null;
    await this.deps.repos.sync.setState(this.lease, patch, now.toISOString());
  }

  /** A state write that must not end the session unless the lease is lost. */
  private async write(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (err instanceof LeaseLostError) throw err;
      this.log.error({ err }, 'could not write sync state');
    }
  }
}

/**
 * At most `n` units held at a time, first come first served: bounds how many sessions connect and
 * sign in at once (one unit each), so a node that starts (or takes over a dead node's mailboxes)
 * does not swamp its mail servers with simultaneous TLS handshakes and logins; and how many bytes
 * of fetched mail the node's sessions hold at once (a batch's size each). A take larger than `n`
 * is granted when nothing else is held, so it waits but never forever.
 *
 * @example
 *   const slots = new Slots(20);
 *   const release = await slots.take();
 *   try { await connect(); } finally { release(); }
 */
export class Slots {
  private used = 0;
  private readonly waiting: Array<{ units: number; grant: () => void }> = [];

  constructor(private readonly n: number) {}

  take(units = 1): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = () => {
        this.used += units;
        let freed = false;
        resolve(() => {
          if (freed) return;
          freed = true;
          this.used -= units;
          this.drain();
        });
      };
      if (this.waiting.length === 0 && this.fits(units)) grant();
      else this.waiting.push({ units, grant });
    });
  }

  private fits(units: number): boolean {
    return this.used === 0 || this.used + units <= this.n;
  }

  private drain(): void {
    while (this.waiting.length && this.fits(this.waiting[0]!.units)) this.waiting.shift()!.grant();
  }
}
