import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from '../helpers/app.js';

// Auth, tenants, catalog and operations routes, in process.
describe('API: auth, tenants, catalog, operations', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ name: 'api' });
  });
  after(async () => t?.close());

  test('health, readiness, OpenAPI and docs are public', async () => {
    assert.deepEqual((await t.request('GET', '/healthz', { token: null })).body, { status: 'ok' });
    assert.deepEqual((await t.request('GET', '/readyz', { token: null })).body, { status: 'ready' });
    const spec = await t.request('GET', '/openapi.json', { token: null });
    assert.equal(spec.status, 200);
    assert.equal(spec.body.openapi, '3.0.3');
    for (const path of ['/v1/tenants', '/v1/tenant', '/v1/presets', '/v1/discover', '/v1/accounts', '/v1/accounts/{id}', '/v1/accounts/{id}/verify', '/v1/accounts/{id}/enable', '/v1/accounts/{id}/disable', '/v1/accounts/{id}/usage', '/healthz', '/readyz']) {
      assert.ok(spec.body.paths[path], `${path} is in the OpenAPI document`);
    }
    const docs = await t.request('GET', '/docs/', { token: null });
    assert.equal(docs.status, 200);
    assert.match(docs.text, /swagger/i);
  });

  test('every response carries a request id', async () => {
    const res = await t.request('GET', '/healthz', { token: null });
    assert.match(String(res.headers['x-request-id']), /^req_/);
    const given = await t.request('GET', '/healthz', { token: null, headers: { 'x-request-id': 'abc-123' } });
    assert.equal(given.headers['x-request-id'], 'abc-123');
  });

  test('no token, a bad token, or the wrong kind of token', async () => {
    const none = await t.request('GET', '/v1/accounts', { token: null });
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'UNAUTHORIZED');
    assert.equal((await t.request('GET', '/v1/accounts', { token: 'mp_key_forged' })).status, 401);
    assert.equal((await t.request('GET', '/v1/accounts', { headers: { authorization: 'Basic abc' }, token: null })).status, 401);
    const tenant = await t.createTenant('Acme');
    const forbidden = await t.request('POST', '/v1/tenants', { token: tenant.apiKey, body: { name: 'X', companyEmail: 'x@x.test' } });
    assert.equal(forbidden.status, 403);
    const adminOnTenantRoute = await t.request('GET', '/v1/accounts');
    assert.equal(adminOnTenantRoute.status, 403);
    assert.match(adminOnTenantRoute.body.error.message, /mailport-tenant/);
  });

  test('tenants: created by the admin with a key shown once; a tenant reads and changes its own settings', async () => {
    const created = await t.request('POST', '/v1/tenants', { body: { name: 'Paws', companyEmail: 'team@paws.test', fromName: 'Paws Team' } });
    assert.equal(created.status, 201);
    assert.match(created.body.apiKey, /^mp_key_/);
    const key = created.body.apiKey;
    const stored = JSON.stringify(await t.app.repos.tenants.list());
    assert.ok(!stored.includes(key));
    const own = await t.request('GET', '/v1/tenant', { token: key });
    assert.equal(own.body.companyEmail, 'team@paws.test');
    assert.ok(!('apiKey' in own.body), 'the key is never shown again');
    const patched = await t.request('PATCH', '/v1/tenant', { token: key, body: { fromName: 'Paws Scheduling', companyEmail: 'hello@paws.test' } });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.fromName, 'Paws Scheduling');
    const bad = await t.request('PATCH', '/v1/tenant', { token: key, body: { companyEmail: 'nope' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'companyEmail');
    // the operator acts for the tenant with the mailport-tenant header
    const asOperator = await t.request('GET', '/v1/tenant', { headers: { 'mailport-tenant': created.body.id } });
    assert.equal(asOperator.body.id, created.body.id);
    assert.equal((await t.request('GET', '/v1/tenant', { headers: { 'mailport-tenant': 'ten_missing' } })).status, 404);
  });

  test('presets: every provider of the reference, `other` present, limits and Sent-copy facts', async () => {
    const tenant = await t.createTenant('Cat');
    const res = await t.request('GET', '/v1/presets', { token: tenant.apiKey });
    assert.equal(res.status, 200);
    const ids = res.body.map((p: { id: string }) => p.id);
    for (const id of ['gmail', 'google_workspace', 'outlook', 'microsoft365', 'yahoo', 'icloud', 'aol', 'zoho', 'fastmail', 'gmx', 'yandex', 'hostgator', 'godaddy', 'bluehost', 'ionos', 'rackspace', 'other']) {
      assert.ok(ids.includes(id), `${id} is in the catalog`);
    }
    const gmail = res.body.find((p: { id: string }) => p.id === 'gmail');
    assert.equal(gmail.savesSentCopy, true);
    assert.equal(gmail.smtp.host, 'smtp.gmail.com');
    assert.ok('perDay' in gmail.limits);
    const other = res.body.find((p: { id: string }) => p.id === 'other');
    assert.equal(other.smtp, null);
  });

  test('discover: a catalog domain answers from the preset', async () => {
    const tenant = await t.createTenant('Disc');
    const res = await t.request('POST', '/v1/discover', { token: tenant.apiKey, body: { email: 'someone@gmail.com' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.source, 'preset');
    assert.equal(res.body.preset, 'gmail');
    assert.equal(res.body.imap.host, 'imap.gmail.com');
    const bad = await t.request('POST', '/v1/discover', { token: tenant.apiKey, body: { email: 'no-at-sign' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'email');
  });

  test('unknown routes are 404 in the error shape', async () => {
    const res = await t.request('GET', '/v1/nothing-here');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'NOT_FOUND');
  });
});
