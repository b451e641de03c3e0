import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DialectName } from './database.js';
import type { AccountRow } from './accounts.repository.js';
import type { Database, SyncAccountsTable, SyncFoldersTable } from './schema.js';

export type SyncAccountRow = Selectable<SyncAccountsTable>;
export type SyncFolderRow = Selectable<SyncFoldersTable>;

/** A lease held by a node: the fencing token every write of sync state must carry. */
export interface Lease {
  accountId: string;
  owner: string;
  token: number;
}

/** Thrown by a fenced write when another node has claimed the account since (a newer token). */
export class LeaseLostError extends Error {
  constructor(readonly accountId: string) {
    super(`the lease on account ${accountId} was taken over by another node`);
    this.name = 'LeaseLostError';
  }
}

export interface FolderState {
  path: string;
  role: 'inbox' | 'sent' | 'extra';
  uidValidity: number;
  uidNext: number;
  highestModseq: string | null;
  initialDone: boolean;
  backfillUid: number | null;
}

const toFolder = (r: SyncFolderRow): FolderState => ({
  path: r.path,
  role: r.role as FolderState['role'],
  uidValidity: Number(r.uid_validity),
  uidNext: Number(r.uid_next),
  highestModseq: r.highest_modseq,
  initialDone: r.initial_done === 1,
  backfillUid: r.backfill_uid === null ? null : Number(r.backfill_uid),
});

/**
 * Sync state and account leases. Leases: a node claims accounts whose lease is free or expired
 * (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so nodes never wait on each other), renews them all in
 * one statement, and releases them on shutdown. Every claim adds one to the account's
 * `lease_token`; {@link fenced} runs a write only while the row still carries the caller's owner
 * and token (the row is share-locked for the transaction on PostgreSQL, so a claim cannot slip in
 * between the check and the write).
 *
 * @example
 *   const leases = await repo.claim('node-1', 100, now, expires);
 *   await repo.saveFolder(leases[0], folderState, now);
 */
export class SyncRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: DialectName,
  ) {}

  /** Every enabled account of every tenant that has incoming settings (IMAP or POP3). */
  async receivingAccounts(): Promise<AccountRow[]> {
    return this.db
      .selectFrom('accounts')
      .selectAll()
      .where('enabled', '=', 1)
      .where((eb) => eb.or([eb('imap_host', 'is not', null), eb('pop_host', 'is not', null)]))
      .orderBy('id')
      .execute();
  }

  /** Adds the sync rows that are missing (new accounts); existing rows are left as they are. */
  async ensure(rows: Array<{ accountId: string; tenantId: string; protocol: 'imap' | 'pop3' }>, now: string): Promise<void> {
    for (let i = 0; i < rows.length; i += 200) {
      const chunk = rows.slice(i, i + 200);
      await this.db
        .insertInto('sync_accounts')
        .values(chunk.map((r) => ({ account_id: r.accountId, tenant_id: r.tenantId, protocol: r.protocol, lease_token: 0, state: 'waiting', updated_at: now })))
        .onConflict((oc) => oc.column('account_id').doNothing())
        .execute();
    }
  }

  /** Sync rows whose account is gone (deleted): their state goes with them. */
  async forgetDeleted(): Promise<number> {
    const r = await this.db
      .deleteFrom('sync_accounts')
      .where((eb) => eb.not(eb.exists(eb.selectFrom('accounts').select('accounts.id').whereRef('accounts.id', '=', 'sync_accounts.account_id'))))
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async heartbeat(nodeId: string, now: string): Promise<void> {
    await this.db
      .insertInto('sync_nodes')
      .values({ id: nodeId, heartbeat_at: now, started_at: now })
      .onConflict((oc) => oc.column('id').doUpdateSet({ heartbeat_at: now }))
      .execute();
  }

  /** Nodes with a heartbeat at or after `since` (this one included once it has beaten). */
  async liveNodes(since: string): Promise<number> {
    const r = await this.db.selectFrom('sync_nodes').select((eb) => eb.fn.countAll<number | string>().as('n')).where('heartbeat_at', '>=', since).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async removeNode(nodeId: string): Promise<void> {
    await this.db.deleteFrom('sync_nodes').where('id', '=', nodeId).execute();
  }

  /**
   * Claims up to `limit` accounts whose lease is free or expired (eligible ones only), for
   * `owner` until `expires`. Each claim takes a new fencing token.
   */
  async claim(owner: string, limit: number, now: string, expires: string): Promise<Lease[]> {
    if (limit <= 0) return [];
    const lock = this.dialect === 'postgres' ? sql`for update of s skip locked` : sql``;
    const rows = await sql<{ account_id: string; lease_token: number | string }>`
      update sync_accounts set lease_owner = ${owner}, lease_token = lease_token + 1, lease_expires_at = ${expires}, updated_at = ${now}
      where account_id in (
        select s.account_id from sync_accounts s join accounts a on a.id = s.account_id
        where a.enabled = 1 and (a.imap_host is not null or a.pop_host is not null)
          and (s.lease_owner is null or s.lease_expires_at is null or s.lease_expires_at < ${now})
        order by s.account_id limit ${limit} ${lock}
      )
      returning account_id, lease_token`.execute(this.db);
    return rows.rows.map((r) => ({ accountId: r.account_id, owner, token: Number(r.lease_token) }));
  }

  /** Extends every lease `owner` still holds; returns them (a lease missing here was lost). */
  async renew(owner: string, expires: string, now: string): Promise<Lease[]> {
    const rows = await this.db
      .updateTable('sync_accounts')
      .set({ lease_expires_at: expires, updated_at: now })
      .where('lease_owner', '=', owner)
      .returning(['account_id', 'lease_token'])
      .execute();
    return rows.map((r) => ({ accountId: r.account_id, owner, token: Number(r.lease_token) }));
  }

  /** Gives leases up (shutdown, rebalancing, account disabled): another node may claim them at once. */
  async release(leases: Lease[], now: string): Promise<void> {
    for (const l of leases) {
      await this.db
        .updateTable('sync_accounts')
        .set({ lease_owner: null, lease_expires_at: null, updated_at: now })
        .where('account_id', '=', l.accountId)
        .where('lease_owner', '=', l.owner)
        .where('lease_token', '=', l.token)
        .execute();
    }
  }

  /**
   * Runs `write` in a transaction only while `lease` is still the account's current lease;
   * throws {@link LeaseLostError} otherwise (nothing written).
   */
  async fenced<T>(lease: Lease, write: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(async (tx) => {
      let q = tx.selectFrom('sync_accounts').select(['lease_owner', 'lease_token']).where('account_id', '=', lease.accountId);
      if (this.dialect === 'postgres') q = q.forShare();
      const row = await q.executeTakeFirst();
      if (!row || row.lease_owner !== lease.owner || Number(row.lease_token) !== lease.token) throw new LeaseLostError(lease.accountId);
      return write(tx);
    });
  }

  async getAccount(accountId: string): Promise<SyncAccountRow | undefined> {
    return this.db.selectFrom('sync_accounts').selectAll().where('account_id', '=', accountId).executeTakeFirst();
  }

  async listAccounts(): Promise<SyncAccountRow[]> {
    return this.db.selectFrom('sync_accounts').selectAll().orderBy('account_id').execute();
  }

  /** What the session last saw (fenced). */
  async setState(lease: Lease, patch: { state: string; last_error?: string | null; last_ok_at?: string; initial_done_at?: string }, now: string): Promise<void> {
    await this.fenced(lease, (tx) => tx.updateTable('sync_accounts').set({ ...patch, updated_at: now }).where('account_id', '=', lease.accountId).execute());
  }

  async folders(accountId: string): Promise<FolderState[]> {
    const rows = await this.db.selectFrom('sync_folders').selectAll().where('account_id', '=', accountId).execute();
    return rows.map(toFolder);
  }

  /** Creates or replaces a folder's state (fenced). */
  async saveFolder(lease: Lease, f: FolderState, now: string): Promise<void> {
    const values = {
      role: f.role, uid_validity: f.uidValidity, uid_next: f.uidNext, highest_modseq: f.highestModseq,
      initial_done: f.initialDone ? 1 : 0, backfill_uid: f.backfillUid, synced_at: now,
    };
    await this.fenced(lease, (tx) =>
      tx
        .insertInto('sync_folders')
        .values({ account_id: lease.accountId, path: f.path, ...values })
        .onConflict((oc) => oc.columns(['account_id', 'path']).doUpdateSet(values))
        .execute(),
    );
  }

  /** Flags (and MODSEQ) of messages in one folder, as CONDSTORE or a FLAGS fetch reported them (fenced). */
  async updateFlags(lease: Lease, folder: string, uidValidity: number, changes: Array<{ uid: number; flags: string[]; modseq?: string | null }>): Promise<void> {
    if (!changes.length) return;
    await this.fenced(lease, async (tx) => {
      for (const c of changes) {
        await tx
          .updateTable('mail_message_sources')
          .set({ flags: JSON.stringify(c.flags), modseq: c.modseq ?? null })
          .where('account_id', '=', lease.accountId)
          .where('folder', '=', folder)
          .where('uid_validity', '=', uidValidity)
          .where('uid', '=', c.uid)
          .execute();
      }
    });
  }

  /** Marks messages expunged from a folder (fenced); the records stay. */
  async markExpunged(lease: Lease, folder: string, uidValidity: number, uids: number[], now: string): Promise<void> {
    if (!uids.length) return;
    await this.fenced(lease, async (tx) => {
      for (let i = 0; i < uids.length; i += 500) {
        await tx
          .updateTable('mail_message_sources')
          .set({ expunged_at: now })
          .where('account_id', '=', lease.accountId)
          .where('folder', '=', folder)
          .where('uid_validity', '=', uidValidity)
          .where('uid', 'in', uids.slice(i, i + 500))
          .where('expunged_at', 'is', null)
          .execute();
      }
    });
  }

  /** UIDs recorded in a folder and not known to be expunged. */
  async liveUids(accountId: string, folder: string, uidValidity: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom('mail_message_sources')
      .select('uid')
      .where('account_id', '=', accountId)
      .where('folder', '=', folder)
      .where('uid_validity', '=', uidValidity)
      .where('expunged_at', 'is', null)
      .execute();
    return rows.map((r) => Number(r.uid));
  }

  /** The POP3 UIDLs already taken from an account's mailbox. */
  async popSeen(accountId: string): Promise<Set<string>> {
    const rows = await this.db.selectFrom('pop_seen').select('uidl').where('account_id', '=', accountId).execute();
    return new Set(rows.map((r) => r.uidl));
  }

  /** Remembers POP3 UIDLs as taken (fenced); UIDLs no longer on the server are forgotten. */
  async savePopSeen(lease: Lease, added: Array<{ uidl: string; messagePk: string | null }>, gone: string[], now: string): Promise<void> {
    if (!added.length && !gone.length) return;
    await this.fenced(lease, async (tx) => {
      for (let i = 0; i < added.length; i += 200) {
        await tx
          .insertInto('pop_seen')
          .values(added.slice(i, i + 200).map((a) => ({ account_id: lease.accountId, uidl: a.uidl, message_pk: a.messagePk, seen_at: now })))
          .onConflict((oc) => oc.columns(['account_id', 'uidl']).doNothing())
          .execute();
      }
      for (let i = 0; i < gone.length; i += 500) {
        await tx.deleteFrom('pop_seen').where('account_id', '=', lease.accountId).where('uidl', 'in', gone.slice(i, i + 500)).execute();
      }
    });
  }
}
