/**
 * The one error catalog of Mailport. Every failure that crosses a module boundary is a
 * {@link MailportError} with a code from {@link ERRORS}; docs/errors.md documents each code
 * (a test keeps the two in step). Library errors never cross a boundary raw: the module that
 * called the library translates them and keeps the original as `cause`.
 *
 * @example
 *   throw new MailportError('AUTH_FAILED', { protocol: 'smtp', cause: err });
 *   throw new MailportError('INVALID_INPUT', { field: 'smtp.port', message: 'port must be a whole number from 1 to 65535' });
 */

/** What a caller should do about an error: one table drives workers, status and HTTP. */
export type ErrorAction =
  /** the request itself is wrong; nothing to retry */
  | 'reject'
  /** a person must change settings or credentials; do not retry automatically */
  | 'fix_settings'
  /** a person must sign in again (OAuth) */
  | 'reauthorize'
  /** temporary: try again later with backoff */
  | 'retry_later'
  /** permanent for this message; do not retry */
  | 'fail';

export type ErrorCategory = 'input' | 'access' | 'mail_server' | 'internal';

interface ErrorSpec {
  status: number;
  category: ErrorCategory;
  action: ErrorAction;
  message: string;
  hint?: string;
}

export const ERRORS = {
  // ---- API input and access ----
  INVALID_INPUT: { status: 400, category: 'input', action: 'reject', message: 'The request is not valid.' },
  UNAUTHORIZED: { status: 401, category: 'access', action: 'reject', message: 'A valid bearer token is required.', hint: 'Send "Authorization: Bearer <token>" with an admin token, a tenant API key or a connect-session token.' },
  FORBIDDEN: { status: 403, category: 'access', action: 'reject', message: 'This token may not do that.', hint: 'Use the admin token for tenant and OAuth-app management, and a tenant API key for tenant data.' },
  NOT_FOUND: { status: 404, category: 'input', action: 'reject', message: 'Not found.' },
  CONFLICT: { status: 409, category: 'input', action: 'reject', message: 'The request conflicts with the current state.' },
  PAYLOAD_TOO_LARGE: { status: 413, category: 'input', action: 'reject', message: 'The request body is too large.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, category: 'input', action: 'reject', message: 'Send the body as application/json.' },
  RATE_LIMITED: { status: 429, category: 'access', action: 'retry_later', message: 'Too many requests.', hint: 'Wait a moment and try again.' },
  INTERNAL: { status: 500, category: 'internal', action: 'retry_later', message: 'Something went wrong inside Mailport.', hint: 'Try again; if it keeps happening, the operator can find the request id in the logs.' },
  UNAVAILABLE: { status: 503, category: 'internal', action: 'retry_later', message: 'Mailport is not ready.', hint: 'Try again in a moment.' },

  // ---- mail servers (API.md "Mail-server codes") ----
  AUTH_FAILED: { status: 422, category: 'mail_server', action: 'fix_settings', message: 'The mail server did not accept the username or password.', hint: 'Check the username (usually the full email address) and re-enter the password.' },
  APP_PASSWORD_REQUIRED: { status: 422, category: 'mail_server', action: 'fix_settings', message: 'This provider does not accept your normal password from other apps.', hint: 'Create an app password in your email account\'s security settings and enter it instead of your normal password.' },
  OAUTH_REQUIRED: { status: 422, category: 'mail_server', action: 'fix_settings', message: 'This mailbox does not allow password sign-in (basic authentication is turned off).', hint: 'Use "Sign in with Microsoft" (Activate Outlook) or "Sign in with Google" instead of a password, or ask your administrator to enable authenticated SMTP.' },
  TLS_MISMATCH: { status: 422, category: 'mail_server', action: 'fix_settings', message: 'The encryption setting does not match this port.', hint: 'Use SSL/TLS with ports 465, 993 and 995, and STARTTLS with ports 587, 143 and 110.' },
  STARTTLS_UNAVAILABLE: { status: 422, category: 'mail_server', action: 'fix_settings', message: 'The server does not offer STARTTLS encryption on this port.', hint: 'Choose SSL/TLS with the server\'s SSL port (465, 993 or 995), or ask your provider for the secure settings.' },
  CERT_INVALID: { status: 422, category: 'mail_server', action: 'fix_settings', message: 'The server\'s security certificate could not be trusted (untrusted, expired, or issued for another name).', hint: 'Use the exact host name your provider gives (on shared hosting often the server\'s own name rather than your domain); if it is right, the provider must renew its certificate.' },
  HOST_NOT_FOUND: { status: 422, category: 'mail_server', action: 'fix_settings', message: 'The server name could not be found.', hint: 'Check the spelling of the server name (for example smtp.example.com).' },
  CONNECTION_REFUSED: { status: 422, category: 'mail_server', action: 'fix_settings', message: 'The server refused the connection on this port.', hint: 'Check the port number; common ports are 465 or 587 for sending, 993 for IMAP and 995 for POP3.' },
  TIMEOUT: { status: 422, category: 'mail_server', action: 'retry_later', message: 'The server did not answer in time.', hint: 'Check the server name and port; a firewall may be blocking this port.' },
  ADDRESS_BLOCKED: { status: 422, category: 'mail_server', action: 'fix_settings', message: 'This server address is not allowed.', hint: 'Use the public host name of your mail provider; private and local network addresses are blocked.' },
  POP_ONLY: { status: 422, category: 'mail_server', action: 'fix_settings', message: 'This server offers POP3 but not IMAP.', hint: 'Choose POP3 for receiving. POP3 can only receive: sent mail cannot be recorded.' },
  PROTOCOL_ERROR: { status: 422, category: 'mail_server', action: 'retry_later', message: 'The server answered in a way Mailport did not expect.', hint: 'Check that the host and port belong to the right kind of server (SMTP for sending, IMAP or POP3 for receiving).' },
  SEND_REJECTED: { status: 422, category: 'mail_server', action: 'fail', message: 'The mail server refused the message.', hint: 'Read the server\'s reply; check the recipient addresses and the From address.' },
  LIMIT_REACHED: { status: 422, category: 'mail_server', action: 'retry_later', message: 'The sending limit for this mailbox has been reached.', hint: 'Mail will go out when the limit window allows; lower the volume or raise the limit if your provider allows more.' },
  OAUTH_REVOKED: { status: 422, category: 'mail_server', action: 'reauthorize', message: 'Access to this mailbox was revoked or has expired.', hint: 'Sign in again.' },

  // ---- OAuth sign-in (the callback redirects to returnUrl with status=error&code=...) ----
  OAUTH_WRONG_ACCOUNT: { status: 422, category: 'access', action: 'reauthorize', message: 'You signed in with a different email address than the one this account is for.', hint: 'Sign in again with the address shown for this account, or add an account for the address you used.' },
  OAUTH_FAILED: { status: 422, category: 'access', action: 'reauthorize', message: 'The sign-in with the provider did not complete.', hint: 'Try signing in again; if it keeps failing, the operator should check the OAuth app (client id, secret and redirect URI).' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** Codes that describe a mail server's answer (used for account status and verification checks). */
export const MAIL_SERVER_CODES = (Object.keys(ERRORS) as ErrorCode[]).filter((c) => ERRORS[c].category === 'mail_server');

export type Protocol = 'smtp' | 'imap' | 'pop3' | 'oauth';

export interface MailportErrorOptions {
  message?: string;
  hint?: string;
  field?: string;
  protocol?: Protocol;
  /** the server's own reply line, when there is one (kept for people, never parsed again) */
  response?: string;
  cause?: unknown;
}

export class MailportError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly category: ErrorCategory;
  readonly action: ErrorAction;
  readonly hint?: string;
  readonly field?: string;
  readonly protocol?: Protocol;
  readonly response?: string;

  constructor(code: ErrorCode, options: MailportErrorOptions = {}) {
    const spec: ErrorSpec = ERRORS[code];
    super(options.message ?? spec.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MailportError';
    this.code = code;
    this.status = spec.status;
    this.category = spec.category;
    this.action = spec.action;
    this.hint = options.hint ?? spec.hint;
    this.field = options.field;
    this.protocol = options.protocol;
    this.response = options.response;
  }

  /** The API's error body: `{error: {code, message, hint?, field?, protocol?}}`. */
  toBody(): { error: { code: ErrorCode; message: string; hint?: string; field?: string; protocol?: Protocol } } {
    const error: { code: ErrorCode; message: string; hint?: string; field?: string; protocol?: Protocol } = { code: this.code, message: this.message };
    if (this.hint) error.hint = this.hint;
    if (this.field) error.field = this.field;
    if (this.protocol) error.protocol = this.protocol;
    return { error };
  }
}

export function isMailportError(err: unknown): err is MailportError {
  return err instanceof MailportError;
}

/** Shorthand for a 400 on one field. */
export function invalid(field: string, message: string): MailportError {
  return new MailportError('INVALID_INPUT', { field, message });
}

export function notFound(what: string): MailportError {
  return new MailportError('NOT_FOUND', { message: `${what} not found.` });
}
