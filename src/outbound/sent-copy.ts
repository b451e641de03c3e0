/**
 * The Sent-copy policy (DESIGN.md point 6, providers.md §3): after a message went out through
 * the mailbox's own SMTP server, keep exactly one copy of it in that mailbox's Sent folder.
 *
 * - `savesSentCopy: true` (Gmail, Microsoft, Zoho): the provider files the copy; nothing to do.
 * - `false` (GMX, typical cPanel hosts): Mailport APPENDs it.
 * - `null` (unknown: iCloud, Yahoo, Fastmail, ...): wait `searchDelayMs` so the provider has
 *   time to file its own copy, look for the Message-ID in Sent, APPEND only when it is missing.
 *
 * With `false` the Sent folder is searched too (no wait): the caller retries after a failure,
 * and a retry after an APPEND whose answer was lost must not store a second copy.
 * The IMAP work is in src/protocols/imap-sent.ts; failures are classified MailportErrors.
 *
 * @example
 *   const copier = new SentCopier({ guard, logger });
 *   const { result, folder } = await copier.store({
 *     imap: { host: 'imap.gmx.com', port: 993, security: 'tls' }, cred, raw, messageId: '<abc@example.com>',
 *     savesSentCopy: preset.savesSentCopy, sentFolderHint: preset.sentFolder ?? undefined,
 *   });
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MailportError } from '../core/errors.js';
import type { Credentials, Endpoint } from '../core/types.js';
import type { AddressGuard } from '../net/guard.js';
import type { ProviderFacts } from '../protocols/classify.js';
import { normalizeMessageId, openSentMailbox, type SentMailboxOpener } from '../protocols/imap-sent.js';

export interface SentCopyLogger {
  debug(o: object, m?: string): void;
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
}

export interface SentCopierDeps {
  /** every IMAP host passes it before any socket opens */
  guard: AddressGuard;
  /** bound of one IMAP session (connect, find Sent, search, APPEND); default 60000 */
  timeoutMs?: number;
  logger?: SentCopyLogger;
  /** how long to wait before searching when `savesSentCopy` is null; default 5000 */
  searchDelayMs?: number;
  /** the IMAP side; defaults to imapflow ({@link openSentMailbox}); tests pass a fake */
  imap?: SentMailboxOpener;
}

export interface SentCopyInput {
  imap: Endpoint;
  cred: Credentials;
  /** the message exactly as it was sent */
  raw: Buffer;
  /** its Message-ID header, with or without the angle brackets */
  messageId: string;
  /** the catalog's `savesSentCopy`: true the server files it, false Mailport must, null unknown */
  savesSentCopy: boolean | null;
  /** the catalog's `sentFolder`, used when no folder is flagged `\Sent` */
  sentFolderHint?: string;
  provider?: ProviderFacts;
}

export interface SentCopyResult {
  /** `stored`: Mailport appended the copy; `skipped`: the provider keeps it, or it was already there */
  result: 'stored' | 'skipped';
  /** the Sent folder's path, when IMAP was used */
  folder?: string;
}

export const DEFAULT_SENT_COPY_TIMEOUT_MS = 60_000;
export const DEFAULT_SEARCH_DELAY_MS = 5_000;

const NOOP_LOGGER: SentCopyLogger = { debug() {}, info() {}, warn() {} };

/**
 * Keeps one copy of each message sent through a mailbox's own SMTP in its Sent folder.
 *
 * @example
 *   const copier = new SentCopier({ guard, searchDelayMs: 5000 });
 *   await copier.store({ imap, cred, raw, messageId, savesSentCopy: null }); // { result: 'stored', folder: 'Sent' }
 */
export class SentCopier {
  private readonly guard: AddressGuard;
  private readonly timeoutMs: number;
  private readonly log: SentCopyLogger;
  private readonly searchDelayMs: number;
  private readonly imap: SentMailboxOpener;

  constructor(deps: SentCopierDeps) {
    this.guard = deps.guard;
    this.timeoutMs = deps.timeoutMs ?? DEFAULT_SENT_COPY_TIMEOUT_MS;
    this.log = deps.logger ?? NOOP_LOGGER;
    this.searchDelayMs = Math.max(0, deps.searchDelayMs ?? DEFAULT_SEARCH_DELAY_MS);
    this.imap = deps.imap ?? openSentMailbox;
  }

  /**
   * After an own-SMTP send: keeps exactly one copy in the mailbox's Sent folder. `savesSentCopy`
   * true → skipped (the provider files it); false → APPEND (unless a copy with this Message-ID is
   * already there); null → wait `searchDelayMs`, search Sent for the Message-ID, APPEND only when
   * missing. Throws a classified MailportError on failure (retry later); never a raw library error.
   *
   * @example
   *   const r = await copier.store({ imap, cred, raw, messageId: '<id@example.com>', savesSentCopy: false });
   *   // r = { result: 'stored', folder: 'INBOX.Sent' }
   */
  async store(input: SentCopyInput): Promise<SentCopyResult> {
    const messageId = normalizeMessageId(input.messageId);
    if (!Buffer.isBuffer(input.raw) || input.raw.length === 0) throw new MailportError('INVALID_INPUT', { field: 'raw', message: 'raw must be the sent message as a non-empty Buffer' });
    if (input.savesSentCopy !== true && input.savesSentCopy !== false && input.savesSentCopy !== null) {
      throw new MailportError('INVALID_INPUT', { field: 'savesSentCopy', message: 'savesSentCopy must be true, false or null' });
    }
    const where = { host: input.imap?.host, port: input.imap?.port, messageId, savesSentCopy: input.savesSentCopy };
    if (input.savesSentCopy === true) {
      this.log.debug(where, 'sent copy skipped: the provider files it');
      return { result: 'skipped' };
    }
    // unknown provider behaviour: give the server time to file its own copy before looking
    if (input.savesSentCopy === null && this.searchDelayMs > 0) await sleep(this.searchDelayMs);

    const ctx = { guard: this.guard, timeoutMs: this.timeoutMs, logger: this.log, provider: input.provider };
    try {
      const out = await this.imap(input.imap, input.cred, ctx, async (box): Promise<SentCopyResult> => {
        const sent = await box.findSentFolder(input.sentFolderHint);
        // a folder created just now is empty: nothing to search
        if (sent.by !== 'created' && (await box.findByMessageId(sent.path, messageId)).length > 0) {
          return { result: 'skipped', folder: sent.path };
        }
        await box.append(sent.path, input.raw);
        return { result: 'stored', folder: sent.path };
      });
      this.log.info({ ...where, folder: out.folder, result: out.result }, out.result === 'stored' ? 'sent copy stored' : 'sent copy already in Sent');
      return out;
    } catch (err) {
      const e = err instanceof MailportError ? err : new MailportError('INTERNAL', { message: 'Storing the sent copy failed unexpectedly.', protocol: 'imap', cause: err });
      this.log.warn({ ...where, code: e.code }, `sent copy failed: ${e.message}`);
      throw e;
    }
  }
}
