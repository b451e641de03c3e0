import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startFaultSmtp, type FaultSmtp } from '../../test/helpers/fault-smtp.js';
import { AddressGuard } from '../net/guard.js';
import { SmtpPool, type PoolSendResult } from './smtp-pool.js';

// The pool against the scriptable SMTP server on loopback: which transport a failure closes, and
// what the messages still waiting for a connection get when it closes.
describe('SMTP pool', () => {
  const guard = new AddressGuard({ allow: ['127.0.0.0/8'] });
  const cred = { user: 'sales@acme.test', password: 'pool-test-pass' };
  let smtp: FaultSmtp | undefined;
  let pool: SmtpPool | undefined;
  afterEach(async () => {
    await pool?.close();
    await smtp?.close();
  });

  function sendAll(p: SmtpPool, server: FaultSmtp, n: number): Promise<PoolSendResult[]> {
    const endpoint = { host: '127.0.0.1', port: server.port, security: 'none' as const };
    return Promise.all(Array.from({ length: n }, (_, i) => p.send({
      key: 'acc_1:fp',
      endpoint,
      cred,
      envelope: { from: cred.user, to: [`customer${i}@example.test`] },
      raw: Buffer.from(`From: ${cred.user}\r\nTo: customer${i}@example.test\r\nMessage-ID: <pool-${i}@acme.test>\r\nSubject: Pool ${i}\r\n\r\nHello ${i}\r\n`),
    })));
  }

  test('a late failure on a transport already replaced does not close its replacement (no message drained twice)', async () => {
    // three connections: the first never answers its DATA, and its timeout replaces the transport;
    // the second stops answering one message later, so its timeout comes after the replacement opened,
    // with messages queued there. That failure is about the old transport and must leave the new one
    // alone: what is queued there goes out on it, nothing comes back unsent, no third transport opens
    const TIMEOUT_MS = 1_000;
    const stalls = new Map<number, number>();
    smtp = await startFaultSmtp({
      auth: { username: cred.user, password: cred.password },
      dataDelayMs: TIMEOUT_MS / 4,
      stallAt: (stage, ctx) => {
        if (stage !== 'data') return false;
        const n = (stalls.get(ctx.connection) ?? 0) + 1;
        stalls.set(ctx.connection, n);
        return ctx.connection === 1 || (ctx.connection === 2 && n === 2);
      },
    });
    pool = new SmtpPool({ guard, timeoutMs: TIMEOUT_MS });
    const results = await sendAll(pool, smtp, 30);
    const failures = results.flatMap((r) => (r.ok ? [] : [`${r.error.code}${r.unsent ? ' unsent' : ''}`]));
    assert.deepEqual(failures, ['TIMEOUT', 'TIMEOUT'], `the two stalled messages time out, nothing else fails: ${JSON.stringify(failures)}`);
    assert.equal(smtp.stats.messagesAccepted, 28);
    assert.equal(smtp.stats.connections, 6, 'the old transport\'s three connections and the new one\'s three');
  });

  test('messages drained from a closed transport twice come back unsent: no server saw them', async () => {
    // every connection of the first two transports stalls at DATA: the first transport's timeout
    // hands its queued messages to a second, whose timeout drains the rest once more
    const TIMEOUT_MS = 500;
    smtp = await startFaultSmtp({ auth: { username: cred.user, password: cred.password }, stallAt: (stage, ctx) => stage === 'data' && ctx.connection <= 6 });
    pool = new SmtpPool({ guard, timeoutMs: TIMEOUT_MS });
    const results = await sendAll(pool, smtp, 9);
    const codes = results.map((r) => (r.ok ? 'sent' : `${r.error.code}${r.unsent ? ' unsent' : ''}`)).sort();
    assert.deepEqual(codes, [...Array(3).fill('PROTOCOL_ERROR unsent'), ...Array(6).fill('TIMEOUT')], JSON.stringify(codes));
    assert.equal(smtp.stats.connections, 6);
    assert.equal(smtp.stats.messagesReceived, 6, 'the six that timed out reached the server; the three drained twice did not');
  });
});
