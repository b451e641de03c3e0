import type { Kysely, Selectable, Transaction } from 'kysely';
import type { CampaignQueueItemsTable, CampaignsTable, Database, MailMessagesTable } from './schema.js';

export type CampaignRow = Selectable<CampaignsTable>;
export type CampaignItemRow = Selectable<CampaignQueueItemsTable>;
export type CampaignItemStatus = 'queued' | 'claimed' | 'done';
/** What the queue needs of a recorded message (no bodies, no raw bytes). */
export type QueueableMessage = Pick<Selectable<MailMessagesTable>, 'id' | 'tenant_id' | 'account_id' | 'direction' | 'message_id' | 'from_json' | 'subject' | 'date'>;

export interface CampaignItemListOptions {
  status?: CampaignItemStatus;
  /** items queued after this one (ids sort by the time they were queued) */
  after?: string;
  limit: number;
}

export type CampaignCounts = Record<CampaignItemStatus, number>;

/**
 * Campaigns and their inbound queues. Every read and write is scoped by tenant. A queue item
 * moves queued → claimed → done only by conditional updates (`... WHERE status = 'queued'`):
 * of two claims of one item, on one connection or several nodes, exactly one changes the row.
 *
 * @example
 *   await repo.insert(campaign); // also attaches campaign.account_id to it
 *   const { row, created } = await repo.enqueue(item); // created: false when it was queued already
 *   const claimed = await repo.transition(tenantId, campaignId, itemId, 'queued', { status: 'claimed', claimed_at: now, updated_at: now });
 */
export class CampaignsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Runs `fn` in a transaction. */
  transaction<T>(fn: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(fn);
  }

  /**
   * Stores a campaign and attaches its account to it (`accounts.campaign_id`) in one
   * transaction. False, and nothing stored, when the account is not the tenant's.
   */
  async insert(row: CampaignRow): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const linked = await tx
        .updateTable('accounts')
        .set({ campaign_id: row.id, updated_at: row.created_at })
        .where('tenant_id', '=', row.tenant_id)
        .where('id', '=', row.account_id)
        .executeTakeFirst();
      if (Number(linked.numUpdatedRows) !== 1) return false;
      await tx.insertInto('campaigns').values(row).execute();
      return true;
    });
  }

  async get(tenantId: string, id: string): Promise<CampaignRow | undefined> {
    return this.db.selectFrom('campaigns').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  }

  /** The tenant's campaigns, oldest first. */
  async list(tenantId: string): Promise<CampaignRow[]> {
    return this.db.selectFrom('campaigns').selectAll().where('tenant_id', '=', tenantId).orderBy('id').execute();
  }

  /** How many items of each campaign are queued, claimed and done. */
  async counts(tenantId: string, campaignIds: string[]): Promise<Map<string, CampaignCounts>> {
    const out = new Map<string, CampaignCounts>(campaignIds.map((id) => [id, { queued: 0, claimed: 0, done: 0 }]));
    if (campaignIds.length === 0) return out;
    const rows = await this.db
      .selectFrom('campaign_queue_items')
      .select((eb) => ['campaign_id', 'status', eb.fn.countAll<number | string>().as('n')])
      .where('tenant_id', '=', tenantId)
      .where('campaign_id', 'in', campaignIds)
      .groupBy(['campaign_id', 'status'])
      .execute();
    for (const r of rows) {
      const c = out.get(r.campaign_id);
      if (c && (r.status === 'queued' || r.status === 'claimed' || r.status === 'done')) c[r.status] = Number(r.n);
    }
    return out;
  }

  /** The columns of a recorded message that a queue item copies; undefined when it is not the tenant's. */
  async message(tenantId: string, messagePk: string): Promise<QueueableMessage | undefined> {
    return this.db
      .selectFrom('mail_messages')
      .select(['id', 'tenant_id', 'account_id', 'direction', 'message_id', 'from_json', 'subject', 'date'])
      .where('tenant_id', '=', tenantId)
      .where('id', '=', messagePk)
      .executeTakeFirst();
  }

  /**
   * Queues an item unless the campaign has that message already (also when two deliveries
   * race): then nothing is stored and the earlier item comes back with `created: false`.
   */
  async enqueue(row: CampaignItemRow): Promise<{ row: CampaignItemRow; created: boolean }> {
    const result = await this.db
      .insertInto('campaign_queue_items')
      .values(row)
      .onConflict((oc) => oc.columns(['campaign_id', 'message_pk']).doNothing())
      .executeTakeFirst();
    if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 1) return { row, created: true };
    const existing = await this.db
      .selectFrom('campaign_queue_items')
      .selectAll()
      .where('campaign_id', '=', row.campaign_id)
      .where('message_pk', '=', row.message_pk)
      .executeTakeFirstOrThrow();
    return { row: existing, created: false };
  }

  async getItem(tenantId: string, campaignId: string, id: string): Promise<CampaignItemRow | undefined> {
    return this.db
      .selectFrom('campaign_queue_items')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('campaign_id', '=', campaignId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /** A campaign's queue in the order items were queued, oldest first; `after` continues a page. */
  async listItems(tenantId: string, campaignId: string, o: CampaignItemListOptions): Promise<CampaignItemRow[]> {
    let q = this.db.selectFrom('campaign_queue_items').selectAll().where('tenant_id', '=', tenantId).where('campaign_id', '=', campaignId);
    if (o.status) q = q.where('status', '=', o.status);
    if (o.after) q = q.where('id', '>', o.after);
    return q.orderBy('id').limit(o.limit).execute();
  }

  /**
   * Moves an item from one status to the next in one conditional statement, and returns it
   * changed; undefined when it does not exist or is no longer in `from` (another caller moved it
   * first).
   */
  async transition(
    tenantId: string,
    campaignId: string,
    id: string,
    from: CampaignItemStatus,
    patch: { status: CampaignItemStatus; claimed_at?: string | null; done_at?: string | null; updated_at: string },
  ): Promise<CampaignItemRow | undefined> {
    return this.db
      .updateTable('campaign_queue_items')
      .set(patch)
      .where('tenant_id', '=', tenantId)
      .where('campaign_id', '=', campaignId)
      .where('id', '=', id)
      .where('status', '=', from)
      .returningAll()
      .executeTakeFirst();
  }
}
