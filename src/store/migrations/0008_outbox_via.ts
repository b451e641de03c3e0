import type { Kysely, Migration } from 'kysely';

/**
 * Which way a sent message went out: `own` (the account's SMTP) or `platform` (the platform
 * processor, also when an account over its limits hands mail to it). Null until sent, and on
 * rows sent before this column existed.
 */
export const outboxVia: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('outbox').addColumn('via', 'text').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.alterTable('outbox').dropColumn('via').execute();
  },
};
