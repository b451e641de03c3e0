import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';

/**
 * The durable outbox: one row per accepted message, from 202 to sent or failed.
 *
 * The composed message is kept as bytes (`blob` on SQLite, `bytea` on PostgreSQL; both drivers
 * hand back a Buffer), so the exact bytes that went out over SMTP are the ones APPENDed to the
 * Sent folder, and a retry resends the same Message-ID.
 */
export const outbox: Migration = {
  async up(db: Kysely<any>) {
    const bytes = db.getExecutor().adapter instanceof PostgresAdapter ? sql`bytea` : sql`blob`;
    await db.schema
      .createTable('outbox')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      // null: the platform processor; no foreign key, so a deleted account leaves its history
      .addColumn('account_id', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('idempotency_key', 'text')
      .addColumn('request_hash', 'text')
      .addColumn('raw', bytes, (c) => c.notNull())
      // platform sends: From is decided by the worker (DMARC lookup), never before the 202
      .addColumn('sender_resolved', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('envelope_from', 'text', (c) => c.notNull())
      .addColumn('recipients', 'text', (c) => c.notNull())
      .addColumn('recipient_count', 'integer', (c) => c.notNull())
      .addColumn('message_id', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', 'text', (c) => c.notNull())
      .addColumn('send_at', 'text')
      .addColumn('locked_by', 'text')
      .addColumn('locked_until', 'text')
      .addColumn('last_error', 'text')
      .addColumn('response', 'text')
      .addColumn('accepted', 'text')
      .addColumn('rejected', 'text')
      .addColumn('sent_at', 'text')
      .addColumn('sent_copy', 'text')
      .addColumn('sent_copy_attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('sent_copy_next_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('outbox_due').on('outbox').columns(['status', 'next_attempt_at']).execute();
    await db.schema.createIndex('outbox_tenant').on('outbox').columns(['tenant_id', 'id']).execute();
    await db.schema.createIndex('outbox_sent_copy').on('outbox').columns(['sent_copy', 'sent_copy_next_at']).execute();
    await db.schema.createIndex('outbox_idempotency').on('outbox').columns(['tenant_id', 'idempotency_key']).unique().execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('outbox').execute();
  },
};
