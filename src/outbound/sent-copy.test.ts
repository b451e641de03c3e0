// The Sent-copy policy with a fake IMAP side, and the Sent-folder choice on LIST answers of real
// providers (test/fixtures/imap-lists/*.json). The real-server tests are in
// test/integration/sent-copy.test.ts.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MailportError } from '../core/errors.js';
import type { Credentials, Endpoint } from '../core/types.js';
import { AddressGuard } from '../net/guard.js';
import type { CheckContext } from '../protocols/context.js';
import { chooseSentFolder, newSentFolderPath, normalizeMessageId, type ImapNamespace, type ListedFolder, type SentFolderChoice, type SentMailbox, type SentMailboxOpener } from '../protocols/imap-sent.js';
import { SentCopier, type SentCopyLogger } from './sent-copy.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/imap-lists');
const imap: Endpoint = { host: 'imap.example.com', port: 993, security: 'tls' };
const cred: Credentials = { user: 'me@example.com', password: 'very-secret-pw' };
const raw = Buffer.from('From: me@example.com\r\nTo: you@example.com\r\nMessage-ID: <abc@example.com>\r\nSubject: hi\r\n\r\nhello\r\n');
const guard = new AddressGuard();

/** A mailbox in memory behind the SentMailboxOpener port, recording every call. */
function fakeImap(opts: { sent?: SentFolderChoice; existing?: string[]; fail?: unknown } = {}) {
  const calls: string[] = [];
  const appended: Array<{ folder: string; raw: Buffer }> = [];
  const opened: Array<{ at: number; ctx: CheckContext }> = [];
  const existing = [...(opts.existing ?? [])];
  const box: SentMailbox = {
    async findSentFolder(hint) {
      calls.push(`find:${hint ?? ''}`);
      return opts.sent ?? { path: 'Sent', by: 'special-use' };
    },
    async findByMessageId(folder, id) {
      calls.push(`search:${folder}:${id}`);
      return existing.includes(id) ? [7] : [];
    },
    async append(folder, bytes) {
      calls.push(`append:${folder}`);
      appended.push({ folder, raw: bytes });
      return { uid: 8 };
    },
  };
  const opener: SentMailboxOpener = async (ep, c, ctx, use) => {
    opened.push({ at: performance.now(), ctx });
    assert.equal(ep, imap);
    assert.equal(c, cred);
    if (opts.fail) throw opts.fail;
    return use(box);
  };
  return { opener, calls, appended, opened };
}

function recordingLogger(): SentCopyLogger & { lines: string[] } {
  const lines: string[] = [];
  const rec = (o: object, m?: string) => void lines.push(JSON.stringify({ o, m }));
  return { lines, debug: rec, info: rec, warn: rec };
}

describe('SentCopier policy', () => {
  test('savesSentCopy true: skipped without opening IMAP or waiting', async () => {
    const f = fakeImap();
    const copier = new SentCopier({ guard, imap: f.opener, searchDelayMs: 10_000 });
    const t0 = performance.now();
    assert.deepEqual(await copier.store({ imap, cred, raw, messageId: '<abc@example.com>', savesSentCopy: true }), { result: 'skipped' });
    assert.ok(performance.now() - t0 < 1000);
    assert.equal(f.opened.length, 0);
  });

  test('savesSentCopy false: appends the exact bytes to the Sent folder at once', async () => {
    const f = fakeImap();
    const copier = new SentCopier({ guard, imap: f.opener, searchDelayMs: 10_000, timeoutMs: 1234 });
    const t0 = performance.now();
    const r = await copier.store({ imap, cred, raw, messageId: 'abc@example.com', savesSentCopy: false, sentFolderHint: 'Sent Items' });
    assert.deepEqual(r, { result: 'stored', folder: 'Sent' });
    assert.ok(f.opened[0]!.at - t0 < 1000, 'no search delay when Mailport must store the copy');
    assert.equal(f.opened[0]!.ctx.timeoutMs, 1234);
    assert.equal(f.opened[0]!.ctx.guard, guard);
    assert.deepEqual(f.calls, ['find:Sent Items', 'search:Sent:<abc@example.com>', 'append:Sent']);
    assert.equal(f.appended[0]!.raw, raw);
  });

  test('savesSentCopy false, retried after the copy was stored: skipped, still one copy', async () => {
    const f = fakeImap({ existing: ['<abc@example.com>'] });
    const r = await new SentCopier({ guard, imap: f.opener }).store({ imap, cred, raw, messageId: '<abc@example.com>', savesSentCopy: false });
    assert.deepEqual(r, { result: 'skipped', folder: 'Sent' });
    assert.equal(f.appended.length, 0);
  });

  test('savesSentCopy null: waits searchDelayMs, then appends only when the Message-ID is missing', async () => {
    const missing = fakeImap();
    const copier = new SentCopier({ guard, imap: missing.opener, searchDelayMs: 120 });
    const t0 = performance.now();
    assert.deepEqual(await copier.store({ imap, cred, raw, messageId: '<abc@example.com>', savesSentCopy: null }), { result: 'stored', folder: 'Sent' });
    assert.ok(missing.opened[0]!.at - t0 >= 110, `opened after ${Math.round(missing.opened[0]!.at - t0)} ms`);
    assert.deepEqual(missing.calls, ['find:', 'search:Sent:<abc@example.com>', 'append:Sent']);

    const present = fakeImap({ existing: ['<abc@example.com>'], sent: { path: 'Sent Messages', by: 'name' } });
    const r = await new SentCopier({ guard, imap: present.opener, searchDelayMs: 1 }).store({ imap, cred, raw, messageId: '<abc@example.com>', savesSentCopy: null });
    assert.deepEqual(r, { result: 'skipped', folder: 'Sent Messages' });
    assert.equal(present.appended.length, 0);
  });

  test('a Sent folder created just now is not searched', async () => {
    const f = fakeImap({ sent: { path: 'INBOX.Sent', by: 'created' } });
    const r = await new SentCopier({ guard, imap: f.opener, searchDelayMs: 0 }).store({ imap, cred, raw, messageId: '<abc@example.com>', savesSentCopy: null });
    assert.deepEqual(r, { result: 'stored', folder: 'INBOX.Sent' });
    assert.deepEqual(f.calls, ['find:', 'append:INBOX.Sent']);
  });

  test('bad input is INVALID_INPUT before any IMAP', async () => {
    const f = fakeImap();
    const copier = new SentCopier({ guard, imap: f.opener, searchDelayMs: 0 });
    for (const messageId of ['', '   ', '<a b@x>', 'a@x\r\nBcc: evil@x']) {
      await assert.rejects(copier.store({ imap, cred, raw, messageId, savesSentCopy: false }), (e: unknown) => e instanceof MailportError && e.code === 'INVALID_INPUT' && e.field === 'messageId');
    }
    await assert.rejects(copier.store({ imap, cred, raw: Buffer.alloc(0), messageId: '<a@x>', savesSentCopy: false }), (e: unknown) => e instanceof MailportError && e.field === 'raw');
    await assert.rejects(
      copier.store({ imap, cred, raw, messageId: '<a@x>', savesSentCopy: 'yes' as unknown as boolean }),
      (e: unknown) => e instanceof MailportError && e.field === 'savesSentCopy',
    );
    assert.equal(f.opened.length, 0);
  });

  test('failures are MailportErrors: classified ones pass through, anything else becomes INTERNAL; no secret is logged', async () => {
    const log = recordingLogger();
    const auth = new MailportError('AUTH_FAILED', { protocol: 'imap' });
    const a = new SentCopier({ guard, imap: fakeImap({ fail: auth }).opener, searchDelayMs: 0, logger: log });
    await assert.rejects(a.store({ imap, cred, raw, messageId: '<a@x>', savesSentCopy: false }), (e: unknown) => e === auth);
    const b = new SentCopier({ guard, imap: fakeImap({ fail: new TypeError('boom') }).opener, searchDelayMs: 0, logger: log });
    await assert.rejects(b.store({ imap, cred, raw, messageId: '<a@x>', savesSentCopy: false }), (e: unknown) => e instanceof MailportError && e.code === 'INTERNAL' && e.cause instanceof TypeError);
    assert.ok(log.lines.some((l) => l.includes('AUTH_FAILED')));
    assert.ok(log.lines.every((l) => !l.includes(cred.password!)));
  });
});

describe('normalizeMessageId', () => {
  test('adds the brackets once', () => {
    assert.equal(normalizeMessageId('abc@x.example'), '<abc@x.example>');
    assert.equal(normalizeMessageId(' <abc@x.example> '), '<abc@x.example>');
  });
});

// ---------------------------------------------------------------------------------------------
// Sent-folder choice on recorded LIST answers

interface ListFixture {
  server: string;
  namespace: ImapNamespace;
  lines: string[];
  expect: SentFolderChoice | null;
}

/** RFC 3501 modified UTF-7 ("&AOk-" → "é"), as mailbox names travel. */
function decodeMutf7(s: string): string {
  return s.replace(/&([^-]*)-/g, (_, b64: string) => {
    if (!b64) return '&';
    const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    let out = '';
    for (let i = 0; i + 1 < bytes.length; i += 2) out += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
    return out;
  });
}

/** `* LIST (\Flags) "/" "Name"` → ListedFolder (quoted or atom names, NIL delimiters). */
function parseListLine(line: string): ListedFolder {
  const m = /^\* (?:X?LIST) \(([^)]*)\) (NIL|"(?:\\.|[^"\\])*") (.+)$/i.exec(line);
  if (!m) throw new Error(`not a LIST line: ${line}`);
  const unquote = (v: string) => (v.startsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v);
  return {
    flags: m[1]!.split(/\s+/).filter(Boolean),
    delimiter: m[2]!.toUpperCase() === 'NIL' ? null : unquote(m[2]!),
    path: decodeMutf7(unquote(m[3]!)),
  };
}

const fixtures = fs.readdirSync(FIXTURES).filter((n) => n.endsWith('.json')).sort();

describe('chooseSentFolder on provider LIST answers', () => {
  test('the fixtures are all there', () => {
    for (const n of ['gmail.json', 'outlook.json', 'icloud.json', 'cpanel.json', 'gmx-de.json']) assert.ok(fixtures.includes(n), n);
  });
  for (const name of fixtures) {
    const fx = JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as ListFixture;
    test(`${name}: ${fx.server}`, () => {
      const folders = fx.lines.map(parseListLine);
      assert.deepEqual(chooseSentFolder(folders, { namespace: fx.namespace }) ?? null, fx.expect);
    });
  }

  const load = (name: string) => (JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as ListFixture).lines.map(parseListLine);

  test('the \\Sent flag beats the hint and the names; the hint picks among several flagged folders', () => {
    const outlook = load('outlook.json');
    assert.deepEqual(chooseSentFolder(outlook, { hint: 'Sent' }), { path: 'Sent Items', by: 'special-use' });
    const two = [...outlook, { path: 'Old/Sent', delimiter: '/', flags: ['\\Sent'] }];
    assert.deepEqual(chooseSentFolder(two, { hint: 'Old/Sent' }), { path: 'Old/Sent', by: 'special-use' });
  });

  test('without the flag the hint comes before the well-known names, also under the namespace prefix', () => {
    const ns = { prefix: 'INBOX.', delimiter: '.' };
    const folders = [...load('cpanel.json'), { path: 'INBOX.Sent Items', delimiter: '.', flags: [] }];
    assert.deepEqual(chooseSentFolder(folders, { namespace: ns }), { path: 'INBOX.Sent Items', by: 'name' });
    assert.deepEqual(chooseSentFolder(folders, { hint: 'Sent', namespace: ns }), { path: 'INBOX.Sent', by: 'hint' });
    assert.deepEqual(chooseSentFolder(folders, { hint: 'INBOX.Sent', namespace: ns }), { path: 'INBOX.Sent', by: 'hint' });
    // case-insensitive only after an exact match failed
    assert.deepEqual(chooseSentFolder([{ path: 'SENT', delimiter: '/', flags: [] }]), { path: 'SENT', by: 'name' });
  });

  test('a \\Noselect folder is never chosen; the folder to create goes under the namespace prefix', () => {
    const noSent = load('no-sent.json');
    assert.equal(chooseSentFolder(noSent, { namespace: { prefix: 'INBOX.', delimiter: '.' } }), undefined);
    assert.equal(newSentFolderPath({ namespace: { prefix: 'INBOX.', delimiter: '.' } }), 'INBOX.Sent');
    assert.equal(newSentFolderPath({ hint: 'Gesendet', namespace: { prefix: '', delimiter: '/' } }), 'Gesendet');
    assert.equal(newSentFolderPath({ hint: 'INBOX.Sent', namespace: { prefix: 'INBOX.', delimiter: '.' } }), 'INBOX.Sent');
    assert.equal(newSentFolderPath(), 'Sent');
  });
});
