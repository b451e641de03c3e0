import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../../test/helpers/databases.js';
import { T0, twoConnections } from '../../test/helpers/stores.js';
import { newId } from '../core/ids.js';
import type { AccountRow, CampaignItemRow, MailMessageRow, Repositories } from './index.js';

const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();

function account(id: string, tenantId: string): AccountRow {
  return {
    id, tenant_id: tenantId, name: 'Inbox', type: 'smtp_imap', preset: null, email: `${id}@example.test`, from_name: null, username: null, password_enc: null,
    smtp_host: null, smtp_port: null, smtp_security: null, imap_host: 'imap.example.test', imap_port: 993, imap_security: 'tls', pop_host: null, pop_port: null, pop_security: null,
    receive_emails: 1, send_via: 'platform', enabled: 1, status: 'active', last_error: null, warnings: '[]', limits: null, campaign_id: null,
    auth_failed_fingerprint: null, verified_at: null, created_at: T0, updated_at: T0,
  };
}

let seq = 0;
function mail(tenantId: string, accountId: string): MailMessageRow {
  const n = ++seq;
  return {
    id: `eml_${String(n).padStart(6, '0')}`, tenant_id: tenantId, account_id: accountId, direction: 'in', folder: 'INBOX', message_id: `<q${n}@example.test>`,
    thread_id: `thr_${n}`, from_json: JSON.stringify({ name: 'Bob', address: 'bob@example.test' }), to_json: '[]', cc_json: '[]', subject: `Question ${n}`, subject_key: `question ${n}`,
    date: at(n), snippet: 'hello', has_attachments: 0, text: 'hello', html: null, headers_json: '[]', attachments_json: '[]',
    raw: Buffer.from('From: bob@example.test\r\n\r\nhello'), size: 30, parse_error: null, outbox_id: null, created_at: T0, updated_at: T0,
  };
}

function item(m: MailMessageRow, campaignId: string, queuedAt: number): CampaignItemRow {
  return {
    id: newId('cqi', Date.parse(at(queuedAt))), campaign_id: campaignId, tenant_id: m.tenant_id, account_id: m.account_id, message_pk: m.id, message_id: m.message_id,
    from_json: m.from_json, subject: m.subject, received_at: m.date, status: 'queued', claimed_at: null, done_at: null, created_at: at(queuedAt), updated_at: at(queuedAt),
  };
}

// The campaign queue repository on every dialect: claims and deliveries racing on two connections.
for (const { dialect, make } of DIALECTS) {
  describe(`campaigns repository on ${dialect}`, () => {
    const db = twoConnections(make);
    let repo: Repositories;
    // SQLite: one connection per process (better-sqlite3 blocks while another connection of the
    // same process holds the lock), so there the racing statements queue on one connection
    let racer: Repositories;
    before(async () => {
      repo = db.repo;
      racer = dialect === 'postgres' ? db.repo2 : db.repo;
      await repo.accounts.insert(account('acc_a1', 'ten_a'));
      await repo.accounts.insert(account('acc_a2', 'ten_a'));
      await repo.accounts.insert(account('acc_b1', 'ten_b'));
    });

    async function campaign(id: string, accountId = 'acc_a1', tenantId = 'ten_a') {
      const row = { id, tenant_id: tenantId, name: `Campaign ${id}`, account_id: accountId, created_at: T0, updated_at: T0 };
      assert.equal(await repo.campaigns.insert(row), true);
      return row;
    }

    async function message(tenantId = 'ten_a', accountId = 'acc_a1'): Promise<MailMessageRow> {
      const m = mail(tenantId, accountId);
      await repo.correspondence.insert({ row: m, contacts: ['bob@example.test'], refs: [] });
      return m;
    }

    test('a campaign is stored with its account attached in one step; another tenant\'s account stores nothing', async () => {
      await campaign('cmp_1');
      assert.equal((await repo.accounts.get('ten_a', 'acc_a1'))!.campaign_id, 'cmp_1');
      const refused = await repo.campaigns.insert({ id: 'cmp_x', tenant_id: 'ten_a', name: 'X', account_id: 'acc_b1', created_at: T0, updated_at: T0 });
      assert.equal(refused, false);
      assert.equal(await repo.campaigns.get('ten_a', 'cmp_x'), undefined, 'nothing stored');
      assert.equal((await repo.accounts.get('ten_b', 'acc_b1'))!.campaign_id, null, 'the other tenant\'s account is untouched');
      assert.equal(await repo.campaigns.get('ten_b', 'cmp_1'), undefined, 'another tenant does not see it');
      assert.deepEqual((await repo.campaigns.list('ten_a')).map((c) => c.id), ['cmp_1']);
      assert.deepEqual(await repo.campaigns.list('ten_b'), []);
    });

    test('the queueable columns of a message are read without its bodies, only for its tenant', async () => {
      const m = await message();
      const got = await repo.campaigns.message('ten_a', m.id);
      assert.deepEqual(got, { id: m.id, tenant_id: 'ten_a', account_id: 'acc_a1', direction: 'in', message_id: m.message_id, from_json: m.from_json, subject: m.subject, date: m.date });
      assert.equal(await repo.campaigns.message('ten_b', m.id), undefined);
    });

    test('a message is queued once per campaign, also when two deliveries race', async () => {
      await campaign('cmp_2');
      const m = await message();
      const [a, b] = await Promise.all([repo.campaigns.enqueue(item(m, 'cmp_2', 1)), racer.campaigns.enqueue(item(m, 'cmp_2', 2))]);
      assert.equal([a.created, b.created].filter(Boolean).length, 1);
      assert.equal(a.row.id, b.row.id, 'both answers name the one item');
      const again = await repo.campaigns.enqueue(item(m, 'cmp_2', 3));
      assert.deepEqual({ created: again.created, id: again.row.id, status: again.row.status }, { created: false, id: a.row.id, status: 'queued' });
      assert.equal((await repo.campaigns.listItems('ten_a', 'cmp_2', { limit: 10 })).length, 1);
      await campaign('cmp_3', 'acc_a2');
      assert.equal((await repo.campaigns.enqueue(item(m, 'cmp_3', 4))).created, true, 'the same message in another campaign is another item');
    });

    test('the queue lists oldest first, filters by status and pages by id; counts per status', async () => {
      await campaign('cmp_4');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await repo.campaigns.enqueue(item(await message(), 'cmp_4', 100 + i))).row.id);
      const all = await repo.campaigns.listItems('ten_a', 'cmp_4', { limit: 10 });
      assert.deepEqual(all.map((r) => r.id), ids, 'in the order they were queued');
      const first = await repo.campaigns.listItems('ten_a', 'cmp_4', { limit: 2 });
      const rest = await repo.campaigns.listItems('ten_a', 'cmp_4', { limit: 10, after: first[1]!.id });
      assert.deepEqual([...first, ...rest].map((r) => r.id), ids);
      await repo.campaigns.transition('ten_a', 'cmp_4', ids[1]!, 'queued', { status: 'claimed', claimed_at: at(200), updated_at: at(200) });
      await repo.campaigns.transition('ten_a', 'cmp_4', ids[3]!, 'queued', { status: 'claimed', claimed_at: at(200), updated_at: at(200) });
      await repo.campaigns.transition('ten_a', 'cmp_4', ids[3]!, 'claimed', { status: 'done', done_at: at(201), updated_at: at(201) });
      assert.deepEqual((await repo.campaigns.listItems('ten_a', 'cmp_4', { status: 'queued', limit: 10 })).map((r) => r.id), [ids[0], ids[2], ids[4]]);
      assert.deepEqual((await repo.campaigns.listItems('ten_a', 'cmp_4', { status: 'claimed', limit: 10 })).map((r) => r.id), [ids[1]]);
      assert.deepEqual((await repo.campaigns.listItems('ten_a', 'cmp_4', { status: 'done', limit: 10 })).map((r) => r.id), [ids[3]]);
      assert.deepEqual((await repo.campaigns.listItems('ten_a', 'cmp_4', { status: 'queued', limit: 1, after: ids[0] })).map((r) => r.id), [ids[2]]);
      const counts = await repo.campaigns.counts('ten_a', ['cmp_4', 'cmp_none']);
      assert.deepEqual(counts.get('cmp_4'), { queued: 3, claimed: 1, done: 1 });
      assert.deepEqual(counts.get('cmp_none'), { queued: 0, claimed: 0, done: 0 });
      assert.deepEqual((await repo.campaigns.counts('ten_b', ['cmp_4'])).get('cmp_4'), { queued: 0, claimed: 0, done: 0 }, 'another tenant counts nothing');
      assert.deepEqual(await repo.campaigns.listItems('ten_b', 'cmp_4', { limit: 10 }), [], 'nor lists anything');
    });

    test('two claims of one item at once: exactly one wins; done only from claimed; another tenant changes nothing', async () => {
      await campaign('cmp_5');
      const { row } = await repo.campaigns.enqueue(item(await message(), 'cmp_5', 300));
      const claim = (r: Repositories, s: number) => r.campaigns.transition('ten_a', 'cmp_5', row.id, 'queued', { status: 'claimed', claimed_at: at(s), updated_at: at(s) });
      for (let round = 0; round < 5; round++) {
        const [a, b] = await Promise.all([claim(repo, 301), claim(racer, 302)]);
        assert.equal([a, b].filter(Boolean).length, 1, 'exactly one claim changed the row');
        const won = (a ?? b)!;
        assert.equal(won.status, 'claimed');
        assert.ok(won.claimed_at === at(301) || won.claimed_at === at(302));
        // back to queued for the next round
        assert.ok(await repo.campaigns.transition('ten_a', 'cmp_5', row.id, 'claimed', { status: 'queued', claimed_at: null, updated_at: at(303) }));
      }
      assert.equal(await repo.campaigns.transition('ten_a', 'cmp_5', row.id, 'claimed', { status: 'done', done_at: at(310), updated_at: at(310) }), undefined, 'a queued item cannot be done');
      assert.ok(await claim(repo, 311));
      assert.equal(await repo.campaigns.transition('ten_b', 'cmp_5', row.id, 'claimed', { status: 'done', done_at: at(312), updated_at: at(312) }), undefined, 'not another tenant\'s');
      const done = await repo.campaigns.transition('ten_a', 'cmp_5', row.id, 'claimed', { status: 'done', done_at: at(313), updated_at: at(313) });
      assert.deepEqual({ status: done!.status, claimed_at: done!.claimed_at, done_at: done!.done_at }, { status: 'done', claimed_at: at(311), done_at: at(313) });
      assert.equal(await claim(repo, 314), undefined, 'a done item is not claimed again');
      assert.equal((await repo.campaigns.getItem('ten_a', 'cmp_5', row.id))!.status, 'done');
      assert.equal(await repo.campaigns.getItem('ten_b', 'cmp_5', row.id), undefined);
      assert.equal(await repo.campaigns.getItem('ten_a', 'cmp_4', row.id), undefined, 'an item is found only under its own campaign');
    });

    test('a tenant deleted takes its campaigns and queues with it', async () => {
      await repo.tenants.insert(
        { id: 'ten_gone', name: 'gone', company_email: 'gone@example.test', from_name: null, created_at: T0, updated_at: T0 },
        { id: 'key_gone', tenant_id: 'ten_gone', key_hash: 'hash_gone', prefix: 'mp_x', created_at: T0, last_used_at: null },
      );
      await repo.accounts.insert(account('acc_gone', 'ten_gone'));
      await campaign('cmp_gone', 'acc_gone', 'ten_gone');
      await repo.campaigns.enqueue(item(await message('ten_gone', 'acc_gone'), 'cmp_gone', 400));
      await db.store.db.deleteFrom('tenants').where('id', '=', 'ten_gone').execute();
      assert.deepEqual(await db.store.db.selectFrom('campaign_queue_items').select('id').where('tenant_id', '=', 'ten_gone').execute(), []);
      assert.deepEqual(await db.store.db.selectFrom('campaigns').select('id').where('tenant_id', '=', 'ten_gone').execute(), []);
    });
  });
}
