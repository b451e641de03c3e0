/**
 * The parser's worker thread (a {@link TaskThreads} task): raw messages in, parsed messages out,
 * one per message. parseMessage never throws for bad mail, so every message gets its result.
 */
import { parseMessage, type ParseLimits, type ParsedMessage } from './parse.js';

export interface ParseTask {
  raw: Uint8Array;
  limits?: Partial<ParseLimits>;
}

export default async function parseAll(tasks: ParseTask[]): Promise<ParsedMessage[]> {
  const out: ParsedMessage[] = [];
  for (const t of tasks) out.push(await parseMessage(Buffer.from(t.raw.buffer, t.raw.byteOffset, t.raw.byteLength), t.limits));
  return out;
}
