/**
 * The message as accepted, kept until its first send (`outbox_bodies.draft`): what the composer
 * takes, with the Message-ID and Date already fixed, so composing it later (in the send worker,
 * possibly on another thread) gives the message the API promised. Attachments are kept as base64.
 *
 * @example
 *   const draft = draftOf(msg, { name: 'Acme', address: 'hello@acme.test' }, '<id@acme.test>', new Date());
 *   const raw = await composeDraft(draft); // the RFC 5322 bytes
 */
import { composeMime, type MimeAddress, type MimeInput } from '../protocols/mime.js';
import type { NormalizedMessage } from './message.js';

export interface MessageDraft {
  v: 1;
  from: MimeAddress;
  to: MimeAddress[];
  cc: MimeAddress[];
  bcc: MimeAddress[];
  replyTo: MimeAddress | null;
  subject: string;
  text?: string;
  html?: string;
  attachments: Array<{ filename: string; contentType?: string; content: string }>;
  inReplyTo?: string;
  references?: string[];
  headers: Record<string, string>;
  messageId: string;
  /** ISO 8601 */
  date: string;
}

/** The draft (JSON) of a checked message sent from `from` with the given Message-ID and Date. */
export function draftOf(msg: NormalizedMessage, from: MimeAddress, messageId: string, date: Date): string {
  const draft: MessageDraft = {
    v: 1, from, to: msg.to, cc: msg.cc, bcc: msg.bcc, replyTo: msg.replyTo, subject: msg.subject, text: msg.text, html: msg.html,
    attachments: msg.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content.toString('base64') })),
    inReplyTo: msg.inReplyTo, references: msg.references, headers: msg.headers, messageId, date: date.toISOString(),
  };
  return JSON.stringify(draft);
}

/** The draft as stored (attachments still base64); throws on a draft this version does not know. */
export function readDraft(json: string): MessageDraft {
  const d = JSON.parse(json) as MessageDraft;
  if (d?.v !== 1) throw new Error(`unknown message draft version ${String((d as { v?: unknown })?.v)}`);
  return d;
}

/** The composer's input of a draft; throws on a draft this version does not know. */
export function mimeInputOf(json: string): MimeInput {
  const d = readDraft(json);
  return {
    from: d.from, to: d.to, cc: d.cc, bcc: d.bcc, replyTo: d.replyTo, subject: d.subject, text: d.text, html: d.html,
    attachments: d.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: Buffer.from(a.content, 'base64') })),
    inReplyTo: d.inReplyTo, references: d.references, headers: d.headers, messageId: d.messageId, date: new Date(d.date),
  };
}

/** Composes a draft into the message bytes. */
export async function composeDraft(json: string): Promise<Buffer> {
  return (await composeMime(mimeInputOf(json))).raw;
}
