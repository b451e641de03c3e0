import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { endpointOf } from '../../accounts/account.view.js';
import type { AccountRow, Lease, Repositories } from '../../store/index.js';
import { ImapSession } from './imap-session.js';
import { DEFAULT_SYNC_OPTIONS, type SyncOptions } from './options.js';
import { Pop3Session } from './pop3-session.js';
import { Slots, type MailboxSession, type SessionDeps } from './session.js';

export interface SyncSupervisorDeps extends Omit<SessionDeps, 'options' | 'logger' | 'now' | 'repos'> {
  repos: Pick<Repositories, 'sync' | 'correspondence' | 'accounts'>;
  /** whether a worker may sign in with these credentials without a person (not after they were refused) */
  mayRetryAutomatically(account: AccountRow): boolean;
  /** the catalog's Sent folder name and POP3 minimum interval for the account's provider */
  providerHints(account: AccountRow): { sentFolder?: string | null; popMinIntervalSeconds?: number };
  logger: Logger;
  options?: Partial<SyncOptions>;
  now?: () => Date;
  /** this node's name in leases (default: host name, pid and a random suffix) */
  nodeId?: string;
}

/** What the metrics endpoint shows of this node's sync. */
export interface SyncStats {
  /** sessions by state */
  states: Record<string, number>;
  /** sessions connected to their server now (idle or syncing) */
  connected: number;
  /** per session, seconds since the server last answered */
  lagSeconds: number[];
}

/** The settings that, when changed, need a new session (a new password, another host...). */
function fingerprint(a: AccountRow): string {
  const parts = [a.type, a.email, a.username, a.password_enc, a.imap_host, a.imap_port, a.imap_security, a.pop_host, a.pop_port, a.pop_security, a.preset];
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url');
}

interface Running {
  session: MailboxSession;
  fingerprint: string;
}

/**
 * A Google or Microsoft account saved before its owner signed in (or whose sign-in was cleared):
 * nothing to log in with yet, so no session is started for it (one would only find that out, at
 * every scan); its owner's sign-in turns it green, and the next scan starts one.
 */
function awaitsSignIn(account: AccountRow): boolean {
  return (account.type === 'gmail' || account.type === 'outlook') && account.status === 'unverified';
}

/**
 * Keeps one session per receiving account on this node. Every `scanMs` it beats its heartbeat,
 * renews its leases (a lease it no longer holds stops its session at once), takes free or expired
 * leases up to its fair share (eligible accounts / live nodes, at most `capacity`) and gives back
 * what is over it, so load spreads when nodes join; it starts, restarts (settings changed) and
 * stops (account disabled or deleted) sessions. A session whose credentials were refused stays
 * stopped until they change or a person verifies the account. One process on SQLite works the
 * same way, holding every lease.
 *
 * @example
 *   const sync = new SyncSupervisor({ repos, correspondence, credentials, checkContext, ... });
 *   sync.start(); ... await sync.stop();
 */
export class SyncSupervisor {
  readonly nodeId: string;
  private readonly options: SyncOptions;
  private readonly now: () => Date;
  private readonly log: Logger;
  private readonly running = new Map<string, Running>();
  private readonly leases = new Map<string, Lease>();
  private timer: NodeJS.Timeout | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private guardTimer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;
  /** performance.now() until which this node may trust its leases (last renewal + lease - margin) */
  private validUntil = 0;
  private ticking: Promise<void> | null = null;
  private stopped = true;
  private readonly slots: Slots;
  private readonly fetchBudget: Slots;
  /** shared by every session of this node */
  private sessionDeps: SessionDeps | null = null;

  constructor(private readonly deps: SyncSupervisorDeps) {
    const o = { ...DEFAULT_SYNC_OPTIONS, ...deps.options };
    // leases are renewed at least three times per lease length, so a busy round never lets one lapse
    o.scanMs = Math.min(o.scanMs, Math.floor(o.leaseMs / 3));
    this.options = o;
    this.slots = new Slots(o.connectConcurrency);
    this.fetchBudget = new Slots(o.fetchBudgetBytes);
    this.now = deps.now ?? (() => new Date());
    this.log = deps.logger.child({ module: 'sync' });
    this.nodeId = deps.nodeId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.log.info({ nodeId: this.nodeId, leaseMs: this.options.leaseMs, capacity: this.options.capacity }, 'mailbox sync started');
    this.scheduleRenewal(this.options.scanMs);
    // a renewal that hangs (database unreachable) must not keep sessions alive past their leases
    this.guardTimer = setInterval(() => this.enforceValidity(), Math.max(100, Math.floor(this.options.leaseMs / 10)));
    this.guardTimer.unref?.();
    this.schedule(0);
  }

  /** Stops every session (IMAP LOGOUT), gives the leases back, and leaves the node list. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.renewTimer) clearTimeout(this.renewTimer);
    if (this.guardTimer) clearInterval(this.guardTimer);
    this.guardTimer = null;
    this.timer = null;
    this.renewTimer = null;
    await this.ticking;
    await this.renewing;
    const ids = [...this.running.keys()];
    await Promise.all(ids.map((id) => this.stopSession(id, true)));
    const at = this.now().toISOString();
    await this.deps.repos.sync.removeNode(this.nodeId).catch(() => undefined);
    this.log.info({ nodeId: this.nodeId, released: ids.length, at }, 'mailbox sync stopped');
  }

  /** Runs one supervision round now (tests, and the timer). */
  async tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = this.round()
      .catch((err) => this.log.error({ err }, 'sync supervision round failed'))
      .finally(() => (this.ticking = null));
    return this.ticking;
  }

  /** The session of an account on this node, if any (tests, diagnostics). */
  session(accountId: string): MailboxSession | undefined {
    return this.running.get(accountId)?.session;
  }

  stats(): SyncStats {
    const states: Record<string, number> = {};
    const lagSeconds: number[] = [];
    let connected = 0;
    const now = this.now().getTime();
    for (const { session } of this.running.values()) {
      states[session.state] = (states[session.state] ?? 0) + 1;
      if (session.state === 'idle' || session.state === 'syncing') connected++;
      if (session.lastOkAt !== null) lagSeconds.push(Math.max(0, (now - session.lastOkAt) / 1000));
    }
    return { states, connected, lagSeconds };
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.tick().then(() => this.schedule(this.options.scanMs));
    }, ms);
    this.timer.unref?.();
  }

  private async round(): Promise<void> {
    const repo = this.deps.repos.sync;
    const now = this.now();
    const at = now.toISOString();
    const expires = new Date(now.getTime() + this.options.leaseMs).toISOString();
    await repo.heartbeat(this.nodeId, at);

    const accounts = await repo.receivingAccounts();
    const byId = new Map(accounts.map((a) => [a.id, a]));
    await repo.ensure(accounts.map((a) => ({ accountId: a.id, tenantId: a.tenant_id, protocol: endpointOf(a, 'imap') ? 'imap' : 'pop3' })), at);

    await this.renew();
    if (!this.leasesValid()) return; // could not renew in time: nothing starts until a renewal succeeds

    // fair share: eligible accounts spread over live nodes
    const live = Math.max(1, await repo.liveNodes(new Date(now.getTime() - this.options.leaseMs).toISOString()));
    const share = Math.min(this.options.capacity, Math.ceil(accounts.length / live));
    if (this.leases.size > share) {
      const extra = [...this.leases.keys()].slice(share);
      this.log.info({ releasing: extra.length, share, live }, 'giving accounts to other nodes');
      await Promise.all(extra.map((id) => this.stopSession(id, true)));
    } else if (this.leases.size < share) {
      // a lease counts as free only a safety gap after it expired, for clocks that differ between nodes
      const freeBefore = new Date(now.getTime() - this.options.leaseMs / 5).toISOString();
      const started = performance.now();
      for (const l of await repo.claim(this.nodeId, share - this.leases.size, freeBefore, expires)) this.leases.set(l.accountId, l);
      this.validUntil = Math.max(this.validUntil, started + this.options.leaseMs * 0.6);
    }

    for (const [id, lease] of [...this.leases]) {
      const account = byId.get(id);
      const run = this.running.get(id);
      if (!account) {
        // disabled, deleted, or no incoming settings any more
        await this.stopSession(id, true);
        continue;
      }
      const fp = fingerprint(account);
      if (run && run.fingerprint !== fp) {
        this.log.info({ accountId: id }, 'account settings changed: new session');
        await this.stopSession(id, false);
        this.leases.set(id, lease);
      } else if (run && run.session.state !== 'stopped' && !run.session.needsAttention && !run.session.leaseLost) {
        continue;
      } else if (run && (run.session.needsAttention || run.session.leaseLost)) {
        if (run.session.leaseLost) {
          await this.stopSession(id, false);
          continue;
        }
        // credentials refused: wait for new ones, or for a person to verify the account
        if (!this.deps.mayRetryAutomatically(account)) continue;
        await run.session.stop();
        this.running.delete(id);
      }
      if (!this.deps.mayRetryAutomatically(account) || awaitsSignIn(account)) continue;
      this.startSession(account, lease, fp);
    }
    if (Math.random() < 0.05) await repo.forgetDeleted();
  }

  /** Leases are renewed on their own timer (a slow round never lets them lapse). */
  private scheduleRenewal(ms: number): void {
    if (this.stopped) return;
    this.renewTimer = setTimeout(() => {
      void this.renew().finally(() => this.scheduleRenewal(this.options.scanMs));
    }, ms);
    this.renewTimer.unref?.();
  }

  /**
   * Extends every lease this node holds. A lease that is gone (taken by another node, or claimed
   * again under a newer token) stops its session at once. If renewing fails for so long that the
   * leases may have expired (the database is unreachable, the process was paused), every session
   * is closed at once, before another node may claim its mailbox: a node never keeps a session
   * on a lease it cannot prove.
   */
  private renew(): Promise<void> {
    this.renewing ??= (async () => {
      const started = performance.now();
      const now = this.now();
      try {
        const held = new Map((await this.deps.repos.sync.renew(this.nodeId, new Date(now.getTime() + this.options.leaseMs).toISOString(), now.toISOString())).map((l) => [l.accountId, l]));
        this.validUntil = started + this.options.leaseMs * 0.6;
        for (const [id, lease] of [...this.leases]) {
          const current = held.get(id);
          if (!current || current.token !== lease.token) {
            this.log.warn({ accountId: id }, 'lease lost: stopping the session');
            await this.stopSession(id, false, true);
          }
        }
        for (const [id, lease] of held) if (!this.leases.has(id)) this.leases.set(id, lease);
      } catch (err) {
        this.log.error({ err }, 'could not renew the mailbox leases');
      } finally {
        this.renewing = null;
      }
      this.enforceValidity();
    })();
    return this.renewing;
  }

  private leasesValid(): boolean {
    return performance.now() < this.validUntil;
  }

  /** Closes every session when the leases can no longer be trusted (see {@link renew}). */
  private enforceValidity(): void {
    if (this.leasesValid() || this.running.size === 0) return;
    this.log.error({ sessions: this.running.size }, 'the mailbox leases could not be renewed in time: closing every session until they are');
    for (const id of [...this.running.keys()]) void this.stopSession(id, false, true);
    this.leases.clear();
  }

  private startSession(row: AccountRow, lease: Lease, fp: string): void {
    // the session keeps its account row for its whole life: better-sqlite3 makes rows
    // dictionary-mode objects (about 1.6 KB for ours), a plain copy is a fraction of that
    const account: AccountRow = { ...row };
    const hints = this.deps.providerHints(account);
    const deps = (this.sessionDeps ??= { ...this.deps, options: this.options, logger: this.log, now: this.now, connectSlot: () => this.slots.take(), fetchBudget: (bytes) => this.fetchBudget.take(bytes) });
    const session: MailboxSession = endpointOf(account, 'imap')
      ? new ImapSession(account, lease, deps, { sentHint: hints.sentFolder })
      : new Pop3Session(account, lease, deps, { intervalMs: Math.max(this.options.popIntervalMs, (hints.popMinIntervalSeconds ?? 0) * 1000) });
    this.running.set(account.id, { session, fingerprint: fp });
    session.start();
  }

  /**
   * Stops an account's session; `release` gives its lease back so another node may take it at
   * once; `abort` closes the connection without waiting for a LOGOUT (the lease is lost or unproven).
   */
  private async stopSession(id: string, release: boolean, abort = false): Promise<void> {
    const run = this.running.get(id);
    this.running.delete(id);
    const lease = this.leases.get(id);
    this.leases.delete(id);
    if (run) await (abort ? run.session.abort() : run.session.stop()).catch((err) => this.log.error({ err, accountId: id }, 'could not stop a sync session'));
    if (release && lease && !run?.session.leaseLost) await this.deps.repos.sync.release([lease], this.now().toISOString()).catch(() => undefined);
  }
}
