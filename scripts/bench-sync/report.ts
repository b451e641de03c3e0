/**
 * The sync benchmark's printout: one table per part with every contender, the ratios, and
 * whether each target of issue 4 point 7 is met.
 *
 * @example
 *   console.log(table(['contender', 'msg/s'], [['bare', '16,000']]));
 */

export const TARGETS = {
  /** (a) Mailport's msg/s over mbsync's (default settings): ahead of it */
  overMbsync: 1,
  /** (a) Mailport's msg/s over the bare FETCH loop's */
  overBare: 0.3,
  /** (b) RSS per idle account, bytes */
  bytesPerAccount: 100 * 1000,
  /** (b) new mail → webhook, p99, ms */
  p99Ms: 1000,
} as const;

const NUMBER = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
export const int = (n: number) => (Number.isFinite(n) ? NUMBER.format(n) : '–');
export const fixed = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
export const kb = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1000).toFixed(1)} KB` : '–');
export const ms = (v: number) => (Number.isFinite(v) ? `${v < 10 ? v.toFixed(1) : Math.round(v)} ms` : '–');
export const verdict = (ok: boolean | null) => (ok === null ? 'not measured' : ok ? 'MET' : 'NOT MET');

/** A left-aligned first column, right-aligned numbers. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
}
