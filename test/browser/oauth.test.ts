import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Browser, Locator, Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { trackSecret } from '../helpers/secrets.js';
import { addMailbox, loadPeers, type Peers } from '../helpers/peers.js';
import { launchChromium, screenshots } from '../helpers/browser.js';

/**
 * "Sign in with Google" and "Activate Outlook" on the settings page, in Debian's Chromium: the
 * browser really leaves for the local OAuth issuer (test/peers/oauth-server.mjs, which signs in the
 * login_hint and redirects at once), passes Mailport's real /oauth/callback (tokens stored, SMTP
 * and IMAP verified over XOAUTH2 against the peers) and comes back to the page with the outcome.
 */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('signing in with the provider from the settings page', () => {
  let t: TestApp;
  let peers: Peers;
  let base: string;
  let tenant: { id: string; apiKey: string };
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    peers = loadPeers();
    // the provider redirects to MAILPORT_PUBLIC_URL/oauth/callback: the port is chosen before the start
    const port = await freePort();
    t = await startTestApp({ name: 'browser-oauth', env: { MAILPORT_PORT: String(port), MAILPORT_PUBLIC_URL: `http://127.0.0.1:${port}` } });
    base = await t.app.listen();
    tenant = await t.createTenant('Acme Bakery');
    const app = await t.request('POST', '/v1/oauth-apps', {
      body: { provider: 'google', clientId: 'mailport-browser-test', clientSecret: trackSecret('browser-client-secret-123'), authorizationEndpoint: `${peers.oauth.url}/authorize`, tokenEndpoint: peers.oauth.tokenUrl },
    });
    assert.equal(app.status, 201, app.text);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      // refused API answers (409) are expected; anything else the console reports as an error is not
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text());
    });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  async function connectUrl(): Promise<string> {
    const res = await t.request('POST', '/v1/connect-sessions', { token: tenant.apiKey, body: {} });
    assert.equal(res.status, 201, res.text);
    const url = new URL(res.body.url);
    trackSecret(new URLSearchParams(url.hash.slice(1)).get('token')!);
    return `${base}${url.pathname}${url.hash}`;
  }

  const card = (name: string): Locator => page.locator('article.account', { has: page.getByRole('heading', { name, exact: true }) });
  const accounts = async () => (await t.request('GET', '/v1/accounts', { token: tenant.apiKey })).body.items as Array<{ id: string; name: string; type: string; statusColor: string }>;

  test('Gmail shows "Sign in with Google" instead of the password (an app password stays possible); Outlook shows "Activate Outlook"', async () => {
    await page.goto(await connectUrl());
    await page.getByRole('button', { name: 'Add provider' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Orders');
    await page.getByLabel('Email provider', { exact: true }).selectOption('gmail');
    await page.getByLabel('Email address').fill('orders@gmail.com');
    await page.getByRole('button', { name: 'Sign in with Google', exact: true }).waitFor();
    assert.equal(await page.locator('form input[type="password"]').count(), 0, 'no password field while signing in with Google');
    assert.equal(await page.getByText('Gmail needs an app password').count(), 0, 'no app-password callout beside the sign-in button');
    await screenshots(page, '21-sign-in-with-google');

    await page.getByRole('button', { name: 'Use an app password instead' }).click();
    await page.getByLabel('App password').waitFor();
    assert.equal(await page.getByText('Gmail needs an app password').count(), 1, 'the callout says how to create one');
    assert.equal(await page.getByRole('button', { name: 'Save', exact: true }).count(), 1);
    assert.equal(await page.getByRole('button', { name: 'Sign in with Google', exact: true }).count(), 0);
    await page.getByRole('button', { name: 'Sign in with Google instead' }).click();
    await page.getByRole('button', { name: 'Sign in with Google', exact: true }).waitFor();
    assert.equal(await page.getByLabel('App password').count(), 0);

    await page.getByLabel('Email provider', { exact: true }).selectOption('microsoft365');
    await page.getByRole('button', { name: 'Activate Outlook', exact: true }).waitFor();
    assert.equal(await page.locator('form input[type="password"]').count(), 0, 'no password field for Microsoft 365');
    assert.equal(await page.getByRole('button', { name: /app password/ }).count(), 0, 'Microsoft has no app passwords for mail');
  });

  test('"Activate Outlook" saves the provider grey; when the sign-in cannot start, the reason is shown in plain words', async () => {
    // no Microsoft OAuth app is registered here: authorize-url answers 409, after the account was saved
    await page.getByRole('button', { name: 'Activate Outlook', exact: true }).click();
    await card('Orders').waitFor({ timeout: 15_000 });
    await page.getByText('No OAuth app for Microsoft is configured.').waitFor();
    assert.equal(await card('Orders').locator('.status').getAttribute('data-status'), 'grey');
    await card('Orders').getByRole('button', { name: 'Activate Outlook', exact: true }).waitFor();
    assert.equal(await card('Orders').getByRole('button', { name: 'Change password' }).count(), 0);
    const saved = await accounts();
    assert.deepEqual(saved.map((a) => [a.name, a.type, a.statusColor]), [['Orders', 'outlook', 'grey']]);
    await screenshots(page, '22-activate-outlook-no-app');
    assert.equal((await t.request('DELETE', `/v1/accounts/${saved[0]!.id}`, { token: tenant.apiKey })).status, 204);
  });

  test('"Sign in with Google" on a grey Gmail provider goes to the provider and comes back connected (green)', async () => {
    const user = await addMailbox();
    trackSecret(user.password);
    // the Gmail preset names Google's servers: this account points at the peers, as in test/integration/oauth.test.ts
    const res = await t.request('POST', '/v1/accounts', {
      token: tenant.apiKey,
      body: {
        name: 'Bakery Gmail', type: 'gmail', email: user.email, receiveEmails: true,
        smtp: { host: peers.host, port: peers.smtp.starttls, security: 'starttls' },
        imap: { host: peers.host, port: peers.imap.tls, security: 'tls' },
      },
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.statusColor, 'grey');
    await page.reload();
    await card('Bakery Gmail').getByText('Not checked yet').waitFor();
    const button = card('Bakery Gmail').getByRole('button', { name: 'Sign in with Google', exact: true });
    await button.waitFor();
    await screenshots(page, '23-card-sign-in-with-google');

    const visited: string[] = [];
    const onRequest = (r: { url(): string; isNavigationRequest(): boolean }) => {
      if (r.isNavigationRequest()) visited.push(r.url());
    };
    page.on('request', onRequest);
    await button.click();
    await page.getByText('Connected.', { exact: true }).waitFor({ timeout: 30_000 });
    page.off('request', onRequest);
    for (const u of visited) {
      const q = new URL(u).searchParams;
      for (const k of ['state', 'code']) if (q.get(k) && !/^(active|error)$/.test(q.get(k)!)) trackSecret(q.get(k)!);
    }
    assert.ok(visited.some((u) => u.startsWith(`${peers.oauth.url}/authorize?`)), `the browser went to the issuer: ${visited.join(' ')}`);
    assert.ok(visited.some((u) => u.startsWith(`${base}/oauth/callback?`)), `and through Mailport's callback: ${visited.join(' ')}`);
    assert.equal(await card('Bakery Gmail').locator('.status').getAttribute('data-status'), 'green');
    assert.equal(await card('Bakery Gmail').locator('.status-text').innerText(), 'Working');
    await page.getByText('“Bakery Gmail” works now').waitFor();
    assert.equal(await card('Bakery Gmail').getByRole('button', { name: 'Sign in with Google', exact: true }).count(), 0, 'no sign-in button once green');
    const here = new URL(page.url());
    assert.equal(here.search, '', `the outcome left the address bar: ${page.url()}`);
    assert.ok(!page.url().includes('token'));
    assert.equal((await accounts()).find((a) => a.name === 'Bakery Gmail')?.statusColor, 'green');
    await screenshots(page, '24-connected');

    // a reload shows the page, not the outcome again (the session stays in the tab)
    await page.reload();
    await card('Bakery Gmail').getByText('Working', { exact: true }).waitFor();
    assert.equal(await page.getByText('Connected.', { exact: true }).count(), 0);
    assert.deepEqual(pageErrors, []);
  });

  test('when the check after sign-in fails, the page says what went wrong and what to change (red)', async () => {
    const user = await addMailbox();
    trackSecret(user.password);
    const closed = await freePort(); // nothing listens there
    const res = await t.request('POST', '/v1/accounts', {
      token: tenant.apiKey,
      body: { name: 'Broken Gmail', type: 'gmail', email: user.email, smtp: { host: peers.host, port: closed, security: 'starttls' } },
    });
    assert.equal(res.status, 201, res.text);
    await page.reload();
    const visited: string[] = [];
    const onRequest = (r: { url(): string; isNavigationRequest(): boolean }) => {
      if (r.isNavigationRequest()) visited.push(r.url());
    };
    page.on('request', onRequest);
    await card('Broken Gmail').getByRole('button', { name: 'Sign in with Google', exact: true }).click();
    await page.getByText(/^Not connected: /).waitFor({ timeout: 30_000 });
    page.off('request', onRequest);
    for (const u of visited) {
      const q = new URL(u).searchParams;
      for (const k of ['state', 'code']) if (q.get(k) && !/^(active|error)$/.test(q.get(k)!) && !/^[A-Z_]+$/.test(q.get(k)!)) trackSecret(q.get(k)!);
    }
    const view = (await t.request('GET', `/v1/accounts/${res.body.id}`, { token: tenant.apiKey })).body;
    assert.equal(view.statusColor, 'red');
    assert.ok(view.lastError?.hint, JSON.stringify(view.lastError));
    const alert = page.getByRole('alert').filter({ hasText: 'Not connected:' });
    const shown = await alert.innerText();
    assert.ok(shown.includes(view.lastError.message) && shown.includes(view.lastError.hint), `the error and its hint: ${shown}`);
    assert.equal(await card('Broken Gmail').locator('.status').getAttribute('data-status'), 'red');
    await card('Broken Gmail').getByRole('button', { name: 'Sign in with Google', exact: true }).waitFor();
    assert.equal(new URL(page.url()).search, '', 'the outcome left the address bar');
    await screenshots(page, '25-sign-in-check-failed');
    assert.deepEqual(pageErrors, []);
  });
});
