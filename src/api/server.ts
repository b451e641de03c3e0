import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from '@sinclair/typebox';
import type { Logger } from 'pino';
import { MailportError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { Catalog } from '../catalog/catalog.js';
import type { TenantsService } from '../tenants/tenants.service.js';
import type { WebhooksService } from '../events/webhooks.service.js';
import { authenticate, TENANT_HEADER } from './auth.js';
import { errorHandler } from './errors.js';
import { accountRoutes } from './routes/accounts.routes.js';
import { catalogRoutes, type DiscoverFn } from './routes/catalog.routes.js';
import { tenantRoutes } from './routes/tenants.routes.js';
import { webhookRoutes } from './routes/webhooks.routes.js';
import { outboxRoutes } from './routes/outbox.routes.js';
import { correspondenceRoutes } from './routes/correspondence.routes.js';
import type { CorrespondenceService } from '../inbound/correspondence.service.js';
import type { OutboxService } from '../outbound/outbox.service.js';
import { connectRoutes } from './routes/connect.routes.js';
import { webRoutes, type WebOptions } from './routes/web.routes.js';
import type { ConnectSessionsService } from '../tenants/connect-sessions.service.js';
import { Account, Endpoint, ErrorBody } from './schemas.js';
import type { OAuthService } from '../oauth/oauth.service.js';
import { oauthRoutes } from './routes/oauth.routes.js';
import { metricsRoutes, type MetricsRouteOptions } from './routes/metrics.routes.js';
import { campaignRoutes } from './routes/campaigns.routes.js';
import type { CampaignsService } from '../inbound/campaigns.service.js';

export interface ServerDeps {
  logger: Logger;
  adminTokenHash: string;
  tenants: TenantsService;
  accounts: AccountsService;
  webhooks: WebhooksService;
  catalog: Catalog;
  discover: DiscoverFn;
  /** throws when the service cannot serve (database unreachable, shutting down) */
  ready: () => Promise<void>;
  bodyLimit: number;
  version: string;
  /** sending and the outbox; without it, their routes are absent */
  outbox?: OutboxService;
  /** recorded correspondence (GET /v1/messages...); without it, its routes are absent */
  correspondence?: CorrespondenceService;
  /** connect sessions of the hosted settings page; without them, their routes and tokens are absent */
  connectSessions?: ConnectSessionsService;
  /** the hosted settings page at /connect; without it, not served */
  web?: WebOptions;
  /** OAuth apps, sign-in URLs and the callback; publicUrl is where the callback is reached */
  oauth?: { service: OAuthService; publicUrl: string };
  /** GET /metrics and per-request counting; without it, /metrics is absent */
  metrics?: MetricsRouteOptions;
  /** a worker node: only /healthz, /readyz, /metrics (and /openapi.json); no API routes, no settings page */
  operationsOnly?: boolean;
  /** campaigns and their inbound queues (GET/POST /v1/campaigns...); without it, their routes are absent */
  campaigns?: CampaignsService;
}

/** Fastify's request log fields, with the query of /oauth/callback left out. */
function requestForLog(req: { method?: string; url?: string; host?: string; ip?: string; socket?: { remotePort?: number } }) {
  const url = req.url ?? '';
  return { method: req.method, url: url.startsWith('/oauth/callback') ? url.replace(/\?.*$/, '?[redacted]') : url, host: req.host, remoteAddress: req.ip, remotePort: req.socket?.remotePort };
}

/**
 * The HTTP API of API.md, with its OpenAPI document at /openapi.json and a reader at /docs.
 *
 * @example
 *   const app = await buildServer(deps);
 *   await app.listen({ port: 3000, host: '127.0.0.1' });
 */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    bodyLimit: deps.bodyLimit,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.:-]{1,100}$/.test(given) ? given : newId('req');
    },
    // a JSON body with __proto__ or constructor.prototype is refused, not merged
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false } },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // errors the router raises before a route is found (an over-long id) get the API's error body too
    frameworkErrors: (err, req, reply) => void errorHandler(err, req, reply),
    // the OAuth callback's query carries the authorization code and state: logged without it
    childLoggerFactory: (logger, bindings, opts) => logger.child(bindings, { ...opts, serializers: { ...(opts as { serializers?: object }).serializers, req: requestForLog } }),
  });

  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Mailport API', version: deps.version, description: 'Self-hosted email integration gateway. Errors are `{error: {code, message, hint?, field?, protocol?}}`; see docs/errors.md for the codes.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: `Admin token, tenant API key, or connect-session token. The admin token acts for a tenant with the "${TENANT_HEADER}" header.` } } },
      security: [{ bearer: [] }],
      tags: [
        { name: 'tenants', description: 'Tenants (admin) and their own settings' },
        { name: 'catalog', description: 'Provider presets and discovery' },
        { name: 'accounts', description: 'Connected email providers' },
        { name: 'webhooks', description: 'Signed event notifications to your URLs, and their delivery log' },
        { name: 'sending', description: 'Queue messages and follow them in the outbox' },
        { name: 'correspondence', description: 'Messages exchanged through connected mailboxes: threads, contacts, raw messages' },
        { name: 'campaigns', description: 'Campaigns: inbound mail of receiving accounts queued for your workers (claim, done)' },
        { name: 'connect', description: 'Links to the hosted settings page (connect sessions)' },
        { name: 'oauth', description: 'OAuth apps (admin) and the sign-in callback' },
        { name: 'operations', description: 'Health, readiness, documents' },
      ],
    },
  });
  app.addSchema(Endpoint);
  app.addSchema(ErrorBody);
  app.addSchema(Account);
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' }, staticCSP: true });

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    const err = new MailportError('NOT_FOUND', { message: `No route ${req.method} ${req.url.split('?')[0]}.` });
    return reply.status(404).send(err.toBody());
  });

  // every route declares its access level; the default is the strictest
  app.addHook('onRequest', async (req) => {
    const access = req.routeOptions.config?.access ?? (req.routeOptions.url?.startsWith('/docs') ? 'public' : 'admin');
    await authenticate(req, access, { adminTokenHash: deps.adminTokenHash, tenants: deps.tenants, connectSessions: deps.connectSessions });
  });

  app.get('/healthz', { config: { access: 'public' }, schema: { tags: ['operations'], summary: 'The process is alive', response: { 200: Type.Object({ status: Type.String() }) } } }, async () => ({ status: 'ok' }));
  app.get('/readyz', {
    config: { access: 'public' },
    schema: { tags: ['operations'], summary: 'Ready to serve (database reachable, not shutting down)', response: { 200: Type.Object({ status: Type.String() }), 503: ErrorBody } },
  }, async (req, reply) => {
    try {
      await deps.ready();
      return { status: 'ready' };
    } catch (err) {
      req.log.warn({ err }, 'not ready');
      return reply.status(503).send(new MailportError('UNAVAILABLE').toBody());
    }
  });
  app.get('/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, async () => app.swagger());
  if (deps.metrics) metricsRoutes(app, deps.metrics);
  if (deps.operationsOnly) return app;

  tenantRoutes(app, deps.tenants);
  catalogRoutes(app, deps.catalog, deps.discover);
  accountRoutes(app, deps.accounts);
  webhookRoutes(app, deps.webhooks);
  if (deps.outbox) outboxRoutes(app, deps.outbox);
  if (deps.correspondence) correspondenceRoutes(app, deps.correspondence);
  if (deps.connectSessions) connectRoutes(app, deps.connectSessions);
  if (deps.oauth) oauthRoutes(app, deps.oauth.service, deps.oauth.publicUrl);
  if (deps.campaigns) campaignRoutes(app, deps.campaigns);
  if (deps.web) await app.register(webRoutes, deps.web);

  return app;
}
