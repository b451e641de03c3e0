import type { ImapFlow, MailboxObject } from 'imapflow';
import { endpointOf } from '../../accounts/account.view.js';
import { MailportError } from '../../core/errors.js';
import type { Endpoint } from '../../core/types.js';
import { classify } from '../../protocols/classify.js';
import { openImapClient } from '../../protocols/imap.js';
import { chooseSentFolder, type ImapNamespace, type ListedFolder } from '../../protocols/imap-sent.js';
import type { AccountRow, FolderState, Lease } from '../../store/index.js';
import type { ParsedMessage } from '../parse.js';
import { AUTH_CODES, AccountLog, MailboxSession, type SessionDeps } from './session.js';

/** A folder this session syncs. */
export interface FolderPlan {
  path: string;
  role: FolderState['role'];
}

interface FetchedMessage {
  uid: number;
  source?: Buffer;
  internalDate?: Date | string;
  flags?: Set<string>;
  modseq?: bigint;
  /** RFC822.SIZE */
  size?: number;
}

/** Batches fetched (and parsed) ahead of the one being stored. */
const FETCH_AHEAD = 2;

/** Messages of one FETCH with their bytes, each parsed. */
type FetchedBatch = Array<{ m: FetchedMessage & { source: Buffer }; parsed: ParsedMessage }>;
/** A fetched batch and its share of the node's budget of fetched bytes (give it back once stored). */
interface Fetched {
  batch: FetchedBatch;
  release: () => void;
}

/** Flags as stored: \\Recent belongs to one session, not to the message. */
const keptFlags = (flags: Set<string> | undefined): string[] => (flags ? [...flags].filter((f) => f.toLowerCase() !== '\\recent') : []);

/**
 * UIDs in order, cut into batches of at most `count` messages and at most `bytes` (by their sizes;
 * a message larger than `bytes` is a batch of its own, a message of unknown size counts 0).
 *
 * @example cutBatches([9, 8, 7], new Map([[9, 10], [8, 10], [7, 10]]), 200, 20) // [[9, 8], [7]]
 */
export function cutBatches(uids: number[], sizes: Map<number, number>, count: number, bytes: number): number[][] {
  const out: number[][] = [];
  let chunk: number[] = [];
  let total = 0;
  for (const uid of uids) {
    const size = sizes.get(uid) ?? 0;
    if (chunk.length && (chunk.length >= count || total + size > bytes)) {
      out.push(chunk);
      chunk = [];
      total = 0;
    }
    chunk.push(uid);
    total += size;
  }
  if (chunk.length) out.push(chunk);
  return out;
}

/** "1:3,7,9:10" from UIDs in any order. */
export function uidRange(uids: readonly number[]): string {
  const sorted = [...new Set(uids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Inbox, the Sent folder (special-use first, then the catalog's name, then well-known names), and the configured extra folders that exist. */
export function planFolders(listed: readonly ListedFolder[], opts: { sentHint?: string | null; namespace?: ImapNamespace | null; extra: readonly string[] }): FolderPlan[] {
  const plan: FolderPlan[] = [{ path: 'INBOX', role: 'inbox' }];
  const addressable = opts.namespace?.prefix ? listed.filter((f) => f.path.startsWith(opts.namespace!.prefix) || f.path.toUpperCase() === 'INBOX') : listed;
  const sent = chooseSentFolder(addressable, { hint: opts.sentHint, namespace: opts.namespace });
  if (sent && sent.path.toUpperCase() !== 'INBOX') plan.push({ path: sent.path, role: 'sent' });
  for (const name of opts.extra) {
    const found = listed.find((f) => f.path === name) ?? listed.find((f) => f.path.toLowerCase() === name.toLowerCase());
    if (found && !plan.some((p) => p.path === found.path) && !found.flags.some((x) => /^\\(noselect|nonexistent)$/i.test(x))) plan.push({ path: found.path, role: 'extra' });
  }
  return plan;
}

/**
 * imapflow keeps the whole LIST answer on the client (its `folders`, about 0.5 KB a folder,
 * hundreds of folders on some mailboxes) for as long as the connection lives, to give SELECT a
 * folder's delimiter and special use without another LIST. Only the planned folders are ever
 * selected here, so only they are kept (an internal of imapflow: left alone if it changes).
 */
export function keepListedOnly(client: ImapFlow, plan: readonly FolderPlan[]): void {
  const c = client as unknown as { folders?: unknown };
  if (!(c.folders instanceof Map)) return;
  const listed = c.folders as Map<string, unknown>;
  c.folders = new Map(plan.filter((p) => listed.has(p.path)).map((p) => [p.path, listed.get(p.path)]));
}

/**
 * One account's IMAP session: one connection. Initial sync of every planned folder newest first
 * back to the lookback (resumable: the UID reached is saved after each batch), then incremental:
 * the Inbox stays selected in IDLE (or is polled without it); every `pollMs` the other folders
 * are checked with STATUS and synced when they changed. UIDVALIDITY/UIDNEXT decide what is new,
 * CONDSTORE (CHANGEDSINCE) brings flag changes, QRESYNC's VANISHED (or a UID comparison without
 * it) brings expunges. Every command and the end of every IDLE is bounded by `commandTimeoutMs`:
 * a server that stops answering gets the session replaced (the watchdog).
 *
 * @example
 *   const s = new ImapSession(accountRow, lease, deps, { sentHint: 'Sent Items' });
 *   s.start(); ... await s.stop();
 */
export class ImapSession extends MailboxSession {
  private client: ImapFlow | null = null;
  private folderStates = new Map<string, FolderState>();
  private dirty = new Set<string>();
  private vanished = new Map<string, Set<number>>();
  private needUidDiff = new Set<string>();
  private flagEvents = new Map<string, Map<number, { flags: string[]; modseq: string | null }>>();
  private readonly ep: Endpoint;

  constructor(account: AccountRow, lease: Lease, deps: SessionDeps, private readonly opts: { sentHint?: string | null } = {}) {
    super(account, lease, deps);
    this.ep = endpointOf(account, 'imap')!;
  }

  protected classified(err: unknown): MailportError {
    if (err instanceof MailportError) return err;
    return classify(err, { protocol: 'imap', endpoint: this.ep, phase: 'command', auth: this.account.type === 'gmail' || this.account.type === 'outlook' ? 'token' : 'password' });
  }

  protected closeNow(): void {
    this.client?.close();
  }

  protected async shutdown(): Promise<void> {
    const c = this.client;
    if (!c) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([c.logout().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 2_000)))]);
    clearTimeout(timer);
    c.close();
  }

  protected async connectAndSync(): Promise<void> {
    await this.setState('connecting');
    const client = await this.connect();
    if (!client) return;
    this.client = client;
    let closed = false;
    try {
      client.on('close', () => {
        closed = true;
        this.wake();
      });
      client.on('exists', (e: { path: string }) => this.mark(e.path));
      client.on('expunge', (e: { path: string; uid?: number; vanished: boolean }) => {
        if (e.uid !== undefined) this.setOf(this.vanished, e.path).add(e.uid);
        else this.needUidDiff.add(e.path);
        this.mark(e.path);
      });
      client.on('flags', (e: { path: string; uid?: number; flags: Set<string>; modseq?: bigint }) => {
        if (e.uid === undefined) return;
        let m = this.flagEvents.get(e.path);
        if (!m) this.flagEvents.set(e.path, (m = new Map()));
        m.set(e.uid, { flags: keptFlags(e.flags), modseq: e.modseq !== undefined ? String(e.modseq) : null });
        this.mark(e.path);
      });
      if (this.stopping) return;
      await this.ok();
      for (const f of await this.deps.repos.sync.folders(this.account.id)) this.folderStates.set(f.path, f);
      const plan = await this.plan(client);
      await this.setState('syncing');
      for (const f of plan) {
        if (this.stopping) return;
        await this.syncFolder(client, f);
      }
      const initialDone = plan.every((f) => this.folderStates.get(f.path)?.initialDone);
      await this.setState('idle', initialDone ? { initial_done_at: this.deps.now().toISOString() } : {});
      await this.watch(client, plan, () => closed);
    } finally {
      this.client = null;
      client.close();
    }
  }

  /**
   * Connects and signs in, holding one of the node's connect slots meanwhile; null when the
   * session stops first. A method of its own so that what only the sign-in needs (the check
   * context, the credentials, the slot) is not kept in the frame of the session's whole life.
   */
  private async connect(): Promise<ImapFlow | null> {
    const o = this.deps.options;
    const ctx = { ...this.deps.checkContext(this.account), timeoutMs: o.connectTimeoutMs };
    const session = {
      socketTimeoutMs: Math.max(o.commandTimeoutMs, o.pollMs) * 3,
      maxIdleMs: Math.min(25 * 60_000, o.pollMs * 10),
      log: new AccountLog(this.deps.logger, this.account.id),
    };
    const release = (await this.deps.connectSlot?.()) ?? (() => undefined);
    try {
      if (this.stopping) return null;
      const cred = await this.deps.credentials(this.account);
      try {
        return await openImapClient(this.ep, cred, ctx, session);
      } catch (err) {
        // a refused access token: refreshed once (it may have been revoked early), then the refusal stands
        if (!cred.accessToken || !(err instanceof MailportError) || !AUTH_CODES.has(err.code)) throw err;
        return await openImapClient(this.ep, await this.deps.credentials(this.account, { rejected: cred.accessToken }), ctx, session);
      }
    } finally {
      release();
    }
  }

  private mark(path: string): void {
    this.dirty.add(path);
    this.wake();
  }

  private setOf(map: Map<string, Set<number>>, key: string): Set<number> {
    let s = map.get(key);
    if (!s) map.set(key, (s = new Set()));
    return s;
  }

  /** Runs one server command with the watchdog: no answer within commandTimeoutMs closes the connection. */
  private cmd<T>(client: ImapFlow, what: string, p: Promise<T>): Promise<T> {
    const ms = this.deps.options.commandTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.log.warn({ command: what, ms }, 'the mail server stopped answering: replacing the session');
        client.close();
        reject(new MailportError('TIMEOUT', { message: `The mail server did not answer (${what}) within ${Math.round(ms / 1000)} s.`, protocol: 'imap' }));
      }, ms);
    });
    p.catch(() => undefined);
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  private async plan(client: ImapFlow): Promise<FolderPlan[]> {
    const listed = await this.cmd(client, 'LIST', client.list());
    const folders: ListedFolder[] = listed.map((f) => ({ path: f.path, delimiter: f.delimiter ?? null, flags: [...f.flags] }));
    const ns = client.namespace;
    const namespace: ImapNamespace | null = ns ? { prefix: ns.prefix ?? '', delimiter: ns.delimiter ?? null } : null;
    const plan = planFolders(folders, { sentHint: this.opts.sentHint, namespace, extra: this.deps.options.extraFolders });
    keepListedOnly(client, plan);
    return plan;
  }

  /** Selects a folder (read-only); `fresh` when it was not selected already (its UIDNEXT is current then). */
  private async open(client: ImapFlow, path: string): Promise<{ mb: MailboxObject; fresh: boolean }> {
    if (client.mailbox && client.mailbox.path === path) return { mb: client.mailbox, fresh: false };
    const known = this.folderStates.get(path);
    const qresync = client.enabled.has('QRESYNC') && known?.highestModseq;
    // with QRESYNC, what changed while the folder was not selected comes with the SELECT (VANISHED EARLIER, FETCH FLAGS)
    const options = qresync ? { readOnly: true, changedSince: BigInt(known!.highestModseq!), uidValidity: BigInt(known!.uidValidity) } : { readOnly: true };
    return { mb: await this.cmd(client, `SELECT ${path}`, client.mailboxOpen(path, options)), fresh: true };
  }

  private async save(f: FolderState): Promise<void> {
    this.folderStates.set(f.path, f);
    await this.deps.repos.sync.saveFolder(this.lease, f, this.deps.now().toISOString());
  }

  /** Brings one folder up to date: UIDVALIDITY, initial backlog, new mail, flags, expunges. */
  private async syncFolder(client: ImapFlow, plan: FolderPlan): Promise<void> {
    this.dirty.delete(plan.path);
    const { mb, fresh } = await this.open(client, plan.path);
    const uidValidity = Number(mb.uidValidity);
    let st = this.folderStates.get(plan.path);
    if (!st || st.uidValidity !== uidValidity) {
      if (st) this.log.warn({ folder: plan.path, was: st.uidValidity, now: uidValidity }, 'UIDVALIDITY changed: syncing the folder again');
      st = {
        path: plan.path, role: plan.role, uidValidity, uidNext: Number(mb.uidNext ?? 1),
        highestModseq: mb.highestModseq !== undefined ? String(mb.highestModseq) : null, initialDone: false, backfillUid: null,
      };
      this.vanished.delete(plan.path);
      this.flagEvents.delete(plan.path);
      this.needUidDiff.delete(plan.path);
      await this.save(st);
    }
    if (!st.initialDone) await this.initial(client, st);
    await this.fetchNew(client, st, mb, fresh);
    await this.syncFlags(client, st, mb);
    await this.syncExpunges(client, st, mb);
    await this.ok();
  }

  private async initial(client: ImapFlow, st: FolderState): Promise<void> {
    const since = new Date(this.deps.now().getTime() - this.deps.options.lookbackDays * 86_400_000);
    let uids = await this.cmd(client, 'SEARCH SINCE', client.search({ since }, { uid: true }));
    if (!Array.isArray(uids)) uids = (await this.cmd(client, 'SEARCH ALL', client.search({ all: true }, { uid: true }))) || [];
    const below = st.backfillUid ?? st.uidNext;
    const pending = uids.filter((u) => u < below).sort((a, b) => b - a);
    this.log.info({ folder: st.path, messages: pending.length, resumed: st.backfillUid !== null }, 'initial sync');
    await this.fetchAndStore(client, st, pending, true, async (chunk) => {
      st.backfillUid = chunk[chunk.length - 1]!;
      await this.save(st);
      await this.setState('syncing');
    });
    if (this.stopping) return;
    st.initialDone = true;
    st.backfillUid = null;
    await this.save(st);
  }

  /** Messages with UIDs at or above the folder's UIDNEXT as last seen. */
  private async fetchNew(client: ImapFlow, st: FolderState, mb: MailboxObject, fresh: boolean): Promise<void> {
    if (!mb.exists) return;
    // UIDNEXT is current right after SELECT; later (EXISTS during IDLE) only a search tells
    if (fresh && mb.uidNext !== undefined && Number(mb.uidNext) <= st.uidNext) return;
    const found = await this.cmd(client, 'SEARCH UID', client.search({ uid: `${st.uidNext}:*` }, { uid: true }));
    const uids = (Array.isArray(found) ? found : []).filter((u) => u >= st.uidNext).sort((a, b) => a - b);
    await this.fetchAndStore(client, st, uids, false, async (chunk) => {
      st.uidNext = chunk[chunk.length - 1]! + 1;
      await this.save(st);
    });
    if (fresh && mb.uidNext !== undefined && Number(mb.uidNext) > st.uidNext && !this.stopping) {
      st.uidNext = Number(mb.uidNext);
      await this.save(st);
    }
  }

  /**
   * Fetches `uids` in batches, in the order given, and records each batch; `after` runs once a
   * batch is stored (to save the progress). Batches end at `batchSize` messages or `batchBytes`
   * (by RFC822.SIZE); the next two come over the wire and are parsed (on the parser's threads)
   * while one is stored, so the connection, the parser and the store each keep busy.
   */
  private async fetchAndStore(client: ImapFlow, st: FolderState, uids: number[], backlog: boolean, after: (chunk: number[]) => Promise<void>): Promise<void> {
    const chunks = await this.batches(client, uids);
    const ahead: Array<Promise<Fetched>> = [];
    let issued = 0;
    const fetchAhead = () => {
      while (ahead.length < FETCH_AHEAD && issued < chunks.length && !this.stopping) {
        const p = this.fetchBatch(client, chunks[issued++]!, backlog);
        p.catch(() => {}); // awaited below; a failure while another batch is stored must not go unobserved
        ahead.push(p);
      }
    };
    try {
      fetchAhead();
      for (let k = 0; ahead.length; k++) {
        const fetched = await ahead.shift()!;
        try {
          fetchAhead();
          await this.store(client, st, fetched.batch, backlog);
        } finally {
          fetched.release();
        }
        await after(chunks[k]!.uids);
        if (this.stopping) return;
      }
    } finally {
      // batches fetched ahead of a stop or a failure give their share of the node's budget back
      for (const p of ahead) p.then((f) => f.release(), () => {});
    }
  }

  /** `uids` cut into batches of at most batchSize messages and (beyond the first message) batchBytes, with their sizes. */
  private async batches(client: ImapFlow, uids: number[]): Promise<Array<{ uids: number[]; bytes: number }>> {
    const { batchSize, batchBytes } = this.deps.options;
    const sizes = new Map<number, number>();
    if (uids.length > 1) {
      const it = client.fetch(uidRange(uids), { uid: true, size: true }, { uid: true })[Symbol.asyncIterator]();
      for (;;) {
        const r = await this.cmd(client, 'FETCH RFC822.SIZE', it.next());
        if (r.done) break;
        const m = r.value as FetchedMessage;
        if (m.size !== undefined) sizes.set(m.uid, m.size);
      }
    }
    return cutBatches(uids, sizes, batchSize, batchBytes).map((chunk) => ({ uids: chunk, bytes: chunk.reduce((n, uid) => n + (sizes.get(uid) ?? 0), 0) }));
  }

  /** One FETCH of messages with their bytes, parsed: newest first during the initial sync, oldest first afterwards (threads form in order). */
  private async fetchBatch(client: ImapFlow, chunk: { uids: number[]; bytes: number }, backlog: boolean): Promise<Fetched> {
    // the node's budget of fetched bytes is taken before the FETCH and given back once the batch is stored
    const release = (await this.deps.fetchBudget?.(chunk.bytes)) ?? (() => undefined);
    try {
      return { batch: await this.fetchParsed(client, chunk.uids, backlog), release };
    } catch (err) {
      release();
      throw err;
    }
  }

  private async fetchParsed(client: ImapFlow, uids: number[], backlog: boolean): Promise<FetchedBatch> {
    const it = client.fetch(uidRange(uids), { uid: true, source: true, internalDate: true, flags: true }, { uid: true })[Symbol.asyncIterator]();
    const got: Array<FetchedMessage & { source: Buffer }> = [];
    for (;;) {
      const r = await this.cmd(client, 'FETCH', it.next());
      if (r.done) break;
      const m = r.value as FetchedMessage;
      if (m.source) got.push(m as FetchedMessage & { source: Buffer });
    }
    got.sort((a, b) => (backlog ? b.uid - a.uid : a.uid - b.uid));
    const parsed = await this.deps.correspondence.parseMany(got.map((m) => m.source));
    return got.map((m, i) => ({ m, parsed: parsed[i]! }));
  }

  private async store(client: ImapFlow, st: FolderState, batch: FetchedBatch, backlog: boolean): Promise<void> {
    if (!batch.length) return;
    const withModseq = client.enabled.has('CONDSTORE') || client.enabled.has('QRESYNC');
    await this.deps.correspondence.ingestMany(
      batch.map(({ m, parsed }) => ({
        input: {
          tenantId: this.account.tenant_id, accountId: this.account.id, folder: st.path, direction: st.role === 'sent' ? 'out' : undefined,
          raw: m.source, uid: m.uid, uidValidity: st.uidValidity, internalDate: m.internalDate, backlog,
          flags: keptFlags(m.flags), modseq: withModseq && m.modseq !== undefined ? String(m.modseq) : null,
        },
        parsed,
      })),
      this.account,
    );
    // (a new incoming message is queued for its campaign by the ingest, in the transaction that records it)
  }

  /** Flag changes: from IDLE's FETCH responses, and CHANGEDSINCE the last HIGHESTMODSEQ (CONDSTORE). */
  private async syncFlags(client: ImapFlow, st: FolderState, mb: MailboxObject): Promise<void> {
    const changes = new Map<number, { flags: string[]; modseq: string | null }>(this.flagEvents.get(st.path) ?? []);
    this.flagEvents.delete(st.path);
    const condstore = client.enabled.has('CONDSTORE') || client.enabled.has('QRESYNC');
    let highest = st.highestModseq !== null ? BigInt(st.highestModseq) : null;
    const serverHighest = mb.highestModseq !== undefined ? BigInt(mb.highestModseq) : null;
    if (condstore && highest !== null && mb.exists > 0 && (serverHighest === null || serverHighest > highest || changes.size > 0)) {
      const it = client.fetch('1:*', { uid: true, flags: true }, { uid: true, changedSince: highest })[Symbol.asyncIterator]();
      for (;;) {
        const r = await this.cmd(client, 'FETCH CHANGEDSINCE', it.next());
        if (r.done) break;
        const m = r.value as FetchedMessage;
        if (m.flags) changes.set(m.uid, { flags: keptFlags(m.flags), modseq: m.modseq !== undefined ? String(m.modseq) : null });
        if (m.modseq !== undefined && (highest === null || m.modseq > highest)) highest = m.modseq;
      }
    }
    if (serverHighest !== null && (highest === null || serverHighest > highest)) highest = serverHighest;
    if (changes.size) await this.deps.repos.sync.updateFlags(this.lease, st.path, st.uidValidity, [...changes].map(([uid, c]) => ({ uid, ...c })));
    const next = highest !== null ? String(highest) : null;
    if (next !== st.highestModseq) {
      st.highestModseq = next;
      await this.save(st);
    }
  }

  /** Expunges: VANISHED UIDs (QRESYNC), or a comparison of the server's UIDs with the recorded ones. */
  private async syncExpunges(client: ImapFlow, st: FolderState, mb: MailboxObject): Promise<void> {
    const now = this.deps.now().toISOString();
    const gone = this.vanished.get(st.path);
    this.vanished.delete(st.path);
    if (gone?.size) await this.deps.repos.sync.markExpunged(this.lease, st.path, st.uidValidity, [...gone], now);
    const qresync = client.enabled.has('QRESYNC');
    if (!this.needUidDiff.has(st.path) && qresync) return;
    this.needUidDiff.delete(st.path);
    const live = await this.deps.repos.sync.liveUids(this.account.id, st.path, st.uidValidity);
    if (!live.length || (qresync && live.length <= mb.exists)) return;
    const found = await this.cmd(client, 'SEARCH ALL', client.search({ all: true }, { uid: true }));
    if (!Array.isArray(found)) return;
    const present = new Set(found);
    const missing = live.filter((u) => !present.has(u));
    if (missing.length) await this.deps.repos.sync.markExpunged(this.lease, st.path, st.uidValidity, missing, now);
  }

  /** The Inbox in IDLE (or polled); other folders checked with STATUS every pollMs. */
  private async watch(client: ImapFlow, plan: FolderPlan[], isClosed: () => boolean): Promise<void> {
    const o = this.deps.options;
    const inbox = plan[0]!;
    const others = plan.slice(1);
    await this.open(client, inbox.path);
    let nextPoll = Date.now() + o.pollMs;
    const idleCapable = client.capabilities.has('IDLE');
    while (!this.stopping) {
      if (isClosed()) throw new MailportError('PROTOCOL_ERROR', { message: 'The mail server closed the connection.', protocol: 'imap' });
      if (this.dirty.size) {
        const paths = [...this.dirty];
        this.dirty.clear();
        for (const p of paths) {
          const f = plan.find((x) => x.path === p);
          if (f && client.mailbox && client.mailbox.path === p) await this.syncFolder(client, f);
        }
        await this.setState('idle');
      }
      if (Date.now() >= nextPoll) {
        for (const f of others) {
          if (this.stopping) return;
          if (await this.changed(client, f)) {
            await this.syncFolder(client, f);
            await this.open(client, inbox.path);
          }
        }
        // the Inbox itself: NOOP reports what IDLE would have (and proves the server answers)
        await this.cmd(client, 'NOOP', client.noop());
        await this.ok();
        await this.setState('idle');
        nextPoll = Date.now() + o.pollMs;
        if (this.dirty.size) continue;
      }
      const wait = Math.max(0, nextPoll - Date.now());
      if (idleCapable) {
        const idling = client.idle().catch(() => undefined);
        await this.sleep(wait);
        if (this.stopping || isClosed()) continue;
        // a command ends IDLE; no answer to it within the bound means the session is dead
        await this.cmd(client, 'NOOP', client.noop());
        await this.cmd(client, 'IDLE', idling);
      } else {
        await this.sleep(wait);
        if (this.stopping || isClosed()) continue;
        await this.cmd(client, 'NOOP', client.noop());
      }
    }
  }

  /** STATUS of a folder that is not selected: did anything change since it was synced? */
  private async changed(client: ImapFlow, f: FolderPlan): Promise<boolean> {
    const st = this.folderStates.get(f.path);
    if (!st || !st.initialDone) return true;
    const condstore = client.enabled.has('CONDSTORE') || client.enabled.has('QRESYNC');
    const s = await this.cmd(client, `STATUS ${f.path}`, client.status(f.path, { uidNext: true, uidValidity: true, messages: true, ...(condstore ? { highestModseq: true } : {}) }));
    if (!s) return false;
    if (s.uidValidity !== undefined && Number(s.uidValidity) !== st.uidValidity) return true;
    if (s.uidNext !== undefined && Number(s.uidNext) > st.uidNext) return true;
    if (s.highestModseq !== undefined && st.highestModseq !== null && BigInt(s.highestModseq) > BigInt(st.highestModseq)) return true;
    if (!condstore && s.messages !== undefined) {
      const live = await this.deps.repos.sync.liveUids(this.account.id, f.path, st.uidValidity);
      if (live.length > s.messages) {
        this.needUidDiff.add(f.path);
        return true;
      }
    }
    return false;
  }
}
