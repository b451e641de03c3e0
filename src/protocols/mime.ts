/**
 * Composing outgoing messages into RFC 5322 bytes with nodemailer's MailComposer (only
 * protocols/ touches nodemailer). UTF-8 names and subjects are encoded as encoded-words,
 * attachments as base64 parts; Bcc never appears in the header, only in the envelope.
 *
 * @example
 *   const { raw, envelope } = await composeMime({ from: { name: 'Zoë', address: 'z@example.com' },
 *     to: [{ name: '', address: 'a@example.org' }], subject: 'Grüße', text: 'Hallo', messageId: '<x@example.com>' });
 */
import MailComposer from 'nodemailer/lib/mail-composer/index.js';

export interface MimeAddress {
  name?: string | null;
  address: string;
}

export interface MimeInput {
  from: MimeAddress;
  to?: MimeAddress[];
  cc?: MimeAddress[];
  bcc?: MimeAddress[];
  replyTo?: MimeAddress | null;
  subject: string;
  text?: string;
  html?: string;
  attachments?: Array<{ filename: string; contentType?: string; content: Buffer }>;
  inReplyTo?: string;
  references?: string[];
  /** custom headers (`X-...`), already checked by the caller */
  headers?: Record<string, string>;
  /** with the angle brackets */
  messageId: string;
  date: Date;
}

export interface Composed {
  raw: Buffer;
  envelope: { from: string; to: string[] };
}

const addr = (a: MimeAddress) => (a.name ? { name: a.name, address: a.address } : a.address);

/** printable ASCII: an address or name of only these is written as it is (a name quoted), never as encoded words */
const PRINTABLE = /^[\x20-\x7e]*$/;
/** the same, with tabs and line ends: text of only these has no character nodemailer counts against quoted-printable */
const PLAIN_TEXT = /^[\t\n\r\x20-\x7e]*$/;
const LETTER = /[A-Za-z]/;

/**
 * A header value (subject, custom header) nodemailer either writes as it is or encodes as the
 * hint says: printable ASCII, and either a letter in it (the rule's choice for it is then
 * quoted-printable too) or nothing that makes nodemailer encode printable ASCII (a double quote,
 * or what looks like an encoded word: `"2030"` is written `=?UTF-8?B?IjIwMzAi?=` by its rule).
 */
const plainHeader = (v: string) => PRINTABLE.test(v) && (LETTER.test(v) || (!v.includes('"') && !v.includes('=?')));

/**
 * Quoted-printable when nodemailer's own rule would pick it for every part of a message, found
 * without the rule's cost; undefined (nodemailer decides) for anything else. For each text part
 * the rule counts the part's characters, twice per message (a third of the composer's time for 10
 * KB of text): more Latin letters than control or non-ASCII characters is quoted-printable, else
 * base64. Text of printable ASCII, tabs and line ends with a letter in it is quoted-printable by
 * that rule. The choice is the composer's `textEncoding`, which it uses for the encoded words of
 * header values and names too, so those must be such that the choice makes no difference
 * ({@link plainHeader}), and attachments absent (a text attachment's bytes are counted the same
 * way). A test checks the bytes are the same.
 */
function textEncodingOf(input: MimeInput): 'quoted-printable' | undefined {
  if (input.attachments?.length) return undefined;
  const bodies = [input.text, input.html].filter((b): b is string => b !== undefined);
  if (bodies.length === 0 || !bodies.every((b) => PLAIN_TEXT.test(b) && LETTER.test(b))) return undefined;
  const people = [input.from, ...(input.to ?? []), ...(input.cc ?? []), ...(input.bcc ?? []), ...(input.replyTo ? [input.replyTo] : [])];
  const ids = [input.inReplyTo ?? '', ...(input.references ?? [])];
  const plain = [input.subject, ...Object.values(input.headers ?? {})].every(plainHeader) && [...ids, ...people.flatMap((p) => [p.name ?? '', p.address])].every((v) => PRINTABLE.test(v));
  return plain ? 'quoted-printable' : undefined;
}

/** Builds the message bytes and the SMTP envelope (every to, cc and bcc address). */
export async function composeMime(input: MimeInput): Promise<Composed> {
  const composer = new MailComposer({
    from: addr(input.from),
    to: input.to?.map(addr),
    cc: input.cc?.map(addr),
    bcc: input.bcc?.map(addr),
    replyTo: input.replyTo ? addr(input.replyTo) : undefined,
    subject: input.subject,
    text: input.text,
    html: input.html,
    attachments: input.attachments?.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content })),
    inReplyTo: input.inReplyTo,
    references: input.references,
    headers: input.headers,
    messageId: input.messageId,
    date: input.date,
    textEncoding: textEncodingOf(input),
    // nothing in a message may make the composer read a file or fetch a URL
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const node = composer.compile();
  const envelope = node.getEnvelope();
  const raw = crlf(await node.build());
  return { raw, envelope: { from: envelope.from || input.from.address, to: envelope.to } };
}

/**
 * The bytes with every bare LF made CRLF. The composer keeps the text's own line ends ("Hi\nBye"
 * from a JSON body stays so in a text part), while SMTP sends lines ending in CRLF and IMAP APPEND
 * expects them: made so once here, the bytes stored are the bytes that go out and the Sent copy.
 * A lone CR stays, as SMTP's DATA leaves it.
 */
export function crlf(raw: Buffer): Buffer {
  for (let i = raw.indexOf(10); i !== -1; i = raw.indexOf(10, i + 1)) {
    if (i === 0 || raw[i - 1] !== 13) return Buffer.from(raw.toString('latin1').replace(/(?<!\r)\n/g, '\r\n'), 'latin1');
  }
  return raw;
}

/** The header block of a message and its body, split at the first empty line. */
function splitHeader(raw: Buffer): { lines: string[]; body: Buffer } {
  const end = raw.indexOf('\r\n\r\n');
  const head = end < 0 ? raw.toString('latin1') : raw.subarray(0, end).toString('latin1');
  const body = end < 0 ? Buffer.alloc(0) : raw.subarray(end + 4);
  return { lines: head.split('\r\n'), body };
}

/** Groups folded header lines into whole fields. */
function fields(lines: string[]): string[][] {
  const out: string[][] = [];
  for (const l of lines) {
    if (/^[ \t]/.test(l) && out.length) out[out.length - 1]!.push(l);
    else out.push([l]);
  }
  return out;
}

const nameOf = (field: string[]) => field[0]!.slice(0, field[0]!.indexOf(':')).trim().toLowerCase();

/**
 * Replaces the From of a composed message (and sets Reply-To unless the message already has
 * one), keeping every other byte. Used when the platform processor must send on its own domain
 * because the company's domain publishes a strict DMARC policy.
 */
export async function replaceSender(raw: Buffer, from: MimeAddress, replyTo?: string): Promise<Buffer> {
  const { lines, body } = splitHeader(raw);
  const all = fields(lines);
  const hasReplyTo = all.some((f) => nameOf(f) === 'reply-to');
  // let the composer encode the new fields exactly as it encodes any other
  const probe = await composeMime({ from, replyTo: replyTo && !hasReplyTo ? { address: replyTo } : null, subject: '', text: '', messageId: '<probe@localhost>', date: new Date(0) });
  const wanted = fields(splitHeader(probe.raw).lines).filter((f) => ['from', 'reply-to'].includes(nameOf(f)));
  const kept = all.filter((f) => nameOf(f) !== 'from');
  const head = [...wanted, ...kept].map((f) => f.join('\r\n')).join('\r\n');
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from('\r\n\r\n'), body]);
}
