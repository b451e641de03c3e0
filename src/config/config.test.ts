import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig, VARIABLES } from './config.js';

test('defaults follow API.md', () => {
  const c = loadConfig({});
  assert.equal(c.port, 3000);
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.databaseUrl, 'sqlite:./data/mailport.db');
  assert.equal(c.secretKeys, null);
  assert.equal(c.adminToken, null);
  assert.equal(c.platformSmtpUrl, null);
  assert.deepEqual(c.allowPrivateHosts, []);
  assert.equal(c.verifyTimeoutMs, 15000);
  assert.ok(Object.isFrozen(c));
});

test('every variable is read and validated', () => {
  const key = Buffer.alloc(32, 1).toString('base64');
  const c = loadConfig({
    MAILPORT_PORT: '8080', MAILPORT_HOST: '0.0.0.0', MAILPORT_DATABASE_URL: 'postgres://u@db/mailport', MAILPORT_SECRET_KEY: `${key},${key}`,
    MAILPORT_ADMIN_TOKEN: 'a-long-admin-token-value', MAILPORT_PLATFORM_SMTP_URL: 'smtps://u:p@relay.example:465', MAILPORT_ALLOW_PRIVATE_HOSTS: '10.0.0.0/8, ::1/128',
  });
  assert.equal(c.port, 8080);
  assert.equal(c.secretKeys?.length, 2);
  assert.deepEqual(c.allowPrivateHosts, ['10.0.0.0/8', '::1/128']);
  assert.equal(c.platformSmtpUrl, 'smtps://u:p@relay.example:465');
});

test('bad values name the variable', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ MAILPORT_PORT: 'abc' }, 'MAILPORT_PORT'],
    [{ MAILPORT_PORT: '70000' }, 'MAILPORT_PORT'],
    [{ MAILPORT_DATABASE_URL: 'mysql://x' }, 'MAILPORT_DATABASE_URL'],
    [{ MAILPORT_SECRET_KEY: 'short' }, 'MAILPORT_SECRET_KEY'],
    [{ MAILPORT_ADMIN_TOKEN: 'short' }, 'MAILPORT_ADMIN_TOKEN'],
    [{ MAILPORT_PLATFORM_SMTP_URL: 'http://x' }, 'MAILPORT_PLATFORM_SMTP_URL'],
    [{ MAILPORT_ALLOW_PRIVATE_HOSTS: 'everything' }, 'MAILPORT_ALLOW_PRIVATE_HOSTS'],
    [{ MAILPORT_LOG_LEVEL: 'loud' }, 'MAILPORT_LOG_LEVEL'],
  ];
  for (const [env, variable] of cases) {
    assert.throws(() => loadConfig(env), (e: unknown) => e instanceof ConfigError && e.variable === variable, variable);
  }
});

test('the README documents every variable', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  for (const name of Object.keys(VARIABLES)) assert.ok(readme.includes(name), `${name} is missing from README.md`);
});

test('MAILPORT_ROLE: all by default; api and worker only with PostgreSQL, with a message saying so', () => {
  assert.equal(loadConfig({}).role, 'all');
  const pg = 'postgres://u@db/mailport';
  assert.equal(loadConfig({ MAILPORT_ROLE: 'api', MAILPORT_DATABASE_URL: pg }).role, 'api');
  assert.equal(loadConfig({ MAILPORT_ROLE: 'worker', MAILPORT_DATABASE_URL: pg }).role, 'worker');
  assert.equal(loadConfig({ MAILPORT_ROLE: 'all', MAILPORT_DATABASE_URL: 'sqlite:/tmp/x.db' }).role, 'all');
  for (const role of ['api', 'worker']) {
    assert.throws(() => loadConfig({ MAILPORT_ROLE: role }), (e: unknown) => e instanceof ConfigError && e.variable === 'MAILPORT_ROLE' && /needs PostgreSQL/.test(e.message), role);
  }
  assert.throws(() => loadConfig({ MAILPORT_ROLE: 'everything', MAILPORT_DATABASE_URL: pg }), (e: unknown) => e instanceof ConfigError && e.variable === 'MAILPORT_ROLE');
});

test('MAILPORT_METRICS_TOKEN: unset means open /metrics; a set token must be long enough', () => {
  assert.equal(loadConfig({}).metricsToken, null);
  assert.equal(loadConfig({ MAILPORT_METRICS_TOKEN: 'scrape-token-0123456789' }).metricsToken, 'scrape-token-0123456789');
  assert.throws(() => loadConfig({ MAILPORT_METRICS_TOKEN: 'short' }), (e: unknown) => e instanceof ConfigError && e.variable === 'MAILPORT_METRICS_TOKEN');
  assert.equal(VARIABLES.MAILPORT_METRICS_TOKEN.secret, true);
});
