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

export interface Database {
  settings: SettingsTable;
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
  accounts: AccountsTable;
}
