import type { FastifyInstance } from 'fastify';
import type { CorrespondenceService } from '../../inbound/correspondence.service.js';
import { invalid } from '../../core/errors.js';
import { tenantOf } from '../auth.js';
import { ErrorBody, IdParams } from '../schemas.js';
import { MessageDetail, MessagePage, MessageQuery } from '../correspondence.schemas.js';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

/**
 * Correspondence (API.md): every message exchanged through a tenant's connected mailboxes,
 * newest first. `GET /v1/messages` shares its path with sending (`POST`, outbox.routes.ts).
 *
 * @example
 *   correspondenceRoutes(app, correspondenceService);
 */
export function correspondenceRoutes(app: FastifyInstance, correspondence: CorrespondenceService): void {
  const config = { access: 'tenant' as const };

  app.get<{ Querystring: { accountId?: string; contact?: string; direction?: string; threadId?: string; cursor?: string; limit?: string } }>('/v1/messages', {
    config,
    schema: {
      tags: ['correspondence'],
      summary: 'Recorded messages, newest first (date, then id); filter by account, contact address, direction (in, out) or thread; pass nextCursor as cursor for the next page',
      querystring: MessageQuery,
      response: { 200: MessagePage, ...errors },
    },
  }, async (req) => {
    const { limit, ...rest } = req.query;
    const n = limit === undefined ? undefined : Number(limit);
    if (n !== undefined && (n < 1 || n > 200)) throw invalid('limit', 'limit must be from 1 to 200');
    return correspondence.list(tenantOf(req), { ...rest, limit: n });
  });

  app.get<{ Params: { id: string } }>('/v1/messages/:id', {
    config,
    schema: { tags: ['correspondence'], summary: 'One recorded message with its text, html, headers and attachment metadata', params: IdParams, response: { 200: MessageDetail, ...errors } },
  }, async (req) => correspondence.get(tenantOf(req), req.params.id));

  app.get<{ Params: { id: string } }>('/v1/messages/:id/raw', {
    config,
    schema: {
      tags: ['correspondence'],
      summary: 'The message exactly as received or sent (message/rfc822)',
      params: IdParams,
      response: { 200: { description: 'the raw message', content: { 'message/rfc822': { schema: { type: 'string', format: 'binary' } } } }, ...errors },
    },
  }, async (req, reply) => {
    const raw = await correspondence.raw(tenantOf(req), req.params.id);
    return reply.type('message/rfc822').header('content-disposition', `attachment; filename="${req.params.id}.eml"`).send(raw);
  });
}
