import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../../test/helpers/databases.js';
import { T0, twoConnections } from '../../test/helpers/stores.js';
import { LeaseLostError, type AccountRow, type Repositories } from './index.js';

const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();

function account(id: string, o: Partial<AccountRow> = {}): AccountRow {
  return {
    id, tenant_id: 'ten_a', name: id, type: 'smtp_imap', preset: null, email: `${id}@example.test`, from_name: null, username: null, password_enc: 'v1.k.iv.tag.ct',
    smtp_host: 'smtp.example.test', smtp_port: 587, smtp_security: 'starttls', imap_host: 'imap.example.test', imap_port: 993, imap_security: 'tls',
    pop_host: null, pop_port: null, pop_security: null, receive_emails: 1, send_via: 'own', enabled: 1, status: 'active', last_error: null,
    warnings: '[]', limits: null, campaign_id: null, auth_failed_fingerprint: null, verified_at: null, created_at: T0, updated_at: T0, ...o,
  } as AccountRow;
}

const folder = { path: 'INBOX', role: 'inbox' as const, uidValidity: 7, uidNext: 10, highestModseq: '12345678901234', initialDone: false, backfillUid: 5 };

// Leases and sync state on every dialect: two connections stand for two nodes.
for (const { dialect, make } of DIALECTS) {
  describe(`sync repository on ${dialect}`, () => {
    const db = twoConnections(make, ['ten_a']);
    let a: Repositories;
    let b: Repositories;
    before(async () => {
      a = db.repo;
      b = db.repo2;
      for (let i = 1; i <= 6; i++) await a.accounts.insert(account(`acc_${i}`));
      await a.accounts.insert(account('acc_off', { enabled: 0 }));
      await a.accounts.insert(account('acc_send', { imap_host: null, imap_port: null, imap_security: null }));
      await a.accounts.insert(account('acc_pop', { imap_host: null, imap_port: null, imap_security: null, pop_host: 'pop.example.test', pop_port: 995, pop_security: 'tls' }));
    });

    test('receiving accounts: enabled, with IMAP or POP3 settings', async () => {
      const ids = (await a.sync.receivingAccounts()).map((r) => r.id);
      assert.deepEqual(ids, ['acc_1', 'acc_2', 'acc_3', 'acc_4', 'acc_5', 'acc_6', 'acc_pop']);
      const rows = (await a.sync.receivingAccounts()).map((r) => ({ accountId: r.id, tenantId: r.tenant_id, protocol: r.imap_host ? ('imap' as const) : ('pop3' as const) }));
      await a.sync.ensure(rows, T0);
      await b.sync.ensure(rows, T0); // a second node: nothing doubled
      assert.equal((await a.sync.listAccounts()).length, 7);
    });

    test('two nodes claiming at once never get the same account; each claim takes a new fencing token', async () => {
      const [x, y] = await Promise.all([a.sync.claim('node-a', 4, at(1), at(31)), b.sync.claim('node-b', 4, at(1), at(31))]);
      const ids = [...x, ...y].map((l) => l.accountId);
      assert.equal(new Set(ids).size, ids.length, 'no account twice');
      assert.equal(ids.length, 7, 'every eligible account is taken');
      assert.ok(!ids.includes('acc_off') && !ids.includes('acc_send'));
      for (const l of [...x, ...y]) assert.equal(l.token, 1);
      assert.deepEqual(await a.sync.claim('node-a', 10, at(2), at(32)), [], 'nothing free');
    });

    test('renewal keeps leases; an expired lease is taken over with a higher token and the old holder is fenced off', async () => {
      const mine = await a.sync.renew('node-a', at(40), at(10));
      await b.sync.renew('node-b', at(100), at(10));
      assert.ok(mine.length > 0);
      const victim = mine[0]!;
      await a.sync.saveFolder(victim, folder, at(10));
      // node-a stops renewing; after expiry node-b takes its accounts
      const taken = await b.sync.claim('node-b', 10, at(41), at(71));
      assert.deepEqual(taken.map((l) => l.accountId).sort(), mine.map((l) => l.accountId).sort());
      const newer = taken.find((l) => l.accountId === victim.accountId)!;
      assert.equal(newer.token, victim.token + 1);
      await assert.rejects(a.sync.saveFolder(victim, { ...folder, uidNext: 99 }, at(42)), LeaseLostError);
      await assert.rejects(a.sync.setState(victim, { state: 'idle' }, at(42)), LeaseLostError);
      await assert.rejects(a.sync.markExpunged(victim, 'INBOX', 7, [1], at(42)), LeaseLostError);
      assert.equal((await a.sync.renew('node-a', at(80), at(42))).length, 0, 'the old holder renews nothing');
      await b.sync.saveFolder(newer, { ...folder, uidNext: 11, initialDone: true, backfillUid: null }, at(43));
      const saved = (await a.sync.folders(victim.accountId))[0]!;
      assert.deepEqual(saved, { ...folder, uidNext: 11, initialDone: true, backfillUid: null });
    });

    test('release hands an account over at once; heartbeats count live nodes', async () => {
      const held = await b.sync.renew('node-b', at(100), at(50));
      const one = held[0]!;
      await b.sync.release([one], at(51));
      const got = await a.sync.claim('node-a', 1, at(52), at(82));
      assert.equal(got[0]?.accountId, one.accountId);
      await a.sync.heartbeat('node-a', at(50));
      await b.sync.heartbeat('node-b', at(20));
      assert.equal(await a.sync.liveNodes(at(30)), 1);
      assert.equal(await a.sync.liveNodes(at(10)), 2);
      await b.sync.removeNode('node-b');
      assert.equal(await a.sync.liveNodes(at(10)), 1);
    });

    test('POP3 UIDLs are remembered and forgotten when gone from the server (fenced)', async () => {
      const lease = (await a.sync.renew('node-a', at(200), at(60))).find((l) => l.accountId === 'acc_pop') ?? (await b.sync.renew('node-b', at(200), at(60))).find((l) => l.accountId === 'acc_pop');
      assert.ok(lease);
      const repo = lease.owner === 'node-a' ? a : b;
      await repo.sync.savePopSeen(lease, [{ uidl: 'u1', messagePk: null }, { uidl: 'u2', messagePk: null }], [], at(61));
      await repo.sync.savePopSeen(lease, [{ uidl: 'u2', messagePk: null }, { uidl: 'u3', messagePk: null }], ['u1'], at(62));
      assert.deepEqual([...(await repo.sync.popSeen('acc_pop'))].sort(), ['u2', 'u3']);
      await assert.rejects(repo.sync.savePopSeen({ ...lease, token: lease.token - 1 }, [{ uidl: 'u9', messagePk: null }], [], at(63)), LeaseLostError);
    });

    test('a deleted account leaves no sync state behind', async () => {
      await a.accounts.delete('ten_a', 'acc_6');
      assert.equal(await a.sync.forgetDeleted(), 1);
      assert.equal(await a.sync.getAccount('acc_6'), undefined);
    });
  });
}
