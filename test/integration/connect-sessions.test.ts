import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { trackSecret } from '../helpers/secrets.js';
import { connectSessionMayCall } from '../../src/api/auth.js';

/** The token of a connect-session URL (`.../connect#token=...`), tracked so the log sentinel proves it is never logged. */
function tokenOf(url: string): string {
  const m = /#token=([\w-]+)$/.exec(url);
  assert.ok(m, `no token in ${url}`);
  return trackSecret(m[1]!);
}

describe('connect sessions (API.md "Hosted settings page")', () => {
  let t: TestApp;
  let tenant: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };

  before(async () => {
    t = await startTestApp({ name: 'connect-sessions', env: { MAILPORT_PUBLIC_URL: 'https://mail.platform.test/' } });
    tenant = await t.createTenant('Acme');
    other = await t.createTenant('Other');
  });
  after(async () => t?.close());

  async function session(body: unknown = {}, token = tenant.apiKey): Promise<{ token: string; url: string; expiresAt: string }> {
    const res = await t.request('POST', '/v1/connect-sessions', { token, body });
    assert.equal(res.status, 201, res.text);
    return { token: tokenOf(res.body.url), url: res.body.url, expiresAt: res.body.expiresAt };
  }

  test('a tenant gets a link to the page with the token in the fragment; only its hash is stored', async () => {
    const before = Date.now();
    const s = await session({ returnUrl: 'https://app.platform.test/settings?x=1' });
    assert.match(s.url, /^https:\/\/mail\.platform\.test\/connect#token=mp_cs_[\w-]{40,}$/);
    const ttl = Date.parse(s.expiresAt) - before;
    assert.ok(ttl > 3590_000 && ttl <= 3601_000, `default expiry is an hour, got ${ttl} ms`);
    const rows = await t.app.store.db.selectFrom('connect_sessions').selectAll().execute();
    assert.equal(rows.length, 1);
    assert.notEqual(rows[0]!.token_hash, s.token);
    assert.ok(!JSON.stringify(rows).includes(s.token), 'the token itself is not stored');
    assert.equal(rows[0]!.return_url, 'https://app.platform.test/settings?x=1');
  });

  test('the admin acting for a tenant may create one; expiresIn is bounded; returnUrl must be http(s)', async () => {
    const viaAdmin = await t.request('POST', '/v1/connect-sessions', { body: { expiresIn: 86_400 }, headers: { 'mailport-tenant': tenant.id } });
    assert.equal(viaAdmin.status, 201, viaAdmin.text);
    tokenOf(viaAdmin.body.url);
    const asAdmin = await t.request('POST', '/v1/connect-sessions', { body: {} });
    assert.equal(asAdmin.status, 403);
    for (const [body, field] of [
      [{ expiresIn: 86_401 }, 'expiresIn'],
      [{ expiresIn: 0 }, 'expiresIn'],
      [{ expiresIn: '60' }, 'expiresIn'],
      [{ returnUrl: 'javascript:alert(1)' }, 'returnUrl'],
      [{ returnUrl: 'ftp://files.example' }, 'returnUrl'],
      [{ returnUrl: 'https://user:pw@app.example/' }, 'returnUrl'],
      [{ returnUrl: 'https://app.example/\r\nSet-Cookie: x' }, 'returnUrl'],
      [{ other: 1 }, 'other'],
    ] as const) {
      const res = await t.request('POST', '/v1/connect-sessions', { token: tenant.apiKey, body });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.body.error.field, field, JSON.stringify(body));
    }
  });

  test('a session acts as its tenant on account settings, and is refused elsewhere (403)', async () => {
    const s = await session({ returnUrl: 'https://app.platform.test/done' });
    const created = await t.request('POST', '/v1/accounts?verify=false', {
      token: s.token,
      body: { name: 'Sales', type: 'smtp_imap', email: 'sales@acme.test', password: trackSecret('sales-password-1'), smtp: { host: '127.0.0.1', port: 9, security: 'none' } },
    });
    assert.equal(created.status, 201, created.text);
    const listed = await t.request('GET', '/v1/accounts', { token: tenant.apiKey });
    assert.deepEqual(listed.body.items.map((a: { id: string }) => a.id), [created.body.id], 'the account belongs to the session\'s tenant');
    for (const [method, url, body] of [
      ['GET', '/v1/accounts', undefined],
      ['GET', `/v1/accounts/${created.body.id}`, undefined],
      ['POST', `/v1/accounts/${created.body.id}/disable`, {}],
      ['GET', '/v1/presets', undefined],
      ['GET', '/v1/tenant', undefined],
      ['PATCH', '/v1/tenant', { fromName: 'Acme Pets' }],
    ] as const) {
      const res = await t.request(method, url, { token: s.token, body });
      assert.equal(res.status, 200, `${method} ${url}: ${res.text}`);
    }
    const info = await t.request('GET', '/v1/connect-session', { token: s.token });
    assert.deepEqual(info.body, { tenantId: tenant.id, returnUrl: 'https://app.platform.test/done', expiresAt: s.expiresAt });
    const viaKey = await t.request('GET', '/v1/connect-session', { token: tenant.apiKey });
    assert.deepEqual(viaKey.body, { tenantId: tenant.id, returnUrl: null, expiresAt: null });

    for (const [method, url, body] of [
      ['POST', '/v1/connect-sessions', {}],
      ['GET', '/v1/webhooks', undefined],
      ['POST', '/v1/webhooks', { url: 'https://hooks.example/x', events: ['*'] }],
      ['GET', '/v1/tenants', undefined],
      ['POST', '/v1/tenants', { name: 'Evil', companyEmail: 'evil@example.test' }],
    ] as const) {
      const res = await t.request(method, url, { token: s.token, body });
      assert.equal(res.status, 403, `${method} ${url}: ${res.text}`);
      assert.equal(res.body.error.code, 'FORBIDDEN');
    }
    // another tenant's account is invisible
    const theirs = await t.request('POST', '/v1/accounts?verify=false', {
      token: other.apiKey,
      body: { name: 'Theirs', type: 'smtp_imap', email: 'x@other.test', password: trackSecret('other-password-1'), smtp: { host: '127.0.0.1', port: 9, security: 'none' } },
    });
    assert.equal((await t.request('GET', `/v1/accounts/${theirs.body.id}`, { token: s.token })).status, 404);
  });

  test('an expired session is refused (401) with words a person understands', async () => {
    const s = await session({ expiresIn: 1 });
    assert.equal((await t.request('GET', '/v1/accounts', { token: s.token })).status, 200);
    await new Promise((r) => setTimeout(r, 1_100));
    const res = await t.request('GET', '/v1/accounts', { token: s.token });
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'UNAUTHORIZED');
    assert.match(res.body.error.message, /expired/);
    assert.ok(res.body.error.hint);
    assert.equal((await t.request('GET', '/v1/accounts', { token: 'mp_cs_not-a-real-token' })).status, 401);
  });

  test('the allow-list of routes', () => {
    assert.equal(connectSessionMayCall('GET', '/v1/accounts/:id/usage'), true);
    assert.equal(connectSessionMayCall('DELETE', '/v1/accounts/:id'), true);
    assert.equal(connectSessionMayCall('POST', '/v1/discover'), true);
    assert.equal(connectSessionMayCall('GET', '/v1/tenants'), false);
    assert.equal(connectSessionMayCall('POST', '/v1/tenant'), false);
    assert.equal(connectSessionMayCall('GET', '/v1/accountsx'), false);
    assert.equal(connectSessionMayCall('GET', undefined), false);
  });
});

describe('the settings page is served by Mailport', () => {
  let t: TestApp;
  after(async () => t?.close());

  test('/connect with a CSP whose frame-ancestors come from MAILPORT_FRAME_ANCESTORS; / redirects there', async () => {
    t = await startTestApp({ name: 'connect-page', env: { MAILPORT_FRAME_ANCESTORS: 'https://app.platform.test, https://*.crm.test' } });
    const page = await t.request('GET', '/connect', { token: null });
    assert.equal(page.status, 200, page.text.slice(0, 200));
    assert.match(String(page.headers['content-type']), /^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /frame-ancestors https:\/\/app\.platform\.test https:\/\/\*\.crm\.test(;|$)/);
    assert.match(csp, /script-src 'self'/);
    assert.equal(page.headers['x-frame-options'], undefined, 'origins are allowed, so CSP alone decides');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    const script = /src="(\/connect\/assets\/[^"]+\.js)"/.exec(page.text);
    assert.ok(script, 'the page loads its own script');
    const asset = await t.request('GET', script[1]!, { token: null });
    assert.equal(asset.status, 200);
    assert.match(String(asset.headers['content-type']), /javascript/);
    assert.match(String(asset.headers['cache-control']), /immutable/);
    assert.equal((await t.request('GET', '/connect/assets/..%2F..%2Fpackage.json', { token: null })).status, 404);
    assert.equal((await t.request('GET', '/connect/assets/missing.js', { token: null })).status, 404);
    const root = await t.request('GET', '/', { token: null });
    assert.equal(root.status, 302);
    assert.equal(root.headers.location, '/connect');
  });
});
