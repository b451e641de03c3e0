/**
 * Pooled SMTP sending for the outbox worker: one nodemailer pool transport per account and
 * credential fingerprint (a changed password gets a new pool; the old one is closed), at most
 * `perAccount` connections each and `total` sends in flight overall. User hosts pass the
 * address guard first and are connected by address with the user's name for SNI and the
 * certificate check; the platform processor (operator-trusted) does not. Transports idle longer
 * than `idleMs` are closed.
 *
 * Failures come back classified (AUTH_FAILED, LIMIT_REACHED, SEND_REJECTED, TIMEOUT, ...) with
 * the SMTP reply code and the stage it answered (`message`: MAIL FROM, RCPT TO, DATA; `connection`:
 * the greeting, EHLO, STARTTLS, AUTH, ...), so the worker can decide: 2xx sent, 4xx later, 5xx to
 * the message failed, 5xx to the session a problem of the account or the relay, not of the message.
 *
 * @example
 *   const pool = new SmtpPool({ guard });
 *   const r = await pool.send({ key: 'acc_1:fp', endpoint, cred, envelope: { from, to }, raw });
 *   if (r.ok) console.log(r.response, r.rejected);
 *   await pool.close();
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { MailportError } from '../core/errors.js';
import type { Credentials, Endpoint } from '../core/types.js';
import type { AddressGuard } from '../net/guard.js';
import { classify, isMessageCommand, type CheckPhase, type ProviderFacts } from './classify.js';
import { tlsOptions } from './tls.js';

export interface SmtpPoolOptions {
  guard: AddressGuard;
  /** connections per account (default 3) */
  perAccount?: number;
  /** sends in flight over all accounts (default 50) */
  total?: number;
  /** connect, greeting and socket inactivity bound (default 60 s) */
  timeoutMs?: number;
  /** close a transport unused for this long (default 60 s) */
  idleMs?: number;
  /** EHLO name */
  clientName?: string;
  logger?: { debug(o: object, m?: string): void; warn(o: object, m?: string): void };
}

export interface PoolSendInput {
  /** identifies the pool: account id plus credential fingerprint */
  key: string;
  endpoint: Endpoint;
  cred: Credentials;
  envelope: { from: string; to: string[] };
  raw: Buffer;
  /**
   * the Message-ID already in `raw`: handed to nodemailer, which otherwise makes up one of its own
   * for every raw message (its bytes stay as they are): 80 µs of CPU less per message here
   */
  messageId?: string;
  provider?: ProviderFacts;
  /** the platform processor: configured by the operator, not guarded; `smtp://` upgrades when offered */
  trusted?: boolean;
}

/**
 * Where in the SMTP session a send failed: `message` at MAIL FROM, RCPT TO or DATA (a reply there
 * is about this message), `connection` before them or between messages (connecting, the greeting,
 * EHLO, STARTTLS, AUTH, RSET: a reply there is about the server, the account or the relay).
 */
export type SendStage = 'connection' | 'message';

/**
 * `stage`: of a failure, null when no SMTP command was under way (address guard, pool closing,
 * nodemailer's own checks). `unsent`: nothing of this message reached a server (it waited for a
 * connection that never came), so the failure is no attempt of the message.
 */
export type PoolSendResult =
  | { ok: true; response: string; accepted: string[]; rejected: Array<{ address: string; response: string }> }
  | { ok: false; error: MailportError; responseCode: number | null; stage: SendStage | null; rejected: Array<{ address: string; response: string }>; unsent?: true };

interface Entry {
  transport: Transporter<SMTPTransport.SentMessageInfo>;
  lastUsed: number;
  busy: number;
  /** why this transport was closed: the messages still queued on it get this answer when it is about the account (its login or settings) */
  droppedFor?: PoolSendResult & { ok: false };
}

type RawRejected = { recipient?: string; response?: string };

function addresses(list: unknown): string[] {
  return Array.isArray(list) ? list.map((a) => (typeof a === 'string' ? a : (a as { address: string }).address)) : [];
}

function rejections(list: unknown, errors: unknown): Array<{ address: string; response: string }> {
  const errs = Array.isArray(errors) ? (errors as RawRejected[]) : [];
  return addresses(list).map((address) => ({ address, response: errs.find((e) => e.recipient === address)?.response ?? '' }));
}

function phaseOf(err: unknown): CheckPhase {
  const e = err as { code?: string; command?: string };
  if (e?.code === 'EAUTH' || /^AUTH/i.test(e?.command ?? '')) return 'auth';
  if (e?.command === 'CONN' || e?.code === 'ECONNECTION' || e?.code === 'ESOCKET') return 'connect';
  if (e?.code === 'ETLS') return 'tls';
  return 'command';
}

/** The stage of a failure by nodemailer's `command` in flight ('API': a check of its own, before any command). */
function stageOf(err: unknown): SendStage | null {
  const command = (err as { command?: unknown })?.command;
  if (typeof command !== 'string' || command === 'API') return null;
  return isMessageCommand(command) ? 'message' : 'connection';
}

/** A send whose transport was closed while it waited for a connection (nodemailer drains its queue so): nothing reached a server. */
const DRAINED = Symbol('drained');

function isDrained(err: unknown): boolean {
  const e = err as { message?: unknown; responseCode?: unknown; command?: unknown };
  return e?.message === 'Connection pool was closed' && e.responseCode === undefined && (e.command === undefined || e.command === 'API');
}

/** A failure before the message reached any server: no reply, no stage, no attempt. */
function unsent(code: 'PROTOCOL_ERROR' | 'UNAVAILABLE', message: string): PoolSendResult {
  return { ok: false, error: new MailportError(code, { message, protocol: 'smtp' }), responseCode: null, stage: null, rejected: [], unsent: true };
}

/** Drained again on the new transport (its connections failed too, for other messages): tried again later, no attempt counted. */
const drainedTwice = () => unsent('PROTOCOL_ERROR', 'The connections to this server kept failing before the message could go out; it is sent again later.');

/** A send the pool did not start because it is closing: nothing reached a server. */
const released = () => unsent('UNAVAILABLE', 'Mailport was shutting down before this message went out; it is sent again later.');

export class SmtpPool {
  private readonly entries = new Map<string, Promise<Entry>>();
  private readonly perAccount: number;
  private readonly total: number;
  private readonly timeoutMs: number;
  private readonly idleMs: number;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly sweeper: NodeJS.Timeout;
  /** set by close(): messages not yet on a connection are handed back instead of sent */
  private closing = false;

  constructor(private readonly options: SmtpPoolOptions) {
    this.perAccount = options.perAccount ?? 3;
    this.total = options.total ?? 50;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.idleMs = options.idleMs ?? 60_000;
    this.sweeper = setInterval(() => this.sweep(), Math.max(1_000, Math.min(this.idleMs, 30_000)));
    this.sweeper.unref();
  }

  /** Transports open now (tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Sends one message on a pooled connection of `input.key`. A message still queued for a
   * connection when another message's failure closed the transport (see {@link drop}) reached no
   * server: it is sent once more, on a new transport, rather than reported as failed.
   */
  async send(input: PoolSendInput): Promise<PoolSendResult> {
    const result = await this.sendOnce(input);
    return result === DRAINED ? this.sendOnce(input).then((r) => (r === DRAINED ? drainedTwice() : r)) : result;
  }

  private async sendOnce(input: PoolSendInput): Promise<PoolSendResult | typeof DRAINED> {
    if (this.closing) return released();
    await this.acquire();
    let entry: Entry | undefined;
    let pending: Promise<Entry> | undefined;
    try {
      if (this.closing) return released();
      pending = this.entry(input);
      entry = await pending;
      entry.busy++;
      const info = await entry.transport.sendMail({ envelope: input.envelope, raw: input.raw, messageId: input.messageId });
      const extra = info as unknown as { rejectedErrors?: unknown };
      return { ok: true, response: info.response, accepted: addresses(info.accepted), rejected: rejections(info.rejected, extra.rejectedErrors) };
    } catch (err) {
      const e = err as { responseCode?: number; rejected?: unknown; rejectedErrors?: unknown };
      // closing fails the messages still queued for a connection (no server reply): they were never sent
      if (this.closing && typeof e?.responseCode !== 'number') return released();
      // drained from a transport closed for another message's failure: about the account (a refused
      // login, wrong settings), the same answer, without another login; else sent again on a new one
      if (isDrained(err)) return entry?.droppedFor ?? DRAINED;
      const error = classify(err, { protocol: 'smtp', endpoint: input.endpoint, provider: input.provider, phase: phaseOf(err), auth: input.cred.accessToken ? 'token' : 'password' });
      const result: PoolSendResult & { ok: false } = { ok: false, error, responseCode: typeof e?.responseCode === 'number' ? e.responseCode : null, stage: stageOf(err), rejected: rejections(e?.rejected, e?.rejectedErrors) };
      // a refused login, or a broken connection, must not be reused by the next message
      if (error.code !== 'SEND_REJECTED' && error.code !== 'LIMIT_REACHED') {
        if (entry && error.action !== 'retry_later') entry.droppedFor = { ...result, rejected: [] };
        // this message's transport, not a newer one: an earlier failure may have replaced it already
        this.drop(input.key, pending);
      }
      return result;
    } finally {
      if (entry) {
        entry.busy--;
        entry.lastUsed = Date.now();
      }
      this.release();
    }
  }

  /**
   * Closes every transport: a connection in the middle of a message finishes it first; messages
   * not yet on a connection, and any send after this, come back at once as `UNAVAILABLE` (no
   * server reply), so the caller can hand them back to the queue.
   */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    const all = [...this.entries.keys()];
    for (const key of all) this.drop(key);
  }

  private entry(input: PoolSendInput): Promise<Entry> {
    let p = this.entries.get(input.key);
    if (!p) {
      p = this.create(input);
      this.entries.set(input.key, p);
      // a transport that could not be built (guard refused the host) is not kept
      p.catch(() => this.entries.delete(input.key));
    }
    return p;
  }

  private async create(input: PoolSendInput): Promise<Entry> {
    const ep = input.endpoint;
    const resolved = input.trusted ? { host: ep.host, address: ep.host } : await this.options.guard.resolve(ep.host);
    const auth = input.cred.accessToken
      ? { type: 'OAuth2' as const, user: input.cred.user, accessToken: input.cred.accessToken }
      : input.cred.password !== undefined
        ? { user: input.cred.user, pass: input.cred.password }
        : undefined;
    const transport = nodemailer.createTransport({
      pool: true,
      maxConnections: this.perAccount,
      maxMessages: 100,
      host: resolved.address,
      port: ep.port,
      secure: ep.security === 'tls',
      // the operator's smtp:// relay upgrades when it offers STARTTLS; user accounts get what they chose
      requireTLS: ep.security === 'starttls' && !input.trusted,
      ignoreTLS: ep.security === 'none',
      tls: tlsOptions(resolved.host),
      name: this.options.clientName,
      auth,
      connectionTimeout: this.timeoutMs,
      greetingTimeout: this.timeoutMs,
      socketTimeout: this.timeoutMs,
      disableFileAccess: true,
      disableUrlAccess: true,
      logger: false,
      debug: false,
    });
    // without a listener an 'error' event (a pooled connection dying while idle) would crash the process
    transport.on('error', (err: Error) => this.options.logger?.debug({ err: { name: err.name, code: (err as NodeJS.ErrnoException).code } }, 'smtp pool transport error'));
    return { transport, lastUsed: Date.now(), busy: 0 };
  }

  /** Closes the transport of `key`; with `only`, just when that one is still the key's transport. */
  private drop(key: string, only?: Promise<Entry>): void {
    const p = this.entries.get(key);
    if (!p || (only && p !== only)) return;
    this.entries.delete(key);
    p.then((e) => e.transport.close(), () => {});
  }

  private sweep(): void {
    const cutoff = Date.now() - this.idleMs;
    for (const [key, p] of this.entries) {
      p.then((e) => {
        if (e.busy === 0 && e.lastUsed < cutoff) this.drop(key, p);
      }, () => {});
    }
  }

  private acquire(): Promise<void> {
    if (this.inFlight < this.total) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(() => {
      this.inFlight++;
      resolve();
    }));
  }

  private release(): void {
    this.inFlight--;
    this.waiting.shift()?.();
  }
}
