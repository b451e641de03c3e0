import type { Kysely, Selectable, Transaction, Updateable } from 'kysely';
import type { AccountsTable, Database } from './schema.js';

export type AccountRow = Selectable<AccountsTable>;
export type AccountPatch = Omit<Updateable<AccountsTable>, 'id' | 'tenant_id' | 'created_at'>;

/** The update of {@link AccountsRepository.update} on `db` (the store, or a transaction with `within`). */
async function updateIn<D extends Kysely<Database>>(db: D, tenantId: string, id: string, patch: AccountPatch, within?: (tx: D, saved: AccountRow) => Promise<void>): Promise<AccountRow | undefined> {
  const result = await db.updateTable('accounts').set(patch).where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) return undefined;
  const saved = await db.selectFrom('accounts').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  if (saved && within) await within(db, saved);
  return saved;
}

/**
 * Accounts (connected email providers). Every read and write is scoped by tenant: another
 * tenant's id is simply not found.
 */
export class AccountsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** `within`: more to store with the row, in its transaction (the webhook event that reports it). */
  async insert(row: AccountRow, within?: (tx: Transaction<Database>, saved: AccountRow) => Promise<void>): Promise<AccountRow> {
    if (!within) {
      await this.db.insertInto('accounts').values(row).execute();
      return row;
    }
    return this.db.transaction().execute(async (tx) => {
      await tx.insertInto('accounts').values(row).execute();
      await within(tx, row);
      return row;
    });
  }

  async get(tenantId: string, id: string): Promise<AccountRow | undefined> {
    return this.db.selectFrom('accounts').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  }

  async list(tenantId: string): Promise<AccountRow[]> {
    return this.db.selectFrom('accounts').selectAll().where('tenant_id', '=', tenantId).orderBy('id').execute();
  }

  /**
   * Updates and returns the row, or undefined when it does not exist for this tenant. `within`:
   * more to store with the change, in its transaction (the webhook event that reports it).
   */
  async update(tenantId: string, id: string, patch: AccountPatch, within?: (tx: Transaction<Database>, saved: AccountRow) => Promise<void>): Promise<AccountRow | undefined> {
    if (within) return this.db.transaction().execute((tx) => updateIn(tx, tenantId, id, patch, within));
    return updateIn(this.db, tenantId, id, patch);
  }

  /** Deletes the row, and with it every secret it held. */
  async delete(tenantId: string, id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('accounts').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
