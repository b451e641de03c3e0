/**
 * The error classifier: turns whatever nodemailer, imapflow, our POP3 client, Node's sockets,
 * OpenSSL or our own probes threw into one {@link MailportError} with a specific message (it
 * names host:port and what happened) and a hint (what to change).
 *
 * Order, structured signals first and text last:
 *   1. a MailportError passes through (the address guard's ADDRESS_BLOCKED / HOST_NOT_FOUND);
 *   2. the SMTP enhanced status code (5.7.139, 5.7.9, ...) — {@link ENHANCED};
 *   3. the IMAP response code ([AUTHENTICATIONFAILED], [PRIVACYREQUIRED], ...) and the POP3
 *      response code ([AUTH], [IN-USE], ...) — {@link IMAP_CODES}, {@link POP3_CODES};
 *   4. the SMTP reply code of the failed command — {@link smtpReply};
 *   5. library, Node and OpenSSL error codes — {@link CODES};
 *   6. the library's "authentication failed" flags;
 *   7. only then the server's text, for replies whose structured part is ambiguous (an IMAP
 *      [ALERT], a 535 without an enhanced code) — {@link TEXT_RULES}.
 * Finally provider facts refine a plain AUTH_FAILED: a rejected token means OAUTH_REVOKED,
 * an OAuth-only provider means OAUTH_REQUIRED, an app-password provider means
 * APP_PASSWORD_REQUIRED with a provider-specific hint.
 *
 * @example
 *   catch (err) { throw classify(err, { protocol: 'smtp', endpoint, provider }); }
 */
import { MailportError, isMailportError, type ErrorCode } from '../core/errors.js';
import type { Endpoint } from '../core/types.js';
import { GREETING_NAMES, greetingKind, isCertificateCode, type GreetingKind } from './tls.js';

export type CheckProtocol = 'smtp' | 'imap' | 'pop3';
export type CheckPhase = 'connect' | 'greeting' | 'tls' | 'auth' | 'command';

/** Provider facts from the catalog that refine classification. */
export interface ProviderFacts {
  id?: string;
  /** display name for messages ("Yahoo Mail") */
  name?: string;
  appPassword?: 'required' | 'optional' | 'no' | 'unknown';
  oauthOnly?: boolean;
  oauth?: 'google' | 'microsoft' | null;
  /** where the user creates an app password (the catalog's appPasswordUrl) */
  appPasswordUrl?: string;
  /** protocols on which the normal password works (Microsoft 365: only SMTP); absent = all */
  passwordProtocols?: Array<'smtp' | 'imap' | 'pop'>;
}

export interface ClassifyInfo {
  protocol: CheckProtocol;
  endpoint: Endpoint;
  provider?: ProviderFacts;
  phase?: CheckPhase;
  /** how the check signed in: a refused token is OAUTH_REVOKED, a refused password is not */
  auth?: 'password' | 'token';
}

/**
 * Signals Mailport's own probes produce (tls.ts), fed through the same tables as library errors.
 * Create them with {@link probeSignal}.
 */
export type ProbeSignalCode =
  /** nothing greeted a plain connection, but the port completes a TLS handshake */
  | 'MP_PORT_EXPECTS_TLS'
  /** the port's first line belongs to another protocol (`greeting` holds it) */
  | 'MP_UNEXPECTED_GREETING'
  /** IMAP is not reachable on the host but POP3 answers (`popPort`, `popSecurity`) */
  | 'MP_POP_ONLY'
  /** the check ran out of its time budget (`timeoutMs`) */
  | 'MP_DEADLINE';

export interface ProbeSignal extends Error {
  code: ProbeSignalCode;
  greeting?: string;
  popPort?: number;
  popSecurity?: 'tls' | 'starttls';
  /** what the original failure was, for logs */
  original?: unknown;
  timeoutMs?: number;
}

export function probeSignal(code: ProbeSignalCode, fields: Omit<Partial<ProbeSignal>, 'code' | 'name' | 'message'> = {}): ProbeSignal {
  const err = new Error(code, fields.original === undefined ? undefined : { cause: fields.original }) as ProbeSignal;
  Object.assign(err, fields, { code });
  return err;
}

// ---------------------------------------------------------------------------------------------
// Facts: the structured fields, read once from whichever library produced the error

interface Facts {
  /** every structured code found, most specific first (err.code, originalCode, cause.code) */
  codes: string[];
  /** SMTP reply code */
  replyCode?: number;
  /** enhanced status code (RFC 3463) from an SMTP reply, e.g. 5.7.139 */
  enhanced?: string;
  /** IMAP response code, e.g. AUTHENTICATIONFAILED, ALERT */
  imapCode?: string;
  /** POP3 response code, e.g. AUTH, IN-USE */
  popCode?: string;
  /** imapflow's authenticationFailed */
  authFailed: boolean;
  /** imapflow's tlsFailed (STARTTLS required but impossible) */
  tlsFailed: boolean;
  /** the server's reply text, if any */
  response?: string;
  /** the command in flight (nodemailer `command`, POP3 `command`) */
  command?: string;
  phase?: CheckPhase;
  timeoutType?: string;
  /** a BYE reason (imapflow) */
  reason?: string;
  oauthError?: unknown;
  signal?: ProbeSignal;
}

type Rec = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

function factsOf(err: unknown, info: ClassifyInfo): Facts {
  const e = (err && typeof err === 'object' ? err : { message: String(err) }) as Rec;
  const codes: string[] = [];
  const push = (v: unknown): void => {
    if (typeof v === 'string' && v && !codes.includes(v)) codes.push(v);
  };
  push(e.code);
  push(e.originalCode);
  // one level of cause (Pop3Error wraps socket errors; imapflow's proxy wraps as _err)
  for (const inner of [e.cause, e._err]) {
    if (inner && typeof inner === 'object') {
      push((inner as Rec).code);
      push((inner as Rec).originalCode);
    }
  }
  const response = str(e.response) ?? (typeof e.responseText === 'string' ? e.responseText : undefined);
  const replyCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  let enhanced: string | undefined;
  if (info.protocol === 'smtp' && response) {
    // "535 5.7.139 ..." or multi-line "534-5.7.9 ...\n534 5.7.9 ..."
    const m = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/m.exec(response);
    if (m) enhanced = m[1];
  }
  const phaseValue = str(e.phase);
  const phase = info.phase ?? (phaseValue && ['connect', 'greeting', 'tls', 'auth', 'command'].includes(phaseValue) ? (phaseValue as CheckPhase) : undefined);
  return {
    codes,
    replyCode,
    enhanced,
    imapCode: info.protocol === 'imap' ? str(e.serverResponseCode)?.toUpperCase() : undefined,
    popCode: info.protocol === 'pop3' ? str(e.responseCode)?.toUpperCase() : undefined,
    authFailed: e.authenticationFailed === true,
    tlsFailed: e.tlsFailed === true,
    response,
    command: str(e.command),
    phase,
    timeoutType: str(e.timeoutType),
    reason: str(e.reason),
    oauthError: e.oauthError,
    signal: typeof e.code === 'string' && e.code.startsWith('MP_') ? (e as unknown as ProbeSignal) : undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Wording

const LABEL: Record<CheckProtocol, string> = { smtp: 'SMTP', imap: 'IMAP', pop3: 'POP3' };
const SECURITY_LABEL = { tls: 'SSL/TLS', starttls: 'STARTTLS', none: 'no encryption' } as const;
/** The usual port for each protocol and security, for hints. */
const USUAL_PORT: Record<CheckProtocol, { tls: number; starttls: number }> = {
  smtp: { tls: 465, starttls: 587 },
  imap: { tls: 993, starttls: 143 },
  pop3: { tls: 995, starttls: 110 },
};

interface Ctx {
  info: ClassifyInfo;
  f: Facts;
  /** "imap.example.com:993" */
  where: string;
  /** "The IMAP server at imap.example.com:993" */
  server: string;
}

interface Decision {
  code: ErrorCode;
  message: string;
  hint?: string;
}

type Rule = (c: Ctx) => Decision | undefined;

const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

function authFailed(c: Ctx, detail?: string): Decision {
  return {
    code: 'AUTH_FAILED',
    message: `${c.server} did not accept the username or password${detail ? ` (${detail})` : ''}.`,
  };
}

function encryptionRequired(c: Ctx): Decision {
  const p = USUAL_PORT[c.info.protocol];
  return {
    code: 'TLS_MISMATCH',
    message: `${c.server} accepts a sign-in only over an encrypted connection, and "${SECURITY_LABEL[c.info.endpoint.security]}" was chosen.`,
    hint: `Choose STARTTLS for port ${c.info.endpoint.port}, or SSL/TLS with port ${p.tls}.`,
  };
}

function temporary(c: Ctx, what: string): Decision {
  return { code: 'PROTOCOL_ERROR', message: `${c.server} reported a temporary problem: ${what}.`, hint: 'Wait a few minutes and try again; if it persists, check the provider\'s status page.' };
}

// ---------------------------------------------------------------------------------------------
// 2. SMTP enhanced status codes (RFC 3463 + provider-specific subcodes)

const ENHANCED: Record<string, Rule> = {
  // Microsoft: SMTP AUTH disabled for the mailbox/tenant, or basic auth disabled
  '5.7.139': (c) => ({
    code: 'OAUTH_REQUIRED',
    message: /SmtpClientAuthentication/i.test(c.f.response ?? '')
      ? `${c.server} refused the sign-in: authenticated SMTP (SMTP AUTH) is turned off for this mailbox or organisation.`
      : `${c.server} refused the sign-in: password sign-in (basic authentication) is turned off for this mailbox.`,
    hint: microsoftHint(),
  }),
  // Microsoft: basic authentication retired for client submission
  '5.7.30': (c) => ({
    code: 'OAUTH_REQUIRED',
    message: `${c.server} no longer accepts passwords for sending (basic authentication is not supported for client submission).`,
    hint: microsoftHint(),
  }),
  // Gmail: application-specific password required (RFC 4954: mechanism too weak)
  '5.7.9': (c) => ({
    code: 'APP_PASSWORD_REQUIRED',
    message: `${c.server} asks for an app password: the account has 2-Step Verification and does not accept its normal password from mail apps.`,
    hint: appPasswordHint({ ...c.info.provider, id: c.info.provider?.id ?? guessProviderId(c) }),
  }),
  // Gmail: "Please log in via your web browser" (sign-in blocked as suspicious / less secure)
  '5.7.14': (c) => ({
    code: 'APP_PASSWORD_REQUIRED',
    message: `${c.server} blocked the sign-in and asks you to sign in with a web browser first.`,
    hint: 'Sign in to the account in a web browser and confirm it was you, then use an app password here (Google: myaccount.google.com/apppasswords, needs 2-Step Verification), or use "Sign in with Google".',
  }),
  '5.7.8': (c) => authFailed(c),
  // Microsoft 365 "535 5.7.3 Authentication unsuccessful"
  '5.7.3': (c) => authFailed(c),
  // RFC 3463 5.7.11: encryption required for the mechanism
  '5.7.11': (c) => (c.info.endpoint.security === 'none' ? encryptionRequired(c) : authFailed(c)),
  // quotas (Gmail 550 5.4.5 "Daily user sending quota exceeded"; Microsoft TERRL 5.7.233)
  '5.4.5': (c) => ({ code: 'LIMIT_REACHED', message: `${c.server} refused to send more: the mailbox's daily sending limit is used up.` }),
  '5.7.233': (c) => ({ code: 'LIMIT_REACHED', message: `${c.server} refused to send more: the organisation's limit for external recipients is used up.` }),
  '4.7.0': (c) => (isAuthCommand(c) ? temporary(c, 'sign-in is temporarily unavailable') : undefined),
};

/**
 * An SMTP command that carries one message (nodemailer's `command`): MAIL FROM, RCPT TO, DATA. A
 * reply to it is about this message; a reply to any other command is about the session (the
 * server, the account's settings or sign-in).
 */
export function isMessageCommand(command: string | undefined): boolean {
  return ['MAIL FROM', 'RCPT TO', 'DATA'].includes((command ?? '').toUpperCase());
}

function isAuthCommand(c: Ctx): boolean {
  return /^AUTH\b/i.test(c.f.command ?? '') || c.f.codes.includes('EAUTH');
}

// ---------------------------------------------------------------------------------------------
// 3. IMAP and POP3 response codes

const IMAP_CODES: Record<string, Rule> = {
  AUTHENTICATIONFAILED: (c) => authFailed(c),
  AUTHORIZATIONFAILED: (c) => authFailed(c, 'signed in, but not allowed to use this mailbox'),
  EXPIRED: (c) => ({ code: 'AUTH_FAILED', message: `${c.server} says the password has expired.`, hint: 'Change the password with your provider, then enter the new one here.' }),
  PRIVACYREQUIRED: (c) => encryptionRequired(c),
  CONTACTADMIN: (c) => ({ code: 'AUTH_FAILED', message: `${c.server} refused the sign-in and asks you to contact your administrator.`, hint: 'Ask your email administrator to allow IMAP access for this mailbox.' }),
  UNAVAILABLE: (c) => temporary(c, 'sign-in is temporarily unavailable'),
  LIMIT: (c) => ({ code: 'PROTOCOL_ERROR', message: `${c.server} refused the session: too many connections or requests.`, hint: 'Close other mail apps that use this mailbox, wait a few minutes and try again.' }),
  // [ALERT]/[WEBALERT] carry human text: decided by TEXT_RULES, else by the auth flag
};

const POP3_CODES: Record<string, Rule> = {
  AUTH: (c) => (c.f.phase === 'auth' || c.f.phase === undefined ? authFailed(c) : undefined),
  'SYS/TEMP': (c) => temporary(c, c.f.response ?? 'system error'),
  'SYS/PERM': (c) => ({ code: 'PROTOCOL_ERROR', message: `${c.server} reported a permanent system error.`, hint: 'Contact your email provider.' }),
  'IN-USE': (c) => ({ code: 'PROTOCOL_ERROR', message: `${c.server} says the mailbox is in use by another POP3 session.`, hint: 'Close other mail apps that read this mailbox with POP3, then try again.' }),
  'LOGIN-DELAY': (c) => ({ code: 'PROTOCOL_ERROR', message: `${c.server} allows POP3 logins only every few minutes.`, hint: 'Wait a few minutes and try again; check the mailbox less often.' }),
};

// ---------------------------------------------------------------------------------------------
// 4. SMTP reply code of the failed command (when no enhanced code decided it)

function smtpReply(c: Ctx): Decision | undefined {
  const code = c.f.replyCode;
  if (!code || c.info.protocol !== 'smtp') return undefined;
  const cmd = (c.f.command ?? '').toUpperCase();
  if (cmd === 'STARTTLS') return undefined; // ETLS below
  if (cmd.startsWith('AUTH') || c.f.codes.includes('EAUTH')) {
    if (code === 535 || code === 534) return authFailed(c);
    if (code === 530 || code === 538) return c.info.endpoint.security === 'none' ? encryptionRequired(c) : authFailed(c);
    if (code === 454 || code === 432) return temporary(c, 'sign-in is temporarily unavailable');
    if (code >= 500 && code <= 504) {
      return {
        code: 'PROTOCOL_ERROR',
        message: `${c.server} does not offer sign-in (AUTH) on this port.`,
        hint:
          c.info.endpoint.security === 'none'
            ? `Choose STARTTLS (port ${USUAL_PORT.smtp.starttls}) or SSL/TLS (port ${USUAL_PORT.smtp.tls}): many servers offer sign-in only on an encrypted connection.`
            : `Use your provider's submission server: port ${USUAL_PORT.smtp.starttls} with STARTTLS or ${USUAL_PORT.smtp.tls} with SSL/TLS.`,
      };
    }
  }
  if (cmd === 'CONN' || cmd === 'EHLO' || cmd === 'HELO') {
    // 421/554 as the greeting: the server does not want this client (busy, or its IP is blocked)
    if (code === 421 || code === 554 || code === 550) {
      return { code: 'CONNECTION_REFUSED', message: `${c.server} refused the session.`, hint: 'The server may be busy or may block this network; wait and try again, or ask your provider.' };
    }
  }
  if (isMessageCommand(cmd)) {
    return { code: 'SEND_REJECTED', message: `${c.server} refused the message (${cmd}).` };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// 5. Library, Node and OpenSSL codes

const CERT_REASON: Record<string, string> = {
  ERR_TLS_CERT_ALTNAME_INVALID: 'is not valid for this host name (it was issued for other names)',
  HOSTNAME_MISMATCH: 'is not valid for this host name',
  CERT_HAS_EXPIRED: 'has expired',
  CERT_NOT_YET_VALID: 'is not valid yet (check this computer\'s clock)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'is self-signed (not issued by a trusted authority)',
  SELF_SIGNED_CERT_IN_CHAIN: 'chains up to a self-signed authority that is not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'is issued by an unknown authority (or the server does not send its intermediate certificates)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'is issued by an unknown authority (or the server does not send its intermediate certificates)',
  UNABLE_TO_GET_ISSUER_CERT: 'is issued by an unknown authority',
  CERT_UNTRUSTED: 'is not trusted',
  CERT_REVOKED: 'has been revoked',
  CERT_SIGNATURE_FAILURE: 'has an invalid signature',
  CERT_CHAIN_TOO_LONG: 'has a certificate chain that is too long',
  INVALID_CA: 'is issued by an invalid authority',
};

function certInvalid(c: Ctx, code: string): Decision {
  const reason = CERT_REASON[code] ?? 'is not valid';
  const nameProblem = code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH';
  const expired = code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID' || code === 'CERT_REVOKED';
  return {
    code: 'CERT_INVALID',
    message: `The security certificate of ${c.where} ${reason}.`,
    hint: nameProblem
      ? `Use the host name your provider gives for ${LABEL[c.info.protocol]} (often the one in its certificate, such as the hosting server's name) instead of your own domain.`
      : expired
        ? 'The server\'s administrator must renew the certificate; contact your email provider. Mailport does not turn certificate checks off.'
        : 'Use your provider\'s official server name. If this is your own server, install a certificate from a public authority (for example Let\'s Encrypt); Mailport does not turn certificate checks off.',
  };
}

function tlsOnPlainPort(c: Ctx): Decision {
  if (c.info.endpoint.security !== 'tls') {
    return { code: 'PROTOCOL_ERROR', message: `The TLS handshake with ${c.where} failed: the server did not answer in TLS.` };
  }
  const p = USUAL_PORT[c.info.protocol];
  return {
    code: 'TLS_MISMATCH',
    message: `${c.where} does not speak SSL/TLS from the first byte: this port expects STARTTLS or no encryption.`,
    hint: `Choose STARTTLS for port ${c.info.endpoint.port}, or keep SSL/TLS and use port ${p.tls}.`,
  };
}

function timeout(c: Ctx): Decision {
  const t = c.f.timeoutType ?? c.f.codes.find((x) => /TIMEOUT/.test(x));
  const base = { code: 'TIMEOUT' as const };
  if (t === 'CONNECT_TIMEOUT') return { ...base, message: `Could not connect to ${c.where} in time: nothing answered.` };
  if (t === 'GREETING_TIMEOUT') return { ...base, message: `${c.where} accepted the connection but sent no greeting in time.` };
  if (t === 'UPGRADE_TIMEOUT') return { ...base, message: `The TLS handshake with ${c.where} did not finish in time.` };
  return { ...base, message: `${c.where} stopped answering.` };
}

function closed(c: Ctx): Decision {
  const why = c.f.reason && c.f.reason !== 'Server closed connection' ? `: "${c.f.reason}"` : '';
  return {
    code: 'PROTOCOL_ERROR',
    message: `${c.where} closed the connection unexpectedly${why}.`,
    hint: `Check that ${c.where} is a ${LABEL[c.info.protocol]} server and that the encryption setting matches the port; if it worked before, try again later.`,
  };
}

function unexpectedGreeting(c: Ctx, line: string | undefined): Decision {
  const kind: GreetingKind = line ? greetingKind(line) : 'unknown';
  const expected = LABEL[c.info.protocol];
  const mine = ({ smtp: 'smtp', imap: 'imap', pop3: 'pop3' } as const)[c.info.protocol];
  if (kind === mine) {
    return { code: 'PROTOCOL_ERROR', message: `${c.server} sent an answer Mailport did not expect${line ? `: "${line.slice(0, 120)}"` : ''}.` };
  }
  let hint = `Check the port: ${c.where} belongs to ${GREETING_NAMES[kind]}. ${expected} usually uses port ${USUAL_PORT[c.info.protocol].tls} (SSL/TLS) or ${USUAL_PORT[c.info.protocol].starttls} (STARTTLS).`;
  if (kind === 'pop3' && c.info.protocol === 'imap') hint += ' If your provider offers only POP3, choose POP3 for receiving.';
  if (kind === 'imap' && c.info.protocol === 'pop3') hint += ' This server speaks IMAP: choose IMAP for receiving.';
  return { code: 'PROTOCOL_ERROR', message: `${c.where} answered like ${GREETING_NAMES[kind]}, not ${c.info.protocol === 'pop3' ? 'a' : 'an'} ${expected} server.`, hint };
}

const CODES: Record<string, Rule> = {
  // -- our probes
  MP_PORT_EXPECTS_TLS: (c) => {
    const p = USUAL_PORT[c.info.protocol];
    return {
      code: 'TLS_MISMATCH',
      message: `${c.where} expects SSL/TLS from the first byte; it sends nothing to a plain (${SECURITY_LABEL[c.info.endpoint.security]}) connection.`,
      hint: `Choose SSL/TLS for port ${c.info.endpoint.port}, or keep ${SECURITY_LABEL[c.info.endpoint.security]} and use port ${p.starttls}.`,
    };
  },
  MP_UNEXPECTED_GREETING: (c) => unexpectedGreeting(c, c.f.signal?.greeting ?? c.f.response),
  MP_POP_ONLY: (c) => {
    const s = c.f.signal!;
    const sec = s.popSecurity === 'tls' ? 'SSL/TLS' : 'STARTTLS';
    return {
      code: 'POP_ONLY',
      message: `${c.info.endpoint.host} has no IMAP server on port ${c.info.endpoint.port}, but a POP3 server answers on port ${s.popPort}.`,
      hint: `Choose POP3 for receiving with port ${s.popPort} and ${sec}. POP3 can only receive: sent mail and folders cannot be kept in sync.`,
    };
  },
  MP_DEADLINE: (c) => ({ code: 'TIMEOUT', message: `${c.where} did not finish the ${LABEL[c.info.protocol]} check within ${seconds(c.f.signal?.timeoutMs ?? 0)}.` }),
  // -- Node: connecting
  ECONNREFUSED: (c) => ({ code: 'CONNECTION_REFUSED', message: `${c.where} refused the connection: nothing is listening on port ${c.info.endpoint.port}.` }),
  ENOTFOUND: (c) => ({ code: 'HOST_NOT_FOUND', message: `The server name ${c.info.endpoint.host} could not be found.` }),
  EAI_AGAIN: (c) => ({ code: 'HOST_NOT_FOUND', message: `The server name ${c.info.endpoint.host} could not be resolved right now.` }),
  EDNS: (c) => ({ code: 'HOST_NOT_FOUND', message: `The server name ${c.info.endpoint.host} could not be resolved.` }),
  EHOSTUNREACH: (c) => ({ code: 'TIMEOUT', message: `${c.where} could not be reached (no route to the host).`, hint: 'Check the server name; a firewall or the network may block this address.' }),
  ENETUNREACH: (c) => ({ code: 'TIMEOUT', message: `${c.where} could not be reached (network unreachable).`, hint: 'Check the server name; this network may not reach that address (for example an IPv6-only address).' }),
  // -- timeouts (Node, nodemailer ETIMEDOUT + timeoutType, imapflow, POP3)
  ETIMEDOUT: timeout,
  ETIMEOUT: timeout,
  CONNECT_TIMEOUT: timeout,
  GREETING_TIMEOUT: timeout,
  UPGRADE_TIMEOUT: timeout,
  SOCKET_TIMEOUT: timeout,
  // -- closed / reset
  ECONNRESET: closed,
  EPIPE: closed,
  ECONNECTION: closed,
  EConnectionClosed: closed,
  ClosedAfterConnectText: closed,
  ClosedAfterConnectTLS: closed,
  NoConnection: closed,
  // -- OpenSSL: not TLS on the other side, or no common ground
  ERR_SSL_WRONG_VERSION_NUMBER: tlsOnPlainPort,
  ERR_SSL_PACKET_LENGTH_TOO_LONG: tlsOnPlainPort,
  ERR_SSL_HTTP_REQUEST: tlsOnPlainPort,
  ERR_SSL_UNKNOWN_PROTOCOL: tlsOnPlainPort,
  ERR_SSL_RECORD_LAYER_FAILURE: tlsOnPlainPort,
  ERR_SSL_UNSUPPORTED_PROTOCOL: (c) => outdatedTls(c),
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: (c) => outdatedTls(c),
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: (c) => outdatedTls(c),
  ERR_SSL_VERSION_TOO_LOW: (c) => outdatedTls(c),
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: (c) => ({ code: 'PROTOCOL_ERROR', message: `The TLS handshake with ${c.where} failed: no common security settings.`, hint: 'The server may offer only outdated encryption; ask your provider for its current settings.' }),
  // -- nodemailer
  EAUTH: (c) => authFailed(c),
  ENOAUTH: (c) => ({ code: 'AUTH_FAILED', message: `${c.server} requires a sign-in, but no password or token was given.`, hint: 'Enter the password (or an app password) for this mailbox.' }),
  EOAUTH2: (c) => ({ code: 'OAUTH_REVOKED', message: `The access token for ${c.where} could not be used or renewed.` }),
  ETLS: (c) =>
    c.f.replyCode || (c.f.command ?? '').toUpperCase() === 'STARTTLS' && c.f.response
      ? startTlsUnavailable(c)
      : { code: 'PROTOCOL_ERROR', message: `The TLS upgrade with ${c.where} failed.` },
  EPROTOCOL: (c) => unexpectedGreeting(c, c.f.response),
  EENVELOPE: (c) => ({ code: 'SEND_REJECTED', message: `${c.server} refused the sender or the recipients.` }),
  EMESSAGE: (c) => ({ code: 'SEND_REJECTED', message: `${c.server} refused the message.` }),
  // -- POP3 client
  STLS_UNAVAILABLE: (c) => startTlsUnavailable(c),
  InvalidGreeting: (c) => unexpectedGreeting(c, c.f.response),
  ERR: (c) => (c.f.phase === 'auth' ? authFailed(c) : c.f.phase === 'greeting' ? { code: 'CONNECTION_REFUSED', message: `${c.server} refused the session.`, hint: 'The server may be busy or may block this network; wait and try again.' } : undefined),
  // -- protocol-level garbage
  STARTTLS_INJECTION: (c) => ({ code: 'PROTOCOL_ERROR', message: `${c.where} sent unexpected data during the STARTTLS upgrade (the connection may be tampered with).`, hint: 'Use SSL/TLS instead of STARTTLS, or try again from another network.' }),
  InvalidResponse: (c) => ({ code: 'PROTOCOL_ERROR', message: `${c.where} sent an answer that is not valid ${LABEL[c.info.protocol]}.` }),
  LineTooLarge: (c) => ({ code: 'PROTOCOL_ERROR', message: `${c.where} sent an oversized answer.` }),
  ResponseTooLarge: (c) => ({ code: 'PROTOCOL_ERROR', message: `${c.where} sent an oversized answer.` }),
  UnexpectedTag: (c) => ({ code: 'PROTOCOL_ERROR', message: `${c.where} sent an answer that is not valid IMAP.` }),
  InvalidValue: (c) => ({ code: 'AUTH_FAILED', message: 'The username or password contains a line break, which no mail server accepts.', hint: 'Re-enter the username and password without line breaks.' }),
};

function outdatedTls(c: Ctx): Decision {
  return { code: 'PROTOCOL_ERROR', message: `${c.where} offers only outdated encryption (older than TLS 1.2), which Mailport does not use.`, hint: 'Ask your provider for a server that supports TLS 1.2 or newer.' };
}

function startTlsUnavailable(c: Ctx): Decision {
  const p = USUAL_PORT[c.info.protocol];
  return {
    code: 'STARTTLS_UNAVAILABLE',
    message: `${c.server} does not offer STARTTLS encryption on port ${c.info.endpoint.port}.`,
    hint: `Choose SSL/TLS with port ${p.tls}, or ask your provider for the secure settings.`,
  };
}

// ---------------------------------------------------------------------------------------------
// 7. Text, last: only for replies whose structured part cannot tell the cases apart

const TEXT_RULES: Array<{ pattern: RegExp; decide: Rule }> = [
  { pattern: /application-specific password required|InvalidSecondFactor/i, decide: (c) => ENHANCED['5.7.9']!(c) },
  { pattern: /log ?in via your web browser|WEBALERT|ContinueSignIn/i, decide: (c) => ENHANCED['5.7.14']!(c) },
  { pattern: /SmtpClientAuthentication is disabled|basic authentication is disabled|Basic authentication is not supported/i, decide: (c) => ({ code: 'OAUTH_REQUIRED', message: `${c.server} refused the password: password sign-in (basic authentication) is turned off.`, hint: microsoftHint() }) },
  { pattern: /SubmissionQuotaExceeded|sending (quota|limit) exceeded|send limit exceeded|exceeded your daily sending limit/i, decide: (c) => ({ code: 'LIMIT_REACHED', message: `${c.server} refused to send more: the sending limit is reached.` }) },
  { pattern: /plaintext authentication disallowed|must issue a STARTTLS command first|encryption required/i, decide: (c) => (c.info.endpoint.security === 'none' ? encryptionRequired(c) : undefined) },
];

function textDecision(c: Ctx): Decision | undefined {
  for (const rule of TEXT_RULES) {
    if (rule.pattern.test(c.f.response ?? '')) {
      const d = rule.decide(c);
      if (d) return d;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Provider refinement of a plain AUTH_FAILED

function microsoftHint(): string {
  return 'Use "Activate Outlook" (sign in with Microsoft) instead of a password, or ask your Microsoft 365 administrator to turn on Authenticated SMTP for this mailbox.';
}

function guessProviderId(c: Ctx): string | undefined {
  return /gmail|google/i.test(c.info.endpoint.host) ? 'gmail' : undefined;
}

/** Where each provider keeps app passwords, by catalog id (matched loosely: "google-workspace" is google). */
const APP_PASSWORD_STEPS: Array<{ match: RegExp; hint: string }> = [
  { match: /gmail|google/, hint: 'Turn on 2-Step Verification in your Google Account, create an app password at myaccount.google.com/apppasswords and enter its 16 letters here instead of your normal password, or use "Sign in with Google".' },
  { match: /yahoo/, hint: 'In your Yahoo Account Security settings choose "Generate app password", then enter that password here instead of your normal password.' },
  { match: /aol/, hint: 'In your AOL Account Security settings choose "Generate app password", then enter that password here instead of your normal password.' },
  { match: /icloud|apple|me\.com/, hint: 'Sign in at account.apple.com, open Sign-In and Security, App-Specific Passwords, create one and enter it here (it looks like xxxx-xxxx-xxxx-xxxx). Two-factor authentication must be on.' },
  { match: /fastmail/, hint: 'In Fastmail Settings open Privacy & Security, Manage app passwords, create one with IMAP/POP/SMTP access and enter it here.' },
  { match: /zoho/, hint: 'In Zoho Accounts open Security, App Passwords, generate one and enter it here.' },
  { match: /yandex/, hint: 'In your Yandex ID open Security, App passwords, create one for mail and enter it here.' },
];

export function appPasswordHint(provider: ProviderFacts | undefined): string {
  const id = (provider?.id ?? '').toLowerCase();
  const steps = APP_PASSWORD_STEPS.find((s) => s.match.test(id))?.hint;
  if (steps) return steps;
  const where = provider?.appPasswordUrl ? ` (${provider.appPasswordUrl})` : '';
  const name = provider?.name ? `${provider.name} does` : 'This provider does';
  return `${name} not accept your normal password from mail apps. Create an app password in your account's security settings${where} and enter it here instead.`;
}

function refine(d: Decision, c: Ctx): Decision {
  if (d.code !== 'AUTH_FAILED') return d;
  const p = c.info.provider;
  if (c.info.auth === 'token') {
    return { code: 'OAUTH_REVOKED', message: `${c.server} did not accept the access token (it may have expired or been revoked).`, hint: 'Sign in again.' };
  }
  const proto = c.info.protocol === 'pop3' ? 'pop' : c.info.protocol;
  const passwordRefused = p?.oauthOnly === true || (p?.passwordProtocols !== undefined && !p.passwordProtocols.includes(proto));
  if (passwordRefused) {
    const button = p?.oauth === 'google' ? '"Sign in with Google"' : p?.oauth === 'microsoft' ? '"Activate Outlook" (sign in with Microsoft)' : 'the provider\'s sign-in button';
    return {
      code: 'OAUTH_REQUIRED',
      message: `${c.server} refused the password: ${p?.name ?? 'this provider'} accepts only OAuth sign-in for ${LABEL[c.info.protocol]}.`,
      hint: `Use ${button} instead of a password.`,
    };
  }
  if (p?.appPassword === 'required') {
    return {
      code: 'APP_PASSWORD_REQUIRED',
      message: `${c.server} refused the password. ${p.name ?? 'This provider'} requires an app password for mail apps; a normal account password is refused.`,
      hint: appPasswordHint(p),
    };
  }
  return d;
}

// ---------------------------------------------------------------------------------------------

function decide(c: Ctx): Decision {
  const { f } = c;
  // our own probe signals and the POP-only finding are decisive
  if (f.signal) {
    const d = CODES[f.signal.code]?.(c);
    if (d) return d;
  }
  // certificate problems first: whatever else the error says, the handshake stopped there
  const certCode = f.codes.find(isCertificateCode);
  if (certCode) return certInvalid(c, certCode);
  if (f.enhanced) {
    const d = ENHANCED[f.enhanced]?.(c);
    if (d) return d;
  }
  // The structured part of an auth failure ("535", [AUTHENTICATIONFAILED], [AUTH], [ALERT], or a
  // bare "NO ...") says only that the sign-in failed; the reply text is the one place that tells
  // "app password required" from "basic auth disabled" from a wrong password.
  const authish = f.authFailed || f.phase === 'auth' || isAuthCommand(c) || f.imapCode === 'ALERT' || !!f.imapCode?.startsWith('WEBALERT') || f.popCode === 'AUTH';
  // and a quota reply without a quota code (Microsoft "554 5.2.0 ...SubmissionQuotaExceededException")
  const sendish = isMessageCommand(f.command) || f.codes.includes('EENVELOPE') || f.codes.includes('EMESSAGE');
  if (f.response && (authish || sendish)) {
    const d = textDecision(c);
    if (d) return d;
  }
  if (f.imapCode) {
    const d = IMAP_CODES[f.imapCode]?.(c);
    if (d) return d;
  }
  if (f.popCode) {
    const d = POP3_CODES[f.popCode]?.(c);
    if (d) return d;
  }
  // imapflow: STARTTLS required but the server has none (no error code: a missing capability)
  if (f.tlsFailed && !f.codes.length) return startTlsUnavailable(c);
  const reply = smtpReply(c);
  if (reply) return reply;
  for (const code of f.codes) {
    const d = CODES[code]?.(c);
    if (d) return d;
    if (code.startsWith('ParserError')) return { code: 'PROTOCOL_ERROR', message: `${c.where} sent an answer that is not valid ${LABEL[c.info.protocol]}.` };
  }
  if (f.authFailed) return authFailed(c);
  if (f.response && f.phase === 'auth') return authFailed(c);
  return {
    code: 'PROTOCOL_ERROR',
    message: `The ${LABEL[c.info.protocol]} check of ${c.where} failed${f.phase ? ` while ${PHASE_WORDS[f.phase]}` : ''}.`,
  };
}

const PHASE_WORDS: Record<CheckPhase, string> = {
  connect: 'connecting',
  greeting: 'waiting for the greeting',
  tls: 'setting up encryption',
  auth: 'signing in',
  command: 'talking to the server',
};

/**
 * Turns any failure of a protocol check into a MailportError with a specific message and hint.
 * The original error is kept as `cause`; the server's reply (never a password) as `response`.
 */
export function classify(err: unknown, info: ClassifyInfo): MailportError {
  if (isMailportError(err)) {
    if (err.protocol) return err;
    return new MailportError(err.code, { message: err.message, hint: err.hint, protocol: info.protocol, response: err.response, cause: err.cause ?? err });
  }
  const f = factsOf(err, info);
  const where = `${info.endpoint.host}:${info.endpoint.port}`;
  const c: Ctx = { info, f, where, server: `The ${LABEL[info.protocol]} server at ${where}` };
  const d = refine(decide(c), c);
  return new MailportError(d.code, { message: d.message, hint: d.hint, protocol: info.protocol, response: f.response?.slice(0, 500), cause: err });
}
