import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, type TestDatabase } from '../../test/helpers/databases.js';
import { openStore, migrateToLatest, repositories, type Store, type Repositories } from '../store/index.js';
import { CorrespondenceService } from './correspondence.service.js';

const T0 = '2030-01-01T00:00:00.000Z';
const OWN = 'sales@acme.test';

function mail(o: { from: string; to: string; subject: string; id?: string; date?: string; inReplyTo?: string; references?: string; body?: string }): Buffer {
  return Buffer.from(
    [
      `From: ${o.from}`, `To: ${o.to}`, `Subject: ${o.subject}`, `Date: ${o.date ?? 'Tue, 1 Jan 2030 10:00:00 +0000'}`,
      ...(o.id ? [`Message-ID: ${o.id}`] : []), ...(o.inReplyTo ? [`In-Reply-To: ${o.inReplyTo}`] : []), ...(o.references ? [`References: ${o.references}`] : []),
      '', o.body ?? 'Hello', '',
    ].join('\r\n'),
  );
}

// The service over every dialect: what hostile mail carries (NUL characters) must store on PostgreSQL too.
for (const { dialect, make } of DIALECTS) {
  describe(`correspondence service on ${dialect}`, () => {
    let tdb: TestDatabase;
    let store: Store;
    let repos: Repositories;
    let service: CorrespondenceService;
    const events: Array<{ type: string; data: Record<string, unknown> }> = [];
    const ingest = (raw: Buffer, over: Partial<Parameters<CorrespondenceService['ingest']>[0]> = {}) => service.ingest({ tenantId: 'ten_a', accountId: 'acc_1', folder: 'INBOX', raw, ...over });

    before(async () => {
      tdb = await make();
      store = openStore(tdb.url);
      await migrateToLatest(store.db);
      repos = repositories(store);
      await repos.tenants.insert(
        { id: 'ten_a', name: 'A', company_email: 'a@acme.test', from_name: null, created_at: T0, updated_at: T0 },
        { id: 'key_a', tenant_id: 'ten_a', key_hash: 'hash_a', prefix: 'mp_x', created_at: T0, last_used_at: null },
      );
      await store.db
        .insertInto('accounts')
        .values({
          id: 'acc_1', tenant_id: 'ten_a', name: 'Sales', type: 'smtp_imap', preset: null, email: 'Sales@Acme.test', from_name: null, username: null, password_enc: null,
          smtp_host: null, smtp_port: null, smtp_security: null, imap_host: null, imap_port: null, imap_security: null, pop_host: null, pop_port: null, pop_security: null,
          receive_emails: 1, send_via: 'own', enabled: 1, status: 'active', last_error: null, warnings: '[]', limits: null, campaign_id: null,
          auth_failed_fingerprint: null, verified_at: null, created_at: T0, updated_at: T0,
        } as never)
        .execute();
      // events are recorded in the transaction that stores their message (checked here; the rollback of both: campaigns.test.ts)
      const recordIn = async (tx: { isTransaction: boolean }, _t: string, type: string, data: Record<string, unknown>) => {
        assert.ok(tx.isTransaction, 'recorded within a transaction');
        events.push({ type, data });
        return false;
      };
      service = new CorrespondenceService({ repos, events: { recordIn, recorded: () => {} }, now: () => new Date(T0) });
    });
    after(async () => {
      await store?.close();
      await tdb?.drop();
    });

    test('NUL characters in headers and text are stored (without the NULs) and the raw bytes keep them', async () => {
      const raw = Buffer.from('From: nul\u0000@evil.test\r\nSubject: a\u0000b\r\nMessage-ID: <n\u0000ul@evil.test>\r\n\r\ntext\u0000with nul\r\n');
      const r = await ingest(raw);
      assert.equal(r.created, true);
      const view = await service.get('ten_a', r.id);
      assert.equal(view.subject, 'ab');
      assert.ok(!view.text!.includes('\u0000'));
      assert.ok((await service.raw('ten_a', r.id)).equals(raw));
    });

    test('idempotent per place; one record per Message-ID; From the account address is out; events only for new inbound mail', async () => {
      const raw = mail({ from: 'bob@example.test', to: OWN, subject: 'Hello', id: '<h1@example.test>' });
      const first = await ingest(raw, { uid: 1, uidValidity: 3_000_000_000 });
      const again = await ingest(raw, { uid: 1, uidValidity: 3_000_000_000 });
      assert.deepEqual([first.created, again.created, again.id], [true, false, first.id]);
      const elsewhere = await ingest(raw, { folder: 'Archive', uid: 7, uidValidity: 1 });
      assert.deepEqual([elsewhere.created, elsewhere.id], [false, first.id]);
      assert.equal(events.filter((e) => e.type === 'message.received' && e.data.id === first.id).length, 1);

      const mine = await ingest(mail({ from: 'SALES@acme.test', to: 'bob@example.test', subject: 'Re: Hello', id: '<h2@acme.test>', inReplyTo: '<h1@example.test>' }));
      assert.equal(mine.direction, 'out');
      assert.equal(mine.threadId, first.threadId);
      assert.ok(!events.some((e) => e.data.id === mine.id));
      const page = await service.list('ten_a', { contact: 'bob@example.test' });
      assert.deepEqual(page.items.map((i) => i.id).sort(), [first.id, mine.id].sort());
      assert.equal((await service.list('ten_a', { contact: OWN })).items.length, 0, 'the account itself is not a contact');
    });

    test('a reply stored before its parent: the parent joins the reply\'s thread and folds a second one in', async () => {
      const reply = await ingest(mail({ from: 'carol@example.test', to: OWN, subject: 'Re: Plan', id: '<p2@example.test>', references: '<p1@example.test>' }));
      const other = await ingest(mail({ from: 'carol@example.test', to: OWN, subject: 'Re: Plan', id: '<p3@example.test>', references: '<p1@example.test>' }));
      const parent = await ingest(mail({ from: 'sales@acme.test', to: 'carol@example.test', subject: 'Plan', id: '<p1@example.test>' }));
      assert.equal(parent.threadId, reply.threadId);
      const thread = await service.list('ten_a', { threadId: parent.threadId });
      assert.deepEqual(thread.items.map((i) => i.id).sort(), [reply.id, other.id, parent.id].sort());
    });

    test('a batch in one go: a reply before its parent threads with it, a repeated Message-ID is one record, events in the batch\'s transaction, none for backlog', async () => {
      const item = (raw: Buffer, uid: number, backlog = false) => ({ input: { tenantId: 'ten_a', accountId: 'acc_1', folder: 'INBOX', raw, uid, uidValidity: 77, backlog } });
      const before = events.length;
      const results = await service.ingestMany([
        item(mail({ from: 'erin@example.test', to: OWN, subject: 'Re: Batch', id: '<b2@example.test>', references: '<b1@example.test>' }), 2),
        item(mail({ from: 'erin@example.test', to: OWN, subject: 'Batch', id: '<b1@example.test>' }), 1),
        item(mail({ from: 'erin@example.test', to: OWN, subject: 'Batch', id: '<b1@example.test>' }), 3),
        item(mail({ from: 'erin@example.test', to: OWN, subject: 'Old', id: '<b0@example.test>' }), 4, true),
      ]);
      assert.deepEqual(results.map((r) => r.created), [true, true, false, true]);
      assert.equal(results[1]!.threadId, results[0]!.threadId);
      assert.equal(results[2]!.id, results[1]!.id);
      assert.deepEqual(events.slice(before).map((e) => e.data.id), [results[0]!.id, results[1]!.id], 'message.received for new inbound mail, not for the backlog');
      const again = await service.ingestMany([item(mail({ from: 'x@example.test', to: OWN, subject: 'Other' }), 2), item(mail({ from: 'x@example.test', to: OWN, subject: 'Other' }), 9)]);
      assert.deepEqual([again[0]!.created, again[0]!.id], [false, results[0]!.id], 'a place already recorded is found without a parse');
      assert.equal(again[1]!.created, true);
      await assert.rejects(service.ingestMany([item(mail({ from: 'a@b.test', to: OWN, subject: 'x' }), 20), { input: { ...item(mail({ from: 'a@b.test', to: OWN, subject: 'y' }), 21).input, accountId: 'acc_2' } }]), /one account per call/);
    });

    test('a batch folds threads as it goes: two replies before their parent become one thread, and a later reply to a reply joins it', async () => {
      const item = (raw: Buffer, uid: number) => ({ input: { tenantId: 'ten_a', accountId: 'acc_1', folder: 'INBOX', raw, uid, uidValidity: 88 } });
      const [r1, r2, parent, late] = await service.ingestMany([
        item(mail({ from: 'gil@example.test', to: OWN, subject: 'Re: Fold', id: '<f2@example.test>', inReplyTo: '<f1@example.test>' }), 2),
        item(mail({ from: 'hal@example.test', to: OWN, subject: 'Re: Fold', id: '<f3@example.test>', references: '<f1@example.test>' }), 3),
        item(mail({ from: 'sales@acme.test', to: 'gil@example.test', subject: 'Fold', id: '<f1@example.test>' }), 1),
        item(mail({ from: 'ivy@example.test', to: OWN, subject: 'Re: Re: Fold', id: '<f4@example.test>', references: '<f9@example.test> <f3@example.test>' }), 4),
      ]);
      assert.notEqual(r1!.threadId, r2!.threadId, 'apart until the parent comes');
      assert.equal(late!.threadId, parent!.threadId);
      const thread = await service.list('ten_a', { threadId: parent!.threadId });
      assert.deepEqual(thread.items.map((i) => i.id).sort(), [r1!.id, r2!.id, parent!.id, late!.id].sort());
      // what is stored agrees with what the batch answered
      const stored = await Promise.all([r1, r2, parent, late].map((r) => service.get('ten_a', r!.id)));
      assert.ok(stored.every((m) => m.threadId === parent!.threadId));
    });

    test('in one batch a reply without references finds the earlier message by subject and contact', async () => {
      const item = (raw: Buffer, uid: number) => ({ input: { tenantId: 'ten_a', accountId: 'acc_1', folder: 'INBOX', raw, uid, uidValidity: 99 } });
      const [first, reply, stranger] = await service.ingestMany([
        item(mail({ from: 'jan@example.test', to: OWN, subject: 'Invoice 7', id: '<s1@example.test>', date: 'Tue, 1 Jan 2030 09:00:00 +0000' }), 1),
        item(mail({ from: 'jan@example.test', to: OWN, subject: 'RE: Invoice 7', id: '<s2@example.test>', date: 'Tue, 1 Jan 2030 11:00:00 +0000' }), 2),
        item(mail({ from: 'kay@example.test', to: OWN, subject: 'Re: Invoice 7', id: '<s3@example.test>', date: 'Tue, 1 Jan 2030 12:00:00 +0000' }), 3),
      ]);
      assert.equal(reply!.threadId, first!.threadId);
      assert.notEqual(stranger!.threadId, first!.threadId, 'no shared contact: a thread of its own');
      assert.equal((await service.get('ten_a', reply!.id)).threadId, first!.threadId);
    });

    test('a batch that meets a taken place rolls back and records one message at a time', async () => {
      // two messages claiming the same place: the second finds it taken inside the batch transaction
      const results = await service.ingestMany([
        { input: { tenantId: 'ten_a', accountId: 'acc_1', folder: 'INBOX', raw: mail({ from: 'fay@example.test', to: OWN, subject: 'First', id: '<c1@example.test>' }), uid: 500, uidValidity: 77 } },
        { input: { tenantId: 'ten_a', accountId: 'acc_1', folder: 'INBOX', raw: mail({ from: 'fay@example.test', to: OWN, subject: 'Second', id: '<c2@example.test>' }), uid: 500, uidValidity: 77 } },
      ]);
      assert.deepEqual(results.map((r) => r.created), [true, false]);
      assert.equal(results[1]!.id, results[0]!.id);
      assert.equal((await service.list('ten_a', { contact: 'fay@example.test' })).items.length, 1, 'nothing of the rolled-back batch is left twice');
    });

    test('recordSent: platform sends are not recorded; an account send is, with its Bcc as a contact, and Sent later adds nothing new', async () => {
      const raw = mail({ from: OWN, to: 'dan@example.test', subject: 'Offer', id: '<o1@acme.test>' });
      assert.equal(await service.recordSent({ id: 'msg_p', tenant_id: 'ten_a', account_id: null, raw, recipients: '[]' }), undefined);
      const r = await service.recordSent({ id: 'msg_1', tenant_id: 'ten_a', account_id: 'acc_1', raw, recipients: '["dan@example.test","boss@example.test"]' });
      assert.equal(r!.direction, 'out');
      assert.equal((await service.get('ten_a', r!.id)).outboxId, 'msg_1');
      assert.equal((await service.list('ten_a', { contact: 'boss@example.test' })).items.length, 1, 'Bcc is a contact');
      const seen = await ingest(raw, { folder: 'Sent Items', direction: 'out', uid: 5, uidValidity: 9 });
      assert.deepEqual([seen.created, seen.id], [false, r!.id]);
      assert.equal((await service.get('ten_a', r!.id)).folder, 'Sent Items');
    });

    test('recordSentIn: the record is written in the caller\'s transaction, and a record that fails is undone alone', async () => {
      const account = (await repos.accounts.get('ten_a', 'acc_1'))!;
      const parsedOf = async (raw: Buffer) => (await service.parseMany([raw]))[0]!;
      const records = async (outboxId: string) => (await store.db.selectFrom('mail_messages').select('id').where('outbox_id', '=', outboxId).execute()).length;
      const job = (id: string, subject: string) => {
        const raw = mail({ from: OWN, to: 'erin@example.test', subject, id: `<${id}@acme.test>`, inReplyTo: '<o1@acme.test>' });
        return { id, tenant_id: 'ten_a', account_id: 'acc_1', raw, recipients: '["erin@example.test","bcc@example.test"]' };
      };

      // the caller's transaction fails after the record: nothing of it is left
      const lost = job('msg_rolled_back', 'Re: Offer');
      const parsed = await parsedOf(lost.raw);
      await assert.rejects(
        store.db.transaction().execute(async (tx) => {
          assert.equal((await service.recordSentIn(tx, lost, parsed, account))!.created, true);
          throw new Error('the outcome could not be written (test)');
        }),
        /could not be written/,
      );
      assert.equal(await records('msg_rolled_back'), 0);

      // committed with it: threaded to the message it answers, its Bcc a contact
      const kept = job('msg_kept', 'Re: Offer');
      const r = await store.db.transaction().execute((tx) => service.recordSentIn(tx, kept, parsed, account));
      assert.equal(r!.direction, 'out');
      const detail = await service.get('ten_a', r!.id);
      assert.equal(detail.outboxId, 'msg_kept');
      const parent = (await service.list('ten_a', { contact: 'boss@example.test' })).items[0]!;
      assert.equal(r!.threadId, parent.threadId, 'In-Reply-To threads it');
      assert.equal((await service.list('ten_a', { contact: 'bcc@example.test' })).items.length, 1, 'Bcc is a contact');

      // a record whose writes fail (here: its rows written twice, a key taken) is rolled back to its
      // savepoint: the transaction goes on (PostgreSQL would refuse every statement after the error otherwise)
      const failing = job('msg_failing', 'Re: Offer again');
      const on = repos.correspondence.on.bind(repos.correspondence);
      repos.correspondence.on = (tx) => {
        const repo = on(tx);
        const insertMany = repo.insertMany.bind(repo);
        repo.insertMany = async (m, db) => {
          await insertMany(m, db);
          await insertMany(m, db);
        };
        return repo;
      };
      try {
        await store.db.transaction().execute(async (tx) => {
          await assert.rejects(service.recordSentIn(tx, failing, await parsedOf(failing.raw), account));
          await tx.updateTable('tenants').set({ updated_at: '2030-01-02T00:00:00.000Z' }).where('id', '=', 'ten_a').execute();
        });
      } finally {
        repos.correspondence.on = on;
      }
      assert.equal(await records('msg_failing'), 0, 'the failed record left nothing');
      assert.equal((await repos.tenants.get('ten_a'))!.updated_at, '2030-01-02T00:00:00.000Z', 'the rest of the transaction was committed');
      await assert.rejects(store.db.transaction().execute((tx) => service.recordSentIn(tx, failing, parsed, { ...account, id: 'acc_other' })), /is not the one of outbox job/);
    });

    test('an unknown account is 404; bad filters are 400 naming the field', async () => {
      await assert.rejects(ingest(mail({ from: 'a@b.test', to: OWN, subject: 'x' }), { accountId: 'acc_nope' }), { code: 'NOT_FOUND' });
      await assert.rejects(service.list('ten_a', { cursor: 'bm9wZQ' }), { code: 'INVALID_INPUT', field: 'cursor' });
      await assert.rejects(service.list('ten_a', { direction: 'up' }), { code: 'INVALID_INPUT', field: 'direction' });
      await assert.rejects(service.get('ten_b', 'eml_x'), { code: 'NOT_FOUND' });
    });
  });
}
