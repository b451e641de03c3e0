// Checks against small scripted servers on loopback (the real-server suite is
// test/integration/verify.test.ts): the guard runs before any socket, the time budget holds,
// secrets never reach a result.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { MailportError } from '../core/errors.js';
import { AddressGuard } from '../net/guard.js';
import { checkImap, checkPop3, checkSmtp, verifyEndpoints } from './verify.js';

const loopback = new AddressGuard({ allow: ['127.0.0.0/8', '::1/128'] });
const open: net.Server[] = [];
after(() => {
  for (const s of open) {
    s.close();
    (s as http.Server).closeAllConnections?.();
  }
});

/** A server that counts connections and answers each with `onConnect`. */
async function server(onConnect: (s: net.Socket) => void = () => undefined): Promise<{ port: number; connections: () => number }> {
  let n = 0;
  const s = net.createServer((sock) => {
    n++;
    sock.on('error', () => undefined);
    onConnect(sock);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  open.push(s);
  return { port: (s.address() as net.AddressInfo).port, connections: () => n };
}

const cred = { user: 'me@example.test', password: 'hunter2-secret' };

describe('protocol checks (scripted servers)', () => {
  test('ADDRESS_BLOCKED comes from the guard before any socket opens', async () => {
    const srv = await server((s) => s.write('220 hi\r\n'));
    const strict = new AddressGuard();
    for (const check of [checkSmtp, checkImap, checkPop3]) {
      const r = await check({ host: 'localhost', port: srv.port, security: 'starttls' }, cred, { guard: strict, timeoutMs: 2000 });
      assert.equal(r.ok, false);
      assert.equal(r.code, 'ADDRESS_BLOCKED');
      assert.match(r.message!, /private or local network address/);
    }
    assert.equal(srv.connections(), 0);
  });

  test('a malformed endpoint is INVALID_INPUT, thrown', async () => {
    await assert.rejects(checkImap({ host: 'x', port: 0, security: 'tls' }, cred, { guard: loopback }), (e: unknown) => e instanceof MailportError && e.code === 'INVALID_INPUT' && e.field === 'imap.port');
    await assert.rejects(checkPop3({ host: 'x', port: 995, security: 'ssl' as never }, cred, { guard: loopback }), (e: unknown) => e instanceof MailportError && e.field === 'pop.security');
  });

  test('a listener that never answers ends as TIMEOUT within timeoutMs (all protocols, all securities)', async () => {
    const srv = await server();
    const timeoutMs = 900;
    const runs = await Promise.all(
      (['tls', 'starttls', 'none'] as const).flatMap((security) =>
        [checkSmtp, checkImap, checkPop3].map((check) => check({ host: '127.0.0.1', port: srv.port, security }, cred, { guard: loopback, timeoutMs, popProbePorts: [] })),
      ),
    );
    for (const r of runs) {
      assert.equal(r.code, 'TIMEOUT', `${r.protocol}: ${r.message}`);
      assert.ok(r.ms <= timeoutMs + 100, `${r.protocol} took ${r.ms} ms`);
    }
  });

  test('a web server on the IMAP port is PROTOCOL_ERROR naming it', async () => {
    const web = http.createServer((_q, r) => r.end('hello'));
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    open.push(web);
    const port = (web.address() as net.AddressInfo).port;
    for (const security of ['starttls', 'tls'] as const) {
      const r = await checkImap({ host: '127.0.0.1', port, security }, cred, { guard: loopback, timeoutMs: 3000 });
      assert.equal(r.code, 'PROTOCOL_ERROR');
      assert.match(r.message!, /web \(HTTP\) server/);
    }
  });

  test('a server that echoes the password: the result carries no secret', async () => {
    const b64 = Buffer.from(`\0${cred.user}\0${cred.password}`).toString('base64');
    const srv = await server((s) => {
      s.write('220 echo ESMTP\r\n');
      s.on('data', (d) => {
        const line = d.toString();
        if (/^EHLO/i.test(line)) s.write('250-echo\r\n250 AUTH PLAIN\r\n');
        else if (/^AUTH PLAIN/i.test(line)) s.write(`535 5.7.8 bad credentials for ${cred.password} (${b64})\r\n`);
        else if (/^QUIT/i.test(line)) s.end('221 bye\r\n');
      });
    });
    const r = await checkSmtp({ host: '127.0.0.1', port: srv.port, security: 'none' }, cred, { guard: loopback, timeoutMs: 3000 });
    assert.equal(r.code, 'AUTH_FAILED');
    const text = JSON.stringify(r);
    assert.ok(!text.includes(cred.password), text);
    assert.ok(!text.includes(b64), text);
    assert.match(r.response!, /\[redacted\]/);
  });

  test('verifyEndpoints runs the checks in parallel, each bounded', async () => {
    const srv = await server();
    const t0 = Date.now();
    const results = await verifyEndpoints(
      { smtp: { host: '127.0.0.1', port: srv.port, security: 'tls' }, imap: { host: '127.0.0.1', port: srv.port, security: 'tls' }, pop: { host: '127.0.0.1', port: srv.port, security: 'tls' } },
      cred,
      { guard: loopback, timeoutMs: 600, popProbePorts: [] },
    );
    const wall = Date.now() - t0;
    assert.deepEqual(results.map((r) => r.protocol), ['smtp', 'imap', 'pop3']);
    assert.ok(results.every((r) => r.code === 'TIMEOUT'));
    assert.ok(wall < 1200, `three 600 ms checks took ${wall} ms`);
  });
});
