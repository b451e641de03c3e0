import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promises as dns } from 'node:dns';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { trackSecret } from '../helpers/secrets.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';
import { verifySignature } from '../../src/events/signature.js';
import { WebhooksService } from '../../src/events/webhooks.service.js';
import { waitFor } from '../helpers/wait.js';

// fast settings so retries happen in milliseconds; production uses 10 s, 30 s, 1 min ... for a day
const FAST = { pollMs: 20, backoffMs: [60, 60, 60], jitter: 0, timeoutMs: 400, stopTimeoutMs: 2_000 };

/** A self-signed certificate for the name `receiver.test` only (not for 127.0.0.1). */
function certificateFor(name: string): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mailport-cert-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`,
    ], { stdio: 'pipe' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('webhooks end to end', () => {
  let t: TestApp;
  let tenant: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };
  const receivers: Receiver[] = [];
  const tls = certificateFor('receiver.test');

  async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
    const rx = await startReceiver(...args);
    receivers.push(rx);
    return rx;
  }

  async function subscribe(url: string, events: string[] = ['*'], apiKey = tenant.apiKey): Promise<{ id: string; secret: string }> {
    const res = await t.request('POST', '/v1/webhooks', { token: apiKey, body: { url, events } });
    assert.equal(res.status, 201, res.text);
    return { id: res.body.id, secret: trackSecret(res.body.secret) };
  }

  async function deliveries(webhookId: string, query = ''): Promise<any[]> {
    const res = await t.request('GET', `/v1/webhooks/${webhookId}/deliveries${query}`, { token: tenant.apiKey });
    assert.equal(res.status, 200, res.text);
    return res.body.items;
  }

  before(async () => {
    t = await startTestApp({
      name: 'webhooks',
      appOptions: {
        // the certificate's CA is trusted the way NODE_EXTRA_CA_CERTS would add it; checks stay on
        dispatcher: { ...FAST, ca: tls.cert },
        // receiver.test is a name only this test knows: it lives on loopback
        lookup: async (host) => (host === 'receiver.test' ? [{ address: '127.0.0.1', family: 4 }] : dns.lookup(host, { all: true })),
      },
    });
    tenant = await t.createTenant('Acme');
    other = await t.createTenant('Other');
    t.app.dispatcher.start();
  });
  after(async () => {
    await t?.close(); // stops the dispatcher before the store, and checks the logs for secrets
    for (const rx of receivers) await rx.close();
  });

  test('the secret is shown once at creation and never again', async () => {
    const res = await t.request('POST', '/v1/webhooks', { token: tenant.apiKey, body: { url: 'https://crm.example.com/hooks?x=1', events: ['account.error', 'message.sent'] } });
    assert.equal(res.status, 201, res.text);
    const secret = trackSecret(res.body.secret);
    assert.match(secret, /^whsec_[A-Za-z0-9_-]{40,}$/);
    assert.deepEqual(Object.keys(res.body).sort(), ['createdAt', 'events', 'id', 'secret', 'updatedAt', 'url']);
    assert.deepEqual(res.body.events, ['account.error', 'message.sent']);

    const one = await t.request('GET', `/v1/webhooks/${res.body.id}`, { token: tenant.apiKey });
    assert.equal(one.status, 200);
    assert.equal(one.body.url, 'https://crm.example.com/hooks?x=1');
    assert.ok(!('secret' in one.body));
    assert.ok(!one.text.includes(secret));
    const list = await t.request('GET', '/v1/webhooks', { token: tenant.apiKey });
    assert.ok(list.body.items.some((h: { id: string }) => h.id === res.body.id));
    assert.ok(!list.text.includes(secret));

    const stored = await t.app.repos.webhooks.get(tenant.id, res.body.id);
    assert.ok(stored?.secret_enc.startsWith('v1.'), 'sealed at rest');
    assert.ok(!stored!.secret_enc.includes(secret));
    assert.equal((await t.request('DELETE', `/v1/webhooks/${res.body.id}`, { token: tenant.apiKey })).status, 204);
  });

  test('bad URLs and event lists answer 400 with the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ url: 'ftp://example.com/x', events: ['*'] }, 'url'],
      [{ url: 'https://user:pass@example.com/x', events: ['*'] }, 'url'],
      [{ url: 'not a url', events: ['*'] }, 'url'],
      [{ url: `https://example.com/${'a'.repeat(2100)}`, events: ['*'] }, 'url'],
      [{ url: 'https://example.com/x', events: [] }, 'events'],
      [{ url: 'https://example.com/x', events: ['account.deleted'] }, 'events.0'],
      [{ url: 'https://example.com/x', events: ['*', '*'] }, 'events.1'],
      [{ url: 'https://example.com/x' }, 'events'],
      [{ events: ['*'] }, 'url'],
      [{ url: 'https://example.com/x', events: ['*'], secret: 'mine' }, 'secret'],
    ];
    for (const [body, field] of cases) {
      const res = await t.request('POST', '/v1/webhooks', { token: tenant.apiKey, body });
      assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${res.text}`);
      assert.equal(res.body.error.field, field, JSON.stringify(body).slice(0, 80));
    }
    assert.equal((await t.request('GET', '/v1/webhooks', { token: tenant.apiKey })).body.items.length, 0, 'nothing was saved');
  });

  test('an account event reaches the receiver, signed with the secret', async () => {
    const rx = await receiver();
    const hook = await subscribe(rx.url, ['account.error']);
    const acc = await t.request('POST', '/v1/accounts?verify=false', {
      token: tenant.apiKey,
      body: { name: 'Sales', type: 'smtp_imap', email: 'sales@acme.test', password: trackSecret('sales-password-1'), smtp: { host: '127.0.0.1', port: 9, security: 'starttls' } },
    });
    assert.equal(acc.status, 201, acc.text);
    await t.app.accounts.recordFailure(tenant.id, acc.body.id, { code: 'AUTH_FAILED', message: 'The mail server did not accept the password.', hint: null });

    const got = await waitFor('the delivery', async () => rx.received[0]);
    assert.equal(got.path, '/hooks/mailport');
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['user-agent'], 'Mailport-Webhooks/1');
    const signature = got.headers['mailport-signature'] as string;
    trackSecret(signature.split('v1=')[1]!);
    assert.match(signature, /^t=\d+,v1=[0-9a-f]{64}$/);
    assert.equal(verifySignature(signature, got.body, hook.secret, 60), true, 'the signature checks with the secret');
    assert.equal(verifySignature(signature, got.body, 'whsec_wrong', 60), false);

    const payload = JSON.parse(got.body);
    assert.deepEqual(Object.keys(payload).sort(), ['createdAt', 'data', 'id', 'tenantId', 'type']);
    assert.equal(payload.type, 'account.error');
    assert.equal(payload.tenantId, tenant.id);
    assert.equal(payload.data.accountId, acc.body.id);
    assert.equal(payload.data.lastError.code, 'AUTH_FAILED');
    assert.equal(got.headers['mailport-event-id'], payload.id);
    assert.equal(got.headers['mailport-event-type'], 'account.error');
    assert.ok(!got.body.includes('sales-password-1'));

    const [d] = await waitFor('delivered status', async () => {
      const items = await deliveries(hook.id);
      return items[0]?.status === 'delivered' ? items : undefined;
    });
    assert.equal(d.attempts, 1);
    assert.equal(d.eventId, payload.id);
    assert.equal(d.eventType, 'account.error');
    assert.equal(d.lastStatusCode, 200);
    assert.equal(d.response, 'ok');
    assert.ok(d.deliveredAt);
    assert.equal(d.history.length, 1);
    assert.equal(d.history[0].statusCode, 200);
  });

  test('an account event is stored with the change it reports: a change that failed keeps neither, an event that failed leaves the change', async () => {
    const own = await t.createTenant('Atomic');
    const rx = await receiver();
    await subscribe(rx.url, ['account.error'], own.apiKey);
    const acc = await t.request('POST', '/v1/accounts?verify=false', {
      token: own.apiKey,
      body: { name: 'Sales', type: 'smtp_imap', email: 'sales@atomic.test', password: trackSecret('atomic-password-1'), smtp: { host: '127.0.0.1', port: 9, security: 'starttls' } },
    });
    assert.equal(acc.status, 201, acc.text);
    const events = async () => (await t.app.store.db.selectFrom('webhook_events').select('payload').where('tenant_id', '=', own.id).execute()).map((e) => JSON.parse(e.payload).data.lastError?.code);
    const color = async () => (await t.request('GET', `/v1/accounts/${acc.body.id}`, { token: own.apiKey })).body.statusColor;

    // the change's transaction fails after its event was written: neither is kept
    const webhooks = t.app.webhooks;
    const recordIn = webhooks.recordIn.bind(webhooks);
    webhooks.recordIn = async (...args) => {
      await recordIn(...args);
      throw new Error('the database is away for a moment (test)');
    };
    try {
      await assert.rejects(t.app.accounts.recordFailure(own.id, acc.body.id, { code: 'AUTH_FAILED', message: 'The mail server did not accept the password.', hint: null }));
    } finally {
      webhooks.recordIn = recordIn;
    }
    assert.notEqual(await color(), 'red');
    assert.deepEqual(await events(), []);
    await t.app.accounts.recordFailure(own.id, acc.body.id, { code: 'AUTH_FAILED', message: 'The mail server did not accept the password.', hint: null });
    assert.equal(await color(), 'red');
    assert.deepEqual(await events(), ['AUTH_FAILED']);

    // an event whose deliveries cannot be stored (two subscriptions, one delivery id) is undone alone
    await subscribe(rx.url, ['account.error'], own.apiKey);
    const repo = t.app.repos.webhooks;
    const insertEventIn = repo.insertEventIn.bind(repo);
    repo.insertEventIn = (tx, tenantId, type, build) => insertEventIn(tx, tenantId, type, build, () => 'dlv_taken');
    try {
      await t.app.accounts.recordFailure(own.id, acc.body.id, { code: 'CONNECTION_REFUSED', message: 'The server refused the connection.', hint: null });
    } finally {
      repo.insertEventIn = insertEventIn;
    }
    const saved = (await t.request('GET', `/v1/accounts/${acc.body.id}`, { token: own.apiKey })).body;
    assert.equal(saved.lastError.code, 'CONNECTION_REFUSED', 'the change is saved');
    assert.deepEqual(await events(), ['AUTH_FAILED'], 'without its event');
    assert.equal(t.logs().split('\n').filter((l) => l.includes('could not record a webhook event')).length, 1, 'which is logged');
  });

  test('https: the socket goes to the checked address, while SNI, Host and the certificate check keep the name', async () => {
    const rx = await receiver(undefined, { tls, hostname: 'receiver.test' });
    const hook = await subscribe(rx.url, ['account.active']);
    await t.app.webhooks.emit(tenant.id, 'account.active', { accountId: 'acc_tls' });
    const d = await waitFor('delivered over TLS', async () => {
      const [item] = await deliveries(hook.id);
      return item?.status === 'delivered' ? item : undefined;
    });
    assert.equal(d.attempts, 1);
    assert.equal(rx.received[0]!.servername, 'receiver.test');
    assert.equal(rx.received[0]!.headers.host, `receiver.test:${rx.port}`);

    // the same server by address: its certificate does not name 127.0.0.1, so nothing is sent
    const byAddress = await subscribe(`https://127.0.0.1:${rx.port}/hooks/mailport`, ['account.active']);
    await t.app.webhooks.emit(tenant.id, 'account.active', { accountId: 'acc_tls2' });
    const bad = await waitFor('a certificate failure', async () => {
      const [item] = await deliveries(byAddress.id);
      return item && item.history.length >= 1 ? item : undefined;
    });
    assert.equal(bad.history[0].error.code, 'CERT_INVALID');
    assert.match(bad.history[0].error.message, /ERR_TLS_CERT_ALTNAME_INVALID/);
    assert.equal(bad.history[0].statusCode, null);
    await waitFor('the first hook got the second event too', async () => rx.received.length === 2);
    assert.equal((await t.request('DELETE', `/v1/webhooks/${byAddress.id}`, { token: tenant.apiKey })).status, 204);
    assert.equal((await t.request('DELETE', `/v1/webhooks/${hook.id}`, { token: tenant.apiKey })).status, 204);
  });

  test('a receiver that answers 500 twice is retried with backoff and finally delivered', async () => {
    const rx = await receiver((n) => (n < 2 ? { status: 500, body: `busy ${n}` } : { status: 204 }));
    const hook = await subscribe(rx.url, ['message.sent']);
    await t.app.webhooks.emit(tenant.id, 'message.sent', { messageId: 'msg_1' });

    const d = await waitFor('delivered after retries', async () => {
      const [item] = await deliveries(hook.id);
      return item?.status === 'delivered' ? item : undefined;
    });
    assert.equal(d.attempts, 3);
    assert.equal(rx.received.length, 3);
    assert.deepEqual(d.history.map((a: { attempt: number; statusCode: number }) => [a.attempt, a.statusCode]), [[1, 500], [2, 500], [3, 204]]);
    assert.equal(d.history[0].error.code, 'PROTOCOL_ERROR');
    assert.match(d.history[0].error.message, /HTTP 500/);
    assert.equal(d.history[1].response, 'busy 1');
    assert.equal(d.lastError, null);
    // every retry carries the same event and body, freshly signed
    assert.equal(new Set(rx.received.map((r) => r.body)).size, 1);
    assert.equal(new Set(rx.received.map((r) => r.headers['mailport-event-id'])).size, 1);
    for (const r of rx.received) assert.equal(verifySignature(r.headers['mailport-signature'], r.body, hook.secret, 60), true);
    const gap = Date.parse(d.history[1].at) - Date.parse(d.history[0].at);
    assert.ok(gap >= FAST.backoffMs[0]!, `the retry waited for the backoff (${gap} ms)`);
  });

  test('a receiver that never answers times out and is retried', async () => {
    const rx = await receiver(() => 'hang');
    const hook = await subscribe(rx.url, ['message.failed']);
    await t.app.webhooks.emit(tenant.id, 'message.failed', { messageId: 'msg_2' });
    const d = await waitFor('two timed-out attempts', async () => {
      const [item] = await deliveries(hook.id);
      return item && item.history.length >= 2 ? item : undefined;
    });
    assert.ok(d.attempts >= 2);
    assert.equal(d.history[0].error.code, 'TIMEOUT');
    assert.equal(d.history[0].statusCode, null);
    assert.ok(d.history[0].durationMs >= FAST.timeoutMs - 20, `bounded by the timeout (${d.history[0].durationMs} ms)`);
    assert.ok(['pending', 'delivering'].includes(d.status), 'still being retried');
    assert.ok(rx.received.length >= 2);
    assert.equal((await t.request('DELETE', `/v1/webhooks/${hook.id}`, { token: tenant.apiKey })).status, 204, 'deleting stops the retries');
  });

  test('deliveries stop being retried a day (here: maxAgeMs) after the event, then fail', async () => {
    const rx = await receiver(() => ({ status: 503 }));
    const hook = await subscribe(rx.url, ['campaign.item.queued']);
    // an event recorded 25 hours ago: its next failure is its last
    const old = new Date(Date.now() - 25 * 3_600_000);
    const service = new WebhooksService({
      repos: t.app.repos, box: t.app.box, guard: t.app.guard, logger: t.app.logger, now: () => old,
    });
    await service.emit(tenant.id, 'campaign.item.queued', { itemId: 'cqi_1' });
    const d = await waitFor('failed', async () => {
      const [item] = await deliveries(hook.id);
      return item?.status === 'failed' ? item : undefined;
    });
    assert.equal(d.attempts, 1);
    assert.equal(d.lastStatusCode, 503);
    assert.equal(d.nextAttemptAt, null);
  });

  test('another tenant can neither see nor delete the webhook', async () => {
    const hook = await subscribe('https://crm.example.com/private', ['account.active']);
    for (const [method, path] of [['GET', `/v1/webhooks/${hook.id}`], ['DELETE', `/v1/webhooks/${hook.id}`], ['GET', `/v1/webhooks/${hook.id}/deliveries`]] as const) {
      const res = await t.request(method, path, { token: other.apiKey });
      assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
      assert.equal(res.body.error.code, 'NOT_FOUND');
    }
    const list = await t.request('GET', '/v1/webhooks', { token: other.apiKey });
    assert.deepEqual(list.body.items, []);
    assert.equal((await t.request('GET', `/v1/webhooks/${hook.id}`, { token: tenant.apiKey })).status, 200, 'still there for its owner');
    // and the other tenant's events never reach this tenant's subscriptions
    await t.app.webhooks.emit(other.id, 'account.active', { accountId: 'acc_x' });
    assert.deepEqual(await deliveries(hook.id), []);
  });

  test('the delivery log filters by status and pages', async () => {
    const rx = await receiver();
    const hook = await subscribe(rx.url, ['message.deferred']);
    for (let i = 0; i < 3; i++) await t.app.webhooks.emit(tenant.id, 'message.deferred', { messageId: `msg_d${i}` });
    await waitFor('three delivered', async () => (await deliveries(hook.id, '?status=delivered')).length === 3);
    assert.equal((await deliveries(hook.id, '?status=pending')).length, 0);
    const page = await t.request('GET', `/v1/webhooks/${hook.id}/deliveries?limit=2`, { token: tenant.apiKey });
    assert.equal(page.body.items.length, 2);
    assert.ok(page.body.nextCursor);
    const rest = await t.request('GET', `/v1/webhooks/${hook.id}/deliveries?limit=2&cursor=${page.body.nextCursor}`, { token: tenant.apiKey });
    assert.equal(rest.body.items.length, 1);
    assert.equal(rest.body.nextCursor, null);
    const bad = await t.request('GET', `/v1/webhooks/${hook.id}/deliveries?status=lost`, { token: tenant.apiKey });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'querystring.status');
    const big = await t.request('GET', `/v1/webhooks/${hook.id}/deliveries?limit=500`, { token: tenant.apiKey });
    assert.equal(big.status, 400);
    assert.equal(big.body.error.field, 'limit');
  });

  test('a delivery left in flight by a crashed process is picked up again', async () => {
    const rx = await receiver();
    const hook = await subscribe(rx.url, ['account.active']);
    await t.app.dispatcher.stop();
    await t.app.webhooks.emit(tenant.id, 'account.active', { accountId: 'acc_crash' });
    const [row] = await deliveries(hook.id);
    // what a process that died mid-POST leaves behind: claimed an hour ago, never finished
    const anHourAgo = new Date(Date.now() - 3_600_000).toISOString();
    await t.app.store.db.updateTable('webhook_deliveries').set({ status: 'delivering', attempts: 1, updated_at: anHourAgo }).where('id', '=', row.id).execute();
    t.app.dispatcher.start();
    const d = await waitFor('redelivered', async () => {
      const [item] = await deliveries(hook.id);
      return item?.status === 'delivered' ? item : undefined;
    });
    assert.equal(d.attempts, 2);
    assert.equal(d.history[0].error.code, 'UNAVAILABLE', 'the lost attempt is in the log');
    assert.equal(d.history[1].statusCode, 200);
    assert.equal(rx.received.length, 1);
  });

  test('stop() lets a delivery in flight finish before the database closes', async () => {
    const rx = await receiver(() => ({ status: 200, delayMs: 250 }));
    const hook = await subscribe(rx.url, ['message.received']);
    await t.app.webhooks.emit(tenant.id, 'message.received', { messageId: 'msg_r' });
    await waitFor('the request in flight', async () => rx.received.length === 1);
    await t.app.dispatcher.stop();
    const [d] = await deliveries(hook.id);
    assert.equal(d.status, 'delivered', 'recorded before stop() returned');
    t.app.dispatcher.start();
  });
});

describe('webhooks and the address guard', () => {
  test('a URL in a blocked range is refused when no private range is allowed', async () => {
    const t = await startTestApp({ name: 'webhooks-blocked', env: { MAILPORT_ALLOW_PRIVATE_HOSTS: '' } });
    try {
      const tenant = await t.createTenant('Blocked');
      for (const url of ['http://127.0.0.1:8080/hook', 'http://[::1]/hook', 'http://169.254.169.254/latest/meta-data', 'https://10.1.2.3/x']) {
        const res = await t.request('POST', '/v1/webhooks', { token: tenant.apiKey, body: { url, events: ['*'] } });
        assert.equal(res.status, 422, `${url}: ${res.text}`);
        assert.equal(res.body.error.code, 'ADDRESS_BLOCKED');
        assert.equal(res.body.error.field, 'url');
      }
      assert.deepEqual((await t.request('GET', '/v1/webhooks', { token: tenant.apiKey })).body.items, []);
    } finally {
      await t.close();
    }
  });

  test('a name that later resolves to a blocked address fails once, without a request, and is not retried', async () => {
    const rx = await startReceiver();
    // public at registration, loopback at delivery: DNS rebinding
    let answers = 0;
    const t = await startTestApp({
      name: 'webhooks-rebind',
      env: { MAILPORT_ALLOW_PRIVATE_HOSTS: '' },
      appOptions: {
        dispatcher: FAST,
        lookup: async (host) => {
          assert.equal(host, 'hooks.rebind.test');
          return answers++ === 0 ? [{ address: '93.184.215.14', family: 4 }] : [{ address: '127.0.0.1', family: 4 }];
        },
      },
    });
    try {
      const tenant = await t.createTenant('Rebind');
      const res = await t.request('POST', '/v1/webhooks', { token: tenant.apiKey, body: { url: `http://hooks.rebind.test:${rx.port}/hook`, events: ['*'] } });
      assert.equal(res.status, 201, res.text);
      trackSecret(res.body.secret);
      t.app.dispatcher.start();
      await t.app.webhooks.emit(tenant.id, 'message.sent', { messageId: 'msg_3' });
      const d = await waitFor('failed delivery', async () => {
        const list = await t.request('GET', `/v1/webhooks/${res.body.id}/deliveries`, { token: tenant.apiKey });
        const [item] = list.body.items;
        return item?.status === 'failed' ? item : undefined;
      });
      assert.equal(d.attempts, 1, 'not retried');
      assert.equal(d.lastError.code, 'ADDRESS_BLOCKED');
      assert.equal(d.history[0].error.code, 'ADDRESS_BLOCKED');
      assert.equal(rx.received.length, 0, 'no request reached the blocked address');
    } finally {
      await t.close();
      await rx.close();
    }
  });
});
