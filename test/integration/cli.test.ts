import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadPeers, addMailbox, type Peers } from '../helpers/peers.js';
import { leakedSecrets, trackSecret } from '../helpers/secrets.js';

const MAIN = resolve('src/cli/main.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string>, options: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`mailport ${args.join(' ')} did not finish: ${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

describe('command line', () => {
  let dir: string;
  let env: Record<string, string>;
  let peers: Peers;

  before(() => {
    peers = loadPeers();
    dir = mkdtempSync(join(tmpdir(), 'mailport-cli-'));
    env = { MAILPORT_DATA_DIR: dir, MAILPORT_LOG_LEVEL: 'debug', MAILPORT_ADMIN_TOKEN: '', MAILPORT_SECRET_KEY: '' };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('migrate creates the SQLite database in the data folder, twice without harm', async () => {
    const first = await run(['migrate'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /applied: 0001_foundation/);
    assert.ok(existsSync(join(dir, 'mailport.db')));
    const again = await run(['migrate'], env);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /up to date/);
  });

  test('tenant create prints the API key once; bad input is a clear error', async () => {
    const res = await run(['tenant', 'create', '--name', 'Acme', '--company-email', 'hello@acme.test'], env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /API key \(shown once\): mp_key_/);
    assert.ok(statSync(join(dir, 'secret.key')).mode % 0o1000 === 0o600, 'the generated key file is private');
    const bad = await run(['tenant', 'create', '--name', 'Acme', '--company-email', 'nope'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /companyEmail/);
    const missing = await run(['tenant', 'create'], env);
    assert.equal(missing.code, 2);
  });

  test('serve: prints the generated admin token once, answers, and stops cleanly on SIGTERM', async () => {
    const serveDir = mkdtempSync(join(tmpdir(), 'mailport-serve-'));
    const start = () =>
      new Promise<{ out: string; err: string; code: number | null }>((done, fail) => {
        const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve'], { env: { ...process.env, MAILPORT_DATA_DIR: serveDir, MAILPORT_PORT: '0', MAILPORT_ADMIN_TOKEN: '', MAILPORT_SECRET_KEY: '' } });
        let out = '';
        let err = '';
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          fail(new Error(`serve did not start: ${out}\n${err}`));
        }, 30_000);
        child.stderr.on('data', (c) => (err += c));
        child.stdout.on('data', async (c) => {
          out += c;
          const m = /"address":"(http:\/\/[^"]+)"/.exec(out);
          if (m && !out.includes('"checked"')) {
            out += '"checked"';
            const health = await fetch(`${m[1]}/readyz`).then((r) => r.json());
            assert.deepEqual(health, { status: 'ready' });
            child.kill('SIGTERM');
          }
        });
        child.on('exit', (code) => {
          clearTimeout(timer);
          done({ out, err, code });
        });
      });
    try {
      const first = await start();
      assert.equal(first.code, 0, first.err);
      assert.match(first.err, /admin token \(shown once/);
      assert.match(first.out, /shutting down/);
      assert.match(first.out, /"msg":"stopped"/);
      const token = /\n\s+(mp_admin_\S+)\n/.exec(first.err)?.[1];
      assert.ok(token);
      assert.ok(!first.out.includes(token!), 'the admin token is not in the logs');
      const second = await start();
      assert.equal(second.code, 0);
      assert.ok(!second.err.includes('admin token'), 'shown only on the first start');
    } finally {
      rmSync(serveDir, { recursive: true, force: true });
    }
  });

  test('doctor checks real servers and prints a readable success', async () => {
    const box = await addMailbox();
    trackSecret(box.password);
    const res = await run(['doctor', box.email, '--smtp', `${peers.host}:${peers.smtp.starttls}:starttls`, '--imap', `${peers.host}:${peers.imap.tls}:tls`], { ...env, MAILPORT_PASSWORD: box.password });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /✓ SMTP works/);
    assert.match(res.stdout, /✓ IMAP works/);
    assert.match(res.stdout, /All checks passed/);
    assert.deepEqual(leakedSecrets(res.stdout + res.stderr), []);
  });

  test('doctor reads the password from standard input and explains a failure with what to change', async () => {
    const box = await addMailbox();
    const wrong = trackSecret('doctor-wrong-password');
    const res = await run(['doctor', box.email, '--smtp', `${peers.host}:${peers.smtp.tls}:starttls`], { ...env, MAILPORT_VERIFY_TIMEOUT_MS: '6000' }, { input: `${wrong}\n` });
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stdout, /✗ SMTP failed: TLS_MISMATCH/);
    assert.match(res.stdout, /what to change: /);
    const auth = await run(['doctor', box.email, '--smtp', `${peers.host}:${peers.smtp.starttls}:starttls`], env, { input: `${wrong}\n` });
    assert.equal(auth.code, 1);
    assert.match(auth.stdout, /AUTH_FAILED/);
    assert.deepEqual(leakedSecrets(auth.stdout + auth.stderr), []);
    const usage = await run(['doctor', box.email, '--smtp', 'nonsense'], { ...env, MAILPORT_PASSWORD: 'x-x-x-x' });
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /HOST:PORT:SECURITY/);
  });
});
