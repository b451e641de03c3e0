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
