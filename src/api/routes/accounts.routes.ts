import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { AccountsService } from '../../accounts/accounts.service.js';
import { tenantOf } from '../auth.js';
import { Account, AccountCreate, AccountPatch, EmptyBody, ErrorBody, IdParams, TestSendBody, TestSendResult, Usage, VerifyQuery, VerifyResult } from '../schemas.js';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };
const withCheck = { ...errors, 422: ErrorBody };

type Id = { Params: { id: string } };

export function accountRoutes(app: FastifyInstance, accounts: AccountsService): void {
  const config = { access: 'tenant' as const };

  app.post<{ Body: AccountCreate; Querystring: { verify?: 'true' | 'false' } }>('/v1/accounts', {
    config,
    schema: {
      tags: ['accounts'],
      summary: 'Connect an email provider; verifies before saving (422 and nothing saved when a check fails; ?verify=false skips)',
      body: AccountCreate,
      querystring: VerifyQuery,
      response: { 201: Account, ...withCheck },
    },
  }, async (req, reply) => {
    const view = await accounts.create(tenantOf(req), req.body, { verify: req.query.verify !== 'false' });
    req.log.info({ accountId: view.id, status: view.status }, 'account created');
    return reply.status(201).send(view);
  });

  app.get('/v1/accounts', {
    config,
    schema: { tags: ['accounts'], summary: "The tenant's accounts", response: { 200: Type.Object({ items: Type.Array(Account) }), ...errors } },
  }, async (req) => ({ items: await accounts.list(tenantOf(req)) }));

  app.get<Id>('/v1/accounts/:id', {
    config,
    schema: { tags: ['accounts'], params: IdParams, response: { 200: Account, ...errors } },
  }, async (req) => accounts.get(tenantOf(req), req.params.id));

  app.patch<Id & { Body: AccountPatch; Querystring: { verify?: 'true' | 'false' } }>('/v1/accounts/:id', {
    config,
    schema: {
      tags: ['accounts'],
      summary: 'Change an account; verifies again when connection settings or the password change (nothing saved on failure)',
      params: IdParams,
      body: AccountPatch,
      querystring: VerifyQuery,
      response: { 200: Account, ...withCheck },
    },
  }, async (req) => accounts.update(tenantOf(req), req.params.id, req.body, { verify: req.query.verify !== 'false' }));

  app.delete<Id>('/v1/accounts/:id', {
    config,
    schema: { tags: ['accounts'], summary: 'Delete an account and erase its secrets', params: IdParams, response: { 204: Type.Null(), ...errors } },
  }, async (req, reply) => {
    await accounts.delete(tenantOf(req), req.params.id);
    return reply.status(204).send();
  });

  app.post<Id>('/v1/accounts/:id/verify', {
    config,
    schema: { tags: ['accounts'], summary: 'Check the stored settings now and record the outcome', params: IdParams, body: EmptyBody, response: { 200: VerifyResult, ...errors } },
  }, async (req) => accounts.verify(tenantOf(req), req.params.id));

  for (const [action, enabled] of [['enable', true], ['disable', false]] as const) {
    app.post<Id>(`/v1/accounts/:id/${action}`, {
      config,
      schema: { tags: ['accounts'], summary: enabled ? 'Switch the account on' : 'Switch the account off: nothing is sent or synced, settings are kept', params: IdParams, body: EmptyBody, response: { 200: Account, ...errors } },
    }, async (req) => accounts.setEnabled(tenantOf(req), req.params.id, enabled));
  }

  app.post<Id>('/v1/accounts/:id/clear', {
    config,
    schema: { tags: ['accounts'], summary: 'Clear settings: erase the password and tokens (the account turns grey)', params: IdParams, body: EmptyBody, response: { 200: Account, ...errors } },
  }, async (req) => accounts.clear(tenantOf(req), req.params.id));

  app.post<Id & { Body: { to?: string } | null }>('/v1/accounts/:id/test-send', {
    config,
    schema: {
      tags: ['accounts'],
      summary: 'Send a real test message now through this account (to its own address unless `to` is given; a switched-off account too, to check it before switching it on); 422 with the classified error',
      params: IdParams,
      body: TestSendBody,
      response: { 200: TestSendResult, 409: ErrorBody, ...withCheck },
    },
  }, async (req) => accounts.testSend(tenantOf(req), req.params.id, req.body ?? {}));

  app.get<Id>('/v1/accounts/:id/usage', {
    config,
    schema: { tags: ['accounts'], summary: 'Sending usage against the provider limits', params: IdParams, response: { 200: Usage, ...errors } },
  }, async (req) => accounts.usage(tenantOf(req), req.params.id));
}
