import type { Store } from './database.js';
import { AccountsRepository } from './accounts.repository.js';
import { SettingsRepository } from './settings.repository.js';
import { TenantsRepository } from './tenants.repository.js';
import { WebhooksRepository } from './webhooks.repository.js';

export { openStore, type Store, type DialectName } from './database.js';
export { migrateToLatest, ping } from './migrations.js';
export type { AccountRow, AccountPatch } from './accounts.repository.js';
export type { TenantRow, ApiKeyRow } from './tenants.repository.js';
export { WebhooksRepository, type WebhookRow, type WebhookEventRow, type WebhookDeliveryRow, type WebhookAttemptRow, type ClaimedDelivery, type DeliveryOutcome } from './webhooks.repository.js';

export interface Repositories {
  tenants: TenantsRepository;
  accounts: AccountsRepository;
  settings: SettingsRepository;
  webhooks: WebhooksRepository;
}

export function repositories(store: Store): Repositories {
  return {
    tenants: new TenantsRepository(store.db),
    accounts: new AccountsRepository(store.db),
    settings: new SettingsRepository(store.db),
    webhooks: new WebhooksRepository(store.db, store.dialect),
  };
}
