import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeMessage, requestHash } from './message.js';
import { composeMime, replaceSender } from '../protocols/mime.js';

const NOW = new Date('2030-01-01T00:00:00Z');

test('recipients from to, cc and bcc form the envelope, without repeats; Bcc stays out of the header', async () => {
  const m = normalizeMessage({ to: ['A@example.test', { name: 'B', address: 'b@example.test' }], cc: 'a@example.test', bcc: 'hidden@example.test', subject: 's', text: 't' }, NOW);
  assert.deepEqual(m.recipients, ['A@example.test', 'b@example.test', 'hidden@example.test']);
  const { raw } = await composeMime({ ...m, from: { address: 'me@example.test' }, messageId: '<1@example.test>', date: NOW });
  assert.doesNotMatch(raw.toString(), /hidden@example\.test/);
});

test('line breaks, non-X headers, past sendAt and missing bodies are refused naming the field', () => {
  const base = { to: 'a@example.test', subject: 's', text: 't' };
  const field = (over: object) => {
    try {
      normalizeMessage({ ...base, ...over } as never, NOW);
      return null;
    } catch (err) {
      return (err as { field?: string }).field;
    }
  };
  assert.equal(field({ subject: 'a\rb' }), 'subject');
  assert.equal(field({ replyTo: { name: 'x\ny', address: 'r@example.test' } }), 'replyTo.name');
  assert.equal(field({ headers: { 'Content-Type': 'x' } }), 'headers.Content-Type');
  assert.equal(field({ references: ['<a@b>', '<c@d>\n'] }), 'references.1');
  assert.equal(field({ sendAt: '2029-12-31T23:00:00Z' }), 'sendAt');
  assert.equal(field({ text: undefined }), 'text');
  assert.equal(field({ to: 'not-an-address' }), 'to');
  assert.equal(field({ sendAt: '2030-01-01T00:00:30Z' }), null, 'now or later is fine');
});

test('the request hash ignores key order', () => {
  assert.equal(requestHash({ a: 1, b: [{ x: 1, y: 2 }] }), requestHash({ b: [{ y: 2, x: 1 }], a: 1 }));
  assert.notEqual(requestHash({ a: 1 }), requestHash({ a: 2 }));
});

test('replaceSender swaps From, adds Reply-To, and keeps every other byte', async () => {
  const { raw } = await composeMime({ from: { name: 'Acme', address: 'hello@acme.test' }, to: [{ address: 'a@example.test' }], subject: 'Grüße', text: 'body', messageId: '<1@acme.test>', date: NOW });
  const out = (await replaceSender(raw, { name: 'Acme via Platform', address: 'mailer@platform.test' }, 'hello@acme.test')).toString();
  assert.match(out, /^From: Acme via Platform <mailer@platform\.test>$/m);
  assert.match(out, /^Reply-To: hello@acme\.test$/m);
  assert.doesNotMatch(out, /^From: Acme <hello@acme\.test>/m);
  assert.ok(out.endsWith(raw.subarray(raw.indexOf('\r\n\r\n')).toString()));
  assert.match(out, /^Message-ID: <1@acme\.test>$/m);
});

test('attachments: base64 with line breaks is taken, anything else refused, and a flood of line breaks is checked in linear time', () => {
  const base = { to: 'a@example.test', subject: 's', text: 't' };
  const wrapped = Buffer.from('hello world, '.repeat(20)).toString('base64').replace(/.{76}/g, '$&\r\n');
  const m = normalizeMessage({ ...base, attachments: [{ filename: 'a.txt', content: `${wrapped}\r\n` }] }, NOW);
  assert.equal(m.attachments[0]!.content.toString(), 'hello world, '.repeat(20));
  for (const content of ['abc!', '====', 'YQ==YQ==', '\n'.repeat(10) + '*']) {
    assert.throws(() => normalizeMessage({ ...base, attachments: [{ filename: 'a.txt', content }] }, NOW), { field: 'attachments.0.content' }, content);
  }
  // 100,000 line breaks and one bad character: a few milliseconds; the earlier single pattern, quadratic,
  // took about 18 s here. The bound is a guard against that complexity (500 times the linear time), not a speed target.
  const t0 = performance.now();
  assert.throws(() => normalizeMessage({ ...base, attachments: [{ filename: 'a.txt', content: '\n'.repeat(100_000) + '!' }] }, NOW), { field: 'attachments.0.content' });
  assert.throws(() => normalizeMessage({ ...base, to: `a@${'.'.repeat(100_000)}@` }, NOW), { field: 'to' });
  const ms = performance.now() - t0;
  assert.ok(ms < 1_000, `checking took ${ms.toFixed(0)} ms`);
});
