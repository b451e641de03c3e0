// Typed access to the mail test peers started by test/peers/peers.sh (`npm test` starts them itself;
// for a single test file run `npm run peers start` first).
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ImapFlow } from 'imapflow';

export interface PeerUser {
  email: string;
  password: string;
}

/** Contents of $PEER_ROOT/peers.json. Fields may be added, never renamed. */
export interface Peers {
  root: string;
  /** private test CA that signed every trusted peer certificate (SAN localhost, 127.0.0.1, ::1, popOnlyHost) */
  caFile: string;
  host: string;
  /** "::1" when the Dovecot listeners are also on IPv6 loopback, else null */
  host6: string | null;
  /** Dovecot passwd-file ({PLAIN} passwords); use addMailbox() to add users */
  usersFile: string;
  /** mail homes: <mailRoot>/<domain>/<local part>/Maildir */
  mailRoot: string;
  /** every message the SMTP peer accepted: <id>.eml + <id>.json (see CapturedMessage) */
  captureDir: string;
  dovecotLog: string;
  imap: { starttls: number; tls: number; noStarttls: number };
  pop3: { starttls: number; tls: number };
  /** loopback address serving POP3 only, on the standard ports (nothing on 143/993) */
  popOnlyHost: string;
  popOnly: { starttls: number; tls: number };
  smtp: { starttls: number; tls: number; noStarttls: number; untrustedTls: number };
  lmtp: number;
  oauth: { url: string; port: number; tokenUrl: string; userinfoUrl: string; revokeUrl: string };
  /** shared default users; tests that change mailbox state should use addMailbox() instead */
  users: PeerUser[];
  domain: string;
  tls: {
    caFile: string;
    serverCert: string;
    serverKey: string;
    /** CA of the smtp.untrustedTls certificate; deliberately NOT in caFile */
    untrustedCaFile: string;
    untrustedCert: string;
    untrustedKey: string;
  };
  logs: { dovecot: string; dovecotNoStarttls: string; dovecotStderr: string; smtp: string; oauth: string };
  startedAt: string;
}

/** <id>.json written by test/peers/smtp-peer.mjs for every accepted message */
export interface CapturedMessage {
  id: string;
  /** which SMTP peer listener took it: starttls | tls | noStarttls | untrustedTls */
  listener: 'starttls' | 'tls' | 'noStarttls' | 'untrustedTls';
  receivedAt: string;
  remoteAddress: string;
  secure: boolean;
  /** authenticated user, null if none */
  user: string | null;
  /** PLAIN | LOGIN | XOAUTH2 */
  authMethod: string | null;
  /** envelope MAIL FROM / RCPT TO */
  from: string;
  to: string[];
  /** header values as sent (folded lines joined, not decoded); null when absent */
  messageId: string | null;
  subject: string | null;
  size: number;
  /** recipients that were delivered into their Dovecot INBOX over LMTP */
  delivered: string[];
  emlFile: string;
  /** the message as captured, with the peer's Received: line first */
  raw: Buffer;
}

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where peers.json is: $MAILPORT_TEST_PEERS, else $PEER_ROOT/peers.json, else <repo>/.peers/peers.json */
export function peersFile(): string {
  if (process.env.MAILPORT_TEST_PEERS) return process.env.MAILPORT_TEST_PEERS;
  return path.join(process.env.PEER_ROOT ? path.resolve(process.env.PEER_ROOT) : path.join(REPO, '.peers'), 'peers.json');
}

let cached: { file: string; mtimeMs: number; peers: Peers } | undefined;

/** Reads peers.json; throws a clear error when the peers are not running. */
export function loadPeers(): Peers {
  const file = peersFile();
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new Error(
      `Mail test peers are not running: ${file} does not exist` +
        (process.env.MAILPORT_TEST_PEERS ? ' (from MAILPORT_TEST_PEERS)' : '') +
        '.\nRun the whole suite with `npm test` (it starts and stops the peers), or start them for a single' +
        ' file with `npm run peers start` (stop: `npm run peers stop`).',
    );
  }
  if (cached && cached.file === file && cached.mtimeMs === st.mtimeMs) return cached.peers;
  const peers = JSON.parse(fs.readFileSync(file, 'utf8')) as Peers;
  cached = { file, mtimeMs: st.mtimeMs, peers };
  return peers;
}

/** The test CA as a Buffer, for `tls: { ca }` in imapflow / nodemailer / node:tls. */
export function peerCa(peers: Peers = loadPeers()): Buffer {
  return fs.readFileSync(peers.caFile);
}

/**
 * A direct imapflow session on the Dovecot peer (IMAPS) as `user`, for setting up and inspecting a
 * mailbox from a test; logged out and closed afterwards.
 *
 * @example
 *   await withPeerImap(user, (c) => c.append('INBOX', raw));
 */
export async function withPeerImap<T>(user: { email: string; password: string }, fn: (c: ImapFlow) => Promise<T>, peers: Peers = loadPeers()): Promise<T> {
  const c = new ImapFlow({ host: peers.host, port: peers.imap.tls, secure: true, logger: false, tls: { ca: peerCa(peers) }, auth: { user: user.email, pass: user.password } });
  c.on('error', () => {});
  try {
    await c.connect();
    return await fn(c);
  } finally {
    await c.logout().catch(() => undefined);
    c.close();
  }
}

function unique(): string {
  return `${Date.now().toString(36)}${process.pid.toString(36)}${randomBytes(4).toString('hex')}`;
}

/**
 * Adds a mailbox to the Dovecot passwd-file and returns its credentials. Defaults: a unique
 * `t<unique>@example.test` with a random password. Dovecot and the SMTP peer notice the changed file on
 * their next lookup, so the user can log in (IMAP, POP3, SMTP AUTH) and receive mail over LMTP at once.
 * Local parts starting with "reject"/"tempfail" are the SMTP peer's test hooks, so avoid them.
 */
export async function addMailbox(email?: string, password?: string): Promise<PeerUser> {
  const peers = loadPeers();
  const user: PeerUser = {
    email: (email ?? `t${unique()}@${peers.domain}`).toLowerCase(),
    password: password ?? `pw-${randomBytes(9).toString('base64url')}`,
  };
  if (!/^[^\s:@]+@[^\s:@]+$/.test(user.email)) throw new Error(`addMailbox: invalid address ${JSON.stringify(user.email)}`);
  if (/[:\r\n]/.test(user.password)) throw new Error('addMailbox: the password must not contain ":" or line breaks');
  const existing = fs
    .readFileSync(peers.usersFile, 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0].toLowerCase() === user.email);
  if (existing !== undefined) {
    if (existing.split(':')[1] === `{PLAIN}${user.password}`) return user;
    throw new Error(`addMailbox: ${user.email} already exists with another password`);
  }
  // one small O_APPEND write: atomic with respect to other test processes appending at the same time
  await fs.promises.appendFile(peers.usersFile, `${user.email}:{PLAIN}${user.password}::::::\n`);
  return user;
}

/** Access token for `email` from the test issuer (accepted by Dovecot XOAUTH2/OAUTHBEARER and SMTP XOAUTH2). */
export async function getAccessToken(email: string, peers: Peers = loadPeers()): Promise<string> {
  const r = await fetch(peers.oauth.tokenUrl, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', username: email, password: 'x' }),
  });
  if (!r.ok) throw new Error(`token request failed: HTTP ${r.status} ${await r.text()}`);
  const j = (await r.json()) as { access_token: string };
  return j.access_token;
}

/** Makes the issuer reject `token` from now on. */
export async function revokeToken(token: string, peers: Peers = loadPeers()): Promise<void> {
  const r = await fetch(peers.oauth.revokeUrl, { method: 'POST', body: new URLSearchParams({ token }) });
  if (!r.ok) throw new Error(`revoke failed: HTTP ${r.status}`);
}

export type CaptureFilter = string | ((m: CapturedMessage) => boolean);

const bareId = (id: string) => id.trim().replace(/^<|>$/g, '').toLowerCase();

function matcher(filter: CaptureFilter): (m: CapturedMessage) => boolean {
  if (typeof filter === 'function') return filter;
  const want = bareId(filter);
  return (m) => m.messageId !== null && bareId(m.messageId) === want;
}

/** All captured messages matching `filter` (Message-ID with or without <>, or a predicate), oldest first. */
export function findCaptured(filter: CaptureFilter, peers: Peers = loadPeers()): CapturedMessage[] {
  const match = matcher(filter);
  const out: CapturedMessage[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(peers.captureDir).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return out;
  }
  for (const n of names) {
    let meta: Omit<CapturedMessage, 'raw'>;
    try {
      meta = JSON.parse(fs.readFileSync(path.join(peers.captureDir, n), 'utf8'));
    } catch {
      continue; // removed meanwhile
    }
    const m = { ...meta, raw: Buffer.alloc(0) } as CapturedMessage;
    if (!match(m)) continue;
    m.raw = fs.readFileSync(meta.emlFile);
    out.push(m);
  }
  return out;
}

/**
 * Waits until the SMTP peer has captured a message matching `filter` (Message-ID with or without <>, or a
 * predicate) and returns the first one. Local recipients have already been delivered to Dovecot by then.
 * Polls every 50 ms; throws after `timeoutMs` (default 10 s).
 */
export async function readCaptured(
  filter: CaptureFilter,
  opts: { timeoutMs?: number; peers?: Peers } = {},
): Promise<CapturedMessage> {
  const peers = opts.peers ?? loadPeers();
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const found = findCaptured(filter, peers);
    if (found.length) return found[0];
    if (Date.now() >= deadline) {
      const what = typeof filter === 'string' ? `Message-ID ${filter}` : 'the filter';
      throw new Error(`no message matching ${what} captured in ${peers.captureDir} within ${opts.timeoutMs ?? 10_000} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
