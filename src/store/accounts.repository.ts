import type { Kysely, Selectable, Updateable } from 'kysely';
import type { AccountsTable, Database } from './schema.js';

export type AccountRow = Selectable<AccountsTable>;
export type AccountPatch = Omit<Updateable<AccountsTable>, 'id' | 'tenant_id' | 'created_at'>;

/**
 * Accounts (connected email providers). Every read and write is scoped by tenant: another
 * tenant's id is simply not found.
 */
export class AccountsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(row: AccountRow): Promise<void> {
    await this.db.insertInto('accounts').values(row).execute();
  }

  async get(tenantId: string, id: string): Promise<AccountRow | undefined> {
    return this.db.selectFrom('accounts').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  }

  async list(tenantId: string): Promise<AccountRow[]> {
    return this.db.selectFrom('accounts').selectAll().where('tenant_id', '=', tenantId).orderBy('id').execute();
  }

  /** Updates and returns the row, or undefined when it does not exist for this tenant. */
  async update(tenantId: string, id: string, patch: AccountPatch): Promise<AccountRow | undefined> {
    const result = await this.db.updateTable('accounts').set(patch).where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return undefined;
    return this.get(tenantId, id);
  }

  /** Deletes the row, and with it every secret it held. */
  async delete(tenantId: string, id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('accounts').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
