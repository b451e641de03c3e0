import { Type, type Static, type TSchema } from '@sinclair/typebox';

/** JSON Schemas of the campaign routes (API.md "Campaigns"). */

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const ID = { minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' };
const Id = Type.String(ID);
// no control characters at all, as every other name
const SAFE_TEXT = '^[^\\u0000-\\u001f\\u007f]*$';

const Address = Type.Object({ name: Nullable(Type.String()), address: Type.String() });
const ItemStatus = Type.Unsafe<'queued' | 'claimed' | 'done'>({ type: 'string', enum: ['queued', 'claimed', 'done'] });

export const CampaignCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, pattern: SAFE_TEXT }),
    accountId: Type.String({ ...ID, description: 'one of your accounts: its new inbound mail goes into this campaign from now on (an account feeds one campaign at a time)' }),
  },
  { additionalProperties: false },
);
export type CampaignCreate = Static<typeof CampaignCreate>;

export const Campaign = Type.Object({
  id: Type.String(),
  name: Type.String(),
  accountId: Type.String({ description: 'the account the campaign was created for' }),
  accountIds: Type.Array(Type.String(), { description: 'the accounts attached to it now (their campaignId is this campaign)' }),
  receiving: Type.Boolean({ description: 'new inbound mail arrives now: an attached account is on and has receiveEmails on' }),
  counts: Type.Object({ queued: Type.Integer(), claimed: Type.Integer(), done: Type.Integer() }, { description: 'items in the queue by status' }),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export const CampaignList = Type.Object({ items: Type.Array(Campaign) });

export const QueueItem = Type.Object({
  id: Type.String(),
  campaignId: Type.String(),
  accountId: Type.String(),
  messageId: Type.String({ description: 'the recorded message: GET /v1/messages/{messageId} reads it whole' }),
  messageIdHeader: Nullable(Type.String({ description: 'the Message-ID header, with angle brackets' })),
  from: Nullable(Address),
  subject: Type.String(),
  receivedAt: Type.String({ description: 'the message\'s date' }),
  status: Type.String({ description: 'queued, claimed or done' }),
  queuedAt: Type.String(),
  claimedAt: Nullable(Type.String()),
  doneAt: Nullable(Type.String()),
});
export const QueuePage = Type.Object({ items: Type.Array(QueueItem), nextCursor: Nullable(Type.String()) });

export const QueueQuery = Type.Object(
  {
    status: Type.Optional(ItemStatus),
    cursor: Type.Optional(Type.String({ ...ID, description: 'nextCursor of the previous page' })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: '1 to 200 (default 50)' })),
  },
  { additionalProperties: false },
);
export type QueueQuery = Static<typeof QueueQuery>;

export const ItemParams = Type.Object({ id: Id, itemId: Id }, { additionalProperties: false });
