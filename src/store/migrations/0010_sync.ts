import { type Kysely, type Migration } from 'kysely';

/**
 * Mailbox sync state (IMAP and POP3) and the leases that keep each account on one node.
 *
 * - `sync_accounts`: one row per account that receives. The lease (`lease_owner`,
 *   `lease_expires_at`) says which node syncs it; `lease_token` grows by one on every claim and is
 *   the fencing token: every write of sync state names it and is refused once another node holds
 *   a newer one. `state`, `last_error`, `last_ok_at` are what the node last saw.
 * - `sync_folders`: per account and folder, UIDVALIDITY, the next UID to fetch, HIGHESTMODSEQ
 *   (text: 63-bit values), whether the initial sync is done and, while it runs, the UID it has
 *   reached going down (newest first), so a restart resumes instead of starting over.
 * - `sync_nodes`: worker nodes and their heartbeats, so leases spread evenly over the live ones.
 * - `pop_seen`: the POP3 UIDLs already taken from a mailbox (POP keeps no other state).
 * - `mail_message_sources` gains the message's flags and modseq in that folder and when it was
 *   expunged there (CONDSTORE/QRESYNC, or found missing).
 */
export const sync: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('sync_accounts')
      .addColumn('account_id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('protocol', 'text', (c) => c.notNull())
      .addColumn('lease_owner', 'text')
      .addColumn('lease_token', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('lease_expires_at', 'text')
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('last_error', 'text')
      .addColumn('last_ok_at', 'text')
      .addColumn('initial_done_at', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('sync_accounts_lease').on('sync_accounts').columns(['lease_owner', 'lease_expires_at']).execute();

    await db.schema
      .createTable('sync_folders')
      .addColumn('account_id', 'text', (c) => c.notNull().references('sync_accounts.account_id').onDelete('cascade'))
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('uid_validity', 'bigint', (c) => c.notNull())
      .addColumn('uid_next', 'bigint', (c) => c.notNull())
      .addColumn('highest_modseq', 'text')
      .addColumn('initial_done', 'integer', (c) => c.notNull())
      .addColumn('backfill_uid', 'bigint')
      .addColumn('synced_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('sync_folders_pk', ['account_id', 'path'])
      .execute();

    await db.schema
      .createTable('sync_nodes')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('heartbeat_at', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('pop_seen')
      .addColumn('account_id', 'text', (c) => c.notNull().references('sync_accounts.account_id').onDelete('cascade'))
      .addColumn('uidl', 'text', (c) => c.notNull())
      .addColumn('message_pk', 'text')
      .addColumn('seen_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('pop_seen_pk', ['account_id', 'uidl'])
      .execute();

    await db.schema.alterTable('mail_message_sources').addColumn('flags', 'text').execute();
    await db.schema.alterTable('mail_message_sources').addColumn('modseq', 'text').execute();
    await db.schema.alterTable('mail_message_sources').addColumn('expunged_at', 'text').execute();
    // messages without a Message-ID are matched again after a UIDVALIDITY change by what they say
    await db.schema.createIndex('mail_messages_fingerprint').on('mail_messages').columns(['account_id', 'date', 'size']).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('mail_messages_fingerprint').execute();
    await db.schema.alterTable('mail_message_sources').dropColumn('expunged_at').execute();
    await db.schema.alterTable('mail_message_sources').dropColumn('modseq').execute();
    await db.schema.alterTable('mail_message_sources').dropColumn('flags').execute();
    await db.schema.dropTable('pop_seen').execute();
    await db.schema.dropTable('sync_nodes').execute();
    await db.schema.dropTable('sync_folders').execute();
    await db.schema.dropTable('sync_accounts').execute();
  },
};
