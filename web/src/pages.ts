import { useEffect, useRef, useState, type Dispatch, type SetStateAction } from 'react';
import type { Api } from './api.ts';
import type { Page } from './types.ts';

export interface Pages<T> {
  /** the pages read so far, as one; null until the first one arrives */
  page: Page<T> | null;
  loading: boolean;
  /** why the last read failed (null while none did) */
  error: unknown;
  /** reads the next page and adds it to the list */
  more(): void;
  /** changes the list in place (an item changed by an action) */
  setPage: Dispatch<SetStateAction<Page<T> | null>>;
}

/**
 * A list the API hands out a page at a time, 50 items a page: `path` with the filters in `params`
 * (empty ones left out by the caller), read from its first page whenever they change, or `query`
 * does (the filter as submitted: the same filter submitted again reads it again). An answer for
 * an earlier filter that arrives late is dropped, not shown over the current one.
 *
 * @example
 *   const { page, loading, error, more } = usePages<MessageSummary>(api, '/v1/messages', { contact: 'dana@example.com' }, filter);
 */
export function usePages<T>(api: Api, path: string, params: Record<string, string>, query?: unknown): Pages<T> {
  const filters = new URLSearchParams(params).toString();
  const [page, setPage] = useState<Page<T> | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  /** counts filter changes: an answer is shown only if no other filter was asked for since */
  const generation = useRef(0);

  async function load(cursor?: string) {
    const asked = generation.current;
    const url = `${path}?${new URLSearchParams({ limit: '50', ...params, ...(cursor ? { cursor } : {}) })}`;
    setLoading(true);
    setError(null);
    try {
      const next = await api.get<Page<T>>(url);
      if (asked !== generation.current) return;
      setPage((prev) => (cursor && prev ? { items: [...prev.items, ...next.items], nextCursor: next.nextCursor } : next));
    } catch (err) {
      if (asked === generation.current) setError(err);
    } finally {
      if (asked === generation.current) setLoading(false);
    }
  }

  useEffect(() => {
    generation.current++;
    setPage(null);
    void load();
  }, [api, path, filters, query]);

  return {
    page,
    loading,
    error,
    more: () => {
      if (page?.nextCursor) void load(page.nextCursor);
    },
    setPage,
  };
}
