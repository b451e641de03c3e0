import type { Logger } from 'pino';
import { MailportError, isMailportError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { AddressGuard } from '../net/guard.js';
import type { SecretBox } from '../secrets/secret-box.js';
import type { ClaimedDelivery, DeliveryOutcome, Repositories } from '../store/index.js';
import { postGuarded, RESPONSE_SNIPPET_CHARS } from './post.js';
import { SIGNATURE_HEADER, sign } from './signature.js';
import { secretAad } from './webhooks.service.js';

export interface DispatcherOptions {
  /** how often due deliveries are looked for */
  pollMs: number;
  /** most deliveries claimed by one poll */
  batchSize: number;
  /** most deliveries in flight at once in this process */
  concurrency: number;
  /** bound for one delivery: connect, TLS, request and the receiver's answer */
  timeoutMs: number;
  /** wait before attempt n+1 is backoffMs[n-1]; the last value repeats (the cap) */
  backoffMs: readonly number[];
  /** each wait is spread by ± this fraction, so retries of many deliveries do not arrive together */
  jitter: number;
  /** after this long from the event's creation a delivery is given up (API.md: a day) */
  maxAgeMs: number;
  /** a delivery `delivering` for longer than this belonged to a process that died: it is taken back */
  visibilityTimeoutMs: number;
  /** how long stop() waits for deliveries in flight before interrupting them */
  stopTimeoutMs: number;
  /** PEM CAs trusted for https receivers instead of Node's store (tests; operators use NODE_EXTRA_CA_CERTS) */
  ca?: string;
}

export const DEFAULT_DISPATCHER_OPTIONS: Readonly<DispatcherOptions> = Object.freeze({
  pollMs: 1_000,
  batchSize: 10,
  concurrency: 8,
  timeoutMs: 10_000,
  backoffMs: [10_000, 30_000, 60_000, 5 * 60_000, 15 * 60_000, 60 * 60_000],
  jitter: 0.2,
  maxAgeMs: 24 * 60 * 60_000,
  // well above timeoutMs, so a slow but live delivery is never taken over
  visibilityTimeoutMs: 2 * 60_000,
  stopTimeoutMs: 5_000,
});

export interface DispatcherDeps {
  repos: Pick<Repositories, 'webhooks'>;
  box: SecretBox;
  guard: AddressGuard;
  logger: Logger;
  options?: Partial<DispatcherOptions>;
  now?: () => Date;
  random?: () => number;
  /** counts each recorded attempt's outcome (the metrics module) */
  metrics?: { webhookDelivery(outcome: 'delivered' | 'retry' | 'failed'): void };
}

const USER_AGENT = 'Mailport-Webhooks/1';

/** The error text kept for an attempt: `{code, message}`, never a secret. */
const errorJson = (code: string, message: string): string => JSON.stringify({ code, message });

/**
 * Sends recorded webhook deliveries: polls due ones, claims them (safe with several processes),
 * signs and POSTs each through the address guard, and records every attempt. A 2xx answer
 * delivers; anything else is retried with backoff until a day after the event, then failed. An
 * address the guard refuses fails at once (ADDRESS_BLOCKED is a setting to fix, not a hiccup).
 *
 * @example
 *   const dispatcher = new WebhookDispatcher({ repos, box, guard, logger });
 *   dispatcher.start();
 *   // ... on shutdown, before the database closes:
 *   await dispatcher.stop();
 */
export class WebhookDispatcher {
  readonly options: Readonly<DispatcherOptions>;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly random: () => number;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private woken = false;
  private ticking: Promise<void> | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private abort = new AbortController();

  constructor(private readonly deps: DispatcherDeps) {
    this.options = Object.freeze({ ...DEFAULT_DISPATCHER_OPTIONS, ...deps.options });
    if (this.options.backoffMs.length === 0) throw new Error('backoffMs needs at least one value');
    this.log = deps.logger.child({ module: 'webhooks' });
    this.now = deps.now ?? (() => new Date());
    this.random = deps.random ?? Math.random;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Starts polling. Calling it again while running does nothing. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.schedule(0);
    this.log.info({ pollMs: this.options.pollMs, concurrency: this.options.concurrency }, 'webhook dispatcher started');
  }

  /**
   * Stops claiming, then waits for deliveries in flight up to `stopTimeoutMs`; those still
   * running are interrupted and recorded as such (they are retried soon, here or by another
   * process). Call it before the database closes.
   */
  async stop(): Promise<void> {
    const wasRunning = this.running;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.ticking;
    if (this.inFlight.size > 0) {
      let timeout: NodeJS.Timeout | undefined;
      const settled = Promise.allSettled([...this.inFlight]).then(() => true);
      const bounded = new Promise<boolean>((resolve) => {
        timeout = setTimeout(() => resolve(false), this.options.stopTimeoutMs);
      });
      const finished = await Promise.race([settled, bounded]);
      clearTimeout(timeout);
      if (!finished) {
        this.log.warn({ inFlight: this.inFlight.size }, 'interrupting webhook deliveries still in flight');
        this.abort.abort();
        await settled;
      }
    }
    if (wasRunning) this.log.info('webhook dispatcher stopped');
  }

  /**
   * One poll, awaited to the end: takes back stale claims, claims a batch of due deliveries and
   * sends them. Returns how many were sent. The loop uses it; so can tests and one-shot tools.
   */
  async runOnce(): Promise<number> {
    const claimed = await this.claim(this.options.batchSize);
    await Promise.allSettled(claimed.map((c) => this.track(c)));
    return claimed.length;
  }

  /**
   * A delivery was just recorded: look now instead of at the next poll (new mail reaches its
   * webhook within milliseconds). Wakes coalesce: one early poll however many come at once.
   */
  wake(): void {
    if (!this.running || this.ticking || this.woken || !this.timer) return;
    clearTimeout(this.timer);
    this.woken = true;
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.woken = false;
      this.ticking = this.tick().finally(() => {
        this.ticking = null;
      });
    }, ms);
  }

  private async tick(): Promise<void> {
    let busy = false;
    try {
      const free = this.options.concurrency - this.inFlight.size;
      if (free > 0) {
        const want = Math.min(free, this.options.batchSize);
        const claimed = await this.claim(want);
        for (const c of claimed) void this.track(c);
        // a full batch means more may be due: look again at once instead of after pollMs
        busy = claimed.length === want && this.inFlight.size < this.options.concurrency;
      }
    } catch (err) {
      this.log.error({ err }, 'webhook poll failed');
    }
    this.schedule(busy ? 0 : this.options.pollMs);
  }

  private async claim(limit: number): Promise<ClaimedDelivery[]> {
    const now = this.now();
    const cutoff = new Date(now.getTime() - this.options.visibilityTimeoutMs).toISOString();
    const recovered = await this.deps.repos.webhooks.recoverStale(cutoff, now.toISOString(), {
      error: errorJson('UNAVAILABLE', 'The attempt was interrupted (the process delivering it stopped); it is retried.'),
      newAttemptId: () => newId('att'),
    });
    if (recovered > 0) this.log.warn({ recovered }, 'took back webhook deliveries left in flight by a stopped process');
    return this.deps.repos.webhooks.claimDue(now.toISOString(), limit);
  }

  private track(claim: ClaimedDelivery): Promise<void> {
    const p = this.deliver(claim)
      .catch((err) => this.log.error({ err, deliveryId: claim.id }, 'could not record a webhook delivery'))
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
    return p;
  }

  private async deliver(claim: ClaimedDelivery): Promise<void> {
    const started = this.now();
    const clock = Date.now();
    let host = '';
    let statusCode: number | null = null;
    let response: string | null = null;
    let error: MailportError | null = null;
    try {
      const url = new URL(claim.url);
      host = url.host;
      const secret = this.deps.box.open(claim.secret_enc, secretAad(claim.webhook_id));
      const headers = {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        [SIGNATURE_HEADER]: sign(secret, claim.payload, Math.floor(started.getTime() / 1000)),
        'Mailport-Event-Id': claim.event_id,
        'Mailport-Event-Type': claim.event_type,
      };
      const answer = await postGuarded(url, claim.payload, headers, { guard: this.deps.guard, timeoutMs: this.options.timeoutMs, signal: this.abort.signal, ca: this.options.ca });
      statusCode = answer.statusCode;
      response = answer.response.slice(0, RESPONSE_SNIPPET_CHARS);
      if (statusCode < 200 || statusCode > 299) {
        error = new MailportError('PROTOCOL_ERROR', { message: `The webhook receiver answered HTTP ${statusCode}; only 2xx counts as delivered.` });
      }
    } catch (err) {
      error = isMailportError(err) ? err : new MailportError('INTERNAL', { message: 'The delivery could not be prepared.', cause: err });
    }
    const durationMs = Date.now() - clock;
    const at = this.now();
    const outcome = this.outcome(claim, at, statusCode, response, error);
    const attempt = {
      id: newId('att'),
      delivery_id: claim.id,
      number: claim.attempts,
      at: started.toISOString(),
      duration_ms: durationMs,
      status_code: statusCode,
      error: outcome.last_error,
      response,
    };
    const recorded = await this.deps.repos.webhooks.recordAttempt(claim, attempt, outcome, at.toISOString());
    // the URL's path and query may carry a receiver's token: log the host only
    const fields = { deliveryId: claim.id, webhookId: claim.webhook_id, eventId: claim.event_id, type: claim.event_type, attempt: claim.attempts, host, statusCode, ms: durationMs, status: outcome.status };
    if (recorded === 'recorded') this.deps.metrics?.webhookDelivery(outcome.status === 'pending' ? 'retry' : outcome.status);
    if (recorded === 'gone') this.log.info(fields, 'webhook deleted while its delivery was in flight');
    else if (recorded === 'taken_over') this.log.warn(fields, 'webhook delivery was taken over by another process while in flight');
    else if (outcome.status === 'delivered') this.log.info(fields, 'webhook delivered');
    else this.log.warn({ ...fields, code: error?.code, error: error?.message, ...(error?.code === 'INTERNAL' ? { err: error.cause } : {}), nextAttemptAt: outcome.next_attempt_at }, outcome.status === 'failed' ? 'webhook delivery failed for good' : 'webhook delivery will be retried');
  }

  /** What an attempt means for the delivery: delivered, retried later, or given up. */
  private outcome(claim: ClaimedDelivery, at: Date, statusCode: number | null, response: string | null, error: MailportError | null): DeliveryOutcome {
    const base = { last_status_code: statusCode, response };
    if (!error) return { ...base, status: 'delivered', last_error: null, delivered_at: at.toISOString() };
    const lastError = errorJson(error.code, error.message);
    if (error.code === 'ADDRESS_BLOCKED') return { ...base, status: 'failed', last_error: lastError };
    if (error.code === 'UNAVAILABLE') return { ...base, status: 'pending', last_error: lastError, next_attempt_at: at.toISOString() };
    const deadline = Date.parse(claim.event_created_at) + this.options.maxAgeMs;
    if (at.getTime() >= deadline) return { ...base, status: 'failed', last_error: lastError };
    const next = Math.min(at.getTime() + this.backoff(claim.attempts), deadline);
    return { ...base, status: 'pending', last_error: lastError, next_attempt_at: new Date(next).toISOString() };
  }

  /** The wait after attempt `n` (1-based), with jitter. */
  backoff(n: number): number {
    const schedule = this.options.backoffMs;
    const base = schedule[Math.min(Math.max(n, 1), schedule.length) - 1]!;
    const spread = 1 - this.options.jitter + 2 * this.options.jitter * this.random();
    return Math.max(0, Math.round(base * spread));
  }
}
