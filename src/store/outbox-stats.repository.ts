import type { Compilable, Kysely } from 'kysely';
import type { Database } from './schema.js';

/** The statuses of jobs still to send (sent and failed rows only grow, and are never counted). */
export const ACTIVE_OUTBOX_STATUSES = ['queued', 'deferred', 'sending'] as const;

export interface OutboxStats {
  /** jobs per active status (each present, 0 when none) */
  depth: Record<(typeof ACTIVE_OUTBOX_STATUSES)[number], number>;
  /** the earliest `next_attempt_at` at or before `now` of a queued or deferred job; null when none is due */
  oldestDueAt: string | null;
}

/**
 * Read-only figures about the outbox for metrics, cheap enough for every scrape: every query is
 * answered from the `outbox_due (status, next_attempt_at)` index (a count over the active
 * statuses, and the first due entry of each waiting status), never from the message rows.
 *
 * @example
 *   const { depth, oldestDueAt } = await new OutboxStatsRepository(db).snapshot(new Date().toISOString());
 */
export class OutboxStatsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async snapshot(now: string): Promise<OutboxStats> {
    const q = this.queries(now);
    const [counts, ...firsts] = await Promise.all([q.depth.execute(), ...q.firstDue.map((f) => f.executeTakeFirst())]);
    const depth = { queued: 0, deferred: 0, sending: 0 };
    for (const c of counts) depth[c.status as keyof typeof depth] = Number(c.n);
    const due = firsts.map((f) => f?.at ?? null).filter((a): a is string => a !== null).sort();
    return { depth, oldestDueAt: due[0] ?? null };
  }

  /** The statements of {@link snapshot} (its tests check their plans use the index). */
  queries(now: string) {
    const depth = this.db
      .selectFrom('outbox')
      .select(['status', (eb) => eb.fn.countAll<string | number>().as('n')])
      .where('status', 'in', [...ACTIVE_OUTBOX_STATUSES])
      .groupBy('status');
    // one min() per waiting status, so each is the first entry of its index range
    const firstDue = (['queued', 'deferred'] as const).map((status) =>
      this.db
        .selectFrom('outbox')
        .select((eb) => eb.fn.min('next_attempt_at').as('at'))
        .where('status', '=', status)
        .where('next_attempt_at', '<=', now),
    );
    return { depth, firstDue } satisfies Record<string, Compilable | Compilable[]>;
  }
}
