/**
 * Composes drafts into message bytes, on worker threads when there is enough to do. Composing is
 * the largest CPU cost of a message (about half a millisecond for 10 KB of quoted-printable text);
 * on the thread that also serves the API and drives the SMTP connections it delayed both. With
 * `threads` > 0 and a send worker busy enough (`offload`), drafts go to a piscina pool, started on
 * first use and shrinking back to nothing when idle; a lone message is composed on the spot, where
 * a thread hop would only add latency. Drafts asked for in the same turn of the event loop (the
 * jobs of one claim) travel as one task: a hand-over between threads costs about as much as
 * composing a small message.
 *
 * @example
 *   const composer = new Composer({ threads: 1 });
 *   const raw = await composer.compose(job.draft, true);
 *   await composer.close();
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { composeDraft } from './draft.js';
import { Batcher } from './batcher.js';
import type { ComposeResult } from './compose.worker.js';

// the built .js, or under tsx (tests, scripts) the .ts source: a module loaded by piscina is not remapped by tsx
const WORKER_FILE = new URL(import.meta.url.endsWith('.ts') ? './compose.worker.ts' : './compose.worker.js', import.meta.url).href;

export interface ComposerOptions {
  /** worker threads at most; 0 composes everything on the calling thread (default: one less than the CPUs, at least 1, at most 4) */
  threads?: number;
  /** an idle thread ends after this long (default 30 s) */
  idleMs?: number;
  /** most drafts in one task (default 8) */
  perTask?: number;
  /** told once when the threads cannot be used (from then on drafts are composed on the calling thread) */
  onThreadFailure?: (err: unknown) => void;
  /** the task module (default: compose.worker next to this file) */
  workerFile?: string;
}

export class Composer {
  readonly threads: number;
  private readonly idleMs: number;
  private pool: Piscina<string[], ComposeResult[]> | null = null;
  private poolFailed: Promise<never> | null = null;
  private readonly tasks: Batcher<string, Buffer>;
  private closed = false;
  /** the threads failed (could not start, or died): everything is composed on the spot from then on */
  private broken = false;

  constructor(private readonly options: ComposerOptions = {}) {
    this.threads = Math.max(0, Math.floor(options.threads ?? Math.min(4, Math.max(1, availableParallelism() - 1))));
    this.idleMs = options.idleMs ?? 30_000;
    this.tasks = new Batcher((drafts) => this.runTask(drafts), Math.max(1, options.perTask ?? 8));
  }

  /** The bytes of a draft; on a worker thread when `offload` and threads are allowed. */
  async compose(draft: string, offload: boolean): Promise<Buffer> {
    if (!offload || this.threads === 0 || this.closed || this.broken) return composeDraft(draft);
    return this.tasks.push(draft);
  }

  private async runTask(drafts: string[]): Promise<Array<PromiseSettledResult<Buffer>>> {
    const inline = () => Promise.allSettled(drafts.map((d) => composeDraft(d)));
    if (this.closed || this.broken) return inline();
    if (!this.pool) {
      const pool = new Piscina<string[], ComposeResult[]>({ filename: this.options.workerFile ?? WORKER_FILE, minThreads: 0, maxThreads: this.threads, idleTimeout: this.idleMs });
      // a thread that cannot load its module leaves the task pending and reports on the pool instead
      // (without a listener that 'error' would end the process): it fails the tasks in flight
      this.poolFailed = new Promise((_, reject) => pool.once('error', reject));
      this.poolFailed.catch(() => {});
      pool.on('error', () => {});
      this.pool = pool;
    }
    let results: ComposeResult[];
    try {
      results = await Promise.race([this.pool.run(drafts), this.poolFailed!]);
    } catch (err) {
      // the thread, not a draft, failed (a draft's own failure comes back as { error }): never fail messages for that
      if (!this.broken) {
        this.broken = true;
        this.options.onThreadFailure?.(err);
        void this.pool?.destroy().catch(() => {});
        this.pool = null;
      }
      return inline();
    }
    return results.map((r) =>
      r instanceof Uint8Array ? { status: 'fulfilled', value: Buffer.from(r.buffer, r.byteOffset, r.byteLength) } : { status: 'rejected', reason: new Error(r.error) },
    );
  }

  /** Ends the threads (drafts still being composed finish first). */
  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = null;
    await pool?.close();
  }
}
