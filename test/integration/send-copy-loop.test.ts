import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadPeers, addMailbox, type Peers, type PeerUser } from '../helpers/peers.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { trackSecret } from '../helpers/secrets.js';

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

/**
 * An app whose worker runs, a tenant, and its own mailbox on the real Dovecot and SMTP peers with
 * no preset: whether the server files its own copy is unknown, so each copy waits `searchDelayMs`
 * before it looks, then holds an IMAP session.
 */
function copySetup(name: string, worker: { pollMs: number; visibilityTimeoutMs?: number }, searchDelayMs: number) {
  const ctx = {} as { t: TestApp; tenant: { id: string; apiKey: string }; accountId: string };
  before(async () => {
    const peers: Peers = loadPeers();
    const sender: PeerUser = await addMailbox();
    trackSecret(sender.password);
    ctx.t = await startTestApp({ name, appOptions: { outbound: { worker, sentCopy: { searchDelayMs, timeoutMs: 15_000 } } } });
    ctx.tenant = await ctx.t.createTenant('Copies');
    const account = await ctx.t.request('POST', '/v1/accounts?verify=false', {
      token: ctx.tenant.apiKey,
      body: {
        name: 'Own server', type: 'smtp_imap', email: sender.email, password: sender.password,
        smtp: { host: peers.host, port: peers.smtp.starttls, security: 'starttls' }, imap: { host: peers.host, port: peers.imap.tls, security: 'tls' },
      },
    });
    assert.equal(account.status, 201, account.text);
    ctx.accountId = account.body.id;
    ctx.t.app.outbound.worker.start();
  });
  after(async () => ctx.t?.close());
  const job = async (id: string) => (await ctx.t.request('GET', `/v1/outbox/${id}`, { token: ctx.tenant.apiKey })).body;
  return {
    ctx,
    job,
    async post(subject: string): Promise<string> {
      const r = await ctx.t.request('POST', '/v1/messages', { token: ctx.tenant.apiKey, body: { accountId: ctx.accountId, to: 'customer@example.test', subject, text: `${subject}\n` } });
      assert.equal(r.status, 202, r.text);
      return r.body.id as string;
    },
    async until(id: string, ok: (j: any) => boolean, what: string, timeoutMs = 15_000): Promise<any> {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const j = await job(id);
        if (ok(j)) return j;
        if (Date.now() > end) assert.fail(`job ${id} is ${j.status} (sentCopy ${j.sentCopy}), wanted ${what}`);
        await sleep(25);
      }
    },
  };
}

// The send loop must go on while a copy waits and runs.
describe('Sent copies are made beside the send loop, not in its way', () => {
  const { job, post, until } = copySetup('send-copy-loop', { pollMs: 50 }, 2_000);

  test('a message accepted while an earlier one waits for its Sent copy is sent at once, and both copies are stored', async () => {
    const first = await post('First');
    await until(first, (j) => j.status === 'sent', 'sent');
    // the first one's copy is now due: its batch waits the search delay before it even looks
    await sleep(200);
    const second = await post('Second');
    await until(second, (j) => j.status === 'sent', 'sent');
    assert.equal((await job(first)).sentCopy, null, 'the second was sent while the first one\'s copy was still being made');
    const copies = await Promise.all([first, second].map((id) => until(id, (j) => j.sentCopy !== null, 'a settled copy', 20_000)));
    assert.deepEqual(copies.map((j) => j.sentCopy), ['stored', 'stored']);
  });
});

// A copy that takes longer than the visibility timeout (a search delay of 1.5 s against a 400 ms
// claim) is renewed while it runs: no other node can claim it meanwhile and store it again.
describe('a Sent copy slower than the visibility timeout keeps its claim', () => {
  const VISIBILITY_MS = 400;
  const { ctx, job, post, until } = copySetup('send-copy-renew', { pollMs: 50, visibilityTimeoutMs: VISIBILITY_MS }, 1_500);

  test('another node polling for copies meanwhile gets nothing, and the copy ends stored', async () => {
    const id = await post('Slow copy');
    await until(id, (j) => j.status === 'sent', 'sent');
    // once this node's copier has claimed the copy (the claim token of a copy batch holds the row)...
    const outbox = ctx.t.app.repos.outbox;
    for (const end = Date.now() + 5_000; !(await outbox.get(ctx.tenant.id, id))?.locked_by?.includes(':c') && Date.now() < end; ) await sleep(10);
    // ...another node polls every 50 ms until the copy settled: its claim would be a second copy
    let polls = 0;
    let j: any;
    for (const end = Date.now() + 15_000; ; await sleep(50)) {
      const now = new Date();
      const taken = await outbox.claimSentCopies(now.toISOString(), 10, 'other-node:c1', new Date(now.getTime() + 60_000).toISOString());
      assert.deepEqual(taken.map((x) => x.id), [], `another node took the copy over after ${polls} polls`);
      polls++;
      j = await job(id);
      if (j.sentCopy !== null || Date.now() > end) break;
    }
    assert.equal(j.sentCopy, 'stored');
    assert.ok(polls * 50 > 2 * VISIBILITY_MS, `the copy ran past its first claim's expiry (${polls} polls)`);
  });
});
