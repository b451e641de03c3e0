import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../inbound/parse.js';
import { normalizeMessage, type MessageInput } from './message.js';
import { composeDraft, draftOf } from './draft.js';
import { sentRecordOf } from './sent-record.js';

const NOW = new Date('2030-01-01T00:00:00.789Z');
const FROM = { name: 'Zoë Müller-Lüdenscheidt', address: 'zoe@example.test' };
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

/** The draft of a message as accepted, and the bytes the send worker composes from it. */
async function composed(input: MessageInput, from: { name: string | null; address: string } = FROM) {
  const draft = draftOf(normalizeMessage(input, NOW), from, '<01jd3m8v2k9x.a1b2c3@example.test>', NOW);
  return { draft, raw: await composeDraft(draft) };
}

const CASES: Record<string, MessageInput> = {
  'UTF-8 names, attachments, HTML and text, references': {
    to: [{ name: 'Jürgen Groß', address: 'juergen@example.org' }, 'plain@example.org', { name: 'Doe, John "JD"', address: 'jd@example.org' }],
    cc: [{ name: 'Zoë "Z" O\'Neil, Jr.', address: 'z@example.net' }],
    bcc: ['hidden@example.com'],
    replyTo: { name: 'Støtte', address: 'support@example.test' },
    subject: 'Grüße – ünïcödé, and a subject long enough to be folded over several header lines ☃',
    text: 'Hallo Jürgen,\r\n\r\nwie besprochen.\n> zitiert\n\n' + 'Eine lange Zeile ohne Umbruch. '.repeat(60) + '\nEnde   \n',
    html: '<p>Hallo <b>Jürgen</b>,</p>\r\n<p>wie besprochen.</p>',
    attachments: [
      { filename: 'Résumé 2030.pdf', content: b64('%PDF-1.4 not really') },
      { filename: 'notes.txt', contentType: 'text/plain', content: b64('plain attachment\n') },
      { filename: 'data.bin', contentType: 'application/octet-stream', content: b64(Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256))) },
    ],
    inReplyTo: '<parent.1@example.org>',
    references: ['<root.0@example.org>', '<parent.1@example.org>'],
    headers: { 'X-Campaign': 'spring ☀ sale', 'X-Ref': 'r-1' },
  },
  'text only, as the API is mostly used': { to: 'a@example.org', subject: 'Your order', text: 'Lorem ipsum dolor sit amet.\n'.repeat(350) },
  'text without a final line break': { to: 'a@example.org', subject: 'short', text: 'just this' },
  'text and HTML': { to: 'a@example.org', subject: 'both', text: 'plain', html: '<p>rich</p>' },
  'text and one attachment': { to: 'a@example.org', subject: '', text: 'see attached', attachments: [{ filename: 'a.csv', content: b64('a,b\n1,2\n') }] },
  'mostly non-ASCII text (base64)': { to: 'a@example.org', subject: 'Привет', text: 'Привет, мир! ☃ '.repeat(40) },
  'mostly non-ASCII text and HTML': { to: 'a@example.org', subject: 'Привет', text: 'Привет, мир! ☃ '.repeat(40), html: '<p>Привет, мир! ☃</p>'.repeat(20) },
  'mostly non-ASCII text with a final line break': { to: 'a@example.org', subject: 'Привет', text: 'Привет, мир! ☃\n'.repeat(40) },
};

for (const [name, input] of Object.entries(CASES)) {
  test(`the record built from the draft equals the parse of the composed bytes: ${name}`, async () => {
    const { draft, raw } = await composed(input);
    const built = sentRecordOf(draft, raw);
    assert.ok(built, 'this message is one the record is built for');
    assert.deepEqual(built, await parseMessage(raw));
  });
}

test('the same for a sender without a name', async () => {
  const { draft, raw } = await composed({ to: 'a@example.org', subject: 's', text: 't\n' }, { name: null, address: 'noreply@example.test' });
  assert.deepEqual(sentRecordOf(draft, raw), await parseMessage(raw));
});

test('messages the rules do not cover answer null (the caller parses them)', async () => {
  const uncovered: Record<string, MessageInput> = {
    'HTML only (the parser derives the text from the HTML)': { to: 'a@example.org', subject: 's', html: '<p>only <b>html</b></p>' },
    'a lone CR in the text': { to: 'a@example.org', subject: 's', text: 'a\rb' },
    'a Unicode domain (written as punycode)': { to: 'a@bücher.example', subject: 's', text: 't' },
    'an attached message (the parser reads into it)': { to: 'a@example.org', subject: 's', text: 't', attachments: [{ filename: 'fwd.eml', contentType: 'message/rfc822', content: b64('Subject: inner\r\n\r\nbody\r\n') }] },
    'a reference without angle brackets': { to: 'a@example.org', subject: 's', text: 't', references: 'root@example.org' },
  };
  for (const [name, input] of Object.entries(uncovered)) {
    const { draft, raw } = await composed(input);
    assert.equal(sentRecordOf(draft, raw), null, name);
  }
});

test('texts with odd line ends, spaces and dots, in every structure: the record is null or equal to the parse', async () => {
  const texts = ['a', 'a\n', 'a\r\n', 'a\n\n', 'a \n', ' lead', 'tab\there\n', '.\n.dot\n', 'end\n\n\n', 'From me\n', 'x'.repeat(1200) + '\nb', 'ünï ☃ '.repeat(30), 'ünï ☃\r\n'.repeat(30), '=3D =\n'];
  let built = 0;
  for (const text of texts) {
    for (const extra of [{}, { html: `<p>${text}</p>` }, { attachments: [{ filename: 'a.txt', content: b64('AAEC') }] }]) {
      const { draft, raw } = await composed({ to: 'a@example.org', subject: 's', text, ...extra });
      const record = sentRecordOf(draft, raw);
      if (record === null) continue;
      built++;
      assert.deepEqual(record, await parseMessage(raw), JSON.stringify({ text, extra }));
    }
  }
  assert.equal(built, texts.length * 3, 'all of these are covered');
});
