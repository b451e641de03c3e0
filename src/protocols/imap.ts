/**
 * IMAP client setup shared by every IMAP use ({@link createImapClient}; {@link withImapSession}
 * for full sessions such as the Sent copy in imap-sent.ts), and the IMAP check: connect,
 * greeting, STARTTLS (when chosen), LOGIN/AUTHENTICATE, LOGOUT — imapflow in `verifyOnly` mode
 * against the guarded address, the user's host name used for SNI and the certificate check. When
 * IMAP is refused or silent, POP3 ports of the same host are probed, so a POP-only server is
 * reported as POP_ONLY rather than a closed port.
 *
 * @example
 *   const result = await checkImap({ host: 'imap.example.com', port: 993, security: 'tls' },
 *     { user: 'me@example.com', password }, { guard });
 */
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import type { CheckResult, Credentials, Endpoint } from '../core/types.js';
import { probeSignal } from './classify.js';
import { runCheck, runSession, type CheckContext, type CheckLogger, type CheckRun } from './context.js';
import { NOT_TLS_CODES, codesOf, diagnoseNonTlsPort, diagnoseSilentPort, findPop3, watchForImplicitTls } from './diagnose.js';
import { greetingKind, serverName, tlsOptions } from './tls.js';

export const DEFAULT_POP_PROBE_PORTS = [995, 110];

type LogEntry = { src?: string; msg?: unknown; [k: string]: unknown };

/** An imapflow client wired the Mailport way, and what it has seen of the server so far. */
export interface ImapClientHandle {
  client: ImapFlow;
  /** the server's first line, once it arrived (the greeting, if this is an IMAP server) */
  firstLine(): string | undefined;
  /** the first line, when it belongs to another protocol (the client is closed at once then) */
  foreignGreeting(): string | undefined;
  /** sends the client's log entries to `to` from now on, instead of the run's logger */
  logTo(to: CheckLogger): void;
}

/**
 * Creates (does not connect) an imapflow client for `ep` the one way Mailport does it: to the
 * address that passed the guard, the user's host name for SNI and the certificate check,
 * timeouts drawn from the run's deadline, an 'error' listener (CROSSCHECK.md: without one a late
 * socket error kills the process), closed when the deadline aborts the run, and a logger that
 * notices a foreign greeting (SMTP or POP3 on the IMAP port) at once and never forwards raw
 * protocol lines. The caller closes the client in `finally`.
 *
 * @example
 *   const { client } = createImapClient(ep, cred, run, { verifyOnly: false });
 *   try { await client.connect(); ... } finally { client.close(); }
 */
export function createImapClient(ep: Endpoint, cred: Credentials, run: CheckRun, opts: { verifyOnly: boolean; session?: LongSessionOptions }): ImapClientHandle {
  const { resolved, deadline } = run;
  // library timeouts end a little before the budget, so their (more specific) error wins
  const remaining = Math.max(1, Math.floor(deadline.remaining()) - 100);
  let firstLine: string | undefined;
  let foreign: string | undefined;
  let client: ImapFlow | undefined;
  // the closures below live as long as the client: they reach the run's logger through this
  // variable only, so a long session can let the run (its deadline, context, credentials) go
  let log: CheckLogger = run.log;

  // imapflow logs every server line with src "s": the first one tells what kind of server
  // this is, so an SMTP or POP3 server on the IMAP port is reported at once instead of after
  // the greeting timeout. Raw protocol lines are not forwarded to our logs.
  const observe = (entry: LogEntry): void => {
    if (!entry || typeof entry !== 'object') return;
    if (entry.src === 's' || entry.src === 'c') {
      if (entry.src === 's' && firstLine === undefined && typeof entry.msg === 'string') {
        firstLine = entry.msg.slice(0, 200);
        if (greetingKind(firstLine) !== 'imap') {
          foreign = firstLine;
          setImmediate(() => client?.close());
        }
      }
      return;
    }
    const code = (entry.err as { code?: string } | undefined)?.code;
    if (typeof entry.msg === 'string' || code) log.debug({ imap: { msg: entry.msg, code } }, 'imapflow');
  };
  const logger = { trace: observe, debug: observe, info: observe, warn: observe, error: observe, fatal: observe };

  const options: ImapFlowOptions = {
    host: resolved.address,
    port: ep.port,
    secure: ep.security === 'tls',
    servername: serverName(resolved.host),
    tls: tlsOptions(resolved.host),
    auth: cred.accessToken ? { user: cred.user, accessToken: cred.accessToken } : { user: cred.user, pass: cred.password ?? '' },
    logger: logger as unknown as ImapFlowOptions['logger'],
    verifyOnly: opts.verifyOnly,
    connectionTimeout: remaining,
    greetingTimeout: deadline.greetingMs(),
    socketTimeout: opts.session ? opts.session.socketTimeoutMs : remaining,
    disableAutoIdle: true,
  };
  if (opts.session) {
    // long-lived sessions: VANISHED with UIDs for expunges (QRESYNC), IDLE renewed by imapflow
    options.qresync = true;
    options.maxIdleTime = opts.session.maxIdleMs;
    // named in the server's logs (IMAP ID), so an operator can tell Mailport's sync sessions apart
    options.clientInfo = { name: 'Mailport sync', vendor: 'Mailport' };
  }
  if (ep.security !== 'tls') options.doSTARTTLS = ep.security === 'starttls';
  const created = new ImapFlow(options);
  client = created;
  // CROSSCHECK.md: without a listener a late socket error is unhandled and kills the process
  created.on('error', (err: Error) => log.debug({ imap: { error: (err as NodeJS.ErrnoException).code ?? err.name } }, 'imap client error'));
  run.onAbort(() => created.close());
  return { client: created, firstLine: () => firstLine, foreignGreeting: () => foreign, logTo: (to) => (log = to) };
}

/** Timeouts of a session that stays open (mailbox sync) instead of one bounded check. */
export interface LongSessionOptions {
  /** the socket may be silent this long (IDLE is renewed well before) */
  socketTimeoutMs: number;
  /** imapflow restarts IDLE this often (RFC 2177: at most 29 minutes) */
  maxIdleMs: number;
  /**
   * where the client logs once signed in (default: nowhere). The check's own logger is let go
   * then, with everything it holds (deadline, context, credentials), so 2,000 idle sessions
   * do not each keep a finished check alive.
   */
  log?: CheckLogger;
}

const SILENT: CheckLogger = { debug() {}, info() {}, warn() {} };

/**
 * Connects and signs in for a session that stays open (mailbox sync): the guard, the deadline
 * (connect and login only, `ctx.timeoutMs`) and the classification of {@link runSession}; the
 * connected client is handed back, and the caller owns it (close it when done). A failure is a
 * classified MailportError.
 *
 * @example
 *   const client = await openImapClient(ep, cred, { guard, timeoutMs: 30_000 }, { socketTimeoutMs: 600_000, maxIdleMs: 300_000 });
 *   try { await client.mailboxOpen('INBOX'); } finally { client.close(); }
 */
export function openImapClient(ep: Endpoint, cred: Credentials, ctx: CheckContext, session: LongSessionOptions): Promise<ImapFlow> {
  return runSession('imap', ep, cred, ctx, async (run) => {
    const handle = createImapClient(ep, cred, run, { verifyOnly: false, session });
    const { client } = handle;
    try {
      await client.connect();
    } catch (err) {
      client.close();
      const foreign = handle.foreignGreeting();
      if (foreign !== undefined) throw probeSignal('MP_UNEXPECTED_GREETING', { greeting: foreign, original: err });
      throw err;
    }
    if (!client.authenticated) {
      client.close();
      throw Object.assign(new Error('not authenticated'), { authenticationFailed: true });
    }
    handle.logTo(session.log ?? SILENT);
    return client;
  });
}

/**
 * Opens a full IMAP session (connect, STARTTLS when chosen, sign-in, capabilities, NAMESPACE),
 * runs `use`, logs out, and always closes the client. Failures are thrown as they come, for
 * {@link runSession} to classify; a foreign greeting becomes the MP_UNEXPECTED_GREETING signal.
 *
 * @example
 *   const n = await runSession('imap', ep, cred, { guard }, (run) =>
 *     withImapSession(ep, cred, run, async (client) => (await client.list()).length));
 */
export async function withImapSession<T>(ep: Endpoint, cred: Credentials, run: CheckRun, use: (client: ImapFlow) => Promise<T>): Promise<T> {
  const handle = createImapClient(ep, cred, run, { verifyOnly: false });
  const { client } = handle;
  try {
    try {
      await client.connect();
    } catch (err) {
      const foreign = handle.foreignGreeting();
      if (foreign !== undefined) throw probeSignal('MP_UNEXPECTED_GREETING', { greeting: foreign, original: err });
      throw err;
    }
    if (!client.authenticated) throw Object.assign(new Error('not authenticated'), { authenticationFailed: true });
    run.phase('command');
    const value = await use(client);
    await client.logout().catch((err: unknown) => run.log.debug({ imap: { logout: (err as { code?: string })?.code ?? 'failed' } }, 'imap logout'));
    return value;
  } finally {
    client.close();
  }
}

export function checkImap(ep: Endpoint, cred: Credentials, ctx: CheckContext): Promise<CheckResult> {
  return runCheck('imap', ep, cred, ctx, async (run) => {
    const handle = createImapClient(ep, cred, run, { verifyOnly: true });
    const { client } = handle;
    const watchdog = watchForImplicitTls(run, ep, 'imap', () => handle.firstLine() !== undefined);
    try {
      await Promise.race([client.connect(), watchdog.promise]);
      if (!client.authenticated) throw Object.assign(new Error('not authenticated'), { authenticationFailed: true });
      const firstLine = handle.firstLine();
      return firstLine && greetingKind(firstLine) === 'imap' ? { response: firstLine } : {};
    } catch (err) {
      const foreign = handle.foreignGreeting();
      if (foreign !== undefined) throw probeSignal('MP_UNEXPECTED_GREETING', { greeting: foreign, original: err });
      throw await diagnose(run, ep, err, ctx, handle.firstLine());
    } finally {
      watchdog.stop();
      client.close();
    }
  });
}

async function diagnose(run: CheckRun, ep: Endpoint, err: unknown, ctx: CheckContext, firstLine: string | undefined): Promise<unknown> {
  const codes = codesOf(err);
  let found = err;
  if (ep.security !== 'tls' && codes.includes('GREETING_TIMEOUT') && firstLine === undefined) {
    found = await diagnoseSilentPort(run, ep, err);
  } else if (ep.security === 'tls' && codes.some((c) => NOT_TLS_CODES.has(c))) {
    found = await diagnoseNonTlsPort(run, ep, 'imap', err);
  }
  // nothing speaking IMAP here (refused, or silent and not TLS either): is it a POP3-only host?
  const after = codesOf(found);
  if (after.includes('ECONNREFUSED') || after.includes('CONNECT_TIMEOUT') || (after.includes('GREETING_TIMEOUT') && firstLine === undefined)) {
    return findPop3(run, ctx.popProbePorts ?? DEFAULT_POP_PROBE_PORTS, found);
  }
  return found;
}
