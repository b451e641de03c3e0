/**
 * Parsing many messages at once (a sync session's FETCH batch) on worker threads, so the thread
 * that drives the IMAP sessions and the database is free for them; parsing is the largest CPU cost
 * of recording a message. A handful of messages (new mail announced by IDLE) is parsed on the spot,
 * where a thread hop would only add latency.
 *
 * @example
 *   const parser = new MessageParser({ threads: 1 });
 *   const parsed = await parser.parseMany(fetched.map((m) => m.source));
 *   await parser.close();
 */
import { moduleBeside } from '../core/modules.js';
import { TaskThreads } from '../core/task-threads.js';
import { parseMessage, type ParseLimits, type ParsedMessage } from './parse.js';
import parseAll, { type ParseTask } from './parse.worker.js';

const WORKER_FILE = moduleBeside(import.meta.url, 'parse.worker').href;

/** Fewer messages than this are parsed on the calling thread. */
const OFFLOAD_FROM = 8;

export interface MessageParserOptions {
  /** worker threads at most; 0 parses on the calling thread (default: one less than the CPUs, at least 1, at most 4) */
  threads?: number;
  limits?: Partial<ParseLimits>;
  onThreadFailure?: (err: unknown) => void;
}

export class MessageParser {
  private readonly threads: TaskThreads<ParseTask, ParsedMessage>;

  constructor(private readonly options: MessageParserOptions = {}) {
    this.threads = new TaskThreads<ParseTask, ParsedMessage>({
      file: WORKER_FILE,
      threads: options.threads,
      perTask: 50,
      // the worker's own function, on this thread
      inline: parseAll,
      onThreadFailure: options.onThreadFailure,
    });
  }

  async parse(raw: Buffer): Promise<ParsedMessage> {
    return parseMessage(raw, this.options.limits);
  }

  /** One result per message, in order. */
  async parseMany(raws: Buffer[]): Promise<ParsedMessage[]> {
    if (raws.length < OFFLOAD_FROM || !this.threads.offloading) return Promise.all(raws.map((raw) => this.parse(raw)));
    return this.threads.run(raws.map((raw) => ({ raw, limits: this.options.limits })));
  }

  async close(): Promise<void> {
    await this.threads.close();
  }
}
