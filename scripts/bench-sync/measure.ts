/**
 * Small measuring tools of the sync benchmark: memory after a forced GC, percentiles, polling
 * with a deadline, and bounded concurrency.
 *
 * @example
 *   const before = memoryAfterGc();
 *   // ... open connections ...
 *   const per = perItem(before, memoryAfterGc(), 2000); // bytes per connection
 */

export interface Memory {
  rss: number;
  heapUsed: number;
  /** C++ objects bound to JS, Buffers and ArrayBuffers included */
  external: number;
}

/** process.memoryUsage() after two full collections; needs `node --expose-gc`. */
export function memoryAfterGc(): Memory {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run node with --expose-gc (npm run bench:sync does)');
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
}

/** Growth from `before` to `after` divided by `count`, in bytes. */
export function perItem(before: Memory, after: Memory, count: number): Memory {
  const per = (k: keyof Memory) => (count > 0 ? Math.round((after[k] - before[k]) / count) : NaN);
  return { rss: per('rss'), heapUsed: per('heapUsed'), external: per('external') };
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export interface LatencySummary {
  count: number;
  /** deliveries whose notification never came within the wait */
  missing: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarize(latencies: number[], expected: number): LatencySummary {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { count: sorted.length, missing: expected - sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every `everyMs` until it returns true or `timeoutMs` passes; says which. */
export async function waitUntil(probe: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/** Runs `task(i)` for i in [0, count) with at most `limit` at once. */
export async function bounded(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

/** CPU time of this process (user + system, all threads) since `start`, in ms. */
export function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

/** Exits the process after `ms` whatever it is doing: every phase stops by itself. */
export function hardStop(ms: number, what: string): NodeJS.Timeout {
  const timer = setTimeout(() => {
    console.error(`bench-sync: ${what} hit its time limit of ${Math.round(ms / 1000)} s; stopping`);
    process.exit(2);
  }, ms);
  timer.unref();
  return timer;
}
