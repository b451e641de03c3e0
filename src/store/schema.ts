/**
 * Table types of the Mailport database. Both dialects store the same shapes: times are ISO 8601
 * UTC strings (they sort as text), booleans are 0/1 integers, JSON is text.
 */

export interface SettingsTable {
  key: string;
  value: string;
}

export interface TenantsTable {
  id: string;
  name: string;
  company_email: string;
  from_name: string | null;
  created_at: string;
  updated_at: string;
}

export interface ApiKeysTable {
  id: string;
  tenant_id: string;
  key_hash: string;
  /** the first characters of the key, so a person can tell keys apart */
  prefix: string;
  created_at: string;
  last_used_at: string | null;
}

export interface AccountsTable {
  id: string;
  tenant_id: string;
  name: string;
  type: string;
  preset: string | null;
  email: string;
  from_name: string | null;
  username: string | null;
  /** sealed by SecretBox; null when no password is kept */
  password_enc: string | null;
  smtp_host: string | null;
  smtp_port: number | null;
  smtp_security: string | null;
  imap_host: string | null;
  imap_port: number | null;
  imap_security: string | null;
  pop_host: string | null;
  pop_port: number | null;
  pop_security: string | null;
  receive_emails: number;
  send_via: string;
  enabled: number;
  status: string;
  /** JSON {code, message, hint, at} */
  last_error: string | null;
  /** JSON [{code, message}] */
  warnings: string;
  /** JSON {perDay?, perMinute?, perHour?, recipientsPerMessage?}: the account's own (lower) limits */
  limits: string | null;
  campaign_id: string | null;
  /** fingerprint of the credentials that last failed authentication: not retried automatically */
  auth_failed_fingerprint: string | null;
  verified_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface WebhooksTable {
  id: string;
  tenant_id: string;
  url: string;
  /** JSON array of event types, or ["*"] */
  events: string;
  /** sealed by SecretBox (associated data `webhook:<id>:secret`); shown once at creation */
  secret_enc: string;
  created_at: string;
  updated_at: string;
}

export interface WebhookEventsTable {
  id: string;
  tenant_id: string;
  type: string;
  /** the exact JSON body that is signed and sent: {id, type, createdAt, tenantId, data} */
  payload: string;
  created_at: string;
}

export interface WebhookDeliveriesTable {
  id: string;
  webhook_id: string;
  event_id: string;
  /** pending | delivering | delivered | failed */
  status: string;
  attempts: number;
  next_attempt_at: string;
  last_status_code: number | null;
  /** JSON {code, message} of the last failed attempt */
  last_error: string | null;
  /** the start of the receiver's last answer (at most 500 characters) */
  response: string | null;
  created_at: string;
  /** while delivering: when it was claimed (a stale claim is taken back after the visibility timeout) */
  updated_at: string;
  delivered_at: string | null;
}

export interface WebhookAttemptsTable {
  id: string;
  delivery_id: string;
  number: number;
  at: string;
  duration_ms: number;
  status_code: number | null;
  /** JSON {code, message}, null when the receiver answered 2xx */
  error: string | null;
  response: string | null;
}

export interface ConnectSessionsTable {
  id: string;
  tenant_id: string;
  /** SHA-256 (hex) of the session token; the token itself is never stored */
  token_hash: string;
  /** where the page's "Done" button returns to; null when none was given */
  return_url: string | null;
  expires_at: string;
  created_at: string;
}

export interface OutboxTable {
  id: string;
  tenant_id: string;
  /** null: the platform processor */
  account_id: string | null;
  /** queued | sending | deferred | sent | failed */
  status: string;
  idempotency_key: string | null;
  /** sha256 of the request body, to tell a retried call from a different one with the same key */
  request_hash: string | null;
  /** the composed message, the exact bytes sent (blob on SQLite, bytea on PostgreSQL) */
  raw: Buffer;
  /** 0 while a platform send still has to decide its From (DMARC), 1 once raw is final */
  sender_resolved: number;
  envelope_from: string;
  /** JSON array of every envelope recipient (to, cc, bcc) */
  recipients: string;
  recipient_count: number;
  /** our own Message-ID, set at compose time: a retry resends the same one */
  message_id: string;
  subject: string;
  /** SMTP attempts made */
  attempts: number;
  next_attempt_at: string;
  send_at: string | null;
  /** the claim that holds the row (send, or Sent copy once sent) */
  locked_by: string | null;
  /** a claim older than this belonged to a worker that died: it is taken back */
  locked_until: string | null;
  /** JSON {code, message, hint, response, at} */
  last_error: string | null;
  response: string | null;
  /** JSON array of addresses */
  accepted: string | null;
  /** JSON array of {address, response} */
  rejected: string | null;
  sent_at: string | null;
  /** null | pending | stored | skipped | failed */
  sent_copy: string | null;
  sent_copy_attempts: number;
  sent_copy_next_at: string | null;
  created_at: string;
  updated_at: string;
}

/** One row per account that has reserved: reservations write it first, which locks the account. */
export interface SendLimitAccountsTable {
  account_id: string;
  touched_at: string;
}

/** One row per reserved message; its id is the reservation id. Rows older than 25 h are pruned. */
export interface SendLimitLedgerTable {
  id: string;
  account_id: string;
  at: string;
  /** recipients of the message (at least 1); a window counts these or 1 per row */
  recipients: number;
}

/** The provider said "over the limit": nothing goes out for the account until `until`. */
export interface SendLimitBlocksTable {
  id: string;
  account_id: string;
  until: string;
  reason: string;
  created_at: string;
}

export interface Database {
  settings: SettingsTable;
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
  accounts: AccountsTable;
  webhooks: WebhooksTable;
  webhook_events: WebhookEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  outbox: OutboxTable;
  connect_sessions: ConnectSessionsTable;
  send_limit_accounts: SendLimitAccountsTable;
  send_limit_ledger: SendLimitLedgerTable;
  send_limit_blocks: SendLimitBlocksTable;
}
