import type { Kysely, Selectable } from 'kysely';
import type { Database, TenantsTable, ApiKeysTable } from './schema.js';
import { CompiledShapes } from './compiled.js';

export type TenantRow = Selectable<TenantsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;

/** Tenants and their API keys (stored only as hashes). */
export class TenantsRepository {
  /** the reads every API request makes, compiled once */
  private readonly shapes = new CompiledShapes();

  constructor(private readonly db: Kysely<Database>) {}

  async insert(tenant: TenantRow, key: ApiKeyRow): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.insertInto('tenants').values(tenant).execute();
      await tx.insertInto('api_keys').values(key).execute();
    });
  }

  async get(id: string): Promise<TenantRow | undefined> {
    const { rows } = await this.shapes.run(this.db, 'get', [id], () => this.db.selectFrom('tenants').selectAll().where('id', '=', id).compile());
    return rows[0];
  }

  async list(): Promise<TenantRow[]> {
    return this.db.selectFrom('tenants').selectAll().orderBy('id').execute();
  }

  async update(id: string, patch: Partial<Pick<TenantRow, 'name' | 'company_email' | 'from_name'>>, now: string): Promise<TenantRow | undefined> {
    await this.db.updateTable('tenants').set({ ...patch, updated_at: now }).where('id', '=', id).execute();
    return this.get(id);
  }

  /** The tenant a key hash belongs to, touching last_used_at at most once a minute. */
  async findByKeyHash(hash: string, now: string): Promise<TenantRow | undefined> {
    // one query per API request: the key and its tenant together
    const { rows } = await this.shapes.run(this.db, 'byKeyHash', [hash], () =>
      this.db
        .selectFrom('api_keys as k')
        .innerJoin('tenants as t', 't.id', 'k.tenant_id')
        .selectAll('t')
        .select(['k.id as key_id', 'k.last_used_at as key_used_at'])
        .where('k.key_hash', '=', hash)
        .compile(),
    );
    const found = rows[0];
    if (!found) return undefined;
    const { key_id, key_used_at, ...tenant } = found;
    if (!key_used_at || Date.parse(now) - Date.parse(key_used_at) > 60_000) {
      await this.db.updateTable('api_keys').set({ last_used_at: now }).where('id', '=', key_id).execute();
    }
    return tenant;
  }

  async addKey(key: ApiKeyRow): Promise<void> {
    await this.db.insertInto('api_keys').values(key).execute();
  }
}
