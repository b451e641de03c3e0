import { invalid, MailportError } from '../core/errors.js';
import { newId, newToken } from '../core/ids.js';
import { hashToken } from '../secrets/secret-box.js';
import type { Repositories } from '../store/index.js';

/** Seconds a connect session lasts when the caller does not say (API.md: one hour). */
export const DEFAULT_EXPIRES_IN = 3600;
/** The longest a connect session may last: one day. */
export const MAX_EXPIRES_IN = 86_400;

export interface ConnectSessionCreated {
  url: string;
  expiresAt: string;
}

/** What a valid connect-session token stands for. */
export interface ConnectSessionGrant {
  sessionId: string;
  tenantId: string;
  returnUrl: string | null;
  expiresAt: string;
}

/**
 * Connect sessions: links to the hosted settings page that act as one tenant, until they expire,
 * for account settings and the page's Messages and Campaigns views (api/auth.ts
 * connectSessionMayCall says exactly which routes). The token travels in the URL fragment
 * (`/connect#token=...`), which a browser never sends to a server, so it stays out of access logs
 * and Referer headers; only its SHA-256 is stored.
 *
 * @example
 *   const { url } = await sessions.create(tenantId, { returnUrl: 'https://app.example/settings' });
 *   // url: https://mailport.example/connect#token=mp_cs_...
 */
export class ConnectSessionsService {
  constructor(
    private readonly repos: Repositories,
    private readonly publicUrl: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async create(tenantId: string, input: { returnUrl?: string | null; expiresIn?: number }): Promise<ConnectSessionCreated> {
    const expiresIn = input.expiresIn ?? DEFAULT_EXPIRES_IN;
    if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_EXPIRES_IN) {
      throw invalid('expiresIn', `expiresIn must be a whole number of seconds from 1 to ${MAX_EXPIRES_IN}`);
    }
    const returnUrl = input.returnUrl ? checkReturnUrl(input.returnUrl) : null;
    const now = this.now();
    const expiresAt = new Date(now.getTime() + expiresIn * 1000).toISOString();
    const token = newToken('mp_cs');
    await this.repos.connectSessions.insert({
      id: newId('cs'),
      tenant_id: tenantId,
      token_hash: hashToken(token),
      return_url: returnUrl,
      expires_at: expiresAt,
      created_at: now.toISOString(),
    });
    // opportunistic clean-up: sessions that ended more than a day ago are of no use to anyone
    await this.repos.connectSessions.deleteExpired(new Date(now.getTime() - MAX_EXPIRES_IN * 1000).toISOString());
    return { url: `${this.publicUrl}/connect#token=${token}`, expiresAt };
  }

  /**
   * The grant of a token: undefined when the token is not a connect-session token; throws
   * UNAUTHORIZED when the session has expired (the page tells the person to ask for a new link).
   */
  async authenticate(token: string): Promise<ConnectSessionGrant | undefined> {
    const row = await this.repos.connectSessions.findByHash(hashToken(token));
    if (!row) return undefined;
    if (Date.parse(row.expires_at) <= this.now().getTime()) {
      throw new MailportError('UNAUTHORIZED', {
        message: 'This settings link has expired.',
        hint: 'Open the email settings again from the application you came from to get a new link.',
      });
    }
    return { sessionId: row.id, tenantId: row.tenant_id, returnUrl: row.return_url, expiresAt: row.expires_at };
  }
}

function checkReturnUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('returnUrl', 'returnUrl must be an absolute http or https URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('returnUrl', 'returnUrl must be an absolute http or https URL');
  if (url.username || url.password) throw invalid('returnUrl', 'returnUrl must not contain a user name or password');
  return url.toString();
}
