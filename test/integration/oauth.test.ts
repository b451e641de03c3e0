import { readFileSync } from 'node:fs';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { loadPeers, addMailbox, readCaptured, revokeToken, type Peers, type PeerUser } from '../helpers/peers.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { trackSecret } from '../helpers/secrets.js';
import { waitFor } from '../helpers/wait.js';

// OAuth sign-in end to end against the local issuer (oauth2-mock-server's /authorize with PKCE), the
// SMTP peer (AUTH XOAUTH2 checked at the issuer's /userinfo) and Dovecot's oauth2 passdb: the browser's
// redirects are followed with fetch, the callback is Mailport's real route.
describe('OAuth sign-in, refresh and revocation against the local issuer', () => {
  let t: TestApp;
  let peers: Peers;
  let tenant: { id: string; apiKey: string };
  const RETURN = 'https://app.example/settings/done';

  const endpoints = () => ({
    smtp: { host: peers.host, port: peers.smtp.starttls, security: 'starttls' },
    imap: { host: peers.host, port: peers.imap.tls, security: 'tls' },
  });
  const get = async (id: string) => (await t.request('GET', `/v1/accounts/${id}`, { token: tenant.apiKey })).body;
  const tokensOf = async (id: string) => {
    const row = await t.app.repos.oauth.getTokens(id);
    assert.ok(row, 'tokens stored');
    return {
      row,
      access: trackSecret(t.app.box.open(row.access_token_enc, `account:${id}:access_token`)),
      refresh: trackSecret(t.app.box.open(row.refresh_token_enc!, `account:${id}:refresh_token`)),
    };
  };

  async function gmailAccount(user: PeerUser): Promise<string> {
    const res = await t.request('POST', '/v1/accounts', { token: tenant.apiKey, body: { name: `Gmail ${user.email}`, type: 'gmail', email: user.email, ...endpoints() } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.statusColor, 'grey');
    return res.body.id;
  }

  /** authorize-url → the issuer's /authorize (302 with code) → the callback URL Mailport handed out. */
  async function authorize(accountId: string, opts: { as?: string } = {}): Promise<URL> {
    const res = await t.request('GET', `/v1/accounts/${accountId}/oauth/authorize-url?returnUrl=${encodeURIComponent(RETURN)}`, { token: tenant.apiKey });
    assert.equal(res.status, 200, res.text);
    const url = new URL(res.body.url);
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(url.searchParams.get('code_challenge'));
    assert.match(url.searchParams.get('scope')!, /openid email https:\/\/mail\.google\.com\//);
    trackSecret(url.searchParams.get('state')!);
    if (opts.as) url.searchParams.set('login_hint', opts.as);
    const r = await fetch(url, { redirect: 'manual' });
    assert.equal(r.status, 302);
    const cb = new URL(r.headers.get('location')!);
    assert.equal(cb.pathname, '/oauth/callback');
    trackSecret(cb.searchParams.get('code')!);
    return cb;
  }

  async function callback(cb: URL) {
    return t.request('GET', `${cb.pathname}${cb.search}`, { token: null });
  }

  /** The whole browser round trip; returns where Mailport sent the browser back. */
  async function signIn(accountId: string, opts: { as?: string } = {}): Promise<URL> {
    const res = await callback(await authorize(accountId, opts));
    assert.equal(res.status, 302, res.text);
    const back = new URL(String(res.headers.location));
    assert.equal(`${back.origin}${back.pathname}`, RETURN);
    return back;
  }

  async function setTtl(email: string, seconds: number) {
    const r = await fetch(`${peers.oauth.url}/test/token-ttl`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, seconds }) });
    assert.equal(r.status, 204);
  }

  async function queue(accountId: string, to: string, subject: string): Promise<string> {
    const res = await t.request('POST', '/v1/messages', { token: tenant.apiKey, body: { accountId, to, subject, text: 'Hello over OAuth' } });
    assert.equal(res.status, 202, res.text);
    return res.body.id;
  }
  const job = async (id: string) => (await t.request('GET', `/v1/outbox/${id}`, { token: tenant.apiKey })).body;
  const count = (text: string, needle: string) => text.split('\n').filter((l) => l.includes(needle)).length;

  before(async () => {
    peers = loadPeers();
    t = await startTestApp({
      name: 'oauth',
      appOptions: {
        oauth: { refreshSkewMs: 1_000 },
        sync: { pollMs: 500, scanMs: 200, backoffMs: 100, maxBackoffMs: 500, commandTimeoutMs: 5_000 },
        outbound: { worker: { backoffMs: [0], jitter: 0, accountWaitMs: 0 } },
      },
    });
    tenant = await t.createTenant('Acme');
    const app = await t.request('POST', '/v1/oauth-apps', {
      body: { provider: 'google', clientId: 'mailport-test', clientSecret: trackSecret('test-client-secret-123'), authorizationEndpoint: `${peers.oauth.url}/authorize`, tokenEndpoint: peers.oauth.tokenUrl },
    });
    assert.equal(app.status, 201, app.text);
  });
  after(async () => t?.close());

  test('OAuth apps: admin only, secrets never returned, defaults filled in, removable', async () => {
    const denied = await t.request('POST', '/v1/oauth-apps', { token: tenant.apiKey, body: { provider: 'google', clientId: 'x', clientSecret: 'y-secret' } });
    assert.equal(denied.status, 403);
    const ms = await t.request('POST', '/v1/oauth-apps', { body: { provider: 'microsoft', clientId: 'ms-app', clientSecret: trackSecret('ms-secret-456'), tenant: 'consumers' } });
    assert.equal(ms.status, 201, ms.text);
    assert.equal(ms.body.authorizationEndpoint, 'https://login.microsoftonline.com/consumers/oauth2/v2.0/authorize');
    assert.equal(ms.body.tokenEndpoint, 'https://login.microsoftonline.com/consumers/oauth2/v2.0/token');
    assert.deepEqual(ms.body.scopes, ['https://outlook.office.com/IMAP.AccessAsUser.All', 'https://outlook.office.com/SMTP.Send', 'offline_access']);
    const list = await t.request('GET', '/v1/oauth-apps');
    assert.equal(list.status, 200);
    assert.ok(!list.text.includes('secret-'), 'no client secret in the list');
    assert.ok(list.body.items.some((a: any) => a.provider === 'google' && a.tokenEndpoint === peers.oauth.tokenUrl));
    const plain = await t.request('POST', '/v1/oauth-apps', { body: { provider: 'google', clientId: 'x', clientSecret: 'y-secret', tokenEndpoint: 'http://oauth.example.com/token' } });
    assert.equal(plain.status, 400);
    assert.equal(plain.body.error.field, 'tokenEndpoint');
    assert.equal((await t.request('DELETE', `/v1/oauth-apps/${ms.body.id}`)).status, 204);
    assert.equal((await t.request('DELETE', `/v1/oauth-apps/${ms.body.id}`)).status, 404);
  });

  test('sign-in stores sealed tokens and turns green; test send, a queued send (XOAUTH2) and IMAP verify work', async () => {
    const user = await addMailbox();
    trackSecret(user.password);
    const id = await gmailAccount(user);
    const back = await signIn(id);
    assert.equal(back.searchParams.get('status'), 'active', back.search);
    assert.equal(back.searchParams.get('accountId'), id);
    const view = await get(id);
    assert.equal(view.statusColor, 'green');
    assert.equal(view.hasPassword, false);
    const { row, access } = await tokensOf(id);
    assert.match(row.access_token_enc, /^v1\./);
    assert.ok(!row.access_token_enc.includes(access));

    const verify = await t.request('POST', `/v1/accounts/${id}/verify`, { token: tenant.apiKey, body: {} });
    assert.equal(verify.status, 200, verify.text);
    assert.equal(verify.body.status, 'active');
    assert.deepEqual(verify.body.checks.map((c: any) => [c.protocol, c.ok]), [['smtp', true], ['imap', true]]);

    const rcpt = await addMailbox();
    trackSecret(rcpt.password);
    const ts = await t.request('POST', `/v1/accounts/${id}/test-send`, { token: tenant.apiKey, body: { to: rcpt.email } });
    assert.equal(ts.status, 200, ts.text);
    assert.equal((await readCaptured(ts.body.messageId)).authMethod, 'XOAUTH2');

    const jobId = await queue(id, rcpt.email, 'Queued over OAuth');
    await t.app.outbound.worker.runOnce();
    const j = await job(jobId);
    assert.equal(j.status, 'sent', JSON.stringify(j.lastError));
    const captured = await readCaptured(j.messageId);
    assert.equal(captured.authMethod, 'XOAUTH2');
    assert.equal(captured.user, user.email);
  });

  test('a replayed or expired state is refused; nothing changes', async () => {
    const user = await addMailbox();
    trackSecret(user.password);
    const id = await gmailAccount(user);
    const cb = await authorize(id);
    assert.equal((await callback(cb)).status, 302);
    const replay = await callback(cb);
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error.code, 'INVALID_INPUT');
    assert.equal(replay.body.error.field, 'state');
    assert.match(replay.body.error.message, /already used or has expired/);

    const late = await authorize(id);
    const hash = createHash('sha256').update(late.searchParams.get('state')!).digest('hex');
    await t.app.store.db.updateTable('oauth_states').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('state_hash', '=', hash).execute();
    const expired = await callback(late);
    assert.equal(expired.status, 400);
    assert.equal(expired.body.error.field, 'state');
  });

  test('a cancelled sign-in comes back to returnUrl as OAUTH_FAILED; the account stays grey', async () => {
    const user = await addMailbox();
    trackSecret(user.password);
    const id = await gmailAccount(user);
    const res = await t.request('GET', `/v1/accounts/${id}/oauth/authorize-url?returnUrl=${encodeURIComponent(RETURN)}`, { token: tenant.apiKey });
    const state = trackSecret(new URL(res.body.url).searchParams.get('state')!);
    const cb = await t.request('GET', `/oauth/callback?error=access_denied&state=${encodeURIComponent(state)}`, { token: null });
    assert.equal(cb.status, 302);
    const back = new URL(String(cb.headers.location));
    assert.equal(back.searchParams.get('status'), 'error');
    assert.equal(back.searchParams.get('code'), 'OAUTH_FAILED');
    assert.match(back.searchParams.get('message')!, /cancelled/);
    assert.equal((await get(id)).statusColor, 'grey');
  });

  test('an account saved before its sign-in stays grey while the sync scans (not red: nothing failed), and turns green once signed in', async () => {
    const user = await addMailbox();
    trackSecret(user.password);
    const id = await gmailAccount(user);
    // each sync session asks for the account's credentials first
    const accounts = t.app.accounts;
    const loginCredentials = accounts.loginCredentials.bind(accounts);
    let asked = 0;
    accounts.loginCredentials = (row, ...rest) => {
      if (row.id === id) asked++;
      return loginCredentials(row, ...rest);
    };
    t.app.sync.start();
    try {
      // five scans of the sync supervisor (scanMs 200); the first session used to turn it red (OAUTH_REQUIRED)
      await new Promise((r) => setTimeout(r, 1_000));
      const waiting = await get(id);
      assert.equal(waiting.statusColor, 'grey', JSON.stringify(waiting.lastError));
      assert.equal(waiting.lastError, null);
      assert.equal(asked, 0, 'no session was started for it: there is nothing to sign in with yet');
      assert.equal((await signIn(id)).searchParams.get('status'), 'active');
      assert.equal((await get(id)).statusColor, 'green');
      // once signed in, the next scan starts its session
      const end = Date.now() + 5_000;
      while (asked === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      assert.ok(asked > 0, 'a session signed in after the sign-in');
    } finally {
      accounts.loginCredentials = loginCredentials;
      await t.app.sync.stop();
    }
  });

  test('signing in with another address is refused with a clear error and stores nothing', async () => {
    const user = await addMailbox();
    const other = await addMailbox();
    trackSecret(user.password);
    trackSecret(other.password);
    const id = await gmailAccount(user);
    const back = await signIn(id, { as: other.email });
    assert.equal(back.searchParams.get('status'), 'error');
    assert.equal(back.searchParams.get('code'), 'OAUTH_WRONG_ACCOUNT');
    assert.match(back.searchParams.get('message')!, new RegExp(`signed in as ${other.email.replace(/\./g, '\\.')}.*for ${user.email.replace(/\./g, '\\.')}`));
    assert.equal(await t.app.repos.oauth.getTokens(id), undefined);
    assert.equal((await get(id)).statusColor, 'grey');
  });

  test('an expiring token is refreshed before use, once for concurrent users; a refused token is refreshed once and the send retried', async () => {
    const user = await addMailbox();
    trackSecret(user.password);
    await setTtl(user.email, 3);
    try {
      const id = await gmailAccount(user);
      assert.equal((await signIn(id)).searchParams.get('status'), 'active');
      const first = await tokensOf(id);
      // 3 s tokens, refreshed 1 s before expiry
      await new Promise((r) => setTimeout(r, 2_200));
      const row = (await t.app.repos.accounts.get(tenant.id, id))!;
      const before = count(t.logs(), 'oauth access token refreshed');
      const tokens = await Promise.all(Array.from({ length: 5 }, () => t.app.oauth.getAccessToken(row)));
      assert.equal(count(t.logs(), 'oauth access token refreshed') - before, 1, 'one refresh for five concurrent users');
      assert.equal(new Set(tokens).size, 1);
      const second = await tokensOf(id);
      assert.notEqual(second.access, first.access);
      assert.notEqual(second.refresh, first.refresh, 'the rotated refresh token is kept');

      // the provider refuses the current token before its expiry: one refresh, and the send goes out
      await setTtl(user.email, 0);
      await revokeToken(second.access);
      const rcpt = await addMailbox();
      trackSecret(rcpt.password);
      const jobId = await queue(id, rcpt.email, 'After a refused token');
      await t.app.outbound.worker.runOnce();
      const j = await job(jobId);
      assert.equal(j.status, 'sent', JSON.stringify(j.lastError));
      assert.equal((await readCaptured(j.messageId)).authMethod, 'XOAUTH2');
      assert.equal((await get(id)).statusColor, 'green');

      // the same for a person's verify: SMTP and IMAP (Dovecot's oauth2 passdb) refuse the token, one refresh, both pass
      await revokeToken((await tokensOf(id)).access);
      const v = await t.request('POST', `/v1/accounts/${id}/verify`, { token: tenant.apiKey, body: {} });
      assert.equal(v.status, 200, v.text);
      assert.equal(v.body.status, 'active', JSON.stringify(v.body.checks));
      assert.deepEqual(v.body.checks.map((c: any) => [c.protocol, c.ok]), [['smtp', true], ['imap', true]]);
      trackSecret((await tokensOf(id)).access);
    } finally {
      await setTtl(user.email, 0);
    }
  });

  test('a revoked sign-in turns the account red with OAUTH_REVOKED and stops trying until signed in again', async () => {
    const user = await addMailbox();
    trackSecret(user.password);
    const id = await gmailAccount(user);
    assert.equal((await signIn(id)).searchParams.get('status'), 'active');
    const { access, refresh } = await tokensOf(id);
    await revokeToken(access);
    await revokeToken(refresh);

    const rcpt = await addMailbox();
    trackSecret(rcpt.password);
    const jobId = await queue(id, rcpt.email, 'After revocation');
    await t.app.outbound.worker.runOnce();
    const view = await get(id);
    assert.equal(view.statusColor, 'red');
    assert.equal(view.lastError.code, 'OAUTH_REVOKED');
    assert.equal(view.lastError.hint, 'Sign in again.');
    assert.match(view.lastError.message, /invalid_grant/);
    let j = await job(jobId);
    assert.equal(j.status, 'deferred');
    assert.equal(j.lastError.code, 'OAUTH_REVOKED');

    // no loop: later polls and a test send do not ask the provider again
    const refusals = count(t.logs(), 'oauth sign-in revoked');
    await t.app.outbound.worker.runOnce();
    await t.app.outbound.worker.runOnce();
    const ts = await t.request('POST', `/v1/accounts/${id}/test-send`, { token: tenant.apiKey, body: {} });
    assert.equal(ts.status, 422);
    assert.equal(ts.body.error.code, 'OAUTH_REVOKED');
    assert.equal(count(t.logs(), 'oauth sign-in revoked'), refusals);
    j = await job(jobId);
    assert.equal(j.status, 'deferred');

    // signing in again makes it green and the waiting message goes out
    const again = await signIn(id);
    assert.equal(again.searchParams.get('status'), 'active', again.search);
    assert.equal((await get(id)).statusColor, 'green');
    await t.app.outbound.worker.runOnce();
    j = await job(jobId);
    assert.equal(j.status, 'sent', JSON.stringify(j.lastError));
    trackSecret((await tokensOf(id)).access);
  });

  test('a password account on the Gmail preset moves to OAuth keeping its id and outbox; the password is erased once OAuth works', async () => {
    const user = await addMailbox();
    trackSecret(user.password);
    const created = await t.request('POST', '/v1/accounts', {
      token: tenant.apiKey,
      body: { name: 'Old Gmail', type: 'smtp_imap', preset: 'gmail', email: user.email, password: user.password, ...endpoints() },
    });
    assert.equal(created.status, 201, created.text);
    const id = created.body.id;
    const rcpt = await addMailbox();
    trackSecret(rcpt.password);
    const oldJob = await queue(id, rcpt.email, 'Sent with the app password');
    await t.app.outbound.worker.runOnce();
    assert.equal((await job(oldJob)).status, 'sent');

    const moved = await t.request('PATCH', `/v1/accounts/${id}`, { token: tenant.apiKey, body: { type: 'gmail' } });
    assert.equal(moved.status, 200, moved.text);
    assert.equal(moved.body.id, id);
    assert.equal(moved.body.type, 'gmail');
    assert.equal(moved.body.hasPassword, true, 'the password stays until OAuth works');

    // until the sign-in, mail still goes out with the password
    const between = await queue(id, rcpt.email, 'Between the move and the sign-in');
    await t.app.outbound.worker.runOnce();
    const jb = await job(between);
    assert.equal(jb.status, 'sent', JSON.stringify(jb.lastError));
    assert.equal((await readCaptured(jb.messageId)).authMethod, 'PLAIN');

    assert.equal((await signIn(id)).searchParams.get('status'), 'active');
    const after = await get(id);
    assert.equal(after.statusColor, 'green');
    assert.equal(after.hasPassword, false);
    assert.equal((await job(oldJob)).status, 'sent', 'the outbox history stays with the account');
    const list = await t.request('GET', `/v1/outbox?accountId=${id}`, { token: tenant.apiKey });
    assert.equal(list.body.items.length, 2);

    const newJob = await queue(id, rcpt.email, 'Now over OAuth');
    await t.app.outbound.worker.runOnce();
    const nj = await job(newJob);
    assert.equal(nj.status, 'sent', JSON.stringify(nj.lastError));
    assert.equal((await readCaptured(nj.messageId)).authMethod, 'XOAUTH2');
    trackSecret((await tokensOf(id)).access);
  });

  test('mail syncs on the OAuth account (XOAUTH2 to Dovecot), and a new session after the token expired refreshes it first', async () => {
    const user = await addMailbox();
    trackSecret(user.password);
    const id = await gmailAccount(user);
    await setTtl(user.email, 3);
    assert.equal((await signIn(id)).searchParams.get('status'), 'active');
    const before_ = await tokensOf(id);
    const deliver = async (subject: string) => {
      const { ImapFlow } = await import('imapflow');
      const c = new ImapFlow({ host: peers.host, port: peers.imap.tls, secure: true, logger: false, tls: { ca: readFileSync(peers.caFile) }, auth: { user: user.email, pass: user.password } });
      c.on('error', () => {});
      await c.connect();
      await c.append('INBOX', Buffer.from(`From: friend@x.example\r\nTo: ${user.email}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}-${id}@x.example>\r\n\r\nHi\r\n`));
      await c.logout();
    };
    const subjects = async () => ((await t.request('GET', `/v1/messages?accountId=${id}`, { token: tenant.apiKey })).body.items as any[]).map((m) => m.subject);
    const until = (what: string, ok: () => Promise<boolean>) => waitFor(what, ok, 10_000, 100);
    await deliver('Over OAuth 1');
    t.app.sync.start();
    try {
      await until('the first message', async () => (await subjects()).includes('Over OAuth 1'));
      await t.app.sync.stop();
      await new Promise((r) => setTimeout(r, 3_200)); // the access token has expired now
      await deliver('Over OAuth 2');
      t.app.sync.start();
      await until('the second message', async () => (await subjects()).includes('Over OAuth 2'));
      const after_ = await tokensOf(id);
      assert.notEqual(after_.access, before_.access, 'the new session signed in with a refreshed token');
      assert.equal((await get(id)).statusColor, 'green');
    } finally {
      await t.app.sync.stop();
    }
  });
});
