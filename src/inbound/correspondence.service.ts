import type { Transaction } from 'kysely';
import { invalid, notFound } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { EventRecorder } from '../events/event-types.js';
import { RecordConflict, savepoint, sourceKey, type AccountRow, type CorrespondenceRepository, type MailMessageRow, type MailMessageSummary, type MailSource, type OutboxRow, type Repositories } from '../store/index.js';
import type { Database } from '../store/schema.js';
import type { ParseLimits, ParsedAddress, ParsedMessage } from './parse.js';
import { MessageParser } from './parser.js';
import { BatchIndex } from './batch-index.js';
import { isReplySubject, normalizeAddress, subjectKey } from './thread.js';
import { toMessageDetailView, toMessageView, type MessageDetailView, type MessageView } from './message.view.js';

export interface IngestInput {
  tenantId: string;
  accountId: string;
  /** the mailbox folder it was seen in (`INBOX`, the Sent folder's name, ...) */
  folder: string;
  /** `out` for the Sent folder; a message whose From is the account's own address is `out` anyway */
  direction?: 'in' | 'out';
  raw: Buffer;
  /** IMAP UID and UIDVALIDITY: with both, ingesting the same place again records nothing new */
  uid?: number;
  uidValidity?: number;
  /** the server's INTERNALDATE: the date when the Date header is missing or broken */
  internalDate?: Date | string;
  /** part of a mailbox's first sync (mail that was there before the account was connected): no `message.received` */
  backlog?: boolean;
  /** IMAP flags and MODSEQ when fetched, kept with the source */
  flags?: string[];
  modseq?: string | null;
}

/** One message of {@link CorrespondenceService.ingestMany}. */
export interface IngestItem {
  input: IngestInput;
  /** the outbox job that sent it (the send worker's own record) */
  outboxId?: string;
  /** Bcc recipients, absent from the bytes: contacts too */
  bcc?: string[];
  /** what the message says, when the caller knows it already (e.g. it composed the message): no parse */
  parsed?: ParsedMessage;
}

/** What {@link CorrespondenceService.ingest} takes besides the input: an item's extras, and the account when the caller holds it (one read less). */
export type IngestExtra = Omit<IngestItem, 'input'> & { account?: AccountRow };

export interface IngestResult {
  id: string;
  threadId: string;
  direction: 'in' | 'out';
  /** false when the message was already recorded (same place, or same Message-ID in the account) */
  created: boolean;
  parseError: string | null;
}

export interface CorrespondenceQuery {
  accountId?: string;
  contact?: string;
  direction?: string;
  threadId?: string;
  cursor?: string;
  limit?: number;
}

export interface CorrespondenceServiceDeps {
  repos: Pick<Repositories, 'correspondence' | 'accounts'>;
  /** webhooks: `message.received` for each new incoming message, stored with it (see WebhooksService.recordIn) */
  events?: EventRecorder<'message.received'>;
  /**
   * Called for each new incoming message (not the backlog of a first sync) within the transaction
   * that records it: the campaigns module queues it there (CampaignsService.deliverInboundIn), so a
   * crash cannot keep the message and lose its queue item. True when it recorded webhook events.
   */
  onInbound?: (tx: Transaction<Database>, e: { tenantId: string; accountId: string; messagePk: string }) => Promise<boolean>;
  /** parses batches (on worker threads in the app); default: on the calling thread with `parseLimits` */
  parser?: Pick<MessageParser, 'parseMany'>;
  parseLimits?: Partial<ParseLimits>;
  now?: () => Date;
}

/** The data of a `message.received` event. */
type InboundData = Record<string, unknown> & { id: string };

/** Messages of a batch recorded between two turns of the event loop. */
const YIELD_EVERY = 20;

/** Replies found by subject only must be this close to the earlier message. */
const SUBJECT_WINDOW_MS = 30 * 24 * 3600 * 1000;

const encodeCursor = (date: string, id: string) => Buffer.from(JSON.stringify([date, id])).toString('base64url');

function decodeCursor(cursor: string): { date: string; id: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string' && v[0].length <= 40 && v[1].length <= 100) return { date: v[0], id: v[1] };
  } catch {
    // fall through
  }
  throw invalid('cursor', 'cursor is not one this API handed out; pass nextCursor from the previous page');
}

/** PostgreSQL text cannot hold NUL characters; hostile mail may carry them (the raw bytes keep them). */
const clean = <T extends string | null>(s: T): T => (s === null ? s : (s.replace(/\u0000/g, '') as T));

const resultOf = (m: MailMessageSummary, created: boolean): IngestResult => ({ id: m.id, threadId: m.thread_id, direction: m.direction as 'in' | 'out', created, parseError: m.parse_error });

/** What the parser gave, without NUL characters in the ids. */
function cleanParsed(p: ParsedMessage): ParsedMessage {
  p.messageId = clean(p.messageId);
  p.inReplyTo = clean(p.inReplyTo);
  p.references = p.references.map(clean);
  return p;
}

/** What {@link CorrespondenceService.recordSent} reads of an outbox job. */
export type SentJob = Pick<OutboxRow, 'id' | 'tenant_id' | 'account_id' | 'raw' | 'recipients'>;

/** A sent job's envelope recipients: its Bcc ones are in no header (To and Cc are read from the message too). */
function recipientsOf(job: SentJob): string[] {
  try {
    const list = JSON.parse(job.recipients) as unknown;
    return Array.isArray(list) ? list.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return [];
  }
}

/** A message of a batch, parsed, waiting to be threaded and stored. */
interface Pending {
  input: IngestInput;
  source: MailSource | undefined;
  parsed: ParsedMessage;
  bcc: string[];
  outboxId: string | undefined;
}

function validDate(value: Date | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const t = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isFinite(t) ? new Date(t).toISOString() : undefined;
}

/**
 * Recording correspondence: each message parsed, threaded and matched to its contacts, once per
 * account. A message sent through Mailport is the same record whether it is recorded at send time
 * ({@link recordSent}) or later seen in the Sent folder (matched by its Message-ID, linked to
 * its outbox job).
 *
 * Threads: by Message-ID, In-Reply-To and References first (a parent that arrives after its
 * replies folds their threads into one); only when none of those is known, by the normalised
 * subject (Re:/Fwd:/AW: removed) of a message that says it is a reply, with a shared contact,
 * within 30 days.
 *
 * @example
 *   const r = await service.ingest({ tenantId, accountId, folder: 'INBOX', raw, uid: 42, uidValidity: 7 });
 *   const page = await service.list(tenantId, { contact: 'bob@example.com' });
 */
export class CorrespondenceService {
  private readonly now: () => Date;
  private readonly parser: Pick<MessageParser, 'parseMany'>;

  constructor(private readonly deps: CorrespondenceServiceDeps) {
    this.now = deps.now ?? (() => new Date());
    this.parser = deps.parser ?? new MessageParser({ threads: 0, limits: deps.parseLimits });
  }

  /** Parses messages ahead of {@link ingestMany} (pass each result as the item's `parsed`), e.g. while the previous batch is stored. */
  parseMany(raws: Buffer[]): Promise<ParsedMessage[]> {
    return this.parser.parseMany(raws);
  }

  async ingest(input: IngestInput, extra: IngestExtra = {}): Promise<IngestResult> {
    const { account, ...item } = extra;
    const [result] = await this.ingestMany([{ input, ...item }], account);
    return result!;
  }

  /**
   * Records a batch of messages of one account (a sync session's FETCH batch) in one transaction:
   * the places already recorded found with one query, the rest parsed, their outbox jobs looked up
   * together, then each threaded and stored in order, so a reply later in the batch finds its
   * parent. When another writer records one of them at the same moment (a unique key taken), the
   * batch is rolled back and recorded again one message at a time, each in its own transaction.
   * A new incoming message is announced (`message.received`) and handed to {@link CorrespondenceServiceDeps.onInbound}
   * in the transaction that records it.
   *
   * @example
   *   const results = await service.ingestMany(fetched.map((m) => ({ input: { tenantId, accountId, folder: 'INBOX', raw: m.source, uid: m.uid, uidValidity } })), account);
   */
  async ingestMany(items: IngestItem[], holding?: AccountRow): Promise<IngestResult[]> {
    const first = items[0];
    if (!first) return [];
    const { tenantId, accountId } = first.input;
    if (items.some((i) => i.input.tenantId !== tenantId || i.input.accountId !== accountId)) throw new Error('ingestMany records the messages of one account per call');
    const repo = this.deps.repos.correspondence;
    // a sync session passes the account it holds (one read less per batch)
    const given = holding && holding.id === accountId && holding.tenant_id === tenantId ? holding : undefined;
    const account = given ?? (await this.deps.repos.accounts.get(tenantId, accountId));
    if (!account) throw notFound('Account');
    const inputs = items.map((i) => ({ ...i.input, folder: clean(i.input.folder).slice(0, 1000) }));
    const sources = inputs.map((input): MailSource | undefined =>
      input.uid !== undefined && input.uidValidity !== undefined
        ? { accountId: account.id, folder: input.folder, uidValidity: input.uidValidity, uid: input.uid, flags: input.flags, modseq: input.modseq }
        : undefined,
    );
    const results: Array<IngestResult | undefined> = new Array(items.length);
    const seen = await repo.findBySources(sources.filter((s): s is MailSource => s !== undefined));
    sources.forEach((s, i) => {
      const known = s && seen.get(sourceKey(s));
      if (known) results[i] = resultOf(known, false);
    });

    const todo = items.map((_, i) => i).filter((i) => !results[i]);
    const unparsed = todo.filter((i) => !items[i]!.parsed);
    const fresh = new Map((await this.parser.parseMany(unparsed.map((i) => inputs[i]!.raw))).map((p, k) => [unparsed[k]!, p]));
    const parsed = todo.map((i) => {
      const given = items[i]!.parsed;
      return cleanParsed(given ? { ...given, references: [...given.references] } : fresh.get(i)!);
    });
    const own = normalizeAddress(account.email);
    // only mail from the account itself can be an outbox job of it (mail from others needs no look-up)
    const asked = todo.flatMap((i, k) => {
      const p = parsed[k]!;
      return p.messageId && !items[i]!.outboxId && (inputs[i]!.direction === 'out' || (own !== undefined && normalizeAddress(p.from?.address) === own)) ? [p.messageId] : [];
    });
    const outboxIds = asked.length ? await repo.outboxIdsFor(tenantId, account.id, asked) : new Map<string, string>();
    const pending = todo.map((i, k): Pending => {
      const p = parsed[k]!;
      return { input: inputs[i]!, source: sources[i], parsed: p, bcc: items[i]!.bcc ?? [], outboxId: items[i]!.outboxId ?? (p.messageId ? outboxIds.get(p.messageId) : undefined) };
    });

    let received: InboundData[] = [];
    let announced = false;
    const announce = async (tx: Transaction<Database>, data: InboundData) => {
      if (this.deps.events && (await this.deps.events.recordIn(tx, tenantId, 'message.received', data))) announced = true;
      if (this.deps.onInbound && (await this.deps.onInbound(tx, { tenantId, accountId: account.id, messagePk: data.id }))) announced = true;
    };
    const recordAll = async (r: CorrespondenceRepository, batch?: BatchIndex) => {
      received = [];
      for (const [k, m] of pending.entries()) {
        // SQLite answers synchronously: without a turn of the event loop now and then, a batch kept
        // the sessions' sockets (the next FETCH on its way) and the parser's results waiting
        if (k > 0 && k % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
        results[todo[k]!] = await this.record(r, account, m, received, announce, batch);
      }
    };
    if (pending.length === 1) await recordAll(repo);
    else if (pending.length > 1) {
      try {
        await repo.transaction(async (tx) => {
          const batch = await BatchIndex.load(tx, account.id, pending);
          await recordAll(tx, batch);
          await batch.flush(tx);
          // the batch's new incoming messages, now stored: announced and queued in the same transaction
          await tx.within(async (k) => {
            for (const data of received) await announce(k, data);
          });
        });
      } catch (err) {
        if (!(err instanceof RecordConflict)) throw err;
        await recordAll(repo);
      }
    }
    if (announced) this.deps.events?.recorded();
    return results as IngestResult[];
  }

  /**
   * Threads and stores one parsed message (or finds it recorded already). A new incoming one is
   * announced (`announce`) in its own transaction, or, in a batch, collected in `received` to be
   * announced in the batch's transaction once the batch is stored.
   */
  private async record(repo: CorrespondenceRepository, account: AccountRow, m: Pending, received: InboundData[], announce: (tx: Transaction<Database>, data: InboundData) => Promise<void>, batch?: BatchIndex): Promise<IngestResult> {
    const { input, source, parsed } = m;
    const now = this.now().toISOString();
    const own = normalizeAddress(account.email);
    const fromOwn = own !== undefined && normalizeAddress(parsed.from?.address) === own;
    const direction: 'in' | 'out' = input.direction === 'out' || m.outboxId !== undefined || fromOwn ? 'out' : 'in';

    if (parsed.messageId) {
      const existing = batch ? batch.byMessageId(parsed.messageId) : await repo.findByMessageId(account.id, parsed.messageId);
      if (existing) {
        // seen again (Sent after sending, or another folder): one record, what it adds is kept
        const newInBatch = batch?.isPending(existing.id) ?? false;
        const firstSighting = source !== undefined && (newInBatch ? batch!.sightings(existing.id) : await repo.sourceCount(existing.id)) === 0;
        const patch: { outbox_id?: string; folder?: string; updated_at: string } = { updated_at: now };
        if (!existing.outbox_id && m.outboxId) patch.outbox_id = m.outboxId;
        if (firstSighting && existing.outbox_id) patch.folder = input.folder;
        if (newInBatch) batch!.addSighting(existing.id, source, patch);
        else {
          if (source) await repo.addSource(existing.id, source, now);
          if (patch.outbox_id || patch.folder) await repo.update(existing.id, patch);
        }
        return resultOf(existing, false);
      }
    }

    const date = parsed.date ?? validDate(input.internalDate) ?? now;
    if (!parsed.messageId && source) {
      // no Message-ID: the same message seen again after a UIDVALIDITY change is known by what it says
      const same = await repo.findByFingerprint(account.id, { date, size: input.raw.length, subject: clean(parsed.subject) });
      if (same && (await repo.sourcesOf(same.id)).some((s) => s.folder === input.folder && s.uidValidity !== source.uidValidity)) {
        await repo.addSource(same.id, source, now);
        return resultOf(same, false);
      }
    }

    const everyone: ParsedAddress[] = [...(parsed.from ? [parsed.from] : []), ...parsed.to, ...parsed.cc, ...parsed.bcc];
    const contacts = [...new Set([...everyone.map((a) => normalizeAddress(a.address)), ...m.bcc.map(normalizeAddress)].filter((a): a is string => a !== undefined && a !== own))].slice(0, 500);
    const refs = [...new Set([...parsed.references, ...(parsed.inReplyTo ? [parsed.inReplyTo] : [])])].filter((r) => r !== parsed.messageId);
    const key = subjectKey(parsed.subject);

    let threadId: string | undefined;
    let mergeThreads: string[] = [];
    const related = batch ? batch.threadsByIds(refs, parsed.messageId) : await repo.threadsByIds(account.id, refs, parsed.messageId);
    if (related.length) {
      threadId = related[0]!.thread_id;
      mergeThreads = [...new Set(related.map((r) => r.thread_id))].filter((t) => t !== threadId);
    } else if (refs.length > 0 || isReplySubject(parsed.subject)) {
      const t = Date.parse(date);
      const [since, until] = [new Date(t - SUBJECT_WINDOW_MS).toISOString(), new Date(t + 24 * 3600 * 1000).toISOString()];
      const stored = await repo.threadBySubject(account.id, key, contacts, since, until);
      const fresh = batch?.bySubject(key, contacts, since, until);
      threadId = (fresh && (!stored || fresh.date > stored.date) ? fresh : stored)?.thread_id;
    }

    const id = newId('eml', this.now().getTime());
    const row: MailMessageRow = {
      id,
      tenant_id: input.tenantId,
      account_id: account.id,
      direction,
      folder: input.folder,
      message_id: parsed.messageId,
      thread_id: threadId ?? newId('thr', this.now().getTime()),
      from_json: parsed.from ? JSON.stringify(parsed.from) : null,
      to_json: JSON.stringify(parsed.to),
      cc_json: JSON.stringify(parsed.cc),
      subject: clean(parsed.subject),
      subject_key: clean(key),
      date,
      snippet: clean(parsed.snippet),
      has_attachments: parsed.attachments.length > 0 ? 1 : 0,
      text: clean(parsed.text),
      html: clean(parsed.html),
      headers_json: JSON.stringify(parsed.headers),
      attachments_json: JSON.stringify(parsed.attachments),
      raw: input.raw,
      size: input.raw.length,
      parse_error: parsed.parseError,
      outbox_id: m.outboxId ?? null,
      created_at: now,
      updated_at: now,
    };
    // what `message.received` says of a new incoming message (not the backlog of a first sync)
    const inbound: InboundData | undefined = direction === 'in' && !input.backlog
      ? { id: row.id, accountId: account.id, messageId: row.message_id, threadId: row.thread_id, folder: row.folder, from: parsed.from, subject: row.subject, date: row.date }
      : undefined;
    let stored: MailMessageSummary;
    let created = true;
    if (batch) {
      // stored with the rest of the batch at its end; the threads it folds are folded now
      await repo.foldThreads(row.thread_id, mergeThreads);
      stored = batch.add({ row, contacts, refs, source, mergeThreads });
      if (inbound) received.push(inbound);
    } else {
      // (the message found recorded by another writer meanwhile is not new: nothing to announce)
      ({ row: stored, created } = await repo.insert({ row, contacts, refs, source, mergeThreads, within: inbound && ((tx) => announce(tx, inbound)) }));
    }
    return resultOf(stored, created);
  }

  /**
   * The send worker's hook: records a message it has just sent through an account (not platform
   * sends, which belong to no mailbox), linked to its outbox job. The Bcc recipients, absent from
   * the bytes, count as contacts. A later sighting in Sent adds to this record. `parsed`: what the
   * message says when the worker knows it (built from the draft it composed): then no parse.
   *
   * @example
   *   await correspondence.recordSent(job, sentRecordOf(draft, raw) ?? undefined); // after the job is `sent`
   */
  async recordSent(job: SentJob, parsed?: ParsedMessage): Promise<IngestResult | undefined> {
    if (!job.account_id) return undefined;
    return this.ingest({ tenantId: job.tenant_id, accountId: job.account_id, folder: 'Sent', direction: 'out', raw: job.raw }, { outboxId: job.id, bcc: recipientsOf(job), parsed });
  }

  /**
   * {@link recordSent} within the transaction that marks the job sent (the send worker's outcome),
   * so a crash cannot keep the outcome and lose the record: `parsed` is what the message says (the
   * worker parses it first: no parse inside a transaction), `account` the job's, held by the
   * worker (every read here goes through `tx`). The record's writes are under a savepoint: when
   * they fail (e.g. the Sent folder's sync recorded the same message at that moment), they alone
   * are rolled back and this throws; the outcome stands, and the caller records the message after
   * its commit with {@link recordSent}, which resolves such a race.
   *
   * @example
   *   await outbox.finishMany([{ id, token, patch, within: (tx) => correspondence.recordSentIn(tx, job, parsed, account) }]);
   */
  async recordSentIn(tx: Transaction<Database>, job: SentJob, parsed: ParsedMessage, account: AccountRow): Promise<IngestResult | undefined> {
    if (!job.account_id) return undefined;
    if (account.id !== job.account_id || account.tenant_id !== job.tenant_id) throw new Error(`recordSentIn: account ${account.id} is not the one of outbox job ${job.id}`);
    const pending: Pending = {
      input: { tenantId: job.tenant_id, accountId: account.id, folder: 'Sent', direction: 'out', raw: job.raw },
      source: undefined,
      parsed: cleanParsed({ ...parsed, references: [...parsed.references] }),
      bcc: recipientsOf(job),
      outboxId: job.id,
    };
    // an outgoing message announces nothing: no event, no campaign item
    return savepoint(tx, () => this.record(this.deps.repos.correspondence.on(tx), account, pending, [], async () => {}));
  }

  async list(tenantId: string, q: CorrespondenceQuery): Promise<{ items: MessageView[]; nextCursor: string | null }> {
    if (q.direction !== undefined && q.direction !== 'in' && q.direction !== 'out') throw invalid('direction', 'direction must be in or out');
    let contact: string | undefined;
    if (q.contact !== undefined) {
      contact = normalizeAddress(q.contact);
      if (!contact) throw invalid('contact', 'contact must be an email address');
    }
    const limit = q.limit ?? 50;
    const rows = await this.deps.repos.correspondence.list(tenantId, {
      accountId: q.accountId, contact, direction: q.direction, threadId: q.threadId, before: q.cursor ? decodeCursor(q.cursor) : undefined, limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(toMessageView), nextCursor: rows.length > limit && last ? encodeCursor(last.date, last.id) : null };
  }

  async get(tenantId: string, id: string): Promise<MessageDetailView> {
    const row = await this.deps.repos.correspondence.get(tenantId, id);
    if (!row) throw notFound('Message');
    return toMessageDetailView(row, await this.deps.repos.correspondence.sourcesOf(row.id));
  }

  /** The message exactly as received or sent. */
  async raw(tenantId: string, id: string): Promise<Buffer> {
    const raw = await this.deps.repos.correspondence.raw(tenantId, id);
    if (!raw) throw notFound('Message');
    return raw;
  }
}
