import { summaryOf, type CorrespondenceRepository, type MailMessageSummary, type MailSource, type NewMailMessage } from '../store/index.js';
import type { ParsedMessage } from './parse.js';

/**
 * A batch transaction's view of the messages its own may meet, and its new messages until they
 * are stored. At the start, two queries read the account's messages with the batch's Message-IDs
 * or the ones they refer to, and the threads of messages referring to the batch's Message-IDs;
 * as the batch records, its new messages join that view (and the threads they fold are folded in
 * it), so it answers what {@link CorrespondenceRepository.findByMessageId},
 * {@link CorrespondenceRepository.threadsByIds} and, for the batch's own messages,
 * {@link CorrespondenceRepository.threadBySubject} would. {@link flush} then stores the new
 * messages a table at a time instead of five statements per message.
 */
export class BatchIndex {
  private readonly messages = new Map<string, MailMessageSummary>();
  private readonly referring = new Map<string, Array<{ thread_id: string; date: string }>>();
  /** the batch's new messages, stored together by flush() at the end of the batch */
  private readonly pending = new Map<string, NewMailMessage & { sources: MailSource[] }>();

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

  /**
   * A new message of the batch, kept to be stored by {@link flush}; the threads it folds into its
   * own (`m.mergeThreads`) are folded here for the batch's messages (the caller folds the stored ones).
   */
  add(m: NewMailMessage): MailMessageSummary {
    const { row } = m;
    const folded = (m.mergeThreads ?? []).filter((t) => t !== row.thread_id);
    if (folded.length) {
      const gone = new Set(folded);
      for (const x of this.messages.values()) if (gone.has(x.thread_id)) x.thread_id = row.thread_id;
      for (const list of this.referring.values()) for (const t of list) if (gone.has(t.thread_id)) t.thread_id = row.thread_id;
      for (const p of this.pending.values()) if (gone.has(p.row.thread_id)) p.row.thread_id = row.thread_id;
    }
    this.pending.set(row.id, { ...m, sources: m.source ? [m.source] : [] });
    const summary = summaryOf(row);
    if (row.message_id && !this.messages.has(row.message_id)) this.messages.set(row.message_id, summary);
    for (const r of new Set(m.refs)) this.refer(r, { thread_id: row.thread_id, date: row.date });
    return summary;
  }

  /** Whether the message is one of the batch's new ones (not stored yet). */
  isPending(messagePk: string): boolean {
    return this.pending.has(messagePk);
  }

  /** How many places one of the batch's new messages has been seen in so far. */
  sightings(messagePk: string): number {
    return this.pending.get(messagePk)?.sources.length ?? 0;
  }

  /** Another sighting of one of the batch's new messages: its place, and what it teaches (the outbox job, the folder). */
  addSighting(messagePk: string, source: MailSource | undefined, patch: { outbox_id?: string; folder?: string }): void {
    const p = this.pending.get(messagePk)!;
    if (source && !p.sources.some((s) => s.folder === source.folder && s.uidValidity === source.uidValidity && s.uid === source.uid)) p.sources.push(source);
    if (patch.outbox_id) p.row.outbox_id = patch.outbox_id;
    if (patch.folder) p.row.folder = patch.folder;
    const summary = p.row.message_id ? this.messages.get(p.row.message_id) : undefined;
    if (summary) Object.assign(summary, { outbox_id: p.row.outbox_id, folder: p.row.folder });
  }

  /** The latest of the batch's new messages with this subject key that shares a contact, within [since, until]. */
  bySubject(subjectKey: string, contacts: string[], since: string, until: string): { thread_id: string; date: string } | undefined {
    if (!subjectKey || contacts.length === 0) return undefined;
    let best: { thread_id: string; date: string } | undefined;
    for (const p of this.pending.values()) {
      const { row } = p;
      if (row.subject_key !== subjectKey || row.date < since || row.date > until || (best && row.date <= best.date)) continue;
      if (p.contacts.some((c) => contacts.includes(c))) best = { thread_id: row.thread_id, date: row.date };
    }
    return best;
  }

  /** Stores the batch's new messages (inside the batch's transaction). */
  async flush(repo: Pick<CorrespondenceRepository, 'insertMany'>): Promise<void> {
    if (this.pending.size) await repo.insertMany([...this.pending.values()]);
  }

  private refer(ref: string, thread: { thread_id: string; date: string }): void {
    const list = this.referring.get(ref);
    if (list) list.push(thread);
    else this.referring.set(ref, [thread]);
  }
}
