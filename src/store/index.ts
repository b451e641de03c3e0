import type { Store } from './database.js';
import { AccountsRepository } from './accounts.repository.js';
import { SettingsRepository } from './settings.repository.js';
import { TenantsRepository } from './tenants.repository.js';
import { WebhooksRepository } from './webhooks.repository.js';
import { OutboxRepository } from './outbox.repository.js';
import { ConnectSessionsRepository } from './connect-sessions.repository.js';
import { CorrespondenceRepository } from './correspondence.repository.js';
import { OAuthRepository } from './oauth.repository.js';
import { OutboxStatsRepository } from './outbox-stats.repository.js';
import { SyncRepository } from './sync.repository.js';
import { CampaignsRepository } from './campaigns.repository.js';

export { openStore, savepoint, type Store, type DialectName } from './database.js';
export { migrateToLatest, ping } from './migrations.js';
export { AccountsRepository, type AccountRow, type AccountPatch } from './accounts.repository.js';
export type { TenantRow, ApiKeyRow } from './tenants.repository.js';
export { ConnectSessionsRepository, type ConnectSessionRow } from './connect-sessions.repository.js';
export { CorrespondenceRepository, RecordConflict, sourceKey, summaryOf, type MailMessageRow, type MailMessageSummary, type MailMessageDetail, type MailSource, type MailSourceView, type NewMailMessage, type MailListOptions } from './correspondence.repository.js';
export { CampaignsRepository, type CampaignRow, type CampaignItemRow, type CampaignItemStatus, type CampaignCounts, type CampaignItemListOptions, type QueueableMessage } from './campaigns.repository.js';
export { OAuthRepository, type OAuthAppRow, type OAuthStateRow, type OAuthTokenRow } from './oauth.repository.js';
export { OutboxStatsRepository, ACTIVE_OUTBOX_STATUSES, type OutboxStats } from './outbox-stats.repository.js';
export { OutboxRepository, type OutboxRow, type OutboxPatch, type OutboxSummary, type OutboxListOptions, type OutboxJob, type NewOutboxRow } from './outbox.repository.js';
export { SyncRepository, LeaseLostError, type Lease, type FolderState, type SyncAccountRow } from './sync.repository.js';
export { WebhooksRepository, type WebhookRow, type WebhookEventRow, type WebhookDeliveryRow, type WebhookAttemptRow, type ClaimedDelivery, type DeliveryOutcome } from './webhooks.repository.js';

export interface Repositories {
  tenants: TenantsRepository;
  accounts: AccountsRepository;
  settings: SettingsRepository;
  webhooks: WebhooksRepository;
  outbox: OutboxRepository;
  connectSessions: ConnectSessionsRepository;
  oauth: OAuthRepository;
  correspondence: CorrespondenceRepository;
  /** read-only outbox figures for metrics */
  outboxStats: OutboxStatsRepository;
  sync: SyncRepository;
  campaigns: CampaignsRepository;
}

export function repositories(store: Store): Repositories {
  return {
    tenants: new TenantsRepository(store.db),
    accounts: new AccountsRepository(store.db),
    settings: new SettingsRepository(store.db),
    webhooks: new WebhooksRepository(store.db, store.dialect),
    outbox: new OutboxRepository(store.db, store.dialect),
    connectSessions: new ConnectSessionsRepository(store.db),
    oauth: new OAuthRepository(store.db),
    correspondence: new CorrespondenceRepository(store.db),
    outboxStats: new OutboxStatsRepository(store.db),
    sync: new SyncRepository(store.db, store.dialect),
    campaigns: new CampaignsRepository(store.db),
  };
}
