/**
 * TLS options for every mail connection, and the small probes the checks use to tell why a
 * server did not answer as expected: "does this port speak TLS?" and "what does this port say
 * in plain text?". Probes connect to an address that already passed the address guard and send
 * no credentials.
 */
import net from 'node:net';
import tls from 'node:tls';

const MIN_VERSION: tls.SecureVersion = 'TLSv1.2';
let sharedContext: tls.SecureContext | undefined;

/**
 * The one client SecureContext every mail connection uses: the default trust store (Node's CAs
 * plus NODE_EXTRA_CA_CERTS) and TLS 1.2 at least. Without it tls.connect makes a context per
 * connection, native memory (about 8 to 16 KB measured) that a long-lived IMAP session keeps
 * for its whole life. Certificate and host name checks are per connection and unaffected.
 */
export function clientSecureContext(): tls.SecureContext {
  return (sharedContext ??= tls.createSecureContext({ minVersion: MIN_VERSION }));
}

/**
 * Certificate checks are always on. NODE_EXTRA_CA_CERTS (Node's own variable) adds trusted CAs,
 * which is how tests trust their private CA; nothing here turns verification off. The context
 * is the shared {@link clientSecureContext}: a caller that needs other CAs passes its own
 * `secureContext` (`ca` next to this one would be ignored).
 *
 * @example
 *   tls.connect({ host: resolved.address, port: 993, ...tlsOptions(resolved.host) });
 */
export function tlsOptions(hostName: string): tls.ConnectionOptions {
  const options: tls.ConnectionOptions = { rejectUnauthorized: true, minVersion: MIN_VERSION, secureContext: clientSecureContext() };
  const sni = serverName(hostName);
  if (sni) options.servername = sni;
  return options;
}

/** The SNI / certificate name for a host, or undefined for an IP literal (SNI carries names only). */
export function serverName(hostName: string): string | undefined {
  const name = hostName.trim().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  return net.isIP(name) ? undefined : name;
}

/** OpenSSL / Node codes that mean "the handshake reached a certificate", so the peer speaks TLS. */
const CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export function isCertificateCode(code: unknown): boolean {
  return typeof code === 'string' && CERT_CODES.has(code);
}

/** What a port turned out to speak. */
export type PortProbe =
  /** a TLS handshake got as far as the certificate (valid or not) */
  | { kind: 'tls' }
  /** the server sent this first line in plain text */
  | { kind: 'line'; line: string }
  /** connected, but nothing arrived before the time ran out */
  | { kind: 'silent' }
  /** the server closed or reset the connection without a usable answer */
  | { kind: 'closed' }
  /** the connection could not be made (refused, unreachable); code is Node's */
  | { kind: 'unreachable'; code?: string };

export interface ProbeTarget {
  /** address that passed the guard */
  address: string;
  port: number;
  /** name for SNI (ignored for IP literals) */
  hostName: string;
  timeoutMs: number;
}

const MAX_PROBE_LINE = 512;

/**
 * Tries a TLS handshake. `tls` when the server answered with a certificate (valid or not: the
 * question is only whether the port speaks TLS), `closed` when it answered with something that
 * is not TLS or hung up, `silent` when nothing came back in time.
 */
export function probeTls(target: ProbeTarget): Promise<PortProbe> {
  return new Promise((resolve) => {
    let settled = false;
    const socket = tls.connect({ host: target.address, port: target.port, ...tlsOptions(target.hostName) });
    const finish = (result: PortProbe): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ kind: 'silent' }), Math.max(1, target.timeoutMs));
    socket.once('secureConnect', () => finish({ kind: 'tls' }));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (isCertificateCode(err.code)) return finish({ kind: 'tls' });
      if (err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH') {
        return finish({ kind: 'unreachable', code: err.code });
      }
      finish({ kind: 'closed' });
    });
    socket.once('close', () => finish({ kind: 'closed' }));
  });
}

export interface LineProbeOptions extends ProbeTarget {
  /** use implicit TLS for the probe (for POP3 on 995) */
  secure?: boolean;
  /** sent when the server has said nothing after `quietMs` (a harmless "QUIT\r\n" makes web servers answer) */
  nudge?: string;
  quietMs?: number;
}

/**
 * Connects and reads the first line the server sends (a greeting), optionally nudging a quiet
 * server with a harmless line so that servers which wait for the client (HTTP) reveal themselves.
 */
export function probeLine(options: LineProbeOptions): Promise<PortProbe> {
  return new Promise((resolve) => {
    let settled = false;
    let received = Buffer.alloc(0);
    let nudgeTimer: NodeJS.Timeout | undefined;
    const socket: net.Socket = options.secure
      ? tls.connect({ host: options.address, port: options.port, ...tlsOptions(options.hostName) })
      : net.connect({ host: options.address, port: options.port });
    const finish = (result: PortProbe): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(nudgeTimer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(received.length ? { kind: 'line', line: firstLine(received) } : { kind: 'silent' }), Math.max(1, options.timeoutMs));
    socket.once(options.secure ? 'secureConnect' : 'connect', () => {
      if (options.nudge) {
        nudgeTimer = setTimeout(() => {
          if (!received.length && !socket.destroyed) socket.write(options.nudge!);
        }, options.quietMs ?? Math.min(500, options.timeoutMs / 2));
      }
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]).subarray(0, MAX_PROBE_LINE);
      const nl = received.indexOf(0x0a);
      if (nl >= 0 || received.length >= MAX_PROBE_LINE) finish({ kind: 'line', line: firstLine(received) });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH') {
        return finish({ kind: 'unreachable', code: err.code });
      }
      finish(received.length ? { kind: 'line', line: firstLine(received) } : { kind: 'closed' });
    });
    socket.once('close', () => finish(received.length ? { kind: 'line', line: firstLine(received) } : { kind: 'closed' }));
  });
}

function firstLine(buf: Buffer): string {
  const nl = buf.indexOf(0x0a);
  const line = (nl >= 0 ? buf.subarray(0, nl) : buf).toString('latin1').replace(/\r$/, '');
  // a binary answer (a TLS alert, say) is not a line anyone can read
  return line.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

/**
 * Which kind of server a first line comes from, by the framing each protocol must use (not by
 * free text): SMTP greets with 220, POP3 with +OK, IMAP with an untagged OK/PREAUTH/BYE.
 */
export type GreetingKind = 'smtp' | 'pop3' | 'imap' | 'http' | 'ssh' | 'ftp-or-smtp' | 'unknown';

export function greetingKind(line: string): GreetingKind {
  if (/^\* (OK|PREAUTH|BYE)\b/i.test(line)) return 'imap';
  if (/^[+-](OK|ERR)\b/.test(line)) return 'pop3';
  if (/^HTTP\/\d/i.test(line)) return 'http';
  if (/^SSH-\d/.test(line)) return 'ssh';
  if (/^220[ -]/.test(line)) return /ftp/i.test(line) ? 'ftp-or-smtp' : 'smtp';
  if (/^[45]\d\d[ -]/.test(line)) return 'smtp';
  return 'unknown';
}

export const GREETING_NAMES: Record<GreetingKind, string> = {
  smtp: 'an SMTP (sending) server',
  pop3: 'a POP3 server',
  imap: 'an IMAP server',
  http: 'a web (HTTP) server',
  ssh: 'an SSH server',
  'ftp-or-smtp': 'an FTP server',
  unknown: 'a server of another kind',
};
