/** Shared value types. This module imports nothing of ours. */

/** `tls`: implicit TLS from the first byte; `starttls`: plain, then upgrade; `none`: no encryption. */
export type Security = 'tls' | 'starttls' | 'none';
export const SECURITIES: readonly Security[] = ['tls', 'starttls', 'none'];

/** One server a mailbox talks to. */
export interface Endpoint {
  host: string;
  port: number;
  security: Security;
}

export type AccountType = 'smtp_imap' | 'gmail' | 'outlook' | 'platform';
export const ACCOUNT_TYPES: readonly AccountType[] = ['smtp_imap', 'gmail', 'outlook', 'platform'];

export type AccountStatus = 'unverified' | 'active' | 'error';
export type StatusColor = 'grey' | 'green' | 'red';

/** What logs in: a password (PLAIN/LOGIN) or an OAuth2 access token (XOAUTH2). */
export interface Credentials {
  user: string;
  password?: string;
  accessToken?: string;
}

/** The outcome of one protocol check, as `POST /v1/accounts/:id/verify` reports it. */
export interface CheckResult {
  protocol: 'smtp' | 'imap' | 'pop3';
  ok: boolean;
  code?: string;
  message?: string;
  hint?: string;
  /** the server's reply that decided the outcome, when there was one */
  response?: string;
  ms: number;
}

export interface LastError {
  code: string;
  message: string;
  hint: string | null;
  at: string;
}
