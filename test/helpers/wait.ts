/**
 * Asks `probe` again every `everyMs` until it answers something other than undefined, null or
 * false, and returns that answer; throws, naming `what`, once `timeoutMs` has passed.
 *
 * @example
 *   const job = await waitFor('the job sent', async () => { const j = await get(id); return j.status === 'sent' && j; });
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 15_000, everyMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
