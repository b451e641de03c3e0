import { sql, type Kysely, type Selectable, type Updateable } from 'kysely';
import type { DialectName } from './database.js';
import type { Database, OutboxTable } from './schema.js';

export type OutboxRow = Selectable<OutboxTable>;
/** What an outcome may change on a claimed row. */
export type OutboxPatch = Omit<Updateable<OutboxTable>, 'id' | 'tenant_id' | 'created_at' | 'idempotency_key' | 'request_hash'>;

export interface OutboxListOptions {
  status?: string;
  accountId?: string;
  /** ids after this one (ascending: oldest first, as ids sort by creation time) */
  after?: string;
  limit: number;
}

/** Every column but the message bytes: what lists and views need. */
const SUMMARY = [
  'id', 'tenant_id', 'account_id', 'status', 'idempotency_key', 'request_hash', 'sender_resolved', 'envelope_from', 'recipients', 'recipient_count',
  'message_id', 'subject', 'attempts', 'next_attempt_at', 'send_at', 'locked_by', 'locked_until', 'last_error', 'response', 'accepted', 'rejected',
  'sent_at', 'sent_copy', 'sent_copy_attempts', 'sent_copy_next_at', 'via', 'created_at', 'updated_at',
] as const;
export type OutboxSummary = Omit<OutboxRow, 'raw'>;

const isUniqueViolation = (err: unknown): boolean => {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || /UNIQUE constraint failed/i.test(e?.message ?? '');
};

/**
 * The durable outbox. Claims are safe with several processes: PostgreSQL locks the chosen rows
 * and skips rows another transaction holds (`FOR UPDATE SKIP LOCKED`); SQLite takes them with one
 * conditional `UPDATE ... RETURNING`, which only one writer at a time can run. A claim carries a
 * token (`locked_by`) and an expiry (`locked_until`); every outcome is written only while the
 * same token still holds the row, so a worker that was presumed dead cannot overwrite the work
 * of the one that took its job over.
 *
 * @example
 *   const { row, created } = await repo.insert(job);
 *   const jobs = await repo.claimDue(now, 10, 'w1:abc', lockUntil);
 *   await repo.finish(jobs[0].id, 'w1:abc', { status: 'sent', sent_at: now, updated_at: now });
 */
export class OutboxRepository {
  constructor(private readonly db: Kysely<Database>, private readonly dialect: DialectName) {}

  /**
   * Stores a new job. With an idempotency key already used by the tenant nothing is stored and
   * the earlier job comes back (`created: false`), also when two calls race.
   */
  async insert(row: OutboxRow): Promise<{ row: OutboxSummary; created: boolean }> {
    const existing = async () => (row.idempotency_key === null ? undefined : this.findByKey(row.tenant_id, row.idempotency_key));
    const before = await existing();
    if (before) return { row: before, created: false };
    try {
      await this.db.insertInto('outbox').values(row).execute();
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const raced = await existing();
      if (!raced) throw err;
      return { row: raced, created: false };
    }
    const { raw: _raw, ...summary } = row;
    return { row: summary, created: true };
  }

  async findByKey(tenantId: string, key: string): Promise<OutboxSummary | undefined> {
    return this.db.selectFrom('outbox').select(SUMMARY).where('tenant_id', '=', tenantId).where('idempotency_key', '=', key).executeTakeFirst();
  }

  async get(tenantId: string, id: string): Promise<OutboxSummary | undefined> {
    return this.db.selectFrom('outbox').select(SUMMARY).where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  }

  /** The whole row, message bytes included (the worker). */
  async getFull(id: string): Promise<OutboxRow | undefined> {
    return this.db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async list(tenantId: string, options: OutboxListOptions): Promise<OutboxSummary[]> {
    let q = this.db.selectFrom('outbox').select(SUMMARY).where('tenant_id', '=', tenantId);
    if (options.status) q = q.where('status', '=', options.status);
    if (options.accountId) q = q.where('account_id', '=', options.accountId);
    if (options.after) q = q.where('id', '>', options.after);
    return q.orderBy('id').limit(options.limit).execute();
  }

  /**
   * Claims up to `limit` jobs that are due: queued or deferred with `next_attempt_at <= now`, and
   * jobs left `sending` by a worker whose claim expired. They become `sending`, held by `token`
   * until `lockUntil`. Returns them whole (with the message bytes).
   */
  async claimDue(now: string, limit: number, token: string, lockUntil: string): Promise<OutboxRow[]> {
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
      return this.db.selectFrom('outbox').selectAll().where('id', 'in', ids).where('locked_by', '=', token).orderBy('next_attempt_at').execute();
    }
    // One statement, so it is atomic; the repeated condition means a row another connection took
    // first is simply not updated here. Each status is read on its own through outbox_due (status,
    // next_attempt_at) in index order and stops after `limit` rows: an OR across the statuses made
    // SQLite collect and sort every due row on each claim (milliseconds per claim with a few
    // thousand queued). `+status` keeps the outer condition from being planned as that OR scan
    // again, so the update finds its rows by id.
    const result = await sql<OutboxRow>`
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
    return result.rows;
  }

  /**
   * Writes an outcome for a job this claim still holds (`sending`, same token); the claim is
   * released. Returns false when the claim was lost (taken over, or the row is gone).
   */
  async finish(id: string, token: string, patch: OutboxPatch): Promise<boolean> {
    const result = await this.db
      .updateTable('outbox')
      .set({ locked_by: null, locked_until: null, ...patch })
      .where('id', '=', id)
      .where('status', '=', 'sending')
      .where('locked_by', '=', token)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Replaces the message bytes of a held job (a platform send whose From was just decided). */
  async replaceRaw(id: string, token: string, raw: Buffer, now: string): Promise<boolean> {
    const result = await this.db
      .updateTable('outbox')
      .set({ raw, sender_resolved: 1, updated_at: now })
      .where('id', '=', id)
      .where('locked_by', '=', token)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Claims sent jobs whose Sent-folder copy is due (`sent_copy = 'pending'`). The claim pushes
   * `sent_copy_next_at` to `lockUntil`, so a worker that dies mid-copy leaves a job that comes
   * due again by itself.
   */
  async claimSentCopies(now: string, limit: number, token: string, lockUntil: string): Promise<OutboxRow[]> {
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
      return this.db.selectFrom('outbox').selectAll().where('id', 'in', ids).where('locked_by', '=', token).execute();
    }
    return this.db
      .updateTable('outbox')
      .set(set)
      .where('sent_copy', '=', 'pending')
      .where('sent_copy_next_at', '<=', now)
      .where('id', 'in', (eb) =>
        eb.selectFrom('outbox').select('id').where('sent_copy', '=', 'pending').where('sent_copy_next_at', '<=', now).orderBy('sent_copy_next_at').limit(limit),
      )
      .returningAll()
      .execute();
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
