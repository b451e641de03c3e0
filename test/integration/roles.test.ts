// Roles (`serve --role api|worker|all`, MAILPORT_ROLE): an API node and a worker node share one
// PostgreSQL database; the API node takes a message and does no background work, the worker node
// sends it and serves only /healthz, /readyz and /metrics. SQLite refuses the split roles.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freshPostgres, type TestDatabase } from '../helpers/databases.js';
import { startFaultSmtp, type FaultSmtp } from '../helpers/fault-smtp.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { trackSecret } from '../helpers/secrets.js';

const MAIN = resolve('src/cli/main.ts');

async function runServe(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  return { code: code as number | null, stderr };
}

describe('roles with SQLite', () => {
  test('api or worker alone refuse to start, saying that roles need PostgreSQL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailport-roles-'));
    try {
      const env = { MAILPORT_DATA_DIR: dir, MAILPORT_PORT: '0', MAILPORT_ADMIN_TOKEN: '', MAILPORT_SECRET_KEY: '', MAILPORT_ROLE: '' };
      const flag = await runServe(['--role', 'worker'], env);
      assert.equal(flag.code, 2, flag.stderr);
      assert.match(flag.stderr, /role "worker" .*needs PostgreSQL/);
      const variable = await runServe([], { ...env, MAILPORT_ROLE: 'api' });
      assert.equal(variable.code, 2, variable.stderr);
      assert.match(variable.stderr, /MAILPORT_ROLE: role "api" .*needs PostgreSQL/);
      const bad = await runServe(['--role', 'both'], env);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--role must be all, api or worker/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('an API node and a worker node on one PostgreSQL', () => {
  let db: TestDatabase;
  let relay: FaultSmtp;
  let apiNode: TestApp;
  let workerNode: TestApp;
  let workerUrl: string;

  before(async () => {
    db = await freshPostgres();
    relay = await startFaultSmtp();
    // the nodes share the database and the secret key (stored secrets must open on every node)
    const shared = {
      MAILPORT_DATABASE_URL: db.url,
      MAILPORT_SECRET_KEY: trackSecret(randomBytes(32).toString('base64')),
      MAILPORT_PLATFORM_SMTP_URL: relay.url,
      MAILPORT_PLATFORM_FROM: 'mailer@platform.test',
    };
    const fast = { outbound: { worker: { pollMs: 50 } }, dispatcher: { pollMs: 50 } };
    apiNode = await startTestApp({ name: 'role-api', env: { ...shared, MAILPORT_ROLE: 'api' }, appOptions: fast });
    workerNode = await startTestApp({ name: 'role-worker', env: { ...shared, MAILPORT_ROLE: 'worker' }, appOptions: fast });
    await apiNode.app.listen();
    workerUrl = await workerNode.app.listen();
  });
  after(async () => {
    await apiNode?.close();
    await workerNode?.close();
    await relay?.close();
    await db?.drop();
  });

  test('the API node runs no background work; the worker node runs it', () => {
    assert.equal(apiNode.app.config.role, 'api');
    assert.equal(apiNode.app.outbound.worker.isRunning, false);
    assert.equal(apiNode.app.dispatcher.isRunning, false);
    assert.equal(workerNode.app.outbound.worker.isRunning, true);
    assert.equal(workerNode.app.dispatcher.isRunning, true);
  });

  test('a message taken by the API node is sent by the worker node', async () => {
    const tenant = await apiNode.createTenant('Split Co');
    const res = await apiNode.request('POST', '/v1/messages', { token: tenant.apiKey, body: { to: 'someone@example.test', subject: 'Across nodes', text: 'hello' } });
    assert.equal(res.status, 202, res.text);
    await relay.waitForAccepted(1, 15_000);
    assert.equal(relay.messages[0]!.subject, 'Across nodes');
    const end = Date.now() + 10_000;
    let job: any;
    do {
      job = (await apiNode.request('GET', `/v1/outbox/${res.body.id}`, { token: tenant.apiKey })).body;
      if (job.status === 'sent') break;
      await new Promise((r) => setTimeout(r, 50));
    } while (Date.now() < end);
    assert.equal(job.status, 'sent', 'the API node reads the outcome the worker node recorded');

    const workerMetrics = await fetch(`${workerUrl}/metrics`).then((r) => r.text());
    assert.match(workerMetrics, /^mailport_sends_total\{outcome="sent"\} 1$/m);
    assert.match(workerMetrics, /^mailport_info\{version="[^"]+",role="worker"\} 1$/m);
    const apiMetrics = (await apiNode.request('GET', '/metrics', { token: null })).text;
    assert.doesNotMatch(apiMetrics, /^mailport_sends_total\{outcome="sent"\}/m, 'the API node sent nothing');
    assert.match(apiMetrics, /^mailport_outbox_jobs\{status="queued"\} 0$/m, 'every node reads the queue from the database');
  });

  test('the worker node answers /healthz, /readyz and /metrics over HTTP, and nothing of the API', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const res = await fetch(`${workerUrl}${path}`);
      assert.equal(res.status, 200, path);
    }
    for (const path of ['/v1/presets', '/v1/tenants', '/connect']) {
      const res = await workerNode.request('GET', path);
      assert.equal(res.status, 404, `${path}: ${res.text}`);
      assert.equal(res.body.error.code, 'NOT_FOUND');
    }
    const doc = await workerNode.request('GET', '/openapi.json', { token: null });
    assert.deepEqual(Object.keys(doc.body.paths).filter((p) => p.startsWith('/v1')), []);
    const api = await apiNode.request('GET', '/v1/presets');
    assert.equal(api.status, 200, 'the API node serves the API');
  });
});
