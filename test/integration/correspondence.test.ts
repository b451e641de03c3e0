import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ImapFlow } from 'imapflow';
import { loadPeers, addMailbox, type Peers, type PeerUser } from '../helpers/peers.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { trackSecret } from '../helpers/secrets.js';

/** A message as it lands in a mailbox: CRLF lines, some 8-bit bytes, so a text round trip would show. */
function message(o: { from: string; to: string; subject: string; id: string; date?: string; inReplyTo?: string; references?: string[]; body?: string }): Buffer {
  const lines = [
    `From: ${o.from}`,
    `To: ${o.to}`,
    `Subject: ${o.subject}`,
    `Date: ${o.date ?? new Date().toUTCString()}`,
    `Message-ID: ${o.id}`,
    ...(o.inReplyTo ? [`In-Reply-To: ${o.inReplyTo}`] : []),
    ...(o.references ? [`References: ${o.references.join(' ')}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-Transfer-Encoding: 8bit',
    '',
    o.body ?? 'Guten Tag, wir h\u00e4tten gern ein Angebot.',
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

// Correspondence end to end: messages are read from real Dovecot mailboxes (IMAP, UID and
// UIDVALIDITY), a reply goes out through the API and the send worker, and the same reply seen
// again in Sent stays one record in one thread.
describe('correspondence: ingest, threads, contacts and the read API', () => {
  let t: TestApp;
  let peers: Peers;
  let tenant: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };
  let owner: PeerUser;
  let accountId: string;
  const contact = `kunde.${randomBytes(3).toString('hex')}@customer.test`;
  const threadOf: Record<string, string> = {};

  const get = (url: string, token = tenant.apiKey) => t.request('GET', url, { token });

  async function imap<T>(fn: (c: ImapFlow) => Promise<T>): Promise<T> {
    const c = new ImapFlow({ host: peers.host, port: peers.imap.tls, secure: true, auth: { user: owner.email, pass: owner.password }, logger: false });
    c.on('error', () => {});
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.logout().catch(() => {});
    }
  }

  /** APPENDs to a folder of the owner's mailbox and reads it back as a sync would: bytes, UID, UIDVALIDITY, INTERNALDATE. */
  async function deliver(raw: Buffer, folder = 'INBOX') {
    return imap(async (c) => {
      await c.append(folder, raw);
      const lock = await c.getMailboxLock(folder);
      try {
        const m = await c.fetchOne('*', { source: true, uid: true, internalDate: true });
        assert.ok(m && m.source);
        return { raw: m.source, uid: m.uid, uidValidity: Number(c.mailbox && c.mailbox.uidValidity), internalDate: m.internalDate as Date };
      } finally {
        lock.release();
      }
    });
  }

  async function ingestFrom(folder: string, raw: Buffer, direction?: 'in' | 'out') {
    const seen = await deliver(raw, folder);
    return t.app.correspondence.ingest({ tenantId: tenant.id, accountId, folder, direction, raw: seen.raw, uid: seen.uid, uidValidity: seen.uidValidity, internalDate: seen.internalDate });
  }

  async function untilSent(id: string): Promise<any> {
    const end = Date.now() + 20_000;
    for (;;) {
      const j = (await get(`/v1/outbox/${id}`)).body;
      if (j.status === 'sent' && j.sentCopy) return j;
      if (j.status === 'failed' || Date.now() > end) assert.fail(`job ${id}: ${JSON.stringify(j)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  before(async () => {
    peers = loadPeers();
    owner = await addMailbox();
    trackSecret(owner.password);
    t = await startTestApp({
      name: 'correspondence',
      appOptions: { outbound: { worker: { pollMs: 50, backoffMs: [300], jitter: 0, sentCopyBackoffMs: [200] }, sentCopy: { searchDelayMs: 0, timeoutMs: 15_000 } } },
    });
    tenant = await t.createTenant('Acme');
    other = await t.createTenant('Other');
    // events are recorded for subscribed tenants (nothing listens on port 9: deliveries just retry)
    await t.request('POST', '/v1/webhooks', { token: tenant.apiKey, body: { url: 'http://127.0.0.1:9/hooks', events: ['message.received'] } });
    const res = await t.request('POST', '/v1/accounts', {
      token: tenant.apiKey,
      body: {
        name: 'Sales', type: 'smtp_imap', email: owner.email, password: owner.password, receiveEmails: true,
        smtp: { host: peers.host, port: peers.smtp.starttls, security: 'starttls' }, imap: { host: peers.host, port: peers.imap.tls, security: 'tls' },
      },
    });
    assert.equal(res.status, 201, res.text);
    accountId = res.body.id;
    t.app.outbound.worker.start();
  });
  after(async () => t?.close());

  test('a conversation: an inbound message, a reply sent through the API, the reply seen again in Sent: one record, one thread', async () => {
    const first = message({ from: `"Kunde" <${contact}>`, to: owner.email, subject: 'Angebot 2026', id: `<inbound-1.${randomBytes(4).toString('hex')}@customer.test>` });
    const firstId = /Message-ID: (<[^>]+>)/.exec(first.toString('latin1'))![1]!;
    const inbound = await ingestFrom('INBOX', first);
    assert.equal(inbound.created, true);
    assert.equal(inbound.direction, 'in');
    assert.equal(inbound.parseError, null);
    threadOf.conversation = inbound.threadId;

    // the same place again (a sync that fetched it twice) records nothing new
    const again = await imap(async (c) => {
      const lock = await c.getMailboxLock('INBOX');
      try {
        const m = await c.fetchOne('*', { source: true, uid: true });
        assert.ok(m && m.source);
        return t.app.correspondence.ingest({ tenantId: tenant.id, accountId, folder: 'INBOX', raw: m.source, uid: m.uid, uidValidity: Number(c.mailbox && c.mailbox.uidValidity) });
      } finally {
        lock.release();
      }
    });
    assert.deepEqual({ id: again.id, created: again.created }, { id: inbound.id, created: false });

    const sent = await t.request('POST', '/v1/messages', {
      token: tenant.apiKey,
      body: { accountId, to: contact, subject: 'Re: Angebot 2026', text: 'Gern, anbei unser Angebot.\n\n> Guten Tag', inReplyTo: firstId, references: [firstId] },
    });
    assert.equal(sent.status, 202, sent.text);
    const job = await untilSent(sent.body.id);
    assert.equal(job.sentCopy, 'stored');

    // the send worker's hook (recordSent) recorded it at send time; recording again finds the same record ...
    const full = await t.app.repos.outbox.getFull(sent.body.id);
    const atSend = await t.app.correspondence.recordSent(full!);
    assert.ok(atSend);
    assert.equal(atSend.created, false, 'the worker recorded it when it was sent');
    assert.equal(atSend.direction, 'out');
    assert.equal(atSend.threadId, inbound.threadId, 'In-Reply-To threads the reply');

    // ... and the Sent folder sync later finds the copy the worker stored there: the same record
    const seen = await imap(async (c) => {
      const sentFolder = (await c.list()).find((m) => m.specialUse === '\\Sent')!.path;
      const lock = await c.getMailboxLock(sentFolder);
      try {
        const uids = (await c.search({ header: { 'message-id': job.messageId } }, { uid: true })) || [];
        assert.equal(uids.length, 1);
        const m = await c.fetchOne(String(uids[0]), { source: true, uid: true }, { uid: true });
        assert.ok(m && m.source);
        return { folder: sentFolder, raw: m.source, uid: m.uid, uidValidity: Number(c.mailbox && c.mailbox.uidValidity) };
      }finally {
        lock.release();
      }
    });
    const inSent = await t.app.correspondence.ingest({ tenantId: tenant.id, accountId, folder: seen.folder, direction: 'out', raw: seen.raw, uid: seen.uid, uidValidity: seen.uidValidity });
    assert.deepEqual({ id: inSent.id, created: inSent.created }, { id: atSend.id, created: false });

    const list = await get(`/v1/messages?threadId=${inbound.threadId}`);
    assert.equal(list.status, 200, list.text);
    assert.equal(list.body.items.length, 2, JSON.stringify(list.body.items.map((i: any) => [i.subject, i.folder])));
    const reply = list.body.items.find((i: any) => i.direction === 'out');
    assert.equal(reply.messageId, job.messageId);
    assert.equal(reply.outboxId, sent.body.id);
    assert.equal(reply.folder, seen.folder, 'the real folder once seen there');
    assert.deepEqual(reply.to, [{ name: null, address: contact }]);
    assert.equal(reply.snippet, 'Gern, anbei unser Angebot.');

    // the customer answers both, with References: still the same thread
    const second = await ingestFrom('INBOX', message({ from: contact, to: owner.email, subject: 'Re: Re: Angebot 2026', id: `<inbound-2.${randomBytes(4).toString('hex')}@customer.test>`, inReplyTo: job.messageId, references: [firstId, job.messageId], body: 'Danke!' }));
    assert.equal(second.threadId, inbound.threadId);
    // and once more from a mail program that drops the headers: found by subject and contact
    const bySubject = await ingestFrom('INBOX', message({ from: contact, to: owner.email, subject: 'AW: Angebot 2026', id: `<inbound-3.${randomBytes(4).toString('hex')}@customer.test>`, body: 'Noch eine Frage.' }));
    assert.equal(bySubject.threadId, inbound.threadId);
    // the same subject from someone else is another conversation
    const stranger = await ingestFrom('INBOX', message({ from: 'someone.else@elsewhere.test', to: owner.email, subject: 'Re: Angebot 2026', id: `<stranger.${randomBytes(4).toString('hex')}@elsewhere.test>` }));
    assert.notEqual(stranger.threadId, inbound.threadId);
    threadOf.stranger = stranger.threadId;

    const thread = await get(`/v1/messages?threadId=${inbound.threadId}`);
    assert.deepEqual(thread.body.items.map((i: any) => i.direction), ['in', 'in', 'out', 'in'], 'newest first');

    const events = await t.app.store.db.selectFrom('webhook_events').select(['type', 'payload']).where('tenant_id', '=', tenant.id).where('type', '=', 'message.received').execute();
    assert.ok(events.some((e) => JSON.parse(e.payload).data.id === inbound.id), 'message.received was recorded for the inbound message');
    assert.ok(!events.some((e) => JSON.parse(e.payload).data.id === atSend.id), 'not for our own reply');
  });

  test('a message seen only in Sent (the send-time hook did not run) is linked to the outbox job that sent it', async () => {
    // stands in for a hook that failed: the worker logs it and the message still counts as sent
    const deps = (t.app.outbound.worker as unknown as { deps: { records?: unknown } }).deps;
    const hook = deps.records;
    deps.records = undefined;
    let sent;
    let job;
    try {
      sent = await t.request('POST', '/v1/messages', { token: tenant.apiKey, body: { accountId, to: contact, subject: 'Termin', text: 'Passt Dienstag?' } });
      assert.equal(sent.status, 202, sent.text);
      job = await untilSent(sent.body.id);
    } finally {
      deps.records = hook;
    }
    const full = await t.app.repos.outbox.getFull(sent.body.id);
    const r = await t.app.correspondence.ingest({ tenantId: tenant.id, accountId, folder: 'Sent', raw: full!.raw, uid: 900_001, uidValidity: 4_294_967_295 });
    assert.equal(r.created, true);
    assert.equal(r.direction, 'out', 'From is the account address');
    const view = (await get(`/v1/messages/${r.id}`)).body;
    assert.equal(view.outboxId, job.id);
    assert.equal(view.messageId, job.messageId);
  });

  const partner = `partner.${randomBytes(3).toString('hex')}@customer.test`;
  const recordsOf = async (outboxId: string) => (await t.app.store.db.selectFrom('mail_messages').select('id').where('outbox_id', '=', outboxId).execute()).length;
  const sendToPartner = async (subject: string) => {
    const sent = await t.request('POST', '/v1/messages', { token: tenant.apiKey, body: { accountId, to: partner, subject, text: 'Bis dann.' } });
    assert.equal(sent.status, 202, sent.text);
    return untilSent(sent.body.id);
  };

  test('the record of a sent message is written in the transaction of its outcome: a write that failed after it keeps neither, the one written again keeps one', async () => {
    // the first sent outcome's transaction fails after everything in it (its event, its record) was written
    const outbox = t.app.repos.outbox;
    const finishMany = outbox.finishMany.bind(outbox);
    let failed = 0;
    // how many records the job had the moment its outcome was committed
    const atCommit: number[] = [];
    outbox.finishMany = async (outcomes) => {
      const results = await finishMany(outcomes.map((o) => {
        const within = o.within;
        if (!within || o.patch.status !== 'sent' || failed > 0) return o;
        return { ...o, within: async (tx) => {
          await within(tx);
          failed++;
          throw new Error('the database is away for a moment (test)');
        } };
      }));
      for (const [i, r] of results.entries()) {
        if (outcomes[i]!.patch.status === 'sent' && r.status === 'fulfilled' && r.value) atCommit.push(await recordsOf(outcomes[i]!.id));
      }
      return results;
    };
    const logsBefore = t.logs().length;
    let job;
    try {
      job = await sendToPartner('Record once');
    } finally {
      outbox.finishMany = finishMany;
    }
    assert.equal(failed, 1);
    // no record was left by the failed write, and the one written again was committed with the outcome
    assert.deepEqual(atCommit, [1]);
    assert.equal(await recordsOf(job.id), 1);
    const logs = t.logs().slice(logsBefore);
    assert.ok(logs.includes('could not write the outcome of an outbox job'), 'the failed write is logged');
    assert.ok(!logs.includes('recording it on its own'), 'recorded with the outcome both times');
  });

  test('a record that cannot be written with the outcome is undone alone: the message is sent once and recorded after', async () => {
    // the record's rows are written twice in the outcome's transaction: a key taken, rolled back to its savepoint
    const repo = t.app.repos.correspondence;
    const on = repo.on.bind(repo);
    repo.on = (tx) => {
      const r = on(tx);
      const insertMany = r.insertMany.bind(r);
      r.insertMany = async (m, db) => {
        await insertMany(m, db);
        await insertMany(m, db);
      };
      return r;
    };
    const logsBefore = t.logs().length;
    let job;
    try {
      job = await sendToPartner('Record after');
    } finally {
      repo.on = on;
    }
    assert.equal(job.attempts, 1);
    const end = Date.now() + 5000;
    while ((await recordsOf(job.id)) === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await recordsOf(job.id), 1, 'recorded once, on its own');
    const logs = t.logs().slice(logsBefore);
    assert.equal(logs.split('\n').filter((l) => l.includes('recording it on its own')).length, 1, 'the fallback is logged');
    assert.ok(!logs.includes('could not write the outcome of an outbox job'), 'the outcome was written the first time');
    const view = (await get(`/v1/messages?contact=${encodeURIComponent(partner)}`)).body.items.find((i: any) => i.outboxId === job.id);
    assert.equal(view?.subject, 'Record after');
  });

  test('a sent outcome waits for a slow parse only so long: written at once, its record right after, from the same parse', async () => {
    // an HTML-only message has no record built from its draft: it is parsed, here slowly (a parser busy with sync batches)
    type Records = { parse(raw: Buffer): Promise<unknown> };
    const deps = (t.app.outbound.worker as unknown as { deps: { records: Records } }).deps;
    const records = deps.records;
    let parses = 0;
    deps.records = { ...records, parse: async (raw) => {
      parses++;
      await new Promise((r) => setTimeout(r, 2500));
      return records.parse(raw);
    } };
    const outbox = t.app.repos.outbox;
    const finishMany = outbox.finishMany.bind(outbox);
    const atCommit: number[] = [];
    outbox.finishMany = async (outcomes) => {
      const results = await finishMany(outcomes);
      for (const [i, r] of results.entries()) {
        if (outcomes[i]!.patch.status === 'sent' && r.status === 'fulfilled' && r.value) atCommit.push(await recordsOf(outcomes[i]!.id));
      }
      return results;
    };
    let id: string;
    try {
      const sent = await t.request('POST', '/v1/messages', { token: tenant.apiKey, body: { accountId, to: partner, subject: 'Parsed late', html: '<p>Bis <b>dann</b>.</p>' } });
      assert.equal(sent.status, 202, sent.text);
      id = sent.body.id;
      await untilSent(id);
      const end = Date.now() + 10_000;
      while ((await recordsOf(id)) === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    } finally {
      deps.records = records;
      outbox.finishMany = finishMany;
    }
    assert.deepEqual(atCommit, [0], 'the outcome did not wait for the parse');
    assert.equal(await recordsOf(id), 1, 'recorded once, after the outcome');
    assert.equal(parses, 1, 'from the parse already under way');
    const view = (await get(`/v1/messages?contact=${encodeURIComponent(partner)}`)).body.items.find((i: any) => i.outboxId === id);
    assert.equal(view?.subject, 'Parsed late');
  });

  test('filters: contact (any case), direction, account; other tenants see nothing', async () => {
    const byContact = await get(`/v1/messages?contact=${encodeURIComponent(contact.toUpperCase())}`);
    assert.equal(byContact.status, 200, byContact.text);
    assert.equal(byContact.body.items.length, 5);
    assert.ok(byContact.body.items.every((i: any) => [i.from?.address, ...i.to.map((a: any) => a.address)].includes(contact)));
    const out = await get(`/v1/messages?contact=${encodeURIComponent(contact)}&direction=out`);
    assert.equal(out.body.items.length, 2);
    const stranger = await get(`/v1/messages?contact=someone.else@elsewhere.test&accountId=${accountId}`);
    assert.deepEqual(stranger.body.items.map((i: any) => i.threadId), [threadOf.stranger]);
    assert.equal((await get(`/v1/messages?accountId=acc_nothing`)).body.items.length, 0);

    assert.equal((await get('/v1/messages?direction=sideways')).status, 400);
    assert.equal((await get('/v1/messages?direction=sideways')).body.error.field, 'direction');
    assert.equal((await get('/v1/messages?contact=not-an-address')).body.error.field, 'contact');

    const mine = byContact.body.items[0];
    assert.equal((await get(`/v1/messages/${mine.id}`, other.apiKey)).status, 404);
    assert.equal((await get(`/v1/messages/${mine.id}/raw`, other.apiKey)).status, 404);
    assert.deepEqual((await get('/v1/messages', other.apiKey)).body, { items: [], nextCursor: null });
  });

  test('pagination: an opaque cursor, newest first by date then id, no gaps or repeats', async () => {
    const base = Date.parse('2026-03-01T10:00:00Z');
    for (let i = 0; i < 7; i++) {
      // two pairs share a Date: the id breaks the tie
      const date = new Date(base + Math.floor(i / 2) * 60_000).toUTCString();
      await t.app.correspondence.ingest({ tenantId: tenant.id, accountId, folder: 'INBOX', raw: message({ from: 'pager@paging.test', to: owner.email, subject: `Page ${i}`, id: `<page-${i}.${randomBytes(3).toString('hex')}@paging.test>`, date }) });
    }
    const all = (await get('/v1/messages?contact=pager@paging.test&limit=200')).body.items;
    assert.equal(all.length, 7);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(`/v1/messages?contact=pager@paging.test&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200, res.text);
      seen.push(...res.body.items.map((i: any) => i.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, all.map((i: any) => i.id));
    for (let i = 1; i < all.length; i++) {
      const [a, b] = [all[i - 1], all[i]];
      assert.ok(a.date > b.date || (a.date === b.date && a.id > b.id), 'ordered by date, then id, descending');
    }
    const everything = (await get('/v1/messages?limit=5')).body;
    const next = (await get(`/v1/messages?limit=5&cursor=${everything.nextCursor}`)).body;
    assert.equal(new Set([...everything.items, ...next.items].map((i: any) => i.id)).size, 10);

    assert.equal((await get('/v1/messages?cursor=bm90LWEtY3Vyc29y')).body.error.field, 'cursor');
    assert.equal((await get('/v1/messages?limit=0')).status, 400);
    assert.equal((await get('/v1/messages?limit=201')).status, 400);
  });

  test('raw: the exact bytes as message/rfc822', async () => {
    const raw = message({ from: contact, to: owner.email, subject: '=?ISO-8859-1?Q?Rohdaten_=FC?=', id: `<raw.${randomBytes(4).toString('hex')}@customer.test>`, body: 'Bytes: \u00e4\u00f6\u00fc\u00df \u00ff' });
    const seen = await deliver(raw);
    assert.ok(seen.raw.equals(raw), 'Dovecot keeps the bytes');
    const r = await t.app.correspondence.ingest({ tenantId: tenant.id, accountId, folder: 'INBOX', raw: seen.raw, uid: seen.uid, uidValidity: seen.uidValidity });
    const res = await t.app.server.inject({ method: 'GET', url: `/v1/messages/${r.id}/raw`, headers: { authorization: `Bearer ${tenant.apiKey}` } });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^message\/rfc822/);
    assert.ok(res.rawPayload.equals(raw), 'identical bytes');
    const detail = (await get(`/v1/messages/${r.id}`)).body;
    assert.equal(detail.subject, 'Rohdaten \u00fc');
    assert.equal(detail.text.trim(), 'Bytes: \u00e4\u00f6\u00fc\u00df \u00ff');
    assert.ok(detail.headers.some((h: any) => h.name === 'Message-ID'));
    assert.deepEqual(detail.attachments, []);
  });

  test('hostile messages are recorded with what could be read, flagged, and served whole', async () => {
    const hostile: Array<{ name: string; raw: Buffer; flagged: boolean }> = [
      { name: 'huge header', raw: Buffer.from(`From: ${contact}\r\nSubject: huge\r\nMessage-ID: <huge.${randomBytes(3).toString('hex')}@x.test>\r\nX-Junk: ${'j'.repeat(2 * 1024 * 1024)}\r\n\r\nbody\r\n`), flagged: true },
      {
        name: 'deep nesting',
        raw: Buffer.from(`From: ${contact}\r\nSubject: deep\r\n${Array.from({ length: 3000 }, (_, i) => `Content-Type: multipart/mixed; boundary="d${i}"\r\n\r\n--d${i}\r\n`).join('')}\r\nx\r\n`),
        flagged: true,
      },
      { name: 'broken encodings', raw: Buffer.from(`From: ${contact}\r\nSubject: =?utf-8?B?####?=\r\nContent-Type: text/plain; charset=nope\r\nContent-Transfer-Encoding: base64\r\n\r\n%%%\xff\xfe\r\n`, 'latin1'), flagged: false },
      { name: 'binary garbage', raw: randomBytes(64 * 1024), flagged: false },
      { name: 'empty', raw: Buffer.alloc(0), flagged: false },
    ];
    for (const h of hostile) {
      const r = await t.app.correspondence.ingest({ tenantId: tenant.id, accountId, folder: 'INBOX', raw: h.raw });
      assert.equal(r.created, true, h.name);
      if (h.flagged) assert.ok(r.parseError, `${h.name}: flagged`);
      const detail = await get(`/v1/messages/${r.id}`);
      assert.equal(detail.status, 200, `${h.name}: ${detail.text.slice(0, 200)}`);
      assert.equal(detail.body.parseError, r.parseError);
      const raw = await t.app.server.inject({ method: 'GET', url: `/v1/messages/${r.id}/raw`, headers: { authorization: `Bearer ${tenant.apiKey}` } });
      assert.ok(raw.rawPayload.equals(h.raw), `${h.name}: kept whole`);
    }
    const huge = (await get(`/v1/messages?contact=${encodeURIComponent(contact)}&limit=200`)).body.items.find((i: any) => i.subject === 'huge');
    assert.ok(huge && huge.parseError, 'the huge header message is listed under its contact, flagged');
  });
});
