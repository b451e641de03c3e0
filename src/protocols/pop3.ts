/**
 * A small POP3 client (RFC 1939, CAPA RFC 2449, STLS RFC 2595, AUTH RFC 5034, response codes
 * RFC 2449/3206). Line based, one command at a time, with size caps and an inactivity timeout on
 * every command. Errors are {@link Pop3Error}s with structured fields (`code`, `phase`,
 * `response`, `responseCode`), never thrown as raw socket errors, and the client never emits
 * 'error': a socket failure rejects the command in flight (or the next one).
 *
 * @example
 *   const pop = new Pop3Client({ host: resolved.address, hostName: 'pop.example.com', port: 995, security: 'tls' });
 *   try {
 *     await pop.connect();
 *     await pop.login('me@example.com', { password });
 *     for (const { n, uid } of await pop.uidl()) { const raw = await pop.retr(n); ... }
 *     await pop.quit();
 *   } finally { pop.close(); }
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import type { Security } from '../core/types.js';
import { tlsOptions } from './tls.js';

export type Pop3Phase = 'connect' | 'greeting' | 'tls' | 'auth' | 'command';

export type Pop3ErrorCode =
  /** the server answered -ERR */
  | 'ERR'
  /** the first line was not a POP3 greeting */
  | 'InvalidGreeting'
  /** an answer that is neither +OK nor -ERR */
  | 'InvalidResponse'
  /** STARTTLS (STLS) was required but the server does not offer it */
  | 'STLS_UNAVAILABLE'
  /** data arrived between the STLS answer and the handshake (plaintext injection) */
  | 'STARTTLS_INJECTION'
  | 'CONNECT_TIMEOUT'
  | 'GREETING_TIMEOUT'
  | 'ETIMEOUT'
  /** the server closed the connection */
  | 'ECONNECTION'
  | 'LineTooLarge'
  | 'ResponseTooLarge'
  /** a value with CR, LF or NUL that would break the command line */
  | 'InvalidValue'
  /** the client was closed, or a command was issued in the wrong state */
  | 'NoConnection'
  /** a socket or TLS error: `code` is Node's / OpenSSL's own (ECONNREFUSED, CERT_HAS_EXPIRED, ...) */
  | (string & {});

export class Pop3Error extends Error {
  readonly code: Pop3ErrorCode;
  readonly phase: Pop3Phase;
  /** the server line that decided it, if any */
  readonly response?: string;
  /** RFC 2449/3206 response code from "-ERR [CODE] text", e.g. AUTH, SYS/TEMP, IN-USE, LOGIN-DELAY */
  readonly responseCode?: string;
  /** the command (verb only, never its arguments) */
  readonly command?: string;
  /** the decoded JSON a server sent back on a failed XOAUTH2 exchange */
  readonly oauthError?: unknown;

  constructor(
    message: string,
    fields: { code: Pop3ErrorCode; phase: Pop3Phase; response?: string; responseCode?: string; command?: string; oauthError?: unknown; cause?: unknown },
  ) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = 'Pop3Error';
    this.code = fields.code;
    this.phase = fields.phase;
    this.response = fields.response;
    this.responseCode = fields.responseCode;
    this.command = fields.command;
    this.oauthError = fields.oauthError;
  }
}

export interface Pop3Logger {
  debug(obj: object, msg?: string): void;
}

export interface Pop3ClientOptions {
  /** the address to connect to (already through the address guard) */
  host: string;
  /** the name the user gave, for SNI and the certificate check; defaults to host */
  hostName?: string;
  port: number;
  security: Security;
  /** extra TLS options (tests); certificate checks stay on unless a caller overrides them */
  tls?: tls.ConnectionOptions;
  /** TCP connect (and implicit TLS handshake) limit, default 15 s */
  connectTimeoutMs?: number;
  /** wait for the greeting, default 15 s */
  greetingTimeoutMs?: number;
  /** inactivity limit while waiting for any answer, default 60 s */
  timeoutMs?: number;
  /** longest single response line, default 8 KiB (RFC 2449 allows 512 octets) */
  maxLineBytes?: number;
  /** largest multi-line answer (a message for RETR), default 64 MiB */
  maxResponseBytes?: number;
  logger?: Pop3Logger;
}

export interface Pop3Stat {
  count: number;
  size: number;
}

export type Pop3Auth = { password: string; accessToken?: never } | { accessToken: string; password?: never };

interface WaitSpec {
  command: string;
  phase: Pop3Phase;
  multiline: boolean;
  /** SASL exchanges accept a "+ " continuation as an answer */
  continuation: boolean;
}

interface Waiter extends WaitSpec {
  resolve(value: Reply): void;
  reject(err: Pop3Error): void;
  /** restarts the inactivity timer (called on every chunk received) */
  rearm(): void;
}

interface Reply {
  /** "+OK", "-ERR", "+" (SASL continuation) or "invalid" (neither) */
  status: '+OK' | '-ERR' | '+' | 'invalid';
  /** the status line without the status word */
  text: string;
  line: string;
  /** RFC 2449/3206 code from "[CODE]" at the start of the text */
  responseCode?: string;
  body?: Buffer;
}

const CRLF = Buffer.from('\r\n');

/** A POP3 session; one instance per connection. */
export class Pop3Client extends EventEmitter {
  /** the server's greeting line */
  greeting?: string;
  /** CAPA answer: capability name (upper case) → its arguments */
  readonly capabilities = new Map<string, string[]>();
  /** true when CAPA was answered (servers without CAPA leave it false) */
  capaSupported = false;
  secure = false;
  authenticated = false;

  private readonly options: Required<Omit<Pop3ClientOptions, 'tls' | 'logger' | 'hostName'>> & Pick<Pop3ClientOptions, 'tls' | 'logger'> & { hostName: string };
  private socket?: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private waiter?: Waiter;
  /** lines and size collected for the multi-line answer in progress */
  private body: Buffer[] = [];
  private bodyBytes = 0;
  private inBody = false;
  private statusLine?: string;
  private timer?: NodeJS.Timeout;
  private failure?: Pop3Error;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);

  constructor(options: Pop3ClientOptions) {
    super();
    this.options = {
      connectTimeoutMs: 15_000,
      greetingTimeoutMs: 15_000,
      timeoutMs: 60_000,
      maxLineBytes: 8 * 1024,
      maxResponseBytes: 64 * 1024 * 1024,
      ...options,
      hostName: options.hostName ?? options.host,
    };
  }

  /**
   * Connects, reads the greeting and the capabilities, and for `starttls` upgrades with STLS
   * (and reads the capabilities again, as RFC 2595 requires). Resolves with the greeting.
   */
  async connect(): Promise<string> {
    if (this.socket || this.closed) throw new Pop3Error('connect() can be called once per client', { code: 'NoConnection', phase: 'connect' });
    const { security } = this.options;
    await this.open(security === 'tls');
    const greeting = await this.enqueue(() => this.await({ command: 'GREETING', phase: 'greeting', multiline: false, continuation: false }, this.options.greetingTimeoutMs, 'GREETING_TIMEOUT'));
    this.greeting = greeting.line;
    await this.capa().catch((err: unknown) => {
      // CAPA is optional (RFC 2449): a server without it answers -ERR
      if (!(err instanceof Pop3Error && err.code === 'ERR')) throw err;
    });
    if (security === 'starttls') await this.stls();
    return greeting.line;
  }

  /** CAPA: refreshes {@link capabilities}. */
  async capa(): Promise<Map<string, string[]>> {
    const reply = await this.command('CAPA', 'command', true);
    this.capabilities.clear();
    for (const line of splitLines(reply.body!)) {
      const [name, ...args] = line.trim().split(/\s+/);
      if (name) this.capabilities.set(name.toUpperCase(), args);
    }
    this.capaSupported = true;
    return this.capabilities;
  }

  /** STLS: upgrades the plain connection to TLS (certificate checked) and re-reads CAPA. */
  async stls(): Promise<void> {
    if (this.secure) return;
    if (this.capaSupported && !this.capabilities.has('STLS')) {
      throw new Pop3Error(`${this.where()} does not offer STLS (STARTTLS)`, { code: 'STLS_UNAVAILABLE', phase: 'tls' });
    }
    try {
      await this.command('STLS', 'tls');
    } catch (err) {
      if (err instanceof Pop3Error && err.code === 'ERR') {
        throw new Pop3Error(`${this.where()} refused STLS (STARTTLS)`, { code: 'STLS_UNAVAILABLE', phase: 'tls', response: err.response, responseCode: err.responseCode, command: 'STLS' });
      }
      throw err;
    }
    await this.enqueue(() => this.upgrade());
    this.capabilities.clear();
    this.capaSupported = false;
    await this.capa().catch((err: unknown) => {
      if (!(err instanceof Pop3Error && err.code === 'ERR')) throw err;
    });
  }

  /**
   * Logs in: XOAUTH2 for an access token; otherwise USER/PASS, or AUTH PLAIN when the server
   * lists SASL PLAIN but not USER.
   */
  async login(user: string, auth: Pop3Auth): Promise<void> {
    checkValue(user, 'user name');
    if (auth.accessToken !== undefined) {
      checkValue(auth.accessToken, 'access token');
      const payload = Buffer.from(`user=${user}\x01auth=Bearer ${auth.accessToken}\x01\x01`).toString('base64');
      await this.sasl('XOAUTH2', payload);
    } else {
      const password = auth.password ?? '';
      checkValue(password, 'password');
      const sasl = this.capabilities.get('SASL') ?? [];
      const useUser = !this.capaSupported || this.capabilities.has('USER') || !sasl.some((m) => m.toUpperCase() === 'PLAIN');
      if (useUser) {
        await this.command(`USER ${user}`, 'auth', false, 'USER');
        await this.command(`PASS ${password}`, 'auth', false, 'PASS');
      } else {
        await this.sasl('PLAIN', Buffer.from(`\0${user}\0${password}`).toString('base64'));
      }
    }
    this.authenticated = true;
  }

  /** STAT: number of messages and their total size in octets. */
  async stat(): Promise<Pop3Stat> {
    const reply = await this.command('STAT', 'command');
    const m = /^(\d+)\s+(\d+)/.exec(reply.text);
    if (!m) throw this.invalid('STAT', reply.line);
    return { count: Number(m[1]), size: Number(m[2]) };
  }

  /** LIST: message numbers and sizes. */
  async list(): Promise<Array<{ n: number; size: number }>> {
    const reply = await this.command('LIST', 'command', true);
    return splitLines(reply.body!).map((line) => {
      const m = /^(\d+)\s+(\d+)/.exec(line);
      if (!m) throw this.invalid('LIST', line);
      return { n: Number(m[1]), size: Number(m[2]) };
    });
  }

  /** UIDL: message numbers and their unique ids (stable across sessions). */
  async uidl(): Promise<Array<{ n: number; uid: string }>> {
    const reply = await this.command('UIDL', 'command', true);
    return splitLines(reply.body!).map((line) => {
      const m = /^(\d+)\s+([\x21-\x7e]{1,70})\s*$/.exec(line);
      if (!m) throw this.invalid('UIDL', line);
      return { n: Number(m[1]), uid: m[2]! };
    });
  }

  /** RETR: the whole message, dot-unstuffed, lines ending in CRLF, without the final ".". */
  async retr(n: number): Promise<Buffer> {
    checkNumber(n);
    const reply = await this.command(`RETR ${n}`, 'command', true, 'RETR');
    return reply.body!;
  }

  /** DELE: marks a message for deletion (done at QUIT). */
  async dele(n: number): Promise<void> {
    checkNumber(n);
    await this.command(`DELE ${n}`, 'command', false, 'DELE');
  }

  async noop(): Promise<void> {
    await this.command('NOOP', 'command');
  }

  /** QUIT: ends the session (deletions are committed) and closes the connection. */
  async quit(): Promise<void> {
    if (this.closed || !this.socket) return;
    try {
      await this.command('QUIT', 'command');
    } finally {
      this.close();
    }
  }

  /** Closes the connection at once (no QUIT, so deletions are not committed). Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Pop3Error('Connection closed by the client', { code: 'NoConnection', phase: 'command' }));
    this.socket?.destroy();
    this.emit('close');
  }

  // ---- internals ----

  private where(): string {
    return `${this.options.hostName}:${this.options.port}`;
  }

  private invalid(command: string, line: string): Pop3Error {
    return new Pop3Error(`Unexpected ${command} answer from ${this.where()}`, { code: 'InvalidResponse', phase: 'command', response: clip(line), command });
  }

  private async sasl(mechanism: string, initial: string): Promise<void> {
    let oauthError: unknown;
    await this.enqueue(async () => {
      this.write(`AUTH ${mechanism} ${initial}`, `AUTH ${mechanism} (* hidden *)`);
      let reply = await this.await({ command: `AUTH ${mechanism}`, phase: 'auth', multiline: false, continuation: true }, this.options.timeoutMs, 'ETIMEOUT');
      // a failed XOAUTH2 answers with a base64 JSON challenge; an empty line ends the exchange
      for (let rounds = 0; reply.status === '+' && rounds < 3; rounds++) {
        if (reply.text) {
          try {
            oauthError = JSON.parse(Buffer.from(reply.text, 'base64').toString('utf8'));
          } catch {
            /* not JSON: nothing to keep */
          }
        }
        this.write('', '(empty SASL response)');
        reply = await this.await({ command: `AUTH ${mechanism}`, phase: 'auth', multiline: false, continuation: true }, this.options.timeoutMs, 'ETIMEOUT');
      }
      if (reply.status !== '+OK') throw this.invalid(`AUTH ${mechanism}`, reply.line);
    }).catch((err: unknown) => {
      if (err instanceof Pop3Error && err.code === 'ERR' && oauthError !== undefined) {
        throw new Pop3Error(err.message, { code: 'ERR', phase: 'auth', response: err.response, responseCode: err.responseCode, command: err.command, oauthError });
      }
      throw err;
    });
  }

  /** Sends one command and waits for its answer; commands never overlap. */
  private command(line: string, phase: Pop3Phase, multiline = false, verb?: string): Promise<Reply> {
    const command = verb ?? line.split(' ')[0]!;
    return this.enqueue(() => {
      const hidden = command === 'PASS' ? 'PASS (* hidden *)' : undefined;
      this.write(line, hidden);
      return this.await({ command, phase, multiline, continuation: false }, this.options.timeoutMs, 'ETIMEOUT');
    });
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private write(line: string, logAs?: string): void {
    if (this.failure) throw this.failure;
    if (!this.socket || this.closed) throw new Pop3Error('Not connected', { code: 'NoConnection', phase: 'command' });
    this.options.logger?.debug({ src: 'c', line: logAs ?? line }, 'pop3 client');
    this.socket.write(line + '\r\n');
  }

  private await(w: WaitSpec, timeoutMs: number, timeoutCode: Pop3ErrorCode): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      const arm = (): void => {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          const what = w.command === 'GREETING' ? 'a greeting' : `an answer to ${w.command}`;
          const err = new Pop3Error(`${this.where()} sent no ${what} within ${Math.round(timeoutMs / 100) / 10} s`, { code: timeoutCode, phase: w.phase, command: w.command });
          this.fail(err);
          this.socket?.destroy();
        }, Math.max(1, timeoutMs));
      };
      this.waiter = { ...w, resolve, reject, rearm: arm };
      this.inBody = false;
      this.statusLine = undefined;
      this.body = [];
      this.bodyBytes = 0;
      arm();
      // data may already be buffered (several answers in one packet)
      if (this.buffer.length) this.parse();
    });
  }

  /** Mailport's TLS options; extra ones (a test CA) get a context of their own instead of the shared one. */
  private tlsOptions(): tls.ConnectionOptions {
    const base = tlsOptions(this.options.hostName);
    return this.options.tls ? { ...base, secureContext: undefined, ...this.options.tls } : base;
  }

  private open(secure: boolean): Promise<void> {
    const { host, port, connectTimeoutMs } = this.options;
    const tlsOpts = this.tlsOptions();
    return this.whenReady(
      () => (secure ? tls.connect({ host, port, ...tlsOpts }) : net.connect({ host, port })),
      secure,
      () => new Pop3Error(`Could not connect to ${this.where()} within ${Math.round(connectTimeoutMs / 100) / 10} s`, { code: 'CONNECT_TIMEOUT', phase: 'connect' }),
    );
  }

  /**
   * Makes the socket `create` returns the connection and waits until it is ready (TLS: after the
   * handshake). A failure before then, or no readiness within connectTimeoutMs, rejects once.
   */
  private whenReady(create: () => net.Socket, secure: boolean, timeoutError: () => Pop3Error, early: (err: Pop3Error) => Pop3Error = (e) => e): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const socket = create();
      this.socket = socket;
      const timer = setTimeout(() => {
        settle(timeoutError());
        socket.destroy();
      }, Math.max(1, this.options.connectTimeoutMs));
      const settle = (err?: Pop3Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) {
          this.failure = err;
          reject(err);
        } else resolve();
      };
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        this.secure = secure;
        settle();
      });
      this.attach(socket, (err) => settle(early(err)));
    });
  }

  /** Listeners for a socket; `early` receives failures that happen before the connection is up. */
  private attach(socket: net.Socket, early?: (err: Pop3Error) => void): void {
    socket.on('data', this.onData);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const phase: Pop3Phase = this.waiter?.phase ?? (this.greeting ? 'command' : 'connect');
      const wrapped = new Pop3Error(`${this.where()}: ${err.message}`, { code: err.code ?? 'ECONNECTION', phase, command: this.waiter?.command, cause: err });
      early?.(wrapped);
      this.fail(wrapped);
    });
    socket.on('close', () => {
      const last = this.statusLine ?? (this.buffer.length ? this.buffer.toString('latin1', 0, Math.min(this.buffer.length, 200)).trim() : undefined);
      const err = new Pop3Error(`${this.where()} closed the connection`, { code: 'ECONNECTION', phase: this.waiter?.phase ?? 'connect', command: this.waiter?.command, response: last || undefined });
      early?.(err);
      this.fail(err);
    });
  }

  /** Switches the connection to TLS after a +OK to STLS. */
  private upgrade(): Promise<void> {
    const plain = this.socket!;
    if (this.buffer.length) {
      const err = new Pop3Error(`${this.where()} sent data after the STLS answer, before the TLS handshake`, { code: 'STARTTLS_INJECTION', phase: 'tls' });
      this.fail(err);
      plain.destroy();
      return Promise.reject(err);
    }
    plain.removeListener('data', this.onData);
    plain.removeAllListeners('error');
    plain.removeAllListeners('close');
    // a late error on the wrapped socket must not go unhandled
    plain.on('error', () => undefined);
    const tlsOpts = this.tlsOptions();
    return this.whenReady(
      () => tls.connect({ socket: plain, ...tlsOpts }),
      true,
      () => new Pop3Error(`The TLS handshake with ${this.where()} did not finish within ${Math.round(this.options.connectTimeoutMs / 100) / 10} s`, { code: 'UPGRADE_TIMEOUT', phase: 'tls' }),
      (err) => new Pop3Error(err.message, { code: err.code, phase: 'tls', cause: err.cause, response: err.response }),
    );
  }

  /** Rejects the command in flight and every later one with `err` (the first failure wins). */
  private fail(err: Pop3Error): void {
    if (!this.failure) this.failure = err;
    clearTimeout(this.timer);
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.failure);
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const w = this.waiter;
    w?.rearm();
    if (w) this.parse();
    else if (this.buffer.length > this.options.maxLineBytes) {
      // nobody asked: an unsolicited flood
      this.fail(new Pop3Error(`${this.where()} sent ${this.buffer.length} bytes nobody asked for`, { code: 'ResponseTooLarge', phase: 'command' }));
      this.socket?.destroy();
    }
  }

  private parse(): void {
    let offset = 0;
    const buf = this.buffer;
    while (this.waiter) {
      const w = this.waiter;
      const nl = buf.indexOf(0x0a, offset);
      if (nl < 0) {
        const pending = buf.length - offset;
        const limit = this.inBody ? this.options.maxResponseBytes : this.options.maxLineBytes;
        if (pending > limit) {
          this.fail(new Pop3Error(`A line from ${this.where()} is longer than ${limit} bytes`, { code: 'LineTooLarge', phase: w.phase, command: w.command }));
          this.socket?.destroy();
          return;
        }
        break;
      }
      const end = nl > offset && buf[nl - 1] === 0x0d ? nl - 1 : nl;
      const line = buf.subarray(offset, end);
      offset = nl + 1;
      if (!this.inBody) {
        if (line.length > this.options.maxLineBytes) {
          this.fail(new Pop3Error(`A line from ${this.where()} is longer than ${this.options.maxLineBytes} bytes`, { code: 'LineTooLarge', phase: w.phase, command: w.command }));
          this.socket?.destroy();
          return;
        }
        this.status(w, line.toString('latin1'));
        continue;
      }
      // multi-line body: "." alone ends it, a leading "." is stuffing (RFC 1939 section 3)
      if (line.length === 1 && line[0] === 0x2e) {
        const body = Buffer.concat(this.body, this.bodyBytes);
        this.body = [];
        this.inBody = false;
        this.done(w, { ...parseStatus(this.statusLine!), body });
        continue;
      }
      const content = line[0] === 0x2e ? line.subarray(1) : line;
      this.bodyBytes += content.length + 2;
      if (this.bodyBytes > this.options.maxResponseBytes) {
        this.fail(new Pop3Error(`The answer to ${w.command} from ${this.where()} is larger than ${this.options.maxResponseBytes} bytes`, { code: 'ResponseTooLarge', phase: w.phase, command: w.command }));
        this.socket?.destroy();
        return;
      }
      this.body.push(Buffer.from(content), CRLF);
    }
    this.buffer = offset >= buf.length ? Buffer.alloc(0) : buf.subarray(offset);
  }

  private status(w: Waiter, line: string): void {
    this.options.logger?.debug({ src: 's', line: clip(line) }, 'pop3 server');
    const reply = parseStatus(line);
    if (w.command === 'GREETING' && reply.status !== '+OK') {
      // -ERR at the greeting: the server refuses the session (too many connections, blocked IP)
      const code: Pop3ErrorCode = reply.status === '-ERR' ? 'ERR' : 'InvalidGreeting';
      return this.reject(w, new Pop3Error(`${this.where()} did not greet like a POP3 server`, { code, phase: 'greeting', response: clip(line), responseCode: reply.responseCode, command: 'GREETING' }));
    }
    if (reply.status === '-ERR') {
      return this.reject(w, new Pop3Error(`${this.where()} answered ${w.command} with -ERR`, { code: 'ERR', phase: w.phase, response: clip(line), responseCode: reply.responseCode, command: w.command }));
    }
    if (reply.status === 'invalid' || (reply.status === '+' && !w.continuation)) {
      return this.reject(w, this.invalid(w.command, line));
    }
    if (reply.status === '+OK' && w.multiline) {
      this.statusLine = line;
      this.inBody = true;
      return;
    }
    this.done(w, reply);
  }

  private done(w: Waiter, reply: Reply): void {
    clearTimeout(this.timer);
    this.waiter = undefined;
    w.resolve(reply);
  }

  private reject(w: Waiter, err: Pop3Error): void {
    clearTimeout(this.timer);
    this.waiter = undefined;
    w.reject(err);
  }
}

function parseStatus(line: string): Reply {
  let status: Reply['status'];
  let text: string;
  if (/^\+OK\b/i.test(line)) {
    status = '+OK';
    text = line.slice(3).trim();
  } else if (/^-ERR\b/i.test(line)) {
    status = '-ERR';
    text = line.slice(4).trim();
  } else if (line === '+' || line.startsWith('+ ')) {
    status = '+';
    text = line.slice(1).trim();
  } else {
    return { status: 'invalid', text: line, line };
  }
  const code = /^\[([A-Z0-9/-]+)\]/i.exec(text);
  return { status, text, line, responseCode: code ? code[1]!.toUpperCase() : undefined };
}

function splitLines(body: Buffer): string[] {
  return body
    .toString('utf8')
    .split('\r\n')
    .filter((l) => l.length > 0);
}

function checkValue(value: string, what: string): void {
  if (/[\r\n\0]/.test(value)) throw new Pop3Error(`The ${what} contains a line break or NUL`, { code: 'InvalidValue', phase: 'auth' });
}

function checkNumber(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Pop3Error(`Not a message number: ${n}`, { code: 'InvalidValue', phase: 'command' });
}

function clip(line: string): string {
  return line.length > 300 ? line.slice(0, 300) + '…' : line;
}
