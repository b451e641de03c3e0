/**
 * CPU work on worker threads, with the calling thread as the fallback. A piscina pool is started
 * on first use and shrinks back to nothing when idle; a batch of items travels as one task (each
 * hand-over between threads has a fixed cost), and a large batch is cut into several tasks so more
 * than one thread can share it. When the threads cannot be used (the module does not load, a
 * thread dies) the work is done on the calling thread from then on and `onThreadFailure` is told
 * once: a broken pool never fails the work itself.
 *
 * The task module's default export takes an array of items and answers one result per item, in
 * order; it reports an item's own failure in its result instead of throwing.
 *
 * @example
 *   const threads = new TaskThreads({ file: WORKER_URL, inline: (raws) => Promise.all(raws.map(parse)), threads: 1 });
 *   const parsed = await threads.run(raws);
 *   await threads.close();
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';

export interface TaskThreadsOptions<I, O> {
  /** the task module (a file URL or path; under tsx a `.ts` file, built a `.js` one) */
  file: string;
  /** the same work on the calling thread: for `threads: 0`, after a failure, and after close() */
  inline: (items: I[]) => Promise<O[]>;
  /** worker threads at most; 0 does everything on the calling thread (default: one less than the CPUs, at least 1, at most 4) */
  threads?: number;
  /** an idle thread ends after this long (default 30 s) */
  idleMs?: number;
  /** most items in one task (default 64) */
  perTask?: number;
  onThreadFailure?: (err: unknown) => void;
}

/** The default thread count: leave one CPU to the thread that serves the network. */
export const defaultThreadCount = (): number => Math.min(4, Math.max(1, availableParallelism() - 1));

export class TaskThreads<I, O> {
  readonly threads: number;
  private readonly perTask: number;
  private pool: Piscina<I[], O[]> | null = null;
  private poolFailed: Promise<never> | null = null;
  private broken = false;
  private closed = false;

  constructor(private readonly options: TaskThreadsOptions<I, O>) {
    this.threads = Math.max(0, Math.floor(options.threads ?? defaultThreadCount()));
    this.perTask = Math.max(1, options.perTask ?? 64);
  }

  /** Whether work goes to the threads (not yet closed, not broken, threads allowed). */
  get offloading(): boolean {
    return this.threads > 0 && !this.closed && !this.broken;
  }

  /** One result per item, in order. */
  async run(items: I[]): Promise<O[]> {
    if (!items.length) return [];
    if (!this.offloading) return this.options.inline(items);
    const tasks: I[][] = [];
    const per = Math.max(1, Math.min(this.perTask, Math.ceil(items.length / this.threads)));
    for (let i = 0; i < items.length; i += per) tasks.push(items.slice(i, i + per));
    const done = await Promise.all(tasks.map((t) => this.runTask(t)));
    return done.flat();
  }

  private async runTask(items: I[]): Promise<O[]> {
    if (!this.offloading) return this.options.inline(items);
    const pool = this.start();
    try {
      return await Promise.race([pool.run(items), this.poolFailed!]);
    } catch (err) {
      // the thread, not an item, failed (an item's own failure is in its result)
      if (!this.broken) {
        this.broken = true;
        this.options.onThreadFailure?.(err);
        void this.pool?.destroy().catch(() => {});
        this.pool = null;
      }
      return this.options.inline(items);
    }
  }

  private start(): Piscina<I[], O[]> {
    if (this.pool) return this.pool;
    const pool = new Piscina<I[], O[]>({ filename: this.options.file, minThreads: 0, maxThreads: this.threads, idleTimeout: this.options.idleMs ?? 30_000 });
    // a thread that cannot load its module leaves the task pending and reports on the pool instead
    // (without a listener that 'error' would end the process): it fails the tasks in flight
    this.poolFailed = new Promise((_, reject) => pool.once('error', reject));
    this.poolFailed.catch(() => {});
    pool.on('error', () => {});
    this.pool = pool;
    return pool;
  }

  /** Ends the threads (tasks in flight finish first); later work runs on the calling thread. */
  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = null;
    await pool?.close();
  }
}
