import type { OutboxSummary } from '../store/index.js';

/** `lastError` of an outbox job: the classified failure of the last attempt, with the server's reply. */
export interface JobError {
  code: string;
  message: string;
  hint: string | null;
  response: string | null;
  at: string;
}

/** The outbox object of API.md (`GET /v1/outbox/:id`), plus the times people ask for. */
export interface OutboxView {
  id: string;
  accountId: string | null;
  status: 'queued' | 'sending' | 'deferred' | 'sent' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  lastError: JobError | null;
  response: string | null;
  messageId: string;
  sentAt: string | null;
  sentCopy: 'stored' | 'skipped' | 'failed' | null;
  /** which way it went out: the account's own SMTP or the platform processor; null until sent */
  via: 'own' | 'platform' | null;
  accepted: string[];
  /** `retryId`: the follow-up job that sends to a recipient refused for now (4xx) again */
  rejected: Array<{ address: string; response: string; retryId?: string }>;
  /** a follow-up: the job that first sent this message; null for an ordinary job */
  retryOf: string | null;
  subject: string;
  sendAt: string | null;
  createdAt: string;
  updatedAt: string;
}

const json = <T>(text: string | null, fallback: T): T => {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
};

/**
 * A job as the API shows it: no message bytes, no envelope internals; `sentCopy` is null while
 * the copy is still pending, and `nextAttemptAt` only while another attempt is planned.
 *
 * @example
 *   toOutboxView(row) // { id: 'msg_...', status: 'deferred', nextAttemptAt: '2030-...', ... }
 */
export function toOutboxView(row: OutboxSummary): OutboxView {
  const status = row.status as OutboxView['status'];
  const sentCopy = row.sent_copy === 'stored' || row.sent_copy === 'skipped' || row.sent_copy === 'failed' ? row.sent_copy : null;
  return {
    id: row.id,
    accountId: row.account_id,
    status,
    attempts: row.attempts,
    nextAttemptAt: status === 'queued' || status === 'deferred' ? row.next_attempt_at : null,
    lastError: json<JobError | null>(row.last_error, null),
    response: row.response,
    messageId: row.message_id,
    sentAt: row.sent_at,
    sentCopy,
    via: row.via === 'own' || row.via === 'platform' ? row.via : null,
    accepted: json<string[]>(row.accepted, []),
    rejected: json<OutboxView['rejected']>(row.rejected, []),
    retryOf: row.retry_of,
    subject: row.subject,
    sendAt: row.send_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
