/**
 * Prometheus metrics of one Mailport app (GET /metrics). Each app owns its registry, never
 * prom-client's global one, so two apps in one process (tests) do not collide; the process
 * metrics (CPU, memory, event loop, GC) are collected once per process and appended.
 *
 * Counters move where things happen (a send outcome, a verification, a webhook delivery, an
 * HTTP request); the outbox queue and the sync engine's state are read at scrape time. Labels
 * carry only bounded values (statuses, codes, protocols, route templates): never an address, a
 * secret or a tenant id.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type SendOutcome = 'sent' | 'deferred' | 'failed';
export type WebhookOutcome = 'delivered' | 'retry' | 'failed';

/** The outbox as a scrape sees it: jobs per active status, and how long the oldest due job has waited. */
export interface QueueSnapshot {
  depth: Record<string, number>;
  oldestDueSeconds: number;
}

/**
 * What the sync engine reports at each scrape: accounts held by this node per session state,
 * how many of them have a live IMAP connection, and each account's lag in seconds (how far its
 * recorded mail is behind the server).
 */
export interface SyncSnapshot {
  states: Record<string, number>;
  connected: number;
  lagSeconds: number[];
}

export interface MetricsOptions {
  /** reads the outbox at scrape time */
  queue?: () => Promise<QueueSnapshot>;
  /** labels of mailport_info */
  info?: { version: string; role: string };
  /** warned about when a scrape-time source fails */
  logger?: { warn(obj: object, msg?: string): void };
}

/** A label value from outside (a state name, an error code): kept when it looks like one, else `other`. */
function bounded(value: string, pattern: RegExp): string {
  return pattern.test(value) ? value : 'other';
}
const STATE = /^[a-z][a-z0-9_]{0,31}$/;
const CODE = /^[A-Z][A-Z0-9_]{0,39}$/;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The value at quantile q (0..1) of sorted numbers, nearest rank. */
function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

let processRegistry: Registry | undefined;
/** Process metrics belong to the process, not to an app: one registry, created on first use. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * The app's metrics: record with the methods, read with {@link Metrics.render}.
 *
 * @example
 *   const metrics = new Metrics({ queue: () => stats.snapshot(), info: { version, role: 'all' } });
 *   metrics.sendOutcome('sent');
 *   metrics.setSyncCollector(() => ({ states: { idle: 3 }, connected: 3, lagSeconds: [0.4, 2, 1] }));
 *   reply.type(metrics.contentType).send(await metrics.render());
 */
export class Metrics {
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;
  private queue: (() => Promise<QueueSnapshot>) | null;
  private sync: (() => SyncSnapshot | Promise<SyncSnapshot>) | null = null;
  private readonly log: MetricsOptions['logger'];

  private readonly sends: Counter<'outcome'>;
  private readonly limitDeferrals: Counter;
  private readonly verifications: Counter<'protocol' | 'code'>;
  private readonly webhooks: Counter<'outcome'>;
  private readonly httpRequests: Counter<'method' | 'route' | 'status_code'>;
  private readonly httpDuration: Histogram<'method' | 'route'>;
  private readonly scrapeErrors: Counter<'source'>;
  private readonly queueDepth: Gauge<'status'>;
  private readonly oldestDue: Gauge;
  private readonly syncAccounts: Gauge<'state'>;
  private readonly syncConnected: Gauge;
  private readonly syncLag: Gauge<'stat'>;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.queue = options.queue ?? null;
    this.log = options.logger;
    if (options.info) {
      new Gauge({ name: 'mailport_info', help: 'Version and role of this node (always 1).', labelNames: ['version', 'role'], registers }).set(options.info, 1);
    }
    this.sends = new Counter({ name: 'mailport_sends_total', help: 'Outbox send outcomes on this node: sent, deferred (retried later, or waiting for its account or limit window) or failed.', labelNames: ['outcome'], registers });
    this.limitDeferrals = new Counter({ name: 'mailport_send_limit_deferrals_total', help: 'Messages deferred because an account reached its sending limit (its own count or the provider\'s limit reply).', registers });
    this.verifications = new Counter({ name: 'mailport_verifications_total', help: 'Account verification checks by protocol and outcome code ("ok" when the check passed).', labelNames: ['protocol', 'code'], registers });
    this.webhooks = new Counter({ name: 'mailport_webhook_deliveries_total', help: 'Webhook delivery attempts by outcome: delivered, retry (failed, tried again later) or failed (given up).', labelNames: ['outcome'], registers });
    this.httpRequests = new Counter({ name: 'mailport_http_requests_total', help: 'HTTP requests by method, route template and status code.', labelNames: ['method', 'route', 'status_code'], registers });
    this.httpDuration = new Histogram({ name: 'mailport_http_request_duration_seconds', help: 'HTTP request duration by method and route template.', labelNames: ['method', 'route'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15], registers });
    this.scrapeErrors = new Counter({ name: 'mailport_metrics_source_errors_total', help: 'Scrapes where a source (queue, sync) could not be read; its gauges are then absent.', labelNames: ['source'], registers });
    this.queueDepth = new Gauge({ name: 'mailport_outbox_jobs', help: 'Outbox jobs waiting or in flight, by status (queued, deferred, sending), read from the database at scrape time (all nodes).', labelNames: ['status'], registers });
    this.oldestDue = new Gauge({ name: 'mailport_outbox_oldest_due_seconds', help: 'How long the oldest due job (queued or deferred, its time to go out passed) has waited for a worker; 0 when none.', registers });
    this.syncAccounts = new Gauge({ name: 'mailport_sync_accounts', help: 'Mailbox accounts synced by this node, by session state.', labelNames: ['state'], registers });
    this.syncConnected = new Gauge({ name: 'mailport_sync_connected_accounts', help: 'Mailbox accounts of this node with a live IMAP connection.', registers });
    this.syncLag = new Gauge({ name: 'mailport_sync_lag_seconds', help: 'How far behind the server the accounts of this node are, in seconds: p50, p90 and max over the accounts.', labelNames: ['stat'], registers });
  }

  /** An outcome the send worker recorded on a job. */
  sendOutcome(outcome: SendOutcome): void {
    this.sends.inc({ outcome });
  }

  /** A message deferred because its account's sending limit was reached. */
  limitDeferral(): void {
    this.limitDeferrals.inc();
  }

  /** One protocol check of a verification; `code` is null when it passed. */
  verification(protocol: string, code: string | null | undefined): void {
    this.verifications.inc({ protocol: bounded(protocol, STATE), code: code ? bounded(code, CODE) : 'ok' });
  }

  /** The outcome of one webhook delivery attempt. */
  webhookDelivery(outcome: WebhookOutcome): void {
    this.webhooks.inc({ outcome });
  }

  /** One answered HTTP request; `route` is the route template (`/v1/accounts/:id`), null when no route matched. */
  httpRequest(method: string, route: string | null | undefined, statusCode: number, seconds: number): void {
    const m = METHODS.has(method) ? method : 'other';
    const r = route ?? 'unmatched';
    this.httpRequests.inc({ method: m, route: r, status_code: String(statusCode) });
    this.httpDuration.observe({ method: m, route: r }, seconds);
  }

  /** Where the outbox figures come from (read at each scrape). */
  setQueueSource(source: (() => Promise<QueueSnapshot>) | null): void {
    this.queue = source;
  }

  /**
   * The sync engine's report, called at each scrape (null: no sync on this node; its gauges
   * then show no accounts). A state name must look like `idle` or `auth_failed`; others are
   * counted as `other`.
   */
  setSyncCollector(collector: (() => SyncSnapshot | Promise<SyncSnapshot>) | null): void {
    this.sync = collector;
  }

  /** The Prometheus text of this app and the process, with the scrape-time sources read now. */
  async render(): Promise<string> {
    await Promise.all([this.readQueue(), this.readSync()]);
    return `${await this.registry.metrics()}\n${await processMetrics().metrics()}`;
  }

  private async readQueue(): Promise<void> {
    this.queueDepth.reset();
    this.oldestDue.reset();
    if (!this.queue) return;
    try {
      const q = await this.queue();
      for (const [status, n] of Object.entries(q.depth)) this.queueDepth.set({ status: bounded(status, STATE) }, n);
      this.oldestDue.set(q.oldestDueSeconds);
    } catch (err) {
      this.scrapeErrors.inc({ source: 'queue' });
      this.log?.warn({ err }, 'metrics: could not read the outbox');
    }
  }

  private async readSync(): Promise<void> {
    this.syncAccounts.reset();
    this.syncLag.reset();
    this.syncConnected.set(0);
    if (!this.sync) return;
    try {
      const s = await this.sync();
      const states = new Map<string, number>();
      for (const [state, n] of Object.entries(s.states)) states.set(bounded(state, STATE), (states.get(bounded(state, STATE)) ?? 0) + n);
      for (const [state, n] of states) this.syncAccounts.set({ state }, n);
      this.syncConnected.set(s.connected);
      const lag = s.lagSeconds.filter((n) => Number.isFinite(n)).sort((a, b) => a - b);
      if (lag.length > 0) {
        this.syncLag.set({ stat: 'p50' }, quantile(lag, 0.5));
        this.syncLag.set({ stat: 'p90' }, quantile(lag, 0.9));
        this.syncLag.set({ stat: 'max' }, lag[lag.length - 1]!);
      }
    } catch (err) {
      this.scrapeErrors.inc({ source: 'sync' });
      this.log?.warn({ err }, 'metrics: the sync engine did not report');
    }
  }
}

/**
 * The queue source of {@link Metrics} from the store's outbox figures: depth per status, and the
 * wait of the oldest due job in seconds.
 *
 * @example
 *   new Metrics({ queue: outboxQueueSource(repos.outboxStats) });
 */
export function outboxQueueSource(
  stats: { snapshot(now: string): Promise<{ depth: Record<string, number>; oldestDueAt: string | null }> },
  now: () => Date = () => new Date(),
): () => Promise<QueueSnapshot> {
  return async () => {
    const at = now();
    const s = await stats.snapshot(at.toISOString());
    return { depth: s.depth, oldestDueSeconds: s.oldestDueAt ? Math.max(0, (at.getTime() - Date.parse(s.oldestDueAt)) / 1000) : 0 };
  };
}
