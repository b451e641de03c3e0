// Mailbox sync against the real Dovecot peer: the initial sync of Inbox and Sent, new mail by
// IDLE, flags and expunges (CONDSTORE/QRESYNC), a UIDVALIDITY change, a server that drops every
// connection mid-sync or goes silent (through a TCP forwarder), refused credentials, POP3, and
// campaign queues fed by new mail.
//
//   bash scripts/test.sh test/integration/sync.test.ts
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { addMailbox, loadPeers, withPeerImap, type PeerUser, type Peers } from '../helpers/peers.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { startReceiver } from '../helpers/webhook-receiver.js';
import { waitFor } from '../helpers/wait.js';

const peers: Peers = loadPeers();
const DAY = 86_400_000;

const SYNC = { pollMs: 700, scanMs: 150, commandTimeoutMs: 4_000, connectTimeoutMs: 5_000, backoffMs: 100, maxBackoffMs: 400, leaseMs: 5_000, lookbackDays: 30, batchSize: 40, popIntervalMs: 400 };

function message(o: { from: string; to: string; subject: string; id?: string | null; inReplyTo?: string; body?: string; date?: Date }): Buffer {
  const lines = [`From: ${o.from}`, `To: ${o.to}`, `Subject: ${o.subject}`, `Date: ${(o.date ?? new Date()).toUTCString()}`];
  if (o.id !== null) lines.push(`Message-ID: ${o.id ?? `<${randomBytes(8).toString('hex')}@test.example>`}`);
  if (o.inReplyTo) lines.push(`In-Reply-To: ${o.inReplyTo}`, `References: ${o.inReplyTo}`);
  lines.push('MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', o.body ?? `Body of ${o.subject}`, '');
  return Buffer.from(lines.join('\r\n'));
}

async function append(user: PeerUser, folder: string, raws: Buffer[], opts: { flags?: string[]; date?: Date } = {}): Promise<void> {
  await withPeerImap(user, async (c) => {
    for (const raw of raws) await c.append(folder, raw, opts.flags ?? [], opts.date);
  });
}

describe('mailbox sync on Dovecot', () => {
  let t: TestApp;
  let tenant: { id: string; apiKey: string };
  const proxies: TcpProxy[] = [];

  before(async () => {
    t = await startTestApp({ name: 'sync', appOptions: { sync: SYNC, dispatcher: { pollMs: 50 } } });
    tenant = await t.createTenant('Sync Co');
    t.app.sync.start();
    t.app.dispatcher.start();
    t.app.outbound.worker.start();
  });
  after(async () => {
    for (const p of proxies) await p.close();
    await t.close();
  });

  const api = (method: string, url: string, body?: unknown) => t.request(method, url, { token: tenant.apiKey, body });

  async function account(user: PeerUser, o: { imapPort?: number; pop?: boolean; password?: string; extra?: Record<string, unknown> } = {}): Promise<string> {
    const body: Record<string, unknown> = {
      name: `Sync ${user.email}`, type: 'smtp_imap', email: user.email, password: o.password ?? user.password, receiveEmails: true,
      smtp: { host: peers.host, port: peers.smtp.starttls, security: 'starttls' }, ...o.extra,
    };
    if (o.pop) body.pop = { host: peers.host, port: peers.pop3.tls, security: 'tls' };
    else body.imap = { host: peers.host, port: o.imapPort ?? peers.imap.tls, security: 'tls' };
    const r = await api('POST', '/v1/accounts?verify=false', body);
    assert.equal(r.status, 201, r.text);
    return r.body.id as string;
  }

  async function messages(accountId: string): Promise<any[]> {
    const out: any[] = [];
    let cursor: string | null = null;
    do {
      const r = await api('GET', `/v1/messages?accountId=${accountId}&limit=200${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.status, 200, r.text);
      out.push(...r.body.items);
      cursor = r.body.nextCursor;
    } while (cursor);
    return out;
  }

  const countIs = (accountId: string, n: number) => async () => ((await messages(accountId)).length === n ? true : undefined);
  const syncRow = (accountId: string) => t.app.repos.sync.getAccount(accountId);

  test('initial sync: Inbox and Sent, back to the lookback, threads across both; a restart records nothing twice', async () => {
    const me = await addMailbox();
    const first = `<first-${randomBytes(4).toString('hex')}@x.example>`;
    await append(me, 'INBOX', [
      message({ from: 'Bob <bob@x.example>', to: me.email, subject: 'Quote please', id: first }),
      message({ from: 'Carol <carol@y.example>', to: me.email, subject: 'Hello' }),
      message({ from: 'Dave <dave@z.example>', to: me.email, subject: 'No Message-ID here', id: null }),
    ]);
    // outside the 30-day lookback (INTERNALDATE 60 days ago): not synced
    await append(me, 'INBOX', [message({ from: 'old@x.example', to: me.email, subject: 'Ancient', date: new Date(Date.now() - 60 * DAY) })], { date: new Date(Date.now() - 60 * DAY) });
    await append(me, 'Sent', [message({ from: me.email, to: 'Bob <bob@x.example>', subject: 'Re: Quote please', inReplyTo: first })], { flags: ['\\Seen'] });

    const id = await account(me);
    await waitFor('4 messages', countIs(id, 4));
    const items = await messages(id);
    assert.ok(!items.some((m) => m.subject === 'Ancient'), 'a message older than the lookback is not synced');
    const reply = items.find((m) => m.subject === 'Re: Quote please');
    const quote = items.find((m) => m.subject === 'Quote please');
    assert.equal(reply.direction, 'out');
    assert.equal(reply.folder, 'Sent');
    assert.equal(quote.direction, 'in');
    assert.equal(reply.threadId, quote.threadId, 'a reply found in Sent joins the thread of the message it answers');
    const detail = await api('GET', `/v1/messages/${reply.id}`);
    assert.deepEqual(detail.body.locations.map((l: any) => [l.folder, l.flags.includes('\\Seen')]), [['Sent', true]]);

    const row = await waitFor('idle state', async () => {
      const r = await syncRow(id);
      return r?.state === 'idle' && r.initial_done_at ? r : undefined;
    });
    assert.equal(row.lease_owner, t.app.sync.nodeId);
    const account_ = await api('GET', `/v1/accounts/${id}`);
    assert.equal(account_.body.lastError, null);

    // a new node (stop, start) syncs again from the saved state: nothing twice
    await t.app.sync.stop();
    t.app.sync.start();
    await waitFor('idle again', async () => (await syncRow(id))?.state === 'idle');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await messages(id)).length, 4);
  });

  test('new mail is announced by IDLE and recorded within 2 s; mail filed in Sent by another program within the poll', async () => {
    const me = await addMailbox();
    const id = await account(me);
    await waitFor('idle', async () => (await syncRow(id))?.state === 'idle');
    // the session is in IDLE on the Inbox now
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await append(me, 'INBOX', [message({ from: 'erin@x.example', to: me.email, subject: 'Pushed' })]);
    await waitFor('the new message', async () => (await messages(id)).find((m) => m.subject === 'Pushed'), 5_000);
    const ms = Date.now() - started;
    assert.ok(ms < 2_000, `recorded ${ms} ms after delivery`);

    await append(me, 'Sent', [message({ from: me.email, to: 'frank@x.example', subject: 'Sent from my phone' })]);
    const sent = await waitFor('the Sent message', async () => (await messages(id)).find((m) => m.subject === 'Sent from my phone'), 5_000);
    assert.equal(sent.direction, 'out');
    assert.equal(t.app.sync.session(id)?.state, 'idle');
  });

  test('flag changes and expunges reach the record (CONDSTORE/QRESYNC), in the selected Inbox and in Sent', async () => {
    const me = await addMailbox();
    await append(me, 'INBOX', [message({ from: 'gina@x.example', to: me.email, subject: 'Flag me' }), message({ from: 'hank@x.example', to: me.email, subject: 'Delete me' })]);
    await append(me, 'Sent', [message({ from: me.email, to: 'ivy@x.example', subject: 'Sent, flag me' })]);
    const id = await account(me);
    await waitFor('3 messages', countIs(id, 3));
    await waitFor('idle', async () => (await syncRow(id))?.state === 'idle');
    const bySubject = async (s: string) => (await messages(id)).find((m) => m.subject === s);
    const flagMe = await bySubject('Flag me');
    const deleteMe = await bySubject('Delete me');
    const sentFlag = await bySubject('Sent, flag me');

    await withPeerImap(me, async (c) => {
      const lock = await c.getMailboxLock('INBOX');
      try {
        await c.messageFlagsAdd({ header: { subject: 'Flag me' } }, ['\\Flagged', '\\Seen']);
        await c.messageDelete({ header: { subject: 'Delete me' } });
      } finally {
        lock.release();
      }
      const lock2 = await c.getMailboxLock('Sent');
      try {
        await c.messageFlagsAdd({ all: true }, ['\\Answered']);
      } finally {
        lock2.release();
      }
    });
    const loc = async (mid: string) => (await api('GET', `/v1/messages/${mid}`)).body.locations[0];
    await waitFor('flags in the Inbox', async () => ((await loc(flagMe.id)).flags.includes('\\Flagged') ? true : undefined), 5_000);
    assert.deepEqual((await loc(flagMe.id)).flags.sort(), ['\\Flagged', '\\Seen']);
    await waitFor('the expunge', async () => ((await loc(deleteMe.id)).expunged ? true : undefined), 5_000);
    await waitFor('flags in Sent', async () => ((await loc(sentFlag.id)).flags.includes('\\Answered') ? true : undefined), 5_000);
    // the record stays: the correspondence happened
    assert.equal((await messages(id)).length, 3);
  });

  test('small batches under a fetch budget smaller than one message: the node holds one batch at a time and everything is recorded once', async () => {
    const me = await addMailbox();
    const t2 = await startTestApp({ name: 'sync-budget', appOptions: { sync: { ...SYNC, batchSize: 3, fetchBudgetBytes: 1 } } });
    try {
      const tenant2 = await t2.createTenant('Budget Co');
      await append(me, 'INBOX', Array.from({ length: 11 }, (_, i) => message({ from: `p${i}@x.example`, to: me.email, subject: `Budget ${i}` })));
      const r = await t2.request('POST', '/v1/accounts?verify=false', {
        token: tenant2.apiKey,
        body: { name: 'B', type: 'smtp_imap', email: me.email, password: me.password, receiveEmails: true, smtp: { host: peers.host, port: peers.smtp.starttls, security: 'starttls' }, imap: { host: peers.host, port: peers.imap.tls, security: 'tls' } },
      });
      const id = r.body.id as string;
      t2.app.sync.start();
      const list = async () => (await t2.request('GET', `/v1/messages?accountId=${id}&limit=50`, { token: tenant2.apiKey })).body.items as any[];
      await waitFor('11 messages', async () => ((await list()).length === 11 ? true : undefined));
      assert.deepEqual((await list()).map((m) => m.subject).sort(), Array.from({ length: 11 }, (_, i) => `Budget ${i}`).sort());
    } finally {
      await t2.close();
    }
  });

  test('a UIDVALIDITY change (folder deleted and created again) resyncs without duplicating or losing records', async () => {
    const me = await addMailbox();
    const t2 = await startTestApp({ name: 'sync-uidvalidity', appOptions: { sync: { ...SYNC, extraFolders: ['Projects'] } } });
    try {
      const tenant2 = await t2.createTenant('Folders Co');
      const raws = [message({ from: 'jo@x.example', to: me.email, subject: 'Project A' }), message({ from: 'kim@x.example', to: me.email, subject: 'Project B, no id', id: null })];
      await withPeerImap(me, (c) => c.mailboxCreate('Projects'));
      await append(me, 'Projects', raws);
      const r = await t2.request('POST', '/v1/accounts?verify=false', {
        token: tenant2.apiKey,
        body: { name: 'F', type: 'smtp_imap', email: me.email, password: me.password, receiveEmails: true, smtp: { host: peers.host, port: peers.smtp.starttls, security: 'starttls' }, imap: { host: peers.host, port: peers.imap.tls, security: 'tls' } },
      });
      const id = r.body.id as string;
      t2.app.sync.start();
      const list = async () => (await t2.request('GET', `/v1/messages?accountId=${id}`, { token: tenant2.apiKey })).body.items as any[];
      await waitFor('2 messages', async () => ((await list()).length === 2 ? true : undefined));
      const before_ = (await t2.app.repos.sync.folders(id)).find((f) => f.path === 'Projects')!;

      await withPeerImap(me, async (c) => {
        await c.mailboxDelete('Projects');
        await c.mailboxCreate('Projects');
      });
      await append(me, 'Projects', [...raws, message({ from: 'lee@x.example', to: me.email, subject: 'Project C' })]);
      await waitFor('3 messages', async () => ((await list()).length === 3 ? true : undefined), 10_000);
      const after_ = await waitFor('new UIDVALIDITY saved', async () => {
        const f = (await t2.app.repos.sync.folders(id)).find((x) => x.path === 'Projects');
        return f && f.uidValidity !== before_.uidValidity && f.initialDone ? f : undefined;
      });
      assert.notEqual(after_.uidValidity, before_.uidValidity);
      await new Promise((r) => setTimeout(r, 500));
      const items = await list();
      assert.deepEqual(items.map((m) => m.subject).sort(), ['Project A', 'Project B, no id', 'Project C']);
      const noId = items.find((m) => m.subject === 'Project B, no id');
      const detail = await t2.request('GET', `/v1/messages/${noId.id}`, { token: tenant2.apiKey });
      assert.equal(detail.body.locations.length, 2, 'the old place and the new one, one record');
    } finally {
      await t2.close();
    }
  });

  test('every connection cut in the middle of the initial sync (a server restart): it reconnects and resumes, nothing lost or twice', async () => {
    const me = await addMailbox();
    const proxy = await startTcpProxy({ host: peers.host, port: peers.imap.tls });
    proxies.push(proxy);
    const raws = Array.from({ length: 400 }, (_, i) => message({ from: `p${i}@x.example`, to: me.email, subject: `Bulk ${i}`, body: 'x'.repeat(2000) }));
    await withPeerImap(me, async (c) => {
      for (const raw of raws) await c.append('INBOX', raw);
    });
    const id = await account(me, { imapPort: proxy.port });
    await waitFor('some progress', async () => ((await messages(id)).length >= 60 ? true : undefined), 20_000);
    proxy.refuse(true);
    proxy.cutAll();
    const cutAt = (await messages(id)).length;
    await new Promise((r) => setTimeout(r, 600));
    proxy.refuse(false);
    await waitFor('all 400', countIs(id, 400), 30_000);
    assert.ok(cutAt < 400, `the cut came during the sync (${cutAt} recorded then)`);
    assert.ok(proxy.connections() >= 2, 'it connected again');
    const subjects = new Set((await messages(id)).map((m) => m.subject));
    assert.equal(subjects.size, 400);
  });

  test('a server that stops answering (IDLE that no longer reports) is noticed by the watchdog and replaced', async () => {
    const me = await addMailbox();
    const proxy = await startTcpProxy({ host: peers.host, port: peers.imap.tls });
    proxies.push(proxy);
    const t3 = await startTestApp({ name: 'sync-watchdog', appOptions: { sync: { ...SYNC, pollMs: 400, commandTimeoutMs: 800 } } });
    try {
      const tenant3 = await t3.createTenant('Watchdog Co');
      const r = await t3.request('POST', '/v1/accounts?verify=false', {
        token: tenant3.apiKey,
        body: { name: 'W', type: 'smtp_imap', email: me.email, password: me.password, receiveEmails: true, smtp: { host: peers.host, port: peers.smtp.starttls, security: 'starttls' }, imap: { host: peers.host, port: proxy.port, security: 'tls' } },
      });
      const id = r.body.id as string;
      t3.app.sync.start();
      await waitFor('idle', async () => (await t3.app.repos.sync.getAccount(id))?.state === 'idle');
      assert.equal(proxy.connections(), 1);
      proxy.freezeOpen();
      const frozenAt = Date.now();
      await waitFor('a new connection', async () => (proxy.connections() >= 2 ? true : undefined), 10_000);
      const ms = Date.now() - frozenAt;
      assert.ok(ms < 400 + 800 + 2_000, `replaced after ${ms} ms`);
      await append(me, 'INBOX', [message({ from: 'mo@x.example', to: me.email, subject: 'After the freeze' })]);
      await waitFor('mail after the freeze', async () => ((await t3.request('GET', `/v1/messages?accountId=${id}`, { token: tenant3.apiKey })).body.items.length === 1 ? true : undefined), 10_000);
    } finally {
      await t3.close();
    }
  });

  test('refused credentials turn the account red with the reason, once, and the session stops trying until they change', async () => {
    const me = await addMailbox();
    const proxy = await startTcpProxy({ host: peers.host, port: peers.imap.tls });
    proxies.push(proxy);
    const id = await account(me, { imapPort: proxy.port, password: 'wrong-password' });
    const acc = await waitFor('red', async () => {
      const a = await api('GET', `/v1/accounts/${id}`);
      return a.body.statusColor === 'red' ? a.body : undefined;
    });
    assert.equal(acc.lastError.code, 'AUTH_FAILED');
    assert.ok(acc.lastError.hint);
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(proxy.connections(), 1, 'no retry loop with the same password');

    // the right password (verified on saving): a new session, green
    const fixed = await api('PATCH', `/v1/accounts/${id}`, { password: me.password });
    assert.equal(fixed.status, 200, fixed.text);
    await append(me, 'INBOX', [message({ from: 'nan@x.example', to: me.email, subject: 'After the fix' })]);
    await waitFor('synced after the fix', countIs(id, 1), 10_000);
    await waitFor('green', async () => ((await api('GET', `/v1/accounts/${id}`)).body.statusColor === 'green' ? true : undefined));
  });

  test('POP3: receive-only, by UIDL, mail left on the server, nothing twice; new mail queued into the campaign, the backlog not', async () => {
    const me = await addMailbox();
    await append(me, 'INBOX', [message({ from: 'olga@x.example', to: me.email, subject: 'Backlog 1' }), message({ from: 'pete@x.example', to: me.email, subject: 'Backlog 2' })]);
    const id = await account(me, { pop: true });
    const camp = await api('POST', '/v1/campaigns', { name: 'POP leads', accountId: id });
    assert.equal(camp.status, 201, camp.text);
    await waitFor('the backlog', countIs(id, 2));
    await waitFor('first check done', async () => (await syncRow(id))?.initial_done_at ?? undefined);
    await append(me, 'INBOX', [message({ from: 'quinn@x.example', to: me.email, subject: 'New lead' })]);
    await waitFor('the new one', countIs(id, 3), 10_000);
    await new Promise((r) => setTimeout(r, 1_000)); // more checks: nothing twice
    assert.equal((await messages(id)).length, 3);
    const queue = await api('GET', `/v1/campaigns/${camp.body.id}/queue`);
    assert.deepEqual(queue.body.items.map((i: any) => i.subject), ['New lead']);
    const left = await withPeerImap(me, async (c) => { const s = await c.status('INBOX', { messages: true }); return s ? s.messages : -1; });
    assert.equal(left, 3, 'POP3 leaves mail on the server');
  });

  test('IMAP campaign: only mail that arrives after the initial sync is queued, with campaign.item.queued and message.received webhooks', async () => {
    const receiver = await startReceiver();
    try {
      const hook = await api('POST', '/v1/webhooks', { url: receiver.url, events: ['campaign.item.queued', 'message.received'] });
      assert.equal(hook.status, 201, hook.text);
      const me = await addMailbox();
      await append(me, 'INBOX', [message({ from: 'rita@x.example', to: me.email, subject: 'Old inquiry' })]);
      const id = await account(me);
      const camp = await api('POST', '/v1/campaigns', { name: 'Leads', accountId: id });
      assert.equal(camp.status, 201, camp.text);
      await waitFor('idle', async () => (await syncRow(id))?.state === 'idle');
      await append(me, 'INBOX', [message({ from: 'sam@x.example', to: me.email, subject: 'New inquiry' })]);
      const item = await waitFor('queued', async () => (await api('GET', `/v1/campaigns/${camp.body.id}/queue`)).body.items[0], 5_000);
      assert.equal(item.subject, 'New inquiry');
      assert.equal(item.status, 'queued');
      await waitFor('webhooks', async () => (receiver.received.some((d) => { const e = JSON.parse(d.body); return e.type === 'campaign.item.queued' && e.data.itemId === item.id; }) ? true : undefined), 5_000);
      const queued = (await api('GET', `/v1/campaigns/${camp.body.id}/queue`)).body.items;
      assert.equal(queued.length, 1, 'the backlog is not queued');
    } finally {
      await receiver.close();
    }
  });

  test('mail sent through Mailport and then seen in Sent (its Sent copy) is one record', async () => {
    const me = await addMailbox();
    const id = await account(me);
    await waitFor('idle', async () => (await syncRow(id))?.state === 'idle');
    const sent = await api('POST', '/v1/messages', { accountId: id, to: 'tess@elsewhere.example', subject: 'Sent through Mailport', text: 'Hello' });
    assert.equal(sent.status, 202, sent.text);
    const job = await waitFor('sent with its copy stored', async () => {
      const j = (await api('GET', `/v1/outbox/${sent.body.id}`)).body;
      return j.status === 'sent' && j.sentCopy === 'stored' ? j : undefined;
    }, 20_000);
    const located = await waitFor('seen in Sent', async () => {
      const items = await messages(id);
      if (items.length !== 1) return undefined;
      const d = (await api('GET', `/v1/messages/${items[0].id}`)).body;
      return d.locations.some((l: any) => l.folder === 'Sent') ? d : undefined;
    }, 10_000);
    assert.equal(located.outboxId, job.id);
    assert.equal(located.direction, 'out');
    assert.equal(located.messageId, job.messageId);
    assert.equal((await messages(id)).length, 1, 'one record, not two');
  });

  test('hostile mail in the mailbox (a 50 MB attachment, deep nesting, a huge header, broken encodings) is recorded and the session carries on', { timeout: 180_000 }, async () => {
    const me = await addMailbox();
    const boundary = (n: number) => `b${n}`;
    let nested = 'Content-Type: text/plain\r\n\r\ninnermost\r\n';
    for (let i = 0; i < 120; i++) nested = `Content-Type: multipart/mixed; boundary="${boundary(i)}"\r\n\r\n--${boundary(i)}\r\n${nested}--${boundary(i)}--\r\n`;
    const big = Buffer.alloc(50 * 1024 * 1024, 'A').toString('base64').replace(/.{76}/g, '$&\r\n');
    const raws = [
      Buffer.from(`From: deep@x.example\r\nTo: ${me.email}\r\nSubject: Deep\r\nMessage-ID: <deep@x.example>\r\nMIME-Version: 1.0\r\n${nested}`),
      Buffer.from(`From: huge@x.example\r\nTo: ${me.email}\r\nSubject: Huge header\r\nMessage-ID: <huge@x.example>\r\nX-Junk: ${'y'.repeat(300 * 1024)}\r\n\r\nbody\r\n`),
      Buffer.from(`From: =?UTF-8?B?broken@@@?= <broken@x.example>\r\nTo: ${me.email}\r\nSubject: =?X-UNKNOWN?Q?odd?=\r\nMessage-ID: <broken@x.example>\r\nContent-Type: text/plain; charset=x-nonexistent\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n`),
      Buffer.from(`From: big@x.example\r\nTo: ${me.email}\r\nSubject: 50 MB\r\nMessage-ID: <big@x.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="z"\r\n\r\n--z\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--z\r\nContent-Type: application/octet-stream; name="big.bin"\r\nContent-Disposition: attachment; filename="big.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n${big}\r\n--z--\r\n`),
    ];
    await append(me, 'INBOX', raws);
    const id = await account(me);
    await waitFor('all four', countIs(id, 4), 120_000);
    const items = await messages(id);
    const bigOne = items.find((m) => m.subject === '50 MB');
    const detail = await api('GET', `/v1/messages/${bigOne.id}`);
    assert.equal(detail.body.attachments[0].filename, 'big.bin');
    assert.ok(detail.body.attachments[0].size >= 50 * 1024 * 1024);
    await append(me, 'INBOX', [message({ from: 'calm@x.example', to: me.email, subject: 'Business as usual' })]);
    await waitFor('mail after the hostile ones', countIs(id, 5), 10_000);
  });
});
