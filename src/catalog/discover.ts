/**
 * Settings discovery from an email address alone (`POST /v1/discover`, `mailport doctor`).
 *
 * Order (reference/providers.md §4.5): the catalog by address domain; then, in parallel and in
 * this priority, the catalog by MX host (custom domains hosted by Google, Microsoft, Zoho...),
 * RFC 6186/8314 SRV records, and the domain's own autoconfig file; finally a guess. As in
 * Thunderbird's FindConfig, the highest-priority step that succeeds wins even if a lower one
 * answered first; when the time budget runs out, the best step that has already answered wins.
 * Nothing here opens a mail connection: whatever is found is verified when the account is saved.
 */
import { promises as dnsPromises } from 'node:dns';
import type { Endpoint } from '../core/types.js';
import type { AddressGuard } from '../net/guard.js';
import type { Catalog } from './catalog.js';
import type { Preset, PresetAlternatives } from './preset.js';
import { fillTemplate, fillText, parseEmail, type EmailParts } from './template.js';
import { srvEndpoints, type SrvRecord } from './srv.js';
import { autoconfigUrls, parseAutoconfig } from './autoconfig.js';
import { createFetchText, type FetchText } from './fetch-text.js';

export type DiscoverySource = 'preset' | 'mx' | 'srv' | 'autoconfig' | 'guess';

export interface Discovery {
  /** the catalog preset the settings come from, or null */
  preset: string | null;
  smtp: Endpoint | null;
  imap: Endpoint | null;
  pop: Endpoint | null;
  source: DiscoverySource;
  /** the login name to suggest, placeholders filled */
  username?: string;
  notes?: string[];
  /** other known endpoints of the preset (e.g. port 587 beside 465), placeholders filled */
  alternatives?: PresetAlternatives;
}

/** The part of `node:dns/promises` `Resolver` discovery uses. */
export interface DiscoveryResolver {
  resolveMx(name: string): Promise<Array<{ priority: number; exchange: string }>>;
  resolveSrv(name: string): Promise<SrvRecord[]>;
}

export interface DiscoveryDeps {
  catalog: Catalog;
  resolver: DiscoveryResolver;
  fetchText: FetchText;
  /** checked before any autoconfig host is fetched; a blocked host skips that URL */
  guard?: AddressGuard;
  /** the whole budget for the network steps; default 5000 ms */
  timeoutMs?: number;
}

export const DEFAULT_DISCOVERY_TIMEOUT_MS = 5000;

const GUESS_NOTE = 'These settings are a guess from your domain name; they are checked when you save. If the check fails, copy the server names from your email provider\'s help pages.';

function fromPreset(p: Preset, email: EmailParts, source: 'preset' | 'mx'): Discovery {
  const result: Discovery = {
    preset: p.id,
    smtp: fillTemplate(p.smtp, email),
    imap: fillTemplate(p.imap, email),
    pop: fillTemplate(p.pop, email),
    source,
    username: fillText(p.username, email),
    notes: [...p.notes],
  };
  if (p.alternatives) {
    const alt: PresetAlternatives = {};
    for (const [k, list] of Object.entries(p.alternatives) as Array<[keyof PresetAlternatives, Endpoint[]]>) {
      alt[k] = list.map((e) => fillTemplate(e, email));
    }
    result.alternatives = alt;
  }
  return result;
}

/** The catalog preset for the domain's mail exchangers, best MX first. */
async function viaMx(email: EmailParts, deps: DiscoveryDeps): Promise<Discovery | null> {
  const records = await deps.resolver.resolveMx(email.domain);
  const sorted = [...records].sort((a, b) => a.priority - b.priority);
  for (const mx of sorted) {
    // RFC 7505 null MX ("." or empty): the domain receives no mail
    if (!mx.exchange || mx.exchange === '.') continue;
    const preset = deps.catalog.byMxHost(mx.exchange);
    if (preset && preset.id !== 'other') return fromPreset(preset, email, 'mx');
  }
  return null;
}

async function viaSrv(email: EmailParts, deps: DiscoveryDeps): Promise<Discovery | null> {
  const found = await srvEndpoints(email.domain, (name) => deps.resolver.resolveSrv(name));
  if (!found) return null;
  return { preset: null, ...found, source: 'srv', username: email.address };
}

/** The two provider URLs, the first one preferred, fetched in parallel to save time. */
async function viaAutoconfig(email: EmailParts, deps: DiscoveryDeps, deadline: number, signal: AbortSignal): Promise<Discovery | null> {
  const attempts = autoconfigUrls(email).map(async (url) => {
    if (deps.guard) {
      try {
        await deps.guard.resolve(new URL(url).hostname);
      } catch {
        return null; // a domain pointing autoconfig at a private address gets no request from us
      }
    }
    const answer = await deps.fetchText(url, { timeoutMs: Math.max(0, deadline - Date.now()), signal });
    if (!answer || answer.status !== 200) return null;
    const parsed = parseAutoconfig(answer.body, email);
    return parsed && { preset: null, smtp: parsed.smtp, imap: parsed.imap, pop: parsed.pop, source: 'autoconfig' as const, username: parsed.username };
  });
  return firstByPriority(attempts, deadline);
}

function guess(email: EmailParts): Discovery {
  return {
    preset: null,
    smtp: { host: `smtp.${email.domain}`, port: 587, security: 'starttls' },
    imap: { host: `imap.${email.domain}`, port: 993, security: 'tls' },
    pop: { host: `pop.${email.domain}`, port: 995, security: 'tls' },
    source: 'guess',
    username: email.address,
    notes: [GUESS_NOTE],
  };
}

/**
 * Settles with the first non-null value in priority order: it waits for a higher-priority
 * promise even when a lower one is already done. At the deadline it settles with the best value
 * that has arrived (or null). A rejection counts as null.
 *
 * @example
 *   await firstByPriority([slowButPreferred, fastFallback], Date.now() + 5000); // slowButPreferred's value if non-null
 */
export function firstByPriority<T>(promises: ReadonlyArray<Promise<T | null>>, deadline: number): Promise<T | null> {
  return new Promise((resolve) => {
    const PENDING = Symbol('pending');
    const results: Array<T | null | typeof PENDING> = promises.map(() => PENDING);
    let settled = false;
    const settle = (value: T | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(value);
    };
    const check = () => {
      for (const r of results) {
        if (r === PENDING) return; // a higher-priority step may still succeed
        if (r !== null) return settle(r);
      }
      settle(null);
    };
    const timer = setTimeout(() => {
      const best = results.find((r): r is T => r !== PENDING && r !== null);
      settle(best ?? null);
    }, Math.max(0, deadline - Date.now()));
    promises.forEach((p, i) => {
      p.then(
        (v) => { results[i] = v ?? null; check(); },
        () => { results[i] = null; check(); },
      );
    });
    if (promises.length === 0) settle(null);
  });
}

/**
 * Finds connection settings for an address. Throws INVALID_INPUT (field `email`) for a malformed
 * address; never fails because of the network: a failed or slow step is skipped, and the last
 * resort is a guess.
 *
 * @example
 *   const found = await discover('ann@example.org', defaultDiscoveryDeps(new Catalog(), { guard }));
 *   // → { preset: 'google_workspace', source: 'mx', smtp: { host: 'smtp.gmail.com', port: 465, security: 'tls' }, ... }
 */
export async function discover(email: string, deps: DiscoveryDeps): Promise<Discovery> {
  const parts = parseEmail(email);

  const preset = deps.catalog.byDomain(parts.domain);
  if (preset && preset.id !== 'other') return fromPreset(preset, parts, 'preset');

  const deadline = Date.now() + (deps.timeoutMs ?? DEFAULT_DISCOVERY_TIMEOUT_MS);
  const abort = new AbortController();
  try {
    const found = await firstByPriority(
      [viaMx(parts, deps), viaSrv(parts, deps), viaAutoconfig(parts, deps, deadline, abort.signal)],
      deadline,
    );
    return found ?? guess(parts);
  } finally {
    // the losing steps' HTTP requests are no longer wanted (DNS queries end by their own timeout)
    abort.abort();
  }
}

export interface DefaultDiscoveryOptions {
  guard?: AddressGuard;
  timeoutMs?: number;
  /** DNS servers as `host` or `host:port`; the system's by default */
  dnsServers?: string[];
}

/**
 * Production dependencies: a dedicated DNS resolver (short per-query timeout, so abandoned
 * queries do not linger) and the guarded HTTPS fetcher.
 *
 * @example
 *   const deps = defaultDiscoveryDeps(new Catalog(), { guard: new AddressGuard() });
 *   await discover('ann@example.org', deps);
 */
export function defaultDiscoveryDeps(catalog: Catalog, options: DefaultDiscoveryOptions = {}): DiscoveryDeps {
  const resolver = new dnsPromises.Resolver({ timeout: 2000, tries: 2 });
  if (options.dnsServers?.length) resolver.setServers(options.dnsServers);
  const deps: DiscoveryDeps = {
    catalog,
    resolver,
    fetchText: createFetchText({ guard: options.guard }),
    timeoutMs: options.timeoutMs ?? DEFAULT_DISCOVERY_TIMEOUT_MS,
  };
  if (options.guard) deps.guard = options.guard;
  return deps;
}
