import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';

/**
 * The message leaves the outbox row for a table of its own, `outbox_bodies` (one row per job,
 * deleted with it). The outbox row is what the send worker claims and updates several times per
 * message (claimed, sent, Sent copy); with ~10 KB of bytes inside it, SQLite rewrote the whole
 * record, overflow pages included, on every one of those small updates, and PostgreSQL wrote a
 * new row version with its TOAST pointer each time.
 *
 * A body holds either the composed bytes (`raw`), or the message as accepted (`draft`, JSON: the
 * composer's input with its Message-ID and Date already fixed), which the send worker composes
 * at the first attempt, away from the request path, and replaces with the bytes that went out.
 */
export const outboxBodies: Migration = {
  async up(db: Kysely<any>) {
    const bytes = db.getExecutor().adapter instanceof PostgresAdapter ? sql`bytea` : sql`blob`;
    await db.schema
      .createTable('outbox_bodies')
      .addColumn('id', 'text', (c) => c.primaryKey().references('outbox.id').onDelete('cascade'))
      .addColumn('raw', bytes)
      .addColumn('draft', 'text')
      .execute();
    await sql`insert into outbox_bodies (id, raw) select id, raw from outbox`.execute(db);
    await db.schema.alterTable('outbox').dropColumn('raw').execute();
  },
  async down(db: Kysely<any>) {
    const bytes = db.getExecutor().adapter instanceof PostgresAdapter ? sql`bytea` : sql`blob`;
    await db.schema.alterTable('outbox').addColumn('raw', bytes).execute();
    await sql`update outbox set raw = (select b.raw from outbox_bodies b where b.id = outbox.id)`.execute(db);
    await db.schema.dropTable('outbox_bodies').execute();
  },
};
