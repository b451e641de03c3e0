import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { WebhooksService } from '../../events/webhooks.service.js';
import { tenantOf } from '../auth.js';
import { ErrorBody, IdParams } from '../schemas.js';
import { DeliveryList, DeliveryQuery, Webhook, WebhookCreate, WebhookCreated, WebhookList } from '../webhooks.schemas.js';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

type Id = { Params: { id: string } };

/**
 * API.md "Webhooks": subscriptions of the calling tenant and their delivery log. The secret is
 * in the answer to creation only; every other response schema leaves it out.
 *
 * @example
 *   webhookRoutes(app, webhooks);
 */
export function webhookRoutes(app: FastifyInstance, webhooks: WebhooksService): void {
  const config = { access: 'tenant' as const };

  app.post<{ Body: WebhookCreate }>('/v1/webhooks', {
    config,
    schema: {
      tags: ['webhooks'],
      summary: 'Subscribe a URL to events; the answer carries the signing secret, shown this once',
      body: WebhookCreate,
      response: { 201: WebhookCreated, ...errors, 422: ErrorBody },
    },
  }, async (req, reply) => {
    const created = await webhooks.create(tenantOf(req), req.body);
    req.log.info({ webhookId: created.id, events: created.events }, 'webhook created');
    return reply.status(201).send(created);
  });

  app.get('/v1/webhooks', {
    config,
    schema: { tags: ['webhooks'], summary: "The tenant's webhook subscriptions (without secrets)", response: { 200: WebhookList, ...errors } },
  }, async (req) => ({ items: await webhooks.list(tenantOf(req)) }));

  app.get<Id>('/v1/webhooks/:id', {
    config,
    schema: { tags: ['webhooks'], summary: 'One webhook subscription (without its secret)', params: IdParams, response: { 200: Webhook, ...errors } },
  }, async (req) => webhooks.get(tenantOf(req), req.params.id));

  app.delete<Id>('/v1/webhooks/:id', {
    config,
    schema: { tags: ['webhooks'], summary: 'Delete a subscription and its pending deliveries', params: IdParams, response: { 204: Type.Null(), ...errors } },
  }, async (req, reply) => {
    await webhooks.delete(tenantOf(req), req.params.id);
    req.log.info({ webhookId: req.params.id }, 'webhook deleted');
    return reply.status(204).send();
  });

  app.get<Id & { Querystring: DeliveryQuery }>('/v1/webhooks/:id/deliveries', {
    config,
    schema: {
      tags: ['webhooks'],
      summary: 'The delivery log: each event sent to this URL, newest first, with every attempt',
      params: IdParams,
      querystring: DeliveryQuery,
      response: { 200: DeliveryList, ...errors },
    },
  }, async (req) => {
    const { status, limit, cursor } = req.query;
    return webhooks.deliveries(tenantOf(req), req.params.id, { status, cursor, limit: limit === undefined ? undefined : Number(limit) });
  });
}
