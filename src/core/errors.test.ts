import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERRORS, MailportError } from './errors.js';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const documented = new Set([...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]));

test('every error code is documented in docs/errors.md', () => {
  for (const code of Object.keys(ERRORS)) assert.ok(documented.has(code), `${code} is not in docs/errors.md`);
});

test('docs/errors.md names no code that does not exist', () => {
  for (const code of documented) assert.ok(code! in ERRORS, `docs/errors.md documents ${code}, which is not in the catalog`);
});

test("every API.md mail-server code is in the catalog", () => {
  for (const code of ['AUTH_FAILED', 'APP_PASSWORD_REQUIRED', 'OAUTH_REQUIRED', 'TLS_MISMATCH', 'STARTTLS_UNAVAILABLE', 'CERT_INVALID', 'HOST_NOT_FOUND', 'CONNECTION_REFUSED', 'TIMEOUT', 'ADDRESS_BLOCKED', 'POP_ONLY', 'PROTOCOL_ERROR', 'SEND_REJECTED', 'LIMIT_REACHED', 'OAUTH_REVOKED']) {
    assert.ok(code in ERRORS, code);
  }
});

test('the error body has the API shape and keeps the cause', () => {
  const cause = new Error('raw');
  const e = new MailportError('AUTH_FAILED', { protocol: 'smtp', field: 'password', cause });
  assert.equal(e.status, 422);
  assert.equal(e.cause, cause);
  assert.deepEqual(Object.keys(e.toBody().error).sort(), ['code', 'field', 'hint', 'message', 'protocol']);
});
