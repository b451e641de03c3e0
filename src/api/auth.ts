import type { FastifyRequest } from 'fastify';
import { MailportError } from '../core/errors.js';
import { hashToken, sameHash } from '../secrets/secret-box.js';
import type { TenantsService } from '../tenants/tenants.service.js';
import type { ConnectSessionGrant } from '../tenants/connect-sessions.service.js';

/**
 * Who is calling: the operator, or a tenant (through its API key, or the admin acting for it), or
 * a connect session of the hosted settings page (its tenant, for account settings, reading
 * correspondence and campaigns, and working campaign queues: {@link connectSessionMayCall}).
 */
export type Principal =
  | { kind: 'admin' }
  | { kind: 'tenant'; tenantId: string; via: 'api_key' | 'admin' }
  | { kind: 'tenant'; tenantId: string; via: 'connect_session'; session: ConnectSessionGrant };

/** What a route accepts: `public` (no token), `any` (a valid token), `admin`, `tenant`. */
export type Access = 'public' | 'any' | 'admin' | 'tenant';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    access?: Access;
  }
}

/** The header with which the admin token acts for one tenant (the operator's use of tenant routes). */
export const TENANT_HEADER = 'mailport-tenant';

export interface AuthDeps {
  adminTokenHash: string;
  tenants: TenantsService;
  /** resolves connect-session tokens (throws UNAUTHORIZED once expired); without it they are refused */
  connectSessions?: { authenticate(token: string): Promise<ConnectSessionGrant | undefined> };
}

/** The queue actions of a campaign's inbound queue that the settings page's queue view offers. */
const QUEUE_ACTIONS = new Set(['/v1/campaigns/:id/queue/:itemId/claim', '/v1/campaigns/:id/queue/:itemId/done', '/v1/campaigns/:id/queue/:itemId/release']);

/**
 * The routes a connect session may call: account settings (API.md "a connect session token acts as
 * its tenant for account settings only"), and for the page's correspondence and campaign-queue
 * views, reading recorded messages and campaigns (GET only) and working a queue (claim, done,
 * release). Everything else (webhooks, new sessions, sending, creating campaigns, tenant
 * administration) needs an API key.
 */
export function connectSessionMayCall(method: string, routeUrl: string | undefined): boolean {
  if (!routeUrl) return false;
  if (routeUrl === '/v1/accounts' || routeUrl.startsWith('/v1/accounts/')) return true;
  if (routeUrl === '/v1/presets' || routeUrl === '/v1/discover') return true;
  if (routeUrl === '/v1/tenant') return method === 'GET' || method === 'PATCH';
  if (routeUrl === '/v1/connect-session') return method === 'GET';
  // read only: GET /v1/messages shares its path with sending (POST), which stays refused
  if (routeUrl === '/v1/messages' || routeUrl.startsWith('/v1/messages/')) return method === 'GET';
  if (routeUrl === '/v1/campaigns' || routeUrl.startsWith('/v1/campaigns/')) return method === 'GET' || (method === 'POST' && QUEUE_ACTIONS.has(routeUrl));
  return false;
}

function bearer(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+([\x21-\x7e]{1,512})$/i.exec(h.trim());
  return m ? m[1]! : null;
}

/**
 * Resolves the caller and enforces the route's access level; another tenant's data stays
 * invisible because tenant routes only ever receive the caller's own tenant id.
 */
export async function authenticate(req: FastifyRequest, access: Access, deps: AuthDeps): Promise<void> {
  if (access === 'public') return;
  const token = bearer(req);
  if (!token) throw new MailportError('UNAUTHORIZED');
  const hash = hashToken(token);
  if (sameHash(hash, deps.adminTokenHash)) {
    const acting = req.headers[TENANT_HEADER];
    if (typeof acting === 'string' && acting) {
      // the operator acting for a tenant: the tenant must exist
      await deps.tenants.get(acting).catch(() => {
        throw new MailportError('NOT_FOUND', { message: 'Tenant not found.', field: TENANT_HEADER });
      });
      req.principal = { kind: 'tenant', tenantId: acting, via: 'admin' };
    } else {
      req.principal = { kind: 'admin' };
    }
  } else {
    const tenant = await deps.tenants.authenticate(token);
    const session = tenant ? undefined : await deps.connectSessions?.authenticate(token);
    if (tenant) {
      req.principal = { kind: 'tenant', tenantId: tenant.id, via: 'api_key' };
    } else if (session) {
      req.principal = { kind: 'tenant', tenantId: session.tenantId, via: 'connect_session', session };
      if (!connectSessionMayCall(req.method, req.routeOptions.url)) {
        throw new MailportError('FORBIDDEN', { message: 'A settings-page link may only change email settings.', hint: 'Use the tenant API key for this.' });
      }
    } else {
      throw new MailportError('UNAUTHORIZED', { message: 'The token is not valid.' });
    }
  }
  if (access === 'admin' && req.principal.kind !== 'admin') {
    if (req.principal.via === 'admin') return void (req.principal = { kind: 'admin' });
    throw new MailportError('FORBIDDEN', { message: 'This needs the admin token.' });
  }
  if (access === 'tenant' && req.principal.kind !== 'tenant') {
    throw new MailportError('FORBIDDEN', { message: `This needs a tenant API key (or the admin token with a "${TENANT_HEADER}: <tenant id>" header).` });
  }
}

/** The tenant id of a tenant route's caller. */
export function tenantOf(req: FastifyRequest): string {
  if (req.principal?.kind !== 'tenant') throw new MailportError('FORBIDDEN');
  return req.principal.tenantId;
}
