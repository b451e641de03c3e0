import type { Kysely, Selectable, Transaction } from 'kysely';
import { CompiledShapes } from './compiled.js';
import type { Database, MailMessageBodiesTable, MailMessagesTable } from './schema.js';

/** A whole recorded message: its row and its bodies (stored apart, see migration 0012). */
export type MailMessageRow = Selectable<MailMessagesTable> & Omit<Selectable<MailMessageBodiesTable>, 'message_pk'>;
/** Every column but the raw bytes and the bodies: what lists need. */
export type MailMessageSummary = Pick<
  MailMessageRow,
  'id' | 'tenant_id' | 'account_id' | 'direction' | 'folder' | 'message_id' | 'thread_id' | 'from_json' | 'to_json' | 'cc_json' | 'subject' | 'date' | 'snippet' | 'has_attachments' | 'parse_error' | 'outbox_id'
>;
/** Every column but the raw bytes: what the single-message view needs. */
export type MailMessageDetail = Omit<MailMessageRow, 'raw'>;

const SUMMARY = ['id', 'tenant_id', 'account_id', 'direction', 'folder', 'message_id', 'thread_id', 'from_json', 'to_json', 'cc_json', 'subject', 'date', 'snippet', 'has_attachments', 'parse_error', 'outbox_id'] as const;
const DETAIL = [...SUMMARY, 'subject_key', 'attachments_json', 'size', 'created_at', 'updated_at'] as const;

export interface MailSource {
  accountId: string;
  folder: string;
  uidValidity: number;
  uid: number;
  /** the message's flags in that folder when it was fetched (IMAP) */
  flags?: string[];
  /** its MODSEQ there (CONDSTORE), as text */
  modseq?: string | null;
}

/** Where a message is (or was) on the server, with its flags there. */
export interface MailSourceView {
  folder: string;
  uidValidity: number;
  uid: number;
  flags: string[];
  expungedAt: string | null;
}

export interface NewMailMessage {
  row: MailMessageRow;
  /** the other parties, lower-cased */
  contacts: string[];
  /** Message-IDs it refers to */
  refs: string[];
  source?: MailSource;
  /** other threads to fold into row.thread_id (a parent that arrived after its replies) */
  mergeThreads?: string[];
  /** more to store with a message recorded now (its webhook event, its campaign queue item), in its transaction */
  within?: (tx: Transaction<Database>) => Promise<void>;
}

export interface MailListOptions {
  accountId?: string;
  contact?: string;
  direction?: string;
  threadId?: string;
  /** the last item of the previous page: items strictly older (date, then id) come next */
  before?: { date: string; id: string };
  limit: number;
}

/**
 * A message of a batch transaction found its place or Message-ID taken by another writer: the
 * transaction is rolled back (on PostgreSQL it could not go on anyway) and the caller records
 * the batch again one message at a time.
 */
export class RecordConflict extends Error {
  constructor(cause: unknown) {
    super('another writer recorded the same message at the same moment', { cause });
  }
}

const SOURCE_TAKEN = new Error('source already recorded');

/** What lists need of a whole message: its summary columns. */
export const summaryOf = (row: MailMessageRow): MailMessageSummary => Object.fromEntries(SUMMARY.map((k) => [k, row[k]])) as MailMessageSummary;

/** The mail_message_sources row of a place a message was seen in. */
const sourceRow = (messagePk: string, s: MailSource, now: string) => ({
  message_pk: messagePk, account_id: s.accountId, folder: s.folder, uid_validity: s.uidValidity, uid: s.uid, created_at: now,
  flags: s.flags ? JSON.stringify(s.flags) : null, modseq: s.modseq ?? null, expunged_at: null,
});

/** The key of a place in a folder, as {@link CorrespondenceRepository.findBySources} maps it. */
export const sourceKey = (s: Pick<MailSource, 'folder' | 'uidValidity' | 'uid'>): string => `${s.uidValidity}:${s.uid}:${s.folder}`;

/** Rows per multi-row insert (21 columns at most: well below both dialects' bound-parameter limits). */
const BULK_ROWS = 50;

/** IN lists are cut to this many values (SQLite's and PostgreSQL's bound-parameter limits are far above). */
const IN_CHUNK = 500;

function chunked<T>(values: T[], size = IN_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size));
  return out;
}

const isUniqueViolation = (err: unknown): boolean => {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || /UNIQUE constraint failed/i.test(e?.message ?? '');
};

/**
 * Recorded correspondence. A message is one row per account (unique Message-ID); where it was
 * seen, who it involves and what it refers to are join tables, so every list filter is an index
 * range, newest first by date then id.
 *
 * @example
 *   const { row, created } = await repo.insert({ row, contacts: ['bob@example.com'], refs: [], source });
 *   const page = await repo.list(tenantId, { contact: 'bob@example.com', limit: 51 });
 */
export class CorrespondenceRepository {
  constructor(
    private readonly db: Kysely<Database>,
    /** the per-message statements, compiled once (shared with the repositories of its transactions) */
    private readonly shapes = new CompiledShapes(),
  ) {}

  async findBySource(s: MailSource): Promise<MailMessageSummary | undefined> {
    return this.db
      .selectFrom('mail_message_sources as s')
      .innerJoin('mail_messages as m', 'm.id', 's.message_pk')
      .select(SUMMARY.map((c) => `m.${c}` as const))
      .where('s.account_id', '=', s.accountId)
      .where('s.folder', '=', s.folder)
      .where('s.uid_validity', '=', s.uidValidity)
      .where('s.uid', '=', s.uid)
      .executeTakeFirst();
  }

  /** The recorded messages of places in one account's folders, by {@link sourceKey}. */
  async findBySources(sources: MailSource[]): Promise<Map<string, MailMessageSummary>> {
    const found = new Map<string, MailMessageSummary>();
    const groups = new Map<string, MailSource[]>();
    for (const s of sources) {
      const g = `${s.accountId}\n${s.uidValidity}\n${s.folder}`;
      groups.set(g, [...(groups.get(g) ?? []), s]);
    }
    for (const group of groups.values()) {
      const { accountId, folder, uidValidity } = group[0]!;
      for (const uids of chunked([...new Set(group.map((s) => s.uid))])) {
        const rows = await this.db
          .selectFrom('mail_message_sources as s')
          .innerJoin('mail_messages as m', 'm.id', 's.message_pk')
          .select([...SUMMARY.map((c) => `m.${c}` as const), 's.uid as source_uid'])
          .where('s.account_id', '=', accountId)
          .where('s.folder', '=', folder)
          .where('s.uid_validity', '=', uidValidity)
          .where('s.uid', 'in', uids)
          .execute();
        for (const { source_uid, ...row } of rows) found.set(sourceKey({ folder, uidValidity, uid: Number(source_uid) }), row);
      }
    }
    return found;
  }

  /**
   * Runs `fn` with a repository inside one transaction. A unique key taken inside (another writer
   * recorded the same message) comes out as {@link RecordConflict} after the rollback.
   */
  async transaction<T>(fn: (repo: CorrespondenceRepository) => Promise<T>): Promise<T> {
    try {
      return await this.db.transaction().execute((tx) => fn(this.on(tx)));
    } catch (err) {
      if (err === SOURCE_TAKEN || isUniqueViolation(err)) throw new RecordConflict(err);
      throw err;
    }
  }

  /** This repository on a caller's transaction (see CorrespondenceService.recordSentIn). */
  on(tx: Transaction<Database>): CorrespondenceRepository {
    return new CorrespondenceRepository(tx, this.shapes);
  }

  async findByMessageId(accountId: string, messageId: string): Promise<MailMessageSummary | undefined> {
    return this.db.selectFrom('mail_messages').select(SUMMARY).where('account_id', '=', accountId).where('message_id', '=', messageId).executeTakeFirst();
  }

  /**
   * A message without a Message-ID that says the same thing (date, size, subject): how a message
   * is recognised again after its folder's UIDVALIDITY changed.
   */
  async findByFingerprint(accountId: string, fp: { date: string; size: number; subject: string }): Promise<MailMessageSummary | undefined> {
    return this.db
      .selectFrom('mail_messages')
      .select(SUMMARY)
      .where('account_id', '=', accountId)
      .where('date', '=', fp.date)
      .where('size', '=', fp.size)
      .where('subject', '=', fp.subject)
      .where('message_id', 'is', null)
      .executeTakeFirst();
  }

  /** Every place the message was seen in, oldest first. */
  async sourcesOf(messagePk: string): Promise<MailSourceView[]> {
    const rows = await this.db
      .selectFrom('mail_message_sources')
      .select(['folder', 'uid_validity', 'uid', 'flags', 'expunged_at'])
      .where('message_pk', '=', messagePk)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({ folder: r.folder, uidValidity: Number(r.uid_validity), uid: Number(r.uid), flags: r.flags ? (JSON.parse(r.flags) as string[]) : [], expungedAt: r.expunged_at }));
  }

  /** How many places the message was seen in (IMAP folders with a UID). */
  async sourceCount(messagePk: string): Promise<number> {
    const r = await this.db.selectFrom('mail_message_sources').select((eb) => eb.fn.countAll<number | string>().as('n')).where('message_pk', '=', messagePk).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Records one more place a message was seen; false when that place was already recorded. */
  async addSource(messagePk: string, s: MailSource, now: string, db: Kysely<Database> = this.db): Promise<boolean> {
    const row = sourceRow(messagePk, s, now);
    const r = await this.shapes.run(db, 'source', Object.values(row), () =>
      db.insertInto('mail_message_sources').values(row).onConflict((oc) => oc.columns(['account_id', 'folder', 'uid_validity', 'uid']).doNothing()).compile(),
    );
    return Number(r.numAffectedRows ?? 0n) === 1;
  }

  /**
   * The threads related to a message by id: of the messages it refers to, and of the messages
   * that refer to it (replies stored before it). Oldest first.
   */
  async threadsByIds(accountId: string, refs: string[], messageId: string | null): Promise<Array<{ thread_id: string; date: string }>> {
    const out: Array<{ thread_id: string; date: string }> = [];
    if (refs.length) {
      out.push(...(await this.db.selectFrom('mail_messages').select(['thread_id', 'date']).where('account_id', '=', accountId).where('message_id', 'in', refs).execute()));
    }
    if (messageId) {
      out.push(
        ...(await this.db
          .selectFrom('mail_message_refs as r')
          .innerJoin('mail_messages as m', 'm.id', 'r.message_pk')
          .select(['m.thread_id', 'm.date'])
          .where('r.account_id', '=', accountId)
          .where('r.ref', '=', messageId)
          .execute()),
      );
    }
    return out.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
  }

  /** The account's messages with these Message-IDs (a batch's own and the ones it refers to). */
  async findByMessageIds(accountId: string, messageIds: string[]): Promise<MailMessageSummary[]> {
    const out: MailMessageSummary[] = [];
    for (const ids of chunked([...new Set(messageIds)])) {
      out.push(...(await this.db.selectFrom('mail_messages').select(SUMMARY).where('account_id', '=', accountId).where('message_id', 'in', ids).execute()));
    }
    return out;
  }

  /** The threads of the account's messages that refer to these Message-IDs (replies stored before them), by the id referred to. */
  async referringTo(accountId: string, messageIds: string[]): Promise<Array<{ ref: string; thread_id: string; date: string }>> {
    const out: Array<{ ref: string; thread_id: string; date: string }> = [];
    for (const ids of chunked([...new Set(messageIds)])) {
      out.push(
        ...(await this.db
          .selectFrom('mail_message_refs as r')
          .innerJoin('mail_messages as m', 'm.id', 'r.message_pk')
          .select(['r.ref', 'm.thread_id', 'm.date'])
          .where('r.account_id', '=', accountId)
          .where('r.ref', 'in', ids)
          .execute()),
      );
    }
    return out;
  }

  /** The thread of the latest message with the same subject key that shares a contact, within [since, until]. */
  async threadBySubject(accountId: string, subjectKey: string, contacts: string[], since: string, until: string): Promise<{ thread_id: string; date: string } | undefined> {
    if (!subjectKey || contacts.length === 0) return undefined;
    return this.db
      .selectFrom('mail_messages as m')
      .innerJoin('mail_message_contacts as c', 'c.message_pk', 'm.id')
      .select(['m.thread_id', 'm.date'])
      .where('m.account_id', '=', accountId)
      .where('m.subject_key', '=', subjectKey)
      .where('m.date', '>=', since)
      .where('m.date', '<=', until)
      .where('c.address', 'in', contacts)
      .orderBy('m.date', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  /**
   * Stores a new message with its contacts, references and source in one transaction. When the
   * account already has a message with the same Message-ID (a race, or a second sighting) nothing
   * new is stored: the source is added to the existing one, which comes back with `created: false`.
   */
  async insert(m: NewMailMessage): Promise<{ row: MailMessageSummary; created: boolean }> {
    const now = m.row.created_at;
    // inside a batch transaction: a conflict ends the batch (see transaction())
    if (this.db.isTransaction) await this.insertRows(this.db as Transaction<Database>, m);
    else {
      try {
        await this.db.transaction().execute((tx) => this.insertRows(tx, m));
      } catch (err) {
        if (err !== SOURCE_TAKEN && !isUniqueViolation(err)) throw err;
        const existing = m.source ? await this.findBySource(m.source) : undefined;
        if (existing) return { row: existing, created: false };
        const same = m.row.message_id ? await this.findByMessageId(m.row.account_id, m.row.message_id) : undefined;
        if (!same) throw err;
        if (m.source) await this.addSource(same.id, m.source, now);
        return { row: same, created: false };
      }
    }
    return { row: summaryOf(m.row), created: true };
  }

  private async insertRows(tx: Transaction<Database>, m: NewMailMessage): Promise<void> {
    // another ingest of the same place won the race: insertMany throws, this one is rolled back and answered with that one
    await this.insertMany([{ ...m, sources: m.source ? [m.source] : [] }], tx);
    await this.foldThreads(m.row.thread_id, (m.mergeThreads ?? []).filter((t) => t !== m.row.thread_id), tx);
    if (m.within) await m.within(tx);
  }

  /** Runs `fn` on this repository's transaction (one {@link transaction} made). */
  within<T>(fn: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
    if (!this.db.isTransaction) throw new Error('within() needs the repository of a transaction');
    return fn(this.db as Transaction<Database>);
  }

  /** Moves the messages of threads `others` into thread `into`. */
  async foldThreads(into: string, others: string[], db: Kysely<Database> = this.db): Promise<void> {
    // thread ids are unique (a thread never spans accounts); with account_id in the filter too, SQLite walked the account's index instead
    if (others.length) await db.updateTable('mail_messages').set({ thread_id: into }).where('thread_id', 'in', others).execute();
  }

  /**
   * Stores new messages with their contacts, references and places, a table at a time (a batch's
   * messages, inside its transaction: threads are already settled, see BatchIndex). A place or a
   * Message-ID already taken throws, which rolls the transaction back ({@link transaction}).
   */
  async insertMany(messages: Array<NewMailMessage & { sources: MailSource[] }>, db: Kysely<Database> = this.db): Promise<void> {
    const rows = messages.map((m) => {
      const { text: _t, html: _h, headers_json: _j, raw: _r, ...row } = m.row;
      return row;
    });
    await this.insertChunked(db, 'mail_messages', rows);
    await this.insertChunked(db, 'mail_message_bodies', messages.map(({ row }) => ({ message_pk: row.id, text: row.text, html: row.html, headers_json: row.headers_json, raw: row.raw })));
    await this.insertChunked(db, 'mail_message_contacts', messages.flatMap(({ row, contacts }) => [...new Set(contacts)].map((address) => ({ message_pk: row.id, tenant_id: row.tenant_id, account_id: row.account_id, address, date: row.date }))));
    await this.insertChunked(db, 'mail_message_refs', messages.flatMap(({ row, refs }) => [...new Set(refs)].map((ref) => ({ message_pk: row.id, account_id: row.account_id, ref }))));
    for (const part of chunked(messages.flatMap(({ row, sources }) => sources.map((s) => sourceRow(row.id, s, row.created_at))), BULK_ROWS)) {
      const r = await this.shapes.run(db, `sources:${part.length}`, part.flatMap(Object.values), () =>
        db.insertInto('mail_message_sources').values(part).onConflict((oc) => oc.columns(['account_id', 'folder', 'uid_validity', 'uid']).doNothing()).compile(),
      );
      if (Number(r.numAffectedRows ?? 0n) !== part.length) throw SOURCE_TAKEN;
    }
  }

  private async insertChunked(db: Kysely<Database>, table: 'mail_messages' | 'mail_message_bodies' | 'mail_message_contacts' | 'mail_message_refs', rows: Array<Record<string, unknown>>): Promise<void> {
    for (const part of chunked(rows, BULK_ROWS)) {
      await this.shapes.run(db, `${table}:${part.length}`, part.flatMap(Object.values), () => db.insertInto(table).values(part as never).compile());
    }
  }

  /** Sets what a later sighting learns: the outbox job that sent it, the real folder name. */
  async update(id: string, patch: { outbox_id?: string; folder?: string; updated_at: string }): Promise<void> {
    await this.db.updateTable('mail_messages').set(patch).where('id', '=', id).execute();
  }

  /** The outbox jobs of a tenant's account that sent these Message-IDs, by Message-ID. */
  async outboxIdsFor(tenantId: string, accountId: string, messageIds: string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (const ids of chunked([...new Set(messageIds)])) {
      const rows = await this.db
        .selectFrom('outbox')
        .select(['id', 'message_id'])
        .where('tenant_id', '=', tenantId)
        .where('message_id', 'in', ids)
        .where('account_id', '=', accountId)
        .where('status', '=', 'sent')
        // a follow-up (recipients refused for now, sent to again) shares its first job's Message-ID: the message is the first job's
        .where('retry_of', 'is', null)
        .execute();
      for (const r of rows) if (r.message_id && !found.has(r.message_id)) found.set(r.message_id, r.id);
    }
    return found;
  }

  async get(tenantId: string, id: string): Promise<MailMessageDetail | undefined> {
    return this.db
      .selectFrom('mail_messages as m')
      .innerJoin('mail_message_bodies as b', 'b.message_pk', 'm.id')
      .select([...DETAIL.map((c) => `m.${c}` as const), 'b.text', 'b.html', 'b.headers_json'])
      .where('m.tenant_id', '=', tenantId)
      .where('m.id', '=', id)
      .executeTakeFirst();
  }

  async raw(tenantId: string, id: string): Promise<Buffer | undefined> {
    const r = await this.db
      .selectFrom('mail_messages as m')
      .innerJoin('mail_message_bodies as b', 'b.message_pk', 'm.id')
      .select('b.raw')
      .where('m.tenant_id', '=', tenantId)
      .where('m.id', '=', id)
      .executeTakeFirst();
    return r?.raw;
  }

  /** Newest first (date, then id); `before` continues after the last item of a page. */
  async list(tenantId: string, o: MailListOptions): Promise<MailMessageSummary[]> {
    if (o.contact !== undefined) {
      let q = this.db
        .selectFrom('mail_message_contacts as c')
        .innerJoin('mail_messages as m', 'm.id', 'c.message_pk')
        .select(SUMMARY.map((c) => `m.${c}` as const))
        .where('c.tenant_id', '=', tenantId)
        .where('c.address', '=', o.contact);
      if (o.accountId) q = q.where('c.account_id', '=', o.accountId);
      if (o.direction) q = q.where('m.direction', '=', o.direction);
      if (o.threadId) q = q.where('m.thread_id', '=', o.threadId);
      if (o.before) {
        const { date, id } = o.before;
        q = q.where((eb) => eb.or([eb('c.date', '<', date), eb.and([eb('c.date', '=', date), eb('c.message_pk', '<', id)])]));
      }
      return q.orderBy('c.date', 'desc').orderBy('c.message_pk', 'desc').limit(o.limit).execute();
    }
    let q = this.db.selectFrom('mail_messages').select(SUMMARY).where('tenant_id', '=', tenantId);
    if (o.accountId) q = q.where('account_id', '=', o.accountId);
    if (o.direction) q = q.where('direction', '=', o.direction);
    if (o.threadId) q = q.where('thread_id', '=', o.threadId);
    if (o.before) {
      const { date, id } = o.before;
      q = q.where((eb) => eb.or([eb('date', '<', date), eb.and([eb('date', '=', date), eb('id', '<', id)])]));
    }
    return q.orderBy('date', 'desc').orderBy('id', 'desc').limit(o.limit).execute();
  }
}
