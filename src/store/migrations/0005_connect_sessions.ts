import type { Kysely, Migration } from 'kysely';

/**
 * Connect sessions: short-lived links to the hosted settings page. Only the token's SHA-256 is
 * kept, so a copy of the database cannot open anyone's settings.
 */
export const connectSessions: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('connect_sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('return_url', 'text')
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    // expired sessions are pruned by time
    await db.schema.createIndex('connect_sessions_expires').on('connect_sessions').column('expires_at').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('connect_sessions').execute();
  },
};
