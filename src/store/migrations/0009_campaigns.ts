import type { Kysely, Migration } from 'kysely';

/**
 * Campaign queues (DESIGN.md point 9): an account with "Receive emails" on delivers each new
 * incoming message into the queue of the campaign it is attached to (`accounts.campaign_id`).
 *
 * - `campaigns`: a named queue of a tenant, created for one account (`account_id`; no foreign
 *   key: a deleted account leaves the campaign and its queue, as it leaves the outbox).
 * - `campaign_queue_items`: one recorded message in one campaign's queue, unique per
 *   (campaign, message) so delivering the same message twice stores it once. The columns a
 *   queue listing shows are copied from the message, so the list never reads message bodies.
 *   `status` moves queued → claimed → done by conditional updates (claim is atomic).
 */
export const campaigns: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('campaigns')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('campaigns_tenant_id').on('campaigns').columns(['tenant_id', 'id']).execute();

    await db.schema
      .createTable('campaign_queue_items')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('campaign_id', 'text', (c) => c.notNull().references('campaigns.id').onDelete('cascade'))
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('message_pk', 'text', (c) => c.notNull().references('mail_messages.id').onDelete('cascade'))
      .addColumn('message_id', 'text')
      .addColumn('from_json', 'text')
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('received_at', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('claimed_at', 'text')
      .addColumn('done_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('campaign_queue_items_message').on('campaign_queue_items').columns(['campaign_id', 'message_pk']).unique().execute();
    // the queue in order (ids sort by the time they were queued), whole or by status; and the counts per status
    await db.schema.createIndex('campaign_queue_items_order').on('campaign_queue_items').columns(['campaign_id', 'id']).execute();
    await db.schema.createIndex('campaign_queue_items_status').on('campaign_queue_items').columns(['campaign_id', 'status', 'id']).execute();
    // mail_messages rows are deleted with their tenant: the cascade looks items up by message
    await db.schema.createIndex('campaign_queue_items_message_pk').on('campaign_queue_items').column('message_pk').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('campaign_queue_items').execute();
    await db.schema.dropTable('campaigns').execute();
  },
};
