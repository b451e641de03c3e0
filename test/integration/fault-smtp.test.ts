import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import nodemailer from 'nodemailer';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startFaultSmtp, type FaultSmtp } from '../helpers/fault-smtp.js';

function transport(smtp: FaultSmtp, extra: Record<string, unknown> = {}) {
  return nodemailer.createTransport({ host: smtp.host, port: smtp.port, secure: false, ignoreTLS: true, connectionTimeout: 2000, greetingTimeout: 1000, socketTimeout: 1500, ...extra });
}

const mail = (n: number, extra: Record<string, unknown> = {}) => ({
  from: 'sender@acme.test',
  to: 'rcpt@example.test',
  subject: `message ${n}`,
  messageId: `<m${n}@fault.test>`,
  text: `body ${n}`,
  ...extra,
});

test('accepts, counts and keeps messages; counts duplicates by Message-ID', async (t) => {
  const smtp = await startFaultSmtp();
  t.after(() => smtp.close());
  const tx = transport(smtp);
  await tx.sendMail(mail(1));
  await tx.sendMail(mail(2));
  await tx.sendMail(mail(1));
  assert.equal(smtp.stats.messagesAccepted, 3);
  assert.equal(smtp.messageIds.get('m1@fault.test'), 2);
  assert.equal(smtp.duplicates(), 1);
  assert.equal(smtp.messages[1].subject, 'message 2');
  assert.deepEqual(smtp.messages[1].to, ['rcpt@example.test']);
  assert.match(smtp.messages[1].raw.toString(), /body 2/);
  assert.equal(smtp.stats.connections, 3, 'one connection per message without a pool');
  await smtp.waitForAccepted(3, 100);
});

test('answers 4xx/5xx at MAIL FROM, per recipient at RCPT TO, and at the end of DATA; the script can change', async (t) => {
  const smtp = await startFaultSmtp({ mailFrom: { code: 451, message: 'greylisted' } });
  t.after(() => smtp.close());
  const tx = transport(smtp);
  await assert.rejects(tx.sendMail(mail(1)), (e: { responseCode?: number; response?: string }) => e.responseCode === 451 && /greylisted/.test(e.response ?? ''));

  smtp.setScript({ rcptTo: [{ match: /^bad@/, reply: { code: 550, message: 'no such user' } }, { match: 'later', reply: { code: 452 } }] });
  const partial = await tx.sendMail(mail(2, { to: ['ok@example.test', 'bad@example.test', 'later@example.test'] }));
  assert.deepEqual(partial.accepted, ['ok@example.test']);
  assert.deepEqual(partial.rejected.sort(), ['bad@example.test', 'later@example.test']);
  await assert.rejects(tx.sendMail(mail(3, { to: 'bad@example.test' })), (e: { responseCode?: number }) => e.responseCode === 550);

  smtp.setScript({ data: (m) => (m.subject === 'message 4' ? { code: 554, message: 'content rejected' } : undefined) });
  await assert.rejects(tx.sendMail(mail(4)), (e: { responseCode?: number }) => e.responseCode === 554);
  await tx.sendMail(mail(5));
  assert.equal(smtp.stats.messagesReceived, 3, 'messages 2, 4 and 5 reached the end of DATA');
  assert.deepEqual([...smtp.messageIds.keys()], ['m2@fault.test', 'm5@fault.test']);
});

test('drops the connection in the middle of DATA', async (t) => {
  const smtp = await startFaultSmtp({ dropInData: 10 });
  t.after(() => smtp.close());
  await assert.rejects(transport(smtp).sendMail(mail(1, { text: 'x'.repeat(100_000) })));
  assert.equal(smtp.stats.drops, 1);
  assert.equal(smtp.stats.messagesAccepted, 0);
});

test('stalls: no greeting, or no answer after a command; close() still returns at once', async (t) => {
  const smtp = await startFaultSmtp({ stallAt: 'connect' });
  await assert.rejects(transport(smtp).sendMail(mail(1)), (e: { code?: string }) => e.code === 'ETIMEDOUT');
  smtp.setScript({ stallAt: 'rcptTo' });
  const started = Date.now();
  await assert.rejects(transport(smtp).sendMail(mail(2)), (e: { code?: string }) => e.code === 'ETIMEDOUT');
  assert.ok(Date.now() - started >= 1400, 'the client waited for an answer that never came');
  // a raw connection left hanging must not keep the server open
  const hanging = net.connect(smtp.port, '127.0.0.1');
  hanging.on('error', () => {});
  await new Promise((r) => hanging.once('data', r));
  const closing = Date.now();
  await smtp.close();
  assert.ok(Date.now() - closing < 500, 'close() destroys open connections');
  assert.equal(smtp.stats.openConnections, 0);
  t.diagnostic(`connections: ${smtp.stats.connections}`);
});

test('requires AUTH with the given credentials', async (t) => {
  const smtp = await startFaultSmtp({ auth: { username: 'relay', password: 'relay-secret' } });
  t.after(() => smtp.close());
  assert.match(smtp.url, /^smtp:\/\/relay:relay-secret@127\.0\.0\.1:\d+$/);
  await assert.rejects(transport(smtp).sendMail(mail(1)), /auth|530/i); // no credentials
  await assert.rejects(transport(smtp, { auth: { user: 'relay', pass: 'wrong' } }).sendMail(mail(2)), (e: { responseCode?: number }) => e.responseCode === 535);
  assert.equal(smtp.stats.authFailures, 1);
  await transport(smtp, { auth: { user: 'relay', pass: 'relay-secret' } }).sendMail(mail(3));
  assert.equal(smtp.messages[0].user, 'relay');
});

test('discard mode keeps nothing of a message alive but its small record (the benchmark sends 20,000 of 10 KB)', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const smtp = await startFaultSmtp({ discard: true });
  t.after(() => smtp.close());
  const tx = transport(smtp, { pool: true, maxConnections: 5 });
  t.after(() => tx.close());
  const text = 'Lorem ipsum dolor sit amet. '.repeat(350); // ~10 KB, one chunk with the header
  const count = 2000;
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => tx.sendMail(mail(i + k, { text }))));
  gc();
  const perMessage = (process.memoryUsage().heapUsed - before) / count;
  assert.equal(smtp.messages.length, count);
  // its Message-ID and Subject, sliced from the first chunk, kept that whole chunk: ~12 KB each
  assert.ok(perMessage < 5_000, `${(perMessage / 1024).toFixed(1)} KB kept per message`);
});

test('discard mode with a pool: bodies are not kept, connections and Message-IDs are counted', async (t) => {
  const smtp = await startFaultSmtp({ discard: true, dataDelayMs: 5 });
  t.after(() => smtp.close());
  const tx = transport(smtp, { pool: true, maxConnections: 3 });
  t.after(() => tx.close());
  await Promise.all(Array.from({ length: 30 }, (_, i) => tx.sendMail(mail(i))));
  assert.equal(smtp.stats.messagesAccepted, 30);
  assert.equal(smtp.messageIds.size, 30);
  assert.equal(smtp.messages[0].raw.length, 0);
  assert.ok(smtp.messages[0].size > 0);
  assert.ok(smtp.stats.maxOpenConnections <= 3, `at most the pool's connections (${smtp.stats.maxOpenConnections})`);
});
