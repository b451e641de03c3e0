import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../../test/helpers/databases.js';
import { T0, twoConnections } from '../../test/helpers/stores.js';
import { type Repositories, type WebhookRow, type WebhookEventRow } from './index.js';

const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();

function hook(id: string, tenantId: string, events: string[]): WebhookRow {
  return { id, tenant_id: tenantId, url: `https://hooks.example.test/${id}`, events: JSON.stringify(events), secret_enc: 'v1.kid.iv.tag.ct', created_at: T0, updated_at: T0 };
}

function event(id: string, tenantId: string, type: string, createdAt = T0): WebhookEventRow {
  return { id, tenant_id: tenantId, type, payload: JSON.stringify({ id, type, createdAt, tenantId, data: {} }), created_at: createdAt };
}

let seq = 0;
const nextId = (prefix: string) => () => `${prefix}_${String(++seq).padStart(6, '0')}`;

// The webhooks repository on every dialect: SQLite (one process) and PostgreSQL (several nodes claim together).
for (const { dialect, make } of DIALECTS) {
  describe(`webhooks repository on ${dialect}`, () => {
    const db = twoConnections(make);
    let repo: Repositories;
    let repo2: Repositories;
    before(async () => {
      repo = db.repo;
      repo2 = db.repo2;
    });

    test('subscriptions are scoped by tenant', async () => {
      await repo.webhooks.insert(hook('whk_1', 'ten_a', ['account.error']));
      await repo.webhooks.insert(hook('whk_2', 'ten_a', ['*']));
      await repo.webhooks.insert(hook('whk_3', 'ten_b', ['account.error', 'account.active']));
      assert.deepEqual((await repo.webhooks.list('ten_a')).map((h) => h.id), ['whk_1', 'whk_2']);
      assert.equal(await repo.webhooks.get('ten_b', 'whk_1'), undefined);
      assert.equal((await repo.webhooks.get('ten_a', 'whk_1'))?.secret_enc, 'v1.kid.iv.tag.ct');
      assert.equal(await repo.webhooks.delete('ten_b', 'whk_1'), false, "another tenant's id is not deleted");
    });

    test('an event gets one delivery per matching subscription of its own tenant', async () => {
      const ids = await repo.webhooks.insertEvent(event('evt_1', 'ten_a', 'account.error'), nextId('dlv_m'));
      assert.equal(ids.length, 2, 'whk_1 (account.error) and whk_2 (*), not ten_b');
      const rows = await Promise.all(ids.map((id) => repo.webhooks.getDelivery(id)));
      assert.deepEqual(rows.map((r) => r?.webhook_id).sort(), ['whk_1', 'whk_2']);
      assert.ok(rows.every((r) => r?.status === 'pending' && r.attempts === 0 && r.next_attempt_at === T0));

      const onlyStar = await repo.webhooks.insertEvent(event('evt_2', 'ten_a', 'message.sent'), nextId('dlv_m'));
      assert.equal(onlyStar.length, 1);

      assert.equal(await repo.webhooks.wanted('ten_a', 'message.sent'), true, 'whk_2 (*)');
      assert.equal(await repo.webhooks.wanted('ten_a', 'account.error'), true);
      assert.equal(await repo.webhooks.wanted('ten_b', 'message.sent'), false, 'nobody wants it');
      assert.deepEqual(await repo.webhooks.insertEvent(event('evt_3', 'ten_b', 'message.sent'), nextId('dlv_m')), [], 'nobody wants it');
      const stored = await db.store.db.selectFrom('webhook_events').select('id').where('id', '=', 'evt_3').executeTakeFirst();
      assert.equal(stored, undefined, 'an event nobody subscribes to is not kept');
    });

    test('an event and its deliveries are written together or not at all', async () => {
      // the same delivery id twice: the second insert fails, and the event must go with it
      await assert.rejects(repo.webhooks.insertEvent(event('evt_dup', 'ten_a', 'account.error'), () => 'dlv_same'));
      const stored = await db.store.db.selectFrom('webhook_events').select('id').where('id', '=', 'evt_dup').executeTakeFirst();
      assert.equal(stored, undefined);
    });

    test('within a transaction of its caller, an event that cannot be stored is undone alone and the transaction goes on', async () => {
      let built = 0;
      const build = (id: string) => () => (built++, event(id, 'ten_a', 'account.error'));
      await db.store.db.transaction().execute(async (tx) => {
        await tx.insertInto('webhooks').values(hook('whk_tx', 'ten_b', ['account.active'])).execute();
        await assert.rejects(repo.webhooks.insertEventIn(tx, 'ten_a', 'account.error', build('evt_tx_dup'), () => 'dlv_same_tx'));
        // the transaction is still usable (PostgreSQL aborts one on a failed statement unless a savepoint is rolled back)
        assert.equal((await repo.webhooks.insertEventIn(tx, 'ten_a', 'account.error', build('evt_tx_ok'), nextId('dlv_tx'))).length, 2);
        assert.deepEqual(await repo.webhooks.insertEventIn(tx, 'ten_b', 'message.sent', build('evt_tx_none'), nextId('dlv_tx')), [], 'nobody wants it');
      });
      assert.equal(built, 2, 'a row is built only for an event somebody wants');
      const events = (await db.store.db.selectFrom('webhook_events').select('id').where('id', 'like', 'evt_tx%').execute()).map((e) => e.id);
      assert.deepEqual(events, ['evt_tx_ok']);
      assert.ok(await repo.webhooks.get('ten_b', 'whk_tx'), 'the rest of the transaction committed');
      await repo.webhooks.delete('ten_b', 'whk_tx');
    });

    test('claiming takes due pending rows once, and counts the attempt', async () => {
      await db.store.db.deleteFrom('webhook_deliveries').execute();
      const now = at(60);
      const due = await repo.webhooks.insertEvent(event('evt_c1', 'ten_a', 'account.error'), nextId('dlv_c'));
      const later = await repo.webhooks.insertEvent(event('evt_c2', 'ten_b', 'account.error', at(3600)), nextId('dlv_c'));
      assert.equal(later.length, 1);
      const claimed = await repo.webhooks.claimDue(now, 10);
      assert.deepEqual(claimed.map((c) => c.id).sort(), [...due].sort(), 'only the due ones');
      const c = claimed.find((x) => x.webhook_id === 'whk_1')!;
      assert.equal(c.attempts, 1);
      assert.equal(c.event_type, 'account.error');
      assert.equal(c.tenant_id, 'ten_a');
      assert.equal(c.url, 'https://hooks.example.test/whk_1');
      assert.equal(JSON.parse(c.payload).id, 'evt_c1');
      assert.equal((await repo.webhooks.getDelivery(c.id))?.status, 'delivering');
      assert.deepEqual(await repo.webhooks.claimDue(now, 10), [], 'a claimed row is not claimed again');
    });

    test('two processes claiming at once never take the same delivery', async () => {
      await db.store.db.deleteFrom('webhook_deliveries').execute();
      const all: string[] = [];
      for (let i = 0; i < 15; i++) all.push(...(await repo.webhooks.insertEvent(event(`evt_p${i}`, 'ten_a', 'account.error'), nextId('dlv_p'))));
      const other = db.repo2;
      const rounds = await Promise.all([
        repo.webhooks.claimDue(at(60), 7), other.webhooks.claimDue(at(60), 7), repo.webhooks.claimDue(at(60), 7), other.webhooks.claimDue(at(60), 7), repo.webhooks.claimDue(at(60), 7),
      ]);
      const taken = rounds.flat().map((c) => c.id);
      assert.equal(new Set(taken).size, taken.length, 'no delivery claimed twice');
      assert.deepEqual([...taken].sort(), [...all].sort(), 'and all 30 were taken');
    });

    test('recording an attempt needs the claim to still hold', async () => {
      await db.store.db.deleteFrom('webhook_deliveries').execute();
      const [id] = await repo.webhooks.insertEvent(event('evt_r', 'ten_b', 'account.active'), nextId('dlv_r'));
      const [claim] = await repo.webhooks.claimDue(at(1), 1);
      assert.equal(claim!.id, id);
      const attempt = { id: 'att_r1', delivery_id: id!, number: 1, at: at(1), duration_ms: 12, status_code: 500, error: '{"code":"PROTOCOL_ERROR","message":"500"}', response: 'oops' };
      const retry = { status: 'pending' as const, next_attempt_at: at(11), last_status_code: 500, last_error: attempt.error, response: 'oops' };
      assert.equal(await repo.webhooks.recordAttempt({ id: id!, attempts: 7 }, { ...attempt, id: 'att_stale' }, retry, at(2)), 'taken_over', 'a stale claim does not overwrite');
      assert.equal(await repo.webhooks.recordAttempt(claim!, attempt, retry, at(2)), 'recorded');
      const row = await repo.webhooks.getDelivery(id!);
      assert.equal(row?.status, 'pending');
      assert.equal(row?.next_attempt_at, at(11));
      assert.equal(row?.last_status_code, 500);
      assert.deepEqual(await repo.webhooks.claimDue(at(10), 5), [], 'not due before its backoff');
      const [again] = await repo.webhooks.claimDue(at(11), 5);
      assert.equal(again?.attempts, 2);
      await repo.webhooks.recordAttempt(again!, { ...attempt, id: 'att_r2', number: 2, status_code: 204, error: null, response: '' },
        { status: 'delivered', last_status_code: 204, last_error: null, response: '', delivered_at: at(12) }, at(12));
      const [listed] = await repo.webhooks.listDeliveries('whk_3', { limit: 10 });
      assert.equal(listed?.status, 'delivered');
      assert.equal(listed?.delivered_at, at(12));
      assert.equal(listed?.event_type, 'account.active');
      assert.deepEqual(listed?.log.map((a) => [a.number, a.status_code]), [[1, 500], [1, 500], [2, 204]], 'every attempt is logged, even the stale one');
    });

    test('a delivery left in flight by a dead process is taken back after the visibility timeout', async () => {
      await db.store.db.deleteFrom('webhook_deliveries').execute();
      const [id] = await repo.webhooks.insertEvent(event('evt_s', 'ten_b', 'account.error'), nextId('dlv_s'));
      await repo.webhooks.claimDue(at(5), 1);
      const interrupted = { error: '{"code":"UNAVAILABLE","message":"interrupted"}', newAttemptId: nextId('att_s') };
      assert.equal(await repo.webhooks.recoverStale(at(5), at(6), interrupted), 0, 'not stale yet');
      assert.equal(await repo.webhooks.recoverStale(at(100), at(100), interrupted), 1);
      const row = await repo.webhooks.getDelivery(id!);
      assert.equal(row?.status, 'pending');
      assert.equal(row?.next_attempt_at, at(100));
      const [again] = await repo.webhooks.claimDue(at(100), 1);
      assert.equal(again?.attempts, 2, 'the lost attempt still counts');
      const [listed] = await repo.webhooks.listDeliveries('whk_3', { limit: 1 });
      assert.equal(listed?.log.length, 1);
      assert.equal(listed?.log[0]?.error, interrupted.error);
    });

    test('the delivery log pages newest first and filters by status', async () => {
      await db.store.db.deleteFrom('webhook_deliveries').execute();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(...(await repo.webhooks.insertEvent(event(`evt_l${i}`, 'ten_b', 'account.error'), nextId('dlv_l'))));
      const first = await repo.webhooks.listDeliveries('whk_3', { limit: 2 });
      assert.deepEqual(first.map((r) => r.id), [ids[4], ids[3]]);
      const next = await repo.webhooks.listDeliveries('whk_3', { limit: 2, before: first[1]!.id });
      assert.deepEqual(next.map((r) => r.id), [ids[2], ids[1]]);
      assert.equal((await repo.webhooks.listDeliveries('whk_3', { limit: 10, status: 'delivered' })).length, 0);
      assert.equal((await repo.webhooks.listDeliveries('whk_3', { limit: 10, status: 'pending' })).length, 5);
    });

    test('deleting a subscription deletes its deliveries and their log', async () => {
      const [claim] = await repo.webhooks.claimDue(at(200), 1);
      assert.ok(claim, 'one delivery in flight while its subscription goes');
      assert.equal(await repo.webhooks.delete('ten_b', 'whk_3'), true);
      const left = await db.store.db.selectFrom('webhook_deliveries').select('id').where('webhook_id', '=', 'whk_3').execute();
      assert.deepEqual(left, []);
      assert.equal(await repo.webhooks.get('ten_b', 'whk_3'), undefined);
      const late = await repo.webhooks.recordAttempt(claim!, { id: 'att_late', delivery_id: claim!.id, number: 1, at: at(200), duration_ms: 5, status_code: 200, error: null, response: null },
        { status: 'delivered', last_status_code: 200, last_error: null, response: null, delivered_at: at(201) }, at(201));
      assert.equal(late, 'gone', 'the outcome of a delivery deleted in flight is dropped quietly');
    });
  });
}
