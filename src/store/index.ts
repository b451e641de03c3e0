import type { Store } from './database.js';
import { AccountsRepository } from './accounts.repository.js';
import { SettingsRepository } from './settings.repository.js';
import { TenantsRepository } from './tenants.repository.js';

export { openStore, type Store, type DialectName } from './database.js';
export { migrateToLatest, ping } from './migrations.js';
export type { AccountRow, AccountPatch } from './accounts.repository.js';
export type { TenantRow, ApiKeyRow } from './tenants.repository.js';

export interface Repositories {
  tenants: TenantsRepository;
  accounts: AccountsRepository;
  settings: SettingsRepository;
}

export function repositories(store: Store): Repositories {
  return {
    tenants: new TenantsRepository(store.db),
    accounts: new AccountsRepository(store.db),
    settings: new SettingsRepository(store.db),
  };
}
