/**
 * Baseline (b): `users.length` bare imapflow connections in this one process, one per mailbox,
 * INBOX open and in IDLE. Memory per connection beyond the first (RSS, heap and external after GC,
 * from one connection in IDLE to all of them), then new mail over LMTP and the time until the
 * EXISTS reaches the mailbox's connection: what Dovecot itself adds to any push notification here.
 *
 * @example
 *   const r = await bareIdle({ peers, users, deliveries: 200, perSecond: 20, seed: 1 });
 */
import { performance } from 'node:perf_hooks';
import { ImapFlow } from 'imapflow';
import { peerCa, type PeerUser, type Peers } from '../../test/helpers/peers.js';
import { deferred, deliverAndTime } from './deliveries.js';
import { bounded, memoryAfterGc, perItem, sleep, summarize, waitUntil, type LatencySummary, type Memory } from './measure.js';

export interface IdleResult {
  requested: number;
  open: number;
  idle: number;
  errors: number;
  /** seconds to open all but the first */
  openSeconds: number;
  /** after GC with the first session in IDLE, and with all of them */
  first: Memory;
  after: Memory;
  /** (after - first) / (open - 1): the cost of each session beyond the first */
  perSession: Memory;
  latency: LatencySummary;
  lmtp: LatencySummary;
  failedDeliveries: number;
}

/** Connections opened at once while setting up (as the recipe measured it). */
const OPENERS = 20;

export async function bareIdle(o: { peers: Peers; users: PeerUser[]; deliveries: number; perSecond: number; seed: number; waitMs: number }): Promise<IdleResult> {
  const ca = peerCa(o.peers);
  const clients: Array<ImapFlow | undefined> = new Array(o.users.length);
  let errors = 0;
  const openOne = async (i: number) => {
    const u = o.users[i];
    const client = new ImapFlow({
      host: o.peers.host, port: o.peers.imap.tls, secure: true, tls: { ca, servername: 'localhost' },
      auth: { user: u.email, pass: u.password }, logger: false,
      // IDLE soon after the last command (imapflow waits 15 s by default)
      autoIdleDelay: 200,
    });
    client.on('error', () => {}); // a late socket error must not end the process
    try {
      await client.connect();
      await client.mailboxOpen('INBOX');
      clients[i] = client;
    } catch (err) {
      if (++errors <= 3) console.error(`bench-sync: bare connection ${u.email}: ${(err as Error).message}`);
      client.close();
    }
  };
  const idling = () => (clients.filter(Boolean) as ImapFlow[]).filter((c) => c.idling).length;

  // the first session carries the one-time costs (TLS context, code warming up): measure from there
  await openOne(0);
  await waitUntil(() => idling() === 1, 10_000, 50);
  await sleep(500);
  const first = memoryAfterGc();
  const t0 = performance.now();
  await bounded(o.users.length - 1, OPENERS, (i) => openOne(i + 1));
  const openSeconds = (performance.now() - t0) / 1000;
  const open = clients.filter(Boolean) as ImapFlow[];
  await waitUntil(() => idling() === open.length, 60_000, 200);
  const idle = idling();
  await sleep(1000);
  const after = memoryAfterGc();

  const timing = await deliverAndTime({
    peers: o.peers, users: o.users, count: o.deliveries, perSecond: o.perSecond, seed: o.seed, waitMs: o.waitMs,
    arrival: ({ target }) => {
      const d = deferred(o.waitMs, `EXISTS for ${o.users[target].email}`);
      const client = clients[target];
      client?.once('exists', () => d.resolve(performance.now()));
      return d.promise;
    },
  });

  await bounded(open.length, OPENERS, async (i) => {
    await open[i].logout().catch(() => open[i].close());
  });
  return {
    requested: o.users.length, open: open.length, idle, errors, openSeconds, first, after,
    perSession: perItem(first, after, open.length - 1),
    latency: summarize(timing.latencies, o.deliveries - timing.failed),
    lmtp: summarize(timing.lmtpMs, o.deliveries),
    failedDeliveries: timing.failed,
  };
}
