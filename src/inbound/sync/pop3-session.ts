import { endpointOf } from '../../accounts/account.view.js';
import { MailportError } from '../../core/errors.js';
import type { Endpoint } from '../../core/types.js';
import { classify } from '../../protocols/classify.js';
import { runSession } from '../../protocols/context.js';
import { Pop3Client } from '../../protocols/pop3.js';
import type { AccountRow, Lease } from '../../store/index.js';
import { MailboxSession, type SessionDeps } from './session.js';

/** How long one check may take at most (a large backlog is fetched over several checks). */
const CHECK_BUDGET_MS = 10 * 60_000;
/** UIDLs recorded after this many messages, so an interrupted check does not start over. */
const SAVE_EVERY = 50;

/**
 * A receive-only POP3 mailbox: checked every `interval` (never more often than the provider
 * allows: HostGator counts logins), new messages found by UIDL, fetched with RETR and recorded as
 * incoming; mail is left on the server. POP3 has no Sent folder and no flags, so nothing sent from
 * the mailbox's own mail program can be recorded. The first check takes the backlog (not queued
 * into campaigns); later checks queue what is new.
 *
 * @example
 *   const s = new Pop3Session(row, lease, deps, { intervalMs: 120_000 });
 *   s.start(); ... await s.stop();
 */
export class Pop3Session extends MailboxSession {
  private client: Pop3Client | null = null;
  private readonly ep: Endpoint;

  constructor(account: AccountRow, lease: Lease, deps: SessionDeps, private readonly opts: { intervalMs: number }) {
    super(account, lease, deps);
    this.ep = endpointOf(account, 'pop')!;
  }

  protected classified(err: unknown): MailportError {
    if (err instanceof MailportError) return err;
    return classify(err, { protocol: 'pop3', endpoint: this.ep, phase: 'command', auth: 'password' });
  }

  protected closeNow(): void {
    this.client?.close();
  }

  protected async shutdown(): Promise<void> {
    this.closeNow();
  }

  protected async connectAndSync(): Promise<void> {
    while (!this.stopping) {
      await this.setState('syncing');
      const first = (await this.deps.repos.sync.getAccount(this.account.id))?.initial_done_at == null;
      const found = await this.check(first);
      await this.ok();
      this.log.debug({ fetched: found }, 'pop3 check done');
      await this.setState('idle', first ? { initial_done_at: this.deps.now().toISOString() } : {});
      await this.sleep(this.opts.intervalMs);
    }
  }

  /** One check: sign in, UIDL, RETR what is new, QUIT. Returns how many messages were fetched. */
  private async check(backlog: boolean): Promise<number> {
    const cred = await this.deps.credentials(this.account);
    const ctx = { ...this.deps.checkContext(this.account), timeoutMs: CHECK_BUDGET_MS };
    const o = this.deps.options;
    return runSession('pop3', this.ep, cred, ctx, async (run) => {
      const client = new Pop3Client({
        host: run.resolved.address, hostName: run.resolved.host, port: this.ep.port, security: this.ep.security,
        connectTimeoutMs: o.connectTimeoutMs, greetingTimeoutMs: o.connectTimeoutMs, timeoutMs: o.commandTimeoutMs,
      });
      this.client = client;
      run.onAbort(() => client.close());
      try {
        await client.connect();
        run.phase('auth');
        await client.login(cred.user, cred.accessToken ? { accessToken: cred.accessToken } : { password: cred.password ?? '' });
        run.phase('command');
        const listed = await client.uidl();
        const seen = await this.deps.repos.sync.popSeen(this.account.id);
        const onServer = new Set(listed.map((m) => m.uid));
        const gone = [...seen].filter((u) => !onServer.has(u));
        const fresh = listed.filter((m) => !seen.has(m.uid));
        let added: Array<{ uidl: string; messagePk: string | null }> = [];
        const flush = async (forget: string[]) => {
          await this.deps.repos.sync.savePopSeen(this.lease, added, forget, this.deps.now().toISOString());
          added = [];
        };
        for (const m of fresh) {
          if (this.stopping) break;
          const raw = await client.retr(m.n);
          const res = await this.deps.correspondence.ingest({ tenantId: this.account.tenant_id, accountId: this.account.id, folder: 'INBOX', raw, backlog }, { account: this.account });
          added.push({ uidl: m.uid, messagePk: res.id });
          if (added.length >= SAVE_EVERY) await flush([]);
        }
        await flush(gone);
        await client.quit().catch(() => undefined);
        return fresh.length;
      } finally {
        this.client = null;
        client.close();
      }
    });
  }
}
