import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Locator, Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { trackSecret } from '../helpers/secrets.js';
import { addMailbox, loadPeers, readCaptured, type PeerUser } from '../helpers/peers.js';
import { startHttpServer, type HttpServer, type Route } from '../helpers/http-server.js';
import { launchChromium, screenshots } from '../helpers/browser.js';

/**
 * The hosted settings page in Debian's Chromium, against a listening Mailport and the real mail
 * peers (SMTP with STARTTLS on loopback): what a business owner sees and does, screen by screen.
 * Screenshots of each state land in test-artifacts/screenshots at 375 px and 1280 px.
 */
const RETURN_URL = 'https://app.platform.test/settings';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the settings page in Chromium', () => {
  let t: TestApp;
  let base: string;
  let tenant: { id: string; apiKey: string };
  let browser: Browser;
  let page: Page;
  let framer: HttpServer;
  const framerRoutes: Record<string, Route> = {};
  const pageErrors: string[] = [];
  let mailbox: PeerUser;

  before(async () => {
    // a second web site (the platform) that embeds the page; as http://localhost it is allowed, as http://127.0.0.1 it is not
    framer = await startHttpServer(framerRoutes);
    t = await startTestApp({ name: 'browser', env: { MAILPORT_FRAME_ANCESTORS: `http://localhost:${framer.port}` } });
    base = await t.app.listen();
    tenant = await t.createTenant('Acme Pets');
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      // failed API answers (422, 401) are expected; anything else the console reports as an error is not
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text());
    });
    mailbox = await addMailbox();
    trackSecret(mailbox.password);
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    await framer?.close();
  });

  /** A connect link for the tenant, pointed at the listening server (the test's public URL has port 0). */
  async function connectUrl(body: Record<string, unknown> = {}): Promise<string> {
    const res = await t.request('POST', '/v1/connect-sessions', { token: tenant.apiKey, body });
    assert.equal(res.status, 201, res.text);
    const url = new URL(res.body.url);
    trackSecret(new URLSearchParams(url.hash.slice(1)).get('token')!);
    return `${base}${url.pathname}${url.hash}`;
  }

  const card = (name: string): Locator => page.locator('article.account', { has: page.getByRole('heading', { name, exact: true }) });
  const fieldProblem = (inputName: string): Locator => page.locator(`.field:has([name="${inputName}"]) .field-problem`);

  test('the link opens the page and the token leaves the address bar', async () => {
    await page.goto(await connectUrl({ returnUrl: RETURN_URL }));
    await page.getByRole('heading', { name: 'Email settings' }).waitFor();
    await page.getByText('Acme Pets', { exact: true }).waitFor();
    assert.ok(!page.url().includes('token'), `the token stays out of the address bar: ${page.url()}`);
    assert.equal(await page.getByRole('link', { name: 'Done' }).getAttribute('href'), RETURN_URL);
    // keyboard: Tab reaches the controls and the focus is visible
    await page.keyboard.press('Tab');
    // (scripts run in the page are strings: this project's tsconfig has no DOM types)
    const focused = (await page.evaluate(`(() => {
      const el = document.activeElement;
      return { text: el.textContent, outline: getComputedStyle(el).outlineStyle, width: getComputedStyle(el).outlineWidth };
    })()`)) as { text: string; outline: string; width: string };
    assert.equal(focused.text, 'Done');
    assert.equal(focused.outline, 'solid');
    assert.equal(focused.width, '3px');
    await screenshots(page, '01-no-provider-yet');
  });

  test('add a provider ("Other") against the real SMTP server: a wrong password is shown at the password field, the right one turns green', async () => {
    const peers = loadPeers();
    await page.getByRole('button', { name: 'Add provider' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Sales');
    const providers = await page.getByLabel('Email provider', { exact: true }).locator('option').allTextContents();
    assert.equal(providers.at(-1), 'Other / not listed', 'Other comes last');
    assert.ok(providers.includes('Fastmail') && providers.includes('Yahoo Mail'), providers.join(', '));
    await page.getByLabel('Email provider', { exact: true }).selectOption('other');
    await page.getByLabel('Email address').fill(mailbox.email);
    assert.equal(await page.getByLabel('Username').inputValue(), mailbox.email, 'the username defaults to the address');
    await page.getByLabel('Password', { exact: true }).fill(trackSecret('not-the-password-1'));
    const smtp = page.getByRole('group', { name: 'Sending server (SMTP)' });
    await smtp.getByLabel('Server name').fill('127.0.0.1');
    await smtp.getByLabel('Encryption').selectOption('starttls');
    assert.equal(await smtp.getByLabel('Port').inputValue(), '587', 'STARTTLS suggests its usual port');
    // ports take digits only: the letter is refused as it is typed
    await smtp.getByLabel('Port').fill('');
    const port = String(peers.smtp.starttls);
    await smtp.getByLabel('Port').pressSequentially(`${port.slice(0, 2)}x`);
    await smtp.getByText('digits only').waitFor();
    await smtp.getByLabel('Port').pressSequentially(port.slice(2));
    assert.equal(await smtp.getByLabel('Port').inputValue(), port);
    assert.equal(await smtp.getByLabel('Port').getAttribute('inputmode'), 'numeric');
    // every control of the form has a label
    const unlabelled = await page.evaluate(`[...document.querySelectorAll('form input, form select')].filter((el) => el.labels.length === 0).map((el) => el.outerHTML)`);
    assert.deepEqual(unlabelled, []);
    await screenshots(page, '02-add-other');

    // slow the answer down a little so the progress can be seen (the server and the check stay real)
    await page.route('**/v1/accounts', async (route) => {
      await sleep(400);
      await route.continue();
    });
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('button', { name: 'Checking your settings…' }).waitFor();
    await fieldProblem('password').waitFor({ timeout: 30_000 });
    const problem = await fieldProblem('password').innerText();
    assert.match(problem, /did not accept the username or password/);
    assert.match(problem, /re-enter the password/);
    assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('aria-invalid'), 'true');
    assert.equal((await t.request('GET', '/v1/accounts', { token: tenant.apiKey })).body.items.length, 0, 'nothing was saved');
    await screenshots(page, '03-wrong-password');

    await page.getByLabel('Password', { exact: true }).fill(mailbox.password);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await card('Sales').waitFor({ timeout: 30_000 });
    await page.unroute('**/v1/accounts');
    assert.equal(await card('Sales').locator('.status').getAttribute('data-status'), 'green');
    assert.equal(await card('Sales').locator('.status-text').innerText(), 'Working');
    await page.getByText('Saved “Sales”.').waitFor();
    await page.locator('.saved').getByText('Press Done when you have finished.').waitFor();
    assert.equal(await page.getByRole('link', { name: 'Done' }).getAttribute('href'), RETURN_URL);
    await card('Sales').getByText(/Sent in the last 24 hours: 0/).waitFor();
    const saved = (await t.request('GET', '/v1/accounts', { token: tenant.apiKey })).body.items;
    assert.equal(saved.length, 1);
    assert.deepEqual(saved[0].smtp, { host: '127.0.0.1', port: Number(port), security: 'starttls' });
    assert.ok(!(await page.content()).includes(mailbox.password), 'the password is never shown back');
    await screenshots(page, '04-provider-working');
  });

  test('"Send test email" sends a real message and shows the server\'s reply', async () => {
    await card('Sales').getByRole('button', { name: 'Send test email' }).click();
    const outcome = card('Sales').getByText(/Test email sent to .* The server replied: 250/);
    await outcome.waitFor({ timeout: 30_000 });
    const captured = await readCaptured((m) => m.to.includes(mailbox.email) && m.subject === 'Mailport test email');
    assert.equal(captured.user, mailbox.email);
    await screenshots(page, '05-test-email-sent');
  });

  test('the switch (operated with the keyboard) turns the provider off: grey, in words too', async () => {
    const sw = card('Sales').getByRole('switch', { name: 'Use this provider' });
    assert.equal(await sw.getAttribute('aria-checked'), 'true');
    await sw.focus();
    await page.keyboard.press('Space');
    await card('Sales').getByText('Turned off', { exact: true }).waitFor();
    assert.equal(await card('Sales').locator('.status').getAttribute('data-status'), 'grey');
    assert.equal(await sw.getAttribute('aria-checked'), 'false');
    const saved = (await t.request('GET', '/v1/accounts', { token: tenant.apiKey })).body.items[0];
    assert.equal(saved.enabled, false);
    await screenshots(page, '06-provider-off');
  });

  test('a provider whose password stops working turns red with the error and what to change', async () => {
    const other = await addMailbox();
    const res = await t.request('POST', '/v1/accounts?verify=false', {
      token: tenant.apiKey,
      body: { name: 'Support', type: 'smtp_imap', preset: 'other', email: other.email, password: trackSecret('changed-elsewhere-1'), smtp: { host: '127.0.0.1', port: loadPeers().smtp.starttls, security: 'starttls' } },
    });
    assert.equal(res.status, 201, res.text);
    await page.reload();
    await card('Support').getByText('Not checked yet').waitFor();
    await card('Support').getByRole('button', { name: 'Verify now' }).click();
    await card('Support').getByText('Not working', { exact: true }).waitFor({ timeout: 30_000 });
    assert.equal(await card('Support').locator('.status').getAttribute('data-status'), 'red');
    const lastError = await card('Support').locator('.last-error').innerText();
    assert.match(lastError, /did not accept the username or password/);
    assert.match(lastError, /re-enter the password/);
    await card('Support').getByText('Checked just now: still not working.').waitFor();
    assert.equal(await card('Support').getByText(/did not accept the username or password/).count(), 1, 'the error is shown once');
    await screenshots(page, '07-provider-red');

    // "Change password" replaces it (the old one is never shown): checked, then green
    await card('Support').getByRole('button', { name: 'Change password' }).click();
    await card('Support').getByLabel('New password').fill(other.password);
    trackSecret(other.password);
    await card('Support').getByRole('button', { name: 'Save password' }).click();
    await card('Support').getByText('Working', { exact: true }).waitFor({ timeout: 30_000 });
  });

  test('"Clear settings" and "Delete" ask first', async () => {
    await card('Support').getByRole('button', { name: 'Clear settings' }).click();
    const dialog = page.getByRole('dialog', { name: 'Clear the settings of “Support”?' });
    await dialog.waitFor();
    await screenshots(page, '08-confirm-clear', [375], false); // a modal covers the window, not the whole page
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await card('Support').getByRole('button', { name: 'Clear settings' }).click();
    await dialog.getByRole('button', { name: 'Clear settings' }).click();
    await card('Support').getByText('No password is stored').waitFor();
    await card('Support').getByText('Not checked yet').waitFor();

    await card('Support').getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete “Support”?' }).getByRole('button', { name: 'Delete' }).click();
    await card('Support').waitFor({ state: 'detached' });
    const left = (await t.request('GET', '/v1/accounts', { token: tenant.apiKey })).body.items.map((a: { name: string }) => a.name);
    assert.deepEqual(left, ['Sales']);
  });

  test('typing an address of a listed provider selects it and shows what to do first', async () => {
    await page.getByRole('button', { name: 'Add provider' }).click();
    await page.getByLabel('Email address').fill('someone@fastmail.com');
    await page.getByText('Settings found: Fastmail.').waitFor({ timeout: 15_000 });
    assert.equal(await page.getByLabel('Email provider', { exact: true }).inputValue(), 'fastmail');
    await page.getByText('Fastmail needs an app password', { exact: true }).waitFor();
    assert.ok(await page.getByRole('link', { name: /Create an app password/ }).getAttribute('href'));
    await page.getByLabel('App password').waitFor();
    await page.getByRole('switch', { name: 'Receive emails' }).click();
    await page.getByLabel('POP3').check();
    await page.getByText('POP3 can only receive').waitFor();
    await screenshots(page, '09-listed-provider');
    await page.getByRole('button', { name: 'Cancel' }).click();
  });

  test('company settings', async () => {
    await page.getByLabel('Company email').fill('hello@acmepets.test');
    await page.getByLabel('From name').fill('Acme Pets Grooming');
    await page.getByRole('button', { name: 'Save company settings' }).click();
    await page.getByText('Company settings saved.').waitFor();
    const saved = (await t.request('GET', '/v1/tenant', { token: tenant.apiKey })).body;
    assert.equal(saved.companyEmail, 'hello@acmepets.test');
    assert.equal(saved.fromName, 'Acme Pets Grooming');
    await page.getByLabel('Company email').fill('not an address');
    await page.getByRole('button', { name: 'Save company settings' }).click();
    await fieldProblem('companyEmail').waitFor();
    await screenshots(page, '10-company-settings');
    assert.deepEqual(pageErrors, []);
  });

  test('an expired link is refused, in plain words', async () => {
    const url = await connectUrl({ expiresIn: 1 });
    await sleep(1_100);
    const fresh = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await fresh.goto(url);
      await fresh.getByRole('heading', { name: 'This settings link has expired.' }).waitFor();
      await fresh.getByText('to get a new link').waitFor();
      assert.equal(await fresh.getByRole('heading', { name: 'Email settings' }).count(), 0);
      await screenshots(fresh, '11-link-expired');
    } finally {
      await fresh.close();
    }
  });

  test('only the allowed origins may frame the page (CSP frame-ancestors)', async () => {
    const res = await fetch(`${base}/connect`);
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, new RegExp(`frame-ancestors http://localhost:${framer.port}(;|$)`));

    const frameHtml: Route = { body: `<!doctype html><title>Platform</title><h1>Platform</h1><iframe id="mp" title="Email settings" src="${base}/connect" width="800" height="600"></iframe>`, headers: { 'content-type': 'text/html' } };
    framerRoutes['localhost/frame.html'] = frameHtml;
    framerRoutes['127.0.0.1/frame.html'] = frameHtml;
    const embed = async (origin: string): Promise<{ rendered: boolean; refusals: string[] }> => {
      const p = await browser.newPage();
      const refusals: string[] = [];
      p.on('console', (m) => {
        if (/frame-ancestors/.test(m.text())) refusals.push(m.text());
      });
      try {
        await p.goto(`${origin}/frame.html`);
        const frame = p.frameLocator('#mp');
        const rendered = await frame.getByRole('heading', { name: 'Open this page from your application' }).waitFor({ timeout: 5_000 }).then(() => true, () => false);
        return { rendered, refusals };
      } finally {
        await p.close();
      }
    };
    const allowed = await embed(`http://localhost:${framer.port}`);
    assert.equal(allowed.rendered, true, 'the allowed platform can embed the page');
    const refused = await embed(`http://127.0.0.1:${framer.port}`);
    assert.equal(refused.rendered, false, 'another origin cannot');
    assert.ok(refused.refusals.length > 0, 'Chromium reports the frame-ancestors refusal');
  });
});
