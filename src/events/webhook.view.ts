import type { WebhookAttemptRow, WebhookDeliveryRow, WebhookRow } from '../store/index.js';

/** A subscription as the API shows it: never its secret. */
export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  createdAt: string;
  updatedAt: string;
}

/** What a failed attempt says: a code from the error catalog and a sentence for people. */
export interface AttemptError {
  code: string;
  message: string;
}

export interface AttemptView {
  attempt: number;
  at: string;
  durationMs: number;
  statusCode: number | null;
  error: AttemptError | null;
  response: string | null;
}

/** One event sent to one subscription, with every attempt made so far. */
export interface DeliveryView {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  status: 'pending' | 'delivering' | 'delivered' | 'failed';
  attempts: number;
  /** when the next attempt is due; null once delivered, failed, or while an attempt runs */
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: AttemptError | null;
  response: string | null;
  createdAt: string;
  updatedAt: string;
  deliveredAt: string | null;
  history: AttemptView[];
}

const parseError = (text: string | null): AttemptError | null => (text ? (JSON.parse(text) as AttemptError) : null);

/**
 * @example
 *   toWebhookView(row) // { id, url, events: ['account.error'], createdAt, updatedAt }
 */
export function toWebhookView(row: WebhookRow): WebhookView {
  return { id: row.id, url: row.url, events: JSON.parse(row.events) as string[], createdAt: row.created_at, updatedAt: row.updated_at };
}

/**
 * @example
 *   toDeliveryView({ ...row, event_type: 'account.error', log: [] }).status // 'pending'
 */
export function toDeliveryView(row: WebhookDeliveryRow & { event_type: string; log: WebhookAttemptRow[] }): DeliveryView {
  return {
    id: row.id,
    webhookId: row.webhook_id,
    eventId: row.event_id,
    eventType: row.event_type,
    status: row.status as DeliveryView['status'],
    attempts: row.attempts,
    nextAttemptAt: row.status === 'pending' ? row.next_attempt_at : null,
    lastStatusCode: row.last_status_code,
    lastError: parseError(row.last_error),
    response: row.response,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deliveredAt: row.delivered_at,
    history: row.log.map((a) => ({ attempt: a.number, at: a.at, durationMs: a.duration_ms, statusCode: a.status_code, error: parseError(a.error), response: a.response })),
  };
}
