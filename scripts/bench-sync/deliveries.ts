/**
 * New mail for idle sessions: `count` generated messages delivered over LMTP straight into
 * Dovecot (as an MTA would), one at a time at a steady rate, each to a different mailbox while
 * there are enough. Each delivery's latency runs from the start of its LMTP transaction to the
 * moment `arrival(delivery)` resolves (an EXISTS on a bare connection, a webhook for Mailport).
 *
 * @example
 *   const { latencies } = await deliverAndTime({ peers, users, count: 200, perSecond: 20, seed: 7,
 *     arrival: (d) => waitForExists(d.target), waitMs: 30_000 });
 */
import { performance } from 'node:perf_hooks';
import nodemailer from 'nodemailer';
import type { PeerUser, Peers } from '../../test/helpers/peers.js';
import { MessageFactory } from './mailbox.js';
import { sleep } from './measure.js';

export interface Delivery {
  /** index into `users` */
  target: number;
  /** Message-ID without angle brackets */
  messageId: string;
}

export interface DeliveryTiming {
  /** ms from the start of each LMTP delivery to its arrival, for the deliveries that arrived */
  latencies: number[];
  /** the same for each intermediate stage `stages` reported (e.g. stored, for Mailport) */
  stageLatencies: Record<string, number[]>;
  /** ms the LMTP deliveries themselves took (Dovecot storing the message) */
  lmtpMs: number[];
  /** LMTP deliveries that failed */
  failed: number;
}

/** Distinct mailboxes in random order while there are enough, then repeats. */
function targets(count: number, users: number, random: () => number): number[] {
  const order = Array.from({ length: users }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return Array.from({ length: count }, (_, k) => order[k % users]);
}

export async function deliverAndTime(o: {
  peers: Peers;
  users: PeerUser[];
  count: number;
  perSecond: number;
  seed: number;
  /** resolves with performance.now() when the delivery is seen; registered before it is sent */
  arrival: (d: Delivery) => Promise<number>;
  /** intermediate moments of the same delivery, timed the same way (optional) */
  stages?: (d: Delivery) => Record<string, Promise<number>>;
  /** how long to wait for the last arrivals after the last delivery */
  waitMs: number;
}): Promise<DeliveryTiming> {
  const factory = new MessageFactory(o.seed);
  let state = o.seed >>> 0 || 1;
  const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 4294967296);
  const order = targets(o.count, o.users.length, random);
  const lmtp = nodemailer.createTransport({ host: o.peers.host, port: o.peers.lmtp, lmtp: true, ignoreTLS: true, pool: true, maxConnections: 2 });
  const latencies: number[] = [];
  const lmtpMs: number[] = [];
  const stageLatencies: Record<string, number[]> = {};
  let failed = 0;
  const pending: Array<Promise<void>> = [];
  const start = performance.now();
  try {
    for (let k = 0; k < o.count; k++) {
      const due = start + (k * 1000) / o.perSecond;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const target = order[k];
      const to = o.users[target].email;
      const message = factory.next(to, new Date());
      const arrived = o.arrival({ target, messageId: message.messageId });
      const stages = Object.entries(o.stages?.({ target, messageId: message.messageId }) ?? {});
      const t0 = performance.now();
      const sent = lmtp.sendMail({ envelope: { from: 'sender@mailport-bench.example.net', to: [to] }, raw: message.raw }).then(
        () => {
          lmtpMs.push(performance.now() - t0);
        },
        (err: Error) => {
          if (++failed <= 3) console.error(`bench-sync: LMTP delivery to ${to} failed: ${err.message}`);
        },
      );
      const seen = arrived.then(
        (at) => {
          latencies.push(at - t0);
        },
        () => {}, // counted as missing
      );
      pending.push(sent, seen);
      for (const [name, at] of stages) {
        pending.push(at.then((t) => void (stageLatencies[name] ??= []).push(t - t0), () => {}));
      }
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(pending), new Promise<void>((resolve) => (timer = setTimeout(resolve, o.waitMs)))]);
    clearTimeout(timer);
  } finally {
    lmtp.close();
  }
  return { latencies, stageLatencies, lmtpMs, failed };
}

/** A promise resolved from outside, rejected after `ms`. */
export function deferred(ms: number, what: string): { promise: Promise<number>; resolve(at: number): void } {
  let resolve!: (at: number) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<number>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms / 1000} s`)), ms);
  timer.unref();
  return {
    promise,
    resolve: (at) => {
      clearTimeout(timer);
      resolve(at);
    },
  };
}
