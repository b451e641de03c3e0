/**
 * A real (tiny) authoritative DNS server on loopback UDP for tests: answers MX, SRV, A, AAAA and TXT
 * questions from a table, NOERROR with no answers when the name exists without that type, and
 * NXDOMAIN otherwise. `silent: true` makes a server that reads queries and never answers; an entry
 * with `servfail: true` answers SERVFAIL for its name.
 *
 * @example
 *   const dns = await startDnsServer({ 'example.org': { MX: [{ priority: 10, exchange: 'aspmx.l.google.com' }] } });
 *   const resolver = new Resolver();
 *   resolver.setServers([dns.server]);
 *   await resolver.resolveMx('example.org');
 *   await dns.close();
 */
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';

export interface DnsZoneEntry {
  MX?: Array<{ priority: number; exchange: string }>;
  /** a target of "." means "service not offered" (RFC 2782) */
  SRV?: Array<{ priority: number; weight: number; port: number; target: string }>;
  A?: string[];
  AAAA?: string[];
  /** one TXT record per item; an array item is one record made of several character-strings */
  TXT?: Array<string | string[]>;
  /** answer every question about this name with SERVFAIL (a broken authoritative server) */
  servfail?: boolean;
  /** answer questions about this name only after this many milliseconds (a slow server) */
  delayMs?: number;
}

export type DnsZone = Record<string, DnsZoneEntry>;

export interface DnsServer {
  port: number;
  /** `127.0.0.1:PORT`, ready for `Resolver#setServers` */
  server: string;
  /** every question received, as `TYPE name` */
  queries: string[];
  close(): Promise<void>;
}

const NXDOMAIN = 3;
const SERVFAIL = 2;

function answersFor(zone: DnsZone, name: string, type: string): dnsPacket.Answer[] | null {
  const entry = zone[name];
  if (!entry) return null;
  const ttl = 60;
  switch (type) {
    case 'MX':
      return (entry.MX ?? []).map((r) => ({ type: 'MX', name, ttl, data: { preference: r.priority, exchange: r.exchange } }));
    case 'SRV':
      return (entry.SRV ?? []).map((r) => ({ type: 'SRV', name, ttl, data: { priority: r.priority, weight: r.weight, port: r.port, target: r.target } }));
    case 'A':
      return (entry.A ?? []).map((a) => ({ type: 'A', name, ttl, data: a }));
    case 'AAAA':
      return (entry.AAAA ?? []).map((a) => ({ type: 'AAAA', name, ttl, data: a }));
    case 'TXT':
      return (entry.TXT ?? []).map((t) => ({ type: 'TXT', name, ttl, data: t }));
    default:
      return [];
  }
}

export async function startDnsServer(zone: DnsZone, options: { silent?: boolean } = {}): Promise<DnsServer> {
  const lowerZone: DnsZone = Object.fromEntries(Object.entries(zone).map(([k, v]) => [k.toLowerCase().replace(/\.$/, ''), v]));
  const socket = dgram.createSocket('udp4');
  const queries: string[] = [];

  socket.on('message', (msg, rinfo) => {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return; // not DNS: ignore, as a real server would
    }
    const question = query.questions?.[0];
    if (!question) return;
    const name = question.name.toLowerCase().replace(/\.$/, '');
    queries.push(`${question.type} ${name}`);
    if (options.silent) return;
    const answers = answersFor(lowerZone, name, question.type);
    const servfail = lowerZone[name]?.servfail === true;
    const rcode = servfail ? SERVFAIL : answers === null ? NXDOMAIN : 0;
    const flags = dnsPacket.AUTHORITATIVE_ANSWER | (query.flags ?? 0) & dnsPacket.RECURSION_DESIRED | rcode;
    const response = dnsPacket.encode({ type: 'response', id: query.id, flags, questions: [question], answers: servfail ? [] : answers ?? [] });
    const send = () => {
      try {
        socket.send(response, rinfo.port, rinfo.address);
      } catch {
        // closed while a delayed answer was waiting: the test is over
      }
    };
    const delay = lowerZone[name]?.delayMs;
    if (delay) setTimeout(send, delay).unref();
    else send();
  });

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const port = socket.address().port;
  return {
    port,
    server: `127.0.0.1:${port}`,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
