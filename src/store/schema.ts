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
  /** JSON array of {address, response}; with `retryId`, the follow-up job that tries a refused-for-now address again */
  rejected: string | null;
  sent_at: string | null;
  /** null | pending | stored | skipped | failed */
  sent_copy: string | null;
  sent_copy_attempts: number;
  sent_copy_next_at: string | null;
  /** own | platform: which way the message went out; null until sent */
  via: string | null;
  /**
   * a follow-up (0013): the job that first sent this message, whose server refused these
   * recipients for now (4xx at RCPT TO) while it took it for others; null for an ordinary job
   */
  retry_of: string | null;
  /** the moment a message's age limit counts from when it is later than its due time: the end of its last wait for its account or limits */
  age_from: string | null;
  created_at: string;
  updated_at: string;
}

/** The message of an outbox job (0011): its bytes, or until its first send the message as accepted. */
export interface OutboxBodiesTable {
  /** outbox.id */
  id: string;
  /** the composed message, the exact bytes sent (blob on SQLite, bytea on PostgreSQL); null while only the draft is kept */
  raw: Buffer | null;
  /** JSON of the message as accepted (the composer's input, Message-ID and Date fixed); null once composed */
  draft: string | null;
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

/** An operator's OAuth app (POST /v1/oauth-apps); the client secret is sealed. */
export interface OAuthAppsTable {
  id: string;
  /** google | microsoft */
  provider: string;
  client_id: string;
  /** sealed by SecretBox (associated data `oauth_app:<id>:secret`) */
  client_secret_enc: string;
  authorization_endpoint: string;
  token_endpoint: string;
  /** expected ID-token issuer; `{tenantid}` stands for the token's `tid` claim */
  issuer: string;
  /** Microsoft authority: common | consumers | organizations | a tenant id; null for Google */
  tenant: string | null;
  /** JSON array of the mail scopes */
  scopes: string;
  created_at: string;
}

/** A pending sign-in: single use (used_at), expiring; only the state's SHA-256 is kept. */
export interface OAuthStatesTable {
  id: string;
  state_hash: string;
  tenant_id: string;
  account_id: string;
  app_id: string;
  /** sealed PKCE code verifier (associated data `oauth_state:<id>:verifier`) */
  verifier_enc: string;
  nonce: string;
  return_url: string | null;
  expires_at: string;
  used_at: string | null;
  created_at: string;
}

/** The tokens of a signed-in account, sealed (associated data `account:<id>:access_token|refresh_token`). */
export interface OAuthTokensTable {
  account_id: string;
  app_id: string;
  access_token_enc: string;
  refresh_token_enc: string | null;
  expires_at: string | null;
  scope: string | null;
  updated_at: string;
}

/** One message exchanged through a connected mailbox (received, or sent by any means). */
export interface MailMessagesTable {
  id: string;
  tenant_id: string;
  account_id: string;
  /** in | out */
  direction: string;
  /** the folder it was first seen in (or the Sent folder name when recorded at send time) */
  folder: string;
  /** the Message-ID header with its angle brackets; unique per account; null when absent */
  message_id: string | null;
  thread_id: string;
  /** JSON {name, address} or null */
  from_json: string | null;
  /** JSON [{name, address}] */
  to_json: string;
  cc_json: string;
  subject: string;
  /** the subject without Re:/Fwd:/AW: prefixes, lower-cased: the threading fallback */
  subject_key: string;
  /** ISO 8601: the Date header, else the server's internal date, else when it was recorded */
  date: string;
  snippet: string;
  has_attachments: number;
  /** JSON [{filename, contentType, size, partId}] */
  attachments_json: string;
  /** bytes of the raw message */
  size: number;
  /** why the message could only be read in part; null when it parsed completely */
  parse_error: string | null;
  /** the outbox job that sent it, when it went out through Mailport */
  outbox_id: string | null;
  created_at: string;
  updated_at: string;
}

/** The bulky parts of a recorded message, apart from the row that threading and lists read and update. */
export interface MailMessageBodiesTable {
  /** mail_messages.id */
  message_pk: string;
  text: string | null;
  html: string | null;
  /** JSON [{name, value}] */
  headers_json: string;
  /** the message as received or sent (blob on SQLite, bytea on PostgreSQL) */
  raw: Buffer;
}

/** Where a message was seen: one row per (account, folder, UIDVALIDITY, UID). */
export interface MailMessageSourcesTable {
  message_pk: string;
  account_id: string;
  folder: string;
  /** bigint: PostgreSQL hands these back as strings */
  uid_validity: number | string;
  uid: number | string;
  created_at: string;
  /** JSON array of the message's flags in this folder, as last seen */
  flags: string | null;
  /** the message's MODSEQ there (text: 63-bit) */
  modseq: string | null;
  /** when the message was found expunged from this folder; null while it is there */
  expunged_at: string | null;
}

/** One row per receiving account: its lease (owner, fencing token, expiry) and what its session last saw. */
export interface SyncAccountsTable {
  account_id: string;
  tenant_id: string;
  /** imap | pop3 */
  protocol: string;
  lease_owner: string | null;
  /** the fencing token: grows on every claim; bigint (PostgreSQL hands it back as a string) */
  lease_token: number | string;
  lease_expires_at: string | null;
  /** connecting | syncing | idle | backoff | error | waiting | stopped */
  state: string;
  /** JSON {code, message, hint, at} */
  last_error: string | null;
  last_ok_at: string | null;
  initial_done_at: string | null;
  updated_at: string;
}

/** IMAP state per account and folder. */
export interface SyncFoldersTable {
  account_id: string;
  path: string;
  /** inbox | sent | extra */
  role: string;
  uid_validity: number | string;
  uid_next: number | string;
  highest_modseq: string | null;
  initial_done: number;
  /** while the initial sync runs: every UID at or above this one has been fetched */
  backfill_uid: number | string | null;
  synced_at: string;
}

export interface SyncNodesTable {
  id: string;
  heartbeat_at: string;
  started_at: string;
}

export interface PopSeenTable {
  account_id: string;
  uidl: string;
  message_pk: string | null;
  seen_at: string;
}

/** The other parties of a message (lower-cased addresses), with its date for ordered paging. */
export interface MailMessageContactsTable {
  message_pk: string;
  tenant_id: string;
  account_id: string;
  address: string;
  date: string;
}

/** The Message-IDs a message refers to (In-Reply-To and References). */
export interface MailMessageRefsTable {
  message_pk: string;
  account_id: string;
  ref: string;
}

/** A tenant's campaign: a named queue that receiving accounts deliver new inbound mail into. */
export interface CampaignsTable {
  id: string;
  tenant_id: string;
  name: string;
  /** the account it was created for (accounts.campaign_id says which accounts deliver into it now) */
  account_id: string;
  created_at: string;
  updated_at: string;
}

/** One inbound message in one campaign's queue (unique per campaign and message). */
export interface CampaignQueueItemsTable {
  id: string;
  campaign_id: string;
  tenant_id: string;
  account_id: string;
  /** mail_messages.id */
  message_pk: string;
  /** the Message-ID header, copied from the message; null when it has none */
  message_id: string | null;
  /** JSON {name, address} or null, copied from the message */
  from_json: string | null;
  subject: string;
  /** the message's date */
  received_at: string;
  /** queued | claimed | done */
  status: string;
  claimed_at: string | null;
  done_at: string | null;
  /** when it was queued */
  created_at: string;
  updated_at: string;
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
  outbox_bodies: OutboxBodiesTable;
  connect_sessions: ConnectSessionsTable;
  send_limit_accounts: SendLimitAccountsTable;
  send_limit_ledger: SendLimitLedgerTable;
  send_limit_blocks: SendLimitBlocksTable;
  oauth_apps: OAuthAppsTable;
  oauth_states: OAuthStatesTable;
  oauth_tokens: OAuthTokensTable;
  mail_messages: MailMessagesTable;
  mail_message_bodies: MailMessageBodiesTable;
  mail_message_sources: MailMessageSourcesTable;
  mail_message_contacts: MailMessageContactsTable;
  mail_message_refs: MailMessageRefsTable;
  sync_accounts: SyncAccountsTable;
  sync_folders: SyncFoldersTable;
  sync_nodes: SyncNodesTable;
  pop_seen: PopSeenTable;
  campaigns: CampaignsTable;
  campaign_queue_items: CampaignQueueItemsTable;
}
