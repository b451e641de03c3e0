import type { Kysely, Migration } from 'kysely';

/**
 * `age_from`: the moment a message's age limit (24 h by default) counts from, when that is later
 * than its due time: the end of its last wait for its account (red, switched off) or for its
 * limits. A message that waited days for its mailbox's daily limit was failed by the first 4xx
 * it then met. Null on every job that never waited, and on rows stored before this column.
 */
export const outboxAgeFrom: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('outbox').addColumn('age_from', 'text').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.alterTable('outbox').dropColumn('age_from').execute();
  },
};
