/**
 * What Mailport knows about each OAuth provider: default endpoints, ID-token issuer and mail
 * scopes (providers.md §2). Overriding the endpoints serves tests and sovereign clouds.
 *
 * @example
 *   providerDefaults('microsoft', 'consumers').tokenEndpoint; // https://login.microsoftonline.com/consumers/oauth2/v2.0/token
 */
export type OAuthProvider = 'google' | 'microsoft';
export const OAUTH_PROVIDERS: readonly OAuthProvider[] = ['google', 'microsoft'];

/** Microsoft authorities that sign in users of many tenants: their ID tokens name the user's own tenant. */
const MULTI_TENANT = new Set(['common', 'consumers', 'organizations']);

export interface ProviderDefaults {
  authorizationEndpoint: string;
  tokenEndpoint: string;
  /** `{tenantid}` stands for the ID token's `tid` claim */
  issuer: string;
  scopes: string[];
  /** extra authorization-request parameters (Google hands out a refresh token only with these) */
  extraParams: Record<string, string>;
}

export function providerDefaults(provider: OAuthProvider, tenant: string | null): ProviderDefaults {
  if (provider === 'google') {
    return {
      authorizationEndpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
      tokenEndpoint: 'https://oauth2.googleapis.com/token',
      issuer: 'https://accounts.google.com',
      // the only scope that covers IMAP, POP and SMTP
      scopes: ['https://mail.google.com/'],
      extraParams: { access_type: 'offline', prompt: 'consent' },
    };
  }
  const t = tenant ?? 'common';
  return {
    authorizationEndpoint: `https://login.microsoftonline.com/${t}/oauth2/v2.0/authorize`,
    tokenEndpoint: `https://login.microsoftonline.com/${t}/oauth2/v2.0/token`,
    issuer: `https://login.microsoftonline.com/${MULTI_TENANT.has(t) ? '{tenantid}' : t}/v2.0`,
    // outlook.office.com resources: tokens minted for graph.microsoft.com are refused by IMAP/SMTP
    scopes: ['https://outlook.office.com/IMAP.AccessAsUser.All', 'https://outlook.office.com/SMTP.Send', 'offline_access'],
    extraParams: {},
  };
}

/** The provider of an account type (gmail → google, outlook → microsoft). */
export function providerOfType(type: string): OAuthProvider | null {
  return type === 'gmail' ? 'google' : type === 'outlook' ? 'microsoft' : null;
}

/** The signed-in address from ID-token claims (Google: email; Microsoft: email, else preferred_username / upn). */
export function addressOfClaims(claims: Record<string, unknown>): string | null {
  for (const k of ['email', 'preferred_username', 'upn']) {
    const v = claims[k];
    if (typeof v === 'string' && v.includes('@')) return v.trim().toLowerCase();
  }
  return null;
}
