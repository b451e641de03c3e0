import { mkdirSync, mkdtempSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.js';
import { createApp, type App, type AppOptions } from '../../src/app.js';
import { leakedSecrets, trackSecret } from './secrets.js';

export interface TestApp {
  app: App;
  adminToken: string;
  /** in-process request (Fastify inject): no socket, same code path as HTTP */
  request(method: string, url: string, options?: { token?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Record<string, unknown>; text: string }>;
  createTenant(name?: string): Promise<{ id: string; apiKey: string }>;
  logs(): string;
  close(): Promise<void>;
}

const ARTIFACTS = resolve('test-artifacts/logs');

/**
 * A Mailport app on a fresh database (SQLite by default) with every log line captured at debug
 * level. close() fails the test if any tracked secret appeared in the logs.
 */
export async function startTestApp(options: { env?: Record<string, string>; appOptions?: AppOptions; name?: string } = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'mailport-app-'));
  const adminToken = trackSecret(`test-admin-${randomBytes(12).toString('hex')}`);
  const secretKey = randomBytes(32).toString('base64');
  trackSecret(secretKey);
  const config = loadConfig({
    MAILPORT_DATA_DIR: dir,
    MAILPORT_ADMIN_TOKEN: adminToken,
    MAILPORT_SECRET_KEY: secretKey,
    MAILPORT_ALLOW_PRIVATE_HOSTS: process.env.MAILPORT_ALLOW_PRIVATE_HOSTS ?? '127.0.0.0/8,::1/128',
    MAILPORT_LOG_LEVEL: 'debug',
    MAILPORT_PORT: '0',
    ...options.env,
  });
  let captured = '';
  mkdirSync(ARTIFACTS, { recursive: true });
  const logFile = join(ARTIFACTS, `${options.name ?? 'app'}-${process.pid}.log`);
  const destination = new Writable({
    write(chunk, _enc, cb) {
      const text = chunk.toString();
      captured += text;
      try {
        appendFileSync(logFile, text);
      } catch {
        // another run may have cleared test-artifacts/; the copy on disk is only for reading
        mkdirSync(ARTIFACTS, { recursive: true });
        appendFileSync(logFile, text);
      }
      cb();
    },
  });
  const app = await createApp(config, { logDestination: destination, announce: () => {}, ...options.appOptions });

  const request: TestApp['request'] = async (method, url, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    const token = o.token === undefined ? adminToken : o.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (o.rawBody !== undefined) payload = o.rawBody;
    else if (o.body !== undefined) {
      payload = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await app.server.inject({ method: method as any, url, headers, payload });
    let body: any = undefined;
    try {
      body = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.statusCode, body, headers: res.headers as Record<string, unknown>, text: res.body };
  };

  return {
    app,
    adminToken,
    request,
    async createTenant(name = 'Acme') {
      const res = await request('POST', '/v1/tenants', { body: { name, companyEmail: 'hello@acme.test', fromName: name } });
      assert.equal(res.status, 201, res.text);
      return { id: res.body.id, apiKey: trackSecret(res.body.apiKey) };
    },
    logs: () => captured,
    async close() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
      const leaks = leakedSecrets(captured);
      assert.deepEqual(leaks, [], `secrets found in the logs (${logFile})`);
    },
  };
}
