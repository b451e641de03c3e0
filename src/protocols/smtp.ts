/**
 * SMTP check: connect, greeting, EHLO, STARTTLS (when chosen), AUTH — nodemailer's
 * `transport.verify()` against the guarded address, the user's host name used for SNI and the
 * certificate check.
 *
 * @example
 *   const result = await checkSmtp({ host: 'smtp.example.com', port: 587, security: 'starttls' },
 *     { user: 'me@example.com', password }, { guard });
 *   if (!result.ok) console.log(result.code, result.message, result.hint);
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { CheckResult, Credentials, Endpoint } from '../core/types.js';
import { runCheck, type CheckContext, type CheckRun } from './context.js';
import { NOT_TLS_CODES, codesOf, diagnoseNonTlsPort, diagnoseSilentPort, watchForImplicitTls } from './diagnose.js';
import { tlsOptions } from './tls.js';

type SmtpAuth = { user: string; pass: string } | { type: 'OAuth2'; user: string; accessToken: string };

function smtpAuth(cred: Credentials): SmtpAuth | undefined {
  if (cred.accessToken) return { type: 'OAuth2', user: cred.user, accessToken: cred.accessToken };
  if (cred.password !== undefined) return { user: cred.user, pass: cred.password };
  return undefined;
}

/** A transport to the guarded address with the run's deadline; closed on abort. */
function transportFor(run: CheckRun, ep: Endpoint, cred: Credentials, ctx: CheckContext, onServerLine: () => void) {
  const { resolved, deadline } = run;
  const auth = smtpAuth(cred);
  // library timeouts end a little before the budget, so their (more specific) error wins
  const remaining = Math.max(1, Math.floor(deadline.remaining()) - 100);
  // only to notice the first server line (for the TLS watchdog); nothing is forwarded, and
  // nodemailer hides credentials in its transaction log anyway
  const watcher = {
    debug: (entry: { tnx?: string }) => {
      if (entry && entry.tnx === 'server') onServerLine();
    },
  };
  const transport = nodemailer.createTransport({
    // the guarded address; nodemailer does no DNS lookup for an IP literal
    host: resolved.address,
    port: ep.port,
    secure: ep.security === 'tls',
    requireTLS: ep.security === 'starttls',
    ignoreTLS: ep.security === 'none',
    tls: tlsOptions(resolved.host),
    name: ctx.clientName,
    auth,
    // without it verify() skips AUTH when the server does not advertise it, and would pass
    forceAuth: auth !== undefined,
    connectionTimeout: remaining,
    greetingTimeout: deadline.greetingMs(),
    socketTimeout: remaining,
    dnsTimeout: remaining,
    logger: watcher as never,
    transactionLog: true,
    debug: false,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  // an OAuth2 helper may emit 'error' on the transport; without a listener it would crash the process
  transport.on('error', (err: Error) => run.log.debug({ err: { name: err.name, code: (err as NodeJS.ErrnoException).code } }, 'smtp transport error'));
  run.onAbort(() => transport.close());
  return transport;
}

/** Runs `work` on a fresh transport, with the implicit-TLS watchdog and the second-look diagnosis. */
async function withTransport<T>(run: CheckRun, ep: Endpoint, cred: Credentials, ctx: CheckContext, work: (t: Transporter<SMTPTransport.SentMessageInfo>) => Promise<T>): Promise<T> {
  let greeted = false;
  const transport = transportFor(run, ep, cred, ctx, () => (greeted = true));
  const watchdog = watchForImplicitTls(run, ep, 'smtp', () => greeted);
  try {
    return await Promise.race([work(transport), watchdog.promise as Promise<never>]);
  } catch (err) {
    throw await diagnose(run, ep, err);
  } finally {
    watchdog.stop();
    transport.close();
  }
}

export function checkSmtp(ep: Endpoint, cred: Credentials, ctx: CheckContext): Promise<CheckResult> {
  return runCheck('smtp', ep, cred, ctx, async (run) => {
    await withTransport(run, ep, cred, ctx, (t) => t.verify());
    return {};
  });
}

export interface TestMessage {
  from: { name?: string | null; address: string };
  to: string;
  subject: string;
  text: string;
}

export interface SentInfo {
  messageId: string;
  accepted: string[];
  rejected: string[];
  response: string;
}

/**
 * Sends one message now through the given SMTP server (the "Send test email" button), bounded by
 * the context's timeout. A failure comes back classified like a check (e.g. AUTH_FAILED,
 * SEND_REJECTED with the server's reply).
 *
 * @example
 *   const { result, sent } = await sendTestMessage(ep, { user, password }, { from: { address: user }, to: user, subject: 'Test', text: 'Hello' }, { guard });
 */
export async function sendTestMessage(ep: Endpoint, cred: Credentials, message: TestMessage, ctx: CheckContext): Promise<{ result: CheckResult; sent?: SentInfo }> {
  let sent: SentInfo | undefined;
  const result = await runCheck('smtp', ep, cred, ctx, async (run) => {
    run.phase('command');
    const info: SMTPTransport.SentMessageInfo = await withTransport(run, ep, cred, ctx, (t) =>
      t.sendMail({ from: message.from.name ? { name: message.from.name, address: message.from.address } : message.from.address, to: message.to, subject: message.subject, text: message.text }),
    );
    sent = {
      messageId: info.messageId,
      accepted: (info.accepted as Array<string | { address: string }>).map((a) => (typeof a === 'string' ? a : a.address)),
      rejected: (info.rejected as Array<string | { address: string }>).map((a) => (typeof a === 'string' ? a : a.address)),
      response: info.response,
    };
    return { response: info.response };
  });
  return { result, sent: result.ok ? sent : undefined };
}

/** Second look at ambiguous failures: a silent port, or a TLS handshake that met plain text. */
async function diagnose(run: CheckRun, ep: Endpoint, err: unknown): Promise<unknown> {
  const codes = codesOf(err);
  if (ep.security !== 'tls' && codes.includes('GREETING_TIMEOUT')) return diagnoseSilentPort(run, ep, err);
  if (ep.security === 'tls' && codes.some((c) => NOT_TLS_CODES.has(c))) return diagnoseNonTlsPort(run, ep, 'smtp', err);
  return err;
}
