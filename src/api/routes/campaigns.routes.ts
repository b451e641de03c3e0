import type { FastifyInstance } from 'fastify';
import type { CampaignsService } from '../../inbound/campaigns.service.js';
import { invalid } from '../../core/errors.js';
import { tenantOf } from '../auth.js';
import { EmptyBody, ErrorBody, IdParams } from '../schemas.js';
import { Campaign, CampaignCreate, CampaignList, ItemParams, QueueItem, QueuePage, QueueQuery } from '../campaigns.schemas.js';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

type Item = { Params: { id: string; itemId: string }; Body: Record<string, never> | null };

/**
 * Campaigns (API.md): a receiving account delivers new inbound mail into the queue of its
 * campaign; workers claim an item (409 when someone else did first), then mark it done.
 *
 * @example
 *   campaignRoutes(app, campaignsService);
 */
export function campaignRoutes(app: FastifyInstance, campaigns: CampaignsService): void {
  const config = { access: 'tenant' as const };

  app.post<{ Body: CampaignCreate }>('/v1/campaigns', {
    config,
    schema: {
      tags: ['campaigns'],
      summary: 'Create a campaign for one of your accounts (404 otherwise); the account is attached to it: its new inbound mail is queued here from now on',
      body: CampaignCreate,
      response: { 201: Campaign, ...errors },
    },
  }, async (req, reply) => {
    const created = await campaigns.create(tenantOf(req), req.body);
    req.log.info({ campaignId: created.id, accountId: created.accountId }, 'campaign created');
    return reply.status(201).send(created);
  });

  app.get('/v1/campaigns', {
    config,
    schema: { tags: ['campaigns'], summary: "The tenant's campaigns, oldest first, with their queue counts", response: { 200: CampaignList, ...errors } },
  }, async (req) => ({ items: await campaigns.list(tenantOf(req)) }));

  app.get<{ Params: { id: string } }>('/v1/campaigns/:id', {
    config,
    schema: { tags: ['campaigns'], summary: 'One campaign', params: IdParams, response: { 200: Campaign, ...errors } },
  }, async (req) => campaigns.get(tenantOf(req), req.params.id));

  app.get<{ Params: { id: string }; Querystring: QueueQuery }>('/v1/campaigns/:id/queue', {
    config,
    schema: {
      tags: ['campaigns'],
      summary: 'The inbound queue, oldest first (the order items were queued); ?status=queued|claimed|done; pass nextCursor as cursor for the next page',
      params: IdParams,
      querystring: QueueQuery,
      response: { 200: QueuePage, ...errors },
    },
  }, async (req) => {
    const { limit, ...rest } = req.query;
    const n = limit === undefined ? undefined : Number(limit);
    if (n !== undefined && (n < 1 || n > 200)) throw invalid('limit', 'limit must be from 1 to 200');
    return campaigns.queue(tenantOf(req), req.params.id, { ...rest, limit: n });
  });

  app.get<{ Params: { id: string; itemId: string } }>('/v1/campaigns/:id/queue/:itemId', {
    config,
    schema: { tags: ['campaigns'], summary: 'One queue item', params: ItemParams, response: { 200: QueueItem, ...errors } },
  }, async (req) => campaigns.getItem(tenantOf(req), req.params.id, req.params.itemId));

  const actions = [
    ['claim', 'Claim a queued item (queued → claimed); 409 when it is already claimed or done: of two claims exactly one wins', (t: string, c: string, i: string) => campaigns.claim(t, c, i)],
    ['done', 'Mark a claimed item done (claimed → done); 409 when it has not been claimed; an item already done is answered unchanged', (t: string, c: string, i: string) => campaigns.done(t, c, i)],
    ['release', 'Give a claimed item back to the queue (claimed → queued); an item already queued is answered unchanged; 409 when it is done', (t: string, c: string, i: string) => campaigns.release(t, c, i)],
  ] as const;
  for (const [action, summary, run] of actions) {
    app.post<Item>(`/v1/campaigns/:id/queue/:itemId/${action}`, {
      config,
      schema: { tags: ['campaigns'], summary, params: ItemParams, body: EmptyBody, response: { 200: QueueItem, 409: ErrorBody, ...errors } },
    }, async (req) => {
      const item = await run(tenantOf(req), req.params.id, req.params.itemId);
      req.log.info({ campaignId: item.campaignId, itemId: item.id, status: item.status }, `campaign item ${action}`);
      return item;
    });
  }
}
