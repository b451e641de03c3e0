import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, readAttachment, snippetOf } from './parse.js';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'));

const PLAIN = crlf([
  'From: =?UTF-8?Q?Zo=C3=AB_=C3=85ngstr=C3=B6m?= <Zoe@Example.TEST>',
  'To: Sales <sales@acme.test>, "Bob, B." <bob@acme.test>',
  'Cc: Team: carol@acme.test, dave@acme.test;',
  'Subject: =?UTF-8?B?R3LDvMOfZQ==?=',
  'Date: Tue, 3 Feb 2026 10:00:00 +0100',
  'Message-ID: <first@example.test>',
  'In-Reply-To: <earlier@example.test> (comment)',
  'References: <root@example.test>',
  ' <earlier@example.test>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: multipart/alternative; boundary="b2"',
  '',
  '--b2',
  'Content-Type: text/plain; charset=iso-8859-1',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Gr=FC=DFe, hier ist das Angebot.',
  '> quoted earlier text',
  '--b2',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>Grüße</p>',
  '--b2--',
  '--b1',
  'Content-Type: application/pdf; name="angebot.pdf"',
  'Content-Disposition: attachment; filename="angebot.pdf"',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('%PDF-1.4 fake').toString('base64'),
  '--b1--',
  '',
]);

function rssMb(): number {
  return process.memoryUsage().rss / 1e6;
}

describe('parseMessage', () => {
  test('reads headers, addresses, text, html, attachment metadata and a snippet', async () => {
    const m = await parseMessage(PLAIN);
    assert.equal(m.parseError, null);
    assert.equal(m.messageId, '<first@example.test>');
    assert.equal(m.inReplyTo, '<earlier@example.test>');
    assert.deepEqual(m.references, ['<root@example.test>', '<earlier@example.test>']);
    assert.deepEqual(m.from, { name: 'Zoë Ångström', address: 'Zoe@Example.TEST' });
    assert.deepEqual(m.to.map((a) => a.address), ['sales@acme.test', 'bob@acme.test']);
    assert.deepEqual(m.cc.map((a) => a.address), ['carol@acme.test', 'dave@acme.test'], 'groups are flattened');
    assert.equal(m.subject, 'Grüße');
    assert.equal(m.date, '2026-02-03T09:00:00.000Z');
    assert.match(m.text!, /Grüße, hier ist das Angebot/);
    assert.match(m.html!, /<p>Grüße<\/p>/);
    assert.deepEqual(m.attachments, [{ filename: 'angebot.pdf', contentType: 'application/pdf', size: 13, partId: '2' }]);
    assert.equal(m.snippet, 'Grüße, hier ist das Angebot.');
    assert.ok(m.headers.some((h) => h.name === 'References' && h.value === '<root@example.test> <earlier@example.test>'));
    assert.equal((await readAttachment(PLAIN, '2'))!.toString(), '%PDF-1.4 fake');
    assert.equal(await readAttachment(PLAIN, '9'), undefined);
  });

  test('a message without a body, date or ids still parses', async () => {
    const m = await parseMessage(Buffer.from('Subject: only this\n'));
    assert.equal(m.subject, 'only this');
    assert.equal(m.messageId, null);
    assert.equal(m.date, null);
    assert.equal(m.from, null);
    assert.equal(m.snippet, '');
    const empty = await parseMessage(Buffer.alloc(0));
    assert.equal(empty.subject, '');
  });

  test('the snippet skips quoted lines and collapses whitespace', () => {
    assert.equal(snippetOf('Thanks!\n\n> old\n> older\n  see   you'), 'Thanks! see you');
    assert.equal(snippetOf('> only quoted'), '> only quoted');
    assert.equal(snippetOf('x'.repeat(500)).length, 200);
  });

  test('broken encodings, unknown charsets and a Date that is not a date do not fail the parse', async () => {
    const raw = crlf([
      'From: "unterminated <a@example.test>',
      'Subject: =?x-unknown?B?!!!not base64?=',
      'Date: yesterday-ish',
      'Content-Type: text/plain; charset=x-does-not-exist',
      'Content-Transfer-Encoding: base64',
      '',
      '@@@ not base64 at all \u0000\u00ff',
      '',
    ]);
    const m = await parseMessage(raw);
    assert.equal(m.date, null);
    assert.equal(typeof m.subject, 'string');
    assert.equal(typeof m.snippet, 'string');
  });

  test('a huge header block is refused by the parser and stored with what could be read, flagged', async () => {
    const huge = crlf(['Message-ID: <huge@example.test>', 'From: a@example.test', 'Subject: big header', `X-Junk: ${'a'.repeat(3 * 1024 * 1024)}`, '', 'body', '']);
    const started = Date.now();
    const m = await parseMessage(huge);
    assert.ok(Date.now() - started < 5_000);
    assert.ok(m.parseError, 'flagged');
    assert.equal(m.messageId, '<huge@example.test>');
    assert.equal(m.subject, 'big header');
  });

  test('deep nesting and too many parts stop the parse with a flag, quickly', async () => {
    const depth = 5_000;
    const open = Array.from({ length: depth }, (_, i) => `Content-Type: multipart/mixed; boundary="n${i}"\r\n\r\n--n${i}\r\n`).join('');
    const deep = Buffer.from(`Message-ID: <deep@example.test>\r\nSubject: deep\r\n${open}Content-Type: text/plain\r\n\r\ninside\r\n`);
    let started = Date.now();
    const d = await parseMessage(deep);
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
    assert.ok(d.parseError);
    assert.equal(d.messageId, '<deep@example.test>');

    const many = Buffer.from(`Message-ID: <many@example.test>\r\nContent-Type: multipart/mixed; boundary="m"\r\n\r\n${'--m\r\nContent-Type: text/plain\r\n\r\nx\r\n'.repeat(20_000)}--m--\r\n`);
    started = Date.now();
    const w = await parseMessage(many);
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
    assert.ok(w.parseError);
    assert.equal(w.messageId, '<many@example.test>');
  });

  test('a 50 MB attachment is measured, not kept: memory and time stay bounded', async () => {
    const content = Buffer.alloc(50 * 1024 * 1024, 0x5a);
    const b64 = content.toString('base64').replace(/.{76}/g, '$&\r\n');
    const raw = Buffer.from(
      'From: big@example.test\r\nTo: me@acme.test\r\nSubject: big file\r\nMessage-ID: <big@example.test>\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n' +
        '--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n' +
        `--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="big.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n--B--\r\n`,
    );
    const before = rssMb();
    let peak = before;
    const sample = setInterval(() => (peak = Math.max(peak, rssMb())), 10);
    const started = Date.now();
    const m = await parseMessage(raw);
    clearInterval(sample);
    peak = Math.max(peak, rssMb());
    const ms = Date.now() - started;
    assert.equal(m.parseError, null);
    assert.deepEqual(m.attachments, [{ filename: 'big.bin', contentType: 'application/octet-stream', size: content.length, partId: '2' }]);
    assert.equal(m.snippet, 'see attached');
    assert.ok(ms < 10_000, `took ${ms} ms`);
    // the decoded 50 MB is never held: the growth stays far below the attachment's size
    assert.ok(peak - before < 40, `rss grew by ${Math.round(peak - before)} MB`);
  });

  test('a slow parse is cut by the time limit and flagged', async () => {
    const raw = Buffer.from(`Message-ID: <slow@example.test>\r\nContent-Type: multipart/mixed; boundary="m"\r\n\r\n${'--m\r\nContent-Type: text/plain\r\n\r\nx\r\n'.repeat(400)}--m--\r\n`);
    const m = await parseMessage(raw, { timeoutMs: 1 });
    assert.match(m.parseError ?? '', /longer than 1 ms/);
    assert.equal(m.messageId, '<slow@example.test>');
  });

  test('text longer than the limit is cut and flagged', async () => {
    const m = await parseMessage(Buffer.from(`Subject: long\r\n\r\n${'word '.repeat(1000)}`), { maxTextChars: 100 });
    assert.equal(m.text!.length, 100);
    assert.match(m.parseError!, /cut at 100/);
  });
});
