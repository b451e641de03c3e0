import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { loadPeers, addMailbox, readCaptured, findCaptured, type Peers, type PeerUser } from '../helpers/peers.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { trackSecret } from '../helpers/secrets.js';
import { startFaultSmtp } from '../helpers/fault-smtp.js';

// Sending end to end: the API queues, the worker sends through the real SMTP peer, and the
// recipients' Dovecot mailboxes receive the mail. Short backoffs keep the schedule testable.
describe('sending through the outbox against real mail servers', () => {
  let t: TestApp;
  let peers: Peers;
  let tenant: { id: string; apiKey: string };
  let sender: PeerUser;
  let relayUser: PeerUser;
  let accountId: string;
  const dmarc = new Map<string, string[][]>();

  const smtp = () => ({ host: peers.host, port: peers.smtp.starttls, security: 'starttls' });
  const send = (body: Record<string, unknown>, headers?: Record<string, string>) => t.request('POST', '/v1/messages', { token: tenant.apiKey, body, headers });
  const job = async (id: string) => (await t.request('GET', `/v1/outbox/${id}`, { token: tenant.apiKey })).body;

  /** Polls the outbox until the job reaches one of `statuses` (the worker runs on its own). */
  async function until(id: string, statuses: string[], timeoutMs = 15_000): Promise<any> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const j = await job(id);
      if (statuses.includes(j.status)) return j;
      if (Date.now() > end) assert.fail(`job ${id} still ${j.status} (${JSON.stringify(j.lastError)}), wanted ${statuses.join('|')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function createAccount(over: Record<string, unknown> = {}, query = ''): Promise<string> {
    const res = await t.request('POST', `/v1/accounts${query}`, {
      token: tenant.apiKey,
      body: { name: `Sales ${Math.random()}`, type: 'smtp_imap', email: sender.email, password: sender.password, smtp: smtp(), ...over },
    });
    assert.equal(res.status, 201, res.text);
    return res.body.id;
  }

  before(async () => {
    peers = loadPeers();
    sender = await addMailbox();
    relayUser = await addMailbox();
    trackSecret(sender.password);
    trackSecret(relayUser.password);
    t = await startTestApp({
      name: 'send',
      env: { MAILPORT_PLATFORM_SMTP_URL: `smtp://${encodeURIComponent(relayUser.email)}:${encodeURIComponent(relayUser.password)}@127.0.0.1:${peers.smtp.starttls}`, MAILPORT_PLATFORM_FROM: 'mailer@platform.test' },
      appOptions: {
        outbound: {
          worker: { pollMs: 50, backoffMs: [300], jitter: 0, accountWaitMs: 200, maxAgeMs: 3_000, sentCopyBackoffMs: [200] },
          resolveTxt: async (name) => {
            const r = dmarc.get(name);
            // a domain whose DNS fails: the policy cannot be told
            if (name === '_dmarc.flaky.test') throw Object.assign(new Error('server failure'), { code: 'ESERVFAIL' });
            if (!r) throw Object.assign(new Error('no such name'), { code: 'ENOTFOUND' });
            return r;
          },
          sentCopy: { searchDelayMs: 0, timeoutMs: 15_000 },
        },
      },
    });
    tenant = await t.createTenant('Acme');
    await t.request('POST', '/v1/webhooks', { token: tenant.apiKey, body: { url: 'http://127.0.0.1:9/hooks', events: ['*'] } });
    accountId = await createAccount({ imap: { host: peers.host, port: peers.imap.tls, security: 'tls' } });
    t.app.outbound.worker.start();
  });
  after(async () => t?.close());

  test('a message is delivered, read back over IMAP with its UTF-8 subject, name and attachment, and filed in Sent', async () => {
    const rcpt = await addMailbox();
    trackSecret(rcpt.password);
    const res = await send({
      accountId,
      to: { name: 'Zoë Ångström', address: rcpt.email },
      subject: 'Grüße aus Köln ✓',
      text: 'Hallo, anbei die Rechnung.',
      html: '<p>Hallo</p>',
      attachments: [{ filename: 'rechnung-ä.txt', contentType: 'text/plain', content: Buffer.from('Betrag: 42 €').toString('base64') }],
      headers: { 'X-Campaign': 'spring' },
      inReplyTo: '<earlier@example.test>',
      references: ['<first@example.test>', '<earlier@example.test>'],
    });
    assert.equal(res.status, 202, res.text);
    assert.equal(res.body.status, 'queued');
    assert.match(res.body.id, /^msg_/);
    const done = await until(res.body.id, ['sent', 'failed']);
    assert.equal(done.status, 'sent', JSON.stringify(done.lastError));
    assert.deepEqual(done.accepted, [rcpt.email]);
    assert.deepEqual(done.rejected, []);
    assert.equal(done.attempts, 1);
    assert.ok(done.sentAt);
    assert.match(done.response, /^250/);

    const captured = await readCaptured(done.messageId);
    assert.deepEqual(captured.delivered, [rcpt.email]);
    assert.equal(captured.user, sender.email, 'sent through the account\'s own SMTP login');

    const imap = new ImapFlow({ host: peers.host, port: peers.imap.tls, secure: true, auth: { user: rcpt.email, pass: rcpt.password }, logger: false });
    await imap.connect();
    try {
      const lock = await imap.getMailboxLock('INBOX');
      try {
        const msg = await imap.fetchOne('*', { envelope: true, bodyStructure: true, headers: ['x-campaign', 'in-reply-to'] });
        assert.ok(msg);
        assert.equal(msg.envelope!.subject, 'Grüße aus Köln ✓');
        assert.equal(msg.envelope!.to![0]!.name, 'Zoë Ångström');
        assert.equal(msg.envelope!.from![0]!.address, sender.email);
        assert.equal(msg.envelope!.messageId, done.messageId);
        const parts = JSON.stringify(msg.bodyStructure);
        assert.match(parts, /rechnung-ä\.txt/);
        assert.match(msg.headers!.toString(), /X-Campaign: spring/i);
        assert.match(msg.headers!.toString(), /In-Reply-To: <earlier@example\.test>/i);
      } finally {
        lock.release();
      }
    } finally {
      await imap.logout();
    }

    // the exact bytes were appended to the sender's Sent folder (custom server: search, then APPEND)
    const copied = await until(res.body.id, ['sent'], 1000).then(async () => {
      const end = Date.now() + 15_000;
      for (;;) {
        const j = await job(res.body.id);
        if (j.sentCopy) return j;
        if (Date.now() > end) assert.fail('sentCopy never settled');
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    assert.equal(copied.sentCopy, 'stored');

    const events = await t.app.store.db.selectFrom('webhook_events').select(['type', 'payload']).where('tenant_id', '=', tenant.id).where('type', '=', 'message.sent').execute();
    assert.ok(events.some((e) => JSON.parse(e.payload).data.id === res.body.id), 'message.sent was emitted');
  });

  test('a line break in any header value is refused with 400 naming the field, and nothing is queued', async () => {
    const rcpt = 'someone@example.test';
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ subject: 'Hi\r\nBcc: victim@example.test' }, 'subject'],
      [{ to: { name: 'Eve\nBcc: x@example.test', address: rcpt } }, 'to.name'],
      [{ headers: { 'X-Note': 'ok\r\nX-Other: injected' } }, 'headers.X-Note'],
      [{ inReplyTo: '<a@b>\r\nBcc: x@example.test' }, 'inReplyTo'],
      [{ attachments: [{ filename: 'a\r\n.txt', content: 'aGk=' }] }, 'attachments.0.filename'],
    ];
    const before = (await t.request('GET', '/v1/outbox?limit=200', { token: tenant.apiKey })).body.items.length;
    for (const [over, field] of cases) {
      const res = await send({ accountId, to: rcpt, subject: 'Hello', text: 'x', ...over });
      assert.equal(res.status, 400, `${field}: ${res.text}`);
      assert.equal(res.body.error.code, 'INVALID_INPUT');
      assert.equal(res.body.error.field, field);
    }
    const other = await send({ accountId, to: rcpt, subject: 'Hello', text: 'x', headers: { Bcc: 'x@example.test' } });
    assert.equal(other.status, 400);
    assert.equal(other.body.error.field, 'headers.Bcc');
    const none = await send({ accountId, subject: 'Hello', text: 'x' });
    assert.equal(none.status, 400);
    const after = (await t.request('GET', '/v1/outbox?limit=200', { token: tenant.apiKey })).body.items.length;
    assert.equal(after, before);
  });

  test('an Idempotency-Key returns the first answer for the same body and 409 for another', async () => {
    const rcpt = await addMailbox();
    const body = { accountId, to: rcpt.email, subject: 'Once', text: 'only once' };
    const first = await send(body, { 'idempotency-key': 'order-1' });
    assert.equal(first.status, 202, first.text);
    const again = await send({ ...body }, { 'idempotency-key': 'order-1' });
    assert.equal(again.status, 202);
    assert.equal(again.body.id, first.body.id);
    const changed = await send({ ...body, subject: 'Twice' }, { 'idempotency-key': 'order-1' });
    assert.equal(changed.status, 409);
    assert.equal(changed.body.error.code, 'CONFLICT');
    const sent = await until(first.body.id, ['sent']);
    assert.equal(findCaptured(sent.messageId).length, 1, 'sent once');
  });

  test('sendAt in the future is not sent early', async () => {
    const rcpt = await addMailbox();
    const at = new Date(Date.now() + 60 * 60_000).toISOString();
    const res = await send({ accountId, to: rcpt.email, subject: 'Later', text: 'later', sendAt: at });
    assert.equal(res.status, 202);
    await new Promise((r) => setTimeout(r, 600));
    const j = await job(res.body.id);
    assert.equal(j.status, 'queued');
    assert.equal(j.nextAttemptAt, at);
    assert.equal(j.sendAt, at);
    const past = await send({ accountId, to: rcpt.email, subject: 'Past', text: 'x', sendAt: '2001-01-01T00:00:00Z' });
    assert.equal(past.status, 400);
    assert.equal(past.body.error.field, 'sendAt');
  });

  test('a refused single recipient fails the message with the reply; a mixed one lists the refused address', async () => {
    const single = await send({ accountId, to: `reject-${Date.now()}@${peers.domain}`, subject: 'No', text: 'x' });
    const failed = await until(single.body.id, ['failed', 'sent']);
    assert.equal(failed.status, 'failed');
    assert.match(failed.lastError.response ?? failed.response, /550/);
    assert.equal(failed.attempts, 1);

    const ok = await addMailbox();
    const bad = `reject-${Date.now()}@${peers.domain}`;
    const mixed = await send({ accountId, to: [ok.email, bad], subject: 'Some', text: 'x' });
    const sent = await until(mixed.body.id, ['failed', 'sent']);
    assert.equal(sent.status, 'sent');
    assert.deepEqual(sent.accepted, [ok.email]);
    assert.equal(sent.rejected.length, 1);
    assert.equal(sent.rejected[0].address, bad);
    assert.match(sent.rejected[0].response, /550/);
  });

  test('a follow-up of an own-account send (a recipient refused for now, sent to later) files no second Sent copy and is not recorded again', async () => {
    // the account's SMTP is a scriptable server (the peer refuses its tempfail addresses for good);
    // its mailbox, where the Sent copy goes, is the real Dovecot one
    const owner = await addMailbox();
    trackSecret(owner.password);
    const full = { match: 'later@example.test', reply: { code: 452, message: '4.2.2 Mailbox full' } };
    const smtp = await startFaultSmtp({ auth: { username: owner.email, password: owner.password }, rcptTo: [full] });
    const imap = new ImapFlow({ host: peers.host, port: peers.imap.tls, secure: true, auth: { user: owner.email, pass: owner.password }, logger: false });
    try {
      const id = await createAccount({ email: owner.email, password: owner.password, smtp: { host: '127.0.0.1', port: smtp.port, security: 'none' }, imap: { host: peers.host, port: peers.imap.tls, security: 'tls' } }, '?verify=false');
      const res = await send({ accountId: id, to: ['now@example.test', 'later@example.test'], subject: 'Some now, some later', text: 'x' });
      assert.equal(res.status, 202, res.text);
      const original = await until(res.body.id, ['sent']);
      const retryId: string = original.rejected[0].retryId;
      assert.match(retryId, /^msg_/);
      // (quickly: the follow-up fails at the message's age limit, 3 s here, while the server refuses)
      const records = async () => (await t.request('GET', `/v1/messages?accountId=${id}`, { token: tenant.apiKey })).body.items as Array<{ messageId: string }>;
      for (const end = Date.now() + 5_000; (await records()).length === 0; await new Promise((r) => setTimeout(r, 50))) if (Date.now() > end) assert.fail('never recorded');
      assert.deepEqual((await records()).map((m) => m.messageId), [original.messageId], 'recorded once, by the first job');
      // the owner deletes the record: a second recording by the follow-up would show as a new one
      await t.app.store.db.deleteFrom('mail_messages').where('account_id', '=', id).execute();
      smtp.setScript({});

      let first = await job(res.body.id);
      for (const end = Date.now() + 15_000; first.sentCopy === null; first = await job(res.body.id)) {
        if (Date.now() > end) assert.fail('the original\'s Sent copy never settled');
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(first.sentCopy, 'stored', 'the first job files the copy');
      const followUp = await until(retryId, ['sent', 'failed']);
      assert.equal(followUp.status, 'sent', JSON.stringify(followUp.lastError));
      assert.equal(followUp.retryOf, res.body.id);
      assert.deepEqual(followUp.accepted, ['later@example.test']);
      assert.equal(followUp.sentCopy, 'skipped', 'settled when sent: no copy to make');
      assert.equal((await t.app.repos.outbox.getFull(retryId))!.sent_copy_attempts, 0, 'the Sent folder was not even looked at');
      // a few polls of the copy loop, then Sent holds the first copy only, and nothing was recorded again
      await new Promise((r) => setTimeout(r, 800));
      assert.deepEqual(await records(), []);
      await imap.connect();
      const sent = (await imap.list()).find((f) => f.specialUse === '\\Sent');
      assert.ok(sent, 'the mailbox has a Sent folder');
      const lock = await imap.getMailboxLock(sent.path);
      try {
        const found = await imap.search({ header: { 'message-id': original.messageId } }, { uid: true });
        assert.equal((found || []).length, 1, 'one copy in Sent');
      } finally {
        lock.release();
      }
      assert.equal(smtp.messageIds.get(original.messageId.replace(/^<|>$/g, '')), 2);
    } finally {
      if (imap.usable) await imap.logout();
      await smtp.close();
    }
  });

  test('a temporary refusal (451) defers with a next attempt, retries, and fails after the maximum age', async () => {
    const res = await send({ accountId, to: `tempfail-${Date.now()}@${peers.domain}`, subject: 'Later', text: 'x' });
    const deferred = await until(res.body.id, ['deferred', 'failed', 'sent']);
    assert.equal(deferred.status, 'deferred');
    assert.ok(deferred.nextAttemptAt);
    assert.match(deferred.lastError.response, /451/);
    const final = await until(res.body.id, ['failed', 'sent'], 10_000);
    assert.equal(final.status, 'failed');
    assert.ok(final.attempts >= 2, `retried (${final.attempts} attempts)`);
    const types = (await t.app.store.db.selectFrom('webhook_events').select(['type', 'payload']).where('tenant_id', '=', tenant.id).execute())
      .filter((e) => JSON.parse(e.payload).data.id === res.body.id)
      .map((e) => e.type);
    assert.ok(types.includes('message.deferred'));
    assert.ok(types.includes('message.failed'));
  });

  test('a wrong stored password turns the account red; the job waits, and goes out once the password is fixed', async () => {
    const wrong = trackSecret('not-the-password-123');
    const id = await createAccount({ password: wrong }, '?verify=false');
    const rcpt = await addMailbox();
    const res = await send({ accountId: id, to: rcpt.email, subject: 'After fix', text: 'x' });
    const waiting = await until(res.body.id, ['deferred', 'failed', 'sent']);
    assert.equal(waiting.status, 'deferred');
    assert.equal(waiting.lastError.code, 'AUTH_FAILED');
    const account = await t.request('GET', `/v1/accounts/${id}`, { token: tenant.apiKey });
    assert.equal(account.body.statusColor, 'red');
    // several polls later it still waits: the same credentials are not tried again
    await new Promise((r) => setTimeout(r, 800));
    const still = await job(res.body.id);
    assert.equal(still.status, 'deferred');
    assert.equal(still.attempts, 1, 'no login retried with the same password');
    const deferrals = (await t.app.store.db.selectFrom('webhook_events').select('payload').where('type', '=', 'message.deferred').execute())
      .filter((e) => JSON.parse(e.payload).data.id === res.body.id);
    assert.equal(deferrals.length, 1, 'announced once while it waits, not at every look');

    const fixed = await t.request('PATCH', `/v1/accounts/${id}`, { token: tenant.apiKey, body: { password: sender.password } });
    assert.equal(fixed.status, 200, fixed.text);
    assert.equal(fixed.body.statusColor, 'green');
    const sent = await until(res.body.id, ['sent', 'failed']);
    assert.equal(sent.status, 'sent');
  });

  test('a message that waited for its account longer than the age limit still gets its retries once the account is fixed', async () => {
    // the server's only account; the account is stored with another password, so it turns red
    const user = { username: 'waiting@acme.test', password: trackSecret('right-pass-7d2c91') };
    let datas = 0;
    const smtp = await startFaultSmtp({ auth: user, data: () => (++datas === 1 ? { code: 451, message: '4.3.0 Try again later' } : undefined) });
    try {
      const wrong = trackSecret('stale-pass-0b6e3f');
      const id = await createAccount({ email: user.username, password: wrong, smtp: { host: '127.0.0.1', port: smtp.port, security: 'none' } }, '?verify=false');
      const res = await send({ accountId: id, to: 'customer@example.test', subject: 'Waited', text: 'x' });
      assert.equal(res.status, 202, res.text);
      assert.equal((await until(res.body.id, ['deferred', 'failed', 'sent'])).lastError.code, 'AUTH_FAILED');
      // the account stays red past the message's whole age limit (3 s here)
      await new Promise((r) => setTimeout(r, 3_500));
      const fixed = await t.request('PATCH', `/v1/accounts/${id}?verify=false`, { token: tenant.apiKey, body: { password: user.password } });
      assert.equal(fixed.status, 200, fixed.text);
      // the first send is refused for now (451): deferred and tried again, not failed for an age spent waiting
      const done = await until(res.body.id, ['sent', 'failed'], 10_000);
      assert.equal(done.status, 'sent', JSON.stringify(done.lastError));
      assert.equal(datas, 2, 'sent on the second try');
    } finally {
      await smtp.close();
    }
  });

  test('without accountId the platform processor sends, From the company, or from the platform on a strict-DMARC domain', async () => {
    const rcpt = await addMailbox();
    const res = await send({ to: rcpt.email, subject: 'Via platform', text: 'x' });
    assert.equal(res.status, 202, res.text);
    const sent = await until(res.body.id, ['sent', 'failed']);
    assert.equal(sent.status, 'sent', JSON.stringify(sent.lastError));
    assert.equal(sent.accountId, null);
    assert.equal(sent.sentCopy, null);
    const captured = await readCaptured(sent.messageId);
    assert.equal(captured.user, relayUser.email, 'logged in as the relay user');
    assert.match(captured.raw.toString(), /^From: Acme <hello@acme\.test>/m);
    assert.equal(captured.from, 'hello@acme.test', 'the envelope sender is the From');

    dmarc.set('_dmarc.strict.test', [['v=DMARC1; p=reject']]);
    const patched = await t.request('PATCH', '/v1/tenant', { token: tenant.apiKey, body: { companyEmail: 'boss@strict.test' } });
    assert.equal(patched.status, 200, patched.text);
    const strict = await send({ to: rcpt.email, subject: 'Strict', text: 'x' });
    const s2 = await until(strict.body.id, ['sent', 'failed']);
    assert.equal(s2.status, 'sent', JSON.stringify(s2.lastError));
    const strictCaptured = await readCaptured(s2.messageId);
    const raw = strictCaptured.raw.toString();
    assert.match(raw, /^From: .*<mailer@platform\.test>/m);
    assert.match(raw, /^Reply-To: boss@strict\.test/m);
    assert.equal(strictCaptured.from, 'mailer@platform.test', 'the envelope sender follows the From (SPF)');
    // DNS cannot tell: From the platform for this attempt, and nothing stored (a later attempt decides again)
    await t.request('PATCH', '/v1/tenant', { token: tenant.apiKey, body: { companyEmail: 'boss@flaky.test' } });
    const flaky = await until((await send({ to: rcpt.email, subject: 'Flaky DNS', text: 'x' })).body.id, ['sent', 'failed']);
    assert.equal(flaky.status, 'sent', JSON.stringify(flaky.lastError));
    const flakyCaptured = await readCaptured(flaky.messageId);
    assert.match(flakyCaptured.raw.toString(), /^From: .*<mailer@platform\.test>/m);
    assert.match(flakyCaptured.raw.toString(), /^Reply-To: boss@flaky\.test/m);
    assert.equal(flakyCaptured.from, 'mailer@platform.test');
    const stored = (await t.app.repos.outbox.getFull(flaky.id))!;
    assert.equal(stored.sender_resolved, 0, 'the fallback was not stored as decided');
    assert.equal(stored.envelope_from, 'boss@flaky.test');
    // an account that sends through the platform: its own address decides, not the company's (strict
    // here): a lax account domain keeps its From; a strict one is replaced, Reply-To the account, and
    // its correspondence record keeps the bytes that went out
    const sendVia = async (account: string, subject: string) => {
      const j = await until((await send({ accountId: account, to: rcpt.email, subject, text: 'x' })).body.id, ['sent', 'failed']);
      assert.equal(j.status, 'sent', JSON.stringify(j.lastError));
      return readCaptured(j.messageId);
    };
    const lax = await sendVia(await createAccount({ sendVia: 'platform' }, '?verify=false'), 'Lax account domain');
    assert.ok(lax.raw.toString().match(/^From: .*$/m)?.[0].includes(sender.email), 'the account\'s own From');
    assert.equal(lax.from, sender.email);
    dmarc.set('_dmarc.desk-strict.test', [['v=DMARC1; p=quarantine']]);
    const viaPlatform = await createAccount({ sendVia: 'platform', email: 'desk@desk-strict.test' }, '?verify=false');
    const s3 = await sendVia(viaPlatform, 'Strict via account');
    const went = s3.raw.toString();
    assert.match(went, /^From: .*<mailer@platform\.test>/m);
    assert.match(went, /^Reply-To: desk@desk-strict\.test/m);
    assert.equal(s3.from, 'mailer@platform.test');
    let recorded = '';
    for (let i = 0; i < 50 && !recorded; i++) {
      const items = (await t.request('GET', `/v1/messages?accountId=${viaPlatform}`, { token: tenant.apiKey })).body.items as Array<{ id: string }>;
      if (items.length) recorded = (await t.request('GET', `/v1/messages/${items[0]!.id}/raw`, { token: tenant.apiKey })).text;
      else await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(recorded.match(/^From: .*$/m)?.[0], went.match(/^From: .*$/m)?.[0], 'the record has the From that went out');
    await t.request('PATCH', '/v1/tenant', { token: tenant.apiKey, body: { companyEmail: 'hello@acme.test' } });
  });

  test('an account of another tenant is 404, a disabled one 409', async () => {
    const other = await t.createTenant('Other');
    const res = await t.request('POST', '/v1/messages', { token: other.apiKey, body: { accountId, to: 'a@example.test', subject: 'x', text: 'x' } });
    assert.equal(res.status, 404);
    const id = await createAccount({}, '?verify=false');
    await t.request('POST', `/v1/accounts/${id}/disable`, { token: tenant.apiKey, body: {} });
    const off = await send({ accountId: id, to: 'a@example.test', subject: 'x', text: 'x' });
    assert.equal(off.status, 409);
    assert.match(off.body.error.message, /switched off/);
  });

  test('a per-minute limit of 2 lets two of five messages out and defers the rest to the next window', async () => {
    const id = await createAccount({ limits: { perMinute: 2 } });
    const rcpt = await addMailbox();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await send({ accountId: id, to: rcpt.email, subject: `Limited ${i}`, text: 'x' })).body.id);
    const jobs = await Promise.all(ids.map((j) => until(j, ['sent', 'deferred', 'failed'])));
    // give every job its first turn
    await new Promise((r) => setTimeout(r, 500));
    const now = await Promise.all(ids.map((j) => job(j)));
    const sent = now.filter((j) => j.status === 'sent');
    const deferred = now.filter((j) => j.status === 'deferred');
    assert.equal(sent.length, 2, JSON.stringify(now.map((j) => [j.status, j.lastError?.code])));
    assert.equal(deferred.length, 3);
    for (const d of deferred) {
      assert.equal(d.lastError.code, 'LIMIT_REACHED');
      assert.equal(d.attempts, 0, 'never tried: held back before any SMTP');
      assert.ok(Date.parse(d.nextAttemptAt) > Date.now() + 20_000, 'waits for the window to move');
    }
    void jobs;
    const usage = await t.request('GET', `/v1/accounts/${id}/usage`, { token: tenant.apiKey });
    assert.equal(usage.status, 200, usage.text);
    assert.equal(usage.body.perMinute, 2);
    assert.equal(usage.body.sentInWindow, 2);
    assert.equal(usage.body.remaining, 0);
  });

  test('the outbox lists by status and account with a cursor, and never shows another tenant\'s jobs', async () => {
    const page1 = await t.request('GET', `/v1/outbox?accountId=${accountId}&limit=2`, { token: tenant.apiKey });
    assert.equal(page1.status, 200, page1.text);
    assert.equal(page1.body.items.length, 2);
    assert.ok(page1.body.nextCursor);
    const page2 = await t.request('GET', `/v1/outbox?accountId=${accountId}&limit=2&cursor=${page1.body.nextCursor}`, { token: tenant.apiKey });
    assert.ok(page2.body.items.every((i: any) => i.id > page1.body.nextCursor));
    const failed = await t.request('GET', '/v1/outbox?status=failed', { token: tenant.apiKey });
    assert.ok(failed.body.items.length >= 1 && failed.body.items.every((i: any) => i.status === 'failed'));
    const other = await t.createTenant('Nosy');
    const peek = await t.request('GET', `/v1/outbox/${page1.body.items[0].id}`, { token: other.apiKey });
    assert.equal(peek.status, 404);
    const bad = await t.request('GET', '/v1/outbox?status=lost', { token: tenant.apiKey });
    assert.equal(bad.status, 400);
  });
});
