/**
 * A scriptable SMTP server on loopback for fault-injection tests and benchmarks, built on
 * smtp-server: answers 4xx/5xx at MAIL FROM, per recipient at RCPT TO, or at the end of DATA; greets
 * with a refusal, or refuses AUTH whatever the credentials; drops the connection in the middle of
 * DATA; stalls (no greeting, or no answer to a command); requires AUTH PLAIN/LOGIN with given
 * credentials; and counts connections, messages and Message-IDs, so a test can tell a duplicate
 * delivery from a lost one. The script can be changed while it runs.
 *
 * It listens on 127.0.0.1, port 0, plain SMTP (STARTTLS only when `tls` is given), greets at once
 * (no reverse lookup; smtp-server's own 100 ms early-talker delay remains).
 *
 * @example
 *   const smtp = await startFaultSmtp({ rcptTo: [{ match: /^bad@/, reply: { code: 550, message: 'No such user' } }] });
 *   // ... send to smtp://127.0.0.1:${smtp.port} ...
 *   smtp.setScript({ data: { code: 451, message: 'Try again later' } }); // from now on
 *   assert.equal(smtp.stats.messagesAccepted, 1);
 *   await smtp.close();
 */
import { EventEmitter, once } from 'node:events';
import type { Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';

export interface SmtpReply {
  code: number;
  message?: string;
}

/** where a stall can happen: `connect` = no greeting at all; otherwise that command gets no answer */
export type SmtpStage = 'connect' | 'auth' | 'mailFrom' | 'rcptTo' | 'data';

/** What the server knows about a message when it answers the end of DATA. */
export interface ReceivedMessage {
  /** 0-based, over every message that reached the end of DATA on this server */
  index: number;
  /** 1-based connection number */
  connection: number;
  from: string;
  to: string[];
  /** the Message-ID header as sent (with <>), or null */
  messageId: string | null;
  subject: string | null;
  size: number;
  /** authenticated user name, or null */
  user: string | null;
  /** the whole message; empty in discard mode */
  raw: Buffer;
}

export interface FaultScript {
  /** greet with this refusal (e.g. 554) instead of 220, then close the connection */
  greeting?: SmtpReply;
  /** answer AUTH with this whatever the credentials (e.g. 535 after a password change); needs the options' `auth` */
  authReply?: SmtpReply;
  /** answer MAIL FROM with this instead of 250 (a function may answer undefined for "accept") */
  mailFrom?: SmtpReply | ((ctx: { address: string; connection: number }) => SmtpReply | undefined);
  /** answers for RCPT TO; the first entry whose pattern matches the address wins, others get 250 */
  rcptTo?: Array<{ match: RegExp | string | ((address: string) => boolean); reply: SmtpReply }>;
  /** answer the end of DATA with this instead of 250 (the message then does not count as accepted) */
  data?: SmtpReply | ((message: ReceivedMessage) => SmtpReply | undefined);
  /** close the TCP connection once this many bytes of the message have arrived (true: at the first byte) */
  dropInData?: boolean | number;
  /** stop answering at this stage; a function decides per connection (1-based) and per stage */
  stallAt?: SmtpStage | ((stage: SmtpStage, ctx: { connection: number; messagesAccepted: number }) => boolean);
  /** wait this long before answering the end of DATA (a slow server; keeps messages "in flight") */
  dataDelayMs?: number;
}

export interface FaultSmtpOptions extends FaultScript {
  /** require AUTH PLAIN or LOGIN with exactly these credentials (535 otherwise) */
  auth?: { username: string; password: string };
  /** keep no message bodies (benchmarks); counters and Message-IDs are still kept */
  discard?: boolean;
  /** offer STARTTLS with this key and certificate */
  tls?: { key: Buffer | string; cert: Buffer | string };
  /** largest message in bytes (default 50 MB) */
  size?: number;
}

export interface FaultSmtpStats {
  /** TCP connections accepted so far */
  connections: number;
  /** TCP connections open now */
  openConnections: number;
  maxOpenConnections: number;
  authFailures: number;
  /** messages that reached the end of DATA, whatever the answer */
  messagesReceived: number;
  /** messages answered 250 at the end of DATA */
  messagesAccepted: number;
  /** connections dropped by `dropInData` */
  drops: number;
}

export interface FaultSmtp {
  port: number;
  host: string;
  /** `smtp://127.0.0.1:PORT` (with the credentials when `auth` is set) */
  url: string;
  stats: FaultSmtpStats;
  /** accepted messages by bare Message-ID (no <>, as sent), with how often each was accepted */
  messageIds: Map<string, number>;
  /** accepted messages, oldest first; bodies are empty in discard mode */
  messages: ReceivedMessage[];
  /** 'accepted' (ReceivedMessage) after each 250 at the end of DATA; 'connection' (number) */
  events: EventEmitter;
  /** replaces the fault script (the options' auth, discard, tls and size stay) */
  setScript(script: FaultScript): void;
  /** how many accepted messages were copies of one accepted before (sum of count - 1) */
  duplicates(): number;
  /** resolves once `messagesAccepted >= n`; rejects after `timeoutMs` (default 10 s) */
  waitForAccepted(n: number, timeoutMs?: number): Promise<void>;
  /** stops listening and destroys every open connection, stalled ones included */
  close(): Promise<void>;
}

const bare = (id: string) => id.trim().replace(/^<|>$/g, '');

/** Message-ID and Subject from the header block (unfolded; values as sent, not decoded). */
function headerFields(head: string): { messageId: string | null; subject: string | null } {
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(unfolded)?.[1].trim() ?? null;
  return { messageId: field('Message-ID'), subject: field('Subject') };
}

const HEADER_LIMIT = 64 * 1024;

function replyError(reply: SmtpReply): Error {
  return Object.assign(new Error(reply.message ?? (reply.code >= 500 ? 'Rejected by the test server' : 'Try again later')), { responseCode: reply.code });
}

/**
 * Starts a scriptable SMTP server on 127.0.0.1, port 0.
 *
 * @example
 *   const sink = await startFaultSmtp({ discard: true });
 *   const flaky = await startFaultSmtp({ data: (m) => (m.index < 2 ? { code: 451 } : undefined) });
 */
export async function startFaultSmtp(options: FaultSmtpOptions = {}): Promise<FaultSmtp> {
  let script: FaultScript = { ...options };
  const stats: FaultSmtpStats = { connections: 0, openConnections: 0, maxOpenConnections: 0, authFailures: 0, messagesReceived: 0, messagesAccepted: 0, drops: 0 };
  const messageIds = new Map<string, number>();
  const messages: ReceivedMessage[] = [];
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const sockets = new Map<string, { socket: Socket; connection: number }>();
  const key = (address: string, port: number) => `${address.replace(/^::ffff:/, '')}:${port}`;
  const connectionOf = (session: SMTPServerSession) => sockets.get(key(session.remoteAddress, session.remotePort));

  const stalls = (stage: SmtpStage, session: SMTPServerSession): boolean => {
    const s = script.stallAt;
    if (!s) return false;
    if (typeof s === 'string') return s === stage;
    return s(stage, { connection: connectionOf(session)?.connection ?? 0, messagesAccepted: stats.messagesAccepted });
  };

  const serverOptions: SMTPServerOptions = {
    logger: false,
    disableReverseLookup: true,
    size: options.size ?? 50 * 1024 * 1024,
    closeTimeout: 1000,
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : { hideSTARTTLS: true }),
    disabledCommands: [...(options.tls ? [] : ['STARTTLS']), ...(options.auth ? [] : ['AUTH'])],
    authOptional: !options.auth,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    onConnect(session, cb) {
      if (stalls('connect', session)) return; // accepted, never greeted
      cb(script.greeting ? replyError(script.greeting) : null);
    },
    onAuth(auth, session, cb) {
      if (stalls('auth', session)) return;
      if (script.authReply) {
        stats.authFailures++;
        return cb(replyError(script.authReply));
      }
      if (options.auth && auth.username === options.auth.username && auth.password === options.auth.password) return cb(null, { user: auth.username });
      stats.authFailures++;
      cb(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
    },
    onMailFrom(address, session, cb) {
      if (stalls('mailFrom', session)) return;
      const m = script.mailFrom;
      const reply = typeof m === 'function' ? m({ address: address.address, connection: connectionOf(session)?.connection ?? 0 }) : m;
      cb(reply ? replyError(reply) : null);
    },
    onRcptTo(address, session, cb) {
      if (stalls('rcptTo', session)) return;
      const rule = script.rcptTo?.find(({ match }) =>
        typeof match === 'function' ? match(address.address) : typeof match === 'string' ? address.address.toLowerCase().includes(match.toLowerCase()) : match.test(address.address),
      );
      cb(rule ? replyError(rule.reply) : null);
    },
    onData(stream, session, cb) {
      const conn = connectionOf(session);
      const drop = script.dropInData;
      const dropAt = drop === true ? 1 : typeof drop === 'number' ? Math.max(1, drop) : 0;
      const keep = !options.discard;
      const chunks: Buffer[] = [];
      let head = '';
      let headDone = false;
      let size = 0;
      let dropped = false;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (keep) chunks.push(chunk);
        if (!headDone) {
          head += chunk.toString('latin1');
          const end = head.search(/\r?\n\r?\n/);
          if (end >= 0 || head.length > HEADER_LIMIT) {
            headDone = true;
            // a copy, not a slice: a slice (and the Message-ID and Subject taken from it) would keep
            // the whole first chunk alive, about the whole message (~12 KB per message kept in
            // discard mode, which grew the benchmark's heap past 200 MB and slowed its later phases)
            head = Buffer.from(end >= 0 ? head.slice(0, end) : head, 'latin1').toString('latin1');
          }
        }
        if (dropAt && !dropped && size >= dropAt && conn) {
          dropped = true;
          stats.drops++;
          conn.socket.destroy();
        }
      });
      stream.on('end', () => {
        if (dropped) return; // the client saw the connection go; no answer
        const fields = headerFields(head);
        const message: ReceivedMessage = {
          index: stats.messagesReceived++,
          connection: conn?.connection ?? 0,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          messageId: fields.messageId,
          subject: fields.subject,
          size,
          user: typeof session.user === 'string' ? session.user : null,
          raw: keep ? Buffer.concat(chunks) : Buffer.alloc(0),
        };
        if (stalls('data', session)) return;
        const d = script.data;
        const reply = typeof d === 'function' ? d(message) : d;
        const answer = () => {
          if (reply) return cb(replyError(reply));
          stats.messagesAccepted++;
          if (message.messageId) {
            const id = bare(message.messageId);
            messageIds.set(id, (messageIds.get(id) ?? 0) + 1);
          }
          messages.push(message);
          cb(null, 'OK: message queued');
          events.emit('accepted', message);
        };
        if (script.dataDelayMs) setTimeout(answer, script.dataDelayMs);
        else answer();
      });
    },
  };
  const server = new SMTPServer(serverOptions);
  server.on('error', () => {}); // client resets and our own drops surface here; never crash the test
  let connectionCount = 0;
  server.server.on('connection', (socket: Socket) => {
    const connection = ++connectionCount;
    const k = key(socket.remoteAddress ?? '', socket.remotePort ?? 0);
    sockets.set(k, { socket, connection });
    stats.connections++;
    stats.openConnections++;
    stats.maxOpenConnections = Math.max(stats.maxOpenConnections, stats.openConnections);
    socket.on('error', () => {});
    socket.once('close', () => {
      stats.openConnections--;
      if (sockets.get(k)?.socket === socket) sockets.delete(k);
    });
    events.emit('connection', connection);
  });

  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  const port = (server.server.address() as { port: number }).port;
  const credentials = options.auth ? `${encodeURIComponent(options.auth.username)}:${encodeURIComponent(options.auth.password)}@` : '';

  return {
    port,
    host: '127.0.0.1',
    url: `smtp://${credentials}127.0.0.1:${port}`,
    stats,
    messageIds,
    messages,
    events,
    setScript(next) {
      script = { ...next };
    },
    duplicates() {
      let n = 0;
      for (const count of messageIds.values()) n += count - 1;
      return n;
    },
    waitForAccepted(n, timeoutMs = 10_000) {
      if (stats.messagesAccepted >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const onAccepted = () => {
          if (stats.messagesAccepted < n) return;
          clearTimeout(timer);
          events.off('accepted', onAccepted);
          resolve();
        };
        const timer = setTimeout(() => {
          events.off('accepted', onAccepted);
          reject(new Error(`the test SMTP server accepted ${stats.messagesAccepted} of ${n} messages within ${timeoutMs} ms`));
        }, timeoutMs);
        events.on('accepted', onAccepted);
      });
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const open = [...sockets.values()].map(({ socket }) => {
        const gone = socket.closed ? Promise.resolve() : once(socket, 'close').then(() => undefined);
        socket.destroy();
        return gone;
      });
      await Promise.all([closed, ...open]);
    },
  };
}
