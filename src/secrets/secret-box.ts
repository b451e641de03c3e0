import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Encryption of passwords and tokens at rest: AES-256-GCM with a key id in every ciphertext,
 * so keys can rotate (encrypt with the newest, decrypt with any key still configured).
 *
 * Format: `v1.<kid>.<iv>.<tag>.<ciphertext>` (base64url parts). The associated data binds a
 * ciphertext to where it is stored (e.g. `account:acc_123:password`), so a value copied into
 * another row does not decrypt.
 *
 * @example
 *   const box = SecretBox.fromBase64Keys([process.env.MAILPORT_SECRET_KEY!]);
 *   const sealed = box.seal('app-password', 'account:acc_1:password');
 *   box.open(sealed, 'account:acc_1:password'); // 'app-password'
 */
export class SecretBox {
  private readonly keys: Map<string, Buffer>;
  private readonly current: string;

  constructor(keys: Buffer[]) {
    if (keys.length === 0) throw new Error('SecretBox needs at least one key');
    this.keys = new Map();
    for (const key of keys) {
      if (key.length !== 32) throw new Error('secret keys must be 32 bytes');
      this.keys.set(SecretBox.keyId(key), key);
    }
    this.current = SecretBox.keyId(keys[0]!);
  }

  static fromBase64Keys(keys: string[]): SecretBox {
    return new SecretBox(keys.map((k) => Buffer.from(k, 'base64')));
  }

  /** A short public id of a key: the first 8 hex digits of its SHA-256. */
  static keyId(key: Buffer): string {
    return createHash('sha256').update(key).digest('hex').slice(0, 8);
  }

  get currentKeyId(): string {
    return this.current;
  }

  seal(plaintext: string, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.current)!, iv);
    cipher.setAAD(Buffer.from(aad));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return ['v1', this.current, iv.toString('base64url'), tag.toString('base64url'), ct.toString('base64url')].join('.');
  }

  open(sealed: string, aad: string): string {
    const parts = sealed.split('.');
    if (parts.length !== 5 || parts[0] !== 'v1') throw new Error('not a sealed secret');
    const key = this.keys.get(parts[1]!);
    if (!key) throw new Error(`secret was sealed with key ${parts[1]}, which is not configured (MAILPORT_SECRET_KEY)`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parts[2]!, 'base64url'));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(parts[3]!, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(parts[4]!, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** The key id a sealed value was made with (for re-encryption after a rotation). */
  static sealedKeyId(sealed: string): string | null {
    const parts = sealed.split('.');
    return parts.length === 5 ? parts[1]! : null;
  }
}

/** SHA-256 hex of a token: API keys and the admin token are stored only as this. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Constant-time comparison of two hex digests. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** A fingerprint of credentials, to recognise "the same password that already failed" without keeping it. */
export function credentialFingerprint(parts: Array<string | number | null | undefined>, salt: string): string {
  return createHash('sha256').update(salt).update('\0').update(parts.map((p) => String(p ?? '')).join('\0')).digest('hex');
}
