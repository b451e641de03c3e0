import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/** Random bytes for ids, drawn 4 KiB at a time: a randomBytes call per id cost 10–15 µs here, several per message. */
const POOL_SIZE = 4096;
let pool = Buffer.alloc(0);
let poolAt = 0;

function randomInto(target: Buffer, offset: number, length: number): void {
  if (poolAt + length > pool.length) {
    pool = randomBytes(POOL_SIZE);
    poolAt = 0;
  }
  pool.copy(target, offset, poolAt, poolAt + length);
  poolAt += length;
}

/**
 * A new opaque id that sorts by creation time (48-bit millisecond time, then 80 random bits),
 * so cursors can page by id.
 *
 * @example newId('acc') // "acc_01jd3m8v2k9x6q5r7t0w4y8z1c"
 */
export function newId(prefix: string, now = Date.now()): string {
  const bytes = Buffer.alloc(16);
  bytes.writeUIntBE(now, 0, 6);
  randomInto(bytes, 6, 10);
  return `${prefix}_${base32(bytes)}`;
}

/** A random secret token with a readable prefix, e.g. an API key `mp_live_...`. */
export function newToken(prefix: string, bytes = 32): string {
  return `${prefix}_${randomBytes(bytes).toString('base64url')}`;
}
