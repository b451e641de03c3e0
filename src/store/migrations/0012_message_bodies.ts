import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';

/**
 * The bulky parts of a recorded message (the raw bytes, the text and HTML bodies, the header
 * list) leave `mail_messages` for a table of their own, `mail_message_bodies` (one row per
 * message, deleted with it). A mail_messages row is what threading reads and rewrites (folding
 * threads, linking an outbox job, a later sighting) and what every list reads: with the bodies
 * inside, SQLite walked each row's overflow pages to reach the columns stored after them and
 * rewrote them on every small update, and PostgreSQL wrote a new row version each time.
 */
export const messageBodies: Migration = {
  async up(db: Kysely<any>) {
    const bytes = db.getExecutor().adapter instanceof PostgresAdapter ? sql`bytea` : sql`blob`;
    await db.schema
      .createTable('mail_message_bodies')
      .addColumn('message_pk', 'text', (c) => c.primaryKey().references('mail_messages.id').onDelete('cascade'))
      .addColumn('text', 'text')
      .addColumn('html', 'text')
      .addColumn('headers_json', 'text', (c) => c.notNull())
      .addColumn('raw', bytes, (c) => c.notNull())
      .execute();
    await sql`insert into mail_message_bodies (message_pk, text, html, headers_json, raw) select id, text, html, headers_json, raw from mail_messages`.execute(db);
    for (const column of ['text', 'html', 'headers_json', 'raw']) await db.schema.alterTable('mail_messages').dropColumn(column).execute();
  },
  async down(db: Kysely<any>) {
    const bytes = db.getExecutor().adapter instanceof PostgresAdapter ? sql`bytea` : sql`blob`;
    await db.schema.alterTable('mail_messages').addColumn('text', 'text').execute();
    await db.schema.alterTable('mail_messages').addColumn('html', 'text').execute();
    await db.schema.alterTable('mail_messages').addColumn('headers_json', 'text', (c) => c.notNull().defaultTo('[]')).execute();
    await db.schema.alterTable('mail_messages').addColumn('raw', bytes, (c) => c.notNull().defaultTo(sql`''`)).execute();
    await sql`update mail_messages set text = b.text, html = b.html, headers_json = b.headers_json, raw = b.raw from mail_message_bodies b where b.message_pk = mail_messages.id`.execute(db);
    await db.schema.dropTable('mail_message_bodies').execute();
  },
};
