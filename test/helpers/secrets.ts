/**
 * Every password and token a test uses is tracked here, so the log sentinel can prove none of
 * them ever reaches a log line.
 */
const tracked = new Set<string>();

export function trackSecret(secret: string): string {
  if (secret && secret.length >= 4) tracked.add(secret);
  return secret;
}

export function trackedSecrets(): string[] {
  return [...tracked];
}

/** The secrets that appear in `text` (base64 forms too: SASL PLAIN/XOAUTH2 carry them encoded). */
export function leakedSecrets(text: string): string[] {
  const found: string[] = [];
  for (const s of tracked) {
    if (text.includes(s) || text.includes(Buffer.from(s).toString('base64'))) found.push(s.slice(0, 3) + '…');
  }
  return found;
}
