import { randomBytes } from 'node:crypto';
import { MailportError, invalid, notFound } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { AccountRow, NewOutboxRow, OutboxSummary, Repositories, TenantRow } from '../store/index.js';
import { INSERT_BATCH_MAX } from '../store/outbox.repository.js';
import type { MimeAddress } from '../protocols/mime.js';
import { normalizeMessage, requestHash, type MessageInput } from './message.js';
import { toOutboxView, type OutboxView } from './outbox.view.js';
import { Batcher } from './batcher.js';
import { draftOf } from './draft.js';

export interface OutboxServiceDeps {
  repos: Pick<Repositories, 'outbox' | 'accounts' | 'tenants'>;
  /** whether the platform processor (MAILPORT_PLATFORM_SMTP_URL) is configured */
  platformConfigured: boolean;
  /**
   * The most recipients one message through an account can ever have, and the limit that says so
   * (`per message`, or `per minute` etc. for a window that counts recipients: a message over a
   * window's whole limit never fits it); null when nothing caps it.
   */
  recipientCap: (row: AccountRow) => { max: number; per: string } | null;
  now?: () => Date;
}

export interface ListQuery {
  status?: string;
  accountId?: string;
  cursor?: string;
  limit?: number;
}

const STATUSES = new Set(['queued', 'sending', 'deferred', 'sent', 'failed']);

/** Whether an account's mail goes out through the platform processor rather than its own SMTP. */
export function sendsViaPlatform(row: Pick<AccountRow, 'type' | 'send_via'>): boolean {
  return row.type === 'platform' || row.send_via === 'platform';
}

/**
 * Accepting mail (`POST /v1/messages`) and showing the outbox. Accepting checks the message and
 * stores it durably (as a draft with its Message-ID and Date fixed) before it answers; messages
 * accepted at the same moment share one transaction. It does no network I/O (no SMTP, no DNS) and
 * no MIME work: the send worker composes and sends. For the platform processor the From is the
 * company's and may be replaced by the worker after its DMARC lookup (`sender_resolved = 0`).
 *
 * @example
 *   const { id, status } = await outbox.accept(tenantId, body, 'order-1234');
 *   const view = await outbox.get(tenantId, id);
 */
export class OutboxService {
  private readonly now: () => Date;
  /** messages accepted at the same time are stored in one transaction (one commit), each answered once it committed */
  private readonly inserts: Batcher<NewOutboxRow, { row: OutboxSummary; created: boolean }>;
  /** tenant reads of the current turn of the event loop: messages accepted together share one read */
  private readonly tenantReads = new Map<string, Promise<TenantRow | undefined>>();

  constructor(private readonly deps: OutboxServiceDeps) {
    this.now = deps.now ?? (() => new Date());
    this.inserts = new Batcher((rows) => deps.repos.outbox.insertMany(rows), INSERT_BATCH_MAX);
  }

  async accept(tenantId: string, body: MessageInput, idempotencyKey?: string): Promise<{ id: string; status: 'queued' }> {
    // only a call with an Idempotency-Key is ever compared with an earlier one: without one, hashing
    // the whole request (10 KB and more) on the thread that serves the API would buy nothing
    const hash = idempotencyKey !== undefined ? requestHash(body) : null;
    if (idempotencyKey !== undefined) {
      if (!/^[\x21-\x7e]{1,200}$/.test(idempotencyKey)) throw invalid('Idempotency-Key', 'Idempotency-Key must be 1 to 200 visible ASCII characters');
      // a retried call answers before any work; a race between two first calls is settled by insert()
      const earlier = await this.deps.repos.outbox.findByKey(tenantId, idempotencyKey);
      if (earlier) return this.repeat(earlier.request_hash, hash, earlier.id);
    }
    const now = this.now();
    const msg = normalizeMessage(body, now);

    let from: MimeAddress;
    let accountId: string | null = null;
    let senderResolved = 1;
    if (body.accountId !== undefined) {
      const account = await this.deps.repos.accounts.get(tenantId, body.accountId);
      if (!account) throw notFound('Account');
      if (account.enabled !== 1) throw new MailportError('CONFLICT', { field: 'accountId', message: `The account "${account.name}" is switched off; enable it (POST /v1/accounts/${account.id}/enable) to send through it.` });
      if (sendsViaPlatform(account) && !this.deps.platformConfigured) {
        throw new MailportError('CONFLICT', { field: 'accountId', message: 'This account sends through the platform mail processor, which the operator has not configured (MAILPORT_PLATFORM_SMTP_URL).' });
      }
      const cap = this.deps.recipientCap(account);
      if (cap !== null && msg.recipients.length > cap.max) throw invalid('to', `this account can send to at most ${cap.max} recipients ${cap.per}; split the message`);
      accountId = account.id;
      from = { name: account.from_name, address: account.email };
      if (sendsViaPlatform(account)) senderResolved = 0;
    } else {
      if (!this.deps.platformConfigured) {
        throw new MailportError('CONFLICT', { field: 'accountId', message: 'No accountId was given and the platform mail processor is not configured (MAILPORT_PLATFORM_SMTP_URL); name an account to send through.' });
      }
      const tenant = await this.tenant(tenantId);
      if (!tenant) throw notFound('Tenant');
      from = { name: tenant.from_name, address: tenant.company_email };
      senderResolved = 0;
    }

    const id = newId('msg', now.getTime());
    const domain = from.address.slice(from.address.lastIndexOf('@') + 1) || 'mailport.invalid';
    const messageId = `<${id.slice(4)}.${randomBytes(6).toString('hex')}@${domain}>`;
    // stored as accepted; the send worker composes it (off this path, on a worker thread under load)
    const draft = draftOf(msg, from, messageId, msg.sendAt ?? now);
    const at = now.toISOString();
    const row: NewOutboxRow = {
      id,
      tenant_id: tenantId,
      account_id: accountId,
      status: 'queued',
      idempotency_key: idempotencyKey ?? null,
      request_hash: hash,
      draft,
      sender_resolved: senderResolved,
      envelope_from: from.address,
      recipients: JSON.stringify(msg.recipients),
      recipient_count: msg.recipients.length,
      message_id: messageId,
      subject: msg.subject,
      attempts: 0,
      next_attempt_at: (msg.sendAt ?? now).toISOString(),
      send_at: msg.sendAt ? msg.sendAt.toISOString() : null,
      locked_by: null,
      locked_until: null,
      last_error: null,
      response: null,
      accepted: null,
      rejected: null,
      sent_at: null,
      sent_copy: null,
      sent_copy_attempts: 0,
      sent_copy_next_at: null,
      via: null,
      retry_of: null,
      age_from: null,
      created_at: at,
      updated_at: at,
    };
    const { row: stored, created } = await this.inserts.push(row);
    if (!created) return this.repeat(stored.request_hash, hash, stored.id);
    return { id: stored.id, status: 'queued' };
  }

  /** The tenant row, read once per turn of the event loop however many messages it sends in that turn. */
  private tenant(tenantId: string): Promise<TenantRow | undefined> {
    let read = this.tenantReads.get(tenantId);
    if (!read) {
      if (this.tenantReads.size === 0) setImmediate(() => this.tenantReads.clear());
      read = this.deps.repos.tenants.get(tenantId);
      this.tenantReads.set(tenantId, read);
    }
    return read;
  }

  /** The first answer again for the same body; 409 for another body under the same key. */
  private repeat(storedHash: string | null, hash: string | null, id: string): { id: string; status: 'queued' } {
    if (hash === null || storedHash !== hash) {
      throw new MailportError('CONFLICT', { field: 'Idempotency-Key', message: 'This Idempotency-Key was already used with a different request body.', hint: 'Use a new key for a new message; repeat a key only to retry the very same request.' });
    }
    return { id, status: 'queued' };
  }

  async get(tenantId: string, id: string): Promise<OutboxView> {
    const row = await this.deps.repos.outbox.get(tenantId, id);
    if (!row) throw notFound('Message');
    return toOutboxView(row);
  }

  async list(tenantId: string, query: ListQuery): Promise<{ items: OutboxView[]; nextCursor: string | null }> {
    if (query.status !== undefined && !STATUSES.has(query.status)) throw invalid('status', `status must be one of ${[...STATUSES].join(', ')}`);
    const limit = query.limit ?? 50;
    const rows = await this.deps.repos.outbox.list(tenantId, { status: query.status, accountId: query.accountId, after: query.cursor, limit: limit + 1 });
    const page = rows.slice(0, limit);
    return { items: page.map(toOutboxView), nextCursor: rows.length > limit ? page[page.length - 1]!.id : null };
  }
}
