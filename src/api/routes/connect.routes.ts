import type { FastifyInstance } from 'fastify';
import type { ConnectSessionsService } from '../../tenants/connect-sessions.service.js';
import { tenantOf } from '../auth.js';
import { ConnectSessionCreate, ConnectSessionCreated, ConnectSessionInfo } from '../connect.schemas.js';
import { ErrorBody } from '../schemas.js';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

/**
 * API.md "Hosted settings page": a platform asks for a link to the settings page for one tenant,
 * and the page asks who it is acting for (and where "Done" returns to).
 *
 * @example
 *   connectRoutes(app, connectSessions);
 */
export function connectRoutes(app: FastifyInstance, sessions: ConnectSessionsService): void {
  app.post<{ Body: ConnectSessionCreate | null }>('/v1/connect-sessions', {
    config: { access: 'tenant' },
    schema: {
      tags: ['connect'],
      summary: 'A link to the hosted settings page acting as this tenant for account settings only, until it expires',
      body: ConnectSessionCreate,
      response: { 201: ConnectSessionCreated, ...errors },
    },
  }, async (req, reply) => {
    const created = await sessions.create(tenantOf(req), req.body ?? {});
    req.log.info({ expiresAt: created.expiresAt }, 'connect session created');
    return reply.status(201).send(created);
  });

  app.get('/v1/connect-session', {
    config: { access: 'tenant' },
    schema: {
      tags: ['connect'],
      summary: "The caller's connect session (its return URL and expiry); both are null for an API key",
      response: { 200: ConnectSessionInfo, ...errors },
    },
  }, async (req) => {
    const p = req.principal;
    if (p?.kind === 'tenant' && p.via === 'connect_session') return { tenantId: p.tenantId, returnUrl: p.session.returnUrl, expiresAt: p.session.expiresAt };
    return { tenantId: tenantOf(req), returnUrl: null, expiresAt: null };
  });
}
