/**
 * A small HTTPS GET for autoconfig files. The host comes from the user's email domain, so every
 * hop is checked by the address guard and the connection goes to the address the guard
 * approved (a second DNS answer cannot swap in a private address), bodies are capped, and
 * redirects may only lead to other HTTPS URLs.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { AddressGuard } from '../net/guard.js';

export interface FetchTextOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface FetchTextResult {
  status: number;
  body: string;
}

/** GET a URL as text; null on any failure (network, timeout, too large, refused redirect). */
export type FetchText = (url: string, options: FetchTextOptions) => Promise<FetchTextResult | null>;

export interface FetchTextConfig {
  /** checks every host before connecting; without it the system resolver is used as is */
  guard?: AddressGuard;
  /** default 256 KiB: autoconfig files are a few KiB */
  maxBytes?: number;
  /** default 3 */
  maxRedirects?: number;
  /**
   * Tests only: send each (still https://) URL as plain HTTP to this port, because a loopback
   * test server has no publicly trusted certificate. Production leaves it unset.
   */
  plainHttpPort?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

interface Hop extends FetchTextResult {
  location?: string;
}

/** A lookup that always answers with the address the guard already checked. */
function pinnedLookup(address: string, family: 4 | 6): LookupFunction {
  return (_hostname, options, callback) => {
    const cb = callback as (err: Error | null, address: unknown, family?: number) => void;
    if (options.all) cb(null, [{ address, family }]);
    else cb(null, address, family);
  };
}

/**
 * Creates the fetcher discovery uses by default.
 *
 * @example
 *   const fetchText = createFetchText({ guard: new AddressGuard() });
 *   const r = await fetchText('https://autoconfig.example.org/mail/config-v1.1.xml', { timeoutMs: 3000 });
 *   if (r?.status === 200) console.log(r.body);
 */
export function createFetchText(config: FetchTextConfig = {}): FetchText {
  const maxBytes = config.maxBytes ?? 256 * 1024;
  const maxRedirects = config.maxRedirects ?? 3;

  async function hop(url: URL, timeoutMs: number, signal: AbortSignal | undefined): Promise<Hop | null> {
    if (timeoutMs <= 0 || signal?.aborted) return null;
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    let lookup: LookupFunction | undefined;
    if (config.guard) {
      try {
        const approved = await config.guard.resolve(host);
        lookup = pinnedLookup(approved.address, approved.family);
      } catch {
        return null; // blocked or not found: not worth a request
      }
    }
    const plain = config.plainHttpPort !== undefined;
    return new Promise((resolve) => {
      let done = false;
      const finish = (value: Hop | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (value === null) req.destroy();
        resolve(value);
      };
      const req = (plain ? http : https).request(
        {
          hostname: host,
          port: plain ? config.plainHttpPort : Number(url.port || 443),
          path: `${url.pathname}${url.search}`,
          method: 'GET',
          headers: { accept: 'application/xml, text/xml;q=0.9, */*;q=0.1', 'user-agent': 'Mailport-discovery' },
          // a fresh connection each time: a pooled socket could belong to another pinned address
          agent: false,
          lookup,
          signal,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const location = res.headers.location;
          if (REDIRECTS.has(status) && location) {
            res.resume();
            finish({ status, body: '', location });
            return;
          }
          if (Number(res.headers['content-length'] ?? 0) > maxBytes) return finish(null);
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxBytes) finish(null);
            else chunks.push(chunk);
          });
          res.on('end', () => finish({ status, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', () => finish(null));
        },
      );
      const timer = setTimeout(() => finish(null), timeoutMs);
      req.on('error', () => finish(null));
      req.end();
    });
  }

  return async (url, { timeoutMs, signal }) => {
    const deadline = Date.now() + timeoutMs;
    let current: URL;
    try {
      current = new URL(url);
    } catch {
      return null;
    }
    for (let redirects = 0; redirects <= maxRedirects; redirects++) {
      if (current.protocol !== 'https:') return null;
      const answer = await hop(current, deadline - Date.now(), signal);
      if (!answer) return null;
      if (answer.location === undefined) return { status: answer.status, body: answer.body };
      try {
        current = new URL(answer.location, current);
      } catch {
        return null;
      }
    }
    return null;
  };
}
