import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from './config.js';

test("MAILPORT_FRAME_ANCESTORS: 'none' by default; origins space- or comma-separated; anything else named", () => {
  assert.deepEqual(loadConfig({}).frameAncestors, ["'none'"]);
  assert.deepEqual(loadConfig({ MAILPORT_FRAME_ANCESTORS: 'https://app.example.com, https://*.crm.example:8443 http://localhost:5173/' }).frameAncestors, [
    'https://app.example.com',
    'https://*.crm.example:8443',
    'http://localhost:5173',
  ]);
  assert.deepEqual(loadConfig({ MAILPORT_FRAME_ANCESTORS: "'self'" }).frameAncestors, ["'self'"]);
  for (const bad of ['app.example.com', 'https://app.example.com/path', "https://a.example; script-src *", 'javascript:x', "'none' https://a.example", '*']) {
    assert.throws(() => loadConfig({ MAILPORT_FRAME_ANCESTORS: bad }), (e: unknown) => e instanceof ConfigError && e.variable === 'MAILPORT_FRAME_ANCESTORS', bad);
  }
});
