import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { MailportError, isMailportError } from '../core/errors.js';
import type { AddressGuard, ResolvedHost } from '../net/guard.js';

/** The longest part of a receiver's answer that is kept (API: "response", at most 500 characters). */
export const RESPONSE_SNIPPET_CHARS = 500;
// bytes read from the answer before the connection is dropped: enough for the snippet in any UTF-8
const READ_LIMIT_BYTES = RESPONSE_SNIPPET_CHARS * 4;

export interface PostOptions {
  guard: AddressGuard;
  /** bound for the whole exchange: connect, TLS, request, status line and the snippet */
  timeoutMs: number;
  /** aborts the request (the dispatcher stopping) */
  signal?: AbortSignal;
  /**
   * CA certificates (PEM) to trust for https receivers INSTEAD of Node's store: for tests.
   * Operators add CAs with NODE_EXTRA_CA_CERTS; certificate checks are never turned off.
   */
  ca?: string;
}

export interface PostResult {
  statusCode: number;
  /** the start of the answer body, at most {@link RESPONSE_SNIPPET_CHARS} characters */
  response: string;
}

const CERT_CODES = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED', 'CERT_REVOKED', 'CERT_SIGNATURE_FAILURE',
]);

/** A lookup that always answers the address the guard checked, so a second DNS answer cannot swap it. */
function pinnedLookup(resolved: ResolvedHost): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: resolved.address, family: resolved.family }]);
    else callback(null, resolved.address, resolved.family);
  }) as LookupFunction;
}

/** Turns a failed exchange into a code from the error catalog, worded for a webhook receiver. */
export function classifyPostError(err: unknown, timeoutMs: number): MailportError {
  if (isMailportError(err)) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? '';
  if (code === 'MAILPORT_TIMEOUT' || code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new MailportError('TIMEOUT', { message: `The webhook receiver did not answer within ${Math.round(timeoutMs / 100) / 10} s.`, hint: 'Answer with 2xx quickly and do the work afterwards.', cause: err });
  }
  if (code === 'ECONNREFUSED') return new MailportError('CONNECTION_REFUSED', { message: 'The webhook receiver refused the connection.', hint: 'Check the URL\'s host and port, and that the receiver is running.', cause: err });
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new MailportError('CONNECTION_REFUSED', { message: 'The webhook receiver could not be reached.', hint: 'Check the URL\'s host and the network between Mailport and the receiver.', cause: err });
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new MailportError('HOST_NOT_FOUND', { message: 'The webhook receiver\'s host name could not be found.', cause: err });
  if (CERT_CODES.has(code)) return new MailportError('CERT_INVALID', { message: `The webhook receiver's certificate is not valid (${code}).`, hint: 'Serve a certificate from a trusted authority for this host name.', cause: err });
  if (code === 'MAILPORT_ABORTED') return new MailportError('UNAVAILABLE', { message: 'The delivery was interrupted because Mailport is stopping; it will be retried.', cause: err });
  return new MailportError('PROTOCOL_ERROR', { message: `The connection to the webhook receiver failed${code ? ` (${code})` : ''}.`, hint: 'Check that the URL points to an HTTP(S) server that answers POST requests.', cause: err });
}

function failure(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/**
 * POSTs a body to a user-supplied URL: the host passes the address guard first and the socket
 * goes to the checked address, while the URL's name stays the Host header, the TLS SNI and the
 * name the certificate must match (certificate checks stay on). Redirects are not followed (a
 * redirect could lead anywhere). Any HTTP answer resolves; transport failures throw a
 * MailportError (ADDRESS_BLOCKED, HOST_NOT_FOUND, TIMEOUT, CONNECTION_REFUSED, CERT_INVALID,
 * PROTOCOL_ERROR).
 *
 * @example
 *   const { statusCode } = await postGuarded(new URL('https://crm.example.com/hooks'), body, { 'content-type': 'application/json' }, { guard, timeoutMs: 10_000 });
 */
export async function postGuarded(url: URL, body: string, headers: Record<string, string>, options: PostOptions): Promise<PostResult> {
  const resolved = await options.guard.resolve(url.hostname);
  const secure = url.protocol === 'https:';
  const payload = Buffer.from(body, 'utf8');
  return new Promise<PostResult>((resolve, reject) => {
    let settled = false;
    const finish = (err: unknown, result?: PostResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (err) reject(classifyPostError(err, options.timeoutMs));
      else resolve(result!);
    };
    const req = (secure ? https : http).request({
      protocol: url.protocol,
      host: resolved.host,
      port: url.port || (secure ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      headers: { ...headers, 'content-length': String(payload.length) },
      // no pooled sockets: each delivery connects to the address checked for it
      agent: false,
      lookup: pinnedLookup(resolved),
      ...(secure && options.ca ? { ca: options.ca } : {}),
    });
    req.on('error', (err) => finish(err));
    const timer = setTimeout(() => req.destroy(failure('MAILPORT_TIMEOUT', 'timed out')), options.timeoutMs);
    const onAbort = () => req.destroy(failure('MAILPORT_ABORTED', 'aborted'));
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => {
        const text = Buffer.concat(chunks).toString('utf8').slice(0, RESPONSE_SNIPPET_CHARS);
        finish(null, { statusCode: res.statusCode ?? 0, response: text });
        // the rest of a long answer is not needed
        res.destroy();
      };
      res.on('data', (chunk: Buffer) => {
        if (size >= READ_LIMIT_BYTES) return;
        chunks.push(chunk);
        size += chunk.length;
        if (size >= READ_LIMIT_BYTES) done();
      });
      res.on('end', done);
      // an answer cut off after the status line still tells us the status
      res.on('error', done);
      res.on('aborted', done);
    });
    req.end(payload);
  });
}
