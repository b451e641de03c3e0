import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../../test/helpers/databases.js';
import { T0, twoConnections } from '../../test/helpers/stores.js';
import { type Repositories, type MailMessageRow } from './index.js';

const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString();

let seq = 0;
function mail(over: Partial<MailMessageRow> = {}): MailMessageRow {
  const n = ++seq;
  return {
    id: `eml_${String(n).padStart(6, '0')}`, tenant_id: 'ten_a', account_id: 'acc_1', direction: 'in', folder: 'INBOX', message_id: `<m${n}@example.test>`,
    thread_id: `thr_${n}`, from_json: JSON.stringify({ name: 'Bob', address: 'bob@example.test' }), to_json: '[]', cc_json: '[]', subject: 'Hi', subject_key: 'hi',
    date: at(n), snippet: 'hello', has_attachments: 0, text: 'hello', html: null, headers_json: '[]', attachments_json: '[]',
    // every byte value, so a text round trip would show
    raw: Buffer.from(Array.from({ length: 256 }, (_, i) => i)), size: 256, parse_error: null, outbox_id: null, created_at: T0, updated_at: T0,
    ...over,
  };
}

// The correspondence repository on every dialect (PostgreSQL: UIDVALIDITY beyond int4, bytea, races between connections).
for (const { dialect, make } of DIALECTS) {
  describe(`correspondence repository on ${dialect}`, () => {
    const db = twoConnections(make);
    let repo: Repositories;
    let repo2: Repositories;
    // SQLite: one connection per process (better-sqlite3 blocks while it waits for a lock held by
    // another connection of the same process), so there the "race" queues on that connection
    const racer = () => (dialect === 'postgres' ? repo2 : repo);
    before(async () => {
      repo = db.repo;
      repo2 = db.repo2;
    });

    test('stores the raw bytes exactly; a place already recorded is found; views omit the bytes; other tenants see nothing', async () => {
      const row = mail();
      const source = { accountId: 'acc_1', folder: 'INBOX', uidValidity: 4_294_967_295, uid: 4_000_000_000 };
      const { created } = await repo.correspondence.insert({ row, contacts: ['bob@example.test'], refs: [], source });
      assert.equal(created, true);
      assert.ok((await repo.correspondence.raw('ten_a', row.id))!.equals(row.raw));
      assert.equal((await repo.correspondence.findBySource(source))!.id, row.id);
      assert.equal(await repo.correspondence.findBySource({ ...source, uid: 1 }), undefined);
      assert.equal(await repo.correspondence.sourceCount(row.id), 1);
      assert.equal(await repo.correspondence.addSource(row.id, source, T0), false, 'the same place twice is one sighting');
      const detail = await repo.correspondence.get('ten_a', row.id);
      assert.equal(detail!.text, 'hello');
      assert.equal((detail as Record<string, unknown>).raw, undefined);
      assert.equal(await repo.correspondence.get('ten_b', row.id), undefined);
      assert.equal(await repo.correspondence.raw('ten_b', row.id), undefined);
    });

    test('the same Message-ID in one account is one record, also when two ingests race; the second place is added to it', async () => {
      const a = mail({ message_id: '<race@example.test>' });
      const b = mail({ message_id: '<race@example.test>', folder: 'Sent' });
      const [ra, rb] = await Promise.all([
        repo.correspondence.insert({ row: a, contacts: ['x@example.test'], refs: [], source: { accountId: 'acc_1', folder: 'INBOX', uidValidity: 1, uid: 1 } }),
        racer().correspondence.insert({ row: b, contacts: ['x@example.test'], refs: [], source: { accountId: 'acc_1', folder: 'Sent', uidValidity: 1, uid: 1 } }),
      ]);
      assert.equal([ra.created, rb.created].filter(Boolean).length, 1);
      assert.equal(ra.row.id, rb.row.id);
      assert.equal(await repo.correspondence.sourceCount(ra.row.id), 2);
      const other = await repo.correspondence.insert({ row: mail({ message_id: '<race@example.test>', account_id: 'acc_2' }), contacts: [], refs: [] });
      assert.equal(other.created, true, 'another account keeps its own record');
    });

    test('the same place ingested twice at once without a Message-ID is still one record', async () => {
      const source = { accountId: 'acc_1', folder: 'INBOX', uidValidity: 9, uid: 9 };
      const [ra, rb] = await Promise.all([
        repo.correspondence.insert({ row: mail({ message_id: null }), contacts: [], refs: [], source }),
        racer().correspondence.insert({ row: mail({ message_id: null }), contacts: [], refs: [], source }),
      ]);
      assert.equal([ra.created, rb.created].filter(Boolean).length, 1);
      assert.equal(ra.row.id, rb.row.id);
    });

    test('threads: found by referenced ids and by replies that refer to a message; merged when a parent arrives late', async () => {
      const reply1 = mail({ account_id: 'acc_t', thread_id: 'thr_r1', message_id: '<r1@t>' });
      const reply2 = mail({ account_id: 'acc_t', thread_id: 'thr_r2', message_id: '<r2@t>' });
      await repo.correspondence.insert({ row: reply1, contacts: [], refs: ['<parent@t>'] });
      await repo.correspondence.insert({ row: reply2, contacts: [], refs: ['<parent@t>', '<r1@t>'] });
      const related = await repo.correspondence.threadsByIds('acc_t', ['<r1@t>'], '<parent@t>');
      assert.deepEqual(new Set(related.map((r) => r.thread_id)), new Set(['thr_r1', 'thr_r2']));
      const parent = mail({ account_id: 'acc_t', thread_id: 'thr_r1', message_id: '<parent@t>' });
      await repo.correspondence.insert({ row: parent, contacts: [], refs: [], mergeThreads: ['thr_r2'] });
      const all = await repo.correspondence.list('ten_a', { threadId: 'thr_r1', limit: 10 });
      assert.deepEqual(all.map((r) => r.id).sort(), [reply1.id, reply2.id, parent.id].sort());
    });

    test('subject fallback needs the same account, key, a shared contact and the time window', async () => {
      const row = mail({ account_id: 'acc_s', thread_id: 'thr_subject', subject_key: 'angebot', date: at(1000) });
      await repo.correspondence.insert({ row, contacts: ['carol@example.test'], refs: [] });
      const find = (key: string, contacts: string[], since: string, until: string, account = 'acc_s') => repo.correspondence.threadBySubject(account, key, contacts, since, until).then((r) => r?.thread_id);
      assert.equal(await find('angebot', ['carol@example.test'], at(900), at(1100)), 'thr_subject');
      assert.equal(await find('angebot', ['dave@example.test'], at(900), at(1100)), undefined, 'another contact');
      assert.equal(await find('angebot', ['carol@example.test'], at(1001), at(1100)), undefined, 'outside the window');
      assert.equal(await find('rechnung', ['carol@example.test'], at(900), at(1100)), undefined, 'another subject');
      assert.equal(await find('angebot', ['carol@example.test'], at(900), at(1100), 'acc_other'), undefined, 'another account');
    });

    test('lists newest first by date then id, paging without gaps or repeats, with every filter', async () => {
      const rows = [
        mail({ account_id: 'acc_l', date: at(5000), direction: 'in', thread_id: 'thr_l1' }),
        mail({ account_id: 'acc_l', date: at(5000), direction: 'out', thread_id: 'thr_l1' }),
        mail({ account_id: 'acc_l', date: at(5001), direction: 'in', thread_id: 'thr_l2' }),
        mail({ account_id: 'acc_l', date: at(4999), direction: 'out', thread_id: 'thr_l2' }),
        mail({ account_id: 'acc_l', date: at(5002), direction: 'in', thread_id: 'thr_l3', tenant_id: 'ten_b' }),
      ];
      for (const r of rows) await repo.correspondence.insert({ row: r, contacts: r.direction === 'in' ? ['zed@example.test', 'amy@example.test'] : ['zed@example.test'], refs: [] });
      const want = rows.slice(0, 4).sort((a, b) => (a.date === b.date ? (a.id < b.id ? 1 : -1) : a.date < b.date ? 1 : -1)).map((r) => r.id);
      const seen: string[] = [];
      let before: { date: string; id: string } | undefined;
      for (;;) {
        const page = await repo.correspondence.list('ten_a', { accountId: 'acc_l', before, limit: 3 });
        seen.push(...page.map((r) => r.id));
        if (page.length < 3) break;
        before = { date: page[2]!.date, id: page[2]!.id };
      }
      assert.deepEqual(seen, want);
      const zed = await repo.correspondence.list('ten_a', { contact: 'zed@example.test', accountId: 'acc_l', limit: 10 });
      assert.deepEqual(zed.map((r) => r.id), want, 'the contact index pages in the same order');
      const zedPage2 = await repo.correspondence.list('ten_a', { contact: 'zed@example.test', before: { date: zed[1]!.date, id: zed[1]!.id }, limit: 10 });
      assert.deepEqual(zedPage2.map((r) => r.id), want.slice(2));
      const amy = await repo.correspondence.list('ten_a', { contact: 'amy@example.test', limit: 10 });
      assert.ok(amy.every((r) => r.direction === 'in') && amy.length === 2);
      const out = await repo.correspondence.list('ten_a', { accountId: 'acc_l', direction: 'out', limit: 10 });
      assert.equal(out.length, 2);
      const thread = await repo.correspondence.list('ten_a', { threadId: 'thr_l2', direction: 'in', limit: 10 });
      assert.deepEqual(thread.map((r) => r.id), [rows[2]!.id]);
      assert.equal((await repo.correspondence.list('ten_b', { contact: 'zed@example.test', limit: 10 })).length, 1, 'tenants apart');
    });

    test('finds the outbox job that sent a Message-ID, and links it', async () => {
      // a follow-up (recipients refused for now, sent to again) stored first, with the same Message-ID: never the one found
      await repo.outbox.insert({
        id: 'msg_x0', tenant_id: 'ten_a', account_id: 'acc_o', status: 'sent', idempotency_key: null, request_hash: null, raw: Buffer.from('x'), sender_resolved: 1,
        envelope_from: 'a@example.test', recipients: '[]', recipient_count: 1, message_id: '<sent@example.test>', subject: 's', attempts: 1, next_attempt_at: T0,
        send_at: null, locked_by: null, locked_until: null, last_error: null, response: null, accepted: null, rejected: null, sent_at: T0, sent_copy: null,
        sent_copy_attempts: 0, sent_copy_next_at: null, retry_of: 'msg_x1', created_at: T0, updated_at: T0,
      } as Parameters<Repositories['outbox']['insert']>[0]);
      await repo.outbox.insert({
        id: 'msg_x1', tenant_id: 'ten_a', account_id: 'acc_o', status: 'sent', idempotency_key: null, request_hash: null, raw: Buffer.from('x'), sender_resolved: 1,
        envelope_from: 'a@example.test', recipients: '[]', recipient_count: 1, message_id: '<sent@example.test>', subject: 's', attempts: 1, next_attempt_at: T0,
        send_at: null, locked_by: null, locked_until: null, last_error: null, response: null, accepted: null, rejected: null, sent_at: T0, sent_copy: null,
        sent_copy_attempts: 0, sent_copy_next_at: null, via: null, retry_of: null, age_from: null, created_at: T0, updated_at: T0,
      } as Parameters<Repositories['outbox']['insert']>[0]);
      assert.deepEqual([...(await repo.correspondence.outboxIdsFor('ten_a', 'acc_o', ['<sent@example.test>', '<other@example.test>']))], [['<sent@example.test>', 'msg_x1']]);
      assert.equal((await repo.correspondence.outboxIdsFor('ten_b', 'acc_o', ['<sent@example.test>'])).size, 0);
      assert.equal((await repo.correspondence.outboxIdsFor('ten_a', 'acc_other', ['<sent@example.test>'])).size, 0);
      const row = mail({ account_id: 'acc_o', message_id: '<sent@example.test>' });
      await repo.correspondence.insert({ row, contacts: [], refs: [] });
      await repo.correspondence.update(row.id, { outbox_id: 'msg_x1', folder: 'Sent Items', updated_at: at(1) });
      const after = await repo.correspondence.get('ten_a', row.id);
      assert.equal(after!.outbox_id, 'msg_x1');
      assert.equal(after!.folder, 'Sent Items');
    });
  });
}
