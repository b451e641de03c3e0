/**
 * Email address parsing and the Thunderbird-style placeholders `%EMAILADDRESS%`,
 * `%EMAILLOCALPART%` and `%EMAILDOMAIN%` used by presets and autoconfig files.
 */
import { domainToASCII } from 'node:url';
import type { Endpoint } from '../core/types.js';
import { invalid } from '../core/errors.js';

export interface EmailParts {
  /** the address with its domain lower-cased and in ASCII (punycode) form */
  address: string;
  localPart: string;
  domain: string;
}

// RFC 5321 limits; the local part is checked loosely (any printable ASCII except specials that
// break SMTP commands) because providers accept far more than the common subset.
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$/;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * Whether `name` is a syntactically valid DNS host name (ASCII, at least two labels).
 *
 * @example
 *   isHostName('mail.example.org') // true
 *   isHostName('localhost')        // false: one label
 *   isHostName('10.0.0.1')         // false: an address, not a name
 */
export function isHostName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  if (labels.length < 2) return false;
  if (!labels.every((l) => LABEL.test(l))) return false;
  // the top-level label is never all digits: that would be an IPv4 literal
  return !/^\d+$/.test(labels[labels.length - 1]!);
}

/**
 * Splits and checks an email address. Throws INVALID_INPUT on field `email` when it is malformed.
 *
 * @example
 *   parseEmail('Ann@Example.COM') // → { address: 'Ann@example.com', localPart: 'Ann', domain: 'example.com' }
 */
export function parseEmail(email: unknown): EmailParts {
  if (typeof email !== 'string') throw invalid('email', 'The email address must be text.');
  const trimmed = email.trim();
  const at = trimmed.lastIndexOf('@');
  if (at <= 0 || at === trimmed.length - 1) {
    throw invalid('email', 'Enter a full email address, such as name@example.com.');
  }
  const localPart = trimmed.slice(0, at);
  const rawDomain = trimmed.slice(at + 1).replace(/\.$/, '');
  if (!LOCAL_PART.test(localPart) || localPart.startsWith('.') || localPart.endsWith('.') || localPart.includes('..')) {
    throw invalid('email', `"${trimmed}" is not a valid email address: check the part before the @.`);
  }
  // domainToASCII lower-cases and converts international names; it returns '' when invalid
  const domain = rawDomain.includes('@') ? '' : domainToASCII(rawDomain);
  if (!isHostName(domain)) {
    throw invalid('email', `"${trimmed}" is not a valid email address: check the part after the @.`);
  }
  return { address: `${localPart}@${domain}`, localPart, domain };
}

/**
 * Replaces the placeholders in one string.
 *
 * @example
 *   fillText('mail.%EMAILDOMAIN%', parseEmail('ann@shop.example')) // → 'mail.shop.example'
 */
export function fillText(text: string, email: EmailParts): string {
  return text
    .replaceAll('%EMAILADDRESS%', email.address)
    .replaceAll('%EMAILLOCALPART%', email.localPart)
    .replaceAll('%EMAILDOMAIN%', email.domain);
}

/**
 * Fills the placeholders of an endpoint's host for one mailbox (a null endpoint stays null).
 *
 * @example
 *   fillTemplate({ host: 'mail.%EMAILDOMAIN%', port: 465, security: 'tls' }, 'ann@shop.example')
 *   // → { host: 'mail.shop.example', port: 465, security: 'tls' }
 */
export function fillTemplate(endpoint: Endpoint, email: string | EmailParts): Endpoint;
export function fillTemplate(endpoint: Endpoint | null, email: string | EmailParts): Endpoint | null;
export function fillTemplate(endpoint: Endpoint | null, email: string | EmailParts): Endpoint | null {
  if (!endpoint) return null;
  const parts = typeof email === 'string' ? parseEmail(email) : email;
  return { host: fillText(endpoint.host, parts), port: endpoint.port, security: endpoint.security };
}
