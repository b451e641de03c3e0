import type { MailMessageDetail, MailMessageSummary, MailSourceView } from '../store/index.js';

export interface AddressView {
  name: string | null;
  address: string;
}

/** A recorded message as `GET /v1/messages` lists it (API.md "Correspondence"). */
export interface MessageView {
  id: string;
  accountId: string;
  direction: 'in' | 'out';
  folder: string;
  messageId: string | null;
  threadId: string;
  from: AddressView | null;
  to: AddressView[];
  cc: AddressView[];
  subject: string;
  date: string;
  snippet: string;
  hasAttachments: boolean;
  /** why the message could only be read in part (it is kept whole: see /raw); null when parsed completely */
  parseError: string | null;
  /** the outbox job that sent it, when it went out through Mailport */
  outboxId: string | null;
}

/** `GET /v1/messages/:id`: the list item plus bodies, headers and attachment metadata. */
export interface MessageDetailView extends MessageView {
  text: string | null;
  html: string | null;
  headers: Array<{ name: string; value: string }>;
  attachments: Array<{ filename: string | null; contentType: string; size: number }>;
  /** where the message is on the server (IMAP folder and UID) with its flags there; empty for mail never seen in a synced folder */
  locations: Array<{ folder: string; uid: number; flags: string[]; expunged: boolean }>;
}

const json = <T>(text: string | null, fallback: T): T => {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
};

const address = (a: { name?: string | null; address: string }): AddressView => ({ name: a.name ? a.name : null, address: a.address });

/**
 * @example
 *   toMessageView(row) // { id: 'eml_...', direction: 'in', from: { name: 'Bob', address: 'bob@example.com' }, ... }
 */
export function toMessageView(row: MailMessageSummary): MessageView {
  const from = json<{ name?: string; address: string } | null>(row.from_json, null);
  return {
    id: row.id,
    accountId: row.account_id,
    direction: row.direction === 'out' ? 'out' : 'in',
    folder: row.folder,
    messageId: row.message_id,
    threadId: row.thread_id,
    from: from ? address(from) : null,
    to: json<Array<{ name?: string; address: string }>>(row.to_json, []).map(address),
    cc: json<Array<{ name?: string; address: string }>>(row.cc_json, []).map(address),
    subject: row.subject,
    date: row.date,
    snippet: row.snippet,
    hasAttachments: row.has_attachments === 1,
    parseError: row.parse_error,
    outboxId: row.outbox_id,
  };
}

export function toMessageDetailView(row: MailMessageDetail, sources: MailSourceView[] = []): MessageDetailView {
  const attachments = json<Array<{ filename: string | null; contentType: string; size: number }>>(row.attachments_json, []);
  return {
    ...toMessageView(row),
    text: row.text,
    html: row.html,
    headers: json<Array<{ name: string; value: string }>>(row.headers_json, []),
    attachments: attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, size: a.size })),
    locations: sources.map((s) => ({ folder: s.folder, uid: s.uid, flags: s.flags, expunged: s.expungedAt !== null })),
  };
}
