import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Migrator, sql, type Migration } from 'kysely';
import { DIALECTS, type TestDatabase } from '../../test/helpers/databases.js';
import { T0, twoConnections } from '../../test/helpers/stores.js';
import { openStore, repositories, type Repositories, type OutboxRow, type Store } from './index.js';
import { MIGRATIONS } from './migrations.js';

const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();

let seq = 0;
function job(over: Partial<OutboxRow> = {}): OutboxRow {
  const id = `msg_${String(++seq).padStart(6, '0')}`;
  return {
    id, tenant_id: 'ten_a', account_id: 'acc_1', status: 'queued', idempotency_key: null, request_hash: 'h1',
    // every byte value, so a text round trip would show
    raw: Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
    sender_resolved: 1, envelope_from: 'a@example.test', recipients: '["b@example.test"]', recipient_count: 1, message_id: `<${id}@example.test>`,
    subject: 'Hi', attempts: 0, next_attempt_at: T0, send_at: null, locked_by: null, locked_until: null, last_error: null, response: null,
    accepted: null, rejected: null, sent_at: null, sent_copy: null, sent_copy_attempts: 0, sent_copy_next_at: null, via: null, retry_of: null, age_from: null, created_at: T0, updated_at: T0,
    ...over,
  };
}

// The outbox repository on every dialect: SQLite (one process) and PostgreSQL (several workers claim together).
for (const { dialect, make } of DIALECTS) {
  describe(`outbox repository on ${dialect}`, () => {
    const db = twoConnections(make);
    let repo: Repositories;
    let repo2: Repositories;
    before(async () => {
      repo = db.repo;
      repo2 = db.repo2;
    });

    test('stores the message bytes exactly and hides them from views', async () => {
      const row = job();
      const { created } = await repo.outbox.insert(row);
      assert.equal(created, true);
      const full = await repo.outbox.getFull(row.id);
      assert.ok(Buffer.isBuffer(full!.raw));
      assert.ok(full!.raw.equals(row.raw));
      const view = await repo.outbox.get('ten_a', row.id);
      assert.equal((view as Record<string, unknown>).raw, undefined);
      assert.equal(await repo.outbox.get('ten_b', row.id), undefined, 'another tenant sees nothing');
    });

    test('an idempotency key is unique per tenant: the second insert (also a racing one) returns the first', async () => {
      const a = job({ idempotency_key: 'k1', request_hash: 'one' });
      const b = job({ idempotency_key: 'k1', request_hash: 'two' });
      // PostgreSQL: two connections race for real. SQLite: one connection per process (a second one in
      // the same thread would wait synchronously on the first one's open transaction), so the race is
      // two calls at once on it, which its single writer serializes.
      const other2 = dialect === 'postgres' ? repo2 : repo;
      const [ra, rb] = await Promise.all([repo.outbox.insert(a), other2.outbox.insert(b)]);
      assert.equal([ra.created, rb.created].filter(Boolean).length, 1);
      assert.equal(ra.row.id, rb.row.id);
      const other = await repo.outbox.insert(job({ tenant_id: 'ten_b', idempotency_key: 'k1' }));
      assert.equal(other.created, true, 'the same key in another tenant is another message');
    });

    test('a batch is stored in one go: one result per row in order, a key repeated within the batch is the first row', async () => {
      const rows = [job({ idempotency_key: 'b1' }), job(), job({ idempotency_key: 'b1', request_hash: 'other' }), job({ idempotency_key: 'b2' })];
      const results = await repo.outbox.insertMany(rows);
      assert.equal(results.length, 4);
      const values = results.map((r) => (r.status === 'fulfilled' ? r.value : assert.fail(String(r.reason))));
      assert.deepEqual(values.map((v) => v.created), [true, true, false, true]);
      assert.equal(values[2]!.row.id, rows[0]!.id, 'the repeated key answers with the row that has it');
      for (const r of [rows[0]!, rows[1]!, rows[3]!]) assert.ok((await repo.outbox.getFull(r.id))!.raw!.equals(r.raw));
      assert.equal(await repo.outbox.getFull(rows[2]!.id), undefined, 'nothing of the refused row is kept');
    });

    test('a row that cannot be stored fails alone; the rest of its batch is stored', async () => {
      const good = job();
      const bad = job({ tenant_id: 'ten_missing' }); // no such tenant: the foreign key refuses it
      const later = job();
      const [a, b, c] = await repo.outbox.insertMany([good, bad, later]);
      assert.equal(a!.status, 'fulfilled');
      assert.equal(b!.status, 'rejected');
      assert.equal(c!.status, 'fulfilled');
      assert.ok(await repo.outbox.getFull(good.id));
      assert.ok(await repo.outbox.getFull(later.id));
      await assert.rejects(repo.outbox.insert(job({ tenant_id: 'ten_missing' })), 'insert() throws what insertMany reports');
    });

    test('the message bytes go with their job', async () => {
      const row = job();
      await repo.outbox.insert(row);
      await db.store.db.deleteFrom('outbox').where('id', '=', row.id).execute();
      const left = await db.store.db.selectFrom('outbox_bodies').select('id').where('id', '=', row.id).execute();
      assert.deepEqual(left, []);
    });

    test('lists by status and account, paging by id', async () => {
      await repo.outbox.insert(job({ account_id: 'acc_list', status: 'failed' }));
      await repo.outbox.insert(job({ account_id: 'acc_list', status: 'sent' }));
      await repo.outbox.insert(job({ account_id: 'acc_list', status: 'sent' }));
      const sent = await repo.outbox.list('ten_a', { accountId: 'acc_list', status: 'sent', limit: 10 });
      assert.equal(sent.length, 2);
      const first = await repo.outbox.list('ten_a', { accountId: 'acc_list', limit: 1 });
      const rest = await repo.outbox.list('ten_a', { accountId: 'acc_list', after: first[0]!.id, limit: 10 });
      assert.equal(rest.length, 2);
      assert.ok(rest.every((r) => r.id > first[0]!.id));
    });

    test('two workers claiming at once never get the same job; only due jobs are claimed', async () => {
      await db.store.db.deleteFrom('outbox').execute();
      for (let i = 0; i < 20; i++) await repo.outbox.insert(job({ next_attempt_at: at(i % 2 === 0 ? 0 : 3600), status: i % 4 === 1 ? 'deferred' : 'queued' }));
      await repo.outbox.insert(job({ status: 'sent' }));
      const [a, b] = await Promise.all([repo.outbox.claimDue(at(10), 8, 'A', at(70)), repo2.outbox.claimDue(at(10), 8, 'B', at(70))]);
      const ids = [...a, ...b].map((r) => r.id);
      assert.equal(new Set(ids).size, ids.length, 'no job claimed twice');
      assert.equal(ids.length, 10, 'every due job, none of the later ones');
      assert.ok(a.every((r) => r.status === 'sending' && r.locked_by === 'A' && Buffer.isBuffer(r.raw)));
      assert.deepEqual(await repo.outbox.claimDue(at(10), 8, 'C', at(70)), []);
    });

    test('a claim takes the earliest due jobs first, over queued, deferred and expired claims alike, at most the limit', async () => {
      await db.store.db.deleteFrom('outbox').execute();
      const expired = job({ status: 'sending', next_attempt_at: at(3), locked_by: 'X', locked_until: at(9) });
      const held = job({ status: 'sending', next_attempt_at: at(0), locked_by: 'Y', locked_until: at(600) });
      const deferred = job({ status: 'deferred', next_attempt_at: at(1) });
      const first = job({ next_attempt_at: at(0) });
      const later = job({ next_attempt_at: at(5) });
      const notYet = job({ status: 'deferred', next_attempt_at: at(3600) });
      for (const r of [later, expired, held, deferred, notYet, first]) await repo.outbox.insert(r);
      const claimed = await repo.outbox.claimDue(at(10), 3, 'A', at(70));
      assert.deepEqual(claimed.map((r) => r.id).sort(), [first.id, deferred.id, expired.id].sort(), 'the three earliest due, whatever their status');
      assert.ok(claimed.every((r) => r.status === 'sending' && r.locked_by === 'A' && r.locked_until === at(70)));
      assert.deepEqual((await repo.outbox.claimDue(at(10), 10, 'B', at(70))).map((r) => r.id), [later.id], 'then the rest that is due; a fresh claim stays held');
    });

    test('an outcome is written only by the claim that holds the job; an expired claim is taken over', async () => {
      await db.store.db.deleteFrom('outbox').execute();
      const row = job();
      await repo.outbox.insert(row);
      const [claimed] = await repo.outbox.claimDue(at(0), 1, 'A', at(60));
      assert.equal(claimed!.id, row.id);
      assert.deepEqual(await repo.outbox.claimDue(at(30), 1, 'B', at(90)), [], 'held while the claim is fresh');
      const [taken] = await repo2.outbox.claimDue(at(61), 1, 'B', at(120));
      assert.equal(taken!.id, row.id, 'taken over after the visibility timeout');
      assert.equal(await repo.outbox.finish(row.id, 'A', { status: 'sent', updated_at: at(62) }), false, 'the old claim cannot write');
      assert.equal(await repo2.outbox.finish(row.id, 'B', { status: 'deferred', attempts: 1, next_attempt_at: at(300), updated_at: at(62) }), true);
      const after = await repo.outbox.get('ten_a', row.id);
      assert.equal(after!.status, 'deferred');
      assert.equal(after!.locked_by, null);
      assert.equal(after!.attempts, 1);
    });

    test('renewing claims extends the rows still sending under the given tokens only, which then stay held', async () => {
      await db.store.db.deleteFrom('outbox').execute();
      const a1 = job({ status: 'sending', locked_by: 'A', locked_until: at(60) });
      const a2 = job({ status: 'sending', locked_by: 'A', locked_until: at(60) });
      const c = job({ status: 'sending', locked_by: 'C', locked_until: at(60) });
      const other = job({ status: 'sending', locked_by: 'B', locked_until: at(60) });
      const copy = job({ status: 'sent', sent_copy: 'pending', sent_copy_next_at: at(60), locked_by: 'A' }); // a Sent-copy claim
      const done = job({ status: 'deferred', next_attempt_at: at(300) });
      for (const r of [a1, a2, c, other, copy, done]) await repo.outbox.insert(r);
      assert.equal(await repo.outbox.renewClaims([], at(120)), 0);
      assert.equal(await repo.outbox.renewClaims(['A', 'C', 'Z'], at(120)), 3);
      const until = async (id: string) => (await repo.outbox.get('ten_a', id))!.locked_until;
      assert.deepEqual(await Promise.all([a1, a2, c].map((r) => until(r.id))), [at(120), at(120), at(120)]);
      assert.equal(await until(other.id), at(60), "another token's claim is left alone");
      const kept = (await repo.outbox.get('ten_a', copy.id))!;
      assert.deepEqual([kept.status, kept.locked_until, kept.sent_copy_next_at], ['sent', null, at(60)], 'a row not sending is left alone');
      assert.equal(await until(done.id), null);
      // past the first expiry only the claim that was not renewed is taken over
      assert.deepEqual((await repo2.outbox.claimDue(at(90), 10, 'D', at(150))).map((r) => r.id), [other.id]);
      assert.equal(await repo.outbox.finish(a1.id, 'A', { status: 'sent', updated_at: at(91) }), true, 'the renewed claim still writes its outcome');

      if (dialect === 'postgres') {
        // a row another transaction holds (an outcome being written) is skipped, not waited for
        let release!: () => void;
        let held!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const locked = new Promise<void>((r) => (held = r));
        const tx = db.store.db.transaction().execute(async (trx) => {
          await trx.selectFrom('outbox').select('id').where('id', '=', a2.id).forUpdate().execute();
          held();
          await gate;
        });
        await locked;
        const renewed = await Promise.race([repo2.outbox.renewClaims(['A', 'C'], at(180)), new Promise((r) => setTimeout(r, 1_000, 'waited'))]);
        release();
        await tx;
        assert.equal(renewed, 1, 'renewed the free row without waiting for the held one');
        assert.deepEqual([await until(a2.id), await until(c.id)], [at(120), at(180)]);
      }
    });

    test('Sent copies are claimed once each and come due again when a worker dies', async () => {
      await db.store.db.deleteFrom('outbox').execute();
      const row = job({ status: 'sent', sent_copy: 'pending', sent_copy_next_at: at(0) });
      await repo.outbox.insert(row);
      const [a, b] = await Promise.all([repo.outbox.claimSentCopies(at(1), 5, 'A', at(61)), repo2.outbox.claimSentCopies(at(1), 5, 'B', at(61))]);
      assert.equal(a.length + b.length, 1);
      const holder = a.length ? 'A' : 'B';
      assert.deepEqual(await repo.outbox.claimSentCopies(at(30), 5, 'C', at(90)), []);
      const [again] = await repo.outbox.claimSentCopies(at(62), 5, 'D', at(122));
      assert.equal(again!.id, row.id, 'due again after the claim ran out');
      assert.equal(await repo.outbox.finishSentCopy(row.id, holder, { sent_copy: 'stored', updated_at: at(63) }), false);
      assert.equal(await repo.outbox.finishSentCopy(row.id, 'D', { sent_copy: 'stored', sent_copy_attempts: 1, updated_at: at(63) }), true);
      assert.equal((await repo.outbox.get('ten_a', row.id))!.sent_copy, 'stored');
    });

    test('renewing Sent-copy claims extends the copies still pending under that token only', async () => {
      await db.store.db.deleteFrom('outbox').execute();
      const [held, other, done] = [1, 2, 3].map((n) => job({ id: `msg_copy${n}`, status: 'sent', sent_copy: 'pending', sent_copy_next_at: at(0) }));
      for (const r of [held, other, done]) await repo.outbox.insert(r!);
      const claimed = await repo.outbox.claimSentCopies(at(1), 2, 'W:c1', at(61));
      assert.equal(claimed.length, 2);
      await repo.outbox.claimSentCopies(at(1), 5, 'V:c1', at(61)); // the third, under another token
      const mine = claimed.map((c) => c.id);
      assert.equal(await repo.outbox.finishSentCopy(mine[1]!, 'W:c1', { sent_copy: 'stored', sent_copy_next_at: null, updated_at: at(2) }), true);
      assert.equal(await repo.outbox.renewSentCopyClaims('W:c1', at(100)), 1, 'only the copy still pending under W:c1');
      const nextAt = async (id: string) => (await repo.outbox.get('ten_a', id))!.sent_copy_next_at;
      assert.equal(await nextAt(mine[0]!), at(100));
      assert.equal(await nextAt(mine[1]!), null, 'a finished copy is left alone');
      const third = [held, other, done].map((r) => r!.id).find((id) => !mine.includes(id))!;
      assert.equal(await nextAt(third), at(61), "another token's claim is left alone");
      assert.deepEqual(await repo.outbox.claimSentCopies(at(70), 5, 'X:c1', at(130)).then((rows) => rows.map((r) => r.id)), [third], 'the renewed copy stays held past its first expiry');
    });

    test('replaceRaw changes the bytes and the envelope sender of a held job only', async () => {
      await db.store.db.deleteFrom('outbox').execute();
      const row = job({ sender_resolved: 0 });
      await repo.outbox.insert(row);
      await repo.outbox.claimDue(at(0), 1, 'A', at(60));
      assert.equal(await repo.outbox.replaceRaw(row.id, 'X', Buffer.from('nope'), at(1), 'p@platform.test'), false);
      assert.equal(await repo.outbox.replaceRaw(row.id, 'A', Buffer.from('From: x\r\n\r\nhi'), at(1), 'p@platform.test'), true);
      const full = await repo.outbox.getFull(row.id);
      assert.equal(full!.raw!.toString(), 'From: x\r\n\r\nhi');
      assert.equal(full!.sender_resolved, 1);
      assert.equal(full!.envelope_from, 'p@platform.test');
    });

    test('a draft is stored as accepted, claimed with the job, and replaced by the bytes when the job is sent', async () => {
      await db.store.db.deleteFrom('outbox').execute();
      const { raw: _raw, ...summary } = job();
      const draft = JSON.stringify({ v: 1, subject: 'Grüße', text: 'x'.repeat(3000) });
      const { created } = await repo.outbox.insert({ ...summary, draft });
      assert.equal(created, true);
      const [claimed] = await repo.outbox.claimDue(at(0), 5, 'A', at(60));
      assert.equal(claimed!.raw, null);
      assert.equal(claimed!.draft, draft, 'the draft comes back exactly');
      const bytes = Buffer.from('Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n\r\nx');
      assert.equal(await repo.outbox.finishComposed(summary.id, 'X', { status: 'sent', updated_at: at(1) }, bytes), false, 'only the claim that holds the job');
      const unsent = await repo.outbox.getFull(summary.id);
      assert.equal(unsent!.draft, draft, 'a refused outcome changes nothing');
      assert.equal(unsent!.raw.length, 0, 'no bytes yet');
      assert.equal(await repo.outbox.finishComposed(summary.id, 'A', { status: 'sent', updated_at: at(1) }, bytes), true);
      const full = await repo.outbox.getFull(summary.id);
      assert.equal(full!.status, 'sent');
      assert.ok(full!.raw!.equals(bytes));
      assert.equal(full!.draft, null);
    });

    test('outcomes written together: one result each, only where the claim holds, bytes in place of the draft; a bad one fails alone', async () => {
      await db.store.db.deleteFrom('outbox').execute();
      const draft = JSON.stringify({ v: 1, subject: 's', text: 't' });
      const rows = [job(), job(), job(), job()].map(({ raw: _raw, ...summary }) => ({ ...summary, draft }));
      for (const r of rows) await repo.outbox.insert(r);
      const claimed = await repo.outbox.claimDue(at(0), 4, 'A', at(60));
      assert.equal(claimed.length, 4);
      const [a, b, c, d] = rows.map((r) => r.id) as [string, string, string, string];
      const bytes = Buffer.from('Subject: s\r\n\r\nt');
      const results = await repo.outbox.finishMany([
        { id: a, token: 'A', patch: { status: 'sent', via: 'own', updated_at: at(1) }, raw: bytes },
        { id: b, token: 'X', patch: { status: 'sent', updated_at: at(1) } },
        { id: c, token: 'A', patch: { status: 'deferred', attempts: 1, next_attempt_at: at(300), updated_at: at(1) } },
      ]);
      assert.deepEqual(results.map((r) => r.status === 'fulfilled' && r.value), [true, false, true], 'b is not held by X');
      const fullA = await repo.outbox.getFull(a);
      assert.equal(fullA!.status, 'sent');
      assert.ok(fullA!.raw.equals(bytes));
      assert.equal(fullA!.draft, null);
      assert.equal((await repo.outbox.getFull(b))!.status, 'sending');
      assert.equal((await repo.outbox.getFull(c))!.next_attempt_at, at(300));

      // a NOT NULL column set to null fails its own outcome only; the batch's others are written one by one
      const mixed = await repo.outbox.finishMany([
        { id: b, token: 'A', patch: { status: null as unknown as string, updated_at: at(2) } },
        { id: d, token: 'A', patch: { status: 'failed', updated_at: at(2) } },
      ]);
      assert.equal(mixed[0]!.status, 'rejected');
      assert.deepEqual(mixed[1], { status: 'fulfilled', value: true });
      assert.equal((await repo.outbox.get('ten_a', d))!.status, 'failed');
      assert.equal((await repo.outbox.get('ten_a', b))!.status, 'sending', 'the failed outcome changed nothing');
    });

    test('an outcome stores its follow-up in the same transaction, alone or in a batch, and none when the claim was lost', async () => {
      await db.store.db.deleteFrom('outbox').execute();
      const rows = [job({ recipients: '["a@x.test","b@x.test"]', recipient_count: 2 }), job(), job(), job()];
      for (const r of rows) await repo.outbox.insert(r);
      assert.equal((await repo.outbox.claimDue(at(0), 4, 'A', at(60))).length, 4);
      const [a, b, c, d] = rows as [OutboxRow, OutboxRow, OutboxRow, OutboxRow];
      const bytes = Buffer.from('Message-ID: <m@x.test>\r\n\r\nexactly these bytes \u00e9');
      const followUp = (of: OutboxRow, id: string, retryOf = of.id) =>
        job({ id, status: 'deferred', next_attempt_at: at(30), recipients: '["b@x.test"]', message_id: of.message_id, raw: bytes, retry_of: retryOf, created_at: of.created_at });
      const sent = (o: OutboxRow, token = 'A') => ({ id: o.id, token, patch: { status: 'sent', rejected: '[{"address":"b@x.test","response":"452 full","retryId":"x"}]', updated_at: at(1) } });

      // alone (its own transaction), then in a batch next to a lost claim and a plain outcome
      const [alone] = await repo.outbox.finishMany([{ ...sent(a), followUp: followUp(a, 'msg_fu_a') }]);
      assert.deepEqual(alone, { status: 'fulfilled', value: true });
      const batch = await repo.outbox.finishMany([
        { ...sent(b), followUp: followUp(b, 'msg_fu_b', 'msg_first') },
        { ...sent(c, 'X'), followUp: followUp(c, 'msg_fu_c') },
        sent(d),
      ]);
      assert.deepEqual(batch.map((r) => r.status === 'fulfilled' && r.value), [true, false, true], 'c is not held by X');

      const fa = await repo.outbox.getFull('msg_fu_a');
      assert.ok(fa, 'the follow-up is stored with the outcome');
      assert.deepEqual([fa.status, fa.retry_of, fa.recipients, fa.message_id, fa.next_attempt_at, fa.created_at], ['deferred', a.id, '["b@x.test"]', a.message_id, at(30), a.created_at]);
      assert.ok(fa.raw.equals(bytes), 'its bytes, exactly');
      assert.equal(fa.draft, null);
      assert.equal((await repo.outbox.get('ten_a', 'msg_fu_b'))!.retry_of, 'msg_first', 'a follow-up of a follow-up points to the first job');
      assert.equal(await repo.outbox.getFull('msg_fu_c'), undefined, 'a lost claim stores no follow-up');
      assert.equal((await repo.outbox.get('ten_a', c.id))!.status, 'sending', 'and writes no outcome');
      assert.equal((await repo.outbox.get('ten_a', d.id))!.retry_of, null, 'an ordinary job has none');

      // the follow-up is an ordinary job to claim: due at its time, with its bytes
      assert.deepEqual(await repo.outbox.claimDue(at(29), 5, 'B', at(90)), []);
      const due = await repo.outbox.claimDue(at(30), 5, 'B', at(90));
      assert.deepEqual(due.map((j) => j.id).sort(), ['msg_fu_a', 'msg_fu_b']);
      assert.ok(due.every((j) => j.raw!.equals(bytes) && j.draft === null && j.retry_of !== null));

      // a follow-up whose id is taken fails its outcome, which is not written without it
      const e = job();
      await repo.outbox.insert(e);
      await repo.outbox.claimDue(at(0), 1, 'A', at(60));
      const [taken] = await repo.outbox.finishMany([{ ...sent(e), followUp: followUp(e, 'msg_fu_a') }]);
      assert.equal(taken!.status, 'rejected');
      assert.equal((await repo.outbox.get('ten_a', e.id))!.status, 'sending', 'rolled back with it');
    });
  });
}

// 0011 moves the bytes of jobs stored before it into outbox_bodies.
for (const { dialect, make } of DIALECTS) {
  describe(`outbox bodies migration on ${dialect}`, () => {
    let tdb: TestDatabase;
    let store: Store;
    before(async () => {
      tdb = await make();
      store = openStore(tdb.url);
    });
    after(async () => {
      await store?.close();
      await tdb?.drop();
    });

    test('keeps the bytes of jobs already queued, byte for byte', async () => {
      const upTo = (last: string) => new Migrator({ db: store.db, provider: { getMigrations: async () => Object.fromEntries(Object.entries(MIGRATIONS).filter(([name]) => name <= last)) as Record<string, Migration> } });
      const before = await upTo('0010_sync').migrateToLatest();
      assert.equal(before.error, undefined);
      const raw = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await sql`insert into tenants (id, name, company_email, from_name, created_at, updated_at) values ('ten_m', 'M', 'm@example.test', null, ${T0}, ${T0})`.execute(store.db);
      await sql`insert into outbox (id, tenant_id, status, raw, envelope_from, recipients, recipient_count, message_id, subject, next_attempt_at, created_at, updated_at)
        values ('msg_old', 'ten_m', 'queued', ${raw}, 'm@example.test', '["x@example.test"]', 1, '<old@example.test>', 'Old', ${T0}, ${T0}, ${T0})`.execute(store.db);
      const after = await upTo('0011_outbox_bodies').migrateToLatest();
      assert.equal(after.error, undefined);
      assert.deepEqual(after.results?.map((r) => r.migrationName), ['0011_outbox_bodies']);
      const full = await repositories(store).outbox.getFull('msg_old');
      assert.ok(full!.raw!.equals(raw));
      assert.equal(full!.draft, null);
      assert.equal(full!.status, 'queued');
      const [claimed] = await repositories(store).outbox.claimDue(T0, 5, 'W', T0);
      assert.ok(claimed!.raw!.equals(raw), 'a claim brings the bytes along');
    });
  });
}
