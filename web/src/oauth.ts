import type { Api } from './api.ts';
import type { Preset } from './types.ts';

/** `gmail` or `outlook`: the account types that sign in with the provider (OAuth) rather than a password. */
export type OAuthType = 'gmail' | 'outlook';

/** The OAuth account type a preset offers (Gmail, Google Workspace → gmail; Outlook, Microsoft 365 → outlook), or null. */
export function oauthTypeOf(preset: Preset | undefined): OAuthType | null {
  if (preset?.auth.oauth === 'google' && preset.types.includes('gmail')) return 'gmail';
  if (preset?.auth.oauth === 'microsoft' && preset.types.includes('outlook')) return 'outlook';
  return null;
}

export function isOAuthType(type: string): type is OAuthType {
  return type === 'gmail' || type === 'outlook';
}

/** The words on the sign-in button. */
export function signInLabel(type: OAuthType): string {
  return type === 'gmail' ? 'Sign in with Google' : 'Activate Outlook';
}

/**
 * Sends the browser to the provider's sign-in page for one account. The provider sends it back
 * through Mailport's callback to this page (its own address, without query or fragment), with
 * `status` and `code`; the session token stays in this tab's session storage meanwhile.
 */
export async function startSignIn(api: Api, accountId: string): Promise<void> {
  const returnUrl = `${window.location.origin}${window.location.pathname}`;
  const { url } = await api.get<{ url: string }>(`/v1/accounts/${encodeURIComponent(accountId)}/oauth/authorize-url?returnUrl=${encodeURIComponent(returnUrl)}`);
  window.location.assign(url);
}

/** The outcome of a sign-in, as the callback put it in the address: `?status=active|error&accountId=&code=&message=`. */
export interface SignInResult {
  status: 'active' | 'error';
  accountId: string | null;
  code: string | null;
  message: string | null;
}

const RESULT_PARAMS = ['status', 'accountId', 'code', 'message'];
let taken: SignInResult | null | undefined;

/**
 * Reads a sign-in outcome from the address and removes it, so a reload does not show it again
 * (remembered for this page load: React may ask twice).
 */
export function takeSignInResult(): SignInResult | null {
  if (taken !== undefined) return taken;
  taken = readSignInResult();
  return taken;
}

function readSignInResult(): SignInResult | null {
  const params = new URLSearchParams(window.location.search);
  const status = params.get('status');
  if (status !== 'active' && status !== 'error') return null;
  const result: SignInResult = { status, accountId: params.get('accountId'), code: params.get('code'), message: params.get('message') };
  for (const p of RESULT_PARAMS) params.delete(p);
  const rest = params.toString();
  window.history.replaceState(null, '', `${window.location.pathname}${rest ? `?${rest}` : ''}${window.location.hash}`);
  return result;
}
