import type { Kysely, Selectable, Transaction } from 'kysely';
import { savepoint, type DialectName } from './database.js';
import { CompiledShapes } from './compiled.js';
import type { Database, WebhookAttemptsTable, WebhookDeliveriesTable, WebhookEventsTable, WebhooksTable } from './schema.js';

export type WebhookRow = Selectable<WebhooksTable>;
export type WebhookEventRow = Selectable<WebhookEventsTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;
export type WebhookAttemptRow = Selectable<WebhookAttemptsTable>;

/** A claimed delivery with what it takes to send it: the event's body and the subscription's URL and sealed secret. */
export interface ClaimedDelivery {
  id: string;
  webhook_id: string;
  event_id: string;
  /** the attempt number this claim is (attempts after the claim): also the fence for recording the outcome */
  attempts: number;
  tenant_id: string;
  event_type: string;
  event_created_at: string;
  payload: string;
  url: string;
  secret_enc: string;
}

/** How an attempt ended, as the dispatcher records it. */
export interface DeliveryOutcome {
  status: 'pending' | 'delivered' | 'failed';
  next_attempt_at?: string;
  last_status_code: number | null;
  last_error: string | null;
  response: string | null;
  delivered_at?: string | null;
}

export interface DeliveryListOptions {
  status?: string;
  limit: number;
  /** a delivery id: items older than it (ids sort by creation time) */
  before?: string;
}

type Hook = { id: string; events: string };

/** The subscriptions among `hooks` that want events of `type` (or "*"). */
function wanting(hooks: Hook[], type: string): Hook[] {
  return hooks.filter((h) => {
    const types = JSON.parse(h.events) as string[];
    return types.includes('*') || types.includes(type);
  });
}

/**
 * Webhook subscriptions, events and their deliveries. Subscriptions are scoped by tenant;
 * deliveries are claimed by the dispatcher so that two processes never send the same one at once.
 *
 * @example
 *   const repo = new WebhooksRepository(store.db, store.dialect);
 *   const ids = await repo.insertEvent(eventRow, now); // the event and its deliveries, in one transaction
 *   const batch = await repo.claimDue(now, 10);
 */
export class WebhooksRepository {
  private readonly shapes = new CompiledShapes();
  /** the subscriptions read in a caller's transaction, by tenant (see {@link insertEventIn}) */
  private readonly hooksInTx = new WeakMap<Transaction<Database>, Map<string, Promise<Hook[]>>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: DialectName,
  ) {}

  async insert(row: WebhookRow): Promise<void> {
    await this.db.insertInto('webhooks').values(row).execute();
  }

  async get(tenantId: string, id: string): Promise<WebhookRow | undefined> {
    return this.db.selectFrom('webhooks').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  }

  async list(tenantId: string): Promise<WebhookRow[]> {
    return this.db.selectFrom('webhooks').selectAll().where('tenant_id', '=', tenantId).orderBy('id').execute();
  }

  /** Deletes the subscription and, by cascade, its deliveries and their log. */
  async delete(tenantId: string, id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('webhooks').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /**
   * Records an event and one pending delivery for every subscription of its tenant that wants
   * its type (or "*"), in one transaction: once this returns, the event cannot be lost. An
   * event nobody subscribes to is not stored. Returns the ids of the deliveries created.
   */
  async insertEvent(event: WebhookEventRow, newDeliveryId: () => string): Promise<string[]> {
    return this.db.transaction().execute(async (tx) => this.insertFor(tx, await this.subscribers(tx, event), event, newDeliveryId));
  }

  /**
   * As {@link insertEvent}, within the caller's transaction `tx`: the event is stored with the
   * change it reports (an outbox outcome), or not at all. `build` makes the row only when a
   * subscription wants the event (most sent messages have none). A failed insert is undone alone
   * (a savepoint) and thrown, and `tx` goes on: the change does not fail for its event.
   */
  async insertEventIn(tx: Transaction<Database>, tenantId: string, type: string, build: () => WebhookEventRow, newDeliveryId: () => string): Promise<string[]> {
    // the outcomes of one claim are written in one transaction: their tenant's subscriptions are read once for all
    let byTenant = this.hooksInTx.get(tx);
    if (!byTenant) this.hooksInTx.set(tx, (byTenant = new Map()));
    let hooks = byTenant.get(tenantId);
    if (!hooks) byTenant.set(tenantId, (hooks = this.hooksOf(tx, tenantId)));
    const matching = wanting(await hooks, type);
    if (matching.length === 0) return [];
    return savepoint(tx, () => this.insertFor(tx, matching, build(), newDeliveryId));
  }

  /** The event and one pending delivery per subscription in `matching`; the ids of the deliveries. */
  private async insertFor(tx: Kysely<Database>, matching: Array<{ id: string }>, event: WebhookEventRow, newDeliveryId: () => string): Promise<string[]> {
    if (matching.length === 0) return [];
    await tx.insertInto('webhook_events').values(event).execute();
    const rows: WebhookDeliveryRow[] = matching.map((h) => ({
      id: newDeliveryId(),
      webhook_id: h.id,
      event_id: event.id,
      status: 'pending',
      attempts: 0,
      next_attempt_at: event.created_at,
      last_status_code: null,
      last_error: null,
      response: null,
      created_at: event.created_at,
      updated_at: event.created_at,
      delivered_at: null,
    }));
    await tx.insertInto('webhook_deliveries').values(rows).execute();
    return rows.map((r) => r.id);
  }

  /**
   * Whether any subscription of the tenant wants events of this type (or "*"). Most events (one
   * per sent message) have none: this answer needs no transaction, and the event is then not even
   * built. A subscription created meanwhile is no different from one created just after.
   */
  async wanted(tenantId: string, type: string): Promise<boolean> {
    return (await this.subscribers(this.db, { tenant_id: tenantId, type })).length > 0;
  }

  /** The subscriptions of the event's tenant that want its type (or "*"), in id order. */
  private async subscribers(db: Kysely<Database>, event: Pick<WebhookEventRow, 'tenant_id' | 'type'>): Promise<Hook[]> {
    return wanting(await this.hooksOf(db, event.tenant_id), event.type);
  }

  /** Every subscription of the tenant, in id order. */
  private async hooksOf(db: Kysely<Database>, tenantId: string): Promise<Hook[]> {
    // read for every event (and every sent message), so compiled once
    const { rows } = await this.shapes.run(db, 'subscribers', [tenantId], () =>
      db.selectFrom('webhooks').select(['id', 'events']).where('tenant_id', '=', tenantId).orderBy('id').compile(),
    );
    return rows;
  }

  /**
   * Claims up to `limit` due pending deliveries: marks them `delivering`, counts the attempt, and
   * returns them with their event and subscription. Safe with several processes: PostgreSQL
   * locks the chosen rows and skips rows another transaction holds; SQLite takes them with one
   * conditional UPDATE ... RETURNING, which only one writer at a time can run.
   */
  async claimDue(now: string, limit: number): Promise<ClaimedDelivery[]> {
    let ids: string[];
    if (this.dialect === 'postgres') {
      ids = await this.db.transaction().execute(async (tx) => {
        const due = await tx
          .selectFrom('webhook_deliveries')
          .select('id')
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', now)
          .orderBy('next_attempt_at')
          .limit(limit)
          .forUpdate()
          .skipLocked()
          .execute();
        if (due.length === 0) return [];
        const taken = due.map((d) => d.id);
        await tx
          .updateTable('webhook_deliveries')
          .set((eb) => ({ status: 'delivering', attempts: eb('attempts', '+', 1), updated_at: now }))
          .where('id', 'in', taken)
          .execute();
        return taken;
      });
    } else {
      // one statement, so it is atomic: SQLite runs writers one at a time, and the status check
      // in the WHERE means a row another connection took first is simply not updated here
      const taken = await this.db
        .updateTable('webhook_deliveries')
        .set((eb) => ({ status: 'delivering', attempts: eb('attempts', '+', 1), updated_at: now }))
        .where('status', '=', 'pending')
        .where('id', 'in', (eb) =>
          eb.selectFrom('webhook_deliveries').select('id').where('status', '=', 'pending').where('next_attempt_at', '<=', now).orderBy('next_attempt_at').limit(limit),
        )
        .returning('id')
        .execute();
      ids = taken.map((t) => t.id);
    }
    if (ids.length === 0) return [];
    return this.db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
      .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
      .select([
        'd.id', 'd.webhook_id', 'd.event_id', 'd.attempts', 'e.tenant_id', 'e.type as event_type', 'e.created_at as event_created_at',
        'e.payload', 'w.url', 'w.secret_enc',
      ])
      .where('d.id', 'in', ids)
      .orderBy('d.next_attempt_at')
      .execute();
  }

  /**
   * Records one attempt and its outcome, in one transaction. The outcome only applies while this
   * claim still holds the row (`delivering` with the same attempt count): if the claim went
   * stale and another process took the delivery over, that process owns the row now, but the
   * attempt is logged anyway because it did happen. A delivery deleted meanwhile (its
   * subscription was removed) records nothing.
   */
  async recordAttempt(claim: Pick<ClaimedDelivery, 'id' | 'attempts'>, attempt: WebhookAttemptRow, outcome: DeliveryOutcome, now: string): Promise<'recorded' | 'taken_over' | 'gone'> {
    return this.db.transaction().execute(async (tx) => {
      const result = await tx
        .updateTable('webhook_deliveries')
        .set({ ...outcome, updated_at: now })
        .where('id', '=', claim.id)
        .where('status', '=', 'delivering')
        .where('attempts', '=', claim.attempts)
        .executeTakeFirst();
      const owned = Number(result.numUpdatedRows) === 1;
      if (!owned) {
        const exists = await tx.selectFrom('webhook_deliveries').select('id').where('id', '=', claim.id).executeTakeFirst();
        if (!exists) return 'gone';
      }
      await tx.insertInto('webhook_attempts').values(attempt).execute();
      return owned ? 'recorded' : 'taken_over';
    });
  }

  /**
   * Takes back deliveries left `delivering` since before `cutoff` (their process died or hung):
   * each goes back to pending, due now, with its lost attempt logged. Returns how many.
   */
  async recoverStale(cutoff: string, now: string, interrupted: { error: string; newAttemptId: () => string }): Promise<number> {
    const stale = await this.db
      .selectFrom('webhook_deliveries')
      .select(['id', 'attempts', 'updated_at'])
      .where('status', '=', 'delivering')
      .where('updated_at', '<', cutoff)
      .limit(100)
      .execute();
    let recovered = 0;
    for (const row of stale) {
      const done = await this.db.transaction().execute(async (tx) => {
        const result = await tx
          .updateTable('webhook_deliveries')
          .set({ status: 'pending', next_attempt_at: now, last_error: interrupted.error, updated_at: now })
          .where('id', '=', row.id)
          .where('status', '=', 'delivering')
          .where('attempts', '=', row.attempts)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) !== 1) return false;
        await tx
          .insertInto('webhook_attempts')
          .values({ id: interrupted.newAttemptId(), delivery_id: row.id, number: row.attempts, at: row.updated_at, duration_ms: 0, status_code: null, error: interrupted.error, response: null })
          .execute();
        return true;
      });
      if (done) recovered++;
    }
    return recovered;
  }

  async getDelivery(id: string): Promise<WebhookDeliveryRow | undefined> {
    return this.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** One subscription's deliveries, newest first, with the event type and every attempt. */
  async listDeliveries(webhookId: string, options: DeliveryListOptions): Promise<Array<WebhookDeliveryRow & { event_type: string; log: WebhookAttemptRow[] }>> {
    let q = this.db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
      .selectAll('d')
      .select('e.type as event_type')
      .where('d.webhook_id', '=', webhookId);
    if (options.status) q = q.where('d.status', '=', options.status);
    if (options.before) q = q.where('d.id', '<', options.before);
    const rows = await q.orderBy('d.id', 'desc').limit(options.limit).execute();
    if (rows.length === 0) return [];
    const attempts = await this.db
      .selectFrom('webhook_attempts')
      .selectAll()
      .where('delivery_id', 'in', rows.map((r) => r.id))
      .orderBy('delivery_id')
      .orderBy('number')
      .orderBy('at')
      .execute();
    const byDelivery = new Map<string, WebhookAttemptRow[]>();
    for (const a of attempts) {
      const list = byDelivery.get(a.delivery_id) ?? [];
      list.push(a);
      byDelivery.set(a.delivery_id, list);
    }
    return rows.map((r) => ({ ...r, log: byDelivery.get(r.id) ?? [] }));
  }
}
