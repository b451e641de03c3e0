import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import { MailportError, invalid, isMailportError, notFound } from '../core/errors.js';
import { newId, newToken } from '../core/ids.js';
import type { AddressGuard } from '../net/guard.js';
import type { SecretBox } from '../secrets/secret-box.js';
import type { Repositories, WebhookEventRow, WebhookRow } from '../store/index.js';
import type { Database } from '../store/schema.js';
import { ALL_EVENTS, EVENT_TYPES, isEventType, type EventType } from './event-types.js';
import { toDeliveryView, toWebhookView, type DeliveryView, type WebhookView } from './webhook.view.js';

export interface WebhookInput {
  url: string;
  events: string[];
}

/** Shown once, at creation: the only time the secret leaves Mailport. */
export interface CreatedWebhook extends WebhookView {
  secret: string;
}

export interface WebhooksServiceDeps {
  repos: Pick<Repositories, 'webhooks'>;
  box: SecretBox;
  guard: AddressGuard;
  logger: Logger;
  now?: () => Date;
}

export const MAX_URL_LENGTH = 2048;
const DELIVERY_STATUSES = new Set(['pending', 'delivering', 'delivered', 'failed']);

/** Where a webhook's secret is sealed: bound to the row, so a copied value does not open elsewhere. */
export const secretAad = (webhookId: string): string => `webhook:${webhookId}:secret`;

/**
 * Checks a receiver URL: http or https, at most 2048 characters, a host, and no user name or
 * password in it (they would travel in clear in logs and proxies; use the signature instead).
 *
 * @example
 *   parseWebhookUrl('https://crm.example.com/hooks/mailport') // URL
 *   parseWebhookUrl('ftp://x') // throws INVALID_INPUT on field "url"
 */
export function parseWebhookUrl(url: string): URL {
  if (typeof url !== 'string' || url.length === 0) throw invalid('url', 'url is required');
  if (url.length > MAX_URL_LENGTH) throw invalid('url', `url must be at most ${MAX_URL_LENGTH} characters`);
  // whitespace and control characters would be silently dropped or escaped by the URL parser
  if (/[\s\u0000-\u001f\u007f]/.test(url)) throw invalid('url', 'url must not contain spaces or control characters');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('url', 'url is not a valid URL (for example https://example.com/hooks/mailport)');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw invalid('url', 'url must start with https:// or http://');
  if (!parsed.hostname) throw invalid('url', 'url must name a host');
  if (parsed.username || parsed.password) throw invalid('url', 'url must not contain a user name or password; check the Mailport-Signature header instead');
  return parsed;
}

/**
 * Checks a subscription's event list: not empty, no repeats, each a known type or "*".
 *
 * @example
 *   parseEventList(['account.error', 'message.failed']) // ['account.error', 'message.failed']
 */
export function parseEventList(events: string[]): string[] {
  if (!Array.isArray(events) || events.length === 0) throw invalid('events', `events must list at least one event type (${EVENT_TYPES.join(', ')}) or "*" for all`);
  const seen = new Set<string>();
  events.forEach((e, i) => {
    if (e !== ALL_EVENTS && !isEventType(e)) throw invalid(`events.${i}`, `"${String(e).slice(0, 64)}" is not an event type; use one of ${EVENT_TYPES.join(', ')}, or "*" for all`);
    if (seen.has(e)) throw invalid(`events.${i}`, `"${e}" is listed twice`);
    seen.add(e);
  });
  return [...seen];
}

/**
 * Webhook subscriptions of a tenant, and the entry point for events: `recordIn` records an event
 * and its deliveries in the transaction of the change it reports (an outbox outcome, an account's
 * status, a message received), `emit` one on its own; the dispatcher sends them.
 *
 * @example
 *   const { id, secret } = await webhooks.create(tenantId, { url: 'https://crm.example.com/hooks', events: ['*'] });
 *   const wanted = await webhooks.recordIn(tx, tenantId, 'message.sent', { id: 'msg_1' }); // inside the outcome's transaction
 *   if (wanted) webhooks.recorded(); // after its commit
 */
export class WebhooksService {
  private readonly now: () => Date;
  private readonly listeners: Array<() => void> = [];

  constructor(private readonly deps: WebhooksServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async create(tenantId: string, input: WebhookInput): Promise<CreatedWebhook> {
    const url = parseWebhookUrl(input.url);
    const events = parseEventList(input.events);
    await this.checkReachable(url);
    const at = this.now().toISOString();
    const id = newId('whk');
    const secret = newToken('whsec');
    const row: WebhookRow = {
      id,
      tenant_id: tenantId,
      url: input.url,
      events: JSON.stringify(events),
      secret_enc: this.deps.box.seal(secret, secretAad(id)),
      created_at: at,
      updated_at: at,
    };
    await this.deps.repos.webhooks.insert(row);
    return { ...toWebhookView(row), secret };
  }

  async list(tenantId: string): Promise<WebhookView[]> {
    return (await this.deps.repos.webhooks.list(tenantId)).map(toWebhookView);
  }

  async get(tenantId: string, id: string): Promise<WebhookView> {
    return toWebhookView(await this.row(tenantId, id));
  }

  async delete(tenantId: string, id: string): Promise<void> {
    if (!(await this.deps.repos.webhooks.delete(tenantId, id))) throw notFound('Webhook');
  }

  /** The delivery log of one subscription, newest first; `cursor` is the last id of the previous page. */
  async deliveries(tenantId: string, id: string, options: { status?: string; limit?: number; cursor?: string } = {}): Promise<{ items: DeliveryView[]; nextCursor: string | null }> {
    await this.row(tenantId, id);
    if (options.status !== undefined && !DELIVERY_STATUSES.has(options.status)) throw invalid('status', 'status must be pending, delivering, delivered or failed');
    const limit = options.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw invalid('limit', 'limit must be a whole number from 1 to 100');
    const rows = await this.deps.repos.webhooks.listDeliveries(id, { status: options.status, limit: limit + 1, before: options.cursor });
    const page = rows.slice(0, limit);
    return { items: page.map(toDeliveryView), nextCursor: rows.length > limit ? page[page.length - 1]!.id : null };
  }

  /**
   * Records an event for every subscription that wants it, durably (one transaction). Throws
   * when the database does; use {@link emit} where the caller's work must not fail because of it.
   * Returns the event id, or null when no subscription wants this type.
   */
  async record(tenantId: string, type: EventType, data: Record<string, unknown>): Promise<string | null> {
    if (!(await this.deps.repos.webhooks.wanted(tenantId, type))) return null;
    const event = this.eventRow(tenantId, type, data);
    const deliveries = await this.deps.repos.webhooks.insertEvent(event, () => newId('dlv'));
    if (deliveries.length === 0) return null;
    this.deps.logger.debug({ eventId: event.id, type, tenantId, deliveries: deliveries.length }, 'webhook event recorded');
    return event.id;
  }

  /**
   * Records an event within `tx`, the transaction of the change it reports (an outbox outcome, an
   * account's new status, a message received and queued):
   * the two are stored together or not at all, so a crash between them cannot lose the event. An
   * event that cannot be stored is logged and leaves the change to commit. True when it has
   * deliveries to make: call {@link recorded} once `tx` has committed.
   */
  async recordIn(tx: Transaction<Database>, tenantId: string, type: EventType, data: Record<string, unknown>): Promise<boolean> {
    try {
      let event: WebhookEventRow | undefined;
      const deliveries = await this.deps.repos.webhooks.insertEventIn(tx, tenantId, type, () => (event = this.eventRow(tenantId, type, data)), () => newId('dlv'));
      if (deliveries.length > 0) this.deps.logger.debug({ eventId: event?.id, type, tenantId, deliveries: deliveries.length }, 'webhook event recorded');
      return deliveries.length > 0;
    } catch (err) {
      this.deps.logger.error({ err, tenantId, type }, 'could not record a webhook event');
      return false;
    }
  }

  /** Wakes the dispatcher for events recorded by {@link recordIn} in a transaction that has committed. */
  recorded(): void {
    for (const l of this.listeners) l();
  }

  private eventRow(tenantId: string, type: EventType, data: Record<string, unknown>): WebhookEventRow {
    const created = this.now();
    const id = newId('evt', created.getTime());
    const createdAt = created.toISOString();
    return { id, tenant_id: tenantId, type, payload: JSON.stringify({ id, type, createdAt, tenantId, data }), created_at: createdAt };
  }

  /** Called after each event that has deliveries to make (the dispatcher wakes up for it). */
  onRecorded(listener: () => void): void {
    this.listeners.push(listener);
  }

  /**
   * An event on its own, in a transaction of its own: like {@link record}, but a failure is logged
   * instead of thrown. A change and the event that reports it go through {@link recordIn} instead.
   */
  async emit(tenantId: string, type: EventType, data: Record<string, unknown>): Promise<void> {
    try {
      if ((await this.record(tenantId, type, data)) !== null) for (const l of this.listeners) l();
    } catch (err) {
      this.deps.logger.error({ err, tenantId, type }, 'could not record a webhook event');
    }
  }

  private async row(tenantId: string, id: string): Promise<WebhookRow> {
    const row = await this.deps.repos.webhooks.get(tenantId, id);
    if (!row) throw notFound('Webhook');
    return row;
  }

  /**
   * A URL pointing into a private or local network is refused at once, so the user learns it
   * now rather than from a failed delivery. A name that does not resolve yet is accepted: the
   * receiver may not be live; its deliveries record HOST_NOT_FOUND and are retried.
   */
  private async checkReachable(url: URL): Promise<void> {
    try {
      await this.deps.guard.resolve(url.hostname);
    } catch (err) {
      if (isMailportError(err) && err.code === 'ADDRESS_BLOCKED') {
        throw new MailportError('ADDRESS_BLOCKED', {
          field: 'url',
          message: `The webhook URL points to a private or local network address (${url.hostname}), which is not allowed.`,
          hint: 'Use a public address for your receiver; the operator can allow private ranges with MAILPORT_ALLOW_PRIVATE_HOSTS.',
          cause: err,
        });
      }
      if (isMailportError(err) && err.code === 'HOST_NOT_FOUND') return;
      throw err;
    }
  }
}
