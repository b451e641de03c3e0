import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Migrator, type Migration } from 'kysely';
import { DIALECTS, type TestDatabase } from '../../../test/helpers/databases.js';
import { openStore, type Store } from '../index.js';
import { MIGRATIONS } from '../migrations.js';

const T0 = '2030-01-01T00:00:00.000Z';
const migrator = (store: Store) => new Migrator({ db: store.db, provider: { getMigrations: async (): Promise<Record<string, Migration>> => MIGRATIONS } });

// Recorded mail from before 0012 keeps its bodies and bytes across the move, both ways.
for (const { dialect, make } of DIALECTS) {
  describe(`migration 0012 (message bodies) on ${dialect}`, () => {
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

    test('moves text, html, headers and raw bytes out of mail_messages and back', async () => {
      const m = migrator(store);
      assert.equal((await m.migrateTo('0011_outbox_bodies')).error, undefined);
      const db = store.db as never as import('kysely').Kysely<any>;
      await db.insertInto('tenants').values({ id: 'ten_a', name: 'A', company_email: 'a@acme.test', from_name: null, created_at: T0, updated_at: T0 }).execute();
      const raw = Buffer.from('Subject: old\r\n\r\nbody \u00e9\r\n');
      await db
        .insertInto('mail_messages')
        .values({
          id: 'eml_1', tenant_id: 'ten_a', account_id: 'acc_1', direction: 'in', folder: 'INBOX', message_id: '<a@x>', thread_id: 'thr_1', from_json: null,
          to_json: '[]', cc_json: '[]', subject: 'old', subject_key: 'old', date: T0, snippet: 'body', has_attachments: 0, text: 'body é', html: '<p>body</p>',
          headers_json: '[{"name":"Subject","value":"old"}]', attachments_json: '[]', raw, size: raw.length, parse_error: null, outbox_id: null, created_at: T0, updated_at: T0,
        })
        .execute();

      assert.equal((await m.migrateToLatest()).error, undefined);
      const body = await db.selectFrom('mail_message_bodies').selectAll().executeTakeFirstOrThrow();
      assert.deepEqual([body.message_pk, body.text, body.html, body.headers_json], ['eml_1', 'body é', '<p>body</p>', '[{"name":"Subject","value":"old"}]']);
      assert.ok(Buffer.from(body.raw).equals(raw));
      const row = await db.selectFrom('mail_messages').selectAll().executeTakeFirstOrThrow();
      for (const gone of ['text', 'html', 'headers_json', 'raw']) assert.ok(!(gone in row), `${gone} left mail_messages`);
      assert.equal(row.subject, 'old');

      assert.equal((await m.migrateTo('0011_outbox_bodies')).error, undefined);
      const back = await db.selectFrom('mail_messages').selectAll().executeTakeFirstOrThrow();
      assert.deepEqual([back.text, back.html, back.headers_json], ['body é', '<p>body</p>', '[{"name":"Subject","value":"old"}]']);
      assert.ok(Buffer.from(back.raw).equals(raw));
      assert.equal((await m.migrateToLatest()).error, undefined);
    });
  });
}
