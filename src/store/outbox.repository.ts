import { CompiledQuery, sql, type Kysely, type Selectable, type Transaction, type Updateable } from 'kysely';
import { CompiledShapes } from './compiled.js';
import type { DialectName } from './database.js';
import type { Database, OutboxTable } from './schema.js';

/** A job as the outbox row holds it: everything but the message, which lives in `outbox_bodies`. */
export type OutboxSummary = Selectable<OutboxTable>;
/** A job with its composed message bytes. */
export type OutboxRow = OutboxSummary & { raw: Buffer };
/** A job to store: with its composed bytes, or with the draft (JSON) that the send worker composes at the first attempt. */
export type NewOutboxRow = OutboxRow | (OutboxSummary & { raw?: null; draft: string });
/** A stored job with its message: the composed bytes, or until its first send only the draft (see 0011). */
export type OutboxJob = OutboxSummary & { raw: Buffer | null; draft: string | null };
/** What an outcome may change on a claimed row. */
export type OutboxPatch = Omit<Updateable<OutboxTable>, 'id' | 'tenant_id' | 'created_at' | 'idempotency_key' | 'request_hash'>;
/**
 * An outcome for {@link OutboxRepository.finishMany}: with `raw`, the bytes composed for it take
 * the place of its draft; with `followUp`, that job is stored with the outcome (the recipients a
 * server refused for now, sent again later), and only if the claim still held.
 */
export interface OutboxOutcome {
  id: string;
  token: string;
  patch: OutboxPatch;
  raw?: Buffer;
  followUp?: NewOutboxRow;
  /** more to store with the outcome, in its transaction, only while the claim held (its webhook events) */
  within?: (tx: Transaction<Database>) => Promise<void>;
}

export interface OutboxListOptions {
  status?: string;
  accountId?: string;
  /** ids after this one (ascending: oldest first, as ids sort by creation time) */
  after?: string;
  limit: number;
}

/** The outbox columns in the order of the prepared insert's parameters. */
const COLUMNS = [
  'id', 'tenant_id', 'account_id', 'status', 'idempotency_key', 'request_hash', 'sender_resolved', 'envelope_from', 'recipients', 'recipient_count',
  'message_id', 'subject', 'attempts', 'next_attempt_at', 'send_at', 'locked_by', 'locked_until', 'last_error', 'response', 'accepted', 'rejected',
  'sent_at', 'sent_copy', 'sent_copy_attempts', 'sent_copy_next_at', 'via', 'retry_of', 'age_from', 'created_at', 'updated_at',
] as const satisfies ReadonlyArray<keyof OutboxSummary>;

/** Most rows one insert batch writes in one transaction. */
export const INSERT_BATCH_MAX = 64;

/**
 * The durable outbox. Claims are safe with several processes: PostgreSQL locks the chosen rows
 * and skips rows another transaction holds (`FOR UPDATE SKIP LOCKED`); SQLite takes them with one
 * conditional `UPDATE ... RETURNING`, which only one writer at a time can run. A claim carries a
 * token (`locked_by`) and an expiry (`locked_until`); every outcome is written only while the
 * same token still holds the row, so a worker that was presumed dead cannot overwrite the work
 * of the one that took its job over.
 *
 * The message bytes are kept apart (`outbox_bodies`): the job row is small, so the claims and
 * outcome writes that touch it several times per message stay cheap; the bytes are written once
 * and read only with a claim.
 *
 * @example
 *   const { row, created } = await repo.insert(job);
 *   const jobs = await repo.claimDue(now, 10, 'w1:abc', lockUntil);
 *   await repo.finish(jobs[0].id, 'w1:abc', { status: 'sent', sent_at: now, updated_at: now });
 */
export class OutboxRepository {
  /** `insert ... on conflict do nothing returning id` for one row, compiled once: it runs for every accepted message */
  private readonly insertSql: string;
  private readonly insertBodySql: string;
  /** outcome updates, compiled once per set of columns they set (see finishIn) */
  private readonly shapes = new CompiledShapes();

  constructor(private readonly db: Kysely<Database>, private readonly dialect: DialectName) {
    const template = Object.fromEntries(COLUMNS.map((c) => [c, ''])) as unknown as OutboxSummary;
    const compiled = db.insertInto('outbox').values(template).onConflict((oc) => oc.doNothing()).returning('id').compile();
    if (compiled.parameters.length !== COLUMNS.length) throw new Error('outbox insert: unexpected parameter count');
    this.insertSql = compiled.sql;
    this.insertBodySql = db.insertInto('outbox_bodies').values({ id: '', raw: Buffer.alloc(0), draft: '' }).compile().sql;
  }

  /**
   * Stores a new job. With an idempotency key already used by the tenant nothing is stored and
   * the earlier job comes back (`created: false`), also when two calls race.
   */
  async insert(row: NewOutboxRow): Promise<{ row: OutboxSummary; created: boolean }> {
    const [result] = await this.insertMany([row]);
    if (result!.status === 'rejected') throw result!.reason;
    return result!.value;
  }

  /**
   * Stores several new jobs in one transaction (one commit for all: what makes accepting many
   * messages at once cheap), each as {@link insert} would, with one result per row in order. A
   * row that cannot be stored fails alone: when the batch's transaction fails, each row is tried
   * again on its own. At most {@link INSERT_BATCH_MAX} rows.
   */
  async insertMany(rows: NewOutboxRow[]): Promise<Array<PromiseSettledResult<{ row: OutboxSummary; created: boolean }>>> {
    if (rows.length === 0) return [];
    if (rows.length > INSERT_BATCH_MAX) throw new RangeError(`at most ${INSERT_BATCH_MAX} rows per batch`);
    let created: boolean[];
    try {
      created = await this.db.transaction().execute(async (tx) => {
        const out: boolean[] = [];
        for (const row of rows) out.push(await this.insertOne(tx, row));
        return out;
      });
    } catch (err) {
      if (rows.length === 1) return [{ status: 'rejected', reason: err }];
      return (await Promise.all(rows.map((r) => this.insertMany([r])))).flat();
    }
    return Promise.all(
      rows.map(async (row, i): Promise<PromiseSettledResult<{ row: OutboxSummary; created: boolean }>> => {
        const { raw: _raw, ...rest } = row;
        const { draft: _draft, ...summary } = rest as typeof rest & { draft?: string };
        if (created[i]) return { status: 'fulfilled', value: { row: summary, created: true } };
        // not inserted: its idempotency key was taken (by an earlier call, a racing one, or a row of this batch)
        const earlier = row.idempotency_key === null ? undefined : await this.findByKey(row.tenant_id, row.idempotency_key).catch(() => undefined);
        if (earlier) return { status: 'fulfilled', value: { row: earlier, created: false } };
        return { status: 'rejected', reason: new Error(`outbox job ${row.id} was not stored: its id is taken`) };
      }),
    );
  }

  /** Inserts one job and its message within `tx`; false when a unique key (the idempotency key) was taken. */
  private async insertOne(tx: Transaction<Database>, row: NewOutboxRow): Promise<boolean> {
    const inserted = await tx.executeQuery(CompiledQuery.raw(this.insertSql, COLUMNS.map((c) => row[c])));
    if (inserted.rows.length === 0) return false;
    await tx.executeQuery(CompiledQuery.raw(this.insertBodySql, [row.id, row.raw ?? null, 'draft' in row ? row.draft : null]));
    return true;
  }

  async findByKey(tenantId: string, key: string): Promise<OutboxSummary | undefined> {
    return this.db.selectFrom('outbox').selectAll().where('tenant_id', '=', tenantId).where('idempotency_key', '=', key).executeTakeFirst();
  }

  async get(tenantId: string, id: string): Promise<OutboxSummary | undefined> {
    return this.db.selectFrom('outbox').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  }

  /**
   * The whole job with its message: `raw` the bytes (empty while only the draft is kept: a job not
   * yet sent, or sent through the platform processor), `draft` the message as accepted (null once
   * composed bytes are kept).
   */
  async getFull(id: string): Promise<(OutboxRow & { draft: string | null }) | undefined> {
    const row = await this.db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    const body = await this.db.selectFrom('outbox_bodies').select(['raw', 'draft']).where('id', '=', id).executeTakeFirst();
    return { ...row, raw: body?.raw ?? Buffer.alloc(0), draft: body?.draft ?? null };
  }

  async list(tenantId: string, options: OutboxListOptions): Promise<OutboxSummary[]> {
    let q = this.db.selectFrom('outbox').selectAll().where('tenant_id', '=', tenantId);
    if (options.status) q = q.where('status', '=', options.status);
    if (options.accountId) q = q.where('account_id', '=', options.accountId);
    if (options.after) q = q.where('id', '>', options.after);
    return q.orderBy('id').limit(options.limit).execute();
  }

  /**
   * Claims up to `limit` jobs that are due: queued or deferred with `next_attempt_at <= now`, and
   * jobs left `sending` by a worker whose claim expired. They become `sending`, held by `token`
   * until `lockUntil`. Returns them whole (with the message bytes), earliest due first.
   */
  async claimDue(now: string, limit: number, token: string, lockUntil: string): Promise<OutboxJob[]> {
    const set = { status: 'sending', locked_by: token, locked_until: lockUntil, updated_at: now };
    if (this.dialect === 'postgres') {
      const ids = await this.db.transaction().execute(async (tx) => {
        const due = await tx
          .selectFrom('outbox')
          .select('id')
          .where((eb) =>
            eb.or([
              eb.and([eb('status', 'in', ['queued', 'deferred']), eb('next_attempt_at', '<=', now)]),
              eb.and([eb('status', '=', 'sending'), eb('locked_until', '<', now)]),
            ]),
          )
          .orderBy('next_attempt_at')
          .limit(limit)
          .forUpdate()
          .skipLocked()
          .execute();
        if (due.length === 0) return [];
        const taken = due.map((d) => d.id);
        await tx.updateTable('outbox').set(set).where('id', 'in', taken).execute();
        return taken;
      });
      if (ids.length === 0) return [];
      const rows = await this.db.selectFrom('outbox').selectAll().where('id', 'in', ids).where('locked_by', '=', token).orderBy('next_attempt_at').execute();
      return this.withBodies(rows);
    }
    // One statement, so it is atomic; the repeated condition means a row another connection took
    // first is simply not updated here. Each status is read on its own through outbox_due (status,
    // next_attempt_at) in index order and stops after `limit` rows: an OR across the statuses made
    // SQLite collect and sort every due row on each claim (milliseconds per claim with a few
    // thousand queued). `+status` keeps the outer condition from being planned as that OR scan
    // again, so the update finds its rows by id.
    const result = await sql<OutboxSummary>`
      update outbox set status = 'sending', locked_by = ${token}, locked_until = ${lockUntil}, updated_at = ${now}
      where id in (
        select id from (
          select id, next_attempt_at from (select id, next_attempt_at from outbox where status = 'queued' and next_attempt_at <= ${now} order by next_attempt_at limit ${limit})
          union all
          select id, next_attempt_at from (select id, next_attempt_at from outbox where status = 'deferred' and next_attempt_at <= ${now} order by next_attempt_at limit ${limit})
          union all
          select id, next_attempt_at from (select id, next_attempt_at from outbox where status = 'sending' and locked_until < ${now} order by next_attempt_at limit ${limit})
        )
        order by next_attempt_at limit ${limit}
      )
      and ((+status in ('queued', 'deferred') and next_attempt_at <= ${now}) or (+status = 'sending' and locked_until < ${now}))
      returning *`.execute(this.db);
    const rows = result.rows.sort((a, b) => (a.next_attempt_at < b.next_attempt_at ? -1 : a.next_attempt_at > b.next_attempt_at ? 1 : 0));
    return this.withBodies(rows);
  }

  /**
   * Extends the claims that `tokens` still hold (rows `sending` with one of these tokens in
   * `locked_by`) to `lockUntil`, in one statement; rows no longer held (finished, taken over) are
   * left alone. The send worker calls it while jobs are in flight, so a send slower than the
   * visibility timeout is not taken for dead and claimed again. One parameter per token: the
   * tokens are those of one worker's jobs in flight (one per claim), never more than its batch
   * size. On PostgreSQL a row another transaction holds is skipped this time rather than waited
   * for (mostly an outcome being written, which releases the claim anyway): no lock wait, and no
   * deadlock with a transaction that writes several outcomes. Returns how many claims were extended.
   */
  async renewClaims(tokens: readonly string[], lockUntil: string): Promise<number> {
    if (tokens.length === 0) return 0;
    const renew = this.db.updateTable('outbox').set({ locked_until: lockUntil });
    const result = await (this.dialect === 'postgres'
      ? renew.where('id', 'in', (eb) => eb.selectFrom('outbox').select('id').where('status', '=', 'sending').where('locked_by', 'in', [...tokens]).forUpdate().skipLocked())
      : renew.where('status', '=', 'sending').where('locked_by', 'in', [...tokens])
    ).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** The claimed rows with their messages (one read for all). */
  private async withBodies(rows: OutboxSummary[]): Promise<OutboxJob[]> {
    if (rows.length === 0) return [];
    const bodies = await this.db.selectFrom('outbox_bodies').select(['id', 'raw', 'draft']).where('id', 'in', rows.map((r) => r.id)).execute();
    const byId = new Map(bodies.map((b) => [b.id, b]));
    return rows.map((r) => {
      const b = byId.get(r.id);
      return { ...r, raw: b?.raw ?? null, draft: b?.draft ?? null };
    });
  }

  /**
   * Writes an outcome for a job this claim still holds (`sending`, same token); the claim is
   * released. Returns false when the claim was lost (taken over, or the row is gone).
   */
  async finish(id: string, token: string, patch: OutboxPatch): Promise<boolean> {
    return this.finishIn(this.db, id, token, patch);
  }

  /**
   * {@link finish}, and in the same transaction the message's bytes take the place of its draft
   * (the worker composed it during this attempt: what went out is what is kept).
   */
  async finishComposed(id: string, token: string, patch: OutboxPatch, raw: Buffer): Promise<boolean> {
    return this.db.transaction().execute((tx) => this.finishOne(tx, { id, token, patch, raw }));
  }

  /**
   * Writes several outcomes in one transaction (one commit for all, as the jobs of one claim tend
   * to finish together), each as {@link finish} or, with `raw`, {@link finishComposed} would, and
   * stores the follow-up job an outcome brings where its claim held; one result per outcome, in
   * order. When the transaction fails, each is written again on its own, so one bad outcome fails
   * alone.
   */
  async finishMany(outcomes: OutboxOutcome[]): Promise<Array<PromiseSettledResult<boolean>>> {
    if (outcomes.length === 0) return [];
    if (outcomes.length === 1) {
      const [o] = outcomes as [OutboxOutcome];
      try {
        // a lone outcome that writes one row needs no transaction of its own
        const value = o.raw || o.followUp || o.within ? await this.db.transaction().execute((tx) => this.finishOne(tx, o)) : await this.finish(o.id, o.token, o.patch);
        return [{ status: 'fulfilled', value }];
      } catch (err) {
        return [{ status: 'rejected', reason: err }];
      }
    }
    try {
      const done = await this.db.transaction().execute(async (tx) => {
        const out: boolean[] = [];
        for (const o of outcomes) out.push(await this.finishOne(tx, o));
        return out;
      });
      return done.map((value) => ({ status: 'fulfilled', value }));
    } catch {
      return (await Promise.all(outcomes.map((o) => this.finishMany([o])))).flat();
    }
  }

  /** One outcome within `tx`: the row, then (only while the claim held) its bytes and its follow-up. */
  private async finishOne(tx: Transaction<Database>, o: OutboxOutcome): Promise<boolean> {
    if (!(await this.finishIn(tx, o.id, o.token, o.patch))) return false;
    if (o.raw) await tx.updateTable('outbox_bodies').set({ raw: o.raw, draft: null }).where('id', '=', o.id).execute();
    // a follow-up has no idempotency key: a refused insert means its id is taken, and the outcome must not be written without it
    if (o.followUp && !(await this.insertOne(tx, o.followUp))) throw new Error(`the follow-up ${o.followUp.id} of outbox job ${o.id} was not stored: its id is taken`);
    if (o.within) await o.within(tx);
    return true;
  }

  private async finishIn(db: Kysely<Database>, id: string, token: string, patch: OutboxPatch): Promise<boolean> {
    // compiled once per set of patched columns (a handful: one per kind of outcome), then run with
    // its parameters: building and compiling the query cost about as much as running it
    const set: Record<string, unknown> = { locked_by: null, locked_until: null };
    for (const [k, v] of Object.entries(patch)) if (v !== undefined) set[k] = v;
    const params = [...Object.values(set), id, 'sending', token];
    const result = await this.shapes.run(db, Object.keys(set).join(','), params, () =>
      db.updateTable('outbox').set(set as OutboxPatch).where('id', '=', id).where('status', '=', 'sending').where('locked_by', '=', token).compile(),
    );
    return Number(result.numAffectedRows ?? 0) === 1;
  }

  /**
   * Replaces the message bytes of a held job (a platform send whose From was just decided) and its
   * envelope sender (`envelopeFrom`: the new From's), and marks its sender resolved.
   */
  async replaceRaw(id: string, token: string, raw: Buffer, now: string, envelopeFrom: string): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const held = await tx.updateTable('outbox').set({ sender_resolved: 1, envelope_from: envelopeFrom, updated_at: now }).where('id', '=', id).where('locked_by', '=', token).executeTakeFirst();
      if (Number(held.numUpdatedRows) !== 1) return false;
      await tx.updateTable('outbox_bodies').set({ raw, draft: null }).where('id', '=', id).execute();
      return true;
    });
  }

  /**
   * Claims sent jobs whose Sent-folder copy is due (`sent_copy = 'pending'`). The claim pushes
   * `sent_copy_next_at` to `lockUntil`, so a worker that dies mid-copy leaves a job that comes
   * due again by itself.
   */
  async claimSentCopies(now: string, limit: number, token: string, lockUntil: string): Promise<OutboxJob[]> {
    const set = { sent_copy_next_at: lockUntil, locked_by: token, updated_at: now };
    if (this.dialect === 'postgres') {
      const ids = await this.db.transaction().execute(async (tx) => {
        const due = await tx
          .selectFrom('outbox')
          .select('id')
          .where('sent_copy', '=', 'pending')
          .where('sent_copy_next_at', '<=', now)
          .orderBy('sent_copy_next_at')
          .limit(limit)
          .forUpdate()
          .skipLocked()
          .execute();
        if (due.length === 0) return [];
        const taken = due.map((d) => d.id);
        await tx.updateTable('outbox').set(set).where('id', 'in', taken).execute();
        return taken;
      });
      if (ids.length === 0) return [];
      return this.withBodies(await this.db.selectFrom('outbox').selectAll().where('id', 'in', ids).where('locked_by', '=', token).execute());
    }
    const rows = await this.db
      .updateTable('outbox')
      .set(set)
      .where('sent_copy', '=', 'pending')
      .where('sent_copy_next_at', '<=', now)
      .where('id', 'in', (eb) =>
        eb.selectFrom('outbox').select('id').where('sent_copy', '=', 'pending').where('sent_copy_next_at', '<=', now).orderBy('sent_copy_next_at').limit(limit),
      )
      .returningAll()
      .execute();
    return this.withBodies(rows);
  }

  /**
   * Extends the Sent-copy claims `token` still holds (copies still pending under it) to `lockUntil`;
   * a copy finished (its claim released) is left alone. Returns how many were extended.
   */
  async renewSentCopyClaims(token: string, lockUntil: string): Promise<number> {
    const result = await this.db.updateTable('outbox').set({ sent_copy_next_at: lockUntil }).where('sent_copy', '=', 'pending').where('locked_by', '=', token).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Records the outcome of one Sent-copy attempt for a job this claim holds. */
  async finishSentCopy(id: string, token: string, patch: Pick<OutboxPatch, 'sent_copy' | 'sent_copy_attempts' | 'sent_copy_next_at' | 'updated_at'>): Promise<boolean> {
    const result = await this.db
      .updateTable('outbox')
      .set({ locked_by: null, ...patch })
      .where('id', '=', id)
      .where('sent_copy', '=', 'pending')
      .where('locked_by', '=', token)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}
