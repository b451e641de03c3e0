/**
 * Second looks at a port after a check failed in an ambiguous way, so the user hears the real
 * cause: "no greeting" may be a port that expects SSL/TLS, a web server, or a dead listener;
 * "wrong version number" may be a STARTTLS port or not a mail server at all; "refused" on the
 * IMAP port may be a POP3-only host. Every probe goes to the address the guard already checked.
 */
import type { Endpoint } from '../core/types.js';
import { probeSignal } from './classify.js';
import type { CheckRun } from './context.js';
import { greetingKind, probeLine, probeTls, type GreetingKind } from './tls.js';

/** A harmless line in every mail protocol that makes servers which wait for the client (HTTP) answer. */
const NUDGE = 'QUIT\r\n';
const MAX_PROBE_MS = 3_000;
/** left for classification and closing after the last probe */
const RESERVE_MS = 50;

function budget(run: CheckRun): number {
  return Math.min(MAX_PROBE_MS, run.deadline.remaining() - RESERVE_MS);
}

/**
 * A plain connection got no greeting. If the port completes a TLS handshake it expects SSL/TLS;
 * if it answers a nudge, say what it is; otherwise keep the timeout.
 */
export async function diagnoseSilentPort(run: CheckRun, ep: Endpoint, original: unknown): Promise<unknown> {
  let ms = budget(run);
  if (ms < 150) return original;
  const target = { address: run.resolved.address, port: ep.port, hostName: run.resolved.host, timeoutMs: ms };
  const tls = await probeTls(target);
  run.log.debug({ probe: 'tls', result: tls.kind }, 'port probe');
  if (tls.kind === 'tls') return probeSignal('MP_PORT_EXPECTS_TLS', { original });
  if (tls.kind !== 'closed') return original;
  ms = budget(run);
  if (ms < 150) return original;
  const line = await probeLine({ ...target, timeoutMs: ms, nudge: NUDGE, quietMs: 200 });
  run.log.debug({ probe: 'line', result: line.kind }, 'port probe');
  if (line.kind === 'line') return probeSignal('MP_UNEXPECTED_GREETING', { greeting: line.line, original });
  return original;
}

/**
 * A TLS handshake met something that is not TLS. If the port greets in plain text like the
 * expected protocol it is a STARTTLS/plain port (keep the TLS error: TLS_MISMATCH); if it is
 * another kind of server, say which.
 */
export async function diagnoseNonTlsPort(run: CheckRun, ep: Endpoint, expected: GreetingKind, original: unknown): Promise<unknown> {
  const ms = budget(run);
  if (ms < 150) return original;
  const line = await probeLine({ address: run.resolved.address, port: ep.port, hostName: run.resolved.host, timeoutMs: ms, nudge: NUDGE, quietMs: 150 });
  run.log.debug({ probe: 'line', result: line.kind }, 'port probe');
  if (line.kind === 'line' && greetingKind(line.line) !== expected) return probeSignal('MP_UNEXPECTED_GREETING', { greeting: line.line, original });
  return original;
}

/**
 * IMAP is refused or silent on the host: does a POP3 server answer "+OK" on one of `ports` of
 * the same (guarded) address? Ports are probed in parallel; the first in list order wins.
 */
export async function findPop3(run: CheckRun, ports: number[], original: unknown): Promise<unknown> {
  const ms = budget(run);
  if (ms < 150 || !ports.length) return original;
  const results = await Promise.all(
    ports.map(async (port) => {
      const secure = port === 995;
      const line = await probeLine({ address: run.resolved.address, port, hostName: run.resolved.host, timeoutMs: ms, secure });
      return { port, secure, line };
    }),
  );
  for (const r of results) {
    run.log.debug({ probe: 'pop3', port: r.port, result: r.line.kind }, 'port probe');
    if (r.line.kind === 'line' && greetingKind(r.line.line) === 'pop3' && r.line.line.startsWith('+OK')) {
      return probeSignal('MP_POP_ONLY', { popPort: r.port, popSecurity: r.secure ? 'tls' : 'starttls', original });
    }
  }
  return original;
}

/** Node/OpenSSL codes that mean "the other side did not answer in TLS". */
export const NOT_TLS_CODES = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST', 'ERR_SSL_UNKNOWN_PROTOCOL', 'ERR_SSL_RECORD_LAYER_FAILURE']);

/** Every structured code on an error (code, originalCode, cause.code), for quick checks. */
export function codesOf(err: unknown): string[] {
  if (!err || typeof err !== 'object') return [];
  const e = err as Record<string, unknown>;
  const out: string[] = [];
  for (const v of [e.code, e.originalCode, e.timeoutType, (e.cause as Record<string, unknown> | undefined)?.code]) {
    if (typeof v === 'string') out.push(v);
  }
  return out;
}

export interface TlsWatchdog {
  /** rejects with MP_PORT_EXPECTS_TLS when the port turns out to speak implicit TLS; never resolves */
  promise: Promise<never>;
  stop(): void;
}

/** How long a plain connection may wait for a greeting before the port is probed for TLS in parallel. */
export const WATCHDOG_DELAY_MS = 1_500;

/**
 * For STARTTLS / no-encryption checks: if no greeting has arrived after `delayMs`, probe the
 * port with a TLS handshake in parallel. A port that completes one expects SSL/TLS, so the check
 * can stop at once instead of waiting out the greeting timeout (which stays long enough for slow
 * servers). A plain server answers the probe with its greeting, which the probe ignores.
 *
 * @example
 *   const dog = watchForImplicitTls(run, ep, 'imap', () => greeted);
 *   try { await Promise.race([client.connect(), dog.promise]); } finally { dog.stop(); }
 */
export function watchForImplicitTls(run: CheckRun, ep: Endpoint, expected: GreetingKind, greeted: () => boolean, delayMs = WATCHDOG_DELAY_MS): TlsWatchdog {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_resolve, reject) => {
    if (ep.security === 'tls') return;
    timer = setTimeout(() => {
      if (stopped || greeted()) return;
      const ms = budget(run);
      if (ms < 150) return;
      const target = { address: run.resolved.address, port: ep.port, hostName: run.resolved.host, timeoutMs: ms };
      void (async () => {
        const tls = await probeTls(target);
        run.log.debug({ probe: 'tls-watchdog', result: tls.kind }, 'port probe');
        if (stopped || greeted()) return;
        if (tls.kind === 'tls') return reject(probeSignal('MP_PORT_EXPECTS_TLS'));
        if (tls.kind !== 'closed') return;
        // not TLS either: a server that answers a nudge with another protocol (a web server) is
        // conclusive; one that greets like the expected protocol is just slow, keep waiting
        const rest = budget(run);
        if (rest < 150) return;
        const line = await probeLine({ ...target, timeoutMs: Math.min(rest, 1_000), nudge: NUDGE, quietMs: 200 });
        run.log.debug({ probe: 'line-watchdog', result: line.kind }, 'port probe');
        if (!stopped && !greeted() && line.kind === 'line' && greetingKind(line.line) !== expected) {
          reject(probeSignal('MP_UNEXPECTED_GREETING', { greeting: line.line }));
        }
      })();
    }, delayMs);
  });
  // a rejection after the race was decided must not count as unhandled
  promise.catch(() => undefined);
  return {
    promise,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
