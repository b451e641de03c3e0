import type { CorrespondenceRepository, MailMessageSummary } from '../store/index.js';
import type { ParsedMessage } from './parse.js';

/**
 * What a batch transaction knows of the messages its own may meet by id: the account's messages
 * with the batch's Message-IDs or the ones they refer to, and the threads of messages referring to
 * the batch's Message-IDs, read with two queries at the start and kept current as the batch records
 * (and folds threads). Answers what {@link CorrespondenceRepository.findByMessageId} and
 * {@link CorrespondenceRepository.threadsByIds} would inside the transaction.
 */
export class BatchIndex {
  private readonly messages = new Map<string, MailMessageSummary>();
  private readonly referring = new Map<string, Array<{ thread_id: string; date: string }>>();

  static async load(repo: Pick<CorrespondenceRepository, 'findByMessageIds' | 'referringTo'>, accountId: string, pending: Array<{ parsed: Pick<ParsedMessage, 'messageId' | 'references' | 'inReplyTo'> }>): Promise<BatchIndex> {
    const index = new BatchIndex();
    const own = pending.flatMap((m) => (m.parsed.messageId ? [m.parsed.messageId] : []));
    const referred = pending.flatMap((m) => [...m.parsed.references, ...(m.parsed.inReplyTo ? [m.parsed.inReplyTo] : [])]);
    for (const row of await repo.findByMessageIds(accountId, [...own, ...referred])) if (row.message_id) index.messages.set(row.message_id, { ...row });
    if (own.length) for (const r of await repo.referringTo(accountId, own)) index.refer(r.ref, { thread_id: r.thread_id, date: r.date });
    return index;
  }

  byMessageId(messageId: string): MailMessageSummary | undefined {
    return this.messages.get(messageId);
  }

  threadsByIds(refs: string[], messageId: string | null): Array<{ thread_id: string; date: string }> {
    const out = refs.flatMap((r) => {
      const m = this.messages.get(r);
      return m ? [{ thread_id: m.thread_id, date: m.date }] : [];
    });
    if (messageId) out.push(...(this.referring.get(messageId) ?? []).map((t) => ({ ...t })));
    return out.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
  }

  /** A message the batch just stored, with what it refers to and the threads it folded into its own. */
  recorded(row: MailMessageSummary, refs: string[], folded: string[]): void {
    if (folded.length) {
      const gone = new Set(folded);
      for (const m of this.messages.values()) if (gone.has(m.thread_id)) m.thread_id = row.thread_id;
      for (const list of this.referring.values()) for (const t of list) if (gone.has(t.thread_id)) t.thread_id = row.thread_id;
    }
    if (row.message_id && !this.messages.has(row.message_id)) this.messages.set(row.message_id, { ...row });
    for (const r of new Set(refs)) this.refer(r, { thread_id: row.thread_id, date: row.date });
  }

  private refer(ref: string, thread: { thread_id: string; date: string }): void {
    const list = this.referring.get(ref);
    if (list) list.push(thread);
    else this.referring.set(ref, [thread]);
  }
}
