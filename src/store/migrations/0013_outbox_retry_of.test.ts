import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Migrator, type Kysely, type Migration } from 'kysely';
import { DIALECTS } from '../../../test/helpers/databases.js';
import { T0, twoConnections } from '../../../test/helpers/stores.js';
import { MIGRATIONS } from '../migrations.js';

// Jobs from before 0013 are ordinary jobs (retry_of null); the column goes again on the way down, the jobs stay.
for (const { dialect, make } of DIALECTS) {
  describe(`migration 0013 (outbox retry_of) on ${dialect}`, () => {
    const ctx = twoConnections(make, ['ten_a']);

    test('adds retry_of (null on existing jobs, settable) and drops it again', async () => {
      const m = new Migrator({ db: ctx.store.db, provider: { getMigrations: async (): Promise<Record<string, Migration>> => MIGRATIONS } });
      const db = ctx.store.db as never as Kysely<any>;
      const retryOf = async (id: string) => (await db.selectFrom('outbox').select('retry_of').where('id', '=', id).executeTakeFirstOrThrow()).retry_of;
      const job = (id: string) => ({
        id, tenant_id: 'ten_a', status: 'sent', envelope_from: 'a@acme.test', recipients: '["b@x.test"]', recipient_count: 1, message_id: '<m@x>', subject: 's',
        next_attempt_at: T0, created_at: T0, updated_at: T0,
      });
      assert.equal((await m.migrateTo('0012_message_bodies')).error, undefined);
      await db.insertInto('outbox').values(job('msg_old')).execute();
      await assert.rejects(db.insertInto('outbox').values({ ...job('msg_early'), retry_of: 'msg_old' }).execute(), 'no such column before 0013');

      assert.equal((await m.migrateTo('0013_outbox_retry_of')).error, undefined);
      assert.equal(await retryOf('msg_old'), null);
      await db.insertInto('outbox').values({ ...job('msg_next'), status: 'deferred', retry_of: 'msg_old' }).execute();
      assert.equal(await retryOf('msg_next'), 'msg_old');

      assert.equal((await m.migrateTo('0012_message_bodies')).error, undefined);
      const back = await db.selectFrom('outbox').selectAll().orderBy('id').execute();
      assert.deepEqual(back.map((r) => r.id), ['msg_next', 'msg_old'], 'the jobs stay');
      for (const r of back) assert.ok(!('retry_of' in r), 'retry_of left outbox');
      assert.equal((await m.migrateToLatest()).error, undefined);
      assert.equal(await retryOf('msg_next'), null, 'up again: an ordinary job');
    });
  });
}
