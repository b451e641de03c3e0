import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MailportError } from '../core/errors.js';
import type { Endpoint } from '../core/types.js';
import { classify, probeSignal, type ClassifyInfo, type ProviderFacts } from './classify.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/replies');

interface Fixture {
  provider: string;
  protocol: ClassifyInfo['protocol'];
  endpoint?: Endpoint;
  providerFacts?: ProviderFacts;
  auth?: 'password' | 'token';
  source: string;
  error: Record<string, unknown>;
  expect: string;
}

/** Rebuilds the library error the way it was raised: an Error with the recorded fields. */
function errorOf(fields: Record<string, unknown>): Error {
  return Object.assign(new Error(String(fields.message ?? 'error')), fields);
}

const files = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort();

describe('classify: recorded provider replies (test/fixtures/replies)', () => {
  test('there are fixtures for Gmail, Yahoo, iCloud, Microsoft and Outlook', () => {
    for (const p of ['gmail', 'yahoo', 'icloud', 'microsoft365', 'outlook']) {
      assert.ok(files.some((f) => f.startsWith(p)), `no fixture for ${p}`);
    }
  });
  for (const file of files) {
    test(file, () => {
      const fx = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')) as Fixture;
      const endpoint = fx.endpoint ?? { host: 'mail.example.com', port: 993, security: 'tls' };
      const err = classify(errorOf(fx.error), { protocol: fx.protocol, endpoint, provider: fx.providerFacts, auth: fx.auth });
      assert.ok(err instanceof MailportError);
      assert.equal(err.code, fx.expect, `${file}: ${err.message}`);
      assert.equal(err.protocol, fx.protocol);
      assert.ok(err.message.includes(`${endpoint.host}`), `message names the host: ${err.message}`);
      assert.ok(err.hint && err.hint.length > 10, 'has a hint');
      if (typeof fx.error.response === 'string') assert.equal(err.response, (fx.error.response as string).slice(0, 500));
    });
  }
});

const ep = (security: Endpoint['security'], port = 993, host = 'mail.example.com'): Endpoint => ({ host, port, security });
const nodeErr = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(code), { code, ...extra });

describe('classify: structured signals', () => {
  const cases: Array<[string, unknown, ClassifyInfo, string, RegExp?]> = [
    ['ECONNREFUSED (imapflow passes Node errors through)', nodeErr('ECONNREFUSED'), { protocol: 'imap', endpoint: ep('tls', 993) }, 'CONNECTION_REFUSED', /mail\.example\.com:993 refused/],
    ['ECONNREFUSED as nodemailer ESOCKET/originalCode', nodeErr('ESOCKET', { originalCode: 'ECONNREFUSED', command: 'CONN' }), { protocol: 'smtp', endpoint: ep('starttls', 587) }, 'CONNECTION_REFUSED'],
    ['ENOTFOUND', nodeErr('ENOTFOUND'), { protocol: 'imap', endpoint: ep('tls') }, 'HOST_NOT_FOUND', /mail\.example\.com could not be found/],
    ['nodemailer EDNS', nodeErr('EDNS'), { protocol: 'smtp', endpoint: ep('tls', 465) }, 'HOST_NOT_FOUND'],
    ['EHOSTUNREACH', nodeErr('EHOSTUNREACH'), { protocol: 'imap', endpoint: ep('tls') }, 'TIMEOUT', /could not be reached/],
    ['nodemailer greeting timeout', nodeErr('ETIMEDOUT', { timeoutType: 'GREETING_TIMEOUT', command: 'CONN' }), { protocol: 'smtp', endpoint: ep('starttls', 587) }, 'TIMEOUT', /no greeting/],
    ['imapflow CONNECT_TIMEOUT', nodeErr('CONNECT_TIMEOUT'), { protocol: 'imap', endpoint: ep('tls') }, 'TIMEOUT', /Could not connect/],
    ['POP3 ETIMEOUT', nodeErr('ETIMEOUT', { phase: 'command' }), { protocol: 'pop3', endpoint: ep('tls', 995) }, 'TIMEOUT'],
    ['ECONNRESET', nodeErr('ECONNRESET'), { protocol: 'imap', endpoint: ep('tls') }, 'PROTOCOL_ERROR', /closed the connection/],
    ['imapflow closed with BYE reason', nodeErr('ClosedAfterConnectTLS', { reason: 'Too many connections' }), { protocol: 'imap', endpoint: ep('tls') }, 'PROTOCOL_ERROR', /Too many connections/],
    ['wrong version number with SSL/TLS chosen', nodeErr('ERR_SSL_WRONG_VERSION_NUMBER', { reason: 'wrong version number' }), { protocol: 'imap', endpoint: ep('tls', 143) }, 'TLS_MISMATCH', /expects STARTTLS/],
    ['packet length too long', nodeErr('ESOCKET', { originalCode: 'ERR_SSL_PACKET_LENGTH_TOO_LONG' }), { protocol: 'smtp', endpoint: ep('tls', 25) }, 'TLS_MISMATCH'],
    ['outdated TLS', nodeErr('ERR_SSL_UNSUPPORTED_PROTOCOL'), { protocol: 'imap', endpoint: ep('tls') }, 'PROTOCOL_ERROR', /TLS 1\.2/],
    ['self-signed', nodeErr('DEPTH_ZERO_SELF_SIGNED_CERT'), { protocol: 'imap', endpoint: ep('tls') }, 'CERT_INVALID', /self-signed/],
    ['untrusted chain (nodemailer)', nodeErr('ESOCKET', { originalCode: 'SELF_SIGNED_CERT_IN_CHAIN' }), { protocol: 'smtp', endpoint: ep('tls', 465) }, 'CERT_INVALID', /self-signed authority/],
    ['unknown issuer', nodeErr('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), { protocol: 'smtp', endpoint: ep('tls', 465) }, 'CERT_INVALID', /unknown authority/],
    ['expired', nodeErr('CERT_HAS_EXPIRED'), { protocol: 'pop3', endpoint: ep('tls', 995) }, 'CERT_INVALID', /expired/],
    ['wrong name, after STARTTLS (imapflow tlsFailed)', nodeErr('ERR_TLS_CERT_ALTNAME_INVALID', { tlsFailed: true }), { protocol: 'imap', endpoint: ep('starttls', 143) }, 'CERT_INVALID', /not valid for this host name/],
    ['POP3 socket error wrapping a cert error', Object.assign(new Error('x'), { code: 'ECONNECTION', cause: nodeErr('CERT_HAS_EXPIRED') }), { protocol: 'pop3', endpoint: ep('tls', 995) }, 'CERT_INVALID'],
    ['imapflow: STARTTLS required, not offered', Object.assign(new Error('Server does not support STARTTLS'), { tlsFailed: true }), { protocol: 'imap', endpoint: ep('starttls', 143) }, 'STARTTLS_UNAVAILABLE', /does not offer STARTTLS/],
    ['nodemailer: STARTTLS refused', nodeErr('ETLS', { response: '502 5.5.1 Unrecognized command', responseCode: 502, command: 'STARTTLS' }), { protocol: 'smtp', endpoint: ep('starttls', 25) }, 'STARTTLS_UNAVAILABLE'],
    ['nodemailer: connection closed during upgrade', nodeErr('ETLS', { command: 'CONN' }), { protocol: 'smtp', endpoint: ep('starttls', 587) }, 'PROTOCOL_ERROR'],
    ['POP3: STLS not offered', nodeErr('STLS_UNAVAILABLE', { phase: 'tls' }), { protocol: 'pop3', endpoint: ep('starttls', 110) }, 'STARTTLS_UNAVAILABLE'],
    ['IMAP PRIVACYREQUIRED', Object.assign(new Error('Command failed'), { serverResponseCode: 'PRIVACYREQUIRED', authenticationFailed: true, response: '2 NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.' }), { protocol: 'imap', endpoint: ep('none', 143) }, 'TLS_MISMATCH', /encrypted connection/],
    ['POP3 plaintext refused on a plain connection', Object.assign(new Error('x'), { code: 'ERR', phase: 'auth', responseCode: 'AUTH', response: '-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.' }), { protocol: 'pop3', endpoint: ep('none', 110) }, 'TLS_MISMATCH'],
    ['POP3 IN-USE', Object.assign(new Error('x'), { code: 'ERR', phase: 'command', responseCode: 'IN-USE', response: '-ERR [IN-USE] Mailbox is locked' }), { protocol: 'pop3', endpoint: ep('tls', 995) }, 'PROTOCOL_ERROR', /in use/],
    ['POP3 greeting -ERR', Object.assign(new Error('x'), { code: 'ERR', phase: 'greeting', responseCode: 'SYS/TEMP', response: '-ERR [SYS/TEMP] Too many connections' }), { protocol: 'pop3', endpoint: ep('tls', 995) }, 'PROTOCOL_ERROR', /temporary/],
    ['SMTP greeting of an IMAP server', nodeErr('EPROTOCOL', { response: '* OK [CAPABILITY IMAP4rev1] Dovecot ready.', command: 'CONN' }), { protocol: 'smtp', endpoint: ep('starttls', 143) }, 'PROTOCOL_ERROR', /like an IMAP server/],
    ['SMTP 554 greeting', nodeErr('EPROTOCOL', { response: '554 5.7.1 Service unavailable; client host blocked', responseCode: 554, command: 'CONN' }), { protocol: 'smtp', endpoint: ep('starttls', 587) }, 'CONNECTION_REFUSED'],
    ['SMTP AUTH not offered', nodeErr('EAUTH', { response: '502 5.5.1 Unrecognized command', responseCode: 502, command: 'AUTH PLAIN' }), { protocol: 'smtp', endpoint: ep('starttls', 25) }, 'PROTOCOL_ERROR', /does not offer sign-in/],
    ['SMTP 454 temporary auth failure', nodeErr('EAUTH', { response: '454 4.7.0 Temporary authentication failure', responseCode: 454, command: 'AUTH PLAIN' }), { protocol: 'smtp', endpoint: ep('tls', 465) }, 'PROTOCOL_ERROR', /temporary/],
    ['SMTP recipient refused', nodeErr('EENVELOPE', { response: '550 5.1.1 <x@example.com>: Recipient address rejected', responseCode: 550, command: 'RCPT TO' }), { protocol: 'smtp', endpoint: ep('tls', 465) }, 'SEND_REJECTED'],
    ['probe: port expects TLS', probeSignal('MP_PORT_EXPECTS_TLS'), { protocol: 'imap', endpoint: ep('starttls', 993) }, 'TLS_MISMATCH', /expects SSL\/TLS/],
    ['probe: web server', probeSignal('MP_UNEXPECTED_GREETING', { greeting: 'HTTP/1.1 400 Bad Request' }), { protocol: 'imap', endpoint: ep('starttls', 8080) }, 'PROTOCOL_ERROR', /web \(HTTP\) server/],
    ['probe: POP3 on the IMAP port', probeSignal('MP_UNEXPECTED_GREETING', { greeting: '+OK Dovecot ready.' }), { protocol: 'imap', endpoint: ep('starttls', 110) }, 'PROTOCOL_ERROR', /POP3 server/],
    ['probe: POP only', probeSignal('MP_POP_ONLY', { popPort: 995, popSecurity: 'tls' }), { protocol: 'imap', endpoint: ep('tls', 993) }, 'POP_ONLY', /POP3 server answers on port 995/],
    ['deadline', probeSignal('MP_DEADLINE', { timeoutMs: 2000 }), { protocol: 'smtp', endpoint: ep('tls', 465) }, 'TIMEOUT', /within 2 s/],
    ['parser error', nodeErr('ParserError2'), { protocol: 'imap', endpoint: ep('tls') }, 'PROTOCOL_ERROR'],
    ['a string', 'boom', { protocol: 'imap', endpoint: ep('tls') }, 'PROTOCOL_ERROR'],
  ];
  for (const [name, err, info, code, message] of cases) {
    test(name, () => {
      const e = classify(err, info);
      assert.equal(e.code, code, e.message);
      if (message) assert.match(e.message, message);
      assert.ok(e.hint, 'every mail-server error has a hint');
    });
  }
});

describe('classify: provider facts and credentials', () => {
  const authErr = () => nodeErr('EAUTH', { response: '535 5.7.8 Authentication credentials invalid', responseCode: 535, command: 'AUTH PLAIN' });

  test('a refused token is OAUTH_REVOKED, not a wrong password', () => {
    const e = classify(authErr(), { protocol: 'smtp', endpoint: ep('tls', 465), auth: 'token' });
    assert.equal(e.code, 'OAUTH_REVOKED');
  });
  test('an OAuth-only provider turns AUTH_FAILED into OAUTH_REQUIRED with the right button', () => {
    const e = classify(authErr(), { protocol: 'smtp', endpoint: ep('tls', 465), provider: { id: 'gmail-oauth', oauthOnly: true, oauth: 'google' } });
    assert.equal(e.code, 'OAUTH_REQUIRED');
    assert.match(e.hint!, /Sign in with Google/);
  });
  test('app-password providers get their own steps', () => {
    const icloud = classify(authErr(), { protocol: 'smtp', endpoint: ep('starttls', 587, 'smtp.mail.me.com'), provider: { id: 'icloud', appPassword: 'required' } });
    assert.equal(icloud.code, 'APP_PASSWORD_REQUIRED');
    assert.match(icloud.hint!, /App-Specific Passwords/);
    const yahoo = classify(authErr(), { protocol: 'smtp', endpoint: ep('tls', 465, 'smtp.mail.yahoo.com'), provider: { id: 'yahoo', appPassword: 'required' } });
    assert.match(yahoo.hint!, /Generate app password/);
    const other = classify(authErr(), { protocol: 'smtp', endpoint: ep('tls', 465), provider: { id: 'acme', name: 'Acme Mail', appPassword: 'required', appPasswordUrl: 'https://acme.example/app-passwords' } });
    assert.match(other.hint!, /acme\.example\/app-passwords/);
  });
  test('"optional" app passwords leave AUTH_FAILED alone', () => {
    const e = classify(authErr(), { protocol: 'smtp', endpoint: ep('tls', 465), provider: { id: 'zoho', appPassword: 'optional' } });
    assert.equal(e.code, 'AUTH_FAILED');
  });
  test('a password that works only on some protocols (Microsoft 365: SMTP only)', () => {
    const imap = Object.assign(new Error('Command failed'), { authenticationFailed: true, response: '2 NO LOGIN failed.' });
    const e = classify(imap, { protocol: 'imap', endpoint: ep('tls', 993), provider: { id: 'microsoft365', passwordProtocols: ['smtp'], oauth: 'microsoft' } });
    assert.equal(e.code, 'OAUTH_REQUIRED');
    const smtp = classify(authErr(), { protocol: 'smtp', endpoint: ep('starttls', 587), provider: { id: 'microsoft365', passwordProtocols: ['smtp'], oauth: 'microsoft' } });
    assert.equal(smtp.code, 'AUTH_FAILED');
  });
  test('structured signals win over provider facts', () => {
    const e = classify(nodeErr('ECONNREFUSED'), { protocol: 'imap', endpoint: ep('tls'), provider: { appPassword: 'required' } });
    assert.equal(e.code, 'CONNECTION_REFUSED');
  });
  test('a MailportError from the guard passes through, with the protocol added', () => {
    const guardErr = new MailportError('ADDRESS_BLOCKED', { message: 'The server x points to a private address.' });
    const e = classify(guardErr, { protocol: 'pop3', endpoint: ep('tls', 995) });
    assert.equal(e.code, 'ADDRESS_BLOCKED');
    assert.equal(e.protocol, 'pop3');
    assert.equal(e.message, guardErr.message);
  });
  test('the original error is kept as cause', () => {
    const original = nodeErr('ECONNREFUSED');
    assert.equal(classify(original, { protocol: 'imap', endpoint: ep('tls') }).cause, original);
  });
});
