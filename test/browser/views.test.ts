import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Locator, Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { trackSecret } from '../helpers/secrets.js';
import { launchChromium, screenshots } from '../helpers/browser.js';

/**
 * The settings page's Messages and Campaigns views in Debian's Chromium, acting through a connect
 * session: recorded correspondence by contact, and a campaign's inbound queue worked with Claim and
 * Mark done. Screenshots land in test-artifacts/screenshots at 375 px and 1280 px.
 */
const OWN = 'frontdesk@acmepets.test';

function mail(o: { from: string; to: string; subject: string; date: string; body: string; inReplyTo?: string }): Buffer {
  return Buffer.from(
    [
      `From: ${o.from}`,
      `To: ${o.to}`,
      `Subject: ${o.subject}`,
      `Date: ${new Date(o.date).toUTCString()}`,
      `Message-ID: <${Math.random().toString(36).slice(2)}@mail.test>`,
      ...(o.inReplyTo ? [`In-Reply-To: ${o.inReplyTo}`] : []),
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      o.body,
      '',
    ].join('\r\n'),
  );
}

describe('the settings page: Messages and Campaigns views in Chromium', () => {
  let t: TestApp;
  let base: string;
  let tenant: { id: string; apiKey: string };
  let frontDesk: string;
  let campaignId: string;
  const items: Record<string, string> = {};
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  const api = (method: string, url: string, body?: unknown) => t.request(method, url, { token: tenant.apiKey, body });

  async function account(name: string, email: string, receiveEmails: boolean): Promise<string> {
    const res = await api('POST', '/v1/accounts?verify=false', {
      name, type: 'smtp_imap', email, password: trackSecret(`pw-${name}-123`), receiveEmails,
      smtp: { host: '127.0.0.1', port: 9, security: 'tls' }, imap: { host: '127.0.0.1', port: 9, security: 'tls' },
    });
    assert.equal(res.status, 201, res.text);
    return res.body.id;
  }

  async function ingest(accountId: string, raw: Buffer): Promise<string> {
    const r = await t.app.correspondence.ingest({ tenantId: tenant.id, accountId, folder: 'INBOX', raw });
    assert.equal(r.created, true);
    return r.id;
  }

  before(async () => {
    t = await startTestApp({ name: 'browser-views' });
    base = await t.app.listen();
    tenant = await t.createTenant('Acme Pets');
    frontDesk = await account('Front desk', OWN, true);
    const newsletter = await account('Newsletter', 'news@acmepets.test', false);

    // correspondence: Dana wrote twice and got a reply; Lee wrote once; a newsletter went out
    await ingest(frontDesk, mail({ from: '"Dana Customer" <dana@customer.test>', to: OWN, subject: 'Grooming appointment for Rex', date: '2030-03-01T09:15:00Z', body: 'Hello,\n\ncould Rex come in on Friday morning for a wash and trim?\n\nThanks, Dana' }));
    await ingest(frontDesk, mail({ from: `"Front desk" <${OWN}>`, to: '"Dana Customer" <dana@customer.test>', subject: 'Re: Grooming appointment for Rex', date: '2030-03-01T10:02:00Z', body: 'Hi Dana,\n\nFriday at 9:30 works. See you then!\n\nAcme Pets' }));
    await ingest(frontDesk, mail({ from: '"Dana Customer" <dana@customer.test>', to: OWN, subject: 'Re: Grooming appointment for Rex', date: '2030-03-01T10:20:00Z', body: 'Perfect, thank you!' }));
    await ingest(frontDesk, mail({ from: 'lee.owner@example.test', to: OWN, subject: 'Boarding over Easter?', date: '2030-02-27T16:40:00Z', body: 'Do you have room for two cats over Easter weekend?' }));
    await ingest(newsletter, mail({ from: `Acme Pets <news@acmepets.test>`, to: 'subscribers@acmepets.test', subject: 'March news', date: '2030-02-20T08:00:00Z', body: 'Spring is coming.' }));

    // a campaign on the front desk, and two new inbound messages in its queue
    const c = await api('POST', '/v1/campaigns', { name: 'Spring offers', accountId: frontDesk });
    assert.equal(c.status, 201, c.text);
    campaignId = c.body.id;
    for (const [key, from, subject, date] of [
      ['sam', '"Sam Buyer" <sam@buyer.test>', 'Interested in the spring grooming package', '2030-03-02T08:00:00Z'],
      ['kim', '"Kim Lopez" <kim@buyer.test>', 'Price for two dogs?', '2030-03-02T08:30:00Z'],
    ] as const) {
      const messagePk = await ingest(frontDesk, mail({ from, to: OWN, subject, date, body: `Hello, ${subject.toLowerCase()}` }));
      const queued = await t.app.campaigns.deliverInbound({ tenantId: tenant.id, accountId: frontDesk, messagePk });
      assert.ok(queued);
      items[key] = queued.itemId;
    }

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      // refused API answers (400, 409) are expected; anything else the console reports as an error is not
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text());
    });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  async function connectUrl(): Promise<string> {
    const res = await api('POST', '/v1/connect-sessions', {});
    assert.equal(res.status, 201, res.text);
    const url = new URL(res.body.url);
    trackSecret(new URLSearchParams(url.hash.slice(1)).get('token')!);
    return `${base}${url.pathname}${url.hash}`;
  }

  const panel = (name: string): Locator => page.getByRole('tabpanel', { name });
  const group = (heading: string): Locator => panel('Messages').locator('section.contact-group', { has: page.getByRole('heading', { name: heading, exact: true }) });
  const queueItem = (subject: string): Locator => page.locator('li.queue-item', { hasText: subject });

  async function noHorizontalScroll(width: number) {
    await page.setViewportSize({ width, height: 900 });
    const scrollWidth = (await page.evaluate('document.documentElement.scrollWidth')) as number;
    assert.ok(scrollWidth <= width, `the page fits ${width} px (scrollWidth ${scrollWidth})`);
    await page.setViewportSize({ width: 1280, height: 900 });
  }

  /** Polls from the test side (the page's CSP forbids the string evaluation page.waitForFunction uses). */
  async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!(await probe())) {
      if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function untilText(locator: Locator, re: RegExp): Promise<void> {
    let text = '';
    await until(`${re}`, async () => re.test((text = await locator.innerText()))).catch(() => assert.fail(`timed out waiting for ${re} in: ${text}`));
  }

  async function unlabelled(): Promise<string[]> {
    return (await page.evaluate(`[...document.querySelectorAll('[role=tabpanel]:not([hidden]) input, [role=tabpanel]:not([hidden]) select')].filter((el) => el.labels.length === 0).map((el) => el.outerHTML)`)) as string[];
  }

  test('the tabs are reached and switched with the keyboard; Messages lists the correspondence by contact', async () => {
    await page.goto(await connectUrl());
    await page.getByRole('heading', { name: 'Email settings' }).waitFor();
    const tabs = page.getByRole('tab');
    assert.deepEqual(await tabs.allInnerTexts(), ['Settings', 'Messages', 'Campaigns']);
    // one tab stop: Tab lands on the selected tab, the arrow key moves to and opens the next
    await page.getByRole('tab', { name: 'Settings' }).focus();
    await page.keyboard.press('ArrowRight');
    const focused = (await page.evaluate(`(() => {
      const el = document.activeElement;
      return { text: el.textContent, selected: el.getAttribute('aria-selected'), outline: getComputedStyle(el).outlineStyle, width: getComputedStyle(el).outlineWidth };
    })()`)) as { text: string; selected: string; outline: string; width: string };
    assert.deepEqual(focused, { text: 'Messages', selected: 'true', outline: 'solid', width: '3px' });
    await panel('Messages').getByRole('heading', { name: 'Messages', exact: true }).waitFor();
    assert.equal(await page.locator('#panel-settings[role=tabpanel]').count(), 1, 'the settings stay in the page');
    assert.equal(await page.locator('#panel-settings').isHidden(), true, '... hidden');
    assert.match(page.url(), /\?view=messages$/, 'the view is in the address, so a reload or a link opens it');

    // grouped by contact, the contact with the latest message first
    await group('Dana Customer').waitFor();
    const headings = await panel('Messages').locator('section.contact-group h3').allInnerTexts();
    assert.deepEqual(headings, ['Kim Lopez', 'Sam Buyer', 'Dana Customer', 'lee.owner@example.test', 'subscribers@acmepets.test']);
    const dana = group('Dana Customer');
    assert.equal(await dana.locator('.count').innerText(), '3 messages');
    assert.deepEqual(await dana.locator('.direction').allInnerTexts(), ['Received', 'Sent', 'Received'], 'newest first, with the direction of each');
    assert.deepEqual(await dana.locator('.message-subject').allInnerTexts(), ['Re: Grooming appointment for Rex', 'Re: Grooming appointment for Rex', 'Grooming appointment for Rex']);
    await dana.getByText('Perfect, thank you!').waitFor();
    assert.match(await dana.locator('time').first().getAttribute('datetime') ?? '', /^2030-03-01T10:20/);
    assert.deepEqual(await unlabelled(), []);
    await screenshots(page, '31-messages-by-contact');
    await noHorizontalScroll(375);
  });

  test('opening a message shows its text; the filters narrow the list to a contact or a provider', async () => {
    const dana = group('Dana Customer');
    const reply = dana.getByRole('button', { name: /Sent Re: Grooming appointment for Rex/ });
    await reply.focus();
    await page.keyboard.press('Enter');
    assert.equal(await reply.getAttribute('aria-expanded'), 'true');
    const body = page.getByRole('region', { name: 'Message: Re: Grooming appointment for Rex' });
    await body.getByText('Friday at 9:30 works. See you then!').waitFor();
    assert.match(await body.locator('.message-meta').innerText(), /Dana Customer <dana@customer\.test>/);
    await screenshots(page, '32-message-open');
    await page.keyboard.press('Enter');
    assert.equal(await reply.getAttribute('aria-expanded'), 'false', 'Enter closes it again');
    assert.equal(await body.count(), 0);

    // a contact: typed, or chosen from its group
    await page.getByLabel('Contact email', { exact: true }).fill('LEE.owner@example.test');
    await page.getByRole('button', { name: 'Show messages' }).click();
    await until('one contact group', async () => (await panel('Messages').locator('section.contact-group').count()) === 1);
    assert.deepEqual(await panel('Messages').locator('.message-subject').allInnerTexts(), ['Boarding over Easter?']);
    await page.getByRole('button', { name: 'All contacts' }).click();
    await group('Dana Customer').waitFor();
    await group('Dana Customer').getByRole('button', { name: 'Only messages with dana@customer.test' }).click();
    await until('one contact group', async () => (await panel('Messages').locator('section.contact-group').count()) === 1);
    assert.equal(await page.getByLabel('Contact email', { exact: true }).inputValue(), 'dana@customer.test');
    assert.equal(await panel('Messages').locator('.message').count(), 3);

    // a provider
    await page.getByRole('button', { name: 'All contacts' }).click();
    await page.getByLabel('Provider', { exact: true }).selectOption({ label: 'Newsletter (news@acmepets.test)' });
    await until('one contact group', async () => (await panel('Messages').locator('section.contact-group').count()) === 1);
    assert.deepEqual(await panel('Messages').locator('.message-subject').allInnerTexts(), ['March news']);
    // an answer for an earlier filter that arrives late is dropped, not shown over the current one
    const unfiltered = /\/v1\/messages\?limit=50$/;
    await page.route(unfiltered, async (route) => {
      await new Promise((r) => setTimeout(r, 800));
      await route.continue();
    });
    const late = page.waitForResponse(unfiltered);
    await page.getByLabel('Provider', { exact: true }).selectOption({ label: 'All providers' });
    await page.getByLabel('Provider', { exact: true }).selectOption({ label: 'Newsletter (news@acmepets.test)' });
    await late;
    await page.waitForTimeout(200);
    assert.deepEqual(await panel('Messages').locator('.message-subject').allInnerTexts(), ['March news']);
    await page.unroute(unfiltered);
    await page.getByLabel('Provider', { exact: true }).selectOption({ label: 'All providers' });
    await group('Dana Customer').waitFor();

    // a contact that is not an address: the server's answer is shown at the field
    await page.getByLabel('Contact email', { exact: true }).fill('not-an-address');
    await page.getByRole('button', { name: 'Show messages' }).click();
    const problem = page.locator('.field:has([name="contact"]) .field-problem');
    await problem.waitFor();
    assert.match(await problem.innerText(), /contact must be an email address/);
    assert.equal(await page.getByLabel('Contact email', { exact: true }).getAttribute('aria-invalid'), 'true');
    await screenshots(page, '33-messages-contact-problem');
    await page.getByLabel('Contact email', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Show messages' }).click();
    await group('Dana Customer').waitFor();
  });

  test('Campaigns shows the queue; Claim, then Mark done; the status filter follows', async () => {
    await page.getByRole('tab', { name: 'Campaigns' }).click();
    const campaign = panel('Campaigns').locator('li.campaign', { hasText: 'Spring offers' });
    await campaign.waitFor();
    assert.match(await campaign.innerText(), /Receiving/);
    assert.match(await campaign.innerText(), /From Front desk \(frontdesk@acmepets\.test\)/);
    assert.match(await campaign.locator('.counts').innerText(), /2\s+waiting\s+0\s+claimed\s+0\s+done/);
    // the only campaign's queue opens by itself, waiting messages oldest first
    await page.getByRole('heading', { name: 'Queue of “Spring offers”' }).waitFor();
    assert.equal(await page.getByLabel('Show', { exact: true }).inputValue(), 'queued');
    await queueItem('Price for two dogs?').waitFor();
    assert.deepEqual(await page.locator('li.queue-item .message-subject').allInnerTexts(), ['Interested in the spring grooming package', 'Price for two dogs?']);
    assert.match(await queueItem('spring grooming').innerText(), /Sam Buyer <sam@buyer\.test>/);
    assert.deepEqual(await unlabelled(), []);
    await screenshots(page, '34-campaign-queue');
    await noHorizontalScroll(375);

    // read it, claim it, mark it done
    const sam = queueItem('Interested in the spring grooming package');
    await sam.getByRole('button', { name: 'Read message' }).click();
    await sam.getByText('Hello, interested in the spring grooming package').waitFor();
    await sam.getByRole('button', { name: 'Claim' }).click();
    await sam.getByText('Claimed: it is yours to work on.').waitFor();
    assert.equal(await sam.locator('.pill').innerText(), 'Claimed');
    assert.equal((await api('GET', `/v1/campaigns/${campaignId}/queue/${items.sam}`)).body.status, 'claimed');
    await untilText(campaign.locator('.counts'), /1\s+claimed/);
    await screenshots(page, '35-item-claimed');
    await sam.getByRole('button', { name: 'Mark done' }).click();
    await sam.getByText('Marked done.').waitFor();
    assert.equal(await sam.locator('.pill').innerText(), 'Done');
    assert.equal(await sam.getByRole('button', { name: 'Mark done' }).count(), 0);
    const stored = (await api('GET', `/v1/campaigns/${campaignId}/queue/${items.sam}`)).body;
    assert.equal(stored.status, 'done');
    assert.ok(stored.doneAt);
    await untilText(campaign.locator('.counts'), /1\s+waiting\s+0\s+claimed\s+1\s+done/);

    await page.getByLabel('Show', { exact: true }).selectOption('done');
    await until('only the done item', async () => (await page.locator('li.queue-item .pill').allInnerTexts()).join() === 'Done');
    assert.deepEqual(await page.locator('li.queue-item .message-subject').allInnerTexts(), ['Interested in the spring grooming package']);
    await page.getByLabel('Show', { exact: true }).selectOption('queued');
    await until('only the waiting item', async () => (await page.locator('li.queue-item .pill').allInnerTexts()).join() === 'Waiting');
    assert.deepEqual(await page.locator('li.queue-item .message-subject').allInnerTexts(), ['Price for two dogs?']);
    // the answer for a status left at once, arriving late, is dropped
    const doneList = /\/queue\?limit=50&status=done$/;
    await page.route(doneList, async (route) => {
      await new Promise((r) => setTimeout(r, 800));
      await route.continue();
    });
    const late = page.waitForResponse(doneList);
    await page.getByLabel('Show', { exact: true }).selectOption('done');
    await page.getByLabel('Show', { exact: true }).selectOption('queued');
    await late;
    await page.waitForTimeout(200);
    assert.deepEqual(await page.locator('li.queue-item .message-subject').allInnerTexts(), ['Price for two dogs?']);
    await page.unroute(doneList);
    await screenshots(page, '36-queue-after-done');
  });

  test('an item another worker claimed first: the page says so and shows it claimed', async () => {
    const other = await api('POST', `/v1/campaigns/${campaignId}/queue/${items.kim}/claim`, {});
    assert.equal(other.status, 200, other.text);
    const kim = queueItem('Price for two dogs?');
    await kim.getByRole('button', { name: 'Claim' }).click();
    await kim.getByRole('alert').getByText('This item is already claimed.').waitFor();
    await kim.locator('.pill', { hasText: 'Claimed' }).waitFor();
    await kim.getByRole('button', { name: 'Put back' }).waitFor();
    await screenshots(page, '37-claimed-elsewhere');
    // put back, it waits again
    await kim.getByRole('button', { name: 'Put back' }).click();
    await kim.getByText('Put back: it is waiting again.').waitFor();
    assert.equal((await api('GET', `/v1/campaigns/${campaignId}/queue/${items.kim}`)).body.status, 'queued');
    assert.deepEqual(pageErrors, []);
  });
});
