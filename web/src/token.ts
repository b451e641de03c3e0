const KEY = 'mailport.token';

/**
 * The token the page acts with. A connect link carries it in the fragment (`#token=...`), which
 * the browser never sends to a server; the page moves it into this tab's session storage and
 * removes it from the address bar, so it is not bookmarked, shared or shown on screen.
 */
export function takeToken(): string | null {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  const fromLink = params.get('token');
  if (fromLink) {
    saveToken(fromLink);
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
    return fromLink;
  }
  try {
    return window.sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function saveToken(token: string): void {
  try {
    window.sessionStorage.setItem(KEY, token);
  } catch {
    // storage may be off in an embedded frame; the token then lives only in memory
  }
}

export function forgetToken(): void {
  try {
    window.sessionStorage.removeItem(KEY);
  } catch {
    // nothing stored
  }
}
