import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autoconfigUrls, parseAutoconfig } from './autoconfig.js';
import { parseEmail } from './template.js';

const ann = parseEmail('ann@example.org');
const wrap = (servers: string) => `<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="example.org">${servers}</emailProvider></clientConfig>`;

test('the two provider URLs, https only, the address on the first', () => {
  assert.deepEqual(autoconfigUrls(ann), [
    'https://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=ann%40example.org',
    'https://example.org/.well-known/autoconfig/mail/config-v1.1.xml',
  ]);
});

test('socket types map to Mailport security', () => {
  const xml = wrap(`
    <incomingServer type="imap"><hostname>IMAP.Example.org.</hostname><port>143</port><socketType>STARTTLS</socketType><username>%EMAILADDRESS%</username></incomingServer>
    <incomingServer type="pop3"><hostname>pop.example.org</hostname><port>110</port><socketType>plain</socketType></incomingServer>
    <outgoingServer type="smtp"><hostname>smtp.example.org</hostname><port>465</port><socketType>SSL</socketType></outgoingServer>`);
  assert.deepEqual(parseAutoconfig(xml, ann), {
    imap: { host: 'imap.example.org', port: 143, security: 'starttls' },
    pop: { host: 'pop.example.org', port: 110, security: 'none' },
    smtp: { host: 'smtp.example.org', port: 465, security: 'tls' },
    username: 'ann@example.org',
  });
});

test('unusable servers are skipped, and a file with none is no answer', () => {
  const xml = wrap(`
    <incomingServer type="exchange"><hostname>ex.example.org</hostname><port>443</port><socketType>SSL</socketType></incomingServer>
    <incomingServer type="imap"><hostname>bad host</hostname><port>993</port><socketType>SSL</socketType></incomingServer>
    <incomingServer type="imap"><hostname>imap.example.org</hostname><port>99999</port><socketType>SSL</socketType></incomingServer>
    <incomingServer type="imap"><hostname>imap.example.org</hostname><port>993</port><socketType>TLS1.3</socketType></incomingServer>`);
  assert.equal(parseAutoconfig(xml, ann), null);
});

test('an unknown username placeholder falls back to the address', () => {
  const xml = wrap('<outgoingServer type="smtp"><hostname>smtp.example.org</hostname><port>587</port><socketType>STARTTLS</socketType><username>%EMAILHOSTNAME%</username></outgoingServer>');
  assert.equal(parseAutoconfig(xml, ann)?.username, 'ann@example.org');
});

test('garbage, HTML, other XML and entity tricks are no answer', () => {
  for (const body of [
    '',
    '<<<not xml',
    '<html><body><h1>404</h1></body></html>',
    '<?xml version="1.0"?><rss><channel/></rss>',
    '<?xml version="1.0"?><clientConfig version="1.1"></clientConfig>',
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><clientConfig><emailProvider><outgoingServer type="smtp"><hostname>&b;</hostname><port>1</port><socketType>SSL</socketType></outgoingServer></emailProvider></clientConfig>',
    '{"clientConfig": {}}',
  ]) {
    assert.equal(parseAutoconfig(body, ann), null, body);
  }
});

test('parseEmail normalises the domain, keeps the local part, and converts international names', () => {
  assert.deepEqual(parseEmail(' Ann.Lee+tag@Example.ORG '), { address: 'Ann.Lee+tag@example.org', localPart: 'Ann.Lee+tag', domain: 'example.org' });
  assert.equal(parseEmail('ann@bücher.example').domain, 'xn--bcher-kva.example');
});
