// Protocol checks against the real test peers (Dovecot IMAP/POP3, smtp-server SMTP, the OAuth2
// issuer): every code that can happen on loopback, the successful paths, and the POP3 client.
//
//   bash test/peers/peers.sh start
//   MAILPORT_TEST_PEERS=$PWD/.peers/peers.json NODE_EXTRA_CA_CERTS=$PWD/.peers/tls/ca.crt \
//   MAILPORT_ALLOW_PRIVATE_HOSTS=127.0.0.0/8,::1/128 node --import tsx --test test/integration/verify.test.ts
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { CheckResult, Credentials, Endpoint } from '../../src/core/types.js';
import { AddressGuard, type ResolvedHost } from '../../src/net/guard.js';
import { Pop3Client, checkImap, checkPop3, checkSmtp, verifyEndpoints, type CheckContext } from '../../src/protocols/verify.js';
import { addMailbox, getAccessToken, loadPeers, type PeerUser, type Peers } from '../helpers/peers.js';

const peers: Peers = loadPeers();
const allow = (process.env.MAILPORT_ALLOW_PRIVATE_HOSTS ?? '').split(',').filter(Boolean);
const guard = new AddressGuard({ allow });
const H = peers.host;
const ctx: CheckContext = { guard, timeoutMs: 10_000 };

/** How long each kind of check took, reported at the end. */
const timings = new Map<string, number[]>();
function timed(kind: string, r: CheckResult): CheckResult {
  timings.set(kind, [...(timings.get(kind) ?? []), r.ms]);
  return r;
}

function expectOk(r: CheckResult): void {
  assert.equal(r.ok, true, `${r.protocol} failed: ${r.code} ${r.message} (${r.response ?? ''})`);
  assert.equal(r.code, undefined);
}
function expectCode(r: CheckResult, code: string, message?: RegExp): void {
  assert.equal(r.ok, false, `${r.protocol} unexpectedly passed`);
  assert.equal(r.code, code, `${r.protocol}: ${r.message}`);
  assert.ok(r.message && r.hint, 'message and hint');
  if (message) assert.match(r.message!, message);
}

/** A TCP server for the negative cases; closes with the suite. */
const extraServers: net.Server[] = [];
async function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((r) => server.listen(0, host, r));
  extraServers.push(server);
  return (server.address() as net.AddressInfo).port;
}
after(() => {
  for (const s of extraServers) {
    s.close();
    (s as http.Server).closeAllConnections?.();
  }
  const rows = [...timings].map(([kind, ms]) => `${kind.padEnd(42)} ${ms.join(', ')} ms`);
  console.log(`\ncheck timings (ms):\n${rows.join('\n')}`);
});

let user: PeerUser;
let cred: Credentials;
before(async () => {
  user = await addMailbox();
  cred = { user: user.email, password: user.password };
});

describe('successful checks', () => {
  const cases: Array<[string, (ep: Endpoint, c: Credentials, x: CheckContext) => Promise<CheckResult>, Endpoint]> = [
    ['smtp starttls', checkSmtp, { host: H, port: peers.smtp.starttls, security: 'starttls' }],
    ['smtp tls', checkSmtp, { host: H, port: peers.smtp.tls, security: 'tls' }],
    ['imap starttls', checkImap, { host: H, port: peers.imap.starttls, security: 'starttls' }],
    ['imap tls', checkImap, { host: H, port: peers.imap.tls, security: 'tls' }],
    ['pop3 starttls', checkPop3, { host: H, port: peers.pop3.starttls, security: 'starttls' }],
    ['pop3 tls', checkPop3, { host: H, port: peers.pop3.tls, security: 'tls' }],
  ];
  for (const [name, check, ep] of cases) {
    test(`${name} (host name "localhost" for SNI and the certificate)`, async () => {
      expectOk(timed(`ok: ${name}`, await check({ ...ep, host: 'localhost' }, cred, ctx)));
    });
  }
  test('IMAP and POP3 report the greeting as the deciding response', async () => {
    const r = await checkImap({ host: H, port: peers.imap.tls, security: 'tls' }, cred, ctx);
    assert.match(r.response ?? '', /^\* OK/);
    const p = await checkPop3({ host: H, port: peers.pop3.tls, security: 'tls' }, cred, ctx);
    assert.match(p.response ?? '', /^\+OK/);
  });

  test('OAuth2 token (SMTP XOAUTH2, IMAP OAUTHBEARER/XOAUTH2, POP3 XOAUTH2)', async () => {
    const token = await getAccessToken(user.email, peers);
    const oauth: Credentials = { user: user.email, accessToken: token };
    expectOk(timed('ok: smtp tls xoauth2', await checkSmtp({ host: H, port: peers.smtp.tls, security: 'tls' }, oauth, ctx)));
    expectOk(timed('ok: smtp starttls xoauth2', await checkSmtp({ host: H, port: peers.smtp.starttls, security: 'starttls' }, oauth, ctx)));
    expectOk(timed('ok: imap tls oauth', await checkImap({ host: H, port: peers.imap.tls, security: 'tls' }, oauth, ctx)));
    expectOk(timed('ok: pop3 tls xoauth2', await checkPop3({ host: H, port: peers.pop3.tls, security: 'tls' }, oauth, ctx)));
  });

  test('verifyEndpoints runs the checks in parallel', async () => {
    // a guard that records when each check starts resolving
    const starts: number[] = [];
    const recording = Object.create(guard) as AddressGuard;
    recording.resolve = (host: string): Promise<ResolvedHost> => {
      starts.push(performance.now());
      return guard.resolve(host);
    };
    const target = {
      smtp: { host: H, port: peers.smtp.starttls, security: 'starttls' as const },
      imap: { host: H, port: peers.imap.starttls, security: 'starttls' as const },
      pop: { host: H, port: peers.pop3.starttls, security: 'starttls' as const },
    };
    const t0 = performance.now();
    const results = await verifyEndpoints(target, cred, { ...ctx, guard: recording });
    const wall = performance.now() - t0;
    assert.deepEqual(results.map((r) => r.protocol), ['smtp', 'imap', 'pop3']);
    for (const r of results) expectOk(timed(`ok: verifyEndpoints ${r.protocol}`, r));
    const sum = results.reduce((a, r) => a + r.ms, 0);
    const max = Math.max(...results.map((r) => r.ms));
    timings.set('verifyEndpoints wall (3 checks)', [Math.round(wall)]);
    assert.equal(starts.length, 3);
    assert.ok(Math.max(...starts) - Math.min(...starts) < 50, `checks started ${Math.round(Math.max(...starts) - Math.min(...starts))} ms apart`);
    assert.ok(wall < sum, `wall ${Math.round(wall)} ms is not less than the sum ${sum} ms: not parallel`);
    assert.ok(wall < max + 100, `wall ${Math.round(wall)} ms vs slowest check ${max} ms`);
  });
});

describe('classified failures', () => {
  test('AUTH_FAILED: wrong password on SMTP, IMAP and POP3', async () => {
    const bad = { user: user.email, password: 'not-the-password' };
    expectCode(timed('AUTH_FAILED smtp', await checkSmtp({ host: H, port: peers.smtp.tls, security: 'tls' }, bad, ctx)), 'AUTH_FAILED', /127\.0\.0\.1:\d+ did not accept/);
    expectCode(timed('AUTH_FAILED imap', await checkImap({ host: H, port: peers.imap.tls, security: 'tls' }, bad, ctx)), 'AUTH_FAILED');
    expectCode(timed('AUTH_FAILED pop3', await checkPop3({ host: H, port: peers.pop3.tls, security: 'tls' }, bad, ctx)), 'AUTH_FAILED');
  });

  test('APP_PASSWORD_REQUIRED: an auth failure at a provider that requires app passwords', async () => {
    const r = await checkImap({ host: H, port: peers.imap.tls, security: 'tls' }, { user: user.email, password: 'normal-password' }, { ...ctx, provider: { id: 'yahoo', appPassword: 'required' } });
    expectCode(r, 'APP_PASSWORD_REQUIRED');
    assert.match(r.hint!, /Generate app password/);
  });

  test('OAUTH_REVOKED: a revoked or garbage token', async () => {
    const r = await checkSmtp({ host: H, port: peers.smtp.tls, security: 'tls' }, { user: user.email, accessToken: 'garbage-token' }, ctx);
    expectCode(r, 'OAUTH_REVOKED');
  });

  test('TLS_MISMATCH: SSL/TLS chosen on a STARTTLS port (SMTP, IMAP, POP3)', async () => {
    expectCode(timed('TLS_MISMATCH smtp tls-on-starttls', await checkSmtp({ host: H, port: peers.smtp.starttls, security: 'tls' }, cred, ctx)), 'TLS_MISMATCH', /expects STARTTLS/);
    expectCode(timed('TLS_MISMATCH imap tls-on-starttls', await checkImap({ host: H, port: peers.imap.starttls, security: 'tls' }, cred, ctx)), 'TLS_MISMATCH', /expects STARTTLS/);
    expectCode(timed('TLS_MISMATCH pop3 tls-on-starttls', await checkPop3({ host: H, port: peers.pop3.starttls, security: 'tls' }, cred, ctx)), 'TLS_MISMATCH');
  });

  test('TLS_MISMATCH: STARTTLS chosen on an implicit-TLS port (SMTP, IMAP, POP3), found fast', async () => {
    const kinds = [
      ['smtp', checkSmtp, peers.smtp.tls],
      ['imap', checkImap, peers.imap.tls],
      ['pop3', checkPop3, peers.pop3.tls],
    ] as const;
    // independent checks: run them side by side to keep the suite short
    const results = await Promise.all(kinds.map(([, check, port]) => check({ host: H, port, security: 'starttls' }, cred, ctx)));
    results.forEach((r, i) => {
      const name = kinds[i]![0];
      expectCode(timed(`TLS_MISMATCH ${name} starttls-on-tls`, r), 'TLS_MISMATCH', /expects SSL\/TLS/);
      assert.ok(r.ms < 3_000, `${name} took ${r.ms} ms`);
    });
    // "no encryption" on the TLS port is the same mismatch
    expectCode(await checkImap({ host: H, port: peers.imap.tls, security: 'none' }, cred, ctx), 'TLS_MISMATCH');
  });

  test('STARTTLS_UNAVAILABLE: SMTP and IMAP ports without STARTTLS', async () => {
    expectCode(timed('STARTTLS_UNAVAILABLE smtp', await checkSmtp({ host: H, port: peers.smtp.noStarttls, security: 'starttls' }, cred, ctx)), 'STARTTLS_UNAVAILABLE');
    expectCode(timed('STARTTLS_UNAVAILABLE imap', await checkImap({ host: H, port: peers.imap.noStarttls, security: 'starttls' }, cred, ctx)), 'STARTTLS_UNAVAILABLE');
  });

  test('CERT_INVALID: a certificate from an untrusted CA, and one for another name', async () => {
    const untrusted = timed('CERT_INVALID smtp untrusted CA', await checkSmtp({ host: 'localhost', port: peers.smtp.untrustedTls, security: 'tls' }, cred, ctx));
    expectCode(untrusted, 'CERT_INVALID', /unknown authority|self-signed|not trusted/);
    // a name the certificate does not carry, resolved to the peer by a guard with its own lookup
    const aliasGuard = new AddressGuard({ allow, lookup: async () => [{ address: H, family: 4 }] });
    const wrongName = timed('CERT_INVALID imap wrong name', await checkImap({ host: 'mail.example.test', port: peers.imap.tls, security: 'tls' }, cred, { ...ctx, guard: aliasGuard }));
    expectCode(wrongName, 'CERT_INVALID', /not valid for this host name/);
  });

  test('HOST_NOT_FOUND: a .invalid name', async () => {
    expectCode(timed('HOST_NOT_FOUND smtp', await checkSmtp({ host: 'no-such-host.invalid', port: 587, security: 'starttls' }, cred, ctx)), 'HOST_NOT_FOUND', /no-such-host\.invalid/);
  });

  test('CONNECTION_REFUSED: a closed port', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, H, r));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise((r) => s.close(r));
    expectCode(timed('CONNECTION_REFUSED smtp', await checkSmtp({ host: H, port, security: 'tls' }, cred, ctx)), 'CONNECTION_REFUSED', new RegExp(`:${port} refused`));
    expectCode(timed('CONNECTION_REFUSED pop3', await checkPop3({ host: H, port, security: 'starttls' }, cred, ctx)), 'CONNECTION_REFUSED');
  });

  test('TIMEOUT: a listener that accepts and never writes, within timeoutMs', async () => {
    const port = await listen(net.createServer((s) => s.on('error', () => undefined)));
    const timeoutMs = 2_000;
    const kinds = [
      ['smtp starttls', checkSmtp, 'starttls'],
      ['smtp tls', checkSmtp, 'tls'],
      ['imap starttls', checkImap, 'starttls'],
      ['imap tls', checkImap, 'tls'],
      ['pop3 starttls', checkPop3, 'starttls'],
      ['pop3 tls', checkPop3, 'tls'],
    ] as const;
    const t0 = performance.now();
    const results = await Promise.all(kinds.map(([, check, security]) => check({ host: H, port, security }, cred, { ...ctx, timeoutMs, popProbePorts: [] })));
    const wall = performance.now() - t0;
    results.forEach((r, i) => {
      const name = kinds[i]![0];
      expectCode(timed(`TIMEOUT ${name}`, r), 'TIMEOUT');
      assert.ok(r.ms <= timeoutMs + 50, `${name}: ${r.ms} ms`);
    });
    assert.ok(wall <= timeoutMs + 200, `wall ${Math.round(wall)} ms`);
  });

  test('ADDRESS_BLOCKED: "localhost" with a guard that has no allow-list, and no socket opened', async () => {
    let connections = 0;
    const port = await listen(
      net.createServer((s) => {
        connections++;
        s.destroy();
      }),
    );
    const strict: CheckContext = { ...ctx, guard: new AddressGuard() };
    expectCode(timed('ADDRESS_BLOCKED smtp', await checkSmtp({ host: 'localhost', port, security: 'starttls' }, cred, strict)), 'ADDRESS_BLOCKED');
    expectCode(await checkImap({ host: 'localhost', port, security: 'tls' }, cred, strict), 'ADDRESS_BLOCKED');
    expectCode(await checkPop3({ host: '127.0.0.1', port, security: 'tls' }, cred, strict), 'ADDRESS_BLOCKED');
    assert.equal(connections, 0);
  });

  test('POP_ONLY: IMAP on the POP-only host, POP3 found on a default probe port', async () => {
    const r = timed('POP_ONLY imap', await checkImap({ host: peers.popOnlyHost, port: 993, security: 'tls' }, cred, ctx));
    expectCode(r, 'POP_ONLY', new RegExp(`POP3 server answers on port (${peers.popOnly.tls}|${peers.popOnly.starttls})`));
    // and the POP3 it found really works
    const pop = timed('ok: pop3 on the POP-only host', await checkPop3({ host: peers.popOnlyHost, port: peers.popOnly.tls, security: 'tls' }, cred, ctx));
    expectOk(pop);
  });

  test('POP_ONLY is not claimed when no POP3 answers either', async () => {
    const r = await checkImap({ host: peers.popOnlyHost, port: 993, security: 'tls' }, cred, { ...ctx, popProbePorts: [1] });
    expectCode(r, 'CONNECTION_REFUSED');
  });

  test('PROTOCOL_ERROR: an HTTP server, and the SMTP peer, on the IMAP port', async () => {
    const port = await listen(http.createServer((_q, res) => res.end('not mail')));
    const plain = timed('PROTOCOL_ERROR imap http starttls', await checkImap({ host: H, port, security: 'starttls' }, cred, ctx));
    expectCode(plain, 'PROTOCOL_ERROR', /web \(HTTP\) server/);
    const secure = timed('PROTOCOL_ERROR imap http tls', await checkImap({ host: H, port, security: 'tls' }, cred, ctx));
    expectCode(secure, 'PROTOCOL_ERROR', /web \(HTTP\) server/);
    const smtp = timed('PROTOCOL_ERROR imap on smtp port', await checkImap({ host: H, port: peers.smtp.starttls, security: 'starttls' }, cred, ctx));
    expectCode(smtp, 'PROTOCOL_ERROR', /SMTP/);
  });

  test('no password appears in any result', async () => {
    const secret = 'Very-Secret-Pw-1234';
    const results = await verifyEndpoints(
      { smtp: { host: H, port: peers.smtp.tls, security: 'tls' }, imap: { host: H, port: peers.imap.tls, security: 'tls' }, pop: { host: H, port: peers.pop3.tls, security: 'tls' } },
      { user: user.email, password: secret },
      ctx,
    );
    const text = JSON.stringify(results);
    assert.ok(!text.includes(secret));
    assert.ok(!text.includes(Buffer.from(secret).toString('base64')));
  });
});

describe('Pop3Client against Dovecot', () => {
  /** Delivers a message into a mailbox over the peers' LMTP port (raw LMTP, dot-stuffed). */
  async function deliver(to: string, lines: string[]): Promise<void> {
    const sock = net.connect(peers.lmtp, H);
    sock.setEncoding('latin1');
    let buf = '';
    const waiters: Array<(line: string) => void> = [];
    sock.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (/^\d{3} /.test(line)) waiters.shift()?.(line);
      }
    });
    const reply = () => new Promise<string>((r) => waiters.push(r));
    const expect = async (prefix: string) => {
      const line = await reply();
      assert.ok(line.startsWith(prefix), `LMTP: ${line}`);
    };
    await expect('220');
    sock.write('LHLO test\r\n');
    await expect('250');
    sock.write('MAIL FROM:<sender@example.test>\r\n');
    await expect('250');
    sock.write(`RCPT TO:<${to}>\r\n`);
    await expect('250');
    sock.write('DATA\r\n');
    await expect('354');
    sock.write(lines.map((l) => (l.startsWith('.') ? '.' + l : l)).join('\r\n') + '\r\n.\r\n');
    await expect('250');
    sock.end('QUIT\r\n');
  }

  test('connect (STLS), capa, login, stat, list, uidl, retr with dot-unstuffing, dele, quit', async () => {
    const box = await addMailbox();
    const body = ['.leading dot', '..two dots', '.', '...', 'end'];
    await deliver(box.email, ['Subject: first', 'Message-ID: <first@example.test>', '', 'hello']);
    await deliver(box.email, ['Subject: dots', 'Message-ID: <dots@example.test>', '', ...body]);

    const pop = new Pop3Client({ host: H, hostName: 'localhost', port: peers.pop3.starttls, security: 'starttls' });
    let uids: Array<{ n: number; uid: string }>;
    try {
      assert.match(await pop.connect(), /^\+OK/);
      assert.ok(pop.secure, 'upgraded with STLS');
      assert.ok(pop.capabilities.has('UIDL'));
      await pop.login(box.email, { password: box.password });
      const stat = await pop.stat();
      assert.equal(stat.count, 2);
      const list = await pop.list();
      assert.equal(list.length, 2);
      assert.equal(list.reduce((a, m) => a + m.size, 0), stat.size);
      uids = await pop.uidl();
      assert.equal(uids.length, 2);
      const raw = await pop.retr(2);
      assert.ok(Buffer.isBuffer(raw));
      const text = raw.toString();
      assert.ok(text.endsWith('\r\n\r\n' + body.join('\r\n') + '\r\n'), JSON.stringify(text.slice(-80)));
      assert.match(text, /Message-ID: <dots@example\.test>/);
      assert.equal(raw.length, list[1]!.size, 'RETR returns exactly the octets LIST announced');
      await pop.dele(1);
      await pop.quit();
    } finally {
      pop.close();
    }

    // deletion committed at QUIT; the remaining message keeps its UIDL
    const again = new Pop3Client({ host: H, hostName: 'localhost', port: peers.pop3.tls, security: 'tls' });
    try {
      await again.connect();
      await again.login(box.email, { password: box.password });
      assert.equal((await again.stat()).count, 1);
      assert.deepEqual((await again.uidl()).map((u) => u.uid), [uids[1]!.uid]);
      await again.quit();
    } finally {
      again.close();
    }
  });
});
