import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SecretBox, hashToken, sameHash } from './secret-box.js';

test('seal/open round trip, AES-256-GCM with key id; ciphertext carries no plaintext', () => {
  const key = randomBytes(32);
  const box = new SecretBox([key]);
  const sealed = box.seal('pässword-123', 'account:acc_1:password');
  assert.match(sealed, /^v1\.[0-9a-f]{8}\./);
  assert.equal(SecretBox.sealedKeyId(sealed), SecretBox.keyId(key));
  assert.ok(!sealed.includes('pässword'));
  assert.equal(box.open(sealed, 'account:acc_1:password'), 'pässword-123');
  assert.notEqual(box.seal('x', 'a'), box.seal('x', 'a'), 'a fresh IV every time');
});

test('a value moved to another row (other associated data) or tampered with does not open', () => {
  const box = new SecretBox([randomBytes(32)]);
  const sealed = box.seal('secret', 'account:acc_1:password');
  assert.throws(() => box.open(sealed, 'account:acc_2:password'));
  const parts = sealed.split('.');
  parts[4] = Buffer.from('tampered').toString('base64url');
  assert.throws(() => box.open(parts.join('.'), 'account:acc_1:password'));
});

test('keys rotate: the newest encrypts, older keys still decrypt, an unknown key is named', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const before = new SecretBox([oldKey]).seal('s', 'aad');
  const rotated = new SecretBox([newKey, oldKey]);
  assert.equal(rotated.open(before, 'aad'), 's');
  assert.equal(SecretBox.sealedKeyId(rotated.seal('s', 'aad')), SecretBox.keyId(newKey));
  assert.throws(() => new SecretBox([newKey]).open(before, 'aad'), /not configured/);
});

test('token hashes compare in constant time', () => {
  assert.ok(sameHash(hashToken('abc'), hashToken('abc')));
  assert.ok(!sameHash(hashToken('abc'), hashToken('abd')));
  assert.ok(!sameHash(hashToken('abc'), ''));
});
