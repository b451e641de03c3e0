/**
 * OAuth2 sign-in for Gmail and Outlook accounts (DESIGN.md point 10), with oauth4webapi:
 * authorization code flow with PKCE (S256), a single-use expiring state bound to tenant and
 * account (only its hash stored), the signed-in address taken from the ID token and compared
 * with the account's, tokens sealed at rest, SMTP and IMAP verified with the token, and refresh
 * shortly before expiry or once after a refused login.
 *
 * Refreshes of one account share one request in this process (single-flight). Several nodes may
 * still each refresh the same account once; providers keep both tokens valid, and the last one
 * saved wins (a lease per account for this comes with the scale-out issue).
 *
 * @example
 *   const { url } = await oauth.authorizeUrl(tenantId, accountId, 'https://app.example/settings');
 *   // the browser signs in; the provider redirects to GET /oauth/callback?code=...&state=...
 *   const { location } = await oauth.callback(new URL(`${publicUrl}/oauth/callback?${query}`));
 *   const cred = await oauth.credentials(accountRow); // { user, accessToken } (refreshed when due)
 */
import { createHash, randomBytes } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import type { Logger } from 'pino';
import { MailportError, invalid, notFound } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { CheckResult, Credentials, Endpoint } from '../core/types.js';
import type { AccountsService, Verifier } from '../accounts/accounts.service.js';
import { endpointOf } from '../accounts/account.view.js';
import type { Catalog } from '../catalog/catalog.js';
import type { SecretBox } from '../secrets/secret-box.js';
import type { AccountRow, OAuthAppRow, OAuthTokenRow, Repositories } from '../store/index.js';
import { OAUTH_PROVIDERS, addressOfClaims, providerDefaults, providerOfType, type OAuthProvider } from './providers.js';

export interface OAuthAppInput {
  provider: OAuthProvider;
  clientId: string;
  clientSecret: string;
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  /** the ID tokens' issuer; defaults to the provider's, or to the origin of overridden endpoints */
  issuer?: string;
  /** Microsoft authority: common (default), consumers, organizations, or a tenant id */
  tenant?: string;
  /** mail scopes, replacing the provider's; `openid email` are always requested too */
  scopes?: string[];
}

export interface OAuthAppView {
  id: string;
  provider: OAuthProvider;
  clientId: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  issuer: string;
  tenant: string | null;
  scopes: string[];
  createdAt: string;
}

export interface OAuthOptions {
  /** how long an authorize URL may be used (default 10 min) */
  stateTtlMs?: number;
  /** refresh this long before the access token expires (default 5 min) */
  refreshSkewMs?: number;
}

export interface OAuthServiceDeps {
  repos: Repositories;
  box: SecretBox;
  catalog: Catalog;
  accounts: Pick<AccountsService, 'recordFailure' | 'recordSuccess' | 'password'>;
  verifier: Verifier;
  /** where the provider sends the browser back: `${publicUrl}/oauth/callback` */
  redirectUri: string;
  logger: Logger;
  options?: OAuthOptions;
  now?: () => Date;
}

const OPENID_SCOPES = ['openid', 'email'];
/** check codes that mean the server did not take the access token */
const REFUSED_TOKEN = new Set(['AUTH_FAILED', 'OAUTH_REVOKED']);
const TENANT_RE = /^(common|consumers|organizations|[0-9a-f-]{36}|[a-z0-9-]+(\.[a-z0-9-]+)+)$/i;

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** An https URL (http only on loopback, for tests); no user info. */
function endpointUrl(field: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw invalid(field, `${field} must be an absolute https URL`);
  }
  if (u.username || u.password) throw invalid(field, `${field} must not contain a user name or password`);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopback(u.hostname))) throw invalid(field, `${field} must be an https URL (http only on loopback)`);
  return u.toString();
}

function checkReturnUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw invalid('returnUrl', 'returnUrl must be an absolute http or https URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid('returnUrl', 'returnUrl must be an absolute http or https URL');
  if (u.username || u.password) throw invalid('returnUrl', 'returnUrl must not contain a user name or password');
  return u.toString();
}

const PROVIDER_NAME: Record<OAuthProvider, string> = { google: 'Google', microsoft: 'Microsoft' };

export class OAuthService {
  private readonly now: () => Date;
  private readonly stateTtlMs: number;
  private readonly refreshSkewMs: number;
  private readonly log: Logger;
  /** account id → the refresh in flight (single-flight within this process) */
  private readonly refreshing = new Map<string, Promise<string>>();

  constructor(private readonly deps: OAuthServiceDeps) {
    this.now = deps.now ?? (() => new Date());
    this.stateTtlMs = deps.options?.stateTtlMs ?? 10 * 60_000;
    this.refreshSkewMs = deps.options?.refreshSkewMs ?? 5 * 60_000;
    this.log = deps.logger.child({ module: 'oauth' });
  }

  // ------------------------------------------------------------------ OAuth apps (admin)

  async createApp(input: OAuthAppInput): Promise<OAuthAppView> {
    if (!OAUTH_PROVIDERS.includes(input.provider)) throw invalid('provider', 'provider must be google or microsoft');
    if (input.tenant !== undefined && input.provider !== 'microsoft') throw invalid('tenant', 'tenant (the Microsoft authority) applies to provider microsoft only');
    if (input.tenant !== undefined && !TENANT_RE.test(input.tenant)) throw invalid('tenant', 'tenant must be common, consumers, organizations, a tenant id or a domain');
    const tenant = input.provider === 'microsoft' ? input.tenant ?? 'common' : null;
    const d = providerDefaults(input.provider, tenant);
    const authorizationEndpoint = input.authorizationEndpoint ? endpointUrl('authorizationEndpoint', input.authorizationEndpoint) : d.authorizationEndpoint;
    const tokenEndpoint = input.tokenEndpoint ? endpointUrl('tokenEndpoint', input.tokenEndpoint) : d.tokenEndpoint;
    const overridden = input.authorizationEndpoint !== undefined || input.tokenEndpoint !== undefined;
    const issuer = input.issuer ?? (overridden ? new URL(authorizationEndpoint).origin : d.issuer);
    const id = newId('oapp');
    const row: OAuthAppRow = {
      id,
      provider: input.provider,
      client_id: input.clientId,
      client_secret_enc: this.deps.box.seal(input.clientSecret, `oauth_app:${id}:secret`),
      authorization_endpoint: authorizationEndpoint,
      token_endpoint: tokenEndpoint,
      issuer,
      tenant,
      scopes: JSON.stringify(input.scopes?.length ? input.scopes : d.scopes),
      created_at: this.now().toISOString(),
    };
    await this.deps.repos.oauth.insertApp(row);
    return this.appView(row);
  }

  async listApps(): Promise<OAuthAppView[]> {
    return (await this.deps.repos.oauth.listApps()).map((r) => this.appView(r));
  }

  async deleteApp(id: string): Promise<void> {
    if (!(await this.deps.repos.oauth.deleteApp(id))) throw notFound('OAuth app');
  }

  private appView(r: OAuthAppRow): OAuthAppView {
    return {
      id: r.id, provider: r.provider as OAuthProvider, clientId: r.client_id, authorizationEndpoint: r.authorization_endpoint,
      tokenEndpoint: r.token_endpoint, issuer: r.issuer, tenant: r.tenant, scopes: JSON.parse(r.scopes) as string[], createdAt: r.created_at,
    };
  }

  // ------------------------------------------------------------------ sign-in

  /** The provider's sign-in URL for one account (type gmail or outlook). */
  async authorizeUrl(tenantId: string, accountId: string, returnUrl?: string): Promise<{ url: string }> {
    const account = await this.deps.repos.accounts.get(tenantId, accountId);
    if (!account) throw notFound('Account');
    const provider = providerOfType(account.type);
    if (!provider) throw new MailportError('CONFLICT', { message: `Only accounts of type gmail or outlook sign in with OAuth; this one is ${account.type}.`, hint: 'Change the account\'s type to gmail or outlook first (its id and history stay).' });
    const app = await this.deps.repos.oauth.currentApp(provider);
    if (!app) throw new MailportError('CONFLICT', { message: `No OAuth app for ${PROVIDER_NAME[provider]} is configured.`, hint: 'The operator adds one with POST /v1/oauth-apps.' });
    const ret = returnUrl ? checkReturnUrl(returnUrl) : null;
    const state = oauth.generateRandomState();
    const verifier = oauth.generateRandomCodeVerifier();
    const nonce = oauth.generateRandomNonce();
    const id = newId('ost');
    const now = this.now();
    await this.deps.repos.oauth.insertState({
      id, state_hash: sha256(state), tenant_id: tenantId, account_id: accountId, app_id: app.id,
      verifier_enc: this.deps.box.seal(verifier, `oauth_state:${id}:verifier`), nonce, return_url: ret,
      expires_at: new Date(now.getTime() + this.stateTtlMs).toISOString(), used_at: null, created_at: now.toISOString(),
    });
    // old states are of no use to anyone: pruned here rather than by a timer
    await this.deps.repos.oauth.deleteExpiredStates(new Date(now.getTime() - this.stateTtlMs).toISOString());
    const url = new URL(app.authorization_endpoint);
    const p = url.searchParams;
    p.set('client_id', app.client_id);
    p.set('response_type', 'code');
    p.set('redirect_uri', this.deps.redirectUri);
    p.set('scope', [...OPENID_SCOPES, ...(JSON.parse(app.scopes) as string[])].join(' '));
    p.set('state', state);
    p.set('nonce', nonce);
    p.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
    p.set('code_challenge_method', 'S256');
    // pre-fills the provider's sign-in page with the account's address
    p.set('login_hint', account.email);
    for (const [k, v] of Object.entries(providerDefaults(provider, app.tenant).extraParams)) p.set(k, v);
    return { url: url.toString() };
  }

  /**
   * The provider's redirect back. A state that is unknown, used or expired is refused (400,
   * nothing changes). Otherwise the outcome goes to the state's returnUrl as
   * `?status=active|error&code=...&message=...&accountId=...` (or is answered as JSON without one).
   */
  async callback(current: URL): Promise<{ location: string | null; result: { accountId: string; status: 'active' | 'error'; code?: string; message?: string } }> {
    const stateParam = current.searchParams.get('state');
    if (!stateParam) throw invalid('state', 'The sign-in answer has no state; start the sign-in again.');
    const st = await this.deps.repos.oauth.takeState(sha256(stateParam), this.now().toISOString());
    if (!st) throw invalid('state', 'This sign-in link was already used or has expired; start the sign-in again.');
    const result = await this.complete(current, stateParam, st).catch((err: unknown) => {
      const e = err instanceof MailportError ? err : new MailportError('OAUTH_FAILED', { cause: err });
      if (!(err instanceof MailportError)) this.log.warn({ accountId: st.account_id, err: describe(err) }, 'oauth callback failed');
      return { accountId: st.account_id, status: 'error' as const, code: e.code as string, message: e.message };
    });
    if (!st.return_url) return { location: null, result };
    const back = new URL(st.return_url);
    back.searchParams.set('status', result.status);
    back.searchParams.set('accountId', result.accountId);
    if (result.code) back.searchParams.set('code', result.code);
    if (result.message) back.searchParams.set('message', result.message);
    return { location: back.toString(), result };
  }

  private async complete(current: URL, stateParam: string, st: { id: string; tenant_id: string; account_id: string; app_id: string; verifier_enc: string; nonce: string }) {
    const account = await this.deps.repos.accounts.get(st.tenant_id, st.account_id);
    if (!account) throw notFound('Account');
    const app = await this.deps.repos.oauth.getApp(st.app_id);
    if (!app) throw new MailportError('OAUTH_FAILED', { message: 'The OAuth app this sign-in started with was removed.' });
    const providerError = current.searchParams.get('error');
    if (providerError) {
      throw new MailportError('OAUTH_FAILED', { message: providerError === 'access_denied' ? 'The sign-in was cancelled or access was not granted.' : `The provider refused the sign-in (${providerError.slice(0, 100)}).` });
    }
    const { as, client, auth, options } = this.client(app);
    const params = oauth.validateAuthResponse(as, client, current.searchParams, stateParam);
    const verifier = this.deps.box.open(st.verifier_enc, `oauth_state:${st.id}:verifier`);
    const response = await oauth.authorizationCodeGrantRequest(as, client, auth, params, this.deps.redirectUri, verifier, options);
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: st.nonce, requireIdToken: true });
    const claims = oauth.getValidatedIdTokenClaims(tokens) as Record<string, unknown> | undefined;
    const signedIn = claims ? addressOfClaims(claims) : null;
    if (!signedIn) throw new MailportError('OAUTH_FAILED', { message: 'The provider did not say which address signed in (the email scope is missing).' });
    if (signedIn !== account.email.toLowerCase()) {
      throw new MailportError('OAUTH_WRONG_ACCOUNT', { message: `You signed in as ${signedIn}, but this account is for ${account.email}.` });
    }
    await this.saveTokens(account.id, app.id, tokens, null);
    const { status, checks } = await this.verify(account);
    const failed = checks.find((c) => !c.ok);
    if (status !== 'active' && failed) return { accountId: account.id, status: 'error' as const, code: failed.code ?? 'PROTOCOL_ERROR', message: failed.message };
    return { accountId: account.id, status: 'active' as const };
  }

  /**
   * Checks SMTP and IMAP with a fresh token and records the outcome (green or red). A password
   * kept from before the move to OAuth is erased once OAuth works.
   */
  async verify(row: AccountRow): Promise<{ status: string; checks: CheckResult[] }> {
    const cred = await this.tokenCredentials(row);
    const target: { smtp?: Endpoint; imap?: Endpoint } = {};
    const smtp = row.send_via === 'own' ? endpointOf(row, 'smtp') : null;
    const imap = endpointOf(row, 'imap');
    if (smtp) target.smtp = smtp;
    if (imap) target.imap = imap;
    const preset = row.preset ? this.deps.catalog.get(row.preset) : undefined;
    const run = (c: Credentials) => (Object.keys(target).length ? this.deps.verifier(target, c, preset) : Promise.resolve([]));
    let checks = await run(cred);
    if (checks.some((c) => !c.ok && REFUSED_TOKEN.has(c.code ?? ''))) {
      // a token refused before its expiry: refreshed once, and checked again
      checks = await run(await this.tokenCredentials(row, { rejected: cred.accessToken }));
    }
    const failed = checks.find((c) => !c.ok);
    if (failed) {
      await this.deps.accounts.recordFailure(row.tenant_id, row.id, { code: failed.code ?? 'PROTOCOL_ERROR', message: failed.message ?? '', hint: failed.hint ?? null });
      return { status: 'error', checks };
    }
    if (row.password_enc) await this.deps.repos.accounts.update(row.tenant_id, row.id, { password_enc: null, updated_at: this.now().toISOString() });
    await this.deps.accounts.recordSuccess(row.tenant_id, row.id);
    return { status: 'active', checks };
  }

  /** Erases an account's tokens ("clear settings"). */
  async erase(accountId: string): Promise<void> {
    await this.deps.repos.oauth.deleteTokens(accountId);
  }

  // ------------------------------------------------------------------ tokens

  /**
   * How to log in to a gmail/outlook account now: `{user, accessToken}`, refreshed when it expires
   * within the skew, or when `rejected` (the token a server just refused) is still the stored one.
   * An account moved from a password that has not signed in yet keeps using its password. A revoked
   * sign-in throws OAUTH_REVOKED without asking the provider again.
   */
  async credentials(row: AccountRow, opts: { rejected?: string } = {}): Promise<Credentials> {
    const tokens = await this.deps.repos.oauth.getTokens(row.id);
    if (!tokens) {
      const password = this.deps.accounts.password(row);
      if (password !== undefined) return { user: row.username ?? row.email, password };
    }
    const last = row.last_error ? (JSON.parse(row.last_error) as { code: string; message: string; hint: string | null }) : null;
    if (tokens && row.status === 'error' && last?.code === 'OAUTH_REVOKED') {
      // no automatic attempt after a revoked sign-in: a person signs in again (or asks for a verify)
      throw new MailportError('OAUTH_REVOKED', { message: last.message, hint: last.hint ?? undefined, protocol: 'oauth' });
    }
    return this.tokenCredentials(row, opts, tokens);
  }

  /** The account's access token, refreshed when due (the token half of {@link credentials}). */
  async getAccessToken(row: AccountRow): Promise<string> {
    const cred = await this.credentials(row);
    if (!cred.accessToken) throw new MailportError('OAUTH_REQUIRED', { message: 'This account has not been signed in yet.', protocol: 'oauth' });
    return cred.accessToken;
  }

  private async tokenCredentials(row: AccountRow, opts: { rejected?: string } = {}, known?: OAuthTokenRow): Promise<Credentials> {
    const provider = providerOfType(row.type) ?? 'google';
    const tokens = known ?? (await this.deps.repos.oauth.getTokens(row.id));
    if (!tokens) throw new MailportError('OAUTH_REQUIRED', { message: 'This account has not been signed in yet.', hint: `Use "Sign in with ${PROVIDER_NAME[provider]}" first.`, protocol: 'oauth' });
    const access = this.deps.box.open(tokens.access_token_enc, `account:${row.id}:access_token`);
    if (access !== opts.rejected && this.fresh(tokens)) return { user: row.username ?? row.email, accessToken: access };
    return { user: row.username ?? row.email, accessToken: await this.refresh(row, opts.rejected) };
  }

  private fresh(tokens: OAuthTokenRow): boolean {
    return tokens.expires_at === null || Date.parse(tokens.expires_at) - this.refreshSkewMs > this.now().getTime();
  }

  /** One refresh per account at a time in this process; everyone waiting gets its result. */
  private refresh(row: AccountRow, rejected: string | undefined): Promise<string> {
    let p = this.refreshing.get(row.id);
    if (!p) {
      p = this.doRefresh(row, rejected).finally(() => this.refreshing.delete(row.id));
      this.refreshing.set(row.id, p);
    }
    return p;
  }

  private async doRefresh(row: AccountRow, rejected: string | undefined): Promise<string> {
    const tokens = await this.deps.repos.oauth.getTokens(row.id);
    if (!tokens) throw new MailportError('OAUTH_REQUIRED', { message: 'This account has not been signed in yet.', protocol: 'oauth' });
    // another refresh may have finished just before this one started
    const stored = this.deps.box.open(tokens.access_token_enc, `account:${row.id}:access_token`);
    if (stored !== rejected && this.fresh(tokens)) return stored;
    const app = await this.deps.repos.oauth.getApp(tokens.app_id);
    const refreshToken = tokens.refresh_token_enc ? this.deps.box.open(tokens.refresh_token_enc, `account:${row.id}:refresh_token`) : null;
    if (!app || !refreshToken) return this.revoked(row, 'There is no way to renew access to this mailbox without signing in again.');
    const { as, client, auth, options } = this.client(app);
    try {
      const response = await oauth.refreshTokenGrantRequest(as, client, auth, refreshToken, options);
      const result = await oauth.processRefreshTokenResponse(as, client, response);
      await this.saveTokens(row.id, app.id, result, refreshToken);
      this.log.info({ accountId: row.id, expiresIn: result.expires_in ?? null }, 'oauth access token refreshed');
      return result.access_token;
    } catch (err) {
      if (err instanceof oauth.ResponseBodyError && (err.error === 'invalid_grant' || err.error === 'unauthorized_client')) {
        // AADSTS700082 (expired after 90 days unused), AADSTS50173 (password changed), Google "Token has been expired or revoked."
        const why = err.error_description ? `: ${err.error_description.split(/\r?\n/)[0]!.slice(0, 200)}` : '';
        return this.revoked(row, `${PROVIDER_NAME[providerOfType(row.type) ?? 'google']} no longer accepts this sign-in (${err.error}${why}).`);
      }
      this.log.warn({ accountId: row.id, err: describe(err) }, 'oauth refresh failed');
      throw new MailportError('UNAVAILABLE', { message: 'The sign-in provider could not renew access just now; Mailport tries again later.', protocol: 'oauth', cause: err });
    }
  }

  /** The sign-in is gone for good: red with OAUTH_REVOKED, and no more attempts until a person signs in again. */
  private async revoked(row: AccountRow, message: string): Promise<never> {
    const err = new MailportError('OAUTH_REVOKED', { message, hint: 'Sign in again.', protocol: 'oauth' });
    await this.deps.accounts.recordFailure(row.tenant_id, row.id, { code: err.code, message: err.message, hint: err.hint ?? null });
    this.log.warn({ accountId: row.id, code: err.code }, 'oauth sign-in revoked');
    throw err;
  }

  private async saveTokens(accountId: string, appId: string, t: oauth.TokenEndpointResponse, previousRefresh: string | null): Promise<void> {
    const refresh = t.refresh_token ?? previousRefresh;
    const now = this.now();
    await this.deps.repos.oauth.saveTokens({
      account_id: accountId,
      app_id: appId,
      access_token_enc: this.deps.box.seal(t.access_token, `account:${accountId}:access_token`),
      refresh_token_enc: refresh ? this.deps.box.seal(refresh, `account:${accountId}:refresh_token`) : null,
      expires_at: typeof t.expires_in === 'number' ? new Date(now.getTime() + t.expires_in * 1000).toISOString() : null,
      scope: t.scope ?? null,
      updated_at: now.toISOString(),
    });
  }

  private client(app: OAuthAppRow) {
    const as: oauth.AuthorizationServer = { issuer: app.issuer, authorization_endpoint: app.authorization_endpoint, token_endpoint: app.token_endpoint };
    if (app.issuer.includes('{tenantid}')) {
      // Microsoft's multi-tenant authorities: the ID token's issuer names the user's own tenant
      // (oauth4webapi's hook for this, as openid-client uses it)
      (as as unknown as Record<symbol, unknown>)[(oauth as unknown as { _expectedIssuer: symbol })._expectedIssuer] = (result: { claims: { tid?: unknown } }) =>
        app.issuer.replace('{tenantid}', typeof result.claims.tid === 'string' ? result.claims.tid : '');
    }
    const client: oauth.Client = { client_id: app.client_id };
    const auth = oauth.ClientSecretPost(this.deps.box.open(app.client_secret_enc, `oauth_app:${app.id}:secret`));
    // http only for loopback endpoints (tests); createApp refuses http elsewhere
    const options = { [oauth.allowInsecureRequests]: new URL(app.token_endpoint).protocol === 'http:' };
    return { as, client, auth, options };
  }
}

/** A library error for the logs, without anything that could carry a token. */
function describe(err: unknown): { name?: string; code?: string; error?: string; status?: number } {
  const e = err as { name?: string; code?: string; error?: string; status?: number };
  return { name: e?.name, code: e?.code, error: e?.error, status: e?.status };
}

