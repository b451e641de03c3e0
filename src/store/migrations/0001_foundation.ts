import type { Kysely, Migration } from 'kysely';

/** Tenants, API keys, accounts and installation settings. */
export const foundation: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('settings')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('tenants')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('company_email', 'text', (c) => c.notNull())
      .addColumn('from_name', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('api_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('key_hash', 'text', (c) => c.notNull().unique())
      .addColumn('prefix', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('last_used_at', 'text')
      .execute();
    await db.schema.createIndex('api_keys_tenant').on('api_keys').column('tenant_id').execute();

    await db.schema
      .createTable('accounts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('preset', 'text')
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('from_name', 'text')
      .addColumn('username', 'text')
      .addColumn('password_enc', 'text')
      .addColumn('smtp_host', 'text')
      .addColumn('smtp_port', 'integer')
      .addColumn('smtp_security', 'text')
      .addColumn('imap_host', 'text')
      .addColumn('imap_port', 'integer')
      .addColumn('imap_security', 'text')
      .addColumn('pop_host', 'text')
      .addColumn('pop_port', 'integer')
      .addColumn('pop_security', 'text')
      .addColumn('receive_emails', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('send_via', 'text', (c) => c.notNull().defaultTo('own'))
      .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('status', 'text', (c) => c.notNull().defaultTo('unverified'))
      .addColumn('last_error', 'text')
      .addColumn('warnings', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('limits', 'text')
      .addColumn('campaign_id', 'text')
      .addColumn('auth_failed_fingerprint', 'text')
      .addColumn('verified_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('accounts_tenant_id').on('accounts').columns(['tenant_id', 'id']).execute();
  },
  async down(db: Kysely<any>) {
    for (const t of ['accounts', 'api_keys', 'tenants', 'settings']) await db.schema.dropTable(t).execute();
  },
};
