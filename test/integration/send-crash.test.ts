// Issue 3 point 8: "never loses an accepted message". A real `mailport serve` process sends through
// the platform processor (a counting test SMTP server); it is SIGKILLed while messages are in flight
// and restarted on the same data folder. Every accepted message must reach the server at least once,
// and the only copies allowed are the ones whose 250 was on its way when the process died: at most one
// per SMTP connection open at the kill.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { startFaultSmtp } from '../helpers/fault-smtp.js';
import { api, serve, type Serve } from '../helpers/serve.js';

const TOTAL = 1000;
const KILL_AFTER = 300;
const ENQUEUE_CONCURRENCY = 16;

/** Every outbox entry of the tenant, following nextCursor. */
async function outbox(base: string, key: string, status?: string): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null | undefined;
  do {
    const q = new URLSearchParams({ limit: '100' });
    if (status) q.set('status', status);
    if (cursor) q.set('cursor', cursor);
    const res = await api(base, key, 'GET', `/v1/outbox?${q}`);
    assert.equal(res.status, 200, res.text);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return items;
}

const bare = (id: string) => id.trim().replace(/^<|>$/g, '');

test('SIGKILL while sending: after a restart every accepted message is delivered, duplicates bounded by open connections', { timeout: 240_000 }, async (t) => {
  // a slow-ish relay (20 ms per message) keeps messages in flight on every pooled connection
  const smtp = await startFaultSmtp({ discard: true, dataDelayMs: 20 });
  const dir = mkdtempSync(join(tmpdir(), 'mailport-crash-'));
  const admin = `crash-admin-${randomBytes(12).toString('hex')}`;
  const env = {
    MAILPORT_DATA_DIR: dir,
    MAILPORT_PORT: '0',
    MAILPORT_ADMIN_TOKEN: admin,
    MAILPORT_SECRET_KEY: randomBytes(32).toString('base64'),
    MAILPORT_PLATFORM_SMTP_URL: smtp.url,
    MAILPORT_LOG_LEVEL: 'info', // the address is logged at info
  };
  let current: Serve | undefined;
  t.after(async () => {
    if (current && current.child.exitCode === null && current.child.signalCode === null) {
      current.child.kill('SIGKILL');
      await current.exited;
    }
    await smtp.close();
    rmSync(dir, { recursive: true, force: true });
  });

  current = await serve(env);
  const first = current;
  const tenant = await api(first.base, admin, 'POST', '/v1/tenants', { name: 'Crash Co', companyEmail: 'hello@crash.test', fromName: 'Crash Co' });
  assert.equal(tenant.status, 201, tenant.text);
  const key: string = tenant.body.apiKey;

  // kill at the 300th accepted message, from inside the server's own event: nothing else runs in between
  let openAtKill = -1;
  let acceptedAtKill = -1;
  const killed = new Promise<void>((done) => {
    const onAccepted = () => {
      if (smtp.stats.messagesAccepted < KILL_AFTER) return;
      smtp.events.off('accepted', onAccepted);
      openAtKill = smtp.stats.openConnections;
      acceptedAtKill = smtp.stats.messagesAccepted;
      first.child.kill('SIGKILL');
      done();
    };
    smtp.events.on('accepted', onAccepted);
  });

  // enqueue as fast as a bounded-concurrency client can; requests cut by the kill are retried
  // after the restart with the same Idempotency-Key, which is what the key is for
  const ids = new Map<number, string>();
  const pending: number[] = [];
  const enqueue = async (base: string, i: number) =>
    api(base, key, 'POST', '/v1/messages', { to: `rcpt${i % 10}@example.test`, subject: `crash ${i}`, text: `message ${i} of the crash test\n` }, { 'idempotency-key': `crash-${i}` });
  let next = 0;
  await Promise.all(
    Array.from({ length: ENQUEUE_CONCURRENCY }, async () => {
      while (next < TOTAL) {
        const i = next++;
        if (first.child.exitCode !== null || first.child.signalCode !== null) {
          pending.push(i);
          continue;
        }
        try {
          const res = await enqueue(first.base, i);
          assert.equal(res.status, 202, res.text);
          assert.equal(res.body.status, 'queued');
          ids.set(i, res.body.id);
        } catch (err) {
          if (err instanceof assert.AssertionError) throw err;
          pending.push(i); // the connection died with the process
        }
      }
    }),
  );
  await Promise.race([
    killed,
    new Promise((_, fail) => setTimeout(() => fail(new Error(`the relay accepted only ${smtp.stats.messagesAccepted} messages within 60 s:\n${first.output()}`)), 60_000).unref()),
  ]);
  const exitCode = await first.exited;
  assert.equal(first.child.signalCode, 'SIGKILL', `the first process died by SIGKILL (exit ${exitCode})`);
  t.diagnostic(`killed after ${acceptedAtKill} accepted messages; ${ids.size} enqueued before the kill, ${pending.length} requests to retry; SMTP connections open at the kill: ${openAtKill}`);

  // The dead process's claims hold for the worker's visibility timeout (minutes) before another
  // worker may take them over. Rather than wait that long, the test moves those leases into the past
  // while no process runs: exactly what the clock would have done.
  const db = new Database(join(dir, 'mailport.db'));
  const leased = db.prepare(`UPDATE outbox SET locked_until = '1970-01-01T00:00:00.000Z' WHERE status = 'sending'`).run().changes;
  db.close();
  t.diagnostic(`${leased} claims of the killed process expired by moving their lease into the past`);

  current = await serve(env);
  const second = current;
  for (const i of pending) {
    const res = await enqueue(second.base, i);
    assert.equal(res.status, 202, res.text);
    ids.set(i, res.body.id);
  }
  assert.equal(ids.size, TOTAL);
  assert.equal(new Set(ids.values()).size, TOTAL, 'one outbox entry per message');

  // bounded wait: every entry sent (leases of the dead process must expire and be taken over)
  const deadline = Date.now() + 150_000;
  let unsent = -1;
  for (;;) {
    const open = (await Promise.all(['queued', 'sending', 'deferred', 'failed'].map((s) => outbox(second.base, key, s)))).flat();
    unsent = open.length;
    assert.equal(open.filter((m) => m.status === 'failed').length, 0, `no message failed: ${JSON.stringify(open.find((m) => m.status === 'failed'))}`);
    if (unsent === 0) break;
    if (Date.now() > deadline) assert.fail(`${unsent} messages still not sent 150 s after the restart (relay accepted ${smtp.stats.messagesAccepted})`);
    await new Promise((r) => setTimeout(r, 250));
  }

  const all = await outbox(second.base, key);
  assert.equal(all.length, TOTAL);
  const entries = await Promise.all([...ids.values()].slice(0, 5).map((id) => api(second.base, key, 'GET', `/v1/outbox/${id}`)));
  for (const e of entries) {
    assert.equal(e.status, 200, e.text);
    assert.equal(e.body.status, 'sent');
    assert.ok(e.body.sentAt && e.body.messageId, e.text);
  }

  // count at the server: every message at least once, by Message-ID and by subject
  const missing = all.filter((m) => m.status !== 'sent' || !m.messageId || !smtp.messageIds.get(bare(m.messageId)));
  assert.deepEqual(missing.map((m) => m.id), [], 'every accepted message reached the relay');
  const subjects = new Map<string, number>();
  for (const m of smtp.messages) if (m.subject) subjects.set(m.subject, (subjects.get(m.subject) ?? 0) + 1);
  for (let i = 0; i < TOTAL; i++) assert.ok(subjects.get(`crash ${i}`), `crash ${i} was delivered`);
  const duplicates = smtp.duplicates();
  const bySubject = [...subjects.values()].reduce((n, c) => n + c - 1, 0);
  t.diagnostic(`relay accepted ${smtp.stats.messagesAccepted} messages for ${TOTAL}; duplicates ${duplicates} (by subject ${bySubject}); connections open at the kill ${openAtKill}; connections in all ${smtp.stats.connections}`);
  assert.equal(bySubject, duplicates, 'a copy is a resend of the same Message-ID');
  assert.ok(duplicates <= openAtKill, `duplicates (${duplicates}) ≤ connections open at the kill (${openAtKill})`);

  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0, 'the second process stops cleanly');
});
