import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeMime, crlf } from './mime.js';

const bareLf = (b: Buffer) => (b.toString('latin1').match(/(?<!\r)\n/g) ?? []).length;

test('composed messages end every line in CRLF, whatever line ends the text and HTML came with', async () => {
  const { raw } = await composeMime({
    from: { address: 'sales@acme.test' }, to: [{ address: 'dana@customer.test' }], subject: 'Lines',
    text: 'Hello Dana,\nsee you Friday.\n\nZoë\n', html: '<p>Hello</p>\n<p>Zoë</p>\n',
    attachments: [{ filename: 'a.txt', contentType: 'text/plain', content: Buffer.from('one\ntwo\n') }],
    messageId: '<lines@acme.test>', date: new Date('2030-01-01T00:00:00Z'),
  });
  assert.equal(bareLf(raw), 0);
  const s = raw.toString('latin1');
  assert.ok(s.includes('Hello Dana,\r\nsee you Friday.\r\n\r\nZo=C3=AB\r\n'), s);
});

test('crlf: bare LFs become CRLF, every other byte stays, a message without one is returned as it is', () => {
  const raw = Buffer.concat([Buffer.from('a\nb\r\nc\rd\n'), Buffer.from([0xc3, 0xab, 0x0a, 0xff])]);
  assert.deepEqual([...crlf(raw)], [...Buffer.concat([Buffer.from('a\r\nb\r\nc\rd\r\n'), Buffer.from([0xc3, 0xab, 0x0d, 0x0a, 0xff])])]);
  const clean = Buffer.from('x\r\ny\r\n');
  assert.equal(crlf(clean), clean);
  assert.deepEqual([...crlf(Buffer.from('\n'))], [13, 10]);
});

test('composing picks the transfer encoding nodemailer would: the same bytes as the composer deciding alone', async () => {
  // the reference: nodemailer's MailComposer with the same options and no `textEncoding` hint
  const { default: MailComposer } = await import('nodemailer/lib/mail-composer/index.js');
  const date = new Date('2030-01-01T00:00:00Z');
  const addr = (a: { name?: string | null; address: string }) => (a.name ? { name: a.name, address: a.address } : a.address);
  const longLines = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.\n'.repeat(40);
  const cases: Array<{ name: string; input: Parameters<typeof composeMime>[0]; encoding: RegExp }> = [
    { name: 'ASCII text with long lines', input: { from: { name: 'Sales', address: 'sales@acme.test' }, to: [{ address: 'a@b.test' }], subject: 'Offer', text: longLines, messageId: '<m1@acme.test>', date }, encoding: /quoted-printable/ },
    { name: 'ASCII text and HTML', input: { from: { address: 'sales@acme.test' }, to: [{ address: 'a@b.test' }], subject: 'Offer', text: longLines, html: `<p>${longLines}</p>`, messageId: '<m2@acme.test>', date }, encoding: /quoted-printable/ },
    { name: 'long lines without a letter', input: { from: { address: 'sales@acme.test' }, to: [{ address: 'a@b.test' }], subject: 'Numbers', text: '1234567890 '.repeat(30), messageId: '<m3@acme.test>', date }, encoding: /base64/ },
    { name: 'Cyrillic text', input: { from: { address: 'sales@acme.test' }, to: [{ address: 'a@b.test' }], subject: 'Offer', text: 'Привет, как дела? '.repeat(20), messageId: '<m4@acme.test>', date }, encoding: /base64/ },
    { name: 'a Cyrillic subject over ASCII text', input: { from: { address: 'sales@acme.test' }, to: [{ address: 'a@b.test' }], subject: 'Предложение на 2030 год', text: longLines, messageId: '<m5@acme.test>', date }, encoding: /quoted-printable/ },
    { name: 'a name with a tab', input: { from: { name: 'Sales\tTeam', address: 'sales@acme.test' }, to: [{ name: 'Привет', address: 'a@b.test' }], subject: 'Offer', text: longLines, messageId: '<m6@acme.test>', date }, encoding: /quoted-printable/ },
    { name: 'a DEL in the text', input: { from: { address: 'sales@acme.test' }, to: [{ address: 'a@b.test' }], subject: 'Offer', text: `${longLines}\x7f`, messageId: '<m7@acme.test>', date }, encoding: /quoted-printable/ },
    { name: 'a text attachment', input: { from: { address: 'sales@acme.test' }, to: [{ address: 'a@b.test' }], subject: 'Offer', text: longLines, attachments: [{ filename: 'n.txt', contentType: 'text/plain', content: Buffer.from('0123456789 '.repeat(20)) }], messageId: '<m8@acme.test>', date }, encoding: /quoted-printable/ },
    // printable ASCII that nodemailer still encodes (a quote, what looks like an encoded word): by its rule, base64 without a letter
    { name: 'a quoted subject without a letter', input: { from: { address: 'sales@acme.test' }, to: [{ address: 'a@b.test' }], subject: '"2030"', text: longLines, messageId: '<m10@acme.test>', date }, encoding: /quoted-printable/ },
    { name: 'an encoded-word look-alike', input: { from: { address: 'sales@acme.test' }, to: [{ address: 'a@b.test' }], subject: '=?1?= 2030', text: longLines, headers: { 'X-Campaign': '""' }, messageId: '<m11@acme.test>', date }, encoding: /quoted-printable/ },
    { name: 'a quoted subject with letters', input: { from: { name: 'Sales "Team"', address: 'sales@acme.test' }, to: [{ address: 'a@b.test' }], subject: 'The "2030" offer', text: longLines, messageId: '<m12@acme.test>', date }, encoding: /quoted-printable/ },
    { name: 'a custom header and references', input: { from: { address: 'sales@acme.test' }, to: [{ address: 'a@b.test' }], subject: 'Re: Offer', text: longLines, headers: { 'X-Campaign': 'spring 2030' }, inReplyTo: '<p@b.test>', references: ['<p@b.test>'], messageId: '<m9@acme.test>', date }, encoding: /quoted-printable/ },
  ];
  // multipart boundaries are random
  const same = (b: Buffer) => b.toString('latin1').replace(/--_NmP-[0-9a-f-]+/g, 'BOUNDARY');
  for (const { name, input, encoding } of cases) {
    const reference = await new MailComposer({
      from: addr(input.from), to: input.to?.map(addr), cc: input.cc?.map(addr), subject: input.subject, text: input.text, html: input.html,
      attachments: input.attachments?.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content })),
      inReplyTo: input.inReplyTo, references: input.references, headers: input.headers, messageId: input.messageId, date: input.date,
      disableFileAccess: true, disableUrlAccess: true,
    }).compile().build();
    const { raw } = await composeMime(input);
    assert.equal(same(raw), same(crlf(reference)), name);
    assert.match(/Content-Transfer-Encoding: (\S+)/.exec(raw.toString('latin1'))![1]!, encoding, name);
  }
});
