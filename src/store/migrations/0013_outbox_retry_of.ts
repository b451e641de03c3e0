import type { Kysely, Migration } from 'kysely';

/**
 * `retry_of`: a job that sends a message again to the recipients a server refused for now (a 4xx
 * at RCPT TO) while it took the message for the others points to the job that first sent it (for
 * a follow-up of a follow-up: still that first job). Null for every ordinary job, and on rows
 * stored before this column existed. No foreign key: a follow-up carries its own bytes and
 * stands on its own, and SQLite cannot drop a column that one names.
 */
export const outboxRetryOf: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('outbox').addColumn('retry_of', 'text').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.alterTable('outbox').dropColumn('retry_of').execute();
  },
};
