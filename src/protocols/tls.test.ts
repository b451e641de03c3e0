import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { clientSecureContext, greetingKind, isCertificateCode, probeLine, probeTls, serverName, tlsOptions } from './tls.js';

describe('tlsOptions', () => {
  test('certificate checks on, TLS 1.2 at least, SNI for names only', () => {
    const secureContext = clientSecureContext();
    assert.deepEqual(tlsOptions('imap.example.com'), { rejectUnauthorized: true, minVersion: 'TLSv1.2', secureContext, servername: 'imap.example.com' });
    assert.deepEqual(tlsOptions('192.0.2.1'), { rejectUnauthorized: true, minVersion: 'TLSv1.2', secureContext });
    assert.equal(tlsOptions('pop.example.com').secureContext, tlsOptions('smtp.example.com').secureContext, 'one context for every connection');
    assert.equal(serverName('[2001:db8::1]'), undefined);
    assert.equal(serverName('mail.example.com.'), 'mail.example.com');
  });
  test('certificate codes', () => {
    assert.ok(isCertificateCode('CERT_HAS_EXPIRED'));
    assert.ok(isCertificateCode('ERR_TLS_CERT_ALTNAME_INVALID'));
    assert.ok(!isCertificateCode('ERR_SSL_WRONG_VERSION_NUMBER'));
    assert.ok(!isCertificateCode(undefined));
  });
});

describe('greetingKind', () => {
  const cases: Array<[string, string]> = [
    ['* OK [CAPABILITY IMAP4rev1] Dovecot ready.', 'imap'],
    ['* PREAUTH IMAP4rev1 server', 'imap'],
    ['* BYE too many connections', 'imap'],
    ['+OK Dovecot ready.', 'pop3'],
    ['-ERR [SYS/TEMP] busy', 'pop3'],
    ['220 smtp.example.com ESMTP Postfix', 'smtp'],
    ['554 5.7.1 blocked', 'smtp'],
    ['220 ProFTPD Server (FTP) ready', 'ftp-or-smtp'],
    ['HTTP/1.1 400 Bad Request', 'http'],
    ['SSH-2.0-OpenSSH_9.2', 'ssh'],
    ['hello', 'unknown'],
  ];
  for (const [line, kind] of cases) test(`${line} → ${kind}`, () => assert.equal(greetingKind(line), kind));
});

describe('probes', () => {
  let dir: string;
  let tlsServer: tls.Server;
  let plainServer: net.Server;
  let silentServer: net.Server;
  let webServer: http.Server;
  const port = (s: net.Server) => (s.address() as net.AddressInfo).port;
  const listen = (s: net.Server) => new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const target = (p: number) => ({ address: '127.0.0.1', port: p, hostName: 'localhost', timeoutMs: 1000 });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailport-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')], { stdio: 'ignore' });
    tlsServer = tls.createServer({ key: fs.readFileSync(path.join(dir, 'k.pem')), cert: fs.readFileSync(path.join(dir, 'c.pem')) }, (s) => {
      s.on('error', () => undefined);
      s.end('+OK secure POP3\r\n');
    });
    tlsServer.on('tlsClientError', () => undefined);
    plainServer = net.createServer((s) => {
      s.on('error', () => undefined);
      s.write('* OK IMAP ready\r\n');
    });
    silentServer = net.createServer((s) => s.on('error', () => undefined));
    webServer = http.createServer((_q, r) => r.end('hi'));
    await Promise.all([listen(tlsServer), listen(plainServer), listen(silentServer), listen(webServer)]);
  });
  after(async () => {
    for (const s of [tlsServer, plainServer, silentServer, webServer]) {
      s.close();
      (s as net.Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('probeTls: a TLS port (even with an untrusted certificate) is "tls"', async () => {
    assert.deepEqual(await probeTls(target(port(tlsServer))), { kind: 'tls' });
  });
  test('probeTls: a plain port that greets is "closed" (not TLS)', async () => {
    assert.equal((await probeTls(target(port(plainServer)))).kind, 'closed');
  });
  test('probeTls: a silent port is "silent" within the time given', async () => {
    const t0 = Date.now();
    assert.equal((await probeTls({ ...target(port(silentServer)), timeoutMs: 200 })).kind, 'silent');
    assert.ok(Date.now() - t0 < 800);
  });
  test('probeTls: a closed port is "unreachable"', async () => {
    const s = net.createServer();
    await listen(s);
    const p = port(s);
    await new Promise((r) => s.close(r));
    assert.deepEqual(await probeTls(target(p)), { kind: 'unreachable', code: 'ECONNREFUSED' });
  });
  test('probeLine: reads a greeting; over TLS too', async () => {
    assert.deepEqual(await probeLine(target(port(plainServer))), { kind: 'line', line: '* OK IMAP ready' });
    // the test certificate is self-signed, so trust it for this probe only
    const secure = await probeLine({ ...target(port(tlsServer)), secure: true, hostName: 'localhost' }).catch((e) => e);
    assert.equal(secure.kind, 'closed'); // certificate checks stay on: an untrusted certificate gives no line
  });
  test('probeLine: a nudge makes a web server show itself', async () => {
    const r = await probeLine({ ...target(port(webServer)), nudge: 'QUIT\r\n', quietMs: 50 });
    assert.equal(r.kind, 'line');
    assert.equal(greetingKind((r as { line: string }).line), 'http');
  });
  test('probeLine: silent stays silent without a nudge', async () => {
    assert.equal((await probeLine({ ...target(port(silentServer)), timeoutMs: 200 })).kind, 'silent');
  });
});
