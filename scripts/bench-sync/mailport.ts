/**
 * The Mailport side of the sync benchmark, written against the sync engine's public face only:
 * `app.sync` with `start(): void` and `stop(): Promise<void>` (src/inbound/sync/), options through
 * `AppOptions.sync`, progress seen in the `mail_messages` table, new mail seen as `message.received`
 * webhooks. Accounts are made through the API (`POST /v1/accounts?verify=false`).
 *
 *   (a) mailportInitialSync: one account on the big mailbox; time from `sync.start()` until every
 *       message is a row (downloaded, parsed, threaded, stored).
 *   (b) mailportIdle: N accounts in one app; memory per account beyond the first (one account in
 *       IDLE, then the others added through the API until all are in IDLE, as Dovecot's process
 *       titles show), then LMTP delivery → row stored → webhook latency.
 *
 * @example
 *   const r = await mailportInitialSync({ peers, user, messages: 20000, databaseUrl: undefined });
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../../src/config/config.js';
import { createApp, type App, type AppOptions } from '../../src/app.js';
import type { PeerUser, Peers } from '../../test/helpers/peers.js';
import { startReceiver, type Receiver } from '../../test/helpers/webhook-receiver.js';
import { deferred, deliverAndTime } from './deliveries.js';
import { bounded, cpuMsSince, memoryAfterGc, perItem, sleep, summarize, waitUntil, type LatencySummary, type Memory } from './measure.js';
import { dovecotSessions } from './peers.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** What the benchmark assumes of the sync engine; nothing more. */
export interface SyncEngineLike {
  start(): void;
  stop(): Promise<void>;
}

/** `app.sync` when the engine is there, else null (the benchmark then measures the baselines only). */
export function syncEngineOf(app: App): SyncEngineLike | null {
  const sync = (app as App & { sync?: Partial<SyncEngineLike> }).sync;
  return sync && typeof sync.start === 'function' && typeof sync.stop === 'function' ? (sync as SyncEngineLike) : null;
}

/** Whether the sync engine's sources exist yet (the App is only built to look for app.sync then). */
export function syncEngineSourcesPresent(): boolean {
  return existsSync(join(REPO, 'src/inbound/sync'));
}

interface BenchApp {
  app: App;
  sync: SyncEngineLike | null;
  apiKey: string;
  request(method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; body: any; text: string }>;
  close(): Promise<void>;
}

/**
 * A Mailport app on a fresh SQLite folder (or `databaseUrl`), one tenant. Sync options come from
 * BENCH_SYNC_OPTIONS (JSON, AppOptions.sync), the webhook poll from BENCH_DISPATCHER_POLL_MS;
 * both default to what ships.
 */
async function startBenchApp(databaseUrl?: string): Promise<BenchApp> {
  const dir = mkdtempSync(join(tmpdir(), 'mailport-bench-sync-'));
  const config = loadConfig({
    MAILPORT_DATA_DIR: dir,
    ...(databaseUrl ? { MAILPORT_DATABASE_URL: databaseUrl } : {}),
    MAILPORT_PORT: '0',
    MAILPORT_ADMIN_TOKEN: `bench-${randomBytes(12).toString('hex')}`,
    MAILPORT_SECRET_KEY: randomBytes(32).toString('base64'),
    MAILPORT_ALLOW_PRIVATE_HOSTS: '127.0.0.0/8,::1/128',
    MAILPORT_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
  });
  const options: AppOptions = {
    announce: () => {},
    logDestination: process.stderr,
    ...(process.env.BENCH_DISPATCHER_POLL_MS ? { dispatcher: { pollMs: Number(process.env.BENCH_DISPATCHER_POLL_MS) } } : {}),
    ...(process.env.BENCH_SYNC_OPTIONS ? { sync: JSON.parse(process.env.BENCH_SYNC_OPTIONS) as AppOptions['sync'] } : {}),
  };
  const app = await createApp(config, options);
  const call = async (token: string, method: 'GET' | 'POST', url: string, body?: unknown) => {
    const res = await app.server.inject({
      method, url, payload: body === undefined ? undefined : JSON.stringify(body),
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    });
    let parsed: any;
    try {
      parsed = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.statusCode, body: parsed, text: res.body };
  };
  const tenant = await call(config.adminToken!, 'POST', '/v1/tenants', { name: 'Bench', companyEmail: 'bench@mailport-bench.example.net', fromName: 'Bench' });
  if (tenant.status !== 201) throw new Error(`creating the tenant answered ${tenant.status}: ${tenant.text}`);
  const apiKey = tenant.body.apiKey as string;
  const request: BenchApp['request'] = (method, url, body) => call(apiKey, method, url, body);
  const sync = syncEngineOf(app);
  return {
    app, sync, apiKey, request,
    async close() {
      if (sync) await sync.stop();
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An smtp_imap account receiving from `user`'s mailbox over IMAPS, saved without a check. */
async function createAccount(b: BenchApp, peers: Peers, user: PeerUser, name: string): Promise<string> {
  const res = await b.request('POST', '/v1/accounts?verify=false', {
    name,
    type: 'smtp_imap',
    email: user.email,
    username: user.email,
    password: user.password,
    smtp: { host: peers.host, port: peers.smtp.starttls, security: 'starttls' },
    imap: { host: peers.host, port: peers.imap.tls, security: 'tls' },
    receiveEmails: true,
  });
  if (res.status !== 201) throw new Error(`creating the account for ${user.email} answered ${res.status}: ${res.text}`);
  return res.body.id as string;
}

async function storedCount(app: App, accountId: string): Promise<number> {
  const row = await app.store.db
    .selectFrom('mail_messages')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('account_id', '=', accountId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export type Unavailable = { available: false; reason: string };

const NO_ENGINE: Unavailable = { available: false, reason: 'the sync engine is not there yet (src/inbound/sync/ and app.sync)' };

export interface InitialSyncResult {
  available: true;
  dialect: string;
  /** every message stored within the time limit */
  complete: boolean;
  messages: number;
  ms: number;
  cpuMs: number;
  peakRssMb: number;
}

export async function mailportInitialSync(o: { peers: Peers; user: PeerUser; messages: number; databaseUrl?: string; timeoutMs: number }): Promise<InitialSyncResult | Unavailable> {
  if (!syncEngineSourcesPresent()) return NO_ENGINE;
  const b = await startBenchApp(o.databaseUrl);
  try {
    if (!b.sync) return NO_ENGINE;
    const accountId = await createAccount(b, o.peers, o.user, 'Sync bench');
    const sync = b.sync;
    let stored = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    sync.start();
    // 100 ms between counts: a cheap indexed COUNT, ~2 % error on a 5 s run at worst
    const complete = await waitUntil(async () => (stored = await storedCount(b.app, accountId)) >= o.messages, o.timeoutMs, 100);
    const ms = performance.now() - t0;
    return { available: true, dialect: b.app.store.dialect, complete, messages: stored, ms, cpuMs: cpuMsSince(cpu0), peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
  } finally {
    await b.close();
  }
}

export interface MailportIdleResult {
  available: true;
  accounts: number;
  /** accounts with a session in IDLE when memory was measured */
  idle: number;
  /** whether all accounts were in IDLE before the wait ended */
  allIdle: boolean;
  /** seconds the API took to create all accounts but the first (the engine already running) */
  createdSeconds: number;
  /** seconds from the start of those creations until all accounts were in IDLE, or the wait ended */
  idleAfterSeconds: number;
  /** IMAP connections held per account (Dovecot's imap processes for these users / accounts) */
  connectionsPerAccount: number;
  /** after GC with the first account in IDLE, and with all of them */
  first: Memory;
  after: Memory;
  /** (after - first) / (accounts - 1): the cost of each idle account beyond the first */
  perAccount: Memory;
  latency: LatencySummary;
  /** LMTP delivery → the message's row in mail_messages (seen by a 25 ms poll): the engine's part */
  stored: LatencySummary;
  lmtp: LatencySummary;
  failedDeliveries: number;
  /** message.received webhooks that matched no delivery (e.g. for mail already there at the start) */
  otherWebhooks: number;
  /** webhooks that came again (retries after the receiver, on this busy process, answered late) */
  repeatedWebhooks: number;
}

const bare = (id: string) => id.trim().replace(/^<|>$/g, '').toLowerCase();

/** Resolves `when(messageId)` once a row with that Message-ID is in mail_messages (polled every 25 ms). */
function watchStored(app: App): { when(messageId: string, timeoutMs: number): Promise<number>; stop(): Promise<void> } {
  const waiting = new Map<string, (at: number) => void>();
  let running = true;
  const loop = (async () => {
    while (running) {
      if (waiting.size) {
        const rows = await app.store.db.selectFrom('mail_messages').select('message_id').where('message_id', 'in', [...waiting.keys()]).execute();
        const at = performance.now();
        for (const { message_id: id } of rows) {
          const resolve = id ? waiting.get(id) : undefined;
          if (resolve) {
            waiting.delete(id!);
            resolve(at);
          }
        }
      }
      await sleep(25);
    }
  })();
  return {
    when(messageId, timeoutMs) {
      const d = deferred(timeoutMs, `row for ${messageId}`);
      waiting.set(`<${messageId}>`, d.resolve); // stored as in the header, with the angle brackets
      return d.promise;
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

export async function mailportIdle(o: {
  peers: Peers;
  users: PeerUser[];
  masterPid: number;
  userPrefix: string;
  deliveries: number;
  perSecond: number;
  seed: number;
  waitMs: number;
  idleTimeoutMs: number;
}): Promise<MailportIdleResult | Unavailable> {
  if (!syncEngineSourcesPresent()) return NO_ENGINE;
  const waiting = new Map<string, (at: number) => void>();
  const events = new Set<string>();
  let otherWebhooks = 0;
  let repeatedWebhooks = 0;
  const rx: Receiver = await startReceiver((n) => {
    // called once the POST body is in: that moment is the arrival
    const at = performance.now();
    try {
      const event = JSON.parse(rx.received[n].body) as { id?: string; type?: string; data?: { messageId?: string } };
      if (event.id && events.has(event.id)) repeatedWebhooks++; // a retry: the first attempt counted
      else if (event.type === 'message.received') {
        if (event.id) events.add(event.id);
        const id = bare(event.data?.messageId ?? '');
        const resolve = waiting.get(id);
        if (resolve) {
          waiting.delete(id);
          resolve(at);
        } else otherWebhooks++;
      }
    } catch {
      // not an event (the reachability check when the webhook is created)
    }
    rx.received[n].body = ''; // keep the receiver's memory flat
    return { status: 200, body: 'ok' };
  });
  const b = await startBenchApp();
  try {
    if (!b.sync) return NO_ENGINE;
    const hook = await b.request('POST', '/v1/webhooks', { url: rx.url, events: ['message.received'] });
    if (hook.status !== 201) throw new Error(`creating the webhook answered ${hook.status}: ${hook.text}`);
    const idleNow = () => dovecotSessions(o.masterPid, o.userPrefix).idleUsers.size;
    // one account first: its session carries the one-time costs, the others are measured beyond it
    await createAccount(b, o.peers, o.users[0], 'Idle 1');
    b.app.dispatcher.start();
    b.sync.start();
    if (!(await waitUntil(() => idleNow() >= 1, 60_000, 100))) throw new Error('the first account did not reach IDLE within 60 s');
    await sleep(1000);
    const first = memoryAfterGc();

    // the others through the API while the engine runs, as a platform would add them
    const t0 = performance.now();
    await bounded(o.users.length - 1, 8, async (i) => {
      await createAccount(b, o.peers, o.users[i + 1], `Idle ${i + 2}`);
    });
    const createdSeconds = (performance.now() - t0) / 1000;
    let idle = 0;
    let reported = t0;
    const allIdle = await waitUntil(
      () => {
        idle = idleNow();
        if (performance.now() - reported >= 30_000) {
          reported = performance.now();
          console.log(`bench-sync:     Mailport: ${idle} of ${o.users.length} accounts in IDLE after ${Math.round((reported - t0) / 1000)} s`);
        }
        return idle >= o.users.length;
      },
      o.idleTimeoutMs,
      500,
    );
    const idleAfterSeconds = (performance.now() - t0) / 1000;
    await sleep(2000); // initial syncs of what the mailboxes already hold settle
    const sessions = dovecotSessions(o.masterPid, o.userPrefix);
    idle = sessions.idleUsers.size;
    const after = memoryAfterGc();

    const stored = watchStored(b.app);
    const timing = await deliverAndTime({
      peers: o.peers, users: o.users, count: o.deliveries, perSecond: o.perSecond, seed: o.seed, waitMs: o.waitMs,
      arrival: ({ messageId, target }) => {
        const d = deferred(o.waitMs, `webhook for ${o.users[target].email}`);
        waiting.set(bare(messageId), d.resolve);
        return d.promise;
      },
      stages: ({ messageId }) => ({ stored: stored.when(messageId, o.waitMs) }),
    });
    await stored.stop();
    return {
      available: true, accounts: o.users.length, idle, allIdle, createdSeconds, idleAfterSeconds,
      connectionsPerAccount: sessions.connections / o.users.length,
      first, after, perAccount: perItem(first, after, o.users.length - 1),
      latency: summarize(timing.latencies, o.deliveries - timing.failed),
      stored: summarize(timing.stageLatencies.stored ?? [], o.deliveries - timing.failed),
      lmtp: summarize(timing.lmtpMs, o.deliveries),
      failedDeliveries: timing.failed,
      otherWebhooks,
      repeatedWebhooks,
    };
  } finally {
    await b.close();
    await rx.close();
  }
}
