/**
 * Discovery against a real DNS server and a real HTTP server on loopback: nothing is mocked
 * but the public internet (autoconfig URLs stay https:// and are sent as plain HTTP to the
 * loopback server through the fetcher's test-only `plainHttpPort`).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as dns } from 'node:dns';
import { Catalog } from './catalog.js';
import { discover, firstByPriority, type DiscoveryDeps } from './discover.js';
import { createFetchText } from './fetch-text.js';
import { AddressGuard } from '../net/guard.js';
import { isMailportError } from '../core/errors.js';
import { startDnsServer, type DnsServer } from '../../test/helpers/dns-server.js';
import { startHttpServer, type HttpServer } from '../../test/helpers/http-server.js';

const AC1_XML = `<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="ac1.test">
    <domain>ac1.test</domain>
    <displayName>AC1 &amp; Co</displayName>
    <incomingServer type="imap">
      <hostname>imap.%EMAILDOMAIN%</hostname>
      <port>143</port>
      <socketType>plain</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>imap.%EMAILDOMAIN%</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>pop.ac1.test</hostname>
      <port>995</port>
      <socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.ac1.test</hostname>
      <port>587</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
    <documentation url="https://ac1.test/help?a=1&amp;b=2"><descr lang="en">Help</descr></documentation>
  </emailProvider>
</clientConfig>`;

const AC2_XML = `<?xml version="1.0"?>
<clientConfig version="1.1"><emailProvider id="ac2.test">
  <incomingServer type="imap"><hostname>mail.ac2.test</hostname><port>993</port><socketType>SSL</socketType><username>%EMAILADDRESS%</username></incomingServer>
  <outgoingServer type="smtp"><hostname>mail.ac2.test</hostname><port>465</port><socketType>SSL</socketType><username>%EMAILADDRESS%</username></outgoingServer>
</emailProvider></clientConfig>`;

const BOTH_XML = AC2_XML.replaceAll('ac2.test', 'both.test');

let dnsServer: DnsServer;
let web: HttpServer;
let resolver: dns.Resolver;
let guard: AddressGuard;
let catalog: Catalog;

/** The guard resolves through the loopback DNS server too, and allows loopback (the test web server). */
function loopbackGuard(allow: string[]): AddressGuard {
  return new AddressGuard({
    allow,
    lookup: async (host) => (await resolver.resolve4(host)).map((address) => ({ address, family: 4 })),
  });
}

function deps(overrides: Partial<DiscoveryDeps> = {}): DiscoveryDeps {
  return {
    catalog,
    resolver,
    guard,
    fetchText: createFetchText({ guard, plainHttpPort: web.port }),
    timeoutMs: 3000,
    ...overrides,
  };
}

before(async () => {
  dnsServer = await startDnsServer({
    'acme-google.test': { MX: [{ priority: 20, exchange: 'alt1.aspmx.l.google.com' }, { priority: 10, exchange: 'aspmx.l.google.com' }] },
    'contoso.test': { MX: [{ priority: 0, exchange: 'contoso-test.mail.protection.outlook.com' }] },
    'srv.test': { MX: [{ priority: 10, exchange: 'mx.srv.test' }] },
    '_submissions._tcp.srv.test': { SRV: [{ priority: 0, weight: 0, port: 465, target: 'mail.srv.test' }] },
    '_submission._tcp.srv.test': { SRV: [{ priority: 0, weight: 0, port: 587, target: 'other.srv.test' }] },
    '_imaps._tcp.srv.test': { SRV: [{ priority: 0, weight: 0, port: 0, target: '.' }] },
    '_imap._tcp.srv.test': { SRV: [{ priority: 10, weight: 0, port: 143, target: 'imap-b.srv.test' }, { priority: 5, weight: 0, port: 143, target: 'imap-a.srv.test' }] },
    '_pop3s._tcp.srv.test': { SRV: [{ priority: 0, weight: 1, port: 995, target: 'pop-light.srv.test' }, { priority: 0, weight: 5, port: 995, target: 'pop-heavy.srv.test' }] },
    'ac1.test': { MX: [{ priority: 10, exchange: 'mx.ac1.test' }] },
    'autoconfig.ac1.test': { A: ['127.0.0.1'] },
    'ac2.test': { A: ['127.0.0.1'] },
    'garbage.test': { A: ['127.0.0.1'] },
    'autoconfig.garbage.test': { A: ['127.0.0.1'] },
    // the MX answer comes late, so the autoconfig file is in before it
    'both.test': { MX: [{ priority: 10, exchange: 'aspmx.l.google.com' }], delayMs: 250 },
    'autoconfig.both.test': { A: ['127.0.0.1'] },
  });
  web = await startHttpServer({
    'autoconfig.ac1.test/mail/config-v1.1.xml': { body: AC1_XML },
    'ac2.test/.well-known/autoconfig/mail/config-v1.1.xml': { body: AC2_XML },
    'autoconfig.garbage.test/mail/config-v1.1.xml': { body: '<<<this is not <xml at all' },
    'garbage.test/.well-known/autoconfig/mail/config-v1.1.xml': { body: '<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="x"><incomingServer type="exchange"><hostname>ex.garbage.test</hostname></incomingServer></emailProvider></clientConfig>' },
    'autoconfig.both.test/mail/config-v1.1.xml': { body: BOTH_XML },
  });
  resolver = new dns.Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([dnsServer.server]);
  guard = loopbackGuard(['127.0.0.0/8']);
  catalog = new Catalog();
});

after(async () => {
  await web.close();
  await dnsServer.close();
});

test('preset: a consumer domain is answered from the catalog without any network', async () => {
  const before = dnsServer.queries.length;
  const found = await discover('Alice@Gmail.com', deps());
  assert.equal(found.source, 'preset');
  assert.equal(found.preset, 'gmail');
  assert.deepEqual(found.smtp, { host: 'smtp.gmail.com', port: 465, security: 'tls' });
  assert.deepEqual(found.imap, { host: 'imap.gmail.com', port: 993, security: 'tls' });
  assert.equal(found.username, 'Alice@gmail.com');
  assert.deepEqual(found.alternatives?.smtp, [{ host: 'smtp.gmail.com', port: 587, security: 'starttls' }]);
  assert.ok(found.notes && found.notes.length > 0);
  assert.equal(dnsServer.queries.length, before, 'no DNS query was made');
});

test('mx: a custom domain hosted by Google Workspace', async () => {
  const found = await discover('bob@acme-google.test', deps());
  assert.equal(found.source, 'mx');
  assert.equal(found.preset, 'google_workspace');
  assert.deepEqual(found.smtp, { host: 'smtp.gmail.com', port: 465, security: 'tls' });
  assert.ok(dnsServer.queries.includes('MX acme-google.test'));
});

test('mx: a custom domain hosted by Microsoft 365', async () => {
  const found = await discover('carol@contoso.test', deps());
  assert.equal(found.source, 'mx');
  assert.equal(found.preset, 'microsoft365');
  assert.deepEqual(found.smtp, { host: 'smtp.office365.com', port: 587, security: 'starttls' });
  assert.deepEqual(found.imap, { host: 'outlook.office365.com', port: 993, security: 'tls' });
});

test('srv: TLS services first, "." means not offered, priority then weight', async () => {
  const found = await discover('dave@srv.test', deps());
  assert.equal(found.source, 'srv');
  assert.equal(found.preset, null);
  assert.deepEqual(found.smtp, { host: 'mail.srv.test', port: 465, security: 'tls' }, '_submissions beats _submission');
  assert.deepEqual(found.imap, { host: 'imap-a.srv.test', port: 143, security: 'starttls' }, '_imaps is ".", lowest priority of _imap');
  assert.deepEqual(found.pop, { host: 'pop-heavy.srv.test', port: 995, security: 'tls' }, 'same priority: higher weight');
  assert.equal(found.username, 'dave@srv.test');
});

test('autoconfig: the autoconfig.<domain> URL, with the address, placeholders filled', async () => {
  const found = await discover('erin@ac1.test', deps());
  assert.equal(found.source, 'autoconfig');
  assert.equal(found.preset, null);
  assert.deepEqual(found.imap, { host: 'imap.ac1.test', port: 993, security: 'tls' }, 'the encrypted server is preferred over plain');
  assert.deepEqual(found.pop, { host: 'pop.ac1.test', port: 995, security: 'tls' });
  assert.deepEqual(found.smtp, { host: 'smtp.ac1.test', port: 587, security: 'starttls' });
  assert.equal(found.username, 'erin', '%EMAILLOCALPART% of the incoming server');
  assert.ok(web.requests.includes('autoconfig.ac1.test/mail/config-v1.1.xml?emailaddress=erin%40ac1.test'));
});

test('autoconfig: the .well-known URL on the domain itself', async () => {
  const found = await discover('frank@ac2.test', deps());
  assert.equal(found.source, 'autoconfig');
  assert.deepEqual(found.smtp, { host: 'mail.ac2.test', port: 465, security: 'tls' });
  assert.deepEqual(found.imap, { host: 'mail.ac2.test', port: 993, security: 'tls' });
  assert.equal(found.pop, null);
  assert.equal(found.username, 'frank@ac2.test');
  assert.ok(web.requests.includes('ac2.test/.well-known/autoconfig/mail/config-v1.1.xml'));
});

test('priority: an MX match wins over an autoconfig file that answered first', async () => {
  const found = await discover('gail@both.test', deps());
  assert.equal(found.source, 'mx');
  assert.equal(found.preset, 'google_workspace');
  assert.ok(web.requests.some((r) => r.startsWith('autoconfig.both.test/')), 'the autoconfig file was fetched');
});

test('guess: nothing published anywhere', async () => {
  const found = await discover('gina@nothing.test', deps());
  assert.equal(found.source, 'guess');
  assert.equal(found.preset, null);
  assert.deepEqual(found.smtp, { host: 'smtp.nothing.test', port: 587, security: 'starttls' });
  assert.deepEqual(found.imap, { host: 'imap.nothing.test', port: 993, security: 'tls' });
  assert.deepEqual(found.pop, { host: 'pop.nothing.test', port: 995, security: 'tls' });
  assert.equal(found.username, 'gina@nothing.test');
  assert.ok(found.notes?.[0]?.includes('guess'));
});

test('autoconfig returning garbage or an unusable file falls through to a guess', async () => {
  const found = await discover('hal@garbage.test', deps());
  assert.equal(found.source, 'guess');
  assert.ok(web.requests.some((r) => r.startsWith('autoconfig.garbage.test/')));
  assert.ok(web.requests.some((r) => r.startsWith('garbage.test/.well-known/')));
});

test('the address guard: a domain whose autoconfig host is a private address gets no request', async () => {
  const strict = loopbackGuard([]);
  const count = web.requests.length;
  const found = await discover('ivy@ac1.test', deps({ guard: strict, fetchText: createFetchText({ guard: strict, plainHttpPort: web.port }) }));
  assert.equal(found.source, 'guess');
  assert.equal(web.requests.length, count, 'no HTTP request was sent');
});

test('malformed addresses are refused with INVALID_INPUT on field email', async () => {
  const bad: unknown[] = ['', 'no-at-sign', '@example.org', 'ann@', 'ann@@example.org', 'ann@localhost', 'ann@exa mple.org',
    'ann..b@example.org', '.ann@example.org', 'ann@-bad.org', 'ann@1.2.3.4', `${'x'.repeat(65)}@example.org`, 42, null];
  for (const email of bad) {
    await assert.rejects(discover(email as string, deps()), (err: unknown) => {
      assert.ok(isMailportError(err), `${String(email)}: ${String(err)}`);
      assert.equal(err.code, 'INVALID_INPUT');
      assert.equal(err.field, 'email');
      assert.equal(err.status, 400);
      return true;
    }, String(email));
  }
});

test('a DNS server that never answers: discovery still ends within its budget, with a guess', async () => {
  const silent = await startDnsServer({}, { silent: true });
  const slow = new dns.Resolver({ timeout: 10_000, tries: 1 });
  slow.setServers([silent.server]);
  const slowGuard = new AddressGuard({
    allow: ['127.0.0.0/8'],
    lookup: async (host) => (await slow.resolve4(host)).map((address) => ({ address, family: 4 })),
  });
  try {
    const started = Date.now();
    const found = await discover('jo@silent.test', deps({ resolver: slow, guard: slowGuard, fetchText: createFetchText({ guard: slowGuard, plainHttpPort: web.port }), timeoutMs: 400 }));
    const elapsed = Date.now() - started;
    assert.equal(found.source, 'guess');
    assert.ok(elapsed >= 350 && elapsed < 1500, `took ${elapsed} ms`);
    assert.ok(silent.queries.length > 0, 'the silent server was asked');
  } finally {
    slow.cancel(); // its queries would otherwise wait out their own 10 s timeout
    await silent.close();
  }
});

test('firstByPriority waits for higher priority, and at the deadline takes the best arrived', async () => {
  const later = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));
  assert.equal(await firstByPriority([later(60, 'a'), later(1, 'b')], Date.now() + 1000), 'a');
  assert.equal(await firstByPriority([later(30, null), later(1, 'b')], Date.now() + 1000), 'b');
  assert.equal(await firstByPriority([Promise.reject(new Error('x')), later(1, 'b')], Date.now() + 1000), 'b');
  assert.equal(await firstByPriority([new Promise<string>(() => {}), later(1, 'b')], Date.now() + 50), 'b');
  assert.equal(await firstByPriority([new Promise<string>(() => {}), later(1, null)], Date.now() + 50), null);
});
