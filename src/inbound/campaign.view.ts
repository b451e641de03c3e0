import type { CampaignCounts, CampaignItemRow, CampaignRow } from '../store/index.js';
import type { AddressView } from './message.view.js';

/** A campaign as `GET /v1/campaigns` shows it (API.md "Campaigns"). */
export interface CampaignView {
  id: string;
  name: string;
  /** the account the campaign was created for */
  accountId: string;
  /** the accounts attached to it now (their `campaignId` is this campaign) */
  accountIds: string[];
  /** whether new inbound mail arrives now: an attached account is on and has "Receive emails" on */
  receiving: boolean;
  /** items in the queue by status */
  counts: CampaignCounts;
  createdAt: string;
  updatedAt: string;
}

/** One item of a campaign's queue (`GET /v1/campaigns/:id/queue`). */
export interface CampaignItemView {
  id: string;
  campaignId: string;
  accountId: string;
  /** the recorded message's id: `GET /v1/messages/:messageId` reads it whole */
  messageId: string;
  /** the message's Message-ID header; null when it has none */
  messageIdHeader: string | null;
  from: AddressView | null;
  subject: string;
  receivedAt: string;
  status: 'queued' | 'claimed' | 'done';
  queuedAt: string;
  claimedAt: string | null;
  doneAt: string | null;
}

/** The `from_json` column ({name, address}) as the API's address, or null. */
export function addressOf(json: string | null): AddressView | null {
  if (!json) return null;
  try {
    const a = JSON.parse(json) as { name?: string | null; address?: string } | null;
    return a && typeof a.address === 'string' ? { name: a.name ? a.name : null, address: a.address } : null;
  } catch {
    return null;
  }
}

/**
 * @example
 *   toCampaignView(row, { accountIds: ['acc_1'], receiving: true, counts: { queued: 2, claimed: 0, done: 5 } })
 */
export function toCampaignView(row: CampaignRow, extra: Pick<CampaignView, 'accountIds' | 'receiving' | 'counts'>): CampaignView {
  return { id: row.id, name: row.name, accountId: row.account_id, ...extra, createdAt: row.created_at, updatedAt: row.updated_at };
}

/**
 * @example
 *   toCampaignItemView(row) // { id: 'cqi_...', messageId: 'eml_...', status: 'queued', ... }
 */
export function toCampaignItemView(row: CampaignItemRow): CampaignItemView {
  return {
    id: row.id,
    campaignId: row.campaign_id,
    accountId: row.account_id,
    messageId: row.message_pk,
    messageIdHeader: row.message_id,
    from: addressOf(row.from_json),
    subject: row.subject,
    receivedAt: row.received_at,
    status: row.status === 'claimed' || row.status === 'done' ? row.status : 'queued',
    queuedAt: row.created_at,
    claimedAt: row.claimed_at,
    doneAt: row.done_at,
  };
}
