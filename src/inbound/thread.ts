/**
 * The small rules of threading and contact matching, kept apart so they can be tested alone.
 */

const PREFIX = /^\s*(?:(?:re|fwd?|aw|wg|sv|vs|antw|tr|rif|r|enc|res)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+/i;

/**
 * The subject as a threading key: reply and forward prefixes (Re:, Fwd:, AW:, WG:, SV:, ... and
 * their repeats like "Re[2]:") removed, whitespace collapsed, lower-cased.
 *
 * @example subjectKey('AW: Re: Fwd:  Angebot 2026') // 'angebot 2026'
 */
export function subjectKey(subject: string): string {
  let s = subject;
  for (let i = 0; i < 10; i++) {
    const next = s.replace(PREFIX, '');
    if (next === s) break;
    s = next;
  }
  return s.replace(/\s+/g, ' ').trim().toLowerCase().slice(0, 500);
}

/** Whether the subject says the message answers or forwards another. */
export function isReplySubject(subject: string): boolean {
  return PREFIX.test(subject);
}

/**
 * An address as contacts are matched: trimmed and lower-cased; undefined for something that is
 * not an address.
 *
 * @example normalizeAddress(' Bob@Example.COM ') // 'bob@example.com'
 */
export function normalizeAddress(address: string | null | undefined): string | undefined {
  if (!address) return undefined;
  const a = address.trim().toLowerCase();
  if (a.length > 320 || !/^[^\s@<>\u0000]+@[^\s@<>\u0000]+$/.test(a)) return undefined;
  return a;
}
