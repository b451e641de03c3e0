import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The `Mailport-Signature` header of API.md: `t=UNIX,v1=HEX`, HEX being HMAC-SHA256 keyed with the
 * webhook's secret (the whole string, `whsec_...`, as UTF-8) over `t + "." + body`. Signing the
 * time with the body lets a receiver refuse a replayed delivery by its age.
 */
export const SIGNATURE_HEADER = 'Mailport-Signature';

function hmacHex(secret: string, t: number, body: string | Buffer): string {
  // the body is hashed as the bytes that travel (UTF-8 for a string), never re-encoded
  return createHmac('sha256', secret).update(`${t}.`, 'utf8').update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body).digest('hex');
}

/**
 * Signs a delivery body at time `t` (UNIX seconds).
 *
 * @example
 *   sign('whsec_abc', '{"id":"evt_1"}', 1700000000)
 *   // 't=1700000000,v1=5c2f...'
 */
export function sign(secret: string, body: string, t: number = Math.floor(Date.now() / 1000)): string {
  if (!Number.isSafeInteger(t) || t < 0) throw new Error('the signature time must be whole UNIX seconds');
  return `t=${t},v1=${hmacHex(secret, t, body)}`;
}

/** The parts of a signature header: its time and every v1 signature it carries. */
export function parseSignature(header: string): { t: number; v1: string[] } | null {
  let t: number | null = null;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 1) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) t = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) v1.push(value.toLowerCase());
  }
  return t === null || v1.length === 0 ? null : { t, v1 };
}

/**
 * Checks a `Mailport-Signature` header against the raw body a receiver got (the bytes as sent,
 * before any JSON parsing) and the webhook's secret. Refuses a header older or newer than
 * `toleranceSeconds` (default 5 minutes) so a captured delivery cannot be replayed later. Any
 * of several `v1` values may match (room for a secret rotation). The comparison is constant-time.
 *
 * @example
 *   app.post('/hooks/mailport', (req, res) => {
 *     if (!verifySignature(req.headers['mailport-signature'], rawBody, process.env.MAILPORT_WEBHOOK_SECRET)) return res.status(400).end();
 *   });
 */
export function verifySignature(
  header: string | string[] | undefined,
  body: string | Buffer,
  secret: string,
  toleranceSeconds = 300,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): boolean {
  if (typeof header !== 'string' || header.length > 1024) return false;
  const parsed = parseSignature(header);
  if (!parsed) return false;
  if (Math.abs(nowSeconds - parsed.t) > toleranceSeconds) return false;
  const expected = Buffer.from(hmacHex(secret, parsed.t, body), 'hex');
  let ok = false;
  for (const candidate of parsed.v1) {
    // compare every candidate (no early exit), each in constant time
    if (timingSafeEqual(expected, Buffer.from(candidate, 'hex'))) ok = true;
  }
  return ok;
}
