import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import { foundation } from './migrations/0001_foundation.js';
import { webhooks } from './migrations/0002_webhooks.js';
import { outbox } from './migrations/0003_outbox.js';
import { sendLimits } from './migrations/0004_send_limits.js';
import { connectSessions } from './migrations/0005_connect_sessions.js';
import { oauth } from './migrations/0006_oauth.js';
import { correspondence } from './migrations/0007_correspondence.js';
import { outboxVia } from './migrations/0008_outbox_via.js';
import { campaigns } from './migrations/0009_campaigns.js';
import { sync } from './migrations/0010_sync.js';
import { outboxBodies } from './migrations/0011_outbox_bodies.js';
import { messageBodies } from './migrations/0012_message_bodies.js';
import { outboxRetryOf } from './migrations/0013_outbox_retry_of.js';
import { outboxAgeFrom } from './migrations/0014_outbox_age_from.js';

/**
 * One set of migrations for SQLite and PostgreSQL, written with Kysely's schema builder in the
 * types both share (text, integer). Never edit a migration that has shipped: add a new file in
 * migrations/ and a line here.
 */
export const MIGRATIONS: Record<string, Migration> = {
  '0001_foundation': foundation,
  '0002_webhooks': webhooks,
  '0003_outbox': outbox,
  '0004_send_limits': sendLimits,
  '0005_connect_sessions': connectSessions,
  '0006_oauth': oauth,
  '0007_correspondence': correspondence,
  '0008_outbox_via': outboxVia,
  '0009_campaigns': campaigns,
  '0010_sync': sync,
  '0011_outbox_bodies': outboxBodies,
  '0012_message_bodies': messageBodies,
  '0013_outbox_retry_of': outboxRetryOf,
  '0014_outbox_age_from': outboxAgeFrom,
};

class InlineProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

/** Applies every pending migration; returns the names applied. Safe to run on every start. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new InlineProvider() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** A cheap query proving the database answers (readiness). */
export async function ping(db: Kysely<any>): Promise<void> {
  await sql`select 1`.execute(db);
}
