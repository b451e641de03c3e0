import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeMime } from '../protocols/mime.js';
import { normalizeMessage } from './message.js';
import { composeDraft, draftOf, mimeInputOf } from './draft.js';
import { Composer } from './composer.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const FROM = { name: 'Zoë Müller', address: 'zoe@example.test' };

const textOnly = () =>
  normalizeMessage({ to: [{ name: 'Ann', address: 'ann@example.test' }], cc: 'cc@example.test', bcc: 'hidden@example.test', subject: 'Grüße', text: 'Hallo\n'.repeat(400), headers: { 'X-Ref': 'r-1' }, inReplyTo: '<p@example.test>', references: ['<p@example.test>'] }, NOW);

test('a draft composes into the very bytes the message composed at once would have', async () => {
  const msg = textOnly();
  const draft = draftOf(msg, FROM, '<id1@example.test>', NOW);
  const direct = await composeMime({ ...msg, from: FROM, messageId: '<id1@example.test>', date: NOW });
  const later = await composeDraft(draft);
  assert.ok(later.equals(direct.raw));
  assert.doesNotMatch(later.toString(), /hidden@example\.test/, 'Bcc stays out of the header');
  assert.match(later.toString(), /^Message-ID: <id1@example\.test>$/m);
  assert.match(later.toString(), /^Date: Tue, 01 Jan 2030 00:00:00 \+0000$/m, 'the Date fixed at accept time');
});

test('attachments survive the draft byte for byte', async () => {
  const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256));
  const msg = normalizeMessage({ to: 'a@example.test', subject: 's', html: '<p>hi</p>', attachments: [{ filename: 'b.bin', contentType: 'application/octet-stream', content: bytes.toString('base64') }] }, NOW);
  const input = mimeInputOf(draftOf(msg, FROM, '<id2@example.test>', NOW));
  assert.ok(input.attachments![0]!.content.equals(bytes));
  assert.equal(input.html, '<p>hi</p>');
  assert.deepEqual(input.date, NOW);
});

test('a draft of an unknown version is refused', async () => {
  await assert.rejects(composeDraft(JSON.stringify({ v: 2 })), /unknown message draft version 2/);
});

test('the composer gives the same bytes on a worker thread as on the spot, and on the spot once closed', async () => {
  const draft = draftOf(textOnly(), FROM, '<id3@example.test>', NOW);
  const composer = new Composer({ threads: 1, idleMs: 1000 });
  try {
    const inline = await composer.compose(draft, false);
    const threaded = await Promise.all([composer.compose(draft, true), composer.compose(draft, true)]);
    for (const t of threaded) assert.ok(t.equals(inline));
    await assert.rejects(composer.compose(JSON.stringify({ v: 9 }), true), /unknown message draft version/, 'a failure on the thread reaches the caller');
  } finally {
    await composer.close();
  }
  assert.ok((await composer.compose(draft, true)).length > 0);
  assert.equal(new Composer({ threads: 0 }).threads, 0);
});

test('threads that cannot start never fail a message: it is composed on the spot, and the failure is told once', async () => {
  const draft = draftOf(textOnly(), FROM, '<id4@example.test>', NOW);
  const failures: unknown[] = [];
  const composer = new Composer({ threads: 1, workerFile: new URL('./no-such-worker.js', import.meta.url).href, onThreadFailure: (err) => failures.push(err) });
  try {
    const [a, b] = await Promise.all([composer.compose(draft, true), composer.compose(draft, true)]);
    const inline = await composeDraft(draft);
    assert.ok(a.equals(inline) && b.equals(inline));
    assert.ok((await composer.compose(draft, true)).equals(inline));
    assert.equal(failures.length, 1);
  } finally {
    await composer.close();
  }
});
