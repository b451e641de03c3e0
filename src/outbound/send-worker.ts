import { randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import { MailportError } from '../core/errors.js';
import type { EventRecorder } from '../events/event-types.js';
import { newId } from '../core/ids.js';
import type { Credentials } from '../core/types.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import { endpointOf } from '../accounts/account.view.js';
import type { Catalog } from '../catalog/catalog.js';
import type { AccountRow, OutboxJob, OutboxPatch, OutboxRow, OutboxSummary, Repositories, TenantRow } from '../store/index.js';
import { credentialFingerprint } from '../secrets/secret-box.js';
import { providerFacts } from '../protocols/verify.js';
import { replaceSender } from '../protocols/mime.js';
import type { PoolSendResult, SmtpPool } from '../protocols/smtp-pool.js';
import { platformSender, type ResolveTxt } from './dmarc.js';
import { limitSpecFor, type Reservation, type SendLimiter } from './limits.js';
import type { SentCopier } from './sent-copy.js';
import type { PlatformRelay } from './platform.js';
import { sendsViaPlatform } from './outbox.service.js';
import type { JobError } from './outbox.view.js';
import { composeDraft } from './draft.js';
import type { Composer } from './composer.js';
import { Batcher } from './batcher.js';
import { sentRecordOf } from './sent-record.js';
import type { ParsedMessage } from '../inbound/parse.js';
import type { OutboxOutcome } from '../store/outbox.repository.js';
import type { Database } from '../store/schema.js';

export interface SendWorkerOptions {
  pollMs: number;
  /** most jobs claimed by one poll, and most in flight in this process */
  batchSize: number;
  /** wait before attempt n+1 is backoffMs[n-1]; the last value repeats */
  backoffMs: readonly number[];
  /** each wait is spread by ± this fraction */
  jitter: number;
  /** a message still not sent this long after it was due, or after its last wait for its account or its limits ended (`age_from`), is failed */
  maxAgeMs: number;
  /**
   * how long a claim holds its job: one that ran out belonged to a worker that died. While a job is
   * in flight its claim is renewed every third of this, so however slow its send, only a worker
   * that stopped (or lost its database for this long) lets it run out. A Sent-copy claim is
   * renewed the same way while its copy runs (a search delay and an IMAP session: 5 s + 60 s at
   * most by default).
   */
  visibilityTimeoutMs: number;
  /** how often a job waiting for its account (red, disabled) looks again */
  accountWaitMs: number;
  /** how long an account rests after its provider said the sending limit is reached */
  limitPenaltyMs: number;
  /** Sent-folder copy: waits between attempts, and attempts before giving up */
  sentCopyBackoffMs: readonly number[];
  sentCopyAttempts: number;
  stopTimeoutMs: number;
  /** with this many jobs in flight, drafts are composed on the composer's threads; fewer are composed on the spot */
  composeOffloadAt: number;
  /**
   * waits before an outcome write that failed (the database away) is tried again; the last one
   * repeats for as long as the worker runs: given up, the claim would run out and a message a server
   * already took would be sent again
   */
  outcomeRetryMs: readonly number[];
}

export const DEFAULT_SEND_WORKER_OPTIONS: Readonly<SendWorkerOptions> = Object.freeze({
  pollMs: 1_000,
  batchSize: 20,
  backoffMs: [30_000, 60_000, 2 * 60_000, 5 * 60_000, 15 * 60_000, 30 * 60_000, 60 * 60_000],
  jitter: 0.2,
  maxAgeMs: 24 * 60 * 60_000,
  // renewed every minute while the job is in flight; the jobs of a worker that died wait 3 min
  visibilityTimeoutMs: 3 * 60_000,
  accountWaitMs: 60_000,
  limitPenaltyMs: 60 * 60_000,
  sentCopyBackoffMs: [60_000, 5 * 60_000, 15 * 60_000, 60 * 60_000],
  sentCopyAttempts: 5,
  stopTimeoutMs: 10_000,
  composeOffloadAt: 2,
  outcomeRetryMs: [100, 250, 500, 1_000, 2_000, 5_000, 10_000],
});

export interface SendWorkerDeps {
  repos: Pick<Repositories, 'outbox' | 'accounts' | 'tenants'>;
  accounts: Pick<AccountsService, 'password' | 'recordFailure' | 'mayRetryAutomatically' | 'effectiveLimits'>;
  catalog: Catalog;
  limiter: Pick<SendLimiter, 'admit' | 'release' | 'shrink' | 'penalize'>;
  pool: Pick<SmtpPool, 'send'>;
  copier: Pick<SentCopier, 'store'>;
  /** webhook events, stored in the transaction of the outcome they report (see WebhooksService.recordIn) */
  events: EventRecorder<MessageEventType>;
  platform: PlatformRelay | null;
  resolveTxt: ResolveTxt;
  logger: Logger;
  options?: Partial<SendWorkerOptions>;
  now?: () => Date;
  random?: () => number;
  /** fresh access tokens of gmail/outlook accounts (the oauth module) */
  oauth?: { credentials(account: AccountRow, opts?: { rejected?: string }): Promise<Credentials> };
  /** records a message sent through an account as correspondence (the inbound module); see {@link SentRecords} */
  records?: SentRecords;
  /** composes drafts (default: on the spot, on this thread) */
  composer?: Pick<Composer, 'compose'>;
  /** counts recorded outcomes (the metrics module) */
  metrics?: { sendOutcome(outcome: 'sent' | 'deferred' | 'failed'): void; limitDeferral(): void };
}

/**
 * The correspondence record of a message sent through its account, written in the transaction of
 * its outcome (`recordIn`), so a crash cannot keep one and lose the other; when that fails (it
 * throws, its writes alone rolled back) the outcome stands and `record` writes it on its own
 * afterwards. A failure of both never makes the message look unsent.
 */
export interface SentRecords {
  /** what a message says, for one not composed from its draft in this attempt (parsed before the outcome's transaction) */
  parse(raw: Buffer): Promise<ParsedMessage>;
  recordIn(tx: Transaction<Database>, job: OutboxRow, parsed: ParsedMessage, account: AccountRow): Promise<unknown>;
  /** `parsed`: absent when the message could not be parsed ahead */
  record(job: OutboxRow, parsed?: ParsedMessage): Promise<unknown>;
}

/** how long a sent outcome waits for its message to be parsed for the record written with it (see SendWorker.sent) */
const PARSE_WAIT_MS = 1_000;

/** `promise`'s value if it settles within `ms`, else undefined (it goes on). */
async function atMost<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

const AUTH_CODES = new Set(['AUTH_FAILED', 'APP_PASSWORD_REQUIRED', 'OAUTH_REQUIRED', 'OAUTH_REVOKED']);

/** A recipient's reply that refuses it for now (4xx): the code opens the reply line, e.g. `452 4.2.2 Mailbox full`. */
const TEMPORARY_REPLY = /^4\d\d(?:[ -]|$)/;

/** A recipient the server refused while it took the message for others; `retryId`: the follow-up job that tries it again. */
type Refusal = { address: string; response: string; retryId?: string };

/**
 * The recipients an earlier attempt of this job saw refused for good (5xx at RCPT TO) while every
 * other recipient was refused only for now: kept on the waiting job (`rejected`), not asked again.
 * Empty for any other job (a job's `rejected` is otherwise written only with its final outcome).
 */
function refusedForGood(job: Pick<OutboxSummary, 'rejected'>): Refusal[] {
  if (job.rejected === null) return [];
  return (JSON.parse(job.rejected) as Refusal[]).filter((x) => !TEMPORARY_REPLY.test(x.response));
}

/** The recipients this attempt asks the server for: all of the job's but those refused for good before. */
function recipientsToAsk(job: Pick<OutboxSummary, 'recipients' | 'rejected'>): string[] {
  const all = JSON.parse(job.recipients) as string[];
  const gone = refusedForGood(job);
  if (gone.length === 0) return all;
  const skip = new Set(gone.map((x) => x.address.toLowerCase()));
  return all.filter((a) => !skip.has(a.toLowerCase()));
}

/** Refusals of earlier and of this attempt, one per address (the later one wins), earlier ones first. */
function mergeRefusals(earlier: Refusal[], now: Refusal[]): Refusal[] {
  if (earlier.length === 0) return now;
  const byAddress = new Map<string, Refusal>();
  for (const x of [...earlier, ...now]) byAddress.set(x.address.toLowerCase(), x);
  return [...byAddress.values()];
}

/**
 * A claimed job. `tenants`: the tenant rows read for the jobs of one claim, shared by them (one read
 * per tenant and claim, never older than the claim). `senderResolved`: the platform From was decided
 * during this attempt and stays as stored; the outcome records that, so later attempts keep it.
 * `composed`: its draft was composed during this attempt; a `sent` outcome stores the bytes.
 * `handedOver`: this attempt gave it to an SMTP connection (from then on a server may have it).
 */
type Job = OutboxJob & { token: string; tenants: Map<string, Promise<TenantRow | undefined>>; senderResolved?: boolean; composed?: boolean; handedOver?: boolean };

/** A job with its message bytes. */
type Ready = Job & { raw: Buffer };
/** A job to store with its bytes: a follow-up (see {@link SendWorker.followUpOf}). */
type FollowUp = OutboxSummary & { raw: Buffer };

type MessageEventType = 'message.sent' | 'message.deferred' | 'message.failed';
/** A webhook event of an outcome: `data` besides the job's id, accountId and retryOf. */
type OutcomeEvent = { job: OutboxSummary; type: MessageEventType; data: Record<string, unknown> };

/** Where one job goes out. */
type Route =
  | { kind: 'own'; account: AccountRow; cred: Credentials }
  | { kind: 'platform'; account: AccountRow | null; relay: PlatformRelay; overflow?: { envelopeFrom: string } };

/**
 * Sends the outbox: claims due jobs, routes each to its account's SMTP or the platform
 * processor through the connection pool, and records the outcome on the job (visible at
 * `GET /v1/outbox/:id`, announced by webhook). 2xx: sent. 4xx, a lost connection or a timeout:
 * deferred with backoff and jitter, failed after `maxAgeMs`. 5xx to the message (MAIL FROM,
 * RCPT TO, DATA): failed with the reply. A refused login turns the account red and the job waits
 * for it (never failed for that); another 5xx to the session (greeting, EHLO, STARTTLS) turns it
 * red too and the job is tried again with backoff (failed only by age); from the platform
 * processor either defers the job with backoff and is logged as an error, for the operator to fix
 * the relay. A provider's limit reply, or our own count, defers the job to when the window
 * allows, or hands it to the platform processor where the account allows that
 * (`limits.fallbackToPlatform`). A second loop stores copies in the Sent folder; a failed copy
 * never makes a message look unsent.
 * A claim holds its jobs for `visibilityTimeoutMs` and is renewed while they are in flight (see
 * {@link SendWorker.renew}): a job is taken over only once its worker stopped renewing.
 * Recipients refused for now (4xx at RCPT TO) while the server took the message for others are
 * sent to again by a follow-up job (`retry_of`), stored with the outcome.
 *
 * @example
 *   const worker = new SendWorker({ repos, accounts, catalog, limiter, pool, copier, events, platform, resolveTxt, logger });
 *   worker.start();
 *   await worker.stop(); // before the database closes
 */
export class SendWorker {
  readonly options: Readonly<SendWorkerOptions>;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly workerId = `w_${randomBytes(4).toString('hex')}`;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  /** the jobs in flight by id, each with the promise of its attempt (see adopt) */
  private readonly inFlight = new Map<string, { job: Job; done: Promise<void> }>();
  /** the claim tokens of the jobs in flight, each with how many of them it holds (the jobs of a claim share its token) */
  private readonly held = new Map<string, number>();
  /** renews the claims of the jobs in flight; runs only while there are any */
  private renewTimer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;
  /** the last poll filled every free slot: more may be due, so a finished send polls again at once */
  private saturated = false;
  /** when the send loop last looked for due Sent copies, and whether that look filled a batch */
  private copiesAt = Number.NEGATIVE_INFINITY;
  private copiesFull = false;
  /**
   * The Sent-copy batch being made, beside the send loop: a copy waits for its provider (up to
   * `searchDelayMs` for one that may file its own) and holds an IMAP session, and sending must not
   * wait for that.
   */
  private copying: Promise<void> | null = null;
  /** when the platform processor's refusal was last logged as an error, and how many were logged at debug since */
  private relayErrorAt = Number.NEGATIVE_INFINITY;
  private relayErrorsSince = 0;
  /** outcomes reached in the same turn of the event loop (the jobs of one claim finish together) are written in one transaction */
  private readonly outcomes: Batcher<OutboxOutcome, boolean>;

  constructor(private readonly deps: SendWorkerDeps) {
    this.options = Object.freeze({ ...DEFAULT_SEND_WORKER_OPTIONS, ...deps.options });
    this.outcomes = new Batcher((outcomes) => deps.repos.outbox.finishMany(outcomes), Math.max(1, this.options.batchSize));
    this.log = deps.logger.child({ module: 'send-worker', worker: this.workerId });
    this.now = deps.now ?? (() => new Date());
    this.random = deps.random ?? Math.random;
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
    this.log.info({ pollMs: this.options.pollMs, batchSize: this.options.batchSize }, 'send worker started');
  }

  /**
   * Stops claiming and waits (bounded) for sends in flight, whose claims are renewed meanwhile; a
   * send cut off is no longer renewed and is taken back later by its visibility timeout.
   */
  async stop(): Promise<void> {
    const was = this.running;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.ticking;
    const pending = [...this.inFlight.values()].map((f) => f.done);
    if (this.copying) pending.push(this.copying);
    if (pending.length > 0) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled(pending), new Promise((r) => (t = setTimeout(r, this.options.stopTimeoutMs)))]);
      clearTimeout(t);
    }
    this.stopRenewing();
    await this.renewing;
    if (was) this.log.info('send worker stopped');
  }

  /** One poll, awaited to the end (tests, tools): sends what is due, then due Sent copies. Returns jobs handled. */
  async runOnce(): Promise<number> {
    const jobs = this.adopt(await this.claim(this.options.batchSize));
    await Promise.allSettled(jobs.map((j) => this.track(j)));
    const copies = await this.copyDue();
    return jobs.length + copies;
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.ticking = this.tick().finally(() => (this.ticking = null));
    }, ms);
  }

  private async tick(): Promise<void> {
    let busy = false;
    try {
      const free = this.options.batchSize - this.inFlight.size;
      if (free > 0) {
        const claimed = await this.claim(free);
        for (const j of this.adopt(claimed)) void this.track(j);
        busy = claimed.length === free;
      }
      this.saturated = free <= 0 || busy;
      // Sent copies are looked for once per poll, not on every early poll that a finished send
      // triggers under load (each look is a query); a full batch looks again at once. Wall-clock
      // pacing (performance.now), not the job clock, which tests may hold still or move. One batch
      // at a time, not awaited here: the next claim does not wait for it.
      const nowMs = performance.now();
      if (!this.copying && (this.copiesFull || nowMs - this.copiesAt >= this.options.pollMs)) {
        this.copiesAt = nowMs;
        this.copying = this.copyDue()
          .then((n) => void (this.copiesFull = n >= this.options.batchSize), (err) => this.log.error({ err }, 'Sent-copy poll failed'))
          .finally(() => (this.copying = null));
      }
    } catch (err) {
      this.log.error({ err }, 'outbox poll failed');
    }
    // A full claim means more may be due; but claiming again at once took the one or two slots
    // freed meanwhile, one query (and one commit) for a job or two. The next claim waits for half
    // the batch to be free (wake()), unless that is already so (jobs that finished while this poll ran).
    this.schedule(busy && this.roomForClaim() ? 0 : this.options.pollMs);
  }

  /** Half the batch is free: enough for a claim under load (most of a claim's cost is per query, not per job). */
  private roomForClaim(): boolean {
    return this.inFlight.size <= this.options.batchSize - Math.ceil(this.options.batchSize / 2);
  }

  private claim(limit: number): Promise<Job[]> {
    const now = this.now();
    const token = `${this.workerId}:${randomBytes(6).toString('hex')}`;
    const until = new Date(now.getTime() + this.options.visibilityTimeoutMs).toISOString();
    const tenants = new Map<string, Promise<TenantRow | undefined>>();
    return this.deps.repos.outbox.claimDue(now.toISOString(), limit, token, until).then((rows) => rows.map((r) => ({ ...r, token, tenants })));
  }

  /** The job's tenant, read once for all the jobs of its claim. */
  private tenantOf(job: Job): Promise<TenantRow | undefined> {
    let t = job.tenants.get(job.tenant_id);
    if (!t) {
      t = this.deps.repos.tenants.get(job.tenant_id);
      job.tenants.set(job.tenant_id, t);
      t.catch(() => job.tenants.delete(job.tenant_id));
    }
    return t;
  }

  /**
   * Writes an outcome while the claim holds the job; false when the claim was lost. A message sent
   * through its account's own SMTP keeps the bytes composed for it in place of the draft (same
   * transaction): the Sent copy, the correspondence record and a later sighting in the mailbox are
   * those bytes. A platform send keeps its draft, from which the same message composes again.
   * `events`: the webhook events of this outcome, stored with it (a crash cannot keep one and lose
   * the other).
   */
  private async finish(job: Job, patch: OutboxPatch, followUp?: FollowUp, events: OutcomeEvent[] = [], also?: (tx: Transaction<Database>) => Promise<void>): Promise<boolean> {
    const p = job.senderResolved ? { ...patch, sender_resolved: 1 } : patch;
    const raw = job.composed && job.raw && patch.status === 'sent' && patch.via === 'own' ? job.raw : undefined;
    let wanted = false;
    const within = events.length === 0 && !also ? undefined : async (tx: Transaction<Database>) => {
      for (const e of events) {
        const data = { id: e.job.id, accountId: e.job.account_id, retryOf: e.job.retry_of ?? null, ...e.data };
        if (await this.deps.events.recordIn(tx, e.job.tenant_id, e.type, data)) wanted = true;
      }
      if (also) await also(tx);
    };
    // a write that failed (the database away) is tried again while the worker runs, the job in
    // flight with its claim renewed (or, once the database is back, taken over by this worker's own
    // poll: see adopt): given up, the claim would run out and a message a server already took would
    // be sent again
    const waits = this.options.outcomeRetryMs;
    for (let i = 0; ; i++) {
      const token = job.token;
      try {
        const done = await this.outcomes.push({ id: job.id, token, patch: p, raw, followUp, within });
        // this worker's poll took the job over while the write was under way: written under that claim
        if (!done && job.token !== token) continue;
        if (done && wanted) this.deps.events.recorded();
        return done;
      } catch (err) {
        const wait = waits[Math.min(i, waits.length - 1)];
        if (wait === undefined || !this.running) throw err;
        this.log.warn({ err, outboxId: job.id, status: patch.status, retryInMs: wait }, 'could not write the outcome of an outbox job; trying again');
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /**
   * An attempt that threw (a database error, stored data it cannot read). Before the message was
   * handed to SMTP it is tried again with backoff, so a fault that repeats fails it at its age limit
   * instead of leaving it `sending` to be claimed again every visibility timeout forever. After,
   * a server may have it: the claim is left to run out, as for a crash.
   */
  private async crashed(job: Job, err: unknown): Promise<void> {
    this.log.error({ err, outboxId: job.id, handedOver: job.handedOver === true }, 'could not process an outbox job');
    if (job.handedOver) return;
    const failure = new MailportError('INTERNAL', { message: 'Sending this message failed inside Mailport; it is tried again later.', cause: err });
    await this.retryLater(job, failure, false).catch((e) => this.log.error({ err: e, outboxId: job.id }, 'could not record the failed attempt of an outbox job'));
  }

  private track(job: Job): Promise<void> {
    const p = this.process(job)
      .catch((err) => this.crashed(job, err))
      .finally(() => {
        this.inFlight.delete(job.id);
        this.release(job.token);
        this.wake();
      });
    this.inFlight.set(job.id, { job, done: p });
    this.hold(job.token);
    return p;
  }

  /**
   * The claimed jobs to start. A job this worker still has in flight came back because its claim ran
   * out meanwhile (renewals failed while the database was away, longer than the visibility timeout):
   * it is not sent a second time; the attempt under way takes the new claim (its outcome is written
   * under it, and it is renewed as that claim).
   */
  private adopt(jobs: Job[]): Job[] {
    return jobs.filter((claimed) => {
      const running = this.inFlight.get(claimed.id)?.job;
      if (!running) return true;
      this.log.warn({ outboxId: claimed.id }, 'the claim of a job in flight had run out; the attempt under way keeps the job');
      this.hold(claimed.token);
      this.release(running.token);
      running.token = claimed.token;
      return false;
    });
  }

  /** Counts a job in flight under its claim's token; the first job in flight starts the renewals. */
  private hold(token: string): void {
    this.held.set(token, (this.held.get(token) ?? 0) + 1);
    if (this.renewTimer) return;
    this.renewTimer = setInterval(() => this.renew(), this.renewEveryMs());
    this.renewTimer.unref();
  }

  /** How often the claims of work in flight (sends, Sent copies) are renewed: every third of the visibility timeout. */
  private renewEveryMs(): number {
    return Math.max(1, Math.floor(this.options.visibilityTimeoutMs / 3));
  }

  /** A job of this token is no longer in flight; the last one stops the renewals. */
  private release(token: string): void {
    const n = (this.held.get(token) ?? 1) - 1;
    if (n > 0) this.held.set(token, n);
    else this.held.delete(token);
    if (this.held.size === 0) this.stopRenewing();
  }

  private stopRenewing(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
  }

  /**
   * Extends the claims of all jobs in flight to `visibilityTimeoutMs` from now, in one statement,
   * every third of that timeout: a send may take longer than the timeout (a slow server, a claim's
   * jobs queued for a pool's few connections, a second try after an OAuth token refresh), and a
   * claim left to run out would let a poll, here or on another node, take the job and send it
   * again. A failed renewal is logged and tried again at the next tick (the claims still hold: they
   * run out only when renewals fail for a whole timeout); a renewal still running skips the tick.
   */
  private renew(): void {
    if (this.renewing || this.held.size === 0) return;
    const until = new Date(this.now().getTime() + this.options.visibilityTimeoutMs).toISOString();
    this.renewing = this.deps.repos.outbox.renewClaims([...this.held.keys()], until)
      .then(
        () => undefined,
        (err) => this.log.warn({ err, inFlight: this.inFlight.size }, 'could not renew the claims of jobs in flight; trying again at the next tick'),
      )
      .finally(() => (this.renewing = null));
  }

  /**
   * Slots freed while the queue may hold more: poll now instead of after pollMs. Under load it
   * waits until half the batch is free, so one claim takes many jobs instead of one each (most of a
   * claim's cost is per query, not per job); the other half keeps the connections busy meanwhile.
   */
  private wake(): void {
    if (!this.running || !this.saturated || this.ticking || !this.timer) return;
    if (!this.roomForClaim()) return;
    this.saturated = false;
    clearTimeout(this.timer);
    this.schedule(0);
  }

  // ------------------------------------------------------------------ sending

  private async process(job: Job): Promise<void> {
    const routed = await this.route(job);
    if ('wait' in routed) return this.wait(job, routed.wait);
    if ('fail' in routed) return this.fail(job, routed.fail, null, false);
    let route: Route = routed;

    const bytes = job.raw ?? (await this.compose(job));
    if (bytes instanceof MailportError) return this.fail(job, bytes, null, false);
    const ready: Ready = Object.assign(job, { raw: bytes });
    return this.sendReady(ready, route);
  }

  /** The bytes of a job that has only its draft (composed on a worker thread when busy), or the error that fails it. */
  private async compose(job: Job): Promise<Buffer | MailportError> {
    if (job.draft === null) return new MailportError('INTERNAL', { message: 'The stored message has neither bytes nor a draft to compose them from.' });
    try {
      const raw = await (this.deps.composer ? this.deps.composer.compose(job.draft, this.inFlight.size >= this.options.composeOffloadAt) : composeDraft(job.draft));
      job.composed = true;
      return raw;
    } catch (err) {
      this.log.error({ err, outboxId: job.id }, 'could not compose a message');
      return new MailportError('INTERNAL', { message: 'The message could not be composed.', cause: err });
    }
  }

  private async sendReady(job: Ready, route: Route): Promise<void> {
    const to = recipientsToAsk(job);
    // (cannot happen today: refusals are kept for good only while another recipient waits; a job
    // with nobody left to ask would otherwise throw at the limiter and be claimed again forever)
    if (to.length === 0) return this.fail(job, new MailportError('SEND_REJECTED', { message: 'Every recipient of this message was refused.' }), null, false);
    let raw = job.raw;
    if (route.kind === 'platform' && job.sender_resolved === 0) raw = await this.resolveSender(job, route.account);

    let reservation: string | null = null;
    if (route.kind === 'own') {
      const r = await this.reserve(route.account, to.length);
      if (r !== null && typeof r !== 'string') {
        const overflow = this.overflowRoute(route.account);
        if (!overflow) {
          if (r.reason === 'too_large') return this.fail(job, new MailportError('LIMIT_REACHED', { message: `This message has more recipients than the provider allows in a ${r.window}; split it.` }), null, false);
          const err = new MailportError('LIMIT_REACHED', { message: r.reason === 'penalty' ? 'The provider said the sending limit is reached; sending from this mailbox rests until then.' : `The ${r.window} sending limit of this mailbox is used up; the message goes out when the window allows.` });
          return this.defer(job, err, r.retryAt, { attempted: false, waited: true });
        }
        const message = await this.overflowMessage(job, route.account);
        route = { ...overflow, overflow: { envelopeFrom: message.envelopeFrom } };
        raw = message.raw;
        this.log.info({ outboxId: job.id, accountId: job.account_id, reason: r.reason ?? 'limit' }, 'account over its limits: handed to the platform processor');
      } else {
        reservation = r;
      }
    }

    job.handedOver = true;
    let result = await this.send(job, route, raw, to);
    if (!result.ok && route.kind === 'own' && route.cred.accessToken && AUTH_CODES.has(result.error.code)) result = await this.retryWithFreshToken(job, route, raw, to);
    if (result.ok) return this.sent(job, route, result, reservation);
    if (reservation) await this.deps.limiter.release(reservation);
    const err = result.error;
    const reply = err.response ?? null;
    // every recipient refused, some for good (5xx) and some for now (4xx): the message waits for the
    // latter (however the reply that stands for them is classified), and the former are kept as
    // refused and not asked again
    const forGood = result.rejected.filter((x) => !TEMPORARY_REPLY.test(x.response));
    if (forGood.length > 0 && forGood.length < result.rejected.length) job.rejected = JSON.stringify(mergeRefusals(refusedForGood(job), forGood));
    if (route.kind === 'own' && AUTH_CODES.has(err.code)) return this.waitForAccount(job, route.account, err);
    if (err.code === 'LIMIT_REACHED') {
      // the outcome's moment is the one the rest is counted from (not after the write of the block)
      const at = this.now();
      const until = new Date(at.getTime() + this.options.limitPenaltyMs);
      // the platform's own limit, met while it stood in for an account, is no reason to rest the account
      if (route.account && !(route.kind === 'platform' && route.overflow)) await this.deps.limiter.penalize(route.account.id, until, reply ?? err.message);
      return this.defer(job, err, until, { attempted: true, at, waited: true });
    }
    const code = result.responseCode;
    // only a refusal of this message (at MAIL FROM, RCPT TO or DATA) fails it; a 5xx to the session
    // (greeting, EHLO, STARTTLS) refuses the account or the relay (a refused login waits, above)
    if (code !== null && code >= 500 && result.stage === 'message') return this.fail(job, err, result, true);
    const sessionRefused = code !== null && code >= 500;
    if (route.kind === 'own' && (sessionRefused || (code === null && err.action === 'fix_settings'))) {
      // the account's server or settings no longer work (refused session, certificate, host, port): red
      await this.deps.accounts.recordFailure(job.tenant_id, route.account.id, { code: err.code, message: err.message, hint: err.hint ?? null });
    } else if (sessionRefused) {
      this.relayRefused({ outboxId: job.id, accountId: job.account_id, code: err.code, response: reply });
    }
    // and tried again with backoff until the message's age limit (an attempt, unless the message
    // never reached a server: it waited for connections that failed for other messages)
    return this.retryLater(job, err, result.unsent !== true, result);
  }

  private async route(job: OutboxSummary): Promise<Route | { wait: MailportError } | { fail: MailportError }> {
    if (job.account_id === null) {
      if (!this.deps.platform) return { wait: new MailportError('UNAVAILABLE', { message: 'The platform mail processor is not configured (MAILPORT_PLATFORM_SMTP_URL).' }) };
      return { kind: 'platform', account: null, relay: this.deps.platform };
    }
    const account = await this.deps.repos.accounts.get(job.tenant_id, job.account_id);
    if (!account) return { fail: new MailportError('NOT_FOUND', { message: 'The account this message was to be sent through was deleted.' }) };
    if (account.enabled !== 1) return { wait: new MailportError('CONFLICT', { message: 'The account is switched off; the message waits until it is enabled.' }) };
    if (sendsViaPlatform(account)) {
      if (!this.deps.platform) return { wait: new MailportError('UNAVAILABLE', { message: 'The platform mail processor is not configured (MAILPORT_PLATFORM_SMTP_URL).' }) };
      return { kind: 'platform', account, relay: this.deps.platform };
    }
    if (!this.deps.accounts.mayRetryAutomatically(account)) {
      const last = account.last_error ? (JSON.parse(account.last_error) as { code: string; message: string; hint: string | null }) : null;
      const code = last && AUTH_CODES.has(last.code) ? (last.code as 'AUTH_FAILED') : 'AUTH_FAILED';
      return { wait: new MailportError(code, { message: `The account's sign-in failed (${last?.message ?? 'credentials refused'}); the message waits until the password is fixed and verified.`, hint: last?.hint ?? undefined, protocol: 'smtp' }) };
    }
    const smtp = endpointOf(account, 'smtp');
    if (smtp && this.deps.oauth && (account.type === 'gmail' || account.type === 'outlook')) {
      // an access token refreshed when due; a revoked sign-in or an unreachable provider makes the job wait
      try {
        return { kind: 'own', account, cred: await this.deps.oauth.credentials(account) };
      } catch (err) {
        if (err instanceof MailportError) return { wait: err };
        throw err;
      }
    }
    const password = this.deps.accounts.password(account);
    if (!smtp || password === undefined) {
      return { wait: new MailportError('AUTH_FAILED', { message: 'The account has no SMTP settings or password to send with; the message waits until they are entered.', protocol: 'smtp' }) };
    }
    return { kind: 'own', account, cred: { user: account.username ?? account.email, password } };
  }

  /** `to`: the recipients this attempt asks for ({@link recipientsToAsk}) */
  private async send(job: OutboxSummary, route: Route, raw: Buffer, to: string[]): Promise<PoolSendResult> {
    const envelope = { from: (route.kind === 'platform' && route.overflow?.envelopeFrom) || job.envelope_from, to };
    if (route.kind === 'platform') {
      return this.deps.pool.send({ key: 'platform', endpoint: route.relay.endpoint, cred: route.relay.cred, envelope, raw, messageId: job.message_id, trusted: true });
    }
    const a = route.account;
    const smtp = endpointOf(a, 'smtp')!;
    const preset = a.preset ? this.deps.catalog.get(a.preset) : undefined;
    const fingerprint = credentialFingerprint([route.cred.user, a.password_enc ?? route.cred.accessToken, smtp.host, smtp.port, smtp.security], a.id);
    return this.deps.pool.send({ key: `${a.id}:${fingerprint}`, endpoint: smtp, cred: route.cred, envelope, raw, messageId: job.message_id, provider: providerFacts(preset) });
  }

  /** Room in the account's limits for the `recipients` this attempt asks (see {@link SendLimiter.admit}). */
  private reserve(account: AccountRow, recipients: number): Promise<string | null | Extract<Reservation, { ok: false }>> {
    const preset = account.preset ? this.deps.catalog.get(account.preset) : undefined;
    return this.deps.limiter.admit(account.id, limitSpecFor(this.deps.accounts.effectiveLimits(account), preset), recipients);
  }

  /** Over its limits, an account whose tenant allows it hands mail to the platform processor (DESIGN point 5). */
  private overflowRoute(account: AccountRow): Extract<Route, { kind: 'platform' }> | null {
    if (!this.deps.platform || !this.deps.accounts.effectiveLimits(account).fallbackToPlatform) return null;
    return { kind: 'platform', account, relay: this.deps.platform };
  }

  /**
   * The message as the platform processor sends it for the tenant: From per the company settings
   * and their DMARC policy (as for any platform send), Reply-To the account's address (unless the
   * message has its own), so answers still reach the mailbox. The stored bytes stay the account's:
   * a later attempt within the limits goes out from the account as written.
   */
  private async overflowMessage(job: Ready, account: AccountRow): Promise<{ raw: Buffer; envelopeFrom: string }> {
    const tenant = await this.tenantOf(job);
    const company = tenant ? { companyEmail: tenant.company_email, fromName: tenant.from_name } : { companyEmail: account.email, fromName: account.from_name };
    const sender = await platformSender({ fromEmail: company.companyEmail, fromName: company.fromName, platformAddress: this.deps.platform!.fromAddress }, this.deps.resolveTxt);
    return { raw: await replaceSender(job.raw, sender.from, account.email), envelopeFrom: sender.from.address };
  }

  /** An access token refused before its expiry: refresh once and send again; a refused refresh (OAUTH_REVOKED) is the outcome. */
  private async retryWithFreshToken(job: OutboxSummary, route: Extract<Route, { kind: 'own' }>, raw: Buffer, to: string[]): Promise<PoolSendResult> {
    try {
      const cred = await this.deps.oauth!.credentials(route.account, { rejected: route.cred.accessToken });
      return await this.send(job, { ...route, cred }, raw, to);
    } catch (err) {
      if (!(err instanceof MailportError)) throw err;
      return { ok: false, error: err, responseCode: null, stage: null, rejected: [] };
    }
  }

  /**
   * Platform sends: the message keeps the From it was accepted with (the company's, or that of the
   * account that sends through the platform) unless that domain's DMARC forbids it, or DNS cannot
   * tell; then From (and the envelope sender, for SPF) is the platform's, Reply-To the accepted
   * address. Decided once, then kept: a changed From is stored before the send, so every later
   * attempt, the Sent copy and the record carry the bytes that went out; an unchanged one costs no
   * write: the outcome marks it. A fallback only because DNS could not tell holds for this attempt
   * alone (nothing stored): a later attempt decides again.
   */
  private async resolveSender(job: Ready, account: AccountRow | null): Promise<Buffer> {
    const relay = this.deps.platform!;
    const tenant = account ? undefined : await this.tenantOf(job);
    if (!account && !tenant) return job.raw;
    const fromName = account ? account.from_name : tenant!.from_name;
    const sender = await platformSender({ fromEmail: job.envelope_from, fromName, platformAddress: relay.fromAddress }, this.deps.resolveTxt);
    if (sender.from.address.toLowerCase() === job.envelope_from.toLowerCase()) {
      job.senderResolved = true;
      return job.raw;
    }
    const raw = await replaceSender(job.raw, sender.from, sender.replyTo);
    if (!sender.tentative) await this.deps.repos.outbox.replaceRaw(job.id, job.token, raw, this.now().toISOString(), sender.from.address);
    // the stored bytes are these now, and what the correspondence record keeps
    job.raw = raw;
    job.envelope_from = sender.from.address;
    job.composed = false;
    return raw;
  }

  // ------------------------------------------------------------------ outcomes

  /** `at`: the moment of the outcome, the same one its next attempt is counted from */
  private errorJson(err: MailportError, response: string | null, at: string): string {
    const e: JobError = { code: err.code, message: err.message, hint: err.hint ?? null, response, at };
    return JSON.stringify(e);
  }

  /** `reservation`: the account's limit reservation for this send, if it made one */
  private async sent(job: Ready, route: Route, r: Extract<PoolSendResult, { ok: true }>, reservation: string | null = null): Promise<void> {
    const now = this.now();
    const at = now.toISOString();
    // a follow-up's message is in Sent and recorded already: its first job did both
    const first = !job.retry_of;
    const copy = route.kind === 'own' ? (first && endpointOf(route.account, 'imap') ? 'pending' : 'skipped') : null;
    const retry = this.followUpOf(job, r.rejected, now);
    const followUp = retry?.job;
    const refused: Refusal[] = followUp ? r.rejected.map((x) => (TEMPORARY_REPLY.test(x.response) ? { ...x, retryId: followUp.id } : x)) : r.rejected;
    const rejected = mergeRefusals(refusedForGood(job), refused);
    const patch: OutboxPatch = {
      status: 'sent', attempts: job.attempts + 1, response: r.response, accepted: JSON.stringify(r.accepted), rejected: JSON.stringify(rejected),
      sent_at: at, last_error: null, via: route.kind, updated_at: at,
    };
    // set only when there is a copy to make: a job is sent once, so these are still null, and leaving
    // them out of the update spares the write of their index (outbox_sent_copy) on every platform send
    if (copy !== null) Object.assign(patch, { sent_copy: copy, sent_copy_next_at: copy === 'pending' ? at : null });
    const events: OutcomeEvent[] = [{ job, type: 'message.sent', data: { messageId: job.message_id, via: route.kind, accepted: r.accepted, rejected, response: r.response, sentAt: at } }];
    if (retry) events.push({ job: retry.job, type: 'message.deferred', data: this.deferredData(retry.job, retry.err, retry.job.response) });
    // the correspondence record, with the outcome (a follow-up's message is recorded by its first job)
    const account = first ? route.account : null;
    const records = account ? this.deps.records : undefined;
    // the server has the message: the outcome waits for a parse (on the parser threads, which
    // the sync sessions share) only so long; a record not ready by then is written after it
    const parsing = records && this.parsedOf(job, records);
    const parsed = parsing && (await atMost(parsing, PARSE_WAIT_MS));
    let recorded = false;
    const record = account && records && parsed ? async (tx: Transaction<Database>) => {
      // (run again when the outcomes' transaction is: each run starts over)
      recorded = false;
      try {
        await records.recordIn(tx, job, parsed, account);
        recorded = true;
      } catch (err) {
        this.log.warn({ err, outboxId: job.id }, 'sent message not recorded with its outcome; recording it on its own');
      }
    } : undefined;
    if (!(await this.finish(job, patch, followUp, events, record))) return this.lost(job);
    if (followUp && reservation) {
      // the follow-up reserves for the recipients it takes over: counted there, not twice
      await this.deps.limiter.shrink(reservation, Math.max(1, recipientsToAsk(job).length - followUp.recipient_count))
        .catch((err) => this.log.warn({ err, outboxId: job.id }, 'recipients sent to again later still count against this send too'));
    }
    this.deps.metrics?.sendOutcome('sent');
    this.log.info({ outboxId: job.id, accountId: job.account_id, accepted: r.accepted.length, rejected: r.rejected.length, followUp: followUp?.id }, 'message sent');
    if (records && !recorded) {
      await records.record(job, parsed ?? (await parsing)).catch((err) => this.log.warn({ err, outboxId: job.id }, 'sent message not recorded as correspondence'));
    }
  }

  /** What a sent message says for its record: from its draft when composed in this attempt, else parsed; undefined when it cannot be parsed. */
  private async parsedOf(job: Ready, records: SentRecords): Promise<ParsedMessage | undefined> {
    const fromDraft = this.recordOf(job);
    if (fromDraft) return fromDraft;
    try {
      return await records.parse(job.raw);
    } catch (err) {
      this.log.warn({ err, outboxId: job.id }, 'could not parse a sent message for its record');
      return undefined;
    }
  }

  /**
   * The job that sends the message again to the recipients the server refused for now (4xx at
   * RCPT TO) while it took it for the others; null when none was, or the message is too old for
   * another attempt. The same message (the bytes of this job, Message-ID, sender; its From
   * decided: no draft, no DMARC lookup again), deferred by the backoff of a first attempt, and as
   * old as this job (`created_at`, `send_at`): its age limit is the first job's, as for any
   * deferral. An account's message handed to the platform over its limits keeps the account's
   * bytes, as its own job does: the follow-up is routed again when due.
   */
  private followUpOf(job: Ready, refused: Refusal[], now: Date): { job: FollowUp; err: MailportError } | null {
    const later = refused.filter((x) => TEMPORARY_REPLY.test(x.response));
    const deadline = this.deadlineOf(job);
    if (later.length === 0 || now.getTime() >= deadline) return null;
    const at = now.toISOString();
    const recipients = [...new Set(later.map((x) => x.address))];
    const reply = later[0]!.response;
    const err = new MailportError('SEND_REJECTED', { message: `The server refused ${recipients.length === 1 ? 'this recipient' : 'these recipients'} for now while it took the message for others; sent to again later.`, response: reply });
    const followUp: FollowUp = {
      id: newId('msg', now.getTime()), tenant_id: job.tenant_id, account_id: job.account_id, status: 'deferred', idempotency_key: null, request_hash: null,
      raw: job.raw, sender_resolved: 1, envelope_from: job.envelope_from, recipients: JSON.stringify(recipients), recipient_count: recipients.length,
      message_id: job.message_id, subject: job.subject, attempts: 0, next_attempt_at: new Date(Math.min(now.getTime() + this.backoff(1), deadline)).toISOString(),
      send_at: job.send_at, locked_by: null, locked_until: null, last_error: this.errorJson(err, reply, at), response: reply, accepted: null, rejected: null,
      sent_at: null, sent_copy: null, sent_copy_attempts: 0, sent_copy_next_at: null, via: null, retry_of: job.retry_of ?? job.id, age_from: job.age_from, created_at: job.created_at, updated_at: at,
    };
    return { job: followUp, err };
  }

  /** The correspondence record of a message sent through its account as composed from its draft in this attempt (see sent-record.ts). */
  private recordOf(job: Ready): ParsedMessage | undefined {
    if (!job.account_id || !job.composed || job.draft === null) return undefined;
    try {
      return sentRecordOf(job.draft, job.raw) ?? undefined;
    } catch (err) {
      this.log.warn({ err, outboxId: job.id }, 'could not build the record of a sent message from its draft; parsing it');
      return undefined;
    }
  }

  private async fail(job: Job, err: MailportError, r: PoolSendResult | null, attempted: boolean): Promise<void> {
    const at = this.now().toISOString();
    const reply = err.response ?? null;
    const rejected = mergeRefusals(refusedForGood(job), r && !r.ok ? r.rejected : []);
    const patch: OutboxPatch = { status: 'failed', attempts: job.attempts + (attempted ? 1 : 0), last_error: this.errorJson(err, reply, at), response: reply, rejected: JSON.stringify(rejected), updated_at: at };
    const event: OutcomeEvent = { job, type: 'message.failed', data: { messageId: job.message_id, error: { code: err.code, message: err.message, hint: err.hint ?? null, response: reply }, rejected } };
    if (!(await this.finish(job, patch, undefined, [event]))) return this.lost(job);
    this.deps.metrics?.sendOutcome('failed');
    this.log.warn({ outboxId: job.id, accountId: job.account_id, code: err.code }, 'message failed');
  }

  /** When a message still not sent is failed: `maxAgeMs` after it was due (a follow-up: after its first job was). */
  private deadlineOf(job: OutboxSummary): number {
    return Date.parse(job.age_from ?? job.send_at ?? job.created_at) + this.options.maxAgeMs;
  }

  /** A temporary failure: again after the backoff, or failed once the message is too old (`r`: the attempt's result, whose refusals a failure records). */
  private retryLater(job: Job, err: MailportError, attempted: boolean, r: PoolSendResult | null = null): Promise<void> {
    const at = this.now();
    const now = at.getTime();
    const deadline = this.deadlineOf(job);
    if (now >= deadline) return this.fail(job, err, r, attempted);
    const next = Math.min(now + this.backoff(job.attempts + 1), deadline);
    return this.defer(job, err, new Date(next), { attempted, at });
  }

  /** Waiting on the account (red, switched off): not an attempt, no age limit, one event per cause. */
  private wait(job: Job, err: MailportError): Promise<void> {
    const at = this.now();
    return this.defer(job, err, new Date(at.getTime() + this.options.accountWaitMs), { attempted: false, quietIfSame: true, at, waited: true });
  }

  /**
   * The platform processor refused the session: an error for the operator, at most once a minute
   * (a broken relay refuses every queued message at each of its attempts), with how many more it
   * refused meanwhile; the others at debug.
   */
  private relayRefused(fields: Record<string, unknown>): void {
    const now = performance.now();
    if (now - this.relayErrorAt < 60_000) {
      this.relayErrorsSince++;
      this.log.debug(fields, 'the platform mail processor refused the session');
      return;
    }
    this.log.error({ ...fields, alsoRefusedSinceLastError: this.relayErrorsSince }, 'the platform mail processor refused the session: messages through it wait until its settings (MAILPORT_PLATFORM_SMTP_URL) are fixed');
    this.relayErrorAt = now;
    this.relayErrorsSince = 0;
  }

  /**
   * The account's server refused its sign-in, not the message: the account turns red and the job
   * waits for it to be fixed (an attempt, but no age limit; one event per cause).
   */
  private async waitForAccount(job: Job, account: AccountRow, err: MailportError): Promise<void> {
    await this.deps.accounts.recordFailure(job.tenant_id, account.id, { code: err.code, message: err.message, hint: err.hint ?? null });
    return this.defer(job, err, new Date(this.now().getTime() + this.options.accountWaitMs), { attempted: true, quietIfSame: true, waited: true });
  }

  private async defer(job: Job, err: MailportError, until: Date, o: { attempted: boolean; quietIfSame?: boolean; at?: Date; waited?: boolean }): Promise<void> {
    const at = (o.at ?? this.now()).toISOString();
    const reply = err.response ?? null;
    const previous = job.last_error ? (JSON.parse(job.last_error) as JobError).code : null;
    const patch: OutboxPatch = { status: 'deferred', attempts: job.attempts + (o.attempted ? 1 : 0), next_attempt_at: until.toISOString(), last_error: this.errorJson(err, reply, at), response: reply, updated_at: at };
    // a wait for the account or its limits is no fault of the message: its age counts again from the wait's end
    if (o.waited) patch.age_from = patch.next_attempt_at;
    // recipients refused for good while the others wait (see sendReady): shown, and not asked again
    if (job.rejected !== null) patch.rejected = job.rejected;
    // the job's status here is always the claim's `sending`: its last error says why it waited before
    const quiet = o.quietIfSame && previous === err.code;
    const events: OutcomeEvent[] = quiet ? [] : [{ job, type: 'message.deferred', data: this.deferredData({ message_id: job.message_id, attempts: patch.attempts!, next_attempt_at: patch.next_attempt_at!, rejected: job.rejected }, err, reply) }];
    if (!(await this.finish(job, patch, undefined, events))) return this.lost(job);
    this.deps.metrics?.sendOutcome('deferred');
    if (err.code === 'LIMIT_REACHED') this.deps.metrics?.limitDeferral();
    this.log.info({ outboxId: job.id, accountId: job.account_id, code: err.code, nextAttemptAt: patch.next_attempt_at }, 'message deferred');
  }

  /** The data of a `message.deferred` event (besides what {@link emit} adds); `rejected`: the recipients refused for good so far. */
  private deferredData(job: Pick<OutboxSummary, 'message_id' | 'attempts' | 'next_attempt_at' | 'rejected'>, err: MailportError, reply: string | null): Record<string, unknown> {
    return { messageId: job.message_id, attempts: job.attempts, nextAttemptAt: job.next_attempt_at, error: { code: err.code, message: err.message, hint: err.hint ?? null, response: reply }, rejected: refusedForGood(job) };
  }

  private lost(job: OutboxSummary): void {
    this.log.warn({ outboxId: job.id }, 'outbox job was taken over by another worker while in flight');
  }

  /** The wait after attempt `n` (1-based), with jitter. */
  backoff(n: number, schedule: readonly number[] = this.options.backoffMs): number {
    const base = schedule[Math.min(Math.max(n, 1), schedule.length) - 1]!;
    const spread = 1 - this.options.jitter + 2 * this.options.jitter * this.random();
    return Math.max(0, Math.round(base * spread));
  }

  // ------------------------------------------------------------------ Sent copies

  private async copyDue(): Promise<number> {
    const now = this.now();
    const token = `${this.workerId}:c${randomBytes(6).toString('hex')}`;
    const until = new Date(now.getTime() + this.options.visibilityTimeoutMs).toISOString();
    const jobs = await this.deps.repos.outbox.claimSentCopies(now.toISOString(), this.options.batchSize, token, until);
    if (jobs.length === 0) return 0;
    // renewed while the copies run, as sends are: another node takes a copy over only from a node that stopped
    const visibility = this.options.visibilityTimeoutMs;
    const renewal = setInterval(() => {
      const later = new Date(this.now().getTime() + visibility).toISOString();
      this.deps.repos.outbox.renewSentCopyClaims(token, later).catch((err) => this.log.warn({ err }, 'could not renew the claims of Sent copies in flight; trying again at the next tick'));
    }, this.renewEveryMs());
    renewal.unref();
    try {
      await Promise.allSettled(jobs.map((j) => this.copy(j, token).catch((err) => this.log.error({ err, outboxId: j.id }, 'could not record a Sent copy'))));
    } finally {
      clearInterval(renewal);
    }
    return jobs.length;
  }

  private async copy(job: OutboxJob, token: string): Promise<void> {
    const at = this.now();
    // a sent message keeps its bytes; a draft here is one sent before they were kept (composed again: same Message-ID and Date)
    const raw = job.raw ?? (job.draft !== null ? await composeDraft(job.draft) : null);
    if (raw === null) {
      await this.deps.repos.outbox.finishSentCopy(job.id, token, { sent_copy: 'skipped', sent_copy_next_at: null, updated_at: at.toISOString() });
      return;
    }
    const account = job.account_id ? await this.deps.repos.accounts.get(job.tenant_id, job.account_id) : undefined;
    const imap = account ? endpointOf(account, 'imap') : null;
    const password = account ? this.deps.accounts.password(account) : undefined;
    if (!account || !imap || password === undefined) {
      await this.deps.repos.outbox.finishSentCopy(job.id, token, { sent_copy: 'skipped', sent_copy_next_at: null, updated_at: at.toISOString() });
      return;
    }
    if (!this.deps.accounts.mayRetryAutomatically(account)) {
      // the same credentials failed before: wait for a person, do not lock the mailbox
      await this.deps.repos.outbox.finishSentCopy(job.id, token, { sent_copy: 'pending', sent_copy_next_at: new Date(at.getTime() + this.options.accountWaitMs).toISOString(), updated_at: at.toISOString() });
      return;
    }
    const preset = account.preset ? this.deps.catalog.get(account.preset) : undefined;
    try {
      const r = await this.deps.copier.store({
        imap, cred: { user: account.username ?? account.email, password }, raw, messageId: job.message_id,
        savesSentCopy: preset ? preset.savesSentCopy : null, sentFolderHint: preset?.sentFolder ?? undefined, provider: providerFacts(preset),
      });
      await this.deps.repos.outbox.finishSentCopy(job.id, token, { sent_copy: r.result, sent_copy_attempts: job.sent_copy_attempts + 1, sent_copy_next_at: null, updated_at: this.now().toISOString() });
      this.log.info({ outboxId: job.id, accountId: account.id, result: r.result, folder: r.folder }, 'sent copy done');
    } catch (err) {
      const attempts = job.sent_copy_attempts + 1;
      const done = attempts >= this.options.sentCopyAttempts;
      const next = done ? null : new Date(this.now().getTime() + this.backoff(attempts, this.options.sentCopyBackoffMs)).toISOString();
      await this.deps.repos.outbox.finishSentCopy(job.id, token, { sent_copy: done ? 'failed' : 'pending', sent_copy_attempts: attempts, sent_copy_next_at: next, updated_at: this.now().toISOString() });
      const code = err instanceof MailportError ? err.code : 'INTERNAL';
      this.log.warn({ outboxId: job.id, accountId: account.id, code, attempts, final: done }, 'sent copy failed');
      if (err instanceof MailportError && AUTH_CODES.has(err.code)) {
        await this.deps.accounts.recordFailure(job.tenant_id, account.id, { code: err.code, message: err.message, hint: err.hint ?? null });
      }
    }
  }
}
