import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSignature, sign, verifySignature } from './signature.js';

// computed independently: printf '%s' '1700000000.{"id":"evt_1","type":"account.active"}' | openssl dgst -sha256 -hmac whsec_test
const SECRET = 'whsec_test';
const BODY = '{"id":"evt_1","type":"account.active"}';
const T = 1_700_000_000;
const HEX = '26015d75d8bdeacb109793d3a61feaccedbb3d6ec31056db7a27aed144118e60';

test('sign matches a known vector (openssl)', () => {
  assert.equal(sign(SECRET, BODY, T), `t=${T},v1=${HEX}`);
});

test('a fresh signature verifies, over a string or the raw bytes', () => {
  const header = sign(SECRET, BODY, T);
  assert.equal(verifySignature(header, BODY, SECRET, 300, T + 10), true);
  assert.equal(verifySignature(header, Buffer.from(BODY), SECRET, 300, T + 10), true);
});

test('tolerance: too old or too far in the future is refused', () => {
  const header = sign(SECRET, BODY, T);
  assert.equal(verifySignature(header, BODY, SECRET, 300, T + 300), true, 'exactly at the bound');
  assert.equal(verifySignature(header, BODY, SECRET, 300, T + 301), false, 'replayed later');
  assert.equal(verifySignature(header, BODY, SECRET, 300, T - 301), false, 'from the future');
});

test('a tampered body, a wrong secret or a changed time fail', () => {
  const header = sign(SECRET, BODY, T);
  assert.equal(verifySignature(header, BODY.replace('active', 'error'), SECRET, 300, T), false);
  assert.equal(verifySignature(header, `${BODY} `, SECRET, 300, T), false);
  assert.equal(verifySignature(header, BODY, 'whsec_other', 300, T), false);
  assert.equal(verifySignature(header.replace(`t=${T}`, `t=${T + 1}`), BODY, SECRET, 300, T), false, 'the time is signed too');
});

test('malformed headers are refused, not thrown on', () => {
  for (const bad of [undefined, '', 'v1=abc', `t=${T}`, `t=abc,v1=${HEX}`, `t=${T},v1=${HEX.slice(2)}`, `t=${T},v1=${'z'.repeat(64)}`, 'x'.repeat(5000), [sign(SECRET, BODY, T)]]) {
    assert.equal(verifySignature(bad as string | undefined, BODY, SECRET, 300, T), false, String(bad).slice(0, 40));
  }
});

test('any of several v1 values may match (secret rotation), in any order', () => {
  const other = sign('whsec_old', BODY, T).split('v1=')[1]!;
  assert.equal(verifySignature(`t=${T},v1=${other},v1=${HEX}`, BODY, SECRET, 300, T), true);
  assert.deepEqual(parseSignature(`t=${T}, v1=${HEX.toUpperCase()}`), { t: T, v1: [HEX] });
});
