/**
 * Which From a platform send may use (DESIGN.md point 1).
 *
 * Platform mail leaves through the operator's relay, so it cannot pass DMARC for the tenant's
 * company domain (no DKIM signature of that domain, no SPF alignment). When the domain publishes an
 * enforcing policy (`p=quarantine` or `p=reject`), receivers would bin or bounce it; then the
 * message goes out From the platform's address, named "<tenant> via <platform>", with Reply-To set
 * to the company email, as Google Groups and most SaaS senders do. Otherwise it keeps the tenant's
 * own From.
 *
 * Lookup (RFC 7489 §6.6.3): `_dmarc.<domain>`; when that has no DMARC record, `_dmarc.<organisational
 * domain>`, whose `sp=` (else `p=`) then applies. DNS trouble never fails a send: when DNS cannot
 * tell (SERVFAIL, a timeout), the message goes out From the platform as for an enforcing policy,
 * which is always deliverable, rather than risk a company From that the receiver rejects (answers
 * are cached for a few minutes, failures for less, in a bounded cache per resolver).
 */
import { Resolver } from 'node:dns/promises';

export type ResolveTxt = (name: string) => Promise<string[][]>;

export interface PlatformSenderInput {
  /** the address the message was accepted From: the company email, or an account's that sends through the platform */
  fromEmail: string;
  fromName: string | null;
  platformAddress: string;
  /** shown after "via"; default: the domain of `platformAddress` */
  platformName?: string;
}

export interface PlatformSender {
  from: { name: string; address: string };
  /** set (to the address the message was accepted From) only when From is the platform's address */
  replyTo?: string;
  /** the platform's From because DNS could not tell the policy: good for this attempt, to be decided again on the next */
  tentative?: true;
}

export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

export interface DmarcRecord {
  p: DmarcPolicy;
  /** policy for subdomains, when given and valid */
  sp?: DmarcPolicy;
}

/** How long a lookup answer (record or "no record") is reused. */
export const DMARC_CACHE_TTL_MS = 5 * 60_000;
/** How long a DNS failure (SERVFAIL, timeout) is reused as "no record": short, so a fix shows soon. */
export const DMARC_FAILURE_TTL_MS = 60_000;
/** Entries kept per resolver; the oldest goes first. */
export const DMARC_CACHE_MAX = 5000;
/** Upper bound of one TXT lookup, whatever the resolver does. */
export const DMARC_LOOKUP_TIMEOUT_MS = 5000;

const POLICIES = new Set<DmarcPolicy>(['none', 'quarantine', 'reject']);

/**
 * Parses one DMARC TXT record; null when it is not a DMARC record. A record that names itself
 * DMARC1 but has no valid `p=` counts as `p=none` (RFC 7489 §6.6.3 asks receivers to act as if
 * p=none when reports are wanted, and to ignore the record otherwise: neither enforces anything).
 *
 * @example
 *   parseDmarc('v=DMARC1; p=reject; sp=none') // → { p: 'reject', sp: 'none' }
 *   parseDmarc('v=spf1 -all')                 // → null
 */
export function parseDmarc(record: string): DmarcRecord | null {
  const tags = record.split(';').map((t) => t.trim()).filter(Boolean);
  const first = /^v\s*=\s*(.*)$/i.exec(tags[0] ?? '');
  if (!first || first[1].trim().toUpperCase() !== 'DMARC1') return null;
  const values = new Map<string, string>();
  for (const tag of tags.slice(1)) {
    const eq = tag.indexOf('=');
    if (eq <= 0) continue;
    const key = tag.slice(0, eq).trim().toLowerCase();
    if (!values.has(key)) values.set(key, tag.slice(eq + 1).trim().toLowerCase());
  }
  const policy = (v: string | undefined) => (v !== undefined && POLICIES.has(v as DmarcPolicy) ? (v as DmarcPolicy) : undefined);
  const p = policy(values.get('p')) ?? 'none';
  const sp = policy(values.get('sp'));
  return sp ? { p, sp } : { p };
}

// Second-level labels under which ccTLDs register names (acme.co.uk, acme.com.au, acme.co.jp...).
const CC_SECOND_LEVEL = new Set(['ac', 'co', 'com', 'edu', 'gov', 'go', 'gob', 'gouv', 'govt', 'ltd', 'me', 'mil', 'ne', 'net', 'nhs', 'nic', 'or', 'org', 'plc', 'sch']);

/**
 * The organisational domain by a small heuristic instead of the Public Suffix List: the last two
 * labels, or three when the name ends in a two-letter country code under a common second-level
 * label (co.uk, com.au, co.jp, org.nz...). Limits: private suffixes (github.io, herokuapp.com) and
 * rarer public ones (e.g. `kawasaki.jp` cities, `pvt.k12.ma.us`) are not known, so for those the
 * lookup may read the record of a registry-level name, which normally has none: then the tenant's
 * own From is kept, which is what "no record" means anyway.
 *
 * @example
 *   organisationalDomain('mail.acme.co.uk') // → 'acme.co.uk'
 *   organisationalDomain('eu.mail.acme.com') // → 'acme.com'
 */
export function organisationalDomain(domain: string): string {
  const labels = domain.toLowerCase().replace(/\.$/, '').split('.').filter(Boolean);
  if (labels.length <= 2) return labels.join('.');
  const tld = labels[labels.length - 1];
  const second = labels[labels.length - 2];
  const keep = tld.length === 2 && CC_SECOND_LEVEL.has(second) ? 3 : 2;
  return labels.slice(-keep).join('.');
}

type Lookup = { record: DmarcRecord | null; failed: boolean };
interface CacheEntry {
  answer: Promise<Lookup>;
  expires: number;
}

// One cache per resolver function, so tests with their own DNS server never see each other's answers.
const caches = new WeakMap<ResolveTxt, Map<string, CacheEntry>>();

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('DMARC lookup timed out'), { code: 'ETIMEOUT' })), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function queryDmarc(domain: string, resolveTxt: ResolveTxt): Promise<Lookup> {
  let answers: string[][];
  try {
    answers = await withTimeout(Promise.resolve().then(() => resolveTxt(`_dmarc.${domain}`)), DMARC_LOOKUP_TIMEOUT_MS);
  } catch (err) {
    const code = (err as { code?: string }).code;
    // "the name or the record does not exist" is an answer; anything else is a failure
    return { record: null, failed: code !== 'ENOTFOUND' && code !== 'ENODATA' };
  }
  const records = (Array.isArray(answers) ? answers : [])
    .map((chunks) => parseDmarc(Array.isArray(chunks) ? chunks.join('') : String(chunks)))
    .filter((r): r is DmarcRecord => r !== null);
  // RFC 7489 §6.6.3: more than one DMARC record means no DMARC policy at all
  return { record: records.length === 1 ? records[0] : null, failed: false };
}

/** `_dmarc.<domain>` through the per-resolver cache; concurrent callers share one query. */
function cachedDmarc(domain: string, resolveTxt: ResolveTxt): Promise<Lookup> {
  let cache = caches.get(resolveTxt);
  if (!cache) caches.set(resolveTxt, (cache = new Map()));
  const now = Date.now();
  const hit = cache.get(domain);
  if (hit && hit.expires > now) return hit.answer;
  if (hit) cache.delete(domain);
  while (cache.size >= DMARC_CACHE_MAX) cache.delete(cache.keys().next().value!);
  const entry: CacheEntry = { answer: queryDmarc(domain, resolveTxt), expires: now + DMARC_LOOKUP_TIMEOUT_MS + DMARC_CACHE_TTL_MS };
  cache.set(domain, entry);
  void entry.answer.then((r) => {
    entry.expires = Date.now() + (r.failed ? DMARC_FAILURE_TTL_MS : DMARC_CACHE_TTL_MS);
  });
  return entry.answer;
}

/**
 * The DMARC policy that applies to mail From `domain`: the domain's own `p=`, else the
 * organisational domain's `sp=` (or `p=`), else null (no record, or DNS trouble). Never throws.
 *
 * @example
 *   await dmarcPolicy('news.acme.com', defaultResolveTxt()) // → 'quarantine' when acme.com says sp=quarantine
 */
export async function dmarcPolicy(domain: string, resolveTxt: ResolveTxt): Promise<DmarcPolicy | null> {
  const policy = await policyOf(domain, resolveTxt);
  return policy === 'unknown' ? null : policy;
}

/** {@link dmarcPolicy}, or `unknown` when DNS could not tell (the lookup that would have decided it failed). */
async function policyOf(domain: string, resolveTxt: ResolveTxt): Promise<DmarcPolicy | null | 'unknown'> {
  const name = domain.toLowerCase().replace(/\.$/, '');
  if (!name || !name.includes('.')) return null;
  const own = await cachedDmarc(name, resolveTxt);
  if (own.record) return own.record.p;
  if (own.failed) return 'unknown';
  const org = organisationalDomain(name);
  if (org === name) return null;
  const parent = await cachedDmarc(org, resolveTxt);
  if (parent.record) return parent.record.sp ?? parent.record.p;
  return parent.failed ? 'unknown' : null;
}

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).trim();
}

/**
 * The From (and Reply-To) of a message sent through the platform processor: the address it was
 * accepted From (the company's, or an account's), unless that domain's DMARC policy is quarantine or
 * reject, or DNS cannot tell; then the platform's address named "<from name or address> via
 * <platform>", with Reply-To the address it was accepted From.
 *
 * @example
 *   await platformSender({ fromEmail: 'hello@acme.com', fromName: 'Acme', platformAddress: 'notify@crm.example', platformName: 'CRM' }, defaultResolveTxt())
 *   // acme.com has p=reject → { from: { name: 'Acme via CRM', address: 'notify@crm.example' }, replyTo: 'hello@acme.com' }
 *   // no record or p=none  → { from: { name: 'Acme', address: 'hello@acme.com' } }
 */
export async function platformSender(
  input: PlatformSenderInput,
  resolveTxt: (name: string) => Promise<string[][]>,
): Promise<PlatformSender> {
  const name = input.fromName?.trim() || null;
  let policy: DmarcPolicy | null | 'unknown';
  try {
    policy = await policyOf(domainOf(input.fromEmail), resolveTxt);
  } catch {
    policy = 'unknown'; // belt and braces: a send never fails on the DMARC lookup
  }
  if (policy === null || policy === 'none') return { from: { name: name ?? '', address: input.fromEmail } };
  const platformName = input.platformName?.trim() || domainOf(input.platformAddress) || input.platformAddress;
  const sender: PlatformSender = { from: { name: `${name ?? input.fromEmail} via ${platformName}`, address: input.platformAddress }, replyTo: input.fromEmail };
  if (policy === 'unknown') sender.tentative = true;
  return sender;
}

let shared: ResolveTxt | undefined;

/**
 * TXT lookups through the system's DNS servers (2 s per try, 2 tries). Always the same function,
 * so every caller shares one DMARC cache.
 *
 * @example
 *   const sender = await platformSender(input, defaultResolveTxt());
 */
export function defaultResolveTxt(): ResolveTxt {
  if (!shared) {
    const resolver = new Resolver({ timeout: 2000, tries: 2 });
    shared = (name) => resolver.resolveTxt(name);
  }
  return shared;
}
