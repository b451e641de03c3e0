import type { FastifyRequest } from 'fastify';
import { MailportError } from '../core/errors.js';
import { hashToken, sameHash } from '../secrets/secret-box.js';
import type { TenantsService } from '../tenants/tenants.service.js';

/** Who is calling: the operator, or a tenant (through its API key, or the admin acting for it). */
export type Principal = { kind: 'admin' } | { kind: 'tenant'; tenantId: string; via: 'api_key' | 'admin' };

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
    if (!tenant) throw new MailportError('UNAUTHORIZED', { message: 'The token is not valid.' });
    req.principal = { kind: 'tenant', tenantId: tenant.id, via: 'api_key' };
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
