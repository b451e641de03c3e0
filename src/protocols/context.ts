/**
 * What every protocol check shares: the context type, the time budget, the guard step, and the
 * one place that turns a finished or failed check into a {@link CheckResult} (classified, timed,
 * scrubbed of secrets, logged).
 */
import { performance } from 'node:perf_hooks';
import { MailportError, invalid } from '../core/errors.js';
import { SECURITIES, type CheckResult, type Credentials, type Endpoint } from '../core/types.js';
import type { AddressGuard, ResolvedHost } from '../net/guard.js';
import { classify, probeSignal, type CheckPhase, type CheckProtocol, type ProviderFacts } from './classify.js';

export interface CheckLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface CheckContext {
  /** every host passes it before any socket opens; sockets go to the resolved address, the name is used for SNI and the certificate */
  guard: AddressGuard;
  /** per protocol, default 15000; the check ends by then whatever happens */
  timeoutMs?: number;
  /** provider facts from the catalog that refine classification */
  provider?: ProviderFacts;
  /** where to probe for POP3 when IMAP is refused (default [995, 110]) */
  popProbePorts?: number[];
  logger?: CheckLogger;
  /** EHLO name */
  clientName?: string;
}

export const DEFAULT_TIMEOUT_MS = 15_000;

/** A time budget that every step of one check draws from. */
export class Deadline {
  readonly start = performance.now();
  constructor(readonly totalMs: number) {}
  elapsed(): number {
    return performance.now() - this.start;
  }
  remaining(): number {
    return Math.max(0, this.totalMs - this.elapsed());
  }
  /**
   * How long to wait for a greeting: long enough for slow real servers, short enough that a
   * TLS-vs-plain mismatch (the server waits silently) leaves time to probe the port.
   */
  greetingMs(): number {
    return Math.max(300, Math.min(5_000, Math.floor(this.remaining() * 0.4)));
  }
}

/** What a check body gets: the resolved address, the budget, and a way to register cleanup. */
export interface CheckRun {
  resolved: ResolvedHost;
  deadline: Deadline;
  /** called once when the budget runs out (close sockets, clients) */
  onAbort(fn: () => void): void;
  log: CheckLogger;
  /** sets the phase for classification of a failure thrown after this point */
  phase(p: CheckPhase): void;
}

export interface CheckOutcome {
  /** the server's reply that decided a success, if any (e.g. its greeting) */
  response?: string;
}

const NOOP_LOGGER: CheckLogger = { debug() {}, info() {}, warn() {} };

function validateEndpoint(protocol: CheckProtocol, ep: Endpoint): void {
  const field = protocol === 'pop3' ? 'pop' : protocol;
  if (!ep || typeof ep.host !== 'string' || !ep.host.trim()) throw invalid(`${field}.host`, 'host is required');
  if (!Number.isInteger(ep.port) || ep.port < 1 || ep.port > 65535) throw invalid(`${field}.port`, 'port must be a whole number from 1 to 65535');
  if (!SECURITIES.includes(ep.security)) throw invalid(`${field}.security`, `security must be one of ${SECURITIES.join(', ')}`);
}

/**
 * Runs one protocol check: guard first (no socket before it), then `body` with a hard deadline,
 * then classification. Never throws for a mail-server problem; throws INVALID_INPUT for an
 * endpoint that is not well formed.
 */
export async function runCheck(
  protocol: CheckProtocol,
  ep: Endpoint,
  cred: Credentials,
  ctx: CheckContext,
  body: (run: CheckRun) => Promise<CheckOutcome | void>,
): Promise<CheckResult> {
  validateEndpoint(protocol, ep);
  const where = { protocol, host: ep.host, port: ep.port, security: ep.security };
  const baseLog = ctx.logger ?? NOOP_LOGGER;
  const secrets = secretsOf(cred);
  const started = performance.now();
  const finish = (ok: boolean, fields: Omit<CheckResult, 'protocol' | 'ok' | 'ms'>): CheckResult => {
    const result: CheckResult = { protocol, ok, ...scrub(fields, secrets), ms: Math.round(performance.now() - started) };
    if (ok) baseLog.info({ ...where, ok, ms: result.ms }, `${protocol} check passed`);
    else baseLog.warn({ ...where, ok, code: result.code, ms: result.ms }, `${protocol} check failed: ${result.message}`);
    return result;
  };
  const run = await guarded(protocol, ep, cred, ctx, body);
  if (run.ok) return finish(true, run.value && run.value.response ? { response: run.value.response } : {});
  const e = run.error;
  return finish(false, { code: e.code, message: e.message, hint: e.hint, response: e.response });
}

/**
 * Runs one protocol session the way {@link runCheck} runs a check (endpoint validated, guard
 * first so no socket opens before it, one hard deadline, cleanup on abort) but returns what
 * `body` returns and throws any failure as a classified, secret-free {@link MailportError}.
 * For work that goes beyond a check: storing a Sent copy, syncing a folder.
 *
 * @example
 *   const uid = await runSession('imap', ep, cred, { guard, timeoutMs: 60_000 }, async (run) => {
 *     // connect to run.resolved.address, register run.onAbort(() => client.close()), ...
 *     return 42;
 *   });
 */
export async function runSession<T>(protocol: CheckProtocol, ep: Endpoint, cred: Credentials, ctx: CheckContext, body: (run: CheckRun) => Promise<T>): Promise<T> {
  validateEndpoint(protocol, ep);
  const run = await guarded(protocol, ep, cred, ctx, body);
  if (run.ok) return run.value;
  const e = run.error;
  const clean = scrub({ message: e.message, hint: e.hint, response: e.response }, secretsOf(cred));
  throw new MailportError(e.code, { ...clean, protocol: e.protocol ?? protocol, field: e.field, cause: e.cause });
}

function secretsOf(cred: Credentials): string[] {
  return [cred.password, cred.accessToken].filter((s): s is string => typeof s === 'string' && s.length >= 3);
}

/** The shared core of {@link runCheck} and {@link runSession}: guard, deadline, classification. */
async function guarded<T>(
  protocol: CheckProtocol,
  ep: Endpoint,
  cred: Credentials,
  ctx: CheckContext,
  body: (run: CheckRun) => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: MailportError }> {
  const timeoutMs = ctx.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = new Deadline(timeoutMs);
  const baseLog = ctx.logger ?? NOOP_LOGGER;
  const where = { protocol, host: ep.host, port: ep.port, security: ep.security };
  const auth = cred.accessToken ? ('token' as const) : ('password' as const);
  let phase: CheckPhase | undefined;
  const aborters: Array<() => void> = [];
  let timer: NodeJS.Timeout | undefined;

  try {
    const value = await new Promise<T>((resolve, reject) => {
      timer = setTimeout(() => {
        for (const fn of aborters.splice(0)) {
          try {
            fn();
          } catch {
            /* closing is best effort */
          }
        }
        reject(probeSignal('MP_DEADLINE', { timeoutMs }));
      }, timeoutMs);
      (async () => {
        // the guard runs before any socket: ADDRESS_BLOCKED / HOST_NOT_FOUND come from here
        const resolved = await ctx.guard.resolve(ep.host);
        const log: CheckLogger = {
          debug: (o, m) => baseLog.debug({ ...where, ...o }, m),
          info: (o, m) => baseLog.info({ ...where, ...o }, m),
          warn: (o, m) => baseLog.warn({ ...where, ...o }, m),
        };
        return body({ resolved, deadline, onAbort: (fn) => aborters.push(fn), log, phase: (p) => (phase = p) });
      })().then(resolve, reject);
    });
    return { ok: true, value };
  } catch (err) {
    const e = classify(err, { protocol, endpoint: ep, provider: ctx.provider, phase, auth });
    baseLog.debug({ ...where, code: e.code, cause: describeCause(err) }, 'classified');
    return { ok: false, error: e };
  } finally {
    clearTimeout(timer);
  }
}

/** A short, secret-free description of the original error for debug logs. */
function describeCause(err: unknown): object {
  if (!err || typeof err !== 'object') return { value: String(err) };
  const e = err as Record<string, unknown>;
  const pick: Record<string, unknown> = {};
  for (const k of ['name', 'code', 'originalCode', 'responseCode', 'serverResponseCode', 'command', 'phase', 'timeoutType', 'authenticationFailed']) {
    if (e[k] !== undefined) pick[k] = e[k];
  }
  return pick;
}

/**
 * Removes any secret from the texts of a result: the secret itself, and any base64 word that
 * decodes to something containing it (a server echoing an AUTH PLAIN or XOAUTH2 payload).
 * Defence in depth: nothing should put a secret there in the first place.
 */
function scrub<T extends Record<string, unknown>>(fields: T, secrets: string[]): T {
  if (!secrets.length) return fields;
  const out = { ...fields } as Record<string, unknown>;
  for (const [k, v] of Object.entries(out)) {
    if (typeof v !== 'string') continue;
    let text = v;
    for (const s of secrets) text = text.split(s).join('[redacted]');
    text = text.replace(/[A-Za-z0-9+/]{8,}={0,2}/g, (word) => {
      const decoded = Buffer.from(word, 'base64');
      return secrets.some((s) => decoded.includes(Buffer.from(s))) ? '[redacted]' : word;
    });
    out[k] = text;
  }
  return out as T;
}
