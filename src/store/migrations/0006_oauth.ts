import type { Kysely, Migration } from 'kysely';

/**
 * OAuth2 sign-in: the operator's OAuth apps (client secret sealed), the pending sign-ins (only the
 * state's SHA-256 is kept, with its PKCE verifier sealed; single use, expiring), and the tokens of
 * each signed-in account (sealed; erased with the account).
 */
export const oauth: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('oauth_apps')
      .addColumn('id', 'text', (c) => c.primaryKey())
      // google | microsoft
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('client_id', 'text', (c) => c.notNull())
      // sealed by SecretBox (associated data `oauth_app:<id>:secret`)
      .addColumn('client_secret_enc', 'text', (c) => c.notNull())
      .addColumn('authorization_endpoint', 'text', (c) => c.notNull())
      .addColumn('token_endpoint', 'text', (c) => c.notNull())
      // the expected `iss` of ID tokens; `{tenantid}` is replaced by the token's `tid` (Microsoft multi-tenant)
      .addColumn('issuer', 'text', (c) => c.notNull())
      // Microsoft authority (common | consumers | organizations | a tenant id); null for Google
      .addColumn('tenant', 'text')
      // JSON array of the mail scopes; `openid email` are always added
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('oauth_apps_provider').on('oauth_apps').columns(['provider', 'created_at']).execute();

    await db.schema
      .createTable('oauth_states')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('state_hash', 'text', (c) => c.notNull().unique())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
      .addColumn('app_id', 'text', (c) => c.notNull().references('oauth_apps.id').onDelete('cascade'))
      // sealed PKCE code verifier (associated data `oauth_state:<id>:verifier`)
      .addColumn('verifier_enc', 'text', (c) => c.notNull())
      .addColumn('nonce', 'text', (c) => c.notNull())
      .addColumn('return_url', 'text')
      .addColumn('expires_at', 'text', (c) => c.notNull())
      // set when the callback takes it: a state works once
      .addColumn('used_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('oauth_states_expires').on('oauth_states').column('expires_at').execute();

    await db.schema
      .createTable('oauth_tokens')
      .addColumn('account_id', 'text', (c) => c.primaryKey().references('accounts.id').onDelete('cascade'))
      .addColumn('app_id', 'text', (c) => c.notNull().references('oauth_apps.id').onDelete('cascade'))
      // sealed (associated data `account:<id>:access_token` / `account:<id>:refresh_token`)
      .addColumn('access_token_enc', 'text', (c) => c.notNull())
      .addColumn('refresh_token_enc', 'text')
      .addColumn('expires_at', 'text')
      .addColumn('scope', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<any>) {
    for (const t of ['oauth_tokens', 'oauth_states', 'oauth_apps']) await db.schema.dropTable(t).execute();
  },
};
