import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.js';

/**
 * The event types of API.md's Webhooks section. A subscription lists the types it wants, or
 * `*` for every type (including types added later).
 *
 * @example
 *   isEventType('account.error') // true
 */
export const EVENT_TYPES = [
  'account.active',
  'account.error',
  'message.received',
  'message.sent',
  'message.deferred',
  'message.failed',
  'campaign.item.queued',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** What a subscription may list: a type, or `*` for all. */
export const ALL_EVENTS = '*';

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

/**
 * How a module stores the events of its changes (WebhooksService): `recordIn` within the change's
 * transaction, never failing it, true when the event has deliveries to make; then `recorded()`
 * once that transaction has committed, to wake the dispatcher. `T`: the types the module emits.
 */
export interface EventRecorder<T extends EventType = EventType> {
  recordIn(tx: Transaction<Database>, tenantId: string, type: T, data: Record<string, unknown>): Promise<boolean>;
  recorded(): void;
}
