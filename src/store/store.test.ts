import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, type TestDatabase } from '../../test/helpers/databases.js';
import { openStore, migrateToLatest, ping, repositories, type Store, type AccountRow } from './index.js';
import { MIGRATIONS } from './migrations.js';

function accountRow(id: string, tenantId: string, over: Partial<AccountRow> = {}): AccountRow {
  const now = new Date().toISOString();
  return {
    id, tenant_id: tenantId, name: 'Main', type: 'smtp_imap', preset: null, email: 'a@example.com', from_name: null, username: null,
    password_enc: 'v1.kid.iv.tag.ct', smtp_host: 'smtp.example.com', smtp_port: 587, smtp_security: 'starttls',
    imap_host: null, imap_port: null, imap_security: null, pop_host: null, pop_port: null, pop_security: null,
    receive_emails: 0, send_via: 'own', enabled: 1, status: 'unverified', last_error: null, warnings: '[]', limits: null,
    campaign_id: null, auth_failed_fingerprint: null, verified_at: null, created_at: now, updated_at: now, ...over,
  };
}

// One repository suite, run against every dialect: SQLite (default) and PostgreSQL (scale-out).
for (const { dialect, make } of DIALECTS) {
  describe(`store on ${dialect}`, () => {
    let tdb: TestDatabase;
    let store: Store;
    const now = new Date().toISOString();

    before(async () => {
      tdb = await make();
      store = openStore(tdb.url);
      const applied = await migrateToLatest(store.db);
      assert.deepEqual(applied, Object.keys(MIGRATIONS));
    });
    after(async () => {
      await store?.close();
      await tdb?.drop();
    });

    test('migrations are idempotent and the database answers', async () => {
      assert.deepEqual(await migrateToLatest(store.db), []);
      await ping(store.db);
      assert.equal(store.dialect, dialect);
    });

    test('tenants and API keys: insert, find by key hash, update', async () => {
      const repo = repositories(store);
      await repo.tenants.insert(
        { id: 'ten_1', name: 'Acme', company_email: 'hi@acme.test', from_name: 'Acme', created_at: now, updated_at: now },
        { id: 'key_1', tenant_id: 'ten_1', key_hash: 'h1', prefix: 'mp_abc', created_at: now, last_used_at: null },
      );
      assert.equal((await repo.tenants.findByKeyHash('h1', now))?.id, 'ten_1');
      assert.equal(await repo.tenants.findByKeyHash('nope', now), undefined);
      const updated = await repo.tenants.update('ten_1', { from_name: 'Acme Inc' }, now);
      assert.equal(updated?.from_name, 'Acme Inc');
      await assert.rejects(
        repo.tenants.insert(
          { id: 'ten_2', name: 'Dup', company_email: 'x@y.test', from_name: null, created_at: now, updated_at: now },
          { id: 'key_2', tenant_id: 'ten_2', key_hash: 'h1', prefix: 'mp_x', created_at: now, last_used_at: null },
        ),
        'a duplicate key hash is refused',
      );
      assert.equal(await repo.tenants.get('ten_2'), undefined, 'the failed insert left no tenant behind (transaction)');
    });

    // SQLite only: the statement cache is the SQLite driver's (PostgreSQL streams only with pg-cursor, which Mailport does not use)
    if (dialect === 'sqlite') test('the same statement runs again and again, also after a streamed read was cut short (SQLite keeps it prepared)', async () => {
      const names = () => store.db.selectFrom('tenants').select('id').orderBy('id');
      const all = (await names().execute()).map((r) => r.id);
      assert.ok(all.length >= 1);
      for await (const _ of names().stream()) break; // leaves the statement mid-read; the cache must not hand it out busy
      assert.deepEqual((await names().execute()).map((r) => r.id), all);
      const seen: string[] = [];
      for await (const r of names().stream()) seen.push(r.id);
      assert.deepEqual(seen, all);
    });

    test('accounts are scoped by tenant', async () => {
      const repo = repositories(store);
      await repo.tenants.insert(
        { id: 'ten_b', name: 'B', company_email: 'b@b.test', from_name: null, created_at: now, updated_at: now },
        { id: 'key_b', tenant_id: 'ten_b', key_hash: 'hb', prefix: 'mp_b', created_at: now, last_used_at: null },
      );
      await repo.accounts.insert(accountRow('acc_1', 'ten_1'));
      await repo.accounts.insert(accountRow('acc_2', 'ten_1', { receive_emails: 1, imap_host: 'imap.example.com', imap_port: 993, imap_security: 'tls' }));
      await repo.accounts.insert(accountRow('acc_3', 'ten_b'));
      assert.deepEqual((await repo.accounts.list('ten_1')).map((a) => a.id), ['acc_1', 'acc_2']);
      assert.equal(await repo.accounts.get('ten_b', 'acc_1'), undefined, "another tenant's id is not found");
      const got = await repo.accounts.get('ten_1', 'acc_2');
      assert.equal(got?.imap_port, 993);
      assert.equal(got?.receive_emails, 1);
      assert.equal(await repo.accounts.update('ten_b', 'acc_1', { name: 'stolen' }), undefined);
      const upd = await repo.accounts.update('ten_1', 'acc_1', { name: 'Renamed', status: 'active', password_enc: null });
      assert.equal(upd?.name, 'Renamed');
      assert.equal(upd?.password_enc, null);
      assert.equal(await repo.accounts.delete('ten_b', 'acc_2'), false);
      assert.equal(await repo.accounts.delete('ten_1', 'acc_2'), true);
      assert.equal(await repo.accounts.get('ten_1', 'acc_2'), undefined);
    });

    test('settings: setIfAbsent wins once', async () => {
      const repo = repositories(store);
      assert.equal(await repo.settings.setIfAbsent('admin_token_hash', 'a'), true);
      assert.equal(await repo.settings.setIfAbsent('admin_token_hash', 'b'), false);
      assert.equal(await repo.settings.get('admin_token_hash'), 'a');
      await repo.settings.set('admin_token_hash', 'c');
      assert.equal(await repo.settings.get('admin_token_hash'), 'c');
    });
  });
}
