import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressGuard } from './guard.js';
import { isMailportError } from '../core/errors.js';

const lookupTable = (table: Record<string, string[]>) => async (host: string) => {
  const a = table[host];
  if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    assert.ok(isMailportError(err), String(err));
    return err.code;
  }
}

test('refuses loopback, private, link-local, CGNAT, metadata and other internal ranges', async () => {
  const guard = new AddressGuard();
  for (const ip of ['127.0.0.1', '127.8.9.10', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '100.100.100.200', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd00:ec2::254', 'fc00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '64:ff9b::7f00:1']) {
    assert.equal(await code(guard.resolve(ip)), 'ADDRESS_BLOCKED', ip);
  }
});

test('allows public addresses', async () => {
  const guard = new AddressGuard();
  for (const ip of ['8.8.8.8', '142.250.1.1', '172.32.0.1', '100.128.0.1', '2a00:1450:4001::1']) {
    assert.equal(await code(guard.resolve(ip)), 'ok', ip);
  }
});

test('a name that resolves to 127.0.0.1 is refused before any socket opens', async () => {
  const guard = new AddressGuard({ lookup: lookupTable({ 'evil.example': ['127.0.0.1'] }) });
  assert.equal(await code(guard.resolve('evil.example')), 'ADDRESS_BLOCKED');
  // the real resolver: localhost is 127.0.0.1 / ::1
  assert.equal(await code(new AddressGuard().resolve('localhost')), 'ADDRESS_BLOCKED');
});

test('a name with one public and one private address is refused (no rebinding through the second answer)', async () => {
  const guard = new AddressGuard({ lookup: lookupTable({ 'mixed.example': ['93.184.216.34', '10.0.0.5'] }) });
  assert.equal(await code(guard.resolve('mixed.example')), 'ADDRESS_BLOCKED');
});

test('MAILPORT_ALLOW_PRIVATE_HOSTS ranges are allowed, and only those', async () => {
  const guard = new AddressGuard({ allow: ['127.0.0.0/8', '::1/128'], lookup: lookupTable({ 'box.test': ['127.0.0.7'] }) });
  assert.equal(await code(guard.resolve('127.0.0.1')), 'ok');
  assert.equal(await code(guard.resolve('::1')), 'ok');
  assert.equal((await guard.resolve('box.test')).address, '127.0.0.7');
  assert.equal(await code(guard.resolve('10.0.0.1')), 'ADDRESS_BLOCKED');
  assert.equal(await code(guard.resolve('169.254.169.254')), 'ADDRESS_BLOCKED');
});

test('names that do not resolve are HOST_NOT_FOUND', async () => {
  const guard = new AddressGuard({ lookup: lookupTable({}) });
  assert.equal(await code(guard.resolve('nope.invalid')), 'HOST_NOT_FOUND');
  assert.equal(await code(new AddressGuard().resolve('no-such-host.invalid')), 'HOST_NOT_FOUND');
});

test('bad CIDRs in the allow list are refused at start-up', () => {
  assert.throws(() => new AddressGuard({ allow: ['10.0.0.0/40'] }));
  assert.throws(() => new AddressGuard({ allow: ['nonsense'] }));
});
