import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Migrator, type Kysely, type Migration } from 'kysely';
import { DIALECTS } from '../../../test/helpers/databases.js';
import { T0, twoConnections } from '../../../test/helpers/stores.js';
import { MIGRATIONS } from '../migrations.js';

// Columns added to outbox later: jobs from before are ordinary (the column null), the column is
// settable, and it goes again on the way down while the jobs stay.
const ADDED = [
  { migration: '0013_outbox_retry_of', before: '0012_message_bodies', column: 'retry_of', value: 'msg_old' },
  { migration: '0014_outbox_age_from', before: '0013_outbox_retry_of', column: 'age_from', value: '2026-01-02T00:00:00.000Z' },
] as const;

for (const { dialect, make } of DIALECTS) {
  describe(`migrations adding outbox columns on ${dialect}`, () => {
    const ctx = twoConnections(make, ['ten_a']);

    for (const { migration, before, column, value } of ADDED) {
      test(`${migration}: adds ${column} (null on existing jobs, settable) and drops it again`, async () => {
        const m = new Migrator({ db: ctx.store.db, provider: { getMigrations: async (): Promise<Record<string, Migration>> => MIGRATIONS } });
        const db = ctx.store.db as never as Kysely<any>;
        const read = async (id: string) => (await db.selectFrom('outbox').select(column).where('id', '=', id).executeTakeFirstOrThrow())[column];
        const job = (id: string) => ({
          id, tenant_id: 'ten_a', status: 'sent', envelope_from: 'a@acme.test', recipients: '["b@x.test"]', recipient_count: 1, message_id: '<m@x>', subject: 's',
          next_attempt_at: T0, created_at: T0, updated_at: T0,
        });
        await db.deleteFrom('outbox').execute();
        assert.equal((await m.migrateTo(before)).error, undefined);
        await db.insertInto('outbox').values(job('msg_old')).execute();
        await assert.rejects(db.insertInto('outbox').values({ ...job('msg_early'), [column]: value }).execute(), `no such column before ${migration}`);

        assert.equal((await m.migrateTo(migration)).error, undefined);
        assert.equal(await read('msg_old'), null);
        await db.insertInto('outbox').values({ ...job('msg_next'), status: 'deferred', [column]: value }).execute();
        assert.equal(await read('msg_next'), value);

        assert.equal((await m.migrateTo(before)).error, undefined);
        const back = await db.selectFrom('outbox').selectAll().orderBy('id').execute();
        assert.deepEqual(back.map((r) => r.id), ['msg_next', 'msg_old'], 'the jobs stay');
        for (const r of back) assert.ok(!(column in r), `${column} left outbox`);
        assert.equal((await m.migrateToLatest()).error, undefined);
        assert.equal(await read('msg_next'), null, 'up again: null');
      });
    }
  });
}
