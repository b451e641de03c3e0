import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { trackSecret } from '../helpers/secrets.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';
import { verifySignature } from '../../src/events/signature.js';
import { connectSessionMayCall } from '../../src/api/auth.js';
import { waitFor } from '../helpers/wait.js';

/** An incoming message as a mailbox holds it (CRLF lines). */
function message(o: { from: string; to: string; subject: string; id?: string; body?: string }): Buffer {
  return Buffer.from(
    [
      `From: ${o.from}`,
      `To: ${o.to}`,
      `Subject: ${o.subject}`,
      `Date: ${new Date().toUTCString()}`,
      `Message-ID: ${o.id ?? `<${randomBytes(6).toString('hex')}@customer.test>`}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      o.body ?? 'Hello, I would like to know more.',
      '',
    ].join('\r\n'),
  );
}

// Campaign queues through the HTTP API: an inbound message recorded for a receiving account is
// delivered into its campaign's queue (the sync engine's hook), announced by a signed webhook,
// and worked by claim and done.
describe('campaigns: inbound queues, claim and done, the webhook', () => {
  let t: TestApp;
  let rx: Receiver;
  let tenant: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };
  let hook: { id: string; secret: string };
  let inbox: { id: string; email: string };
  let sender: { id: string; email: string };
  let campaign: { id: string };

  const call = (method: string, url: string, body?: unknown, token = tenant.apiKey) => t.request(method, url, { token, body });

  async function account(name: string, receiveEmails: boolean, token = tenant.apiKey): Promise<{ id: string; email: string }> {
    const email = `${name.toLowerCase()}.${randomBytes(3).toString('hex')}@acme.test`;
    const res = await call('POST', '/v1/accounts?verify=false', {
      name, type: 'smtp_imap', email, password: trackSecret(`pw-${randomBytes(6).toString('hex')}`), receiveEmails,
      smtp: { host: '127.0.0.1', port: 9, security: 'tls' }, imap: { host: '127.0.0.1', port: 9, security: 'tls' },
    }, token);
    assert.equal(res.status, 201, res.text);
    return { id: res.body.id, email };
  }

  /** Records an incoming message for an account, as the sync engine does, and hands it to the hook. */
  async function arrive(accountId: string, to: string, subject: string, from = '"Dana Customer" <dana@customer.test>', tenantId = tenant.id) {
    const ingested = await t.app.correspondence.ingest({ tenantId, accountId, folder: 'INBOX', raw: message({ from, to, subject }) });
    assert.equal(ingested.created, true);
    const queued = await t.app.campaigns.deliverInbound({ tenantId, accountId, messagePk: ingested.id });
    return { messagePk: ingested.id, queued };
  }

  const queue = async (query = '', campaignId = campaign.id) => {
    const res = await call('GET', `/v1/campaigns/${campaignId}/queue${query}`);
    assert.equal(res.status, 200, res.text);
    return res.body as { items: any[]; nextCursor: string | null };
  };

  before(async () => {
    t = await startTestApp({ name: 'campaigns', appOptions: { dispatcher: { pollMs: 20, backoffMs: [60], jitter: 0, timeoutMs: 2_000 } } });
    rx = await startReceiver();
    tenant = await t.createTenant('Acme');
    other = await t.createTenant('Other');
    const sub = await call('POST', '/v1/webhooks', { url: rx.url, events: ['campaign.item.queued'] });
    assert.equal(sub.status, 201, sub.text);
    hook = { id: sub.body.id, secret: trackSecret(sub.body.secret) };
    inbox = await account('Leads', true);
    sender = await account('Newsletter', false);
    t.app.dispatcher.start();
  });
  after(async () => {
    await t?.close();
    await rx?.close();
  });

  test('a campaign is created for one of the tenant\'s accounts, which is attached to it', async () => {
    const res = await call('POST', '/v1/campaigns', { name: '  Spring offers ', accountId: inbox.id });
    assert.equal(res.status, 201, res.text);
    campaign = res.body;
    assert.match(res.body.id, /^cmp_/);
    assert.equal(res.body.name, 'Spring offers');
    assert.deepEqual(
      { accountId: res.body.accountId, accountIds: res.body.accountIds, receiving: res.body.receiving, counts: res.body.counts },
      { accountId: inbox.id, accountIds: [inbox.id], receiving: true, counts: { queued: 0, claimed: 0, done: 0 } },
    );
    assert.equal((await call('GET', `/v1/accounts/${inbox.id}`)).body.campaignId, campaign.id);
    assert.deepEqual((await call('GET', `/v1/campaigns/${campaign.id}`)).body, res.body);
    assert.deepEqual((await call('GET', '/v1/campaigns')).body.items.map((c: { id: string }) => c.id), [campaign.id]);

    // refused: another tenant's account (404, as if it did not exist), bad bodies (400 with the field)
    const theirs = await account('Theirs', true, other.apiKey);
    const notMine = await call('POST', '/v1/campaigns', { name: 'X', accountId: theirs.id });
    assert.equal(notMine.status, 404, notMine.text);
    assert.equal(notMine.body.error.field, 'accountId');
    assert.equal((await call('GET', `/v1/accounts/${theirs.id}`, undefined, other.apiKey)).body.campaignId, null, 'their account was not touched');
    for (const [body, field] of [
      [{ name: 'X' }, 'accountId'],
      [{ accountId: inbox.id }, 'name'],
      [{ name: '   ', accountId: inbox.id }, 'name'],
      [{ name: 'a\r\nb', accountId: inbox.id }, 'name'],
      [{ name: 'X', accountId: '../x' }, 'accountId'],
      [{ name: 'X', accountId: inbox.id, extra: 1 }, 'extra'],
    ] as const) {
      const bad = await call('POST', '/v1/campaigns', body);
      assert.equal(bad.status, 400, `${JSON.stringify(body)}: ${bad.text}`);
      assert.equal(bad.body.error.field, field, JSON.stringify(body));
    }
    assert.equal((await call('GET', '/v1/campaigns')).body.items.length, 1, 'nothing else was created');
  });

  test('a new inbound message is queued once, announced by a signed webhook, and listed with what a worker needs', async () => {
    const { messagePk, queued } = await arrive(inbox.id, inbox.email, 'Question about the spring offer');
    assert.ok(queued);
    assert.equal(queued.campaignId, campaign.id);
    assert.match(queued.itemId, /^cqi_/);
    // delivering the same message again (a retried sync) queues nothing new and answers the same
    assert.deepEqual(await t.app.campaigns.deliverInbound({ tenantId: tenant.id, accountId: inbox.id, messagePk }), queued);

    const { items, nextCursor } = await queue();
    assert.equal(items.length, 1);
    assert.equal(nextCursor, null);
    const item = items[0];
    assert.deepEqual(
      { ...item, queuedAt: undefined, receivedAt: undefined },
      {
        id: queued.itemId, campaignId: campaign.id, accountId: inbox.id, messageId: messagePk, messageIdHeader: item.messageIdHeader,
        from: { name: 'Dana Customer', address: 'dana@customer.test' }, subject: 'Question about the spring offer', status: 'queued',
        queuedAt: undefined, receivedAt: undefined, claimedAt: null, doneAt: null,
      },
    );
    assert.match(item.messageIdHeader, /^<[0-9a-f]+@customer\.test>$/);
    assert.ok(!Number.isNaN(Date.parse(item.receivedAt)) && !Number.isNaN(Date.parse(item.queuedAt)));
    // messageId opens the recorded message
    const msg = await call('GET', `/v1/messages/${item.messageId}`);
    assert.equal(msg.status, 200, msg.text);
    assert.match(msg.body.text, /would like to know more/);

    const got = await waitFor('the webhook delivery', () => rx.received.find((r) => JSON.parse(r.body).data.itemId === queued.itemId));
    const signature = got.headers['mailport-signature'] as string;
    trackSecret(signature.split('v1=')[1]!);
    assert.equal(verifySignature(signature, got.body, hook.secret, 60), true, 'signed with the subscription\'s secret');
    assert.equal(verifySignature(signature, got.body, 'whsec_wrong', 60), false);
    const event = JSON.parse(got.body);
    assert.equal(event.type, 'campaign.item.queued');
    assert.equal(event.tenantId, tenant.id);
    assert.deepEqual(event.data, {
      campaignId: campaign.id, itemId: queued.itemId, messageId: messagePk, accountId: inbox.id,
      from: { name: 'Dana Customer', address: 'dana@customer.test' }, subject: 'Question about the spring offer', receivedAt: item.receivedAt,
    });
    // the second delivery announced nothing: one event for one item
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rx.received.filter((r) => JSON.parse(r.body).data.itemId === queued.itemId).length, 1);
    const deliveries = await call('GET', `/v1/webhooks/${hook.id}/deliveries`);
    assert.equal(deliveries.body.items.filter((d: { eventType: string }) => d.eventType === 'campaign.item.queued').length, 1);
    assert.equal((await call('GET', `/v1/campaigns/${campaign.id}`)).body.counts.queued, 1);
  });

  test('nothing is queued for an account without "Receive emails", for mail it sent, or for a message of another account', async () => {
    const webhooksBefore = rx.received.length;
    // a sending-only account, even when attached to the campaign
    assert.equal((await call('PATCH', `/v1/accounts/${sender.id}?verify=false`, { campaignId: campaign.id })).status, 200);
    const { queued } = await arrive(sender.id, sender.email, 'To the newsletter');
    assert.equal(queued, null);
    // a message the account sent itself (From: its own address) is correspondence, not inbound
    const own = await arrive(inbox.id, 'dana@customer.test', 'Our offer', `"Leads" <${inbox.email}>`);
    assert.equal(own.queued, null);
    // the hook checks that the message is the account's and the tenant's
    const stray = await t.app.correspondence.ingest({ tenantId: tenant.id, accountId: sender.id, folder: 'INBOX', raw: message({ from: 'x@customer.test', to: sender.email, subject: 'Stray' }) });
    assert.equal(await t.app.campaigns.deliverInbound({ tenantId: tenant.id, accountId: inbox.id, messagePk: stray.id }), null);
    assert.equal(await t.app.campaigns.deliverInbound({ tenantId: other.id, accountId: inbox.id, messagePk: stray.id }), null);
    assert.equal(await t.app.campaigns.deliverInbound({ tenantId: tenant.id, accountId: 'acc_missing', messagePk: stray.id }), null);
    assert.equal(await t.app.campaigns.deliverInbound({ tenantId: tenant.id, accountId: inbox.id, messagePk: 'eml_missing' }), null);
    assert.equal((await queue()).items.length, 1, 'still the one item');
    const c = (await call('GET', `/v1/campaigns/${campaign.id}`)).body;
    assert.deepEqual(c.accountIds.sort(), [inbox.id, sender.id].sort(), 'both are attached');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(rx.received.length, webhooksBefore, 'and nothing was announced');
  });

  test('PATCH /v1/accounts campaignId must name one of the tenant\'s campaigns', async () => {
    const theirs = await account('Theirs2', true, other.apiKey);
    const theirCampaign = await call('POST', '/v1/campaigns', { name: 'Theirs', accountId: theirs.id }, other.apiKey);
    assert.equal(theirCampaign.status, 201, theirCampaign.text);
    for (const campaignId of ['cmp_does_not_exist', theirCampaign.body.id]) {
      const res = await call('PATCH', `/v1/accounts/${sender.id}?verify=false`, { campaignId });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error.code, 'INVALID_INPUT');
      assert.equal(res.body.error.field, 'campaignId');
    }
    const created = await call('POST', '/v1/accounts?verify=false', {
      name: 'Wrong', type: 'smtp_imap', email: 'wrong@acme.test', password: trackSecret('pw-wrong-1'), smtp: { host: '127.0.0.1', port: 9, security: 'tls' }, campaignId: theirCampaign.body.id,
    });
    assert.equal(created.status, 400, created.text);
    assert.equal(created.body.error.field, 'campaignId');
    assert.equal((await call('GET', `/v1/accounts/${sender.id}`)).body.campaignId, campaign.id, 'unchanged');
    // detaching, and attaching to one of its own, is fine; then it receives into that campaign
    assert.equal((await call('PATCH', `/v1/accounts/${sender.id}?verify=false`, { campaignId: null })).body.campaignId, null);
    const patched = await call('PATCH', `/v1/accounts/${sender.id}?verify=false`, { campaignId: campaign.id, receiveEmails: true });
    assert.equal(patched.status, 200, patched.text);
    const { queued } = await arrive(sender.id, sender.email, 'Now receiving');
    assert.equal(queued?.campaignId, campaign.id);
    assert.equal((await queue('?status=queued')).items.length, 2);
  });

  test('claim is atomic: of two claims at once exactly one wins (409 for the other); done needs a claim; filters follow the status', async () => {
    const [first, second] = (await queue('?status=queued')).items;
    const base = `/v1/campaigns/${campaign.id}/queue/${first.id}`;
    const answers = await Promise.all([call('POST', `${base}/claim`, {}), call('POST', `${base}/claim`, {})]);
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409], answers.map((a) => a.text).join(' | '));
    const won = answers.find((a) => a.status === 200)!.body;
    const lost = answers.find((a) => a.status === 409)!.body;
    assert.equal(won.status, 'claimed');
    assert.ok(won.claimedAt);
    assert.equal(lost.error.code, 'CONFLICT');
    assert.match(lost.error.message, /already claimed/);

    // done on an item not claimed is a conflict, and changes nothing
    const early = await call('POST', `/v1/campaigns/${campaign.id}/queue/${second.id}/done`, {});
    assert.equal(early.status, 409, early.text);
    assert.match(early.body.error.message, /not been claimed/);
    assert.equal((await call('GET', `/v1/campaigns/${campaign.id}/queue/${second.id}`)).body.status, 'queued');

    assert.deepEqual((await queue('?status=claimed')).items.map((i) => i.id), [first.id]);
    assert.deepEqual((await queue('?status=queued')).items.map((i) => i.id), [second.id]);
    const done = await call('POST', `${base}/done`, {});
    assert.equal(done.status, 200, done.text);
    assert.equal(done.body.status, 'done');
    assert.ok(done.body.doneAt);
    assert.equal(done.body.claimedAt, won.claimedAt);
    // a retried done (its answer lost) is answered with the item unchanged; a claim of a done item is a conflict
    assert.deepEqual((await call('POST', `${base}/done`, {})).body, done.body);
    const reclaim = await call('POST', `${base}/claim`, {});
    assert.equal(reclaim.status, 409);
    assert.match(reclaim.body.error.message, /already done/);
    assert.equal((await call('POST', `${base}/release`, {})).status, 409, 'a done item stays done');
    assert.deepEqual((await queue('?status=done')).items.map((i) => i.id), [first.id]);
    assert.deepEqual((await queue('?status=claimed')).items, []);

    // release gives a claimed item back; a worker may call the actions without a body
    const claimedBare = await t.request('POST', `/v1/campaigns/${campaign.id}/queue/${second.id}/claim`, { token: tenant.apiKey });
    assert.equal(claimedBare.status, 200, claimedBare.text);
    const released = await call('POST', `/v1/campaigns/${campaign.id}/queue/${second.id}/release`, {});
    assert.equal(released.status, 200, released.text);
    assert.deepEqual({ status: released.body.status, claimedAt: released.body.claimedAt }, { status: 'queued', claimedAt: null });
    assert.equal((await call('POST', `/v1/campaigns/${campaign.id}/queue/${second.id}/release`, {})).body.status, 'queued', 'releasing twice is harmless');
    assert.deepEqual((await call('GET', `/v1/campaigns/${campaign.id}`)).body.counts, { queued: 1, claimed: 0, done: 1 });
  });

  test('the queue is oldest first and pages with a cursor; bad queries are 400 with the field', async () => {
    for (let i = 0; i < 3; i++) await arrive(inbox.id, inbox.email, `Paging ${i}`);
    const all = (await queue()).items;
    assert.equal(all.length, 5);
    assert.deepEqual(all.map((i) => i.id), [...all.map((i) => i.id)].sort(), 'in the order they were queued');
    assert.deepEqual(all.slice(2).map((i) => i.subject), ['Paging 0', 'Paging 1', 'Paging 2']);
    const seen: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: { items: any[]; nextCursor: string | null } = await queue(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      assert.ok(page.items.length <= 2);
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
    }
    assert.deepEqual(seen, all.map((i) => i.id));
    const queuedPage = await queue('?status=queued&limit=1');
    assert.equal(queuedPage.items[0].subject, 'Now receiving');
    assert.deepEqual((await queue(`?status=queued&cursor=${queuedPage.nextCursor}`)).items.map((i) => i.subject), ['Paging 0', 'Paging 1', 'Paging 2']);
    for (const [query, field] of [['?status=waiting', 'querystring.status'], ['?limit=0', 'limit'], ['?limit=500', 'limit'], ['?limit=x', 'querystring.limit'], ['?cursor=%00', 'querystring.cursor'], ['?other=1', 'querystring.other']] as const) {
      const res = await call('GET', `/v1/campaigns/${campaign.id}/queue${query}`);
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.equal(res.body.error.field, field, query);
    }
  });

  test('another tenant sees none of it: every campaign route answers 404', async () => {
    const [item] = (await queue()).items;
    for (const [method, url] of [
      ['GET', `/v1/campaigns/${campaign.id}`],
      ['GET', `/v1/campaigns/${campaign.id}/queue`],
      ['GET', `/v1/campaigns/${campaign.id}/queue/${item.id}`],
      ['POST', `/v1/campaigns/${campaign.id}/queue/${item.id}/claim`],
      ['POST', `/v1/campaigns/${campaign.id}/queue/${item.id}/done`],
      ['POST', `/v1/campaigns/${campaign.id}/queue/${item.id}/release`],
    ] as const) {
      const res = await call(method, url, method === 'POST' ? {} : undefined, other.apiKey);
      assert.equal(res.status, 404, `${method} ${url}: ${res.text}`);
      assert.equal(res.body.error.code, 'NOT_FOUND');
    }
    assert.ok((await call('GET', '/v1/campaigns', undefined, other.apiKey)).body.items.every((c: { id: string }) => c.id !== campaign.id));
    // an item is found only under its own campaign
    const theirs = (await call('GET', '/v1/campaigns', undefined, other.apiKey)).body.items[0];
    assert.equal((await call('GET', `/v1/campaigns/${theirs.id}/queue/${item.id}`, undefined, other.apiKey)).status, 404);
    assert.equal((await call('GET', `/v1/campaigns/${campaign.id}/queue/cqi_unknown`)).status, 404);
    assert.equal((await call('POST', `/v1/campaigns/${campaign.id}/queue/cqi_unknown/claim`, {})).status, 404);
    assert.equal((await queue()).items.find((i) => i.id === item.id).status, item.status, 'unchanged');
  });

  test('a connect session (the settings page) reads messages and campaigns and works the queue, and nothing more', async () => {
    // the rule itself
    for (const [method, url, allowed] of [
      ['GET', '/v1/messages', true],
      ['GET', '/v1/messages/:id', true],
      ['GET', '/v1/messages/:id/raw', true],
      ['POST', '/v1/messages', false],
      ['GET', '/v1/campaigns', true],
      ['GET', '/v1/campaigns/:id', true],
      ['GET', '/v1/campaigns/:id/queue', true],
      ['GET', '/v1/campaigns/:id/queue/:itemId', true],
      ['POST', '/v1/campaigns/:id/queue/:itemId/claim', true],
      ['POST', '/v1/campaigns/:id/queue/:itemId/done', true],
      ['POST', '/v1/campaigns/:id/queue/:itemId/release', true],
      ['POST', '/v1/campaigns', false],
      ['DELETE', '/v1/campaigns/:id', false],
      ['GET', '/v1/outbox', false],
      ['GET', '/v1/webhooks', false],
      ['GET', '/v1/messagesx', false],
      ['GET', '/v1/campaignsx', false],
    ] as const) {
      assert.equal(connectSessionMayCall(method, url), allowed, `${method} ${url}`);
    }
    // and through the API
    const s = await call('POST', '/v1/connect-sessions', {});
    assert.equal(s.status, 201, s.text);
    const token = trackSecret(/#token=([\w-]+)$/.exec(s.body.url)![1]!);
    const [item] = (await queue('?status=queued')).items;
    for (const [method, url, body] of [
      ['GET', '/v1/messages', undefined],
      ['GET', `/v1/messages?contact=dana@customer.test&accountId=${inbox.id}`, undefined],
      ['GET', `/v1/messages/${item.messageId}`, undefined],
      ['GET', '/v1/campaigns', undefined],
      ['GET', `/v1/campaigns/${campaign.id}/queue?status=queued`, undefined],
      ['POST', `/v1/campaigns/${campaign.id}/queue/${item.id}/claim`, {}],
      ['POST', `/v1/campaigns/${campaign.id}/queue/${item.id}/done`, {}],
    ] as const) {
      const res = await call(method, url, body, token);
      assert.equal(res.status, 200, `${method} ${url}: ${res.text}`);
    }
    for (const [method, url, body] of [
      ['POST', '/v1/campaigns', { name: 'From the page', accountId: inbox.id }],
      ['POST', '/v1/messages', { to: 'x@customer.test', subject: 'Hi', text: 'Hi' }],
      ['GET', '/v1/outbox', undefined],
      ['GET', `/v1/webhooks/${hook.id}/deliveries`, undefined],
    ] as const) {
      const res = await call(method, url, body, token);
      assert.equal(res.status, 403, `${method} ${url}: ${res.text}`);
      assert.equal(res.body.error.code, 'FORBIDDEN');
    }
  });

  test('the message, its queue item and the item\'s event are stored in one transaction: a failure after the event keeps none of them', async () => {
    const subject = `All or nothing ${randomBytes(3).toString('hex')}`;
    const raw = message({ from: '"Dana Customer" <dana@customer.test>', to: inbox.email, subject });
    const recorded = async () => ({
      messages: (await t.app.store.db.selectFrom('mail_messages').select('id').where('subject', '=', subject).execute()).length,
      items: (await t.app.store.db.selectFrom('campaign_queue_items').select('id').where('subject', '=', subject).execute()).length,
      events: (await t.app.store.db.selectFrom('webhook_events').select('payload').where('type', '=', 'campaign.item.queued').execute()).filter((e) => JSON.parse(e.payload).data.subject === subject).length,
    });
    // the item's event is written, then the transaction fails (the database away for a moment)
    const webhooks = t.app.webhooks;
    const recordIn = webhooks.recordIn.bind(webhooks);
    webhooks.recordIn = async (...args) => {
      const wanted = await recordIn(...args);
      if (args[2] === 'campaign.item.queued') throw new Error('the database is away for a moment (test)');
      return wanted;
    };
    try {
      await assert.rejects(t.app.correspondence.ingest({ tenantId: tenant.id, accountId: inbox.id, folder: 'INBOX', raw, uid: 501, uidValidity: 9 }), /away for a moment/);
    } finally {
      webhooks.recordIn = recordIn;
    }
    assert.deepEqual(await recorded(), { messages: 0, items: 0, events: 0 }, 'nothing kept: the sync fetches the message again');
    // fetched again (the sync's next round): all three, once
    const again = await t.app.correspondence.ingest({ tenantId: tenant.id, accountId: inbox.id, folder: 'INBOX', raw, uid: 501, uidValidity: 9 });
    assert.equal(again.created, true);
    assert.deepEqual(await recorded(), { messages: 1, items: 1, events: 1 });
    const item = (await queue('?status=queued')).items.find((i: { subject: string }) => i.subject === subject);
    assert.equal(item?.messageId, again.id, 'queued by the ingest itself, with no separate call');

    // a batch (a sync session's FETCH): its new incoming messages are queued in the batch's transaction
    const batch = ['first', 'second'].map((n, k) => ({ input: { tenantId: tenant.id, accountId: inbox.id, folder: 'INBOX', raw: message({ from: '"Dana Customer" <dana@customer.test>', to: inbox.email, subject: `${subject} ${n}` }), uid: 510 + k, uidValidity: 9 } }));
    const stored = await t.app.correspondence.ingestMany(batch);
    assert.deepEqual(stored.map((r) => r.created), [true, true]);
    const items = (await queue('?status=queued')).items.filter((i: { subject: string }) => i.subject.startsWith(`${subject} `));
    assert.deepEqual(items.map((i: { messageId: string }) => i.messageId).sort(), stored.map((r) => r.id).sort());
  });
});
