// Graceful shutdown: a real `mailport serve` process gets SIGTERM while messages wait for a slow
// relay. It must exit 0 well before the send worker's own stop bound (10 s), leave no job in
// `sending` (a job never handed to SMTP goes back to the queue; one on a connection finishes), and
// after a restart every message goes out exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { startFaultSmtp } from '../helpers/fault-smtp.js';
import { serve, type Serve } from '../helpers/serve.js';

const TOTAL = 40;
/** each message takes this long at the end of DATA: the queue behind the pool's 3 connections needs far longer than the stop bound */
const SLOW_MS = 2_000;
/** the exit must come before the send worker's stopTimeoutMs (10 s) could have expired */
const EXIT_BOUND_MS = 8_000;

async function post(base: string, token: string, path: string, body: unknown) {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

test('SIGTERM while sends are queued: exits 0 in time, nothing left in sending, each message sent once after a restart', { timeout: 120_000 }, async (t) => {
  const relay = await startFaultSmtp({ discard: true, dataDelayMs: SLOW_MS });
  const dir = mkdtempSync(join(tmpdir(), 'mailport-shutdown-'));
  const admin = `shutdown-admin-${randomBytes(12).toString('hex')}`;
  const env = {
    MAILPORT_DATA_DIR: dir,
    MAILPORT_PORT: '0',
    MAILPORT_ADMIN_TOKEN: admin,
    MAILPORT_SECRET_KEY: randomBytes(32).toString('base64'),
    MAILPORT_PLATFORM_SMTP_URL: relay.url,
    MAILPORT_PLATFORM_FROM: 'mailer@platform.test',
    MAILPORT_LOG_LEVEL: 'info',
    MAILPORT_ROLE: '',
  };
  let current: Serve | undefined;
  t.after(async () => {
    if (current && current.child.exitCode === null && current.child.signalCode === null) {
      current.child.kill('SIGKILL');
      await current.exited;
    }
    await relay.close();
    rmSync(dir, { recursive: true, force: true });
  });

  current = await serve(env);
  const first = current;
  const tenant = await post(first.base, admin, '/v1/tenants', { name: 'Stop Co', companyEmail: 'hello@stop.test' });
  assert.equal(tenant.status, 201);
  for (let i = 0; i < TOTAL; i++) {
    const res = await post(first.base, tenant.body.apiKey, '/v1/messages', { to: `rcpt${i}@example.test`, subject: `stop ${i}`, text: `message ${i}` });
    assert.equal(res.status, 202);
  }
  // SIGTERM once a message is on a connection (its DATA arrived, the relay's answer is pending):
  // the others wait behind the pool's connections
  const end = Date.now() + 15_000;
  while (relay.stats.messagesReceived === 0) {
    if (Date.now() > end) assert.fail(`no message reached the relay:\n${first.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const signalled = Date.now();
  first.child.kill('SIGTERM');
  const code = await Promise.race([first.exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 15_000).unref())]);
  const tookMs = Date.now() - signalled;
  assert.equal(code, 0, `exit code (after ${tookMs} ms):\n${first.output().slice(-3000)}`);
  assert.ok(tookMs < EXIT_BOUND_MS, `stopped in ${tookMs} ms, within ${EXIT_BOUND_MS} ms`);
  assert.match(first.output(), /"msg":"stopped"/);
  t.diagnostic(`stopped ${tookMs} ms after SIGTERM; the relay accepted ${relay.stats.messagesAccepted} of ${TOTAL}`);

  const db = new Database(join(dir, 'mailport.db'));
  const rows = db.prepare('SELECT status, message_id, attempts, last_error FROM outbox').all() as Array<{ status: string; message_id: string; attempts: number; last_error: string | null }>;
  assert.equal(rows.length, TOTAL);
  const byStatus = (s: string) => rows.filter((r) => r.status === s);
  assert.deepEqual(byStatus('sending'), [], 'no job left in sending');
  assert.deepEqual(byStatus('failed'), [], 'no job failed');
  const sent = byStatus('sent');
  assert.ok(sent.length >= 1, 'the messages on a connection at SIGTERM finished');
  assert.ok(sent.length < TOTAL, 'the test stopped the process with messages still waiting');
  assert.equal(relay.stats.messagesAccepted, sent.length, 'what the relay took is exactly what is recorded as sent');
  const bare = (id: string) => id.replace(/^<|>$/g, '');
  for (const r of rows.filter((x) => x.status !== 'sent')) {
    assert.equal(relay.messageIds.get(bare(r.message_id)), undefined, 'a job put back never reached the relay');
    if (r.status === 'deferred') assert.equal(JSON.parse(r.last_error!).code, 'UNAVAILABLE');
  }
  // the put-back jobs wait for their backoff; move it into the past, as the clock would
  db.prepare(`UPDATE outbox SET next_attempt_at = '1970-01-01T00:00:00.000Z' WHERE status = 'deferred'`).run();
  db.close();

  relay.setScript({});
  current = await serve(env);
  await relay.waitForAccepted(TOTAL, 60_000);
  assert.equal(relay.duplicates(), 0, 'no message went out twice');
  current.child.kill('SIGTERM');
  assert.equal(await current.exited, 0);
});
