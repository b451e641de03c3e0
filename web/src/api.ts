import type { FieldProblem } from './types.ts';

/** An error answer of the API: `{error: {code, message, hint?, field?, protocol?}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint: string | null,
    readonly field: string | null,
  ) {
    super(message);
  }

  get problem(): FieldProblem {
    return { message: this.message, hint: this.hint };
  }
}

export interface Api {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body?: unknown): Promise<T>;
  patch<T>(path: string, body: unknown): Promise<T>;
  del(path: string): Promise<void>;
}

/**
 * The API as the page's caller: every request carries the session token (or an operator's API
 * key) as a bearer token, and every error becomes an {@link ApiError}.
 */
export function createApi(token: string, onUnauthorized: (err: ApiError) => void): Api {
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, 'NETWORK', 'Mailport could not be reached.', 'Check your internet connection and try again.', null);
    }
    if (res.status === 204) return undefined as T;
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      const e = data?.error ?? {};
      const err = new ApiError(res.status, e.code ?? 'UNKNOWN', e.message ?? `Mailport answered ${res.status}.`, e.hint ?? null, e.field ?? null);
      if (res.status === 401) onUnauthorized(err);
      throw err;
    }
    return data as T;
  }
  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body ?? {}),
    patch: (path, body) => call('PATCH', path, body),
    del: (path) => call('DELETE', path),
  };
}

/** A problem to show for any thrown value. */
export function problemOf(err: unknown): FieldProblem {
  if (err instanceof ApiError) return err.problem;
  return { message: 'Something went wrong.', hint: 'Try again.' };
}
