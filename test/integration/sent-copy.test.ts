// The Sent copy against the real Dovecot peer (Sent/Drafts/Trash/Junk/Archive auto-created with
// their special-use flags): what lands in Sent, byte for byte and flagged \Seen, and that there is
// only ever one copy. The folder choice for servers without the \Sent flag is tested on provider
// LIST answers in src/outbound/sent-copy.test.ts.
//
//   bash scripts/test.sh test/integration/sent-copy.test.ts
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { MailportError } from '../../src/core/errors.js';
import type { Credentials, Endpoint } from '../../src/core/types.js';
import { AddressGuard } from '../../src/net/guard.js';
import { SentCopier } from '../../src/outbound/sent-copy.js';
import { addMailbox, loadPeers, withPeerImap, type Peers } from '../helpers/peers.js';

const peers: Peers = loadPeers();
const allow = (process.env.MAILPORT_ALLOW_PRIVATE_HOSTS ?? '').split(',').filter(Boolean);
const guard = new AddressGuard({ allow });
const imaps: Endpoint = { host: 'localhost', port: peers.imap.tls, security: 'tls' };
const starttls: Endpoint = { host: peers.host, port: peers.imap.starttls, security: 'starttls' };
const SEARCH_DELAY_MS = 150;
const copier = new SentCopier({ guard, timeoutMs: 10_000, searchDelayMs: SEARCH_DELAY_MS });

function message(id: string, body = 'Hello from the Sent-copy test.'): Buffer {
  // CRLF, a folded header and 8-bit text: the stored copy must keep every byte
  return Buffer.from(
    `From: Sender <sender@${peers.domain}>\r\nTo: someone@example.com\r\nSubject: Sent copy\r\n =?UTF-8?Q?test_=C3=A9?=\r\n` +
      `Message-ID: ${id}\r\nDate: Mon, 06 Jan 2025 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Transfer-Encoding: 8bit\r\n\r\n${body}\r\nGrüße.\r\n`,
  );
}
const newId = () => `<sent-${randomBytes(6).toString('hex')}@${peers.domain}>`;

interface Stored {
  uid: number;
  flags: string[];
  source: Buffer;
}
async function sentMessages(cred: Credentials, folder = 'Sent'): Promise<Stored[]> {
  return withPeerImap({ email: cred.user, password: cred.password! }, async (c) => {
    const lock = await c.getMailboxLock(folder, { readOnly: true });
    try {
      const out: Stored[] = [];
      if (!c.mailbox || !c.mailbox.exists) return out;
      for await (const m of c.fetch('1:*', { uid: true, flags: true, source: true })) out.push({ uid: m.uid, flags: [...(m.flags ?? [])], source: m.source! });
      return out;
    } finally {
      lock.release();
    }
  });
}

async function freshCred(): Promise<Credentials> {
  const u = await addMailbox();
  return { user: u.email, password: u.password };
}

const servers: net.Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

describe('Sent copy on Dovecot', () => {
  let cred: Credentials;
  before(async () => {
    cred = await freshCred();
  });

  test('savesSentCopy false: the exact bytes land in the \\Sent folder, flagged \\Seen (IMAPS, SNI "localhost")', async () => {
    const id = newId();
    const raw = message(id);
    const r = await copier.store({ imap: imaps, cred, raw, messageId: id, savesSentCopy: false });
    assert.deepEqual(r, { result: 'stored', folder: 'Sent' });
    const stored = await sentMessages(cred);
    assert.equal(stored.length, 1);
    assert.ok(stored[0]!.flags.includes('\\Seen'), `flags: ${stored[0]!.flags.join(' ')}`);
    assert.ok(stored[0]!.source.equals(raw), 'FETCH BODY[] returns the bytes that were sent');
  });

  test('savesSentCopy false, retried after success: skipped, still exactly one copy', async () => {
    const c = await freshCred();
    const id = newId();
    const raw = message(id);
    assert.equal((await copier.store({ imap: starttls, cred: c, raw, messageId: id, savesSentCopy: false })).result, 'stored');
    assert.deepEqual(await copier.store({ imap: starttls, cred: c, raw, messageId: id, savesSentCopy: false }), { result: 'skipped', folder: 'Sent' });
    assert.equal((await sentMessages(c)).length, 1);
  });

  test('savesSentCopy true: skipped, nothing appended', async () => {
    const c = await freshCred();
    const id = newId();
    assert.deepEqual(await copier.store({ imap: imaps, cred: c, raw: message(id), messageId: id, savesSentCopy: true }), { result: 'skipped' });
    assert.equal((await sentMessages(c)).length, 0);
  });

  test('savesSentCopy null, the provider already filed it: skipped, exactly one copy', async () => {
    const c = await freshCred();
    const id = newId();
    const raw = message(id);
    // what a provider that files its own copy does: the message is in Sent before we look
    await withPeerImap({ email: c.user, password: c.password! }, (imap) => imap.append('Sent', raw, ['\\Seen']));
    const t0 = performance.now();
    const r = await copier.store({ imap: starttls, cred: c, raw, messageId: id.slice(1, -1), savesSentCopy: null });
    assert.ok(performance.now() - t0 >= SEARCH_DELAY_MS - 5, 'waited for the provider before searching');
    assert.deepEqual(r, { result: 'skipped', folder: 'Sent' });
    assert.equal((await sentMessages(c)).length, 1);
  });

  test('savesSentCopy null, not filed by the provider: stored once; another message in Sent does not count', async () => {
    const c = await freshCred();
    const other = newId();
    await withPeerImap({ email: c.user, password: c.password! }, (imap) => imap.append('Sent', message(other), ['\\Seen']));
    const id = newId();
    const raw = message(id, 'The one that must be stored.');
    assert.deepEqual(await copier.store({ imap: imaps, cred: c, raw, messageId: id, savesSentCopy: null }), { result: 'stored', folder: 'Sent' });
    const stored = await sentMessages(c);
    assert.equal(stored.length, 2);
    assert.equal(stored.filter((m) => m.source.equals(raw)).length, 1);
  });

  test('the \\Sent flag wins over a name hint that points elsewhere', async () => {
    const c = await freshCred();
    const id = newId();
    const r = await copier.store({ imap: imaps, cred: c, raw: message(id), messageId: id, savesSentCopy: false, sentFolderHint: 'Archive' });
    assert.deepEqual(r, { result: 'stored', folder: 'Sent' });
    assert.equal((await sentMessages(c, 'Archive')).length, 0);
  });
});

describe('Sent copy failures are classified MailportErrors', () => {
  test('wrong password: AUTH_FAILED, without the password in the error', async () => {
    const u = await addMailbox();
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    const id = newId();
    await assert.rejects(copier.store({ imap: imaps, cred: { user: u.email, password: wrong }, raw: message(id), messageId: id, savesSentCopy: false }), (e: unknown) => {
      assert.ok(e instanceof MailportError, `not a MailportError: ${String(e)}`);
      assert.equal(e.code, 'AUTH_FAILED');
      assert.equal(e.protocol, 'imap');
      assert.ok(!JSON.stringify({ m: e.message, h: e.hint, r: e.response }).includes(wrong));
      return true;
    });
  });

  test('a blocked host: ADDRESS_BLOCKED before any socket', async () => {
    let connections = 0;
    const server = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const strict = new SentCopier({ guard: new AddressGuard(), timeoutMs: 5_000, searchDelayMs: 0 });
    const id = newId();
    await assert.rejects(strict.store({ imap: { host: '127.0.0.1', port, security: 'tls' }, cred: { user: 'a@b.example', password: 'x-pass' }, raw: message(id), messageId: id, savesSentCopy: null }), (e: unknown) => {
      assert.ok(e instanceof MailportError);
      assert.equal(e.code, 'ADDRESS_BLOCKED');
      return true;
    });
    assert.equal(connections, 0);
  });

  test('nothing listening: CONNECTION_REFUSED, not a raw socket error', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const id = newId();
    await assert.rejects(copier.store({ imap: { host: '127.0.0.1', port, security: 'tls' }, cred: { user: 'a@b.example', password: 'x-pass' }, raw: message(id), messageId: id, savesSentCopy: false }), (e: unknown) => {
      assert.ok(e instanceof MailportError);
      assert.equal(e.code, 'CONNECTION_REFUSED');
      return true;
    });
  });
});
