import type { Transaction } from 'kysely';
import { MailportError, invalid, notFound } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { EventRecorder } from '../events/event-types.js';
import { AccountsRepository, CampaignsRepository, type CampaignItemRow, type CampaignItemStatus, type CampaignRow, type Repositories } from '../store/index.js';
import type { Database } from '../store/schema.js';
import { addressOf, toCampaignItemView, toCampaignView, type CampaignItemView, type CampaignView } from './campaign.view.js';

export interface CampaignCreateInput {
  name: string;
  accountId: string;
}

export interface QueueQuery {
  status?: string;
  cursor?: string;
  limit?: number;
}

export interface DeliverInboundInput {
  tenantId: string;
  accountId: string;
  /** mail_messages.id of the message the sync engine has just recorded */
  messagePk: string;
}

export interface CampaignsServiceDeps {
  repos: Pick<Repositories, 'campaigns' | 'accounts'>;
  /** webhooks: `campaign.item.queued` for each item queued, stored with it (see WebhooksService.recordIn) */
  events?: EventRecorder<'campaign.item.queued'>;
  now?: () => Date;
}

const STATUSES: readonly CampaignItemStatus[] = ['queued', 'claimed', 'done'];
const isStatus = (s: string): s is CampaignItemStatus => (STATUSES as readonly string[]).includes(s);

/**
 * Campaign queues (DESIGN.md point 9, API.md "Campaigns"). An account with "Receive emails" on
 * that is attached to a campaign (`accounts.campaign_id`) delivers each new inbound message into
 * that campaign's queue; workers take items one at a time:
 *
 * - `claim`: queued → claimed. Atomic: of two claims of one item exactly one succeeds, the
 *   other gets 409 CONFLICT (also across nodes: one conditional UPDATE decides).
 * - `done`: claimed → done. On an item still queued: 409 (claim it first). On an item already
 *   done: the item, unchanged (a retried call whose answer was lost is safe).
 * - `release`: claimed → queued, for a worker that gives an item back (or one that died holding
 *   it). On an item already queued: the item, unchanged; on one done: 409.
 *
 * The queue lists oldest first (the order items were queued), the order a worker takes them in.
 *
 * @example
 *   const campaign = await campaigns.create(tenantId, { name: 'Spring offers', accountId });
 *   const queued = await campaigns.deliverInbound({ tenantId, accountId, messagePk }); // the ingest does it in its transaction (deliverInboundIn)
 *   const item = await campaigns.claim(tenantId, campaign.id, queued!.itemId);
 *   await campaigns.done(tenantId, campaign.id, item.id);
 */
export class CampaignsService {
  private readonly now: () => Date;

  constructor(private readonly deps: CampaignsServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * Creates a campaign for one of the tenant's accounts (404 otherwise) and attaches the account
   * to it: from now on the account's new inbound mail goes into this queue (an account belongs
   * to one campaign at a time; one attached elsewhere before moves here).
   */
  async create(tenantId: string, input: CampaignCreateInput): Promise<CampaignView> {
    const name = input.name.trim();
    if (!name) throw invalid('name', 'name must not be empty');
    const at = this.now();
    const row: CampaignRow = { id: newId('cmp', at.getTime()), tenant_id: tenantId, name, account_id: input.accountId, created_at: at.toISOString(), updated_at: at.toISOString() };
    if (!(await this.deps.repos.campaigns.insert(row))) {
      throw new MailportError('NOT_FOUND', { message: 'Account not found.', field: 'accountId', hint: 'Use the id of one of your accounts (GET /v1/accounts).' });
    }
    return (await this.views(tenantId, [row]))[0]!;
  }

  async list(tenantId: string): Promise<CampaignView[]> {
    return this.views(tenantId, await this.deps.repos.campaigns.list(tenantId));
  }

  async get(tenantId: string, id: string): Promise<CampaignView> {
    return (await this.views(tenantId, [await this.campaign(tenantId, id)]))[0]!;
  }

  /** A campaign's queue, oldest first, optionally one status; `nextCursor` continues it. */
  async queue(tenantId: string, campaignId: string, q: QueueQuery): Promise<{ items: CampaignItemView[]; nextCursor: string | null }> {
    if (q.status !== undefined && !isStatus(q.status)) throw invalid('status', 'status must be queued, claimed or done');
    await this.campaign(tenantId, campaignId);
    const limit = q.limit ?? 50;
    const rows = await this.deps.repos.campaigns.listItems(tenantId, campaignId, { status: q.status, after: q.cursor, limit: limit + 1 });
    const page = rows.slice(0, limit);
    return { items: page.map(toCampaignItemView), nextCursor: rows.length > limit ? page[page.length - 1]!.id : null };
  }

  async getItem(tenantId: string, campaignId: string, itemId: string): Promise<CampaignItemView> {
    return toCampaignItemView(await this.item(tenantId, campaignId, itemId));
  }

  /** queued → claimed; 409 when another caller claimed it first (or it is done). */
  async claim(tenantId: string, campaignId: string, itemId: string): Promise<CampaignItemView> {
    const at = this.now().toISOString();
    const claimed = await this.deps.repos.campaigns.transition(tenantId, campaignId, itemId, 'queued', { status: 'claimed', claimed_at: at, updated_at: at });
    if (claimed) return toCampaignItemView(claimed);
    const item = await this.item(tenantId, campaignId, itemId);
    throw new MailportError('CONFLICT', item.status === 'done'
      ? { message: 'This item is already done.', hint: 'It needs no more work; take another item that is still queued.' }
      : { message: 'This item is already claimed.', hint: 'Someone else is working on it; take another item that is still queued.' });
  }

  /** claimed → done; 409 for an item not claimed yet; an item already done is answered unchanged. */
  async done(tenantId: string, campaignId: string, itemId: string): Promise<CampaignItemView> {
    const at = this.now().toISOString();
    const done = await this.deps.repos.campaigns.transition(tenantId, campaignId, itemId, 'claimed', { status: 'done', done_at: at, updated_at: at });
    if (done) return toCampaignItemView(done);
    const item = await this.item(tenantId, campaignId, itemId);
    if (item.status === 'done') return toCampaignItemView(item);
    throw new MailportError('CONFLICT', { message: 'This item has not been claimed.', hint: 'Claim the item first, then mark it done.' });
  }

  /** claimed → queued (given back); an item already queued is answered unchanged; 409 once done. */
  async release(tenantId: string, campaignId: string, itemId: string): Promise<CampaignItemView> {
    const at = this.now().toISOString();
    const released = await this.deps.repos.campaigns.transition(tenantId, campaignId, itemId, 'claimed', { status: 'queued', claimed_at: null, updated_at: at });
    if (released) return toCampaignItemView(released);
    const item = await this.item(tenantId, campaignId, itemId);
    if (item.status === 'queued') return toCampaignItemView(item);
    throw new MailportError('CONFLICT', { message: 'This item is already done.', hint: 'A done item stays done.' });
  }

  /**
   * Queues a NEW incoming message recorded after an account's initial sync, never the backlog
   * found by that first sync (a campaign receives what arrives from now on, not the mailbox's
   * history). The sync engine's ingest does it through {@link deliverInboundIn}, in the
   * transaction that records the message; this is the same on its own.
   *
   * When the account has "Receive emails" on and is attached to a campaign of its tenant, and
   * the message is an incoming one recorded for that account, the message is queued in that
   * campaign (`queued`) and the webhook event `campaign.item.queued` is emitted with
   * `{campaignId, itemId, messageId, accountId, from, subject, receivedAt}` (`messageId` is the
   * recorded message's id). Idempotent: delivering the same message again queues nothing and
   * emits nothing; it answers with the item queued the first time.
   *
   * @returns the queue item and its campaign, or null when the message goes into no queue
   *   (receiving off, no campaign, unknown campaign or message, a message sent from the account)
   * @example
   *   const r = await app.campaigns.deliverInbound({ tenantId, accountId, messagePk: ingested.id });
   */
  async deliverInbound(input: DeliverInboundInput): Promise<{ itemId: string; campaignId: string } | null> {
    const { queued, announced } = await this.deps.repos.campaigns.transaction((tx) => this.deliverInboundIn(tx, input));
    if (announced) this.deps.events?.recorded();
    return queued;
  }

  /**
   * {@link deliverInbound} within `tx`, the transaction that records the message (the ingest of a
   * sync session): the message, its queue item and the item's event are stored together, so a
   * crash cannot keep the message and lose its place in the queue. `announced`: the event has
   * deliveries to make (wake the dispatcher after the commit).
   */
  async deliverInboundIn(tx: Transaction<Database>, input: DeliverInboundInput): Promise<{ queued: { itemId: string; campaignId: string } | null; announced: boolean }> {
    const none = { queued: null, announced: false };
    const campaigns = new CampaignsRepository(tx);
    const account = await new AccountsRepository(tx).get(input.tenantId, input.accountId);
    if (!account || account.receive_emails !== 1 || !account.campaign_id) return none;
    const campaign = await campaigns.get(input.tenantId, account.campaign_id);
    if (!campaign) return none;
    const message = await campaigns.message(input.tenantId, input.messagePk);
    if (!message || message.account_id !== account.id || message.direction !== 'in') return none;
    const at = this.now();
    const row: CampaignItemRow = {
      id: newId('cqi', at.getTime()),
      campaign_id: campaign.id,
      tenant_id: input.tenantId,
      account_id: account.id,
      message_pk: message.id,
      message_id: message.message_id,
      from_json: message.from_json,
      subject: message.subject,
      received_at: message.date,
      status: 'queued',
      claimed_at: null,
      done_at: null,
      created_at: at.toISOString(),
      updated_at: at.toISOString(),
    };
    const { row: stored, created } = await campaigns.enqueue(row);
    const announced = created && this.deps.events
      ? await this.deps.events.recordIn(tx, input.tenantId, 'campaign.item.queued', {
        campaignId: stored.campaign_id, itemId: stored.id, messageId: stored.message_pk, accountId: stored.account_id,
        from: addressOf(stored.from_json), subject: stored.subject, receivedAt: stored.received_at,
      })
      : false;
    return { queued: { itemId: stored.id, campaignId: stored.campaign_id }, announced };
  }

  // ---------------------------------------------------------------- internals

  private async campaign(tenantId: string, id: string): Promise<CampaignRow> {
    const row = await this.deps.repos.campaigns.get(tenantId, id);
    if (!row) throw notFound('Campaign');
    return row;
  }

  private async item(tenantId: string, campaignId: string, itemId: string): Promise<CampaignItemRow> {
    await this.campaign(tenantId, campaignId);
    const row = await this.deps.repos.campaigns.getItem(tenantId, campaignId, itemId);
    if (!row) throw notFound('Queue item');
    return row;
  }

  private async views(tenantId: string, rows: CampaignRow[]): Promise<CampaignView[]> {
    if (rows.length === 0) return [];
    const [accounts, counts] = await Promise.all([this.deps.repos.accounts.list(tenantId), this.deps.repos.campaigns.counts(tenantId, rows.map((r) => r.id))]);
    return rows.map((row) => {
      const attached = accounts.filter((a) => a.campaign_id === row.id);
      return toCampaignView(row, {
        accountIds: attached.map((a) => a.id),
        receiving: attached.some((a) => a.receive_emails === 1 && a.enabled === 1),
        counts: counts.get(row.id) ?? { queued: 0, claimed: 0, done: 0 },
      });
    });
  }
}
