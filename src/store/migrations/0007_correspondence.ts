import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';

/**
 * Correspondence: every message exchanged through a connected mailbox, one record per message
 * and account (a message sent through Mailport and later seen in Sent is the same record).
 *
 * - `mail_messages`: the parsed view and the raw message, kept as bytes (`blob` on SQLite,
 *   `bytea` on PostgreSQL, like the outbox); attachments are not stored apart, they are read
 *   from the raw message on demand. `message_id` (the header) is unique per account; messages
 *   without one are never merged.
 * - `mail_message_sources`: where a message was seen (folder, UIDVALIDITY, UID), unique per
 *   account, so a sync that fetches a message again records nothing new.
 * - `mail_message_contacts`: the other parties of each message (addresses lower-cased), with the
 *   message's date, so `?contact=` pages through an index instead of scanning JSON.
 * - `mail_message_refs`: the Message-IDs a message refers to (In-Reply-To, References), so a
 *   parent that arrives after its replies finds their thread.
 */
export const correspondence: Migration = {
  async up(db: Kysely<any>) {
    const bytes = db.getExecutor().adapter instanceof PostgresAdapter ? sql`bytea` : sql`blob`;
    await db.schema
      .createTable('mail_messages')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      // no foreign key: a deleted account leaves its history, as in the outbox
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('direction', 'text', (c) => c.notNull())
      .addColumn('folder', 'text', (c) => c.notNull())
      .addColumn('message_id', 'text')
      .addColumn('thread_id', 'text', (c) => c.notNull())
      .addColumn('from_json', 'text')
      .addColumn('to_json', 'text', (c) => c.notNull())
      .addColumn('cc_json', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('subject_key', 'text', (c) => c.notNull())
      .addColumn('date', 'text', (c) => c.notNull())
      .addColumn('snippet', 'text', (c) => c.notNull())
      .addColumn('has_attachments', 'integer', (c) => c.notNull())
      .addColumn('text', 'text')
      .addColumn('html', 'text')
      .addColumn('headers_json', 'text', (c) => c.notNull())
      .addColumn('attachments_json', 'text', (c) => c.notNull())
      .addColumn('raw', bytes, (c) => c.notNull())
      .addColumn('size', 'integer', (c) => c.notNull())
      .addColumn('parse_error', 'text')
      .addColumn('outbox_id', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    // newest first, by date then id, per tenant / account / thread
    await db.schema.createIndex('mail_messages_tenant_date').on('mail_messages').columns(['tenant_id', 'date', 'id']).execute();
    await db.schema.createIndex('mail_messages_account_date').on('mail_messages').columns(['account_id', 'date', 'id']).execute();
    await db.schema.createIndex('mail_messages_thread_date').on('mail_messages').columns(['thread_id', 'date', 'id']).execute();
    // NULLs are distinct in a unique index on both dialects: messages without a Message-ID stay apart
    await db.schema.createIndex('mail_messages_message_id').on('mail_messages').columns(['account_id', 'message_id']).unique().execute();
    await db.schema.createIndex('mail_messages_subject').on('mail_messages').columns(['account_id', 'subject_key', 'date']).execute();

    await db.schema
      .createTable('mail_message_sources')
      .addColumn('message_pk', 'text', (c) => c.notNull().references('mail_messages.id').onDelete('cascade'))
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('folder', 'text', (c) => c.notNull())
      // UIDVALIDITY and UID are unsigned 32-bit: beyond PostgreSQL's integer
      .addColumn('uid_validity', 'bigint', (c) => c.notNull())
      .addColumn('uid', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('mail_message_sources_key').on('mail_message_sources').columns(['account_id', 'folder', 'uid_validity', 'uid']).unique().execute();
    await db.schema.createIndex('mail_message_sources_message').on('mail_message_sources').column('message_pk').execute();

    await db.schema
      .createTable('mail_message_contacts')
      .addColumn('message_pk', 'text', (c) => c.notNull().references('mail_messages.id').onDelete('cascade'))
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('date', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('mail_message_contacts_pk', ['message_pk', 'address'])
      .execute();
    await db.schema.createIndex('mail_message_contacts_address').on('mail_message_contacts').columns(['tenant_id', 'address', 'date', 'message_pk']).execute();

    await db.schema
      .createTable('mail_message_refs')
      .addColumn('message_pk', 'text', (c) => c.notNull().references('mail_messages.id').onDelete('cascade'))
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('ref', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('mail_message_refs_pk', ['message_pk', 'ref'])
      .execute();
    await db.schema.createIndex('mail_message_refs_ref').on('mail_message_refs').columns(['account_id', 'ref']).execute();

    // a message seen in Sent is matched to the outbox job that sent it by its Message-ID
    await db.schema.createIndex('outbox_message_id').on('outbox').columns(['tenant_id', 'message_id']).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('outbox_message_id').execute();
    await db.schema.dropTable('mail_message_refs').execute();
    await db.schema.dropTable('mail_message_contacts').execute();
    await db.schema.dropTable('mail_message_sources').execute();
    await db.schema.dropTable('mail_messages').execute();
  },
};
