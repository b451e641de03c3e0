import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadPeers, addMailbox, readCaptured, type Peers } from '../helpers/peers.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { trackSecret } from '../helpers/secrets.js';

// The accounts API end to end: real verification against the project's Dovecot and SMTP peers.
describe('accounts API against real mail servers', () => {
  let t: TestApp;
  let peers: Peers;
  let tenant: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };
  let box: { email: string; password: string };

  const own = (over: Record<string, unknown> = {}) => ({
    name: 'Sales',
    type: 'smtp_imap',
    email: box.email,
    password: box.password,
    smtp: { host: peers.host, port: peers.smtp.starttls, security: 'starttls' },
    ...over,
  });

  before(async () => {
    peers = loadPeers();
    t = await startTestApp({ name: 'accounts-api' });
    tenant = await t.createTenant('Acme');
    other = await t.createTenant('Other');
    box = await addMailbox();
    trackSecret(box.password);
  });
  after(async () => t?.close());

  test('a working SMTP + IMAP account is verified, saved green, and never shows its password', async () => {
    const res = await t.request('POST', '/v1/accounts', {
      token: tenant.apiKey,
      body: own({ receiveEmails: true, imap: { host: peers.host, port: peers.imap.tls, security: 'tls' } }),
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.status, 'active');
    assert.equal(res.body.statusColor, 'green');
    assert.equal(res.body.hasPassword, true);
    assert.equal(res.body.lastError, null);
    assert.equal(res.body.username, box.email);
    assert.ok(!res.text.includes(box.password), 'the password is never in a response');
    assert.ok(!('password' in res.body));

    const list = await t.request('GET', '/v1/accounts', { token: tenant.apiKey });
    assert.equal(list.status, 200);
    assert.equal(list.body.items.length, 1);
    assert.ok(!list.text.includes(box.password));

    const stored = await t.app.repos.accounts.get(tenant.id, res.body.id);
    assert.ok(stored?.password_enc?.startsWith('v1.'), 'stored encrypted with a key id');
    assert.ok(!stored!.password_enc!.includes(box.password));
  });

  test('a wrong password answers 422 AUTH_FAILED beside the password field, and saves nothing', async () => {
    const before = (await t.request('GET', '/v1/accounts', { token: tenant.apiKey })).body.items.length;
    const wrong = trackSecret('definitely-wrong-pass');
    const res = await t.request('POST', '/v1/accounts', { token: tenant.apiKey, body: own({ password: wrong }) });
    assert.equal(res.status, 422, res.text);
    assert.equal(res.body.error.code, 'AUTH_FAILED');
    assert.equal(res.body.error.field, 'password');
    assert.equal(res.body.error.protocol, 'smtp');
    assert.ok(res.body.error.hint, 'a hint says what to change');
    assert.ok(Array.isArray(res.body.checks));
    const after = (await t.request('GET', '/v1/accounts', { token: tenant.apiKey })).body.items.length;
    assert.equal(after, before, 'nothing was saved');
  });

  test('a wrong encryption setting is TLS_MISMATCH beside the security field', async () => {
    const res = await t.request('POST', '/v1/accounts', { token: tenant.apiKey, body: own({ smtp: { host: peers.host, port: peers.smtp.starttls, security: 'tls' } }) });
    assert.equal(res.status, 422, res.text);
    assert.equal(res.body.error.code, 'TLS_MISMATCH');
    assert.equal(res.body.error.field, 'smtp.security');
  });

  test('a host that resolves to loopback is refused when private hosts are not allowed', async () => {
    const strict = await startTestApp({ name: 'accounts-strict', env: { MAILPORT_ALLOW_PRIVATE_HOSTS: '' } });
    try {
      const tt = await strict.createTenant();
      const res = await strict.request('POST', '/v1/accounts', { token: tt.apiKey, body: own({ smtp: { host: 'localhost', port: peers.smtp.starttls, security: 'starttls' } }) });
      assert.equal(res.status, 422, res.text);
      assert.equal(res.body.error.code, 'ADDRESS_BLOCKED');
      assert.equal(res.body.error.field, 'smtp.host');
    } finally {
      await strict.close();
    }
  });

  test('?verify=false saves grey and unverified without connecting', async () => {
    const res = await t.request('POST', '/v1/accounts?verify=false', { token: tenant.apiKey, body: own({ password: trackSecret('not-checked-yet'), name: 'Later' }) });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.status, 'unverified');
    assert.equal(res.body.statusColor, 'grey');
  });

  test('verify later: a wrong stored password turns the account red with lastError; not retried automatically until the password changes', async () => {
    const created = await t.request('POST', '/v1/accounts?verify=false', { token: tenant.apiKey, body: own({ password: trackSecret('stale-password-1'), name: 'Stale' }) });
    const id = created.body.id;
    const v = await t.request('POST', `/v1/accounts/${id}/verify`, { token: tenant.apiKey });
    assert.equal(v.status, 200, v.text);
    assert.equal(v.body.status, 'error');
    assert.equal(v.body.checks[0].code, 'AUTH_FAILED');
    const got = await t.request('GET', `/v1/accounts/${id}`, { token: tenant.apiKey });
    assert.equal(got.body.statusColor, 'red');
    assert.equal(got.body.lastError.code, 'AUTH_FAILED');
    assert.ok(got.body.lastError.hint);
    let row = await t.app.repos.accounts.get(tenant.id, id);
    assert.equal(t.app.accounts.mayRetryAutomatically(row!), false, 'the same credentials are not tried again automatically');

    // the person fixes the password: verified on save, green again, retries allowed
    const fixed = await t.request('PATCH', `/v1/accounts/${id}`, { token: tenant.apiKey, body: { password: box.password } });
    assert.equal(fixed.status, 200, fixed.text);
    assert.equal(fixed.body.statusColor, 'green');
    assert.equal(fixed.body.lastError, null);
    row = await t.app.repos.accounts.get(tenant.id, id);
    assert.equal(t.app.accounts.mayRetryAutomatically(row!), true);
  });

  test('PATCH with a wrong password answers 422 and keeps the working settings', async () => {
    const created = await t.request('POST', '/v1/accounts', { token: tenant.apiKey, body: own({ name: 'Keep' }) });
    assert.equal(created.status, 201, created.text);
    const id = created.body.id;
    const bad = await t.request('PATCH', `/v1/accounts/${id}`, { token: tenant.apiKey, body: { password: trackSecret('another-wrong-one') } });
    assert.equal(bad.status, 422);
    const row = await t.app.repos.accounts.get(tenant.id, id);
    assert.equal(t.app.accounts.password(row!), box.password, 'the old password is still stored');
    // a rename does not re-verify (and so needs no password)
    const renamed = await t.request('PATCH', `/v1/accounts/${id}`, { token: tenant.apiKey, body: { name: 'Kept' } });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.body.name, 'Kept');
    assert.equal(renamed.body.statusColor, 'green');
  });

  test('enable, disable (grey), usage, clear (erases the password), delete (404 after)', async () => {
    const created = await t.request('POST', '/v1/accounts', { token: tenant.apiKey, body: own({ name: 'Switch' }) });
    const id = created.body.id;
    const off = await t.request('POST', `/v1/accounts/${id}/disable`, { token: tenant.apiKey });
    assert.equal(off.body.enabled, false);
    assert.equal(off.body.statusColor, 'grey');
    const on = await t.request('POST', `/v1/accounts/${id}/enable`, { token: tenant.apiKey });
    assert.equal(on.body.statusColor, 'green');
    const usage = await t.request('GET', `/v1/accounts/${id}/usage`, { token: tenant.apiKey });
    assert.equal(usage.status, 200);
    assert.equal(usage.body.sentInWindow, 0);
    const cleared = await t.request('POST', `/v1/accounts/${id}/clear`, { token: tenant.apiKey });
    assert.equal(cleared.body.hasPassword, false);
    assert.equal(cleared.body.statusColor, 'grey');
    const del = await t.request('DELETE', `/v1/accounts/${id}`, { token: tenant.apiKey });
    assert.equal(del.status, 204);
    assert.equal(await t.app.repos.accounts.get(tenant.id, id), undefined, 'the row and its secrets are gone');
    assert.equal((await t.request('GET', `/v1/accounts/${id}`, { token: tenant.apiKey })).status, 404);
  });

  test("another tenant's account answers 404 on every route", async () => {
    const created = await t.request('POST', '/v1/accounts?verify=false', { token: tenant.apiKey, body: own({ name: 'Private' }) });
    const id = created.body.id;
    for (const [method, path] of [['GET', ''], ['PATCH', ''], ['DELETE', ''], ['POST', '/verify'], ['POST', '/enable'], ['POST', '/disable'], ['POST', '/clear'], ['GET', '/usage']] as const) {
      const res = await t.request(method, `/v1/accounts/${id}${path}`, { token: other.apiKey, body: method === 'PATCH' ? { name: 'x' } : undefined });
      assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
      assert.equal(res.body.error.code, 'NOT_FOUND');
    }
    assert.equal((await t.request('GET', '/v1/accounts', { token: other.apiKey })).body.items.length, 0);
  });

  test('security none is allowed with a PLAINTEXT_PASSWORD warning', async () => {
    const res = await t.request('POST', '/v1/accounts', { token: tenant.apiKey, body: own({ name: 'Plain', smtp: { host: peers.host, port: peers.smtp.noStarttls, security: 'none' } }) });
    assert.equal(res.status, 201, res.text);
    assert.ok(res.body.warnings.some((w: { code: string }) => w.code === 'PLAINTEXT_PASSWORD'));
  });

  test('POP3 receiving (receive-only) is verified and says that it cannot record sent mail', async () => {
    const res = await t.request('POST', '/v1/accounts', {
      token: tenant.apiKey,
      body: own({ name: 'Pop', receiveEmails: true, pop: { host: peers.host, port: peers.pop3.tls, security: 'tls' } }),
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.pop.port, peers.pop3.tls);
    assert.ok(res.body.warnings.some((w: { code: string }) => w.code === 'POP_RECEIVE_ONLY'));
  });

  test('input rules: ports are whole numbers 1-65535; incoming settings only when receiving; presets fill hosts', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [own({ smtp: { host: peers.host, port: '587', security: 'starttls' } }), 'smtp.port'],
      [own({ smtp: { host: peers.host, port: 70000, security: 'starttls' } }), 'smtp.port'],
      [own({ smtp: { host: peers.host, port: 58.7, security: 'starttls' } }), 'smtp.port'],
      [own({ smtp: { host: peers.host, port: 587, security: 'ssl' } }), 'smtp.security'],
      [own({ receiveEmails: true }), 'imap'],
      [own({ type: 'carrier-pigeon' }), 'type'],
      [own({ preset: 'no_such_preset' }), 'preset'],
      [own({ email: 'not-an-address' }), 'email'],
      [own({ smtp: undefined }), 'smtp'],
    ];
    for (const [body, field] of cases) {
      const res = await t.request('POST', '/v1/accounts', { token: tenant.apiKey, body });
      assert.equal(res.status, 400, `${field}: ${res.text}`);
      assert.equal(res.body.error.code, 'INVALID_INPUT');
      assert.equal(res.body.error.field, field, res.text);
    }
    // a preset fills in the hosts: saved without checking, the hosts come from the catalog
    const res = await t.request('POST', '/v1/accounts?verify=false', { token: tenant.apiKey, body: { name: 'Fm', type: 'smtp_imap', preset: 'fastmail', email: 'someone@fastmail.com', password: trackSecret('fm-app-password') } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.smtp.host, 'smtp.fastmail.com');
    assert.equal(res.body.imap.host, 'imap.fastmail.com', 'IMAP comes with the preset (it serves the Sent copy)');
    assert.equal(res.body.pop, null, 'POP only when asked for');
    assert.equal(res.body.limits.perDay === null || typeof res.body.limits.perDay === 'number', true);
  });

  test('gmail and outlook accounts are saved grey until their OAuth sign-in', async () => {
    const res = await t.request('POST', '/v1/accounts', { token: tenant.apiKey, body: { name: 'G', type: 'gmail', email: 'someone@gmail.com' } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.statusColor, 'grey');
    assert.equal(res.body.smtp.host, 'smtp.gmail.com');
    assert.equal(res.body.imap.host, 'imap.gmail.com');
    const withPassword = await t.request('POST', '/v1/accounts', { token: tenant.apiKey, body: { name: 'G', type: 'outlook', email: 'someone@outlook.com', password: trackSecret('nope-nope') } });
    assert.equal(withPassword.status, 400);
    assert.equal(withPassword.body.error.field, 'password');
  });

  test('send test email: a real message goes out and lands in the mailbox; a refused recipient and a bad password are classified', async () => {
    const created = await t.request('POST', '/v1/accounts', { token: tenant.apiKey, body: own({ name: 'Tester', fromName: 'Acme Sales' }) });
    assert.equal(created.status, 201, created.text);
    const id = created.body.id;
    const sent = await t.request('POST', `/v1/accounts/${id}/test-send`, { token: tenant.apiKey });
    assert.equal(sent.status, 200, sent.text);
    assert.match(sent.body.response, /^250 /);
    assert.deepEqual(sent.body.accepted, [box.email]);
    const captured = await readCaptured(sent.body.messageId);
    assert.equal(captured.user, box.email, 'authenticated as the account');
    assert.ok(captured.delivered.includes(box.email), 'delivered into the Dovecot INBOX');
    assert.match(captured.raw.toString(), /From: "?Acme Sales"? <[^>]+>/);

    const refused = await t.request('POST', `/v1/accounts/${id}/test-send`, { token: tenant.apiKey, body: { to: 'reject-me@example.test' } });
    assert.equal(refused.status, 422, refused.text);
    assert.equal(refused.body.error.code, 'SEND_REJECTED');
    assert.equal(refused.body.error.field, 'to');
    assert.equal((await t.request('GET', `/v1/accounts/${id}`, { token: tenant.apiKey })).body.statusColor, 'green', 'a refused recipient says nothing about the account');

    const stale = await t.request('POST', '/v1/accounts?verify=false', { token: tenant.apiKey, body: own({ name: 'StaleSend', password: trackSecret('stale-send-password') }) });
    const failed = await t.request('POST', `/v1/accounts/${stale.body.id}/test-send`, { token: tenant.apiKey });
    assert.equal(failed.status, 422);
    assert.equal(failed.body.error.code, 'AUTH_FAILED');
    assert.equal((await t.request('GET', `/v1/accounts/${stale.body.id}`, { token: tenant.apiKey })).body.statusColor, 'red');

    const bad = await t.request('POST', `/v1/accounts/${id}/test-send`, { token: tenant.apiKey, body: { to: 'not an address' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'to');

    // switched off, the account is still there to be checked before it is switched on again; it stays off
    assert.equal((await t.request('POST', `/v1/accounts/${id}/disable`, { token: tenant.apiKey })).status, 200);
    const whileOff = await t.request('POST', `/v1/accounts/${id}/test-send`, { token: tenant.apiKey });
    assert.equal(whileOff.status, 200, whileOff.text);
    assert.ok((await readCaptured(whileOff.body.messageId)).delivered.includes(box.email));
    const after = (await t.request('GET', `/v1/accounts/${id}`, { token: tenant.apiKey })).body;
    assert.deepEqual([after.enabled, after.statusColor], [false, 'grey']);
  });
});
