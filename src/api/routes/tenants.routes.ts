import type { FastifyInstance } from 'fastify';
import type { TenantsService } from '../../tenants/tenants.service.js';
import { tenantOf } from '../auth.js';
import { ErrorBody, Tenant, TenantCreate, TenantCreated, TenantPatch } from '../schemas.js';
import { Type } from '@sinclair/typebox';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

export function tenantRoutes(app: FastifyInstance, tenants: TenantsService): void {
  app.post<{ Body: TenantCreate }>('/v1/tenants', {
    config: { access: 'admin' },
    schema: { tags: ['tenants'], summary: 'Create a tenant (admin); the API key is shown once', body: TenantCreate, response: { 201: TenantCreated, ...errors } },
  }, async (req, reply) => {
    const { tenant, apiKey } = await tenants.create(req.body);
    req.log.info({ tenantId: tenant.id }, 'tenant created');
    return reply.status(201).send({ ...tenant, apiKey });
  });

  app.get('/v1/tenants', {
    config: { access: 'admin' },
    schema: { tags: ['tenants'], summary: 'List tenants (admin)', response: { 200: Type.Object({ items: Type.Array(Tenant) }), ...errors } },
  }, async () => ({ items: await tenants.list() }));

  app.get('/v1/tenant', {
    config: { access: 'tenant' },
    schema: { tags: ['tenants'], summary: "The caller's own tenant settings", response: { 200: Tenant, ...errors } },
  }, async (req) => tenants.get(tenantOf(req)));

  app.patch<{ Body: TenantPatch }>('/v1/tenant', {
    config: { access: 'tenant' },
    schema: { tags: ['tenants'], summary: 'Change the company email and from name used by the platform processor', body: TenantPatch, response: { 200: Tenant, ...errors } },
  }, async (req) => tenants.update(tenantOf(req), req.body));
}
