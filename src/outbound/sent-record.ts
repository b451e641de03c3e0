/**
 * What a message the send worker has just composed says, as the correspondence record wants it
 * (`ParsedMessage`), taken from its draft instead of parsing the bytes again: recording a sent
 * message otherwise parsed every message it had just composed (mailparser, about 0.6 ms for 10 KB,
 * on the thread that serves the API and drives the SMTP connections).
 *
 * The record is what `parseMessage` gives for the same bytes: the header lines are read from the
 * bytes themselves (a few hundred of them), the rest comes from the draft with the rules by which
 * the composer writes a message and the parser reads it back (line ends, the part numbers of the
 * attachments). A draft outside what those rules cover (HTML only, whose text the parser derives
 * from the HTML; a lone CR; addresses with non-ASCII domains; attached messages; ...) answers null,
 * and the caller parses as before. A test checks the two agree on composed messages.
 *
 * @example
 *   const parsed = sentRecordOf(job.draft, job.raw); // null: parse the bytes instead
 *   await correspondence.recordSent(job, parsed ?? undefined);
 */
import type { ParsedAttachment, ParsedMessage } from '../inbound/parse.js';
import { snippetOf } from '../inbound/parse.js';
import { readDraft } from './draft.js';
import type { MimeAddress } from '../protocols/mime.js';

/** `parseMessage`'s defaults: text longer than this is cut there, so such a message is parsed instead */
const MAX_TEXT_CHARS = 1_000_000;
const MAX_HEADER_LINES = 300;
const MSGID = /^<[^<>\s]{1,900}>$/;
// printable ASCII only: the composer writes anything else as encoded words, which the parser decodes
const ASCII = /^[\x20-\x7e]*$/;
// no control characters in a name, subject or filename (the parser may drop or keep them)
const PLAIN = /^[^\u0000-\u001f\u007f]*$/;

function address(a: MimeAddress): { name: string; address: string } | null {
  if (!ASCII.test(a.address)) return null; // a Unicode domain is written as punycode
  const name = a.name ?? '';
  if (!PLAIN.test(name) || name !== name.trim()) return null;
  return { name, address: a.address };
}

function addresses(list: MimeAddress[] | undefined): Array<{ name: string; address: string }> | null {
  const out: Array<{ name: string; address: string }> = [];
  for (const a of list ?? []) {
    const r = address(a);
    if (!r) return null;
    out.push(r);
  }
  return out;
}

/** The top-level header lines as the parser lists them: unfolded, values as written, in order. */
function headerLines(raw: Buffer): Array<{ name: string; value: string }> | null {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = raw.toString('latin1', 0, end);
  if (!/^[\x20-\x7e\r\n\t]*$/.test(head)) return null;
  const out: Array<{ name: string; value: string }> = [];
  for (const field of head.split(/\r\n(?![ \t])/)) {
    const colon = field.indexOf(':');
    if (colon <= 0) return null;
    const value = field.slice(colon + 1).replace(/\r?\n[ \t]/g, ' ').trim();
    out.push({ name: field.slice(0, colon).trim(), value: value.length > 4000 ? value.slice(0, 4000) : value });
  }
  return out.slice(0, MAX_HEADER_LINES);
}

/** The value of a header field, lower case, up to its first `;`. */
function mimeType(headers: Array<{ name: string; value: string }>): string | null {
  const h = headers.find((x) => x.name.toLowerCase() === 'content-type');
  return h ? h.value.split(';')[0]!.trim().toLowerCase() : null;
}

/**
 * The content types the composer gave the attachments, read from the parts of a multipart/mixed
 * message (attachments follow the body part, in order); null when the bytes are not shaped so.
 */
function attachmentTypes(raw: Buffer, headers: Array<{ name: string; value: string }>, count: number): string[] | null {
  const ct = headers.find((x) => x.name.toLowerCase() === 'content-type')?.value ?? '';
  const boundary = /boundary="([^"]+)"/i.exec(ct)?.[1];
  if (!boundary || mimeType(headers) !== 'multipart/mixed') return null;
  const delimiter = Buffer.from(`\r\n--${boundary}\r\n`);
  const types: string[] = [];
  let at = raw.indexOf(delimiter);
  for (let part = 0; at >= 0; part++) {
    const start = at + delimiter.length;
    if (part > 0) {
      const end = raw.indexOf('\r\n\r\n', start);
      if (end < 0) return null;
      const partHeaders = headerLines(Buffer.concat([raw.subarray(start, end), Buffer.from('\r\n\r\n')]));
      const type = partHeaders && mimeType(partHeaders);
      if (!type) return null;
      types.push(type);
    }
    at = raw.indexOf(delimiter, start);
  }
  return types.length === count ? types : null;
}

/**
 * The correspondence record of a message composed from `draft` into `raw` (exactly those bytes),
 * equal to what `parseMessage(raw)` gives; null when the draft is outside what this covers.
 */
export function sentRecordOf(draft: string, raw: Buffer): ParsedMessage | null {
  const m = readDraft(draft);
  const from = address(m.from);
  const to = addresses(m.to);
  const cc = addresses(m.cc);
  if (!from || !to || !cc) return null;
  if (!PLAIN.test(m.subject) || m.subject !== m.subject.trim() || m.subject.length > 2000) return null;
  if (m.inReplyTo != null && !MSGID.test(m.inReplyTo)) return null;
  const references = m.references ?? [];
  if (references.length > 100 || !references.every((r) => MSGID.test(r))) return null;
  if (!MSGID.test(m.messageId)) return null;

  const headers = headerLines(raw);
  if (!headers) return null;

  // text: required (HTML alone gets a text the parser derives from it); line ends become LF; a
  // message of one part ends with a line break, unless it is written in base64
  const attachments = m.attachments;
  const hasHtml = m.html !== undefined;
  if (!m.text || /\r(?!\n)/.test(m.text) || m.text.length > MAX_TEXT_CHARS) return null;
  if (hasHtml && (!m.html || /\r(?!\n)/.test(m.html!) || m.html!.length > MAX_TEXT_CHARS)) return null;
  let text = m.text.replace(/\r\n/g, '\n');
  const base64 = headers.some((h) => h.name.toLowerCase() === 'content-transfer-encoding' && h.value.toLowerCase() === 'base64');
  if (!hasHtml && attachments.length === 0 && !base64 && !text.endsWith('\n')) text += '\n';
  const html = hasHtml ? m.html!.replace(/\r\n/g, '\n') : null;
  let parts: ParsedAttachment[] = [];
  if (attachments.length > 0) {
    const types = attachmentTypes(raw, headers, attachments.length);
    // attached messages and multiparts are read into by the parser: parse those
    if (!types || types.some((t) => t.startsWith('message/') || t.startsWith('multipart/'))) return null;
    if (!attachments.every((a) => PLAIN.test(a.filename) && a.filename === a.filename.trim() && a.filename.length > 0)) return null;
    // the body part (text, or text and HTML together) is part 1; the attachments follow it
    parts = attachments.map((a, i) => ({ filename: a.filename, contentType: types[i]!, size: Buffer.byteLength(a.content, 'base64'), partId: String(i + 2) }));
  }

  return {
    messageId: m.messageId,
    inReplyTo: m.inReplyTo ?? null,
    references: [...references],
    from,
    to,
    cc,
    bcc: [], // never in the bytes
    subject: m.subject,
    // the Date header has whole seconds
    date: new Date(Math.floor(Date.parse(m.date) / 1000) * 1000).toISOString(),
    text,
    html,
    headers,
    attachments: parts,
    snippet: snippetOf(text),
    parseError: null,
  };
}
