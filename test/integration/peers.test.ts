// Smoke test of the mail test peers (test/peers/peers.sh): every listener in peers.json does what the
// contract says. If this file fails, look at the peers first (test-artifacts/ has their logs after `npm test`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import nodemailer from 'nodemailer';
import { addMailbox, getAccessToken, loadPeers, peerCa, readCaptured, type PeerUser } from '../helpers/peers.js';

const peers = loadPeers();
const ca = peerCa(peers);
const host = peers.host;

// ---- a tiny line-protocol client for raw IMAP / POP3 / SMTP dialogues ----
class RawConn {
  private buf = '';
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  constructor(public sock: net.Socket) {
    this.attach(sock);
  }
  private attach(sock: net.Socket) {
    this.sock = sock;
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      this.wake?.();
    });
    sock.on('error', (e) => {
      this.failure = e;
      this.wake?.();
    });
    sock.on('close', () => {
      this.failure ??= new Error('connection closed');
      this.wake?.();
    });
  }
  static open(port: number, opts: { host?: string; tls?: tls.ConnectionOptions } = {}): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const h = opts.host ?? host;
      const sock = opts.tls
        ? tls.connect({ host: h, port, ...opts.tls }, () => resolve(new RawConn(sock)))
        : net.connect({ host: h, port }, () => resolve(new RawConn(sock)));
      sock.once('error', reject);
    });
  }
  /** Waits until the received text matches `re`; returns and consumes everything received so far. */
  async expect(re: RegExp, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.buf)) {
      if (this.failure) throw new Error(`${this.failure.message} while waiting for ${re}; got ${JSON.stringify(this.buf)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for ${re}; got ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.wake = null;
    }
    const out = this.buf;
    this.buf = '';
    return out;
  }
  send(line: string) {
    this.sock.write(`${line}\r\n`);
  }
  /** STARTTLS / STLS: wrap the same socket in TLS, validating against `opts` */
  upgrade(opts: tls.ConnectionOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      this.sock.removeAllListeners('data').removeAllListeners('error').removeAllListeners('close');
      const s = tls.connect({ socket: this.sock, ...opts }, () => resolve());
      s.once('error', reject);
      this.attach(s);
    });
  }
  close() {
    this.sock.destroy();
  }
}

function imap(port: number, auth: ImapFlowOptions['auth'], o: Partial<ImapFlowOptions> = {}): ImapFlow {
  const c = new ImapFlow({ host, port, secure: false, logger: false, tls: { ca }, auth, ...o });
  // a failed/half-open imapflow socket can raise 'error' much later; never let it crash the runner
  c.on('error', () => {});
  return c;
}

async function withImap<T>(c: ImapFlow, fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  try {
    await c.connect();
    return await fn(c);
  } finally {
    await c.logout().catch(() => c.close());
  }
}

/** Reads the only message in `user`'s INBOX over IMAPS (fresh mailboxes get exactly one). */
async function inboxMessageIds(user: PeerUser): Promise<string[]> {
  return withImap(imap(peers.imap.tls, { user: user.email, pass: user.password }, { secure: true }), async (c) => {
    await c.mailboxOpen('INBOX');
    const ids: string[] = [];
    if (c.mailbox && c.mailbox.exists > 0) {
      for await (const m of c.fetch('1:*', { envelope: true })) ids.push(m.envelope?.messageId ?? '');
    }
    return ids;
  });
}

async function pop3Login(conn: RawConn, user: PeerUser): Promise<string> {
  conn.send(`USER ${user.email}`);
  await conn.expect(/^\+OK.*\r\n/m);
  conn.send(`PASS ${user.password}`);
  await conn.expect(/^\+OK.*\r\n/m);
  conn.send('STAT');
  const stat = await conn.expect(/^\+OK \d+ \d+\r\n/m);
  conn.send('QUIT');
  return stat.trim();
}

function connectRefused(h: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: h, port });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

// ---------------------------------------------------------------- IMAP
test('IMAP STARTTLS login on imap.starttls', async () => {
  const u = await addMailbox();
  await withImap(imap(peers.imap.starttls, { user: u.email, pass: u.password }, { doSTARTTLS: true }), async (c) => {
    assert.equal(c.secureConnection, true, 'connection was upgraded');
    for (const cap of ['IDLE', 'CONDSTORE', 'QRESYNC', 'SPECIAL-USE', 'MOVE']) assert.ok(c.capabilities.has(cap), cap);
  });
});

test('IMAPS login on imap.tls, special-use folders exist', async () => {
  const u = await addMailbox();
  await withImap(imap(peers.imap.tls, { user: u.email, pass: u.password }, { secure: true }), async (c) => {
    const su = (await c.list()).map((m) => m.specialUse).filter(Boolean).sort();
    assert.deepEqual(su, ['\\Archive', '\\Drafts', '\\Inbox', '\\Junk', '\\Sent', '\\Trash']);
  });
});

test('IMAP OAUTHBEARER login with a token from the issuer', async () => {
  const u = await addMailbox();
  const accessToken = await getAccessToken(u.email);
  await withImap(imap(peers.imap.tls, { user: u.email, accessToken }, { secure: true }), async (c) => {
    assert.ok(c.authenticated);
  });
});

test('IMAP on imap.noStarttls does not offer STARTTLS, plaintext login works', async () => {
  const conn = await RawConn.open(peers.imap.noStarttls);
  try {
    await conn.expect(/^\* OK.*\r\n/m);
    conn.send('a CAPABILITY');
    const caps = await conn.expect(/^a OK.*\r\n/m);
    assert.match(caps, /^\* CAPABILITY /m);
    assert.doesNotMatch(caps, /STARTTLS/);
    assert.doesNotMatch(caps, /LOGINDISABLED/);
    conn.send('b STARTTLS');
    assert.match(await conn.expect(/^b (OK|NO|BAD).*\r\n/m), /^b (NO|BAD)/m);
  } finally {
    conn.close();
  }
  const u = await addMailbox();
  await withImap(imap(peers.imap.noStarttls, { user: u.email, pass: u.password }, { doSTARTTLS: false }), async (c) => {
    assert.equal(c.secureConnection, false);
    assert.ok(c.authenticated);
  });
});

test('IMAP over IPv6 loopback (when available)', { skip: !peers.host6 && 'no ::1 on this machine' }, async () => {
  const u = await addMailbox();
  await withImap(imap(peers.imap.tls, { user: u.email, pass: u.password }, { host: peers.host6!, secure: true }), async (c) => {
    assert.ok(c.authenticated);
  });
});

// ---------------------------------------------------------------- POP3
test('POP3S greeting and login on pop3.tls', async () => {
  const u = await addMailbox();
  const conn = await RawConn.open(peers.pop3.tls, { tls: { ca } });
  try {
    await conn.expect(/^\+OK.*\r\n/m);
    assert.match(await pop3Login(conn, u), /^\+OK 0 0/);
  } finally {
    conn.close();
  }
});

test('POP3 STLS then login on pop3.starttls', async () => {
  const u = await addMailbox();
  const conn = await RawConn.open(peers.pop3.starttls);
  try {
    await conn.expect(/^\+OK.*\r\n/m);
    conn.send('CAPA');
    assert.match(await conn.expect(/\r\n\.\r\n/), /^STLS\r$/m);
    conn.send('STLS');
    await conn.expect(/^\+OK.*\r\n/m);
    await conn.upgrade({ ca, host });
    assert.match(await pop3Login(conn, u), /^\+OK 0 0/);
  } finally {
    conn.close();
  }
});

test('POP-only host serves POP3 (STLS and TLS) on the standard ports and no IMAP', async () => {
  const u = await addMailbox();
  const h = peers.popOnlyHost;
  // TLS: the certificate must validate for the IP address itself (IP SAN)
  const s = await RawConn.open(peers.popOnly.tls, { host: h, tls: { ca } });
  try {
    await s.expect(/^\+OK.*\r\n/m);
    assert.match(await pop3Login(s, u), /^\+OK 0 0/);
  } finally {
    s.close();
  }
  const p = await RawConn.open(peers.popOnly.starttls, { host: h });
  try {
    await p.expect(/^\+OK.*\r\n/m);
    p.send('STLS');
    await p.expect(/^\+OK.*\r\n/m);
    await p.upgrade({ ca, host: h });
    assert.match(await pop3Login(p, u), /^\+OK 0 0/);
  } finally {
    p.close();
  }
  assert.equal(await connectRefused(h, 143), 'ECONNREFUSED');
  assert.equal(await connectRefused(h, 993), 'ECONNREFUSED');
});

// ---------------------------------------------------------------- SMTP
async function sendAndReadBack(
  listener: 'starttls' | 'tls',
  auth: { user: string; pass?: string; accessToken?: string },
  expectMethod: string,
) {
  const to = await addMailbox();
  const subject = `peers smoke ${listener} ${expectMethod} ${Date.now()}`;
  const transport = nodemailer.createTransport({
    host,
    port: peers.smtp[listener],
    secure: listener === 'tls',
    requireTLS: listener === 'starttls',
    tls: { ca },
    ...(auth.accessToken
      ? { auth: { type: 'OAuth2' as const, user: auth.user, accessToken: auth.accessToken } }
      : { auth: { user: auth.user, pass: auth.pass }, authMethod: expectMethod }),
  });
  try {
    const info = await transport.sendMail({ from: auth.user, to: to.email, subject, text: 'hello from the peers smoke test' });
    const captured = await readCaptured(info.messageId);
    assert.equal(captured.listener, listener);
    assert.equal(captured.secure, true);
    assert.equal(captured.user, auth.user);
    assert.equal(captured.authMethod, expectMethod);
    assert.equal(captured.subject, subject);
    assert.deepEqual(captured.to, [to.email]);
    assert.deepEqual(captured.delivered, [to.email]);
    assert.match(captured.raw.toString(), /^Received: from /);
    // delivered into the recipient's Dovecot INBOX over LMTP
    assert.deepEqual(await inboxMessageIds(to), [info.messageId]);
  } finally {
    transport.close();
  }
}

test('SMTP STARTTLS + AUTH PLAIN on smtp.starttls lands in the INBOX', async () => {
  const from = await addMailbox();
  await sendAndReadBack('starttls', { user: from.email, pass: from.password }, 'PLAIN');
});

test('SMTP implicit TLS + AUTH PLAIN on smtp.tls lands in the INBOX', async () => {
  const from = await addMailbox();
  await sendAndReadBack('tls', { user: from.email, pass: from.password }, 'PLAIN');
});

test('SMTP AUTH XOAUTH2 with an issuer token; a token for another user is refused', async () => {
  const from = await addMailbox();
  await sendAndReadBack('tls', { user: from.email, accessToken: await getAccessToken(from.email) }, 'XOAUTH2');
  const other = await addMailbox();
  const t = nodemailer.createTransport({
    host, port: peers.smtp.tls, secure: true, tls: { ca },
    auth: { type: 'OAuth2', user: from.email, accessToken: await getAccessToken(other.email) },
  });
  await assert.rejects(t.verify(), (e: { responseCode?: number }) => e.responseCode === 535);
  t.close();
});

test('SMTP smtp.starttls refuses AUTH before STARTTLS, and bad passwords', async () => {
  const u = await addMailbox();
  const plain = nodemailer.createTransport({ host, port: peers.smtp.starttls, ignoreTLS: true, auth: { user: u.email, pass: u.password } });
  await assert.rejects(plain.verify(), (e: { responseCode?: number }) => e.responseCode === 538);
  const bad = nodemailer.createTransport({ host, port: peers.smtp.tls, secure: true, tls: { ca }, auth: { user: u.email, pass: 'wrong' } });
  await assert.rejects(bad.verify(), (e: { responseCode?: number }) => e.responseCode === 535);
  plain.close();
  bad.close();
});

test('SMTP smtp.noStarttls does not offer STARTTLS and accepts AUTH in cleartext', async () => {
  const conn = await RawConn.open(peers.smtp.noStarttls);
  try {
    await conn.expect(/^220 .*\r\n/m);
    conn.send('EHLO client.example.test');
    const ehlo = await conn.expect(/^250 .*\r\n/m);
    assert.match(ehlo, /^250-AUTH /m);
    assert.doesNotMatch(ehlo, /STARTTLS/);
    conn.send('STARTTLS');
    assert.match(await conn.expect(/^\d{3} .*\r\n/m), /^5\d\d /);
    conn.send('QUIT');
  } finally {
    conn.close();
  }
  const from = await addMailbox();
  const to = await addMailbox();
  const t = nodemailer.createTransport({ host, port: peers.smtp.noStarttls, ignoreTLS: true, auth: { user: from.email, pass: from.password } });
  const info = await t.sendMail({ from: from.email, to: to.email, subject: 'cleartext', text: 'x' });
  t.close();
  const captured = await readCaptured(info.messageId);
  assert.equal(captured.listener, 'noStarttls');
  assert.equal(captured.secure, false);
  assert.equal(captured.user, from.email);
});

test('SMTP smtp.untrustedTls fails certificate validation against caFile', async () => {
  const u = await addMailbox();
  const trusting = nodemailer.createTransport({ host, port: peers.smtp.untrustedTls, secure: true, tls: { ca }, auth: { user: u.email, pass: u.password } });
  await assert.rejects(trusting.verify(), (e: Error & { code?: string }) => {
    // the server sends its leaf only, so Node reports the missing issuer
    assert.match(e.message, /unable to verify the first certificate|self[- ]signed certificate/);
    return true;
  });
  trusting.close();
  // the listener itself works: with its own CA the same login succeeds
  const own = nodemailer.createTransport({
    host, port: peers.smtp.untrustedTls, secure: true,
    tls: { ca: fs.readFileSync(peers.tls.untrustedCaFile) }, auth: { user: u.email, pass: u.password },
  });
  assert.equal(await own.verify(), true);
  own.close();
});

test('SMTP test hooks: reject* gets 550, tempfail* gets 451', async () => {
  const u = await addMailbox();
  const t = nodemailer.createTransport({ host, port: peers.smtp.tls, secure: true, tls: { ca }, auth: { user: u.email, pass: u.password } });
  try {
    await assert.rejects(t.sendMail({ from: u.email, to: 'reject-me@example.test', subject: 'x', text: 'x' }), (e: { responseCode?: number }) => e.responseCode === 550);
    await assert.rejects(t.sendMail({ from: u.email, to: 'tempfail-me@example.test', subject: 'x', text: 'x' }), (e: { responseCode?: number }) => e.responseCode === 451);
  } finally {
    t.close();
  }
});
