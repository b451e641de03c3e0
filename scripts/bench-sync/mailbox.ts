/**
 * Benchmark mail: a seeded generator of realistic messages (plain text, text + HTML, a few with a
 * small attachment, UTF-8 names and subjects, threads with In-Reply-To/References), ~2–10 KB each,
 * dated within the last SPAN_DAYS days,
 * and a writer that puts N of them straight into a Maildir (`cur/`, flags in the file name, the
 * message date as the file's mtime, which Dovecot reports as INTERNALDATE).
 *
 * @example
 *   const mail = new MessageFactory(42);
 *   const m = mail.next('bench@example.test'); // { raw, messageId, date, flags }
 *   writeMaildir('/tmp/x/Maildir', 2000, 42);
 */
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GeneratedMessage {
  raw: Buffer;
  /** without angle brackets */
  messageId: string;
  date: Date;
  /** Maildir info flags: S seen, F flagged, R replied */
  flags: string;
}

const WORDS = (
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore ' +
  'magna aliqua invoice meeting report quarterly budget project deadline review update schedule customer order ' +
  'shipment tracking password reset welcome newsletter offer discount server backup database migration release notes'
).split(' ');
const PEOPLE = ['Alice Smith', 'Bob Jones', 'Carol White', 'Dave Brown', 'Eve Black', 'Frank Green', 'Grüße Müller', 'Zoë Ångström', '山田 太郎', 'José Núñez'];
const ATTACHMENTS: Array<[string, string]> = [
  ['report.pdf', 'application/pdf'],
  ['photo.jpg', 'image/jpeg'],
  ['notes.txt', 'text/plain'],
  ['sheet.xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
];
/**
 * How far back message dates (and INTERNALDATEs) go: well inside the sync engine's initial-sync
 * lookback (SyncOptions.lookbackDays, 90 by default), so every message counts for every contender.
 */
export const SPAN_DAYS = 30;
const SPAN_SECONDS = SPAN_DAYS * 24 * 3600;

/** RFC 2047 encoded-word for non-ASCII header text */
const encodeWord = (s: string) => (/[^\x20-\x7e]/.test(s) ? `=?UTF-8?B?${Buffer.from(s).toString('base64')}?=` : s);
const wrap76 = (s: string) => s.replace(/.{76}/g, '$&\r\n');

/** Deterministic messages: the same seed gives the same mailbox. */
export class MessageFactory {
  private state: number;
  private count = 0;
  /** recent messages, so replies point at something that exists */
  private readonly recent: Array<{ messageId: string; subject: string; references: string[] }> = [];
  private readonly now = Math.floor(Date.now() / 1000);

  constructor(private readonly seed: number) {
    this.state = seed >>> 0 || 1;
  }

  private random(): number {
    this.state = (Math.imul(this.state, 1664525) + 1013904223) >>> 0;
    return this.state / 4294967296;
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)];
  }

  private sentence(): string {
    const words = Array.from({ length: 6 + Math.floor(this.random() * 12) }, () => this.pick(WORDS)).join(' ');
    return `${words[0].toUpperCase()}${words.slice(1)}.`;
  }

  /** plain text of about `bytes` bytes, CRLF lines under 78 characters, a blank line now and then */
  private text(bytes: number): string {
    let out = '';
    while (out.length < bytes) {
      let line = '';
      while (line.length < 60) line += `${this.sentence()} `;
      out += `${line.trimEnd()}\r\n`;
      if (this.random() < 0.15) out += '\r\n';
    }
    return out;
  }

  private binary(bytes: number): string {
    const b = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) b[i] = (this.random() * 256) | 0;
    return wrap76(b.toString('base64'));
  }

  /** The next message, addressed to `to`; `date` defaults to a random moment of the past year. */
  next(to: string, date?: Date): GeneratedMessage {
    const i = this.count++;
    const target = 2048 + Math.floor(this.random() * 8 * 1024); // 2–10 KB
    const sender = this.pick(PEOPLE);
    const senderAddress = `${sender.split(' ')[0].normalize('NFD').replace(/[^a-z]/gi, '').toLowerCase() || 'sender'}${i % 37}@example.net`;
    const when = date ?? new Date((this.now - Math.floor(this.random() * SPAN_SECONDS)) * 1000);
    const messageId = `bench-${this.seed}-${i}@mailport-bench.example.net`;
    const reply = this.recent.length > 0 && this.random() < 0.3 ? this.pick(this.recent) : undefined;
    const subject = reply ? `Re: ${reply.subject.replace(/^Re: /, '')}` : `${this.random() < 0.1 ? 'Größe: ' : ''}${this.sentence().slice(0, 30 + Math.floor(this.random() * 30))}`;
    const references = reply ? [...reply.references.slice(-5), reply.messageId] : [];

    const headers = [
      `Return-Path: <${senderAddress}>`,
      `From: ${encodeWord(sender)} <${senderAddress}>`,
      `To: <${to}>`,
      `Subject: ${encodeWord(subject)}`,
      `Date: ${when.toUTCString().replace('GMT', '+0000')}`,
      `Message-ID: <${messageId}>`,
      'MIME-Version: 1.0',
    ];
    if (reply) headers.push(`In-Reply-To: <${reply.messageId}>`, `References: ${references.map((r) => `<${r}>`).join(' ')}`);

    let body: string;
    const kind = this.random();
    if (kind < 0.1) {
      // a small attachment next to the text
      const boundary = `=_mixed_${this.seed}_${i}`;
      const [filename, contentType] = this.pick(ATTACHMENTS);
      const attachment = this.binary(Math.floor(target * 0.4 * 0.75));
      headers.push(`Content-Type: multipart/mixed; boundary="${boundary}"`);
      body =
        `This is a multi-part message in MIME format.\r\n\r\n--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n` +
        `${this.text(target * 0.5)}\r\n--${boundary}\r\nContent-Type: ${contentType}; name="${filename}"\r\nContent-Disposition: attachment; filename="${filename}"\r\n` +
        `Content-Transfer-Encoding: base64\r\n\r\n${attachment}\r\n--${boundary}--\r\n`;
    } else if (kind < 0.4) {
      // text and HTML alternatives, as most mail programs send
      const boundary = `=_alt_${this.seed}_${i}`;
      const text = this.text(target * 0.4);
      const html = `<html><body><p>${text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/\r\n\r\n/g, '</p>\r\n<p>')}</p></body></html>\r\n`;
      headers.push(`Content-Type: multipart/alternative; boundary="${boundary}"`);
      body =
        `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${text}\r\n` +
        `--${boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${html}--${boundary}--\r\n`;
    } else {
      headers.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit');
      body = this.text(target);
    }

    this.recent.push({ messageId, subject, references });
    if (this.recent.length > 50) this.recent.shift();
    const seen = this.random() < 0.7;
    const flags = `${reply && this.random() < 0.3 ? 'R' : ''}${seen ? 'S' : ''}`;
    const flagged = this.random() < 0.03 ? 'F' : '';
    return { raw: Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body}`), messageId, date: when, flags: `${flagged}${flags}` };
  }
}

/**
 * Writes `count` messages into the Maildir `dir` (cur/, new/ and tmp/ are created). The caller
 * hands the files to Dovecot's mail user afterwards.
 */
export function writeMaildir(dir: string, to: string, count: number, seed: number): { messages: number; bytes: number } {
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
  const factory = new MessageFactory(seed);
  const base = Math.floor(Date.now() / 1000);
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const m = factory.next(to);
    bytes += m.raw.length;
    // Maildir names: unique part, S=size (lets Dovecot skip a stat), ":2," and the flags in ASCII order
    const file = join(dir, 'cur', `${base + i}.M${i}P${process.pid}.mailport-bench,S=${m.raw.length}:2,${[...m.flags].sort().join('')}`);
    writeFileSync(file, m.raw);
    utimesSync(file, m.date, m.date);
  }
  return { messages: count, bytes };
}
