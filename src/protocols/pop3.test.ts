import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Pop3Client, Pop3Error } from './pop3.js';

/**
 * A scriptable POP3 server on loopback port 0: `greeting` is sent on connect (unless null), and
 * `reply(line, socket)` answers each client line.
 */
interface Fake {
  port: number;
  lines: string[];
  close(): Promise<void>;
}
const servers: Fake[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function fakePop(greeting: string | null, reply: (line: string, s: net.Socket) => void): Promise<Fake> {
  const lines: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    if (greeting !== null) s.write(greeting + '\r\n');
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        lines.push(line);
        reply(line, s);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const fake: Fake = {
    port: (server.address() as net.AddressInfo).port,
    lines,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  servers.push(fake);
  return fake;
}

/** A conventional mailbox: two messages, the second with dot-stuffed lines. */
const MESSAGE_2 = ['Subject: dots', '', '.leading dot', '..two dots', '.', '...', 'end'];
function stuffed(lines: string[]): string {
  return lines.map((l) => (l.startsWith('.') ? '.' + l : l)).join('\r\n') + '\r\n.\r\n';
}

function standardServer(opts: { capa?: string[]; chunked?: boolean } = {}) {
  const capa = opts.capa ?? ['USER', 'UIDL', 'TOP', 'RESP-CODES', 'SASL PLAIN'];
  return fakePop('+OK test POP3 ready', (line, s) => {
    const [verb, arg] = line.split(' ');
    switch (verb) {
      case 'CAPA':
        return s.write('+OK\r\n' + capa.join('\r\n') + '\r\n.\r\n');
      case 'USER':
        return s.write('+OK\r\n');
      case 'PASS':
        return s.write(arg === 'secret' ? '+OK Logged in.\r\n' : '-ERR [AUTH] Authentication failed.\r\n');
      case 'AUTH':
        return s.write(line === `AUTH PLAIN ${Buffer.from('\0me@example.test\0secret').toString('base64')}` ? '+OK Logged in.\r\n' : '-ERR [AUTH] Authentication failed.\r\n');
      case 'STAT':
        return s.write('+OK 2 320\r\n');
      case 'LIST':
        return s.write('+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n');
      case 'UIDL':
        return s.write('+OK\r\n1 uid-one\r\n2 uid-two\r\n.\r\n');
      case 'RETR': {
        const body = arg === '1' ? stuffed(['Subject: one', '', 'hello']) : stuffed(MESSAGE_2);
        const all = Buffer.from('+OK message follows\r\n' + body);
        if (!opts.chunked) return s.write(all);
        // dribble it out in 3-byte pieces: lines, CRLF and the final "." split across chunks
        let i = 0;
        const next = () => {
          if (i >= all.length || s.destroyed) return;
          s.write(all.subarray(i, i + 3));
          i += 3;
          setImmediate(next);
        };
        return next();
      }
      case 'DELE':
        return s.write(arg === '1' ? '+OK Marked to be deleted.\r\n' : '-ERR No such message\r\n');
      case 'QUIT':
        s.write('+OK Logging out.\r\n');
        return s.end();
      default:
        return s.write('-ERR Unknown command\r\n');
    }
  });
}

const client = (port: number, extra: Partial<ConstructorParameters<typeof Pop3Client>[0]> = {}) =>
  new Pop3Client({ host: '127.0.0.1', port, security: 'none', connectTimeoutMs: 2000, greetingTimeoutMs: 2000, timeoutMs: 2000, ...extra });

async function rejects(p: Promise<unknown>): Promise<Pop3Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof Pop3Error, `expected a Pop3Error, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('Pop3Client', () => {
  test('a whole session: greeting, CAPA, USER/PASS, STAT, LIST, UIDL, RETR, DELE, QUIT', async () => {
    const srv = await standardServer();
    const pop = client(srv.port);
    try {
      assert.equal(await pop.connect(), '+OK test POP3 ready');
      assert.ok(pop.capaSupported);
      assert.deepEqual(pop.capabilities.get('SASL'), ['PLAIN']);
      await pop.login('me@example.test', { password: 'secret' });
      assert.ok(pop.authenticated);
      assert.deepEqual(await pop.stat(), { count: 2, size: 320 });
      assert.deepEqual(await pop.list(), [
        { n: 1, size: 120 },
        { n: 2, size: 200 },
      ]);
      assert.deepEqual(await pop.uidl(), [
        { n: 1, uid: 'uid-one' },
        { n: 2, uid: 'uid-two' },
      ]);
      assert.equal((await pop.retr(1)).toString(), 'Subject: one\r\n\r\nhello\r\n');
      await pop.dele(1);
      await pop.quit();
      assert.deepEqual(srv.lines, ['CAPA', 'USER me@example.test', 'PASS secret', 'STAT', 'LIST', 'UIDL', 'RETR 1', 'DELE 1', 'QUIT']);
    } finally {
      pop.close();
    }
  });

  test('RETR undoes dot-stuffing, also when the answer arrives in 3-byte pieces', async () => {
    const srv = await standardServer({ chunked: true });
    const pop = client(srv.port);
    try {
      await pop.connect();
      await pop.login('me@example.test', { password: 'secret' });
      const raw = await pop.retr(2);
      assert.ok(Buffer.isBuffer(raw));
      assert.equal(raw.toString(), MESSAGE_2.join('\r\n') + '\r\n');
      // the session goes on after the body's final "."
      assert.deepEqual(await pop.stat(), { count: 2, size: 320 });
    } finally {
      pop.close();
    }
  });

  test('-ERR [AUTH] on PASS: structured error, no password in it', async () => {
    const srv = await standardServer();
    const pop = client(srv.port);
    try {
      await pop.connect();
      const err = await rejects(pop.login('me@example.test', { password: 'hunter2-wrong' }));
      assert.equal(err.code, 'ERR');
      assert.equal(err.phase, 'auth');
      assert.equal(err.command, 'PASS');
      assert.equal(err.responseCode, 'AUTH');
      assert.equal(err.response, '-ERR [AUTH] Authentication failed.');
      assert.ok(!JSON.stringify({ ...err, message: err.message }).includes('hunter2'));
    } finally {
      pop.close();
    }
  });

  test('AUTH PLAIN when the server lists SASL PLAIN but not USER', async () => {
    const srv = await standardServer({ capa: ['UIDL', 'SASL PLAIN'] });
    const pop = client(srv.port);
    try {
      await pop.connect();
      await pop.login('me@example.test', { password: 'secret' });
      assert.ok(srv.lines.some((l) => l.startsWith('AUTH PLAIN ')));
      assert.ok(!srv.lines.some((l) => l.startsWith('USER')));
    } finally {
      pop.close();
    }
  });

  test('XOAUTH2 failure: the JSON challenge is decoded, an empty line ends the exchange', async () => {
    const challenge = Buffer.from(JSON.stringify({ status: '401', schemes: 'bearer' })).toString('base64');
    const srv = await fakePop('+OK ready', (line, s) => {
      if (line === 'CAPA') s.write('+OK\r\nSASL XOAUTH2\r\n.\r\n');
      else if (line.startsWith('AUTH XOAUTH2 ')) s.write(`+ ${challenge}\r\n`);
      else if (line === '') s.write('-ERR [AUTH] Authentication failed.\r\n');
    });
    const pop = client(srv.port);
    try {
      await pop.connect();
      const err = await rejects(pop.login('me@example.test', { accessToken: 'tok-123' }));
      assert.equal(err.responseCode, 'AUTH');
      assert.deepEqual(err.oauthError, { status: '401', schemes: 'bearer' });
      const sent = Buffer.from(srv.lines.find((l) => l.startsWith('AUTH XOAUTH2 '))!.slice(13), 'base64').toString();
      assert.equal(sent, 'user=me@example.test\x01auth=Bearer tok-123\x01\x01');
    } finally {
      pop.close();
    }
  });

  test('a server without CAPA still works', async () => {
    const srv = await fakePop('+OK old server', (line, s) => {
      if (line === 'CAPA') s.write('-ERR unknown command\r\n');
      else if (line.startsWith('USER') || line.startsWith('PASS')) s.write('+OK\r\n');
      else if (line === 'STAT') s.write('+OK 0 0\r\n');
    });
    const pop = client(srv.port);
    try {
      await pop.connect();
      assert.equal(pop.capaSupported, false);
      await pop.login('a', { password: 'b' });
      assert.deepEqual(await pop.stat(), { count: 0, size: 0 });
    } finally {
      pop.close();
    }
  });

  test('STLS required but not in CAPA: STLS_UNAVAILABLE without sending STLS', async () => {
    const srv = await standardServer();
    const pop = client(srv.port, { security: 'starttls' });
    try {
      const err = await rejects(pop.connect());
      assert.equal(err.code, 'STLS_UNAVAILABLE');
      assert.equal(err.phase, 'tls');
      assert.ok(!srv.lines.includes('STLS'));
    } finally {
      pop.close();
    }
  });

  test('STLS refused with -ERR: STLS_UNAVAILABLE with the reply', async () => {
    const srv = await fakePop('+OK ready', (line, s) => {
      if (line === 'CAPA') s.write('-ERR no CAPA\r\n');
      else if (line === 'STLS') s.write('-ERR TLS not available\r\n');
    });
    const pop = client(srv.port, { security: 'starttls' });
    try {
      const err = await rejects(pop.connect());
      assert.equal(err.code, 'STLS_UNAVAILABLE');
      assert.equal(err.response, '-ERR TLS not available');
    } finally {
      pop.close();
    }
  });

  test('data between the STLS answer and the handshake is refused (plaintext injection)', async () => {
    const srv = await fakePop('+OK ready', (line, s) => {
      if (line === 'CAPA') s.write('+OK\r\nSTLS\r\nUSER\r\n.\r\n');
      else if (line === 'STLS') s.write('+OK Begin TLS\r\n+OK injected\r\n');
    });
    const pop = client(srv.port, { security: 'starttls' });
    try {
      const err = await rejects(pop.connect());
      assert.equal(err.code, 'STARTTLS_INJECTION');
    } finally {
      pop.close();
    }
  });

  test('a non-POP3 greeting: InvalidGreeting with the line', async () => {
    const srv = await fakePop('220 smtp.example.test ESMTP', () => undefined);
    const pop = client(srv.port);
    try {
      const err = await rejects(pop.connect());
      assert.equal(err.code, 'InvalidGreeting');
      assert.equal(err.phase, 'greeting');
      assert.equal(err.response, '220 smtp.example.test ESMTP');
    } finally {
      pop.close();
    }
  });

  test('a silent server: GREETING_TIMEOUT after greetingTimeoutMs', async () => {
    const srv = await fakePop(null, () => undefined);
    const pop = client(srv.port, { greetingTimeoutMs: 150 });
    const t0 = Date.now();
    try {
      const err = await rejects(pop.connect());
      assert.equal(err.code, 'GREETING_TIMEOUT');
      assert.ok(Date.now() - t0 < 1000);
    } finally {
      pop.close();
    }
  });

  test('a command that gets no answer: ETIMEOUT after timeoutMs', async () => {
    const srv = await fakePop('+OK ready', (line, s) => {
      if (line === 'CAPA') s.write('+OK\r\nUSER\r\n.\r\n');
    });
    const pop = client(srv.port, { timeoutMs: 150 });
    try {
      await pop.connect();
      const err = await rejects(pop.stat());
      assert.equal(err.code, 'ETIMEOUT');
      assert.equal(err.command, 'STAT');
      // the connection is unusable afterwards
      assert.equal((await rejects(pop.noop())).code, 'ETIMEOUT');
    } finally {
      pop.close();
    }
  });

  test('size caps: an endless line and an oversized RETR', async () => {
    const srv = await fakePop('+OK ready', (line, s) => {
      if (line === 'CAPA') s.write('+OK\r\nUSER\r\n.\r\n');
      else if (line === 'NOOP') s.write('+OK ' + 'x'.repeat(5000));
      else if (line.startsWith('USER') || line.startsWith('PASS')) s.write('+OK\r\n');
      else if (line === 'RETR 1') s.write('+OK\r\n' + 'line of text\r\n'.repeat(100) + '.\r\n');
    });
    const a = client(srv.port, { maxLineBytes: 1024 });
    const b = client(srv.port, { maxResponseBytes: 500 });
    try {
      await a.connect();
      assert.equal((await rejects(a.noop())).code, 'LineTooLarge');
      await b.connect();
      await b.login('a', { password: 'b' });
      assert.equal((await rejects(b.retr(1))).code, 'ResponseTooLarge');
    } finally {
      a.close();
      b.close();
    }
  });

  test('the server hangs up in the middle of RETR: ECONNECTION', async () => {
    const srv = await fakePop('+OK ready', (line, s) => {
      if (line === 'CAPA') s.write('+OK\r\nUSER\r\n.\r\n');
      else if (line === 'RETR 1') {
        s.write('+OK\r\nSubject: cut\r\n');
        s.end();
      }
    });
    const pop = client(srv.port);
    try {
      await pop.connect();
      const err = await rejects(pop.retr(1));
      assert.equal(err.code, 'ECONNECTION');
      assert.equal(err.command, 'RETR');
    } finally {
      pop.close();
    }
  });

  test('values with line breaks are refused before anything is sent', async () => {
    const srv = await standardServer();
    const pop = client(srv.port);
    try {
      await pop.connect();
      assert.equal((await rejects(pop.login('me\r\nDELE 1', { password: 'x' }))).code, 'InvalidValue');
      assert.equal((await rejects(pop.login('me', { password: 'x\r\nDELE 1' }))).code, 'InvalidValue');
      assert.equal((await rejects(pop.retr(0))).code, 'InvalidValue');
      assert.deepEqual(srv.lines, ['CAPA']);
    } finally {
      pop.close();
    }
  });

  test('a closed port: the Node code, phase connect', async () => {
    const srv = await fakePop('+OK', () => undefined);
    const port = srv.port;
    await srv.close();
    const pop = client(port);
    const err = await rejects(pop.connect());
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(err.phase, 'connect');
    pop.close();
  });

  test('close() rejects the command in flight and is idempotent', async () => {
    const srv = await fakePop('+OK ready', (line, s) => {
      if (line === 'CAPA') s.write('+OK\r\nUSER\r\n.\r\n');
    });
    const pop = client(srv.port);
    await pop.connect();
    const pending = pop.stat();
    pop.close();
    pop.close();
    assert.equal((await rejects(pending)).code, 'NoConnection');
  });
});
