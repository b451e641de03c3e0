/**
 * The IMAP side of keeping a copy of sent mail: find the mailbox's Sent folder, look for a
 * Message-ID in it, APPEND a message flagged `\Seen`. One session per use, opened through the
 * address guard with the same client setup as the IMAP check ({@link withImapSession}); every
 * failure leaves as a classified MailportError ({@link runSession}). The policy (when to store,
 * when to skip) lives in src/outbound/sent-copy.ts.
 *
 * Finding Sent (providers.md §3): the `\Sent` special-use flag (RFC 6154) first, then the name
 * hint from the catalog, then well-known names (`[Gmail]/Sent Mail`, `Sent Items`,
 * `Sent Messages`, `Sent`, `INBOX.Sent`, localised names such as `Gesendet`), each also under the
 * personal namespace prefix (`INBOX.` on cPanel-style Dovecot/Courier); when none exists the
 * folder is created under that prefix.
 *
 * @example
 *   const uid = await openSentMailbox(ep, cred, { guard }, async (box) => {
 *     const sent = await box.findSentFolder();
 *     return (await box.append(sent.path, raw)).uid;
 *   });
 */
import type { ImapFlow } from 'imapflow';
import { MailportError } from '../core/errors.js';
import type { Credentials, Endpoint } from '../core/types.js';
import { runSession, type CheckContext, type CheckRun } from './context.js';
import { withImapSession } from './imap.js';

/** One LIST entry, as far as choosing the Sent folder needs it (fixtures use the same shape). */
export interface ListedFolder {
  /** full path, decoded from modified UTF-7 */
  path: string;
  delimiter: string | null;
  /** the LIST attributes as the server sent them: `\HasNoChildren`, `\Sent`, `\Noselect`, ... */
  flags: string[];
}

/** The personal namespace (RFC 2342): `{ prefix: 'INBOX.', delimiter: '.' }` on cPanel hosts. */
export interface ImapNamespace {
  prefix: string;
  delimiter: string | null;
}

/** Which folder holds sent mail, and how it was found. */
export interface SentFolderChoice {
  path: string;
  /** `special-use`: flagged `\Sent`; `hint`: the catalog's name; `name`: a well-known name; `created`: none existed */
  by: 'special-use' | 'hint' | 'name' | 'created';
}

/**
 * Well-known Sent folder names, most specific first. Matched as full paths, and for names
 * without a hierarchy also under the personal namespace prefix.
 */
export const SENT_FOLDER_NAMES: readonly string[] = [
  '[Gmail]/Sent Mail',
  '[Google Mail]/Sent Mail',
  'Sent Items',
  'Sent Messages',
  'Sent',
  'Sent Mail',
  'INBOX.Sent',
  'INBOX/Sent',
  'INBOX.Sent Items',
  'INBOX.Sent Messages',
  'Gesendet',
  'Gesendete Elemente',
  'Gesendete Objekte',
  'Envoyés',
  'Éléments envoyés',
  'Messages envoyés',
  'Enviados',
  'Elementos enviados',
  'Posta inviata',
  'Inviati',
  'Verzonden',
  'Verzonden items',
  'Skickat',
  'Skickade objekt',
  'Sendt',
  'Sendte elementer',
  'Lähetetyt',
  'Wysłane',
  'Odeslaná pošta',
  'Отправленные',
];

const hasFlag = (f: ListedFolder, flag: string): boolean => f.flags.some((x) => x.toLowerCase() === flag.toLowerCase());

/**
 * Chooses the Sent folder from a LIST answer: `\Sent` first, then `hint`, then
 * {@link SENT_FOLDER_NAMES}, each name tried as given and under the namespace prefix, an exact
 * match before a case-insensitive one. Folders that cannot hold mail (`\Noselect`,
 * `\NonExistent`) never match. Returns undefined when nothing fits (the caller creates one).
 *
 * @example
 *   chooseSentFolder([{ path: 'INBOX.Sent', delimiter: '.', flags: [] }], { namespace: { prefix: 'INBOX.', delimiter: '.' } });
 *   // → { path: 'INBOX.Sent', by: 'name' }
 */
export function chooseSentFolder(folders: readonly ListedFolder[], opts: { hint?: string | null; namespace?: ImapNamespace | null } = {}): SentFolderChoice | undefined {
  const usable = folders.filter((f) => !hasFlag(f, '\\Noselect') && !hasFlag(f, '\\NonExistent'));
  const flagged = usable.filter((f) => hasFlag(f, '\\Sent'));
  if (flagged.length) {
    // more than one (rare: a provider folder and a migrated one): the hinted one, else the first
    const hinted = opts.hint ? flagged.find((f) => candidatesFor(opts.hint!, opts.namespace).includes(f.path)) : undefined;
    return { path: (hinted ?? flagged[0]!).path, by: 'special-use' };
  }
  const find = (name: string): ListedFolder | undefined => {
    const names = candidatesFor(name, opts.namespace);
    return usable.find((f) => names.includes(f.path)) ?? usable.find((f) => names.some((n) => n.toLowerCase() === f.path.toLowerCase()));
  };
  if (opts.hint) {
    const f = find(opts.hint);
    if (f) return { path: f.path, by: 'hint' };
  }
  for (const name of SENT_FOLDER_NAMES) {
    const f = find(name);
    if (f) return { path: f.path, by: 'name' };
  }
  return undefined;
}

/** The path to create when a mailbox has no Sent folder: the hint or "Sent", under the namespace prefix. */
export function newSentFolderPath(opts: { hint?: string | null; namespace?: ImapNamespace | null } = {}): string {
  const name = opts.hint?.trim() || 'Sent';
  const prefix = opts.namespace?.prefix ?? '';
  return prefix && !name.startsWith(prefix) ? prefix + name : name;
}

function candidatesFor(name: string, ns: ImapNamespace | null | undefined): string[] {
  const out = [name];
  const prefix = ns?.prefix ?? '';
  // only a top-level name moves under the prefix ("Sent" → "INBOX.Sent"; not "[Gmail]/Sent Mail")
  if (prefix && !name.startsWith(prefix) && !/[/.]/.test(name)) out.push(prefix + name);
  return out;
}

/** "<id@host>" from "id@host" or "<id@host>"; INVALID_INPUT for an empty or multi-line value. */
export function normalizeMessageId(id: string): string {
  const bare = typeof id === 'string' ? id.trim().replace(/^<|>$/g, '').trim() : '';
  if (!bare || /[\s<>]/.test(bare)) throw new MailportError('INVALID_INPUT', { field: 'messageId', message: 'messageId must be one Message-ID such as <id@example.com>' });
  return `<${bare}>`;
}

/** What one signed-in session can do with the Sent folder. */
export interface SentMailbox {
  /** the Sent folder; created (and subscribed) when the mailbox has none */
  findSentFolder(hint?: string | null): Promise<SentFolderChoice>;
  /** UIDs in `folder` whose Message-ID header is `messageId` (compared exactly, brackets optional) */
  findByMessageId(folder: string, messageId: string): Promise<number[]>;
  /** APPENDs the exact bytes flagged `\Seen`; the UID when the server reports it (UIDPLUS) */
  append(folder: string, raw: Buffer): Promise<{ uid?: number }>;
}

/** Opens one session on the mailbox, runs `use`, closes it; failures are classified MailportErrors. */
export type SentMailboxOpener = <T>(imap: Endpoint, cred: Credentials, ctx: CheckContext, use: (box: SentMailbox) => Promise<T>) => Promise<T>;

/**
 * The imapflow implementation of {@link SentMailboxOpener}: guard, deadline (`ctx.timeoutMs`)
 * and classification from {@link runSession}, the client from {@link withImapSession}.
 *
 * @example
 *   await openSentMailbox(ep, cred, { guard, timeoutMs: 60_000 }, (box) => box.findSentFolder('Sent Items'));
 */
export const openSentMailbox: SentMailboxOpener = (imap, cred, ctx, use) =>
  runSession('imap', imap, cred, ctx, (run) => withImapSession(imap, cred, run, (client) => use(new ImapflowSentMailbox(client, run, imap))));

/** How many of the newest messages are read when the server refuses SEARCH HEADER. */
const SCAN_FALLBACK = 200;

class ImapflowSentMailbox implements SentMailbox {
  constructor(
    private readonly client: ImapFlow,
    private readonly run: CheckRun,
    private readonly ep: Endpoint,
  ) {}

  async findSentFolder(hint?: string | null): Promise<SentFolderChoice> {
    const listed = await this.client.list();
    const folders: ListedFolder[] = listed.map((f) => ({ path: f.path, delimiter: f.delimiter ?? null, flags: [...f.flags] }));
    const ns = this.client.namespace;
    const namespace: ImapNamespace | null = ns ? { prefix: ns.prefix ?? '', delimiter: ns.delimiter ?? null } : null;
    // imapflow puts the namespace prefix in front of any path without it, so a folder outside
    // the personal namespace cannot be addressed: choose among the others
    const addressable = namespace?.prefix ? folders.filter((f) => f.path.startsWith(namespace.prefix) || f.path.toUpperCase() === 'INBOX') : folders;
    const chosen = chooseSentFolder(addressable, { hint, namespace });
    if (chosen) {
      this.run.log.debug({ sent: { folder: chosen.path, by: chosen.by } }, 'sent folder found');
      return chosen;
    }
    const path = newSentFolderPath({ hint, namespace });
    const created = await this.command(`create the Sent folder "${path}"`, () => this.client.mailboxCreate(path));
    await this.client.mailboxSubscribe(created.path).catch(() => false);
    this.run.log.info({ sent: { folder: created.path, by: 'created' } }, 'no Sent folder: created one');
    return { path: created.path, by: 'created' };
  }

  async findByMessageId(folder: string, messageId: string): Promise<number[]> {
    const want = normalizeMessageId(messageId);
    const lock = await this.command(`open "${folder}"`, () => this.client.getMailboxLock(folder, { readOnly: true }));
    try {
      const exists = typeof this.client.mailbox === 'object' && this.client.mailbox ? this.client.mailbox.exists : 0;
      if (!exists) return [];
      const hits = await this.command(`search "${folder}"`, () => this.client.search({ header: { 'message-id': want } }, { uid: true }));
      // a refused SEARCH (false) is not "missing": read the newest messages' Message-IDs instead
      const range = Array.isArray(hits) ? (hits.length ? hits.join(',') : undefined) : `${Math.max(1, exists - SCAN_FALLBACK + 1)}:*`;
      if (!range) return [];
      const found: number[] = [];
      for await (const msg of this.client.fetch(range, { uid: true, headers: ['message-id'] }, { uid: Array.isArray(hits) })) {
        if (msg.headers && messageIdOf(msg.headers) === want.toLowerCase()) found.push(msg.uid);
      }
      return found;
    } finally {
      lock.release();
    }
  }

  async append(folder: string, raw: Buffer): Promise<{ uid?: number }> {
    const res = await this.command(`store the copy in "${folder}"`, () => this.client.append(folder, raw, ['\\Seen']));
    if (!res) throw this.refused(`store the copy in "${folder}"`, undefined);
    return res.uid ? { uid: res.uid } : {};
  }

  /** Runs one command; a NO/BAD from the server becomes a specific MailportError, anything else (sockets, timeouts) is left to the classifier. */
  private async command<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const e = err as { responseStatus?: string; serverResponseCode?: string };
      if (e && (e.responseStatus === 'NO' || e.responseStatus === 'BAD' || e.serverResponseCode === 'APPENDLIMIT')) throw this.refused(what, err);
      throw err;
    }
  }

  private refused(what: string, err: unknown): MailportError {
    const e = (err ?? {}) as { responseText?: string; serverResponseCode?: string };
    const code = e.serverResponseCode?.toUpperCase();
    const text = typeof e.responseText === 'string' ? e.responseText.slice(0, 300) : undefined;
    const where = `${this.ep.host}:${this.ep.port}`;
    const hint =
      code === 'OVERQUOTA' || code === 'APPENDLIMIT' || code === 'LIMIT'
        ? 'The mailbox is full or the message is too large for it: free some space (empty Trash, delete large mail), then sending will store the copy.'
        : code === 'NOPERM' || code === 'TRYCREATE' || code === 'NONEXISTENT'
          ? 'Check that the mailbox has a Sent folder this account may write to; choosing it in your mail program as the folder for sent mail helps.'
          : 'The copy will be tried again later; if this keeps happening, check the mailbox in your mail program.';
    return new MailportError('PROTOCOL_ERROR', {
      message: `The IMAP server at ${where} refused to ${what}${text ? `: ${text}` : '.'}`,
      hint,
      protocol: 'imap',
      response: text,
      cause: err,
    });
  }
}

/** The Message-ID from a raw header block, lower-cased with its brackets ("" when absent). */
function messageIdOf(headers: Buffer): string {
  const unfolded = headers.toString('latin1').replace(/\r?\n[ \t]+/g, ' ');
  const m = /^message-id:\s*(.*)$/im.exec(unfolded);
  if (!m) return '';
  const id = m[1]!.trim();
  const inner = /<[^>]*>/.exec(id)?.[0] ?? `<${id}>`;
  return inner.replace(/\s+/g, '').toLowerCase();
}
