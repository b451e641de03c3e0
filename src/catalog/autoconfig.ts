/**
 * Thunderbird autoconfig ("ISPDB" clientConfig v1.1 files) published by a mail domain: where to
 * look, and how to read one into endpoints. Format:
 * https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { Endpoint, Security } from '../core/types.js';
import { fillText, isHostName, type EmailParts } from './template.js';

/**
 * The provider's own autoconfig locations, in Thunderbird's order (FetchConfig.sys.mjs), HTTPS
 * only: an HTTP answer could be forged by anyone on the path.
 *
 * @example
 *   autoconfigUrls(parseEmail('ann@example.org'))
 *   // → ['https://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=ann%40example.org',
 *   //    'https://example.org/.well-known/autoconfig/mail/config-v1.1.xml']
 */
export function autoconfigUrls(email: EmailParts): string[] {
  return [
    `https://autoconfig.${email.domain}/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(email.address)}`,
    `https://${email.domain}/.well-known/autoconfig/mail/config-v1.1.xml`,
  ];
}

export interface AutoconfigResult {
  smtp: Endpoint | null;
  imap: Endpoint | null;
  pop: Endpoint | null;
  /** the login name, placeholders filled */
  username: string;
}

const SOCKET_TYPES: Record<string, Security> = { SSL: 'tls', STARTTLS: 'starttls', plain: 'none' };

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // keep text as text: ports are checked below, and host names like "1und1" must stay strings
  parseTagValue: false,
  // no entity expansion: nothing we read needs it, and it keeps entity-expansion bombs out
  processEntities: false,
  trimValues: true,
  isArray: (name) => name === 'emailProvider' || name === 'incomingServer' || name === 'outgoingServer',
});

type Node = Record<string, unknown>;

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim();
  // an element with attributes parses to an object whose text is under '#text'
  if (v && typeof v === 'object' && typeof (v as Node)['#text'] === 'string') return ((v as Node)['#text'] as string).trim();
  return undefined;
}

interface ServerBlock {
  endpoint: Endpoint;
  username?: string;
}

function readServer(node: Node, email: EmailParts): ServerBlock | null {
  const hostText = text(node.hostname);
  const portText = text(node.port);
  const socketType = text(node.socketType);
  if (!hostText || !portText || !socketType) return null;
  const host = fillText(hostText, email).toLowerCase().replace(/\.$/, '');
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  const security = SOCKET_TYPES[socketType];
  if (!isHostName(host) || !(port >= 1 && port <= 65535) || !security) return null;
  const username = text(node.username);
  return { endpoint: { host, port, security }, username: username || undefined };
}

/** The first usable server of a type, skipping cleartext ones when an encrypted one exists. */
function pick(nodes: unknown, type: string, email: EmailParts): ServerBlock | null {
  if (!Array.isArray(nodes)) return null;
  const servers = nodes
    .filter((n): n is Node => !!n && typeof n === 'object' && (n as Node)['@_type'] === type)
    .map((n) => readServer(n, email))
    .filter((s): s is ServerBlock => s !== null);
  return servers.find((s) => s.endpoint.security !== 'none') ?? servers[0] ?? null;
}

/**
 * Reads a clientConfig document. Returns null for anything that is not a well-formed clientConfig
 * with at least one usable IMAP, POP3 or SMTP server (garbage, HTML error pages, Exchange-only
 * files). Only the first `emailProvider` is read, as Thunderbird does.
 *
 * @example
 *   parseAutoconfig(xml, parseEmail('ann@example.org'))
 *   // → { smtp: { host: 'smtp.example.org', port: 465, security: 'tls' }, imap: ..., pop: null, username: 'ann@example.org' }
 */
export function parseAutoconfig(xml: string, email: EmailParts): AutoconfigResult | null {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) return null;
  if (XMLValidator.validate(xml) !== true) return null;
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch {
    return null;
  }
  const config = doc.clientConfig;
  if (!config || typeof config !== 'object') return null;
  const providers = (config as Node).emailProvider;
  const provider = Array.isArray(providers) ? (providers[0] as Node | undefined) : undefined;
  if (!provider || typeof provider !== 'object') return null;

  const imap = pick(provider.incomingServer, 'imap', email);
  const pop = pick(provider.incomingServer, 'pop3', email);
  const smtp = pick(provider.outgoingServer, 'smtp', email);
  if (!imap && !pop && !smtp) return null;

  // one login name for the account: the incoming server's, as the settings form shows one field
  const template = imap?.username ?? pop?.username ?? smtp?.username ?? '%EMAILADDRESS%';
  const username = fillText(template, email);
  return {
    smtp: smtp?.endpoint ?? null,
    imap: imap?.endpoint ?? null,
    pop: pop?.endpoint ?? null,
    // a template with a placeholder we do not know would log in as garbage: fall back to the address
    username: /%[A-Z]+%/.test(username) ? email.address : username,
  };
}
