import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Catalog, CatalogDataError, fillTemplate, presetToApi, validatePresets, type Preset } from './catalog.js';

const raw = () => JSON.parse(readFileSync(new URL('./providers.json', import.meta.url), 'utf8')) as { presets: Array<Record<string, unknown>> };
const catalog = new Catalog();
const get = (id: string): Preset => {
  const p = catalog.get(id);
  assert.ok(p, `preset ${id} is missing`);
  return p;
};

test('the shipped providers.json is valid', () => {
  const presets = validatePresets(raw());
  assert.equal(presets.length, catalog.list().length);
  assert.ok(presets.length >= 20);
});

test('every provider of providers.md is in the catalog', () => {
  const ids = [
    'gmail', 'google_workspace', 'outlook', 'microsoft365', 'yahoo', 'icloud', 'aol', 'zoho', 'zoho_eu', 'zoho_in',
    'zoho_au', 'zoho_jp', 'zoho_ca', 'fastmail', 'gmx', 'gmx_net', 'yandex', 'proton', 'hostgator', 'godaddy',
    'bluehost', 'namecheap', 'ionos', 'ionos_uk', 'ionos_de', 'ionos_fr', 'rackspace', 'other',
  ];
  for (const id of ids) get(id);
});

test('"other" is present, has no hosts, and lets the user type everything', () => {
  const other = get('other');
  assert.equal(other.smtp, null);
  assert.equal(other.imap, null);
  assert.equal(other.pop, null);
  assert.deepEqual(other.types, ['smtp_imap']);
  assert.equal(other.limits.perDay, null);
});

test('account types follow the OAuth support', () => {
  assert.deepEqual(get('gmail').types, ['gmail', 'smtp_imap']);
  assert.deepEqual(get('google_workspace').types, ['gmail', 'smtp_imap']);
  assert.deepEqual(get('outlook').types, ['outlook', 'smtp_imap']);
  assert.deepEqual(get('microsoft365').types, ['outlook', 'smtp_imap']);
  assert.deepEqual(get('yahoo').types, ['smtp_imap']);
});

test('every preset has a well-formed limits block', () => {
  for (const p of catalog.list()) {
    const l = p.limits;
    assert.equal(typeof l.confirmed, 'boolean', p.id);
    assert.equal(typeof l.countsRecipients, 'boolean', p.id);
    assert.ok(l.source.length > 5, `${p.id} names a source`);
    assert.ok(['rolling_24h', 'calendar_day', 'hour', 'minute'].includes(l.window), p.id);
    assert.ok(l.perDay === null || (Number.isInteger(l.perDay) && l.perDay > 0), p.id);
  }
});

test('limits carry the documented numbers, unconfirmed ones marked', () => {
  const gmail = get('gmail').limits;
  assert.equal(gmail.perDay, 500);
  assert.equal(gmail.confirmed, false);
  const ws = get('google_workspace').limits;
  assert.equal(ws.perDay, 2000);
  assert.equal(ws.confirmed, true);
  const m365 = get('microsoft365').limits;
  assert.equal(m365.perDay, 10000);
  assert.equal(m365.perMinute, 30);
  assert.equal(m365.countsRecipients, true);
  assert.equal(m365.confirmed, true);
  const olc = get('outlook').limits;
  assert.equal(olc.perDay, 300);
  assert.equal(olc.confirmed, false);
  assert.equal(get('icloud').limits.perDay, 1000);
  assert.equal(get('yandex').limits.perDay, 500);
  assert.equal(get('yandex').limits.recipientsPerMessage, 35);
  const hg = get('hostgator').limits;
  assert.equal(hg.perHour, 500);
  assert.equal(hg.window, 'hour');
  const gd = get('godaddy').limits;
  assert.equal(gd.perDay, 250);
  assert.equal(gd.countsRecipients, true);
  const rs = get('rackspace').limits;
  assert.equal(rs.perDay, 10000);
  assert.equal(rs.window, 'calendar_day');
  assert.equal(rs.timeZone, 'America/New_York');
  assert.equal(get('ionos').limits.window, 'hour');
  assert.equal(get('zoho').limits.confirmed, false);
});

test('provider facts the gateway acts on', () => {
  assert.equal(get('icloud').pop, null, 'iCloud has no POP');
  assert.equal(get('hostgator').popMinIntervalSeconds, 120);
  assert.equal(get('gmail').savesSentCopy, true);
  assert.equal(get('gmx').savesSentCopy, false);
  assert.equal(get('icloud').savesSentCopy, null);
  assert.equal(get('microsoft365').sentFolder, 'Sent Items');
  assert.equal(get('hostgator').sentFolder, 'INBOX.Sent');
  assert.deepEqual(get('gmail').alternatives?.smtp, [{ host: 'smtp.gmail.com', port: 587, security: 'starttls' }]);
  assert.equal(get('hostgator').smtp?.host, 'mail.%EMAILDOMAIN%');
  assert.ok(get('hostgator').unconfirmed?.includes('pop'));
  for (const id of ['outlook', 'gmx', 'gmx_net', 'zoho', 'yandex']) {
    assert.ok(get(id).notes.some((n) => /turn|switch/i.test(n) && /IMAP/.test(n)), `${id} tells the owner to switch IMAP on`);
  }
  assert.ok(get('fastmail').notes.some((n) => /Basic/.test(n)));
  assert.ok(get('microsoft365').notes.some((n) => /Authenticated SMTP/.test(n)));
});

test('byDomain finds consumer domains, case-insensitively, and tenant sub-domains', () => {
  assert.equal(catalog.byDomain('gmail.com')?.id, 'gmail');
  assert.equal(catalog.byDomain('GoogleMail.com.')?.id, 'gmail');
  assert.equal(catalog.byDomain('hotmail.co.uk')?.id, 'outlook');
  assert.equal(catalog.byDomain('msn.com')?.id, 'outlook');
  assert.equal(catalog.byDomain('ymail.com')?.id, 'yahoo');
  assert.equal(catalog.byDomain('me.com')?.id, 'icloud');
  assert.equal(catalog.byDomain('gmx.de')?.id, 'gmx_net');
  assert.equal(catalog.byDomain('gmx.com')?.id, 'gmx');
  assert.equal(catalog.byDomain('zoho.eu')?.id, 'zoho_eu');
  assert.equal(catalog.byDomain('contoso.onmicrosoft.com')?.id, 'microsoft365');
  assert.equal(catalog.byDomain('example.org'), undefined);
  assert.equal(catalog.byDomain('com'), undefined);
});

test('byMxHost matches on label boundaries, longest suffix first', () => {
  assert.equal(catalog.byMxHost('aspmx.l.google.com')?.id, 'google_workspace');
  assert.equal(catalog.byMxHost('ALT1.ASPMX.L.GOOGLE.COM.')?.id, 'google_workspace');
  assert.equal(catalog.byMxHost('aspmx2.googlemail.com')?.id, 'google_workspace');
  assert.equal(catalog.byMxHost('contoso-com.mail.protection.outlook.com')?.id, 'microsoft365');
  assert.equal(catalog.byMxHost('eur.olc.protection.outlook.com')?.id, 'outlook');
  assert.equal(catalog.byMxHost('mta5.am0.yahoodns.net')?.id, 'yahoo');
  assert.equal(catalog.byMxHost('mx-aol.mail.gm0.yahoodns.net')?.id, 'aol');
  assert.equal(catalog.byMxHost('mx.zoho.eu')?.id, 'zoho_eu');
  assert.equal(catalog.byMxHost('mx.zoho.com.au')?.id, 'zoho_au');
  assert.equal(catalog.byMxHost('mx.zoho.com')?.id, 'zoho');
  assert.equal(catalog.byMxHost('smtp.secureserver.net')?.id, 'godaddy');
  assert.equal(catalog.byMxHost('mx00.kundenserver.de')?.id, 'ionos_de');
  assert.equal(catalog.byMxHost('mx00.ionos.com')?.id, 'ionos');
  assert.equal(catalog.byMxHost('mx1.emailsrvr.com')?.id, 'rackspace');
  assert.equal(catalog.byMxHost('in1-smtp.messagingengine.com')?.id, 'fastmail');
  assert.equal(catalog.byMxHost('mx.yandex.net')?.id, 'yandex');
  assert.equal(catalog.byMxHost('mail.protonmail.ch')?.id, 'proton');
  assert.equal(catalog.byMxHost('mx1.privateemail.com')?.id, 'namecheap');
  assert.equal(catalog.byMxHost('notgoogle.com'), undefined);
  assert.equal(catalog.byMxHost('mx.example.org'), undefined);
});

test('presetToApi gives API.md\'s shape plus the extras, as a copy', () => {
  const api = presetToApi(get('microsoft365'));
  for (const key of ['id', 'name', 'types', 'smtp', 'imap', 'pop', 'auth', 'limits', 'savesSentCopy', 'notes', 'alternatives', 'username', 'domains']) {
    assert.ok(key in api, `has ${key}`);
  }
  assert.equal(api.limits.perDay, 10000);
  assert.equal(api.limits.perMinute, 30);
  assert.equal(api.auth.oauth, 'microsoft');
  api.notes.push('changed');
  assert.ok(!get('microsoft365').notes.includes('changed'), 'the catalog is not changed through the copy');
  assert.doesNotThrow(() => JSON.stringify(catalog.list().map(presetToApi)));
});

test('shipped presets are frozen', () => {
  assert.throws(() => {
    (get('gmail').smtp as { port: number }).port = 25;
  }, TypeError);
});

test('fillTemplate fills the domain placeholder', () => {
  assert.deepEqual(fillTemplate(get('hostgator').smtp!, 'ann@Shop.Example'), { host: 'mail.shop.example', port: 465, security: 'tls' });
  assert.equal(fillTemplate(null, 'ann@shop.example'), null);
});

test('malformed data fails with the preset and the field named', () => {
  const cases: Array<[(d: ReturnType<typeof raw>) => void, RegExp]> = [
    [(d) => { (d.presets[0]!.smtp as Record<string, unknown>).port = '465'; }, /preset "gmail", field "smtp\.port"/],
    [(d) => { (d.presets[0]!.smtp as Record<string, unknown>).security = 'ssl'; }, /preset "gmail", field "smtp\.security"/],
    [(d) => { (d.presets[1]!.limits as Record<string, unknown>).confirmed = 'yes'; }, /preset "google_workspace", field "limits\.confirmed"/],
    [(d) => { delete (d.presets[1]!.limits as Record<string, unknown>).perDay; }, /field "limits\.perDay"/],
    [(d) => { d.presets[2]!.savesSentCopy = 'maybe'; }, /preset "outlook", field "savesSentCopy"/],
    [(d) => { d.presets[2]!.types = ['smtp_imap', 'pigeon']; }, /preset "outlook", field "types\[1\]"/],
    [(d) => { d.presets[3]!.domans = []; }, /preset "microsoft365", field "domans": is not a known field/],
    [(d) => { d.presets[4]!.domains = ['gmail.com']; }, /preset "yahoo", field "domains": "gmail.com" is already listed by preset "gmail"/],
    [(d) => { d.presets[5]!.unconfirmed = ['alternatives.pop']; }, /preset "icloud", field "unconfirmed\[0\]"/],
    [(d) => { d.presets = d.presets.filter((p) => p.id !== 'other'); }, /preset "other"/],
    [(d) => { d.presets[0]!.id = 'gmail'; d.presets[1]!.id = 'gmail'; }, /preset "gmail", field "id": is used by more than one preset/],
  ];
  for (const [mutate, message] of cases) {
    const data = raw();
    mutate(data);
    assert.throws(() => validatePresets(data), (err: unknown) => {
      assert.ok(err instanceof CatalogDataError, String(err));
      assert.match(err.message, message);
      return true;
    });
  }
});
