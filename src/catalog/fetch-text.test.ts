/** The guarded autoconfig fetcher against real DNS and HTTP servers on loopback. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as dns } from 'node:dns';
import { createFetchText, type FetchText } from './fetch-text.js';
import { AddressGuard } from '../net/guard.js';
import { startDnsServer, type DnsServer } from '../../test/helpers/dns-server.js';
import { startHttpServer, type HttpServer } from '../../test/helpers/http-server.js';

let dnsServer: DnsServer;
let web: HttpServer;
let guard: AddressGuard;
let fetchText: FetchText;

before(async () => {
  dnsServer = await startDnsServer({
    'a.test': { A: ['127.0.0.1'] },
    'b.test': { A: ['127.0.0.1'] },
    'private.test': { A: ['10.1.2.3'] },
  });
  web = await startHttpServer({
    'a.test/ok': { body: '<ok/>' },
    'a.test/to-https': { status: 302, headers: { location: 'https://b.test/final' } },
    'a.test/relative': { status: 301, headers: { location: '/ok' } },
    'a.test/to-http': { status: 302, headers: { location: 'http://b.test/final' } },
    'a.test/to-private': { status: 307, headers: { location: 'https://private.test/x' } },
    'a.test/loop': { status: 302, headers: { location: 'https://a.test/loop' } },
    'a.test/big': { body: 'x'.repeat(300 * 1024) },
    'a.test/slow': { body: 'late', delayMs: 2000 },
    'b.test/final': { body: 'final' },
  });
  const resolver = new dns.Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([dnsServer.server]);
  guard = new AddressGuard({
    allow: ['127.0.0.0/8'],
    lookup: async (host) => (await resolver.resolve4(host)).map((address) => ({ address, family: 4 })),
  });
  fetchText = createFetchText({ guard, plainHttpPort: web.port });
});

after(async () => {
  await web.close();
  await dnsServer.close();
});

const opts = { timeoutMs: 1500 };

test('fetches an https URL', async () => {
  assert.deepEqual(await fetchText('https://a.test/ok', opts), { status: 200, body: '<ok/>' });
});

test('answers other statuses as they are', async () => {
  assert.equal((await fetchText('https://a.test/missing', opts))?.status, 404);
});

test('refuses anything but https, without sending a request', async () => {
  const count = web.requests.length;
  assert.equal(await fetchText('http://a.test/ok', opts), null);
  assert.equal(await fetchText('ftp://a.test/ok', opts), null);
  assert.equal(await fetchText('not a url', opts), null);
  assert.equal(web.requests.length, count);
});

test('follows redirects to https only, each hop through the guard', async () => {
  assert.deepEqual(await fetchText('https://a.test/to-https', opts), { status: 200, body: 'final' });
  assert.deepEqual(await fetchText('https://a.test/relative', opts), { status: 200, body: '<ok/>' });
  const count = web.requests.length;
  assert.equal(await fetchText('https://a.test/to-http', opts), null);
  assert.equal(await fetchText('https://a.test/to-private', opts), null);
  assert.equal(web.requests.length, count + 2, 'only the first hops were requested');
  assert.equal(await fetchText('https://a.test/loop', opts), null);
});

test('a host that resolves to a private address gets no request', async () => {
  const count = web.requests.length;
  assert.equal(await fetchText('https://private.test/x', opts), null);
  assert.equal(await fetchText('https://unknown.test/x', opts), null);
  assert.equal(web.requests.length, count);
});

test('caps the body size', async () => {
  assert.equal(await fetchText('https://a.test/big', opts), null);
  const roomy = createFetchText({ guard, plainHttpPort: web.port, maxBytes: 400 * 1024 });
  assert.equal((await roomy('https://a.test/big', opts))?.body.length, 300 * 1024);
});

test('gives up at the timeout and on abort', async () => {
  let started = Date.now();
  assert.equal(await fetchText('https://a.test/slow', { timeoutMs: 200 }), null);
  assert.ok(Date.now() - started < 1000);
  const abort = new AbortController();
  started = Date.now();
  setTimeout(() => abort.abort(), 100);
  assert.equal(await fetchText('https://a.test/slow', { timeoutMs: 5000, signal: abort.signal }), null);
  assert.ok(Date.now() - started < 1000);
});
