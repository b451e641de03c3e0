import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, SendLimitBlocksTable, SendLimitLedgerTable } from './schema.js';

export type SendLedgerRow = Selectable<SendLimitLedgerTable>;
export type SendBlockRow = Selectable<SendLimitBlocksTable>;

/** One window to check: rows with `at` strictly after `after` count, against `limit` units. */
export interface WindowCheck {
  after: string;
  limit: number;
}

/** What a reservation attempt found: reserved, blocked by the provider, or the units each window already holds. */
export type LedgerOutcome =
  | { reserved: true }
  | { reserved: false; block: SendBlockRow; used?: undefined }
  | { reserved: false; block?: undefined; used: number[] };

/**
 * The sending-limit ledger: what each account reserved and when, and the blocks its provider
 * imposed. Counting is done here in SQL; the time arithmetic (which window starts when) belongs
 * to the caller (`outbound/limits.ts`).
 *
 * @example
 *   const repo = new SendLimitsRepository(store.db);
 *   const out = await repo.reserveWithin({ id, account_id, at: now, recipients: 3 }, true, [{ after: minuteAgo, limit: 30 }], pruneBefore);
 *   if (!out.reserved) console.log(out.block ?? out.used);
 */
export class SendLimitsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Inserts `entry` if no active block holds the account and every window stays within its
   * limit with it; otherwise inserts nothing and says why. Atomic per account: the transaction
   * first writes the account's lock row, so a second reservation for the same account waits
   * until this one commits and then counts what it inserted (PostgreSQL: the upsert's row lock,
   * under READ COMMITTED each later statement sees the committed rows; SQLite: the write lock,
   * and one connection runs one transaction at a time). Also prunes the account's ledger rows
   * and blocks that ended before `pruneBefore`.
   */
  async reserveWithin(entry: SendLedgerRow, countsRecipients: boolean, windows: WindowCheck[], pruneBefore: string): Promise<LedgerOutcome> {
    const units = countsRecipients ? entry.recipients : 1;
    return this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('send_limit_accounts')
        .values({ account_id: entry.account_id, touched_at: entry.at })
        .onConflict((oc) => oc.column('account_id').doUpdateSet({ touched_at: entry.at }))
        .execute();
      const block = await activeBlock(tx, entry.account_id, entry.at);
      if (block) return { reserved: false, block };
      const used = await sums(tx, entry.account_id, countsRecipients, windows);
      if (windows.some((w, i) => used[i] + units > w.limit)) return { reserved: false, used };
      await tx.insertInto('send_limit_ledger').values(entry).execute();
      await tx.deleteFrom('send_limit_ledger').where('account_id', '=', entry.account_id).where('at', '<', pruneBefore).execute();
      await tx.deleteFrom('send_limit_blocks').where('account_id', '=', entry.account_id).where('until', '<', pruneBefore).execute();
      return { reserved: true };
    });
  }

  /** Removes a reservation; returns whether it existed. */
  async release(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('send_limit_ledger').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Lowers a reservation's recipients to `recipients` (never raises it); returns whether it existed and was larger. */
  async shrink(id: string, recipients: number): Promise<boolean> {
    const result = await this.db.updateTable('send_limit_ledger').set({ recipients }).where('id', '=', id).where('recipients', '>', recipients).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async insertBlock(row: SendBlockRow): Promise<void> {
    await this.db.insertInto('send_limit_blocks').values(row).execute();
  }

  /** The block that ends last among those still running at `now`, if any. */
  async activeBlock(accountId: string, now: string): Promise<SendBlockRow | undefined> {
    return activeBlock(this.db, accountId, now);
  }

  /** Units per window (same order as `windows`): recipients, or rows when `countsRecipients` is false. */
  async used(accountId: string, countsRecipients: boolean, windows: WindowCheck[]): Promise<number[]> {
    return sums(this.db, accountId, countsRecipients, windows);
  }

  /** The account's ledger rows after `after`, oldest first (to work out when capacity frees). */
  async entriesAfter(accountId: string, after: string): Promise<Array<Pick<SendLedgerRow, 'at' | 'recipients'>>> {
    return this.db
      .selectFrom('send_limit_ledger')
      .select(['at', 'recipients'])
      .where('account_id', '=', accountId)
      .where('at', '>', after)
      .orderBy('at')
      .orderBy('id')
      .execute();
  }
}

async function activeBlock(db: Kysely<Database>, accountId: string, now: string): Promise<SendBlockRow | undefined> {
  return db
    .selectFrom('send_limit_blocks')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('until', '>', now)
    .orderBy('until', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** Every window's sum in one indexed range scan (the oldest window's start bounds the scan). */
async function sums(db: Kysely<Database>, accountId: string, countsRecipients: boolean, windows: WindowCheck[]): Promise<number[]> {
  if (windows.length === 0) return [];
  const unit = countsRecipients ? sql.ref('recipients') : sql.lit(1);
  const oldest = windows.map((w) => w.after).sort()[0];
  const row = await db
    .selectFrom('send_limit_ledger')
    .select(windows.map((w, i) => sql<string | number | null>`sum(case when ${sql.ref('at')} > ${w.after} then ${unit} else 0 end)`.as(`w${i}`)))
    .where('account_id', '=', accountId)
    .where('at', '>', oldest)
    .executeTakeFirstOrThrow();
  // PostgreSQL returns sum() of integers as a bigint string, and null over no rows
  return windows.map((_, i) => Number((row as Record<string, string | number | null>)[`w${i}`] ?? 0));
}
