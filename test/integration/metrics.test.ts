// GET /metrics end to end: messages go through the real SMTP peer, verifications talk to it, a
// webhook reaches a real HTTP receiver, and the scrape shows each of them counted, the outbox read
// at scrape time, and nothing personal in the labels.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadPeers, addMailbox, type Peers, type PeerUser } from '../helpers/peers.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';
import { trackSecret } from '../helpers/secrets.js';
import { waitFor } from '../helpers/wait.js';

/** The value of one series (`name{labels}` exactly as exposed), 0 when absent. */
function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('metrics against real mail servers', () => {
  const metricsToken = trackSecret('metrics-scrape-token-0123456789');
  let t: TestApp;
  let peers: Peers;
  let rx: Receiver;
  let tenant: { id: string; apiKey: string };
  let sender: PeerUser;
  let accountId: string;

  const scrape = async (token: string | null = metricsToken) => {
    const res = await t.request('GET', '/metrics', { token });
    assert.equal(res.status, 200, res.text);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    return res.text;
  };
  const send = (body: Record<string, unknown>) => t.request('POST', '/v1/messages', { token: tenant.apiKey, body });
  const status = async (id: string, wanted: string[]) =>
    waitFor(`${id} to be ${wanted.join('|')}`, async () => {
      const j = (await t.request('GET', `/v1/outbox/${id}`, { token: tenant.apiKey })).body;
      return wanted.includes(j.status) ? j : undefined;
    });

  before(async () => {
    peers = loadPeers();
    sender = await addMailbox();
    trackSecret(sender.password);
    rx = await startReceiver();
    t = await startTestApp({
      name: 'metrics',
      env: { MAILPORT_METRICS_TOKEN: metricsToken },
      appOptions: {
        outbound: { worker: { pollMs: 50, backoffMs: [60_000], jitter: 0 } },
        dispatcher: { pollMs: 50 },
      },
    });
    tenant = await t.createTenant('Acme');
    const hook = await t.request('POST', '/v1/webhooks', { token: tenant.apiKey, body: { url: rx.url, events: ['message.sent'] } });
    assert.equal(hook.status, 201, hook.text);
    trackSecret(hook.body.secret);
  });
  after(async () => {
    await t?.close();
    await rx?.close();
  });

  test('without the metrics token the scrape is refused with the API error body', async () => {
    const none = await t.request('GET', '/metrics', { token: null });
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'UNAUTHORIZED');
    const admin = await t.request('GET', '/metrics', { token: t.adminToken });
    assert.equal(admin.status, 401, 'the admin token is not the metrics token');
  });

  test('sends, queue depth, verifications, limit deferrals, webhooks and requests are counted', async () => {
    const smtp = { host: peers.host, port: peers.smtp.starttls, security: 'starttls' };
    const before = await scrape();

    // a verification that fails (wrong password) and one that passes (the account is saved)
    const wrong = await t.request('POST', '/v1/accounts', { token: tenant.apiKey, body: { name: 'Wrong', type: 'smtp_imap', email: sender.email, password: trackSecret('not-the-password-1'), smtp } });
    assert.equal(wrong.status, 422, wrong.text);
    assert.equal(wrong.body.error.code, 'AUTH_FAILED');
    const created = await t.request('POST', '/v1/accounts', { token: tenant.apiKey, body: { name: 'Sales', type: 'smtp_imap', email: sender.email, password: sender.password, smtp, limits: { perMinute: 2 } } });
    assert.equal(created.status, 201, created.text);
    accountId = created.body.id;

    t.app.outbound.worker.start();
    t.app.dispatcher.start();
    const rcpt = await addMailbox();
    const ok = await send({ accountId, to: rcpt.email, subject: 'Counted', text: 'one' });
    const refused = await send({ accountId, to: `reject-${Date.now()}@${peers.domain}`, subject: 'Refused', text: 'two' });
    assert.equal((await status(ok.body.id, ['sent', 'failed'])).status, 'sent');
    assert.equal((await status(refused.body.id, ['sent', 'failed'])).status, 'failed');
    // the account allows two a minute (the refused one gave its place back): the fourth waits for the window
    const second = await send({ accountId, to: rcpt.email, subject: 'Counted too', text: 'three' });
    assert.equal((await status(second.body.id, ['sent', 'failed'])).status, 'sent');
    const over = await send({ accountId, to: rcpt.email, subject: 'Over the limit', text: 'four' });
    const deferred = await status(over.body.id, ['deferred', 'sent']);
    assert.equal(deferred.status, 'deferred');
    assert.equal(deferred.lastError.code, 'LIMIT_REACHED');
    // one for later: queued, not due
    const later = await send({ accountId, to: rcpt.email, subject: 'Later', text: 'five', sendAt: new Date(Date.now() + 3_600_000).toISOString() });
    assert.equal(later.status, 202, later.text);
    await waitFor('the webhook delivery', async () => rx.received.length >= 1);
    await waitFor('the delivery to be recorded', async () => value(await scrape(), 'mailport_webhook_deliveries_total{outcome="delivered"}') >= 1);

    const after = await scrape();
    const moved = (series: string) => value(after, series) - value(before, series);
    assert.equal(moved('mailport_sends_total{outcome="sent"}'), 2);
    assert.equal(moved('mailport_sends_total{outcome="failed"}'), 1);
    assert.equal(moved('mailport_sends_total{outcome="deferred"}'), 1);
    assert.equal(moved('mailport_send_limit_deferrals_total'), 1);
    assert.equal(moved('mailport_verifications_total{protocol="smtp",code="AUTH_FAILED"}'), 1);
    assert.equal(moved('mailport_verifications_total{protocol="smtp",code="ok"}'), 1);
    assert.ok(moved('mailport_webhook_deliveries_total{outcome="delivered"}') >= 1);
    assert.equal(moved('mailport_http_requests_total{method="POST",route="/v1/messages",status_code="202"}'), 5);
    assert.equal(moved('mailport_http_requests_total{method="POST",route="/v1/accounts",status_code="422"}'), 1);
    assert.ok(value(after, 'mailport_http_requests_total{method="GET",route="/v1/outbox/:id",status_code="200"}') >= 3);
    // the queue as the database has it now: the deferred one and the one for later
    assert.equal(value(after, 'mailport_outbox_jobs{status="queued"}'), 1);
    assert.equal(value(after, 'mailport_outbox_jobs{status="deferred"}'), 1);
    assert.equal(value(after, 'mailport_outbox_jobs{status="sending"}'), 0);
    assert.equal(value(after, 'mailport_outbox_oldest_due_seconds'), 0, 'nothing is due and waiting');
    assert.match(after, /^mailport_info\{version="[^"]+",role="all"\} 1$/m);
    assert.match(after, /^# TYPE mailport_sync_accounts gauge$/m, 'the sync gauges are defined before the engine reports');

    // nothing personal or secret in the scrape
    for (const s of [sender.email, rcpt.email, peers.domain, tenant.id, accountId, ok.body.id, metricsToken]) {
      assert.ok(!after.includes(s), `${s} appears in /metrics`);
    }
    assert.doesNotMatch(after, /@/);
  });

  test('a due job waiting for a worker shows as the oldest due age', async () => {
    await t.app.outbound.worker.stop();
    const rcpt = await addMailbox();
    const queued = await send({ accountId, to: rcpt.email, subject: 'Nobody sends this now', text: 'x' });
    assert.equal(queued.status, 202, queued.text);
    await new Promise((r) => setTimeout(r, 1_100));
    const text = await scrape();
    assert.ok(value(text, 'mailport_outbox_oldest_due_seconds') >= 1, 'waited at least a second');
    assert.equal(value(text, 'mailport_outbox_jobs{status="queued"}'), 2);
  });

  test('the sync engine reports through setSyncCollector', async () => {
    t.app.metrics.setSyncCollector(() => ({ states: { idle: 2, connecting: 1 }, connected: 2, lagSeconds: [0.5, 8, 1] }));
    try {
      const text = await scrape();
      assert.equal(value(text, 'mailport_sync_accounts{state="idle"}'), 2);
      assert.equal(value(text, 'mailport_sync_accounts{state="connecting"}'), 1);
      assert.equal(value(text, 'mailport_sync_connected_accounts'), 2);
      assert.equal(value(text, 'mailport_sync_lag_seconds{stat="max"}'), 8);
    } finally {
      t.app.metrics.setSyncCollector(null);
    }
  });
});

describe('metrics without a token', () => {
  test('/metrics is open like /healthz, on every node', async () => {
    const t = await startTestApp({ name: 'metrics-open' });
    try {
      const res = await t.request('GET', '/metrics', { token: null });
      assert.equal(res.status, 200);
      assert.match(res.text, /^# TYPE mailport_sends_total counter$/m);
      assert.match(res.text, /^mailport_outbox_jobs\{status="queued"\} 0$/m);
      const health = await t.request('GET', '/healthz', { token: null });
      assert.equal(health.status, 200);
      const again = await t.request('GET', '/metrics', { token: null });
      assert.equal(value(again.text, 'mailport_http_requests_total{method="GET",route="/healthz",status_code="200"}'), 1);
    } finally {
      await t.close();
    }
  });
});
