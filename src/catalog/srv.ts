/**
 * RFC 6186 / RFC 8314 service records: the mail servers a domain publishes in its own DNS.
 */
import type { Endpoint, Security } from '../core/types.js';
import type { MailProtocol } from './preset.js';
import { isHostName } from './template.js';

/** The SRV answer shape of `node:dns/promises` `Resolver#resolveSrv`. */
export interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  name: string;
}

export type ResolveSrv = (name: string) => Promise<SrvRecord[]>;

/**
 * Services per protocol, implicit TLS first: RFC 8314 prefers it to STARTTLS, and the plain
 * variants (`_imap`, `_pop3`, `_submission`) are only used for STARTTLS, never for cleartext.
 */
const SERVICES: Record<MailProtocol, Array<{ service: string; security: Security }>> = {
  smtp: [{ service: '_submissions._tcp', security: 'tls' }, { service: '_submission._tcp', security: 'starttls' }],
  imap: [{ service: '_imaps._tcp', security: 'tls' }, { service: '_imap._tcp', security: 'starttls' }],
  pop: [{ service: '_pop3s._tcp', security: 'tls' }, { service: '_pop3._tcp', security: 'starttls' }],
};

/**
 * The best usable target of one SRV answer: lowest priority, then highest weight (RFC 2782
 * weights are for load sharing; a settings form wants one stable answer). A target of "."
 * means the service is explicitly not offered.
 *
 * @example
 *   pickSrvTarget([{ priority: 10, weight: 0, port: 993, name: 'b.example.org' },
 *                  { priority: 5, weight: 0, port: 993, name: 'a.example.org' }], 'tls')
 *   // → { host: 'a.example.org', port: 993, security: 'tls' }
 */
export function pickSrvTarget(records: readonly SrvRecord[], security: Security): Endpoint | null {
  const sorted = [...records].sort((a, b) => a.priority - b.priority || b.weight - a.weight);
  for (const r of sorted) {
    const host = r.name.toLowerCase().replace(/\.$/, '');
    if (host === '' || !isHostName(host)) continue;
    if (!Number.isInteger(r.port) || r.port < 1 || r.port > 65535) continue;
    return { host, port: r.port, security };
  }
  return null;
}

/**
 * Looks up all six service names of a domain at once; a name that fails or is missing just
 * yields nothing. Returns null when the domain publishes no usable record at all.
 *
 * @example
 *   const r = new dns.promises.Resolver();
 *   await srvEndpoints('example.org', (n) => r.resolveSrv(n));
 *   // → { smtp: { host: 'mail.example.org', port: 465, security: 'tls' }, imap: ..., pop: null }
 */
export async function srvEndpoints(domain: string, resolveSrv: ResolveSrv): Promise<Record<MailProtocol, Endpoint | null> | null> {
  const lookups = (Object.keys(SERVICES) as MailProtocol[]).flatMap((protocol) =>
    SERVICES[protocol].map(async ({ service, security }) => {
      const records = await resolveSrv(`${service}.${domain}`).catch(() => [] as SrvRecord[]);
      return { protocol, security, records };
    }),
  );
  const answers = await Promise.all(lookups);
  const result: Record<MailProtocol, Endpoint | null> = { smtp: null, imap: null, pop: null };
  for (const protocol of Object.keys(SERVICES) as MailProtocol[]) {
    // answers keep SERVICES' order, so the TLS variant is tried first
    for (const a of answers.filter((x) => x.protocol === protocol)) {
      const endpoint = pickSrvTarget(a.records, a.security);
      if (endpoint) {
        result[protocol] = endpoint;
        break;
      }
    }
  }
  return result.smtp || result.imap || result.pop ? result : null;
}
