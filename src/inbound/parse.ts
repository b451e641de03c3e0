/**
 * Parsing received (or sent) messages with mailparser's streaming parser, bounded for hostile
 * input. Attachments are never buffered: their decoded bytes are counted and dropped, so a 50 MB
 * attachment costs time, not memory. Only the text parts are kept, each cut at `maxTextChars`.
 * The raw message itself is what Mailport keeps (as bytes in the database); an attachment's
 * content is read back from it on demand with {@link readAttachment}.
 *
 * Nothing here throws on bad mail: a message that cannot be parsed completely (broken structure,
 * a header block over the limit, too many parts, too slow) comes back with what could be read
 * and `parseError` saying why.
 *
 * @example
 *   const parsed = await parseMessage(raw);
 *   if (parsed.parseError) log.warn({ reason: parsed.parseError }, 'stored with what could be read');
 */
import { Readable } from 'node:stream';
import { MailParser, type AddressObject, type AttachmentStream, type HeaderLines, type MessageText } from 'mailparser';

export interface ParsedAddress {
  name: string;
  address: string;
}

export interface ParsedAttachment {
  filename: string | null;
  contentType: string;
  /** decoded size in bytes */
  size: number;
  /** IMAP-style part number, to read the content back from the raw message */
  partId: string | null;
}

export interface ParsedMessage {
  /** with the angle brackets, as the header gives it; null when absent */
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  from: ParsedAddress | null;
  to: ParsedAddress[];
  cc: ParsedAddress[];
  bcc: ParsedAddress[];
  subject: string;
  /** the Date header as ISO 8601, null when absent or not a date */
  date: string | null;
  text: string | null;
  html: string | null;
  /** the header lines in order, unfolded, values as they appear (encoded words not decoded) */
  headers: Array<{ name: string; value: string }>;
  attachments: ParsedAttachment[];
  snippet: string;
  /** why the parse stopped early or text was cut; null when the whole message was read */
  parseError: string | null;
}

export interface ParseLimits {
  /** the whole parse, attachments included (default 15 s) */
  timeoutMs: number;
  /** text and html are each cut here (default 1,000,000 characters) */
  maxTextChars: number;
  /** the largest header block of one part (default 256 KiB) */
  maxHeadBytes: number;
  /** the most MIME parts (default 500) */
  maxParts: number;
  /** header lines kept for the API (default 300), each value cut at 4,000 characters */
  maxHeaderLines: number;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = Object.freeze({ timeoutMs: 15_000, maxTextChars: 1_000_000, maxHeadBytes: 256 * 1024, maxParts: 500, maxHeaderLines: 300 });

const CHUNK = 64 * 1024;
const SNIPPET_CHARS = 200;

/** The raw bytes in 64 KiB chunks: one huge chunk would make the splitter copy it whole. */
function chunks(raw: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < raw.length; i += CHUNK) yield raw.subarray(i, i + CHUNK);
    })(),
    { objectMode: false },
  );
}

function addresses(value: AddressObject | AddressObject[] | undefined): ParsedAddress[] {
  const out: ParsedAddress[] = [];
  const walk = (list: AddressObject['value']) => {
    for (const a of list) {
      if (a.group) walk(a.group);
      else if (a.address && out.length < 1000) out.push({ name: a.name ?? '', address: a.address });
    }
  };
  for (const obj of Array.isArray(value) ? value : value ? [value] : []) walk(obj.value ?? []);
  return out;
}

const MSGID = /<[^<>\s]{1,900}>/g;
function ids(value: unknown): string[] {
  const text = Array.isArray(value) ? value.join(' ') : typeof value === 'string' ? value : '';
  return (text.match(MSGID) ?? []).slice(0, 100);
}

function headerList(lines: HeaderLines | false, max: number): Array<{ name: string; value: string }> {
  if (!lines) return [];
  return lines.slice(0, max).map((l) => {
    const colon = l.line.indexOf(':');
    const name = colon > 0 ? l.line.slice(0, colon).trim() : l.key;
    const value = (colon > 0 ? l.line.slice(colon + 1) : '').replace(/\r?\n[ \t]/g, ' ').trim();
    return { name, value: value.length > 4000 ? value.slice(0, 4000) : value };
  });
}

function dateOf(lines: HeaderLines | false): string | null {
  const line = lines ? lines.find((l) => l.key === 'date') : undefined;
  if (!line) return null;
  const t = Date.parse(line.line.slice(line.line.indexOf(':') + 1).replace(/\r?\n[ \t]/g, ' ').replace(/\([^)]*\)/g, '').trim());
  return Number.isFinite(t) ? new Date(t).toISOString() : null;
}

/** The first words of the new text: quoted lines (`>`) left out, whitespace collapsed. */
export function snippetOf(text: string | null): string {
  if (!text) return '';
  const head = text.slice(0, 20_000);
  // read line by line only until the snippet is full (long mail made this a visible cost per message)
  let own = '';
  let at = 0;
  while (at < head.length && own.length < 4 * SNIPPET_CHARS) {
    const end = head.indexOf('\n', at);
    const line = head.slice(at, end === -1 ? head.length : end);
    at = end === -1 ? head.length : end + 1;
    if (!/^\s*>/.test(line)) own += ` ${line}`;
  }
  const words = collapse(own) || collapse(head.slice(0, 8 * SNIPPET_CHARS));
  // characters, not UTF-16 units (an emoji is one); only the start is split into them
  return [...words.slice(0, 2 * SNIPPET_CHARS)].slice(0, SNIPPET_CHARS).join('');
}

const collapse = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** The header block of a raw message (up to the first empty line), at most `max` bytes, cut at a line end. */
function headBlock(raw: Buffer, max: number): Buffer {
  const limit = Math.min(raw.length, max);
  const window = raw.subarray(0, limit);
  const end = window.indexOf('\r\n\r\n');
  const endLf = window.indexOf('\n\n');
  const stop = [end, endLf].filter((i) => i >= 0);
  if (stop.length) return raw.subarray(0, Math.min(...stop));
  const lastLf = window.lastIndexOf('\n');
  return lastLf > 0 ? raw.subarray(0, lastLf) : window;
}

interface RunResult {
  parser: MailParser;
  text: MessageText | null;
  attachments: ParsedAttachment[];
  error: string | null;
}

function run(raw: Buffer, limits: ParseLimits): Promise<RunResult> {
  const parser = new MailParser({
    skipTextToHtml: true,
    skipTextLinks: true,
    skipImageLinks: true,
    // html-to-text only for HTML-only mail, and never on a huge part
    maxHtmlLengthToParse: limits.maxTextChars,
    checksumAlgo: false,
    maxHeadSize: limits.maxHeadBytes,
    maxChildNodes: limits.maxParts,
  });
  const source = chunks(raw);
  const result: RunResult = { parser, text: null, attachments: [], error: null };
  return new Promise((resolve) => {
    let settled = false;
    const finish = (error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      result.error = error;
      if (error) {
        source.unpipe(parser);
        source.destroy();
        parser.destroy();
      }
      resolve(result);
    };
    const timer = setTimeout(() => finish(`the parse took longer than ${limits.timeoutMs} ms`), limits.timeoutMs);
    parser.on('data', (data: AttachmentStream | MessageText) => {
      if (data.type === 'text') {
        result.text = data;
        return;
      }
      const att = data;
      let size = 0;
      att.content.on('data', (c: Buffer) => {
        size += c.length;
      });
      att.content.on('error', () => finish('an attachment could not be decoded'));
      att.content.on('end', () => {
        result.attachments.push({ filename: att.filename ?? null, contentType: att.contentType, size, partId: att.partId });
        att.release?.();
      });
    });
    parser.on('end', () => finish(null));
    parser.on('error', (err: Error) => finish(`the message structure could not be read: ${String(err?.message ?? err).slice(0, 200)}`));
    source.on('error', () => finish('the message could not be read'));
    source.pipe(parser);
  });
}

const cut = (s: string | false | undefined, max: number): { value: string | null; cut: boolean } => {
  if (typeof s !== 'string') return { value: null, cut: false };
  return s.length > max ? { value: s.slice(0, max), cut: true } : { value: s, cut: false };
};

/**
 * Parses a raw RFC 5322 message within `limits`. Never throws for bad mail.
 *
 * @example
 *   const m = await parseMessage(Buffer.from('From: a@example.com\r\nSubject: Hi\r\n\r\nHello'));
 *   m.subject // 'Hi'; m.snippet // 'Hello'
 */
export async function parseMessage(raw: Buffer, options: Partial<ParseLimits> = {}): Promise<ParsedMessage> {
  const limits = { ...DEFAULT_PARSE_LIMITS, ...options };
  let r = await run(raw, limits);
  let error = r.error;
  if (r.parser.headerLines === false) {
    // the header block itself failed (too large, broken): read what fits of it, without the body
    // (bounded by maxHeadBytes, so it gets a time limit of its own)
    const fallback = await run(Buffer.concat([headBlock(raw, limits.maxHeadBytes - 4), Buffer.from('\r\n\r\n')]), { ...limits, timeoutMs: Math.max(limits.timeoutMs, 2_000) });
    if (fallback.parser.headerLines !== false) r = { ...fallback, text: null, attachments: [] };
    error ??= fallback.error ?? 'the header could not be read';
  }
  const p = r.parser;
  const text = cut(r.text?.text ?? (p.text || undefined), limits.maxTextChars);
  const html = cut(r.text?.html ?? (p.html || undefined), limits.maxTextChars);
  if (!error && (text.cut || html.cut)) error = `the text was cut at ${limits.maxTextChars} characters`;
  const from = addresses(p.from)[0] ?? null;
  const subject = typeof p.subject === 'string' ? p.subject.slice(0, 2000) : '';
  return {
    messageId: ids(p.messageId)[0] ?? null,
    inReplyTo: ids(p.inReplyTo)[0] ?? null,
    references: ids(p.references),
    from,
    to: addresses(p.to),
    cc: addresses(p.cc),
    bcc: addresses(p.bcc),
    subject,
    date: dateOf(p.headerLines),
    text: text.value,
    html: html.value,
    headers: headerList(p.headerLines, limits.maxHeaderLines),
    attachments: r.attachments,
    snippet: snippetOf(text.value),
    parseError: error,
  };
}

/**
 * The decoded content of one attachment, read again from the raw message (Mailport keeps the
 * raw message, not the attachments). Undefined when no attachment has that part number.
 *
 * @example
 *   const content = await readAttachment(raw, '2'); // Buffer
 */
export async function readAttachment(raw: Buffer, partId: string | null, options: Partial<ParseLimits> = {}): Promise<Buffer | undefined> {
  const limits = { ...DEFAULT_PARSE_LIMITS, ...options };
  const parser = new MailParser({ skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true, checksumAlgo: false, maxHeadSize: limits.maxHeadBytes, maxChildNodes: limits.maxParts });
  const source = chunks(raw);
  return new Promise((resolve) => {
    let found: Buffer | undefined;
    const timer = setTimeout(() => done(), limits.timeoutMs);
    const done = () => {
      clearTimeout(timer);
      source.destroy();
      parser.destroy();
      resolve(found);
    };
    parser.on('data', (data: AttachmentStream | MessageText) => {
      if (data.type !== 'attachment') return;
      const parts: Buffer[] = [];
      const wanted = found === undefined && data.partId === partId;
      data.content.on('data', (c: Buffer) => wanted && parts.push(c));
      data.content.on('end', () => {
        if (wanted) found = Buffer.concat(parts);
        data.release?.();
      });
    });
    parser.on('end', done);
    parser.on('error', done);
    source.pipe(parser);
  });
}
