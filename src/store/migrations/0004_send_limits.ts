import type { Kysely, Migration } from 'kysely';

/**
 * Sending limits: a ledger of what each account has sent (one row per reserved message), the
 * provider's own blocks ("over the limit" replies), and one row per account that reservations
 * lock so that two workers never both take the last unit.
 *
 * No foreign keys to `accounts`: the limiter is keyed by any sender id (the platform processor
 * included), and every row ages out on its own (ledger rows after 25 h, blocks after they end).
 */
export const sendLimits: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('send_limit_accounts')
      .addColumn('account_id', 'text', (c) => c.primaryKey())
      // written by every reservation: the write is the per-account lock (a row lock on
      // PostgreSQL, the database write lock on SQLite) held until the reservation commits
      .addColumn('touched_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('send_limit_ledger')
      // the reservation id handed to the caller (release deletes by it)
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      // recipients, not units: whether a window counts recipients or messages is decided when
      // counting, so a changed preset counts the history the new way
      .addColumn('recipients', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('send_limit_ledger_account_at').on('send_limit_ledger').columns(['account_id', 'at']).execute();

    await db.schema
      .createTable('send_limit_blocks')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('until', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('send_limit_blocks_account_until').on('send_limit_blocks').columns(['account_id', 'until']).execute();
  },
  async down(db: Kysely<any>) {
    for (const t of ['send_limit_blocks', 'send_limit_ledger', 'send_limit_accounts']) await db.schema.dropTable(t).execute();
  },
};
