/**
 * Baseline (a): the bare download. One imapflow connection over implicit TLS, `FETCH 1:*` of
 * UID, FLAGS, INTERNALDATE and the full source, counting bytes and storing nothing: the ceiling
 * for anything that syncs over IMAP from this server on this machine.
 *
 * @example
 *   const r = await bareFetch(peers, { email, password }); // { messages, bytes, ms, cpuMs, peakRssMb }
 */
import { performance } from 'node:perf_hooks';
import { ImapFlow } from 'imapflow';
import { peerCa, type PeerUser, type Peers } from '../../test/helpers/peers.js';
import { parseMessage } from '../../src/inbound/parse.js';
import { cpuMsSince } from './measure.js';

export interface DownloadResult {
  messages: number;
  bytes: number;
  ms: number;
  cpuMs: number;
  peakRssMb: number;
}

export async function bareFetch(peers: Peers, user: PeerUser): Promise<DownloadResult> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const client = new ImapFlow({
    host: peers.host, port: peers.imap.tls, secure: true, tls: { ca: peerCa(peers), servername: 'localhost' },
    auth: { user: user.email, pass: user.password }, logger: false,
  });
  await client.connect();
  let messages = 0;
  let bytes = 0;
  try {
    await client.mailboxOpen('INBOX', { readOnly: true });
    for await (const m of client.fetch('1:*', { uid: true, flags: true, internalDate: true, source: true })) {
      messages++;
      bytes += m.source?.length ?? 0;
    }
  } finally {
    await client.logout().catch(() => client.close());
  }
  return { messages, bytes, ms: performance.now() - t0, cpuMs: cpuMsSince(cpu0), peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
}

export interface ParseOnlyResult {
  messages: number;
  ms: number;
}

/**
 * A reference for (a): the same messages downloaded first (not timed), then parsed one after
 * another on this one thread with the parser Mailport uses (src/inbound/parse.ts), no I/O and no
 * store. What one parse thread can do at most; Mailport parses on worker threads beside the
 * thread that fetches and stores.
 */
export async function parseOnly(peers: Peers, user: PeerUser): Promise<ParseOnlyResult> {
  const client = new ImapFlow({
    host: peers.host, port: peers.imap.tls, secure: true, tls: { ca: peerCa(peers), servername: 'localhost' },
    auth: { user: user.email, pass: user.password }, logger: false,
  });
  await client.connect();
  const sources: Buffer[] = [];
  try {
    await client.mailboxOpen('INBOX', { readOnly: true });
    for await (const m of client.fetch('1:*', { uid: true, source: true })) if (m.source) sources.push(m.source);
  } finally {
    await client.logout().catch(() => client.close());
  }
  // warm the parser up on a few, as a long-running process has
  for (const raw of sources.slice(0, 200)) await parseMessage(raw);
  const t0 = performance.now();
  for (const raw of sources) await parseMessage(raw);
  return { messages: sources.length, ms: performance.now() - t0 };
}
