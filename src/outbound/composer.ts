/**
 * Composes drafts into message bytes, on worker threads when there is enough to do. Composing is
 * the largest CPU cost of a message (about half a millisecond for 10 KB of quoted-printable text);
 * on the thread that also serves the API and drives the SMTP connections it delayed both. With
 * `threads` > 0 and a send worker busy enough (`offload`), drafts go to {@link TaskThreads} (a
 * piscina pool started on first use, shrinking back to nothing when idle, the calling thread when
 * the threads fail); a lone message is composed on the spot, where a thread hop would only add
 * latency. Drafts asked for in the same turn of the event loop (the jobs of one claim) travel as
 * one task: a hand-over between threads costs about as much as composing a small message.
 *
 * @example
 *   const composer = new Composer({ threads: 1 });
 *   const raw = await composer.compose(job.draft, true);
 *   await composer.close();
 */
import { moduleBeside } from '../core/modules.js';
import { TaskThreads } from '../core/task-threads.js';
import { composeDraft } from './draft.js';
import { Batcher } from './batcher.js';
import type { ComposeResult } from './compose.worker.js';

const WORKER_FILE = moduleBeside(import.meta.url, 'compose.worker').href;

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

/** A draft's result: from a thread its bytes or `{ error }`; composed on this thread, a failure keeps its error as `cause`. */
type Composed = ComposeResult | { error: string; cause: unknown };

export class Composer {
  readonly threads: number;
  private readonly pool: TaskThreads<string, Composed>;
  private readonly tasks: Batcher<string, Buffer>;

  constructor(options: ComposerOptions = {}) {
    const perTask = Math.max(1, options.perTask ?? 8);
    this.pool = new TaskThreads<string, Composed>({
      file: options.workerFile ?? WORKER_FILE,
      threads: options.threads,
      idleMs: options.idleMs,
      perTask,
      inline: (drafts) => Promise.all(drafts.map((d) => composeDraft(d).catch((cause: unknown) => ({ error: String(cause), cause })))),
      onThreadFailure: options.onThreadFailure,
    });
    this.threads = this.pool.threads;
    this.tasks = new Batcher((drafts) => this.runTask(drafts), perTask);
  }

  /** The bytes of a draft; on a worker thread when `offload` and the threads are usable. */
  async compose(draft: string, offload: boolean): Promise<Buffer> {
    if (!offload || !this.pool.offloading) return composeDraft(draft);
    return this.tasks.push(draft);
  }

  private async runTask(drafts: string[]): Promise<Array<PromiseSettledResult<Buffer>>> {
    const results = await this.pool.run(drafts);
    return results.map((r): PromiseSettledResult<Buffer> => {
      if (r instanceof Uint8Array) return { status: 'fulfilled', value: Buffer.isBuffer(r) ? r : Buffer.from(r.buffer, r.byteOffset, r.byteLength) };
      return { status: 'rejected', reason: 'cause' in r ? r.cause : new Error(r.error) };
    });
  }

  /** Ends the threads (drafts still being composed finish first); later drafts are composed on the calling thread. */
  async close(): Promise<void> {
    await this.pool.close();
  }
}
