import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { startDnsServer, type DnsServer } from '../../test/helpers/dns-server.js';
import { dmarcPolicy, organisationalDomain, parseDmarc, platformSender, defaultResolveTxt, type ResolveTxt } from './dmarc.js';

let dns: DnsServer;
let silent: DnsServer;

before(async () => {
  dns = await startDnsServer({
    '_dmarc.open.test': { TXT: ['v=DMARC1; p=none; rua=mailto:d@open.test'] },
    '_dmarc.strict.test': { TXT: ['v=DMARC1; p=quarantine; pct=100'] },
    '_dmarc.bank.test': { TXT: [['v=DMARC1; p=reject; ', 'rua=mailto:dmarc@bank.test']] }, // one record, two strings
    '_dmarc.parent.test': { TXT: ['v=DMARC1; p=none; sp=reject'] },
    '_dmarc.acme.co.uk': { TXT: ['v=DMARC1; p=reject'] },
    '_dmarc.own.parent.test': { TXT: ['v=DMARC1; p=none'] },
    '_dmarc.spf-only.test': { TXT: ['v=spf1 -all', 'google-site-verification=abc'] },
    '_dmarc.broken.test': { TXT: ['v=DMARC1; p=rejectt; sp=bogus'] },
    '_dmarc.not-dmarc.test': { TXT: ['p=reject; v=DMARC1'] },
    '_dmarc.twice.test': { TXT: ['v=DMARC1; p=reject', 'v=DMARC1; p=none'] },
    '_dmarc.servfail.test': { servfail: true },
    '_dmarc.case.test': { TXT: ['V=dmarc1;P=Reject'] },
    'nothing.test': { A: ['127.0.0.1'] },
  });
  silent = await startDnsServer({}, { silent: true });
});

after(async () => {
  await dns.close();
  await silent.close();
});

/** A fresh resolver function (so a fresh cache) against the loopback server. */
function resolverFor(server: DnsServer, timeout = 1000): ResolveTxt {
  const r = new Resolver({ timeout, tries: 1 });
  r.setServers([server.server]);
  return (name) => r.resolveTxt(name);
}

const input = (fromEmail: string, fromName: string | null = 'Acme Sales') => ({ fromEmail, fromName, platformAddress: 'notify@crm.example', platformName: 'CRM' });

test('p=none keeps the company From, with no Reply-To', async () => {
  const sender = await platformSender(input('hello@open.test'), resolverFor(dns));
  assert.deepEqual(sender, { from: { name: 'Acme Sales', address: 'hello@open.test' } });
});

test('p=quarantine and p=reject move From to the platform, named "<name> via <platform>", Reply-To the company', async () => {
  const resolve = resolverFor(dns);
  assert.deepEqual(await platformSender(input('hello@strict.test'), resolve), {
    from: { name: 'Acme Sales via CRM', address: 'notify@crm.example' },
    replyTo: 'hello@strict.test',
  });
  // a record split over two character-strings is one record
  const bank = await platformSender(input('Info@BANK.test', null), resolve);
  assert.deepEqual(bank, { from: { name: 'Info@BANK.test via CRM', address: 'notify@crm.example' }, replyTo: 'Info@BANK.test' });
  // tag names and values are read without regard to case
  assert.equal((await platformSender(input('a@case.test'), resolve)).replyTo, 'a@case.test');
});

test('platformName defaults to the domain of the platform address', async () => {
  const sender = await platformSender({ fromEmail: 'x@strict.test', fromName: 'Jo', platformAddress: 'mailer@relay.example' }, resolverFor(dns));
  assert.equal(sender.from.name, 'Jo via relay.example');
});

test('a subdomain without its own record gets the organisational domain\'s sp=, else its p=', async () => {
  const resolve = resolverFor(dns);
  // parent.test: p=none but sp=reject → enforced for subdomains only
  assert.equal((await platformSender(input('a@parent.test'), resolve)).from.address, 'a@parent.test');
  assert.equal((await platformSender(input('a@news.parent.test'), resolve)).from.address, 'notify@crm.example');
  assert.ok(dns.queries.includes('TXT _dmarc.news.parent.test'), 'the exact domain is asked first');
  // a subdomain with its own record: that record's p= wins over the parent's sp=
  assert.equal((await platformSender(input('a@own.parent.test'), resolve)).from.address, 'a@own.parent.test');
  // co.uk: the organisational domain is three labels; no sp= → p= applies
  assert.equal(await dmarcPolicy('mail.acme.co.uk', resolve), 'reject');
  assert.ok(dns.queries.includes('TXT _dmarc.acme.co.uk'));
  assert.ok(!dns.queries.includes('TXT _dmarc.co.uk'), 'never the public suffix');
});

test('no record (NXDOMAIN, or only non-DMARC TXT) keeps the company From', async () => {
  const resolve = resolverFor(dns);
  assert.deepEqual(await platformSender(input('a@nothing.test'), resolve), { from: { name: 'Acme Sales', address: 'a@nothing.test' } });
  assert.deepEqual(await platformSender(input('a@spf-only.test', null), resolve), { from: { name: '', address: 'a@spf-only.test' } });
  assert.equal(await dmarcPolicy('deep.sub.nowhere.test', resolve), null);
  assert.ok(dns.queries.includes('TXT _dmarc.nowhere.test'), 'the organisational domain was tried');
});

test('malformed records never enforce: bad p= counts as none, v= not first is no record, two records are none', async () => {
  const resolve = resolverFor(dns);
  assert.equal(await dmarcPolicy('broken.test', resolve), 'none');
  assert.equal((await platformSender(input('a@broken.test'), resolve)).from.address, 'a@broken.test');
  assert.equal(await dmarcPolicy('not-dmarc.test', resolve), null);
  assert.equal(await dmarcPolicy('twice.test', resolve), null);
  assert.equal(parseDmarc(''), null);
  assert.equal(parseDmarc('v=DMARC2; p=reject'), null);
  assert.deepEqual(parseDmarc('v=DMARC1;p=quarantine;sp=none;adkim=s'), { p: 'quarantine', sp: 'none' });
  assert.deepEqual(parseDmarc('v=DMARC1; p=reject; p=none'), { p: 'reject' }, 'the first occurrence of a tag counts');
  // addresses without a usable domain: nothing to look up
  assert.deepEqual(await platformSender(input('no-at-sign'), resolve), { from: { name: 'Acme Sales', address: 'no-at-sign' } });
});

test('when DNS cannot tell (SERVFAIL, a timeout) the platform sends From itself, as for an enforcing policy; never throws', async () => {
  const fallBack = (address: string) => ({ from: { name: 'Acme Sales via CRM', address: 'notify@crm.example' }, replyTo: address, tentative: true });
  assert.deepEqual(await platformSender(input('a@servfail.test'), resolverFor(dns)), fallBack('a@servfail.test'));
  assert.equal(await dmarcPolicy('servfail.test', resolverFor(dns)), null, 'no policy known');
  const started = Date.now();
  const sender = await platformSender(input('a@silent.test'), resolverFor(silent, 300));
  assert.deepEqual(sender, fallBack('a@silent.test'));
  assert.ok(Date.now() - started < 3000, 'bounded by the resolver timeout');
  // a resolver that throws synchronously or returns junk is survived too
  const throwing: ResolveTxt = () => {
    throw new Error('boom');
  };
  assert.equal(await dmarcPolicy('x.test', throwing), null);
  const junk = (async () => [[42], 'v=DMARC1; p=reject']) as unknown as ResolveTxt;
  assert.equal(await dmarcPolicy('junk.test', junk), 'reject');
});

test('answers are cached per resolver; concurrent lookups share one query', async () => {
  const resolve = resolverFor(dns);
  const count = () => dns.queries.filter((q) => q === 'TXT _dmarc.strict.test').length;
  const before = count();
  await Promise.all(Array.from({ length: 20 }, () => platformSender(input('a@strict.test'), resolve)));
  await platformSender(input('b@strict.test'), resolve);
  assert.equal(count() - before, 1);
  await platformSender(input('a@strict.test'), resolverFor(dns));
  assert.equal(count() - before, 2, 'another resolver has its own cache');
});

test('organisationalDomain: a small public-suffix heuristic', () => {
  assert.equal(organisationalDomain('acme.com'), 'acme.com');
  assert.equal(organisationalDomain('eu.mail.acme.com'), 'acme.com');
  assert.equal(organisationalDomain('mail.acme.co.uk'), 'acme.co.uk');
  assert.equal(organisationalDomain('acme.com.au.'), 'acme.com.au');
  assert.equal(organisationalDomain('shop.acme.de'), 'acme.de');
  assert.equal(organisationalDomain('Mail.ACME.Co.JP'), 'acme.co.jp');
});

test('defaultResolveTxt is one shared function', () => {
  assert.equal(defaultResolveTxt(), defaultResolveTxt());
});
