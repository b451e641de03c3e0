import type { FastifyInstance } from 'fastify';
import type { OutboxService } from '../../outbound/outbox.service.js';
import type { MessageInput } from '../../outbound/message.js';
import { invalid } from '../../core/errors.js';
import { tenantOf } from '../auth.js';
import { ErrorBody, IdParams } from '../schemas.js';
import { MessageAccepted, MessageCreate, OutboxItem, OutboxPage, OutboxQuery } from '../outbox.schemas.js';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

/**
 * Sending (API.md): `POST /v1/messages` stores the message and answers 202 before any network
 * I/O; the outbox shows each message's progress.
 *
 * @example
 *   outboxRoutes(app, outboxService);
 */
export function outboxRoutes(app: FastifyInstance, outbox: OutboxService): void {
  const config = { access: 'tenant' as const };

  app.post<{ Body: MessageInput; Headers: { 'idempotency-key'?: string } }>('/v1/messages', {
    config,
    schema: {
      tags: ['sending'],
      summary: 'Queue a message; 202 once it is stored durably. No accountId: the platform processor. Idempotency-Key makes a retried call safe (same body: same answer; other body: 409).',
      body: MessageCreate,
      response: { 202: MessageAccepted, 409: ErrorBody, ...errors },
    },
  }, async (req, reply) => {
    const key = req.headers['idempotency-key'];
    const accepted = await outbox.accept(tenantOf(req), req.body, typeof key === 'string' ? key : undefined);
    req.log.info({ outboxId: accepted.id }, 'message queued');
    return reply.status(202).send(accepted);
  });

  app.get<{ Params: { id: string } }>('/v1/outbox/:id', {
    config,
    schema: { tags: ['sending'], summary: "A queued message's progress", params: IdParams, response: { 200: OutboxItem, ...errors } },
  }, async (req) => outbox.get(tenantOf(req), req.params.id));

  app.get<{ Querystring: { status?: string; accountId?: string; cursor?: string; limit?: string } }>('/v1/outbox', {
    config,
    schema: { tags: ['sending'], summary: 'The outbox, oldest first; pass nextCursor as cursor for the next page', querystring: OutboxQuery, response: { 200: OutboxPage, ...errors } },
  }, async (req) => {
    const { limit, ...rest } = req.query;
    const n = limit === undefined ? undefined : Number(limit);
    if (n !== undefined && (n < 1 || n > 200)) throw invalid('limit', 'limit must be from 1 to 200');
    return outbox.list(tenantOf(req), { ...rest, limit: n });
  });
}
