import { before, after } from 'node:test';
import { openStore, migrateToLatest, repositories, type Store, type Repositories } from '../../src/store/index.js';
import type { TestDatabase } from './databases.js';

/** The fixed "now" of repository suites. */
export const T0 = '2030-01-01T00:00:00.000Z';

export interface TwoConnections {
  store: Store;
  /** repositories on the first connection */
  repo: Repositories;
  /** repositories on a second connection: another process or node */
  repo2: Repositories;
}

/**
 * Inside a describe(): a fresh database of one dialect, migrated, opened through two connections,
 * with the given tenants; everything is closed and dropped after the suite. The fields are filled
 * in by a before() hook, so read them inside tests or later hooks.
 *
 * @example
 *   for (const { dialect, make } of DIALECTS) describe(`x on ${dialect}`, () => {
 *     const db = twoConnections(make);
 *     test('...', async () => { await db.repo.tenants.get('ten_a'); });
 *   });
 */
export function twoConnections(make: () => Promise<TestDatabase>, tenants: string[] = ['ten_a', 'ten_b']): TwoConnections {
  const ctx = {} as TwoConnections;
  let tdb: TestDatabase | undefined;
  let second: Store | undefined;
  before(async () => {
    tdb = await make();
    ctx.store = openStore(tdb.url);
    second = openStore(tdb.url);
    await migrateToLatest(ctx.store.db);
    ctx.repo = repositories(ctx.store);
    ctx.repo2 = repositories(second);
    for (const t of tenants) {
      await ctx.repo.tenants.insert(
        { id: t, name: t, company_email: `${t}@example.test`, from_name: null, created_at: T0, updated_at: T0 },
        { id: `key_${t}`, tenant_id: t, key_hash: `hash_${t}`, prefix: 'mp_x', created_at: T0, last_used_at: null },
      );
    }
  });
  after(async () => {
    await ctx.store?.close();
    await second?.close();
    await tdb?.drop();
  });
  return ctx;
}
