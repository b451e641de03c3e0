import type { Credentials, Endpoint } from '../core/types.js';

/** The platform mail processor, from MAILPORT_PLATFORM_SMTP_URL (and MAILPORT_PLATFORM_FROM). */
export interface PlatformRelay {
  endpoint: Endpoint;
  cred: Credentials;
  /** its own sender address, for companies whose domain forbids others to send for it */
  fromAddress: string;
}

/**
 * Reads the operator's relay URL: `smtps://` is TLS from the first byte (port 465 by default),
 * `smtp://` upgrades with STARTTLS when the relay offers it (port 587 by default). User and
 * password are URL-decoded. Null when no relay is configured.
 *
 * @example
 *   platformRelay('smtps://mailer%40platform.example:secret@relay.example', null)
 *   // { endpoint: { host: 'relay.example', port: 465, security: 'tls' }, cred: { user: 'mailer@platform.example', password: 'secret' }, fromAddress: 'mailer@platform.example' }
 */
export function platformRelay(url: string | null, fromAddress: string | null): PlatformRelay | null {
  if (!url) return null;
  const u = new URL(url);
  const secure = u.protocol === 'smtps:';
  const user = decodeURIComponent(u.username);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const cred: Credentials = user ? { user, password: decodeURIComponent(u.password) } : { user: '' };
  const from = fromAddress ?? (user.includes('@') ? user : `mailer@${host}`);
  return { endpoint: { host, port: u.port ? Number(u.port) : secure ? 465 : 587, security: secure ? 'tls' : 'starttls' }, cred, fromAddress: from };
}
