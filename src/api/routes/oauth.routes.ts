import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { OAuthService } from '../../oauth/oauth.service.js';
import { tenantOf } from '../auth.js';
import { ErrorBody, IdParams } from '../schemas.js';
import { AuthorizeUrlQuery, CallbackQuery, CallbackResult, OAuthApp, OAuthAppCreate } from '../oauth.schemas.js';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

type Id = { Params: { id: string } };

/**
 * API.md "OAuth apps" (admin), the sign-in URL of an account (tenant), and the provider's
 * redirect back (public: it is the browser arriving, proven by the single-use state).
 *
 * @example
 *   oauthRoutes(app, oauth, 'https://mailport.example');
 */
export function oauthRoutes(app: FastifyInstance, oauth: OAuthService, publicUrl: string): void {
  app.post<{ Body: OAuthAppCreate }>('/v1/oauth-apps', {
    config: { access: 'admin' },
    schema: {
      tags: ['oauth'],
      summary: 'Register an OAuth app (Google or Microsoft); the client secret is stored encrypted and never returned. The newest app of a provider is used for sign-ins.',
      body: OAuthAppCreate,
      response: { 201: OAuthApp, ...errors },
    },
  }, async (req, reply) => {
    const created = await oauth.createApp(req.body);
    req.log.info({ oauthAppId: created.id, provider: created.provider }, 'oauth app created');
    return reply.status(201).send(created);
  });

  app.get('/v1/oauth-apps', {
    config: { access: 'admin' },
    schema: { tags: ['oauth'], summary: 'The OAuth apps (without secrets)', response: { 200: Type.Object({ items: Type.Array(OAuthApp) }), ...errors } },
  }, async () => ({ items: await oauth.listApps() }));

  app.delete<Id>('/v1/oauth-apps/:id', {
    config: { access: 'admin' },
    schema: { tags: ['oauth'], summary: 'Remove an OAuth app (accounts signed in through it must sign in again)', params: IdParams, response: { 204: Type.Null(), ...errors } },
  }, async (req, reply) => {
    await oauth.deleteApp(req.params.id);
    return reply.status(204).send();
  });

  app.get<Id & { Querystring: AuthorizeUrlQuery }>('/v1/accounts/:id/oauth/authorize-url', {
    config: { access: 'tenant' },
    schema: {
      tags: ['accounts'],
      summary: "The provider's sign-in URL for a gmail or outlook account; after sign-in the browser returns to returnUrl with status and code",
      params: IdParams,
      querystring: AuthorizeUrlQuery,
      response: { 200: Type.Object({ url: Type.String() }), 409: ErrorBody, ...errors },
    },
  }, async (req) => oauth.authorizeUrl(tenantOf(req), req.params.id, req.query.returnUrl));

  app.get('/oauth/callback', {
    config: { access: 'public' },
    schema: {
      tags: ['oauth'],
      summary: "The provider's redirect after sign-in: stores the tokens, verifies, and redirects to the returnUrl (or answers JSON without one)",
      querystring: CallbackQuery,
      response: { 200: CallbackResult, 302: Type.Null(), 400: ErrorBody },
    },
  }, async (req, reply) => {
    const current = new URL(req.url, publicUrl);
    const { location, result } = await oauth.callback(current);
    req.log.info({ accountId: result.accountId, status: result.status, code: result.code }, 'oauth sign-in finished');
    if (location) return reply.redirect(location, 302);
    return result;
  });
}
