import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { DIALECTS } from '../../test/helpers/databases.js';
import { T0, twoConnections } from '../../test/helpers/stores.js';
import type { OutboxRow } from './index.js';

const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();

let seq = 0;
function job(over: Partial<OutboxRow> = {}): OutboxRow {
  const id = `msg_stats_${String(++seq).padStart(6, '0')}`;
  return {
    id, tenant_id: 'ten_a', account_id: 'acc_1', status: 'queued', idempotency_key: null, request_hash: 'h1', raw: Buffer.from('x'),
    sender_resolved: 1, envelope_from: 'a@example.test', recipients: '["b@example.test"]', recipient_count: 1, message_id: `<${id}@example.test>`,
    subject: 'Hi', attempts: 0, next_attempt_at: T0, send_at: null, locked_by: null, locked_until: null, last_error: null, response: null,
    accepted: null, rejected: null, sent_at: null, sent_copy: null, sent_copy_attempts: 0, sent_copy_next_at: null, via: null, retry_of: null, age_from: null, created_at: T0, updated_at: T0,
    ...over,
  };
}

// The metrics' view of the outbox on every dialect: what is counted, and that it is read from the index.
for (const { dialect, make } of DIALECTS) {
  describe(`outbox stats on ${dialect}`, () => {
    const db = twoConnections(make);

    test('an empty outbox: every active status at 0, nothing due', async () => {
      assert.deepEqual(await db.repo.outboxStats.snapshot(at(0)), { depth: { queued: 0, deferred: 0, sending: 0 }, oldestDueAt: null });
    });

    test('counts active statuses only, and finds the oldest due among queued and deferred', async () => {
      const rows = [
        job({ status: 'queued', next_attempt_at: at(-30) }),
        job({ status: 'queued', next_attempt_at: at(-10) }),
        job({ status: 'queued', next_attempt_at: at(600) }), // sendAt in the future: queued, not due
        job({ status: 'deferred', next_attempt_at: at(-90) }),
        job({ status: 'deferred', next_attempt_at: at(300) }),
        job({ status: 'sending', next_attempt_at: at(-500), locked_by: 'w:1', locked_until: at(60) }),
        job({ status: 'sent', next_attempt_at: at(-1000) }),
        job({ status: 'failed', next_attempt_at: at(-2000) }),
      ];
      for (const r of rows) await db.repo.outbox.insert(r);
      const s = await db.repo2.outboxStats.snapshot(at(0));
      assert.deepEqual(s.depth, { queued: 3, deferred: 2, sending: 1 });
      assert.equal(s.oldestDueAt, at(-90), 'the deferred job due 90 s ago; sent, failed and sending rows do not count');
      const later = await db.repo.outboxStats.snapshot(at(-60));
      assert.equal(later.oldestDueAt, at(-90));
      const early = await db.repo.outboxStats.snapshot(at(-100));
      assert.equal(early.oldestDueAt, null, 'nothing was due yet');
    });

    test('each statement is answered from the outbox_due index', async () => {
      const q = db.repo.outboxStats.queries(at(0));
      for (const query of [q.depth, ...q.firstDue]) {
        const c = query.compile();
        if (dialect === 'sqlite') {
          const plan = await db.store.db.executeQuery<{ detail: string }>({ ...c, sql: `EXPLAIN QUERY PLAN ${c.sql}` });
          const text = plan.rows.map((r) => r.detail).join('\n');
          assert.match(text, /USING (COVERING )?INDEX outbox_due/, `${c.sql}\n${text}`);
        } else {
          // a tiny table is cheaper to scan, so the planner is asked to avoid that: the index must serve
          const plan = await db.store.db.transaction().execute(async (tx) => {
            await sql`SET LOCAL enable_seqscan = off`.execute(tx);
            return tx.executeQuery<{ 'QUERY PLAN': string }>({ ...c, sql: `EXPLAIN ${c.sql}` });
          });
          const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
          assert.match(text, /(Index( Only)? Scan using|Bitmap Index Scan on) outbox_due/, `${c.sql}\n${text}`);
        }
      }
    });
  });
}
