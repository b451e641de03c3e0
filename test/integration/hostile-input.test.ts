import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { trackSecret } from '../helpers/secrets.js';

/**
 * Every route in the OpenAPI document gets malformed and hostile bodies, ids and queries. The rule
 * (API.md): a clear 4xx in the error shape, with the field for a 400, never a 500 and never a crash.
 */
const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
const HOSTILE: Array<{ name: string; payload: string; contentType?: string }> = [
  { name: 'not JSON', payload: 'not json at all' },
  { name: 'truncated JSON', payload: '{"name": "x", ' },
  { name: 'an array', payload: '[]' },
  { name: 'a string', payload: '"hello"' },
  { name: 'a number', payload: '12345' },
  { name: '__proto__ pollution', payload: '{"__proto__": {"isAdmin": true}, "name": "x"}' },
  { name: 'constructor.prototype pollution', payload: '{"constructor": {"prototype": {"isAdmin": true}}}' },
  { name: 'deep nesting', payload: deep(100_000) },
  { name: 'deep object nesting', payload: '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000) },
  { name: 'a 2 MB string', payload: JSON.stringify({ name: 'x'.repeat(2_000_000), email: 'a@b.test', companyEmail: 'a@b.test' }) },
  { name: 'control characters', payload: JSON.stringify({ name: 'a\r\nRCPT TO:<x@evil.test>\u0000', email: 'a@b.test\r\n', companyEmail: 'x\n@y.test', password: 'p\r\nQUIT' }) },
  { name: 'wrong types everywhere', payload: JSON.stringify({ name: 42, type: ['smtp_imap'], email: { a: 1 }, smtp: 'smtp.example.com:587', enabled: 'yes', receiveEmails: 1, limits: 'lots', companyEmail: 7 }) },
  { name: 'unknown fields', payload: JSON.stringify({ isAdmin: true, tenantId: 'ten_other', id: 'acc_x' }) },
  { name: 'invalid UTF-8', payload: Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]).toString('latin1') },
  { name: 'form encoded', payload: 'name=x&email=a@b.test', contentType: 'application/x-www-form-urlencoded' },
  { name: 'text/plain', payload: '{"name":"x"}', contentType: 'text/plain' },
  { name: 'no content type', payload: '{"name":"x"}', contentType: '' },
  { name: 'empty body', payload: '' },
];
const HOSTILE_IDS = ['..%2F..%2Fetc%2Fpasswd', '%00', 'x'.repeat(500), "acc_1'%20OR%20'1'='1", '%E2%80%AE', '__proto__'];

describe('hostile input on every route', () => {
  let t: TestApp;
  let tenant: { id: string; apiKey: string };
  let routes: Array<{ method: string; path: string; hasBody: boolean }> = [];

  before(async () => {
    t = await startTestApp({ name: 'hostile' });
    tenant = await t.createTenant('Hostile');
    const spec = (await t.request('GET', '/openapi.json', { token: null })).body;
    for (const [path, methods] of Object.entries<Record<string, { requestBody?: unknown }>>(spec.paths)) {
      for (const [method, op] of Object.entries(methods)) routes.push({ method: method.toUpperCase(), path, hasBody: Boolean(op.requestBody) });
    }
    assert.ok(routes.length >= 15, `found ${routes.length} routes`);
  });
  after(async () => t?.close());

  /** routes of the operator (tenants, OAuth apps): a tenant key would only ever see 403 there */
  const adminOnly = (path: string) => path.startsWith('/v1/tenants') || path.startsWith('/v1/oauth-apps');

  async function freshAccountId(): Promise<string> {
    const res = await t.request('POST', '/v1/accounts?verify=false', {
      token: tenant.apiKey,
      body: { name: 'Target', type: 'smtp_imap', email: 'target@example.test', password: trackSecret('target-password'), smtp: { host: '127.0.0.1', port: 9, security: 'none' } },
    });
    assert.equal(res.status, 201, res.text);
    return res.body.id;
  }

  function check(route: string, res: { status: number; body: any; text: string }) {
    assert.ok(res.status < 500, `${route}: answered ${res.status} ${res.text.slice(0, 300)}`);
    if (res.status >= 400) {
      assert.equal(typeof res.body?.error?.code, 'string', `${route}: error shape: ${res.text.slice(0, 200)}`);
      assert.equal(typeof res.body.error.message, 'string');
      if (res.status === 400) assert.equal(typeof res.body.error.field, 'string', `${route}: a 400 names the field: ${res.text.slice(0, 200)}`);
    }
  }

  test('malformed and hostile bodies', async () => {
    for (const route of routes) {
      for (const h of HOSTILE) {
        const id = route.path.includes('{id}') ? await freshAccountId() : '';
        const url = route.path.replace('{id}', id);
        const headers: Record<string, string> = {};
        if (h.contentType !== '') headers['content-type'] = h.contentType ?? 'application/json';
        const token = adminOnly(route.path) ? t.adminToken : tenant.apiKey;
        const res = await t.request(route.method, url, { token, rawBody: route.method === 'GET' ? undefined : h.payload, headers });
        check(`${route.method} ${route.path} with ${h.name}`, res);
        if (route.hasBody && h.name !== 'empty body') {
          assert.ok([400, 413].includes(res.status), `${route.method} ${route.path} with ${h.name}: expected 400, got ${res.status} ${res.text.slice(0, 200)}`);
        }
      }
    }
  });

  test('hostile ids and query strings', async () => {
    for (const route of routes.filter((r) => r.path.includes('{id}'))) {
      for (const bad of HOSTILE_IDS) {
        const res = await t.request(route.method, route.path.replace('{id}', bad) + '?verify=maybe&limit=-1&cursor=%00', {
          token: adminOnly(route.path) ? t.adminToken : tenant.apiKey,
          body: route.hasBody ? {} : undefined,
        });
        check(`${route.method} ${route.path} id=${bad.slice(0, 20)}`, res);
        assert.ok([400, 404].includes(res.status), `${route.method} ${route.path} id=${bad.slice(0, 20)}: ${res.status}`);
      }
    }
    const q = await t.request('POST', '/v1/accounts?verify=nope', { token: tenant.apiKey, body: {} });
    assert.equal(q.status, 400);
  });

  test('the process is still healthy and nothing already accepted was lost', async () => {
    assert.equal((await t.request('GET', '/healthz', { token: null })).status, 200);
    const list = await t.request('GET', '/v1/accounts', { token: tenant.apiKey });
    assert.ok(list.body.items.length > 0);
    assert.ok(list.body.items.every((a: { email: string }) => a.email === 'target@example.test'));
  });
});
