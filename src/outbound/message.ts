/**
 * The body of `POST /v1/messages`, checked beyond what the schema can say, and turned into
 * what the composer takes. The rules that matter for safety live here, in one place: no CR or
 * LF in any value that becomes a header (a line break would let a value add headers or
 * recipients), only `X-` custom headers, at least one recipient, a sendAt that is not in the
 * past, and a bound on attachments.
 *
 * @example
 *   const msg = normalizeMessage(body, new Date()); // throws INVALID_INPUT naming the field
 *   msg.recipients // ['a@example.org', 'b@example.org']
 */
import { createHash } from 'node:crypto';
import { invalid } from '../core/errors.js';
import type { MimeAddress } from '../protocols/mime.js';

export type AddressInput = string | { name?: string | null; address: string };

export interface MessageInput {
  accountId?: string;
  to: AddressInput | AddressInput[];
  cc?: AddressInput | AddressInput[];
  bcc?: AddressInput | AddressInput[];
  replyTo?: AddressInput;
  subject: string;
  text?: string;
  html?: string;
  attachments?: Array<{ filename: string; contentType?: string; content: string }>;
  inReplyTo?: string;
  references?: string | string[];
  headers?: Record<string, string>;
  sendAt?: string;
}

export interface NormalizedMessage {
  to: MimeAddress[];
  cc: MimeAddress[];
  bcc: MimeAddress[];
  replyTo: MimeAddress | null;
  subject: string;
  text?: string;
  html?: string;
  attachments: Array<{ filename: string; contentType?: string; content: Buffer }>;
  inReplyTo?: string;
  references?: string[];
  headers: Record<string, string>;
  /** null: send now */
  sendAt: Date | null;
  /** every envelope recipient (to, cc, bcc) once, whatever the letter case */
  recipients: string[];
}

/** Attachments together, decoded: most providers refuse more than 20-25 MB per message. */
export const MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024;
export const MAX_RECIPIENTS = 1000;
/** A sendAt this far in the past still counts as "now" (clock skew between the caller and us). */
const SEND_AT_SKEW_MS = 60_000;

const EMAIL_RE = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;
const HEADER_NAME_RE = /^X-[A-Za-z0-9-]{1,76}$/i;
/**
 * Base64 once its whitespace is gone. Checked in two linear steps: one pattern that also let line
 * breaks and trailing whitespace through took time quadratic in the number of line breaks (20,000
 * took 0.6 s; a 1 MB request of them would have held the event loop for minutes).
 */
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const WHITESPACE = /\s+/g;
/** Headers the composer sets itself, even when spelled as X- (none today; kept as the one place to add them). */
const LINE_BREAK = /[\r\n]/;

function noBreak(field: string, value: string | null | undefined): void {
  if (value !== null && value !== undefined && (LINE_BREAK.test(value) || value.includes('\u0000'))) {
    throw invalid(field, `${field} must not contain a line break (CR or LF) or a NUL character`);
  }
}

function address(field: string, a: AddressInput): MimeAddress {
  const value = typeof a === 'string' ? { address: a } : a;
  noBreak(`${field}.address`, value.address);
  noBreak(`${field}.name`, value.name);
  const addr = String(value.address ?? '').trim();
  // the length first: the pattern backtracks on long strings
  if (addr.length > 254 || !EMAIL_RE.test(addr)) throw invalid(typeof a === 'string' ? field : `${field}.address`, `${field} must be an address such as name@example.com`);
  return { name: value.name?.trim() || null, address: addr };
}

function addressList(field: string, list: AddressInput | AddressInput[] | undefined): MimeAddress[] {
  if (list === undefined) return [];
  const items = Array.isArray(list) ? list : [list];
  return items.map((a, i) => address(Array.isArray(list) ? `${field}.${i}` : field, a));
}

/** Checks a message and brings it into the composer's shape. `now` decides whether sendAt is past. */
export function normalizeMessage(input: MessageInput, now: Date): NormalizedMessage {
  const to = addressList('to', input.to);
  const cc = addressList('cc', input.cc);
  const bcc = addressList('bcc', input.bcc);
  // one RCPT per mailbox: repeats (in any letter case) are dropped, the first spelling is kept
  const seen = new Map<string, string>();
  for (const a of [...to, ...cc, ...bcc]) if (!seen.has(a.address.toLowerCase())) seen.set(a.address.toLowerCase(), a.address);
  const recipients = [...seen.values()];
  if (recipients.length === 0) throw invalid('to', 'at least one recipient is required (to, cc or bcc)');
  if (recipients.length > MAX_RECIPIENTS) throw invalid('to', `at most ${MAX_RECIPIENTS} recipients per message`);
  const replyTo = input.replyTo === undefined ? null : address('replyTo', input.replyTo);

  noBreak('subject', input.subject);
  if (typeof input.subject !== 'string') throw invalid('subject', 'subject is required');
  if (input.text === undefined && input.html === undefined) throw invalid('text', 'give text, html, or both');

  noBreak('inReplyTo', input.inReplyTo);
  const references = input.references === undefined ? undefined : Array.isArray(input.references) ? input.references : [input.references];
  references?.forEach((r, i) => noBreak(Array.isArray(input.references) ? `references.${i}` : 'references', r));

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    if (!HEADER_NAME_RE.test(name)) throw invalid(`headers.${name}`, `only custom headers whose name starts with "X-" (letters, digits and "-") may be set; "${name.slice(0, 80)}" is not one`);
    noBreak(`headers.${name}`, value);
    headers[name] = value;
  }

  let total = 0;
  const attachments = (input.attachments ?? []).map((a, i) => {
    noBreak(`attachments.${i}.filename`, a.filename);
    noBreak(`attachments.${i}.contentType`, a.contentType);
    if (!BASE64_RE.test(a.content.replace(WHITESPACE, ''))) throw invalid(`attachments.${i}.content`, 'content must be base64');
    const content = Buffer.from(a.content, 'base64');
    total += content.length;
    if (total > MAX_ATTACHMENT_BYTES) throw invalid(`attachments.${i}.content`, `attachments may be at most ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MB together`);
    return { filename: a.filename, contentType: a.contentType, content };
  });

  let sendAt: Date | null = null;
  if (input.sendAt !== undefined) {
    const t = Date.parse(input.sendAt);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(input.sendAt) || Number.isNaN(t)) throw invalid('sendAt', 'sendAt must be an ISO 8601 time such as 2030-01-31T09:00:00Z');
    if (t < now.getTime() - SEND_AT_SKEW_MS) throw invalid('sendAt', 'sendAt is in the past; leave it out to send now');
    sendAt = t > now.getTime() ? new Date(t) : null;
  }

  return { to, cc, bcc, replyTo, subject: input.subject, text: input.text, html: input.html, attachments, inReplyTo: input.inReplyTo, references, headers, sendAt, recipients };
}

/** A stable digest of a request body: the same body (key order aside) gives the same hash. */
export function requestHash(body: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canonical(body))).digest('hex');
}
