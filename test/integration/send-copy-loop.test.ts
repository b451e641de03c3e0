import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadPeers, addMailbox, type Peers, type PeerUser } from '../helpers/peers.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { trackSecret } from '../helpers/secrets.js';

// A Sent copy for a provider that may file its own waits before it looks (searchDelayMs), then
// holds an IMAP session: the send loop must go on meanwhile. Real Dovecot and SMTP peers.
describe('Sent copies are made beside the send loop, not in its way', () => {
  const SEARCH_DELAY_MS = 2_000;
  let t: TestApp;
  let peers: Peers;
  let tenant: { id: string; apiKey: string };
  let sender: PeerUser;

  const job = async (id: string) => (await t.request('GET', `/v1/outbox/${id}`, { token: tenant.apiKey })).body;
  async function until(id: string, ok: (j: any) => boolean, what: string, timeoutMs = 15_000): Promise<any> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const j = await job(id);
      if (ok(j)) return j;
      if (Date.now() > end) assert.fail(`job ${id} is ${j.status} (sentCopy ${j.sentCopy}), wanted ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  before(async () => {
    peers = loadPeers();
    sender = await addMailbox();
    trackSecret(sender.password);
    t = await startTestApp({
      name: 'send-copy-loop',
      appOptions: { outbound: { worker: { pollMs: 50 }, sentCopy: { searchDelayMs: SEARCH_DELAY_MS, timeoutMs: 15_000 } } },
    });
    tenant = await t.createTenant('Copies');
    t.app.outbound.worker.start();
  });
  after(async () => t?.close());

  test('a message accepted while an earlier one waits for its Sent copy is sent at once, and both copies are stored', async () => {
    // no preset: whether the server files its own copy is unknown, so the copy waits searchDelayMs
    const account = await t.request('POST', '/v1/accounts?verify=false', {
      token: tenant.apiKey,
      body: {
        name: 'Own server', type: 'smtp_imap', email: sender.email, password: sender.password,
        smtp: { host: peers.host, port: peers.smtp.starttls, security: 'starttls' }, imap: { host: peers.host, port: peers.imap.tls, security: 'tls' },
      },
    });
    assert.equal(account.status, 201, account.text);
    const post = async (subject: string) => {
      const r = await t.request('POST', '/v1/messages', { token: tenant.apiKey, body: { accountId: account.body.id, to: sender.email, subject, text: `${subject}\n` } });
      assert.equal(r.status, 202, r.text);
      return r.body.id as string;
    };
    const first = await post('First');
    await until(first, (j) => j.status === 'sent', 'sent');
    // the first one's copy is now due: its batch waits SEARCH_DELAY_MS before it even looks
    await new Promise((r) => setTimeout(r, 200));
    const second = await post('Second');
    await until(second, (j) => j.status === 'sent', 'sent');
    assert.equal((await job(first)).sentCopy, null, 'the second was sent while the first one\'s copy was still being made');
    const copies = await Promise.all([first, second].map((id) => until(id, (j) => j.sentCopy !== null, 'a settled copy', 20_000)));
    assert.deepEqual(copies.map((j) => j.sentCopy), ['stored', 'stored']);
  });
});
