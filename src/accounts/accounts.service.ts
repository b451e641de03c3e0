import type { Transaction } from 'kysely';
import { ERRORS, MailportError, invalid, notFound, type ErrorCode } from '../core/errors.js';
import type { EventRecorder } from '../events/event-types.js';
import { newId } from '../core/ids.js';
import type { AccountType, CheckResult, Credentials, Endpoint, LastError } from '../core/types.js';
import type { Catalog, Preset } from '../catalog/catalog.js';
import { fillTemplate } from '../catalog/catalog.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { credentialFingerprint } from '../secrets/secret-box.js';
import type { AccountPatch, AccountRow, Repositories } from '../store/index.js';
import type { Database } from '../store/schema.js';
import { endpointOf, toView, type AccountLimits, type AccountView, type EndpointKind, type Warning } from './account.view.js';

/** Runs protocol checks (protocols/verify.ts in production). */
export type Verifier = (
  target: { smtp?: Endpoint; imap?: Endpoint; pop?: Endpoint },
  cred: Credentials,
  provider: Preset | undefined,
) => Promise<CheckResult[]>;

/** Sends one message now (protocols/smtp.ts sendTestMessage in production). */
export type TestSender = (
  smtp: Endpoint,
  cred: Credentials,
  message: { from: { name?: string | null; address: string }; to: string; subject: string; text: string },
  provider: Preset | undefined,
) => Promise<{ result: CheckResult; sent?: { messageId: string; accepted: string[]; rejected: string[]; response: string } }>;

export interface EndpointInput {
  host?: string;
  port?: number;
  security?: Endpoint['security'];
}

/** The body of POST /v1/accounts and PATCH /v1/accounts/:id after schema validation. */
export interface AccountInput {
  name?: string;
  type?: AccountType;
  preset?: string | null;
  email?: string;
  fromName?: string | null;
  username?: string | null;
  password?: string;
  smtp?: EndpointInput | null;
  imap?: EndpointInput | null;
  pop?: EndpointInput | null;
  receiveEmails?: boolean;
  sendVia?: 'own' | 'platform';
  enabled?: boolean;
  limits?: { perDay?: number | null; perMinute?: number | null; perHour?: number | null; recipientsPerMessage?: number | null; fallbackToPlatform?: boolean } | null;
  campaignId?: string | null;
}

/** A 422 from verification: the failed check decides the code; every check is reported. */
export class VerificationError extends MailportError {
  constructor(
    code: ErrorCode,
    readonly checks: CheckResult[],
    options: ConstructorParameters<typeof MailportError>[1],
  ) {
    super(code, options);
  }
}

export interface Usage {
  perDay: number | null;
  perMinute: number | null;
  sentInWindow: number;
  remaining: number | null;
  windowResetsAt: string | null;
}

/** Codes after which the same credentials must not be tried again without a person (providers lock mailboxes). */
const AUTH_CODES = new Set(['AUTH_FAILED', 'APP_PASSWORD_REQUIRED', 'OAUTH_REQUIRED', 'OAUTH_REVOKED']);

/** Which failures say something about the account's settings (and so turn it red). */
const MailportErrorActions = {
  fixSettings: (code: ErrorCode) => code in ERRORS && (ERRORS[code].action === 'fix_settings' || ERRORS[code].action === 'reauthorize'),
};

const KINDS: EndpointKind[] = ['smtp', 'imap', 'pop'];
const PROTOCOL_OF: Record<EndpointKind, CheckResult['protocol']> = { smtp: 'smtp', imap: 'imap', pop: 'pop3' };
const KIND_OF: Record<CheckResult['protocol'], EndpointKind> = { smtp: 'smtp', imap: 'imap', pop3: 'pop' };

/** Which field a failed check points at, so the settings page can show it there. */
function fieldFor(code: string, kind: EndpointKind): string {
  switch (code) {
    case 'AUTH_FAILED':
    case 'APP_PASSWORD_REQUIRED':
    case 'OAUTH_REQUIRED':
      return 'password';
    case 'TLS_MISMATCH':
    case 'STARTTLS_UNAVAILABLE':
      return `${kind}.security`;
    case 'CONNECTION_REFUSED':
    case 'TIMEOUT':
    case 'PROTOCOL_ERROR':
      return `${kind}.port`;
    case 'POP_ONLY':
      return 'imap';
    default:
      return `${kind}.host`;
  }
}

const EMAIL_RE = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;

/** The settings of an account while it is being created or changed, before it is saved. */
interface Draft {
  name: string;
  type: AccountType;
  preset: string | null;
  email: string;
  fromName: string | null;
  username: string | null;
  /** plaintext, only in memory; undefined = keep what is stored */
  password: string | undefined;
  smtp: Endpoint | null;
  imap: Endpoint | null;
  pop: Endpoint | null;
  receiveEmails: boolean;
  sendVia: 'own' | 'platform';
  enabled: boolean;
  limits: AccountInput['limits'] | null;
  campaignId: string | null;
}

/** Where account events go (the webhooks module), stored with the change they report. */
export type EventSink = EventRecorder<'account.active' | 'account.error'>;

export interface AccountsServiceDeps {
  repos: Repositories;
  box: SecretBox;
  catalog: Catalog;
  verifier: Verifier;
  testSender: TestSender;
  /** whether MAILPORT_PLATFORM_SMTP_URL is set */
  platformConfigured: boolean;
  events?: EventSink;
  /** OAuth sign-in of gmail/outlook accounts (the oauth module); absent: they cannot log in */
  oauth?: {
    credentials(row: AccountRow, opts?: { rejected?: string }): Promise<Credentials>;
    verify(row: AccountRow): Promise<{ status: string; checks: CheckResult[] }>;
    erase(accountId: string): Promise<void>;
  };
  /** counted usage against the limits (the outbound module's SendLimiter); absent: nothing counted */
  usage?: (row: AccountRow) => Promise<Usage>;
  /**
   * A test send's room in the account's limits, as any send asks (SendLimiter.admit): a reservation
   * id to release if it does not go out, null when nothing is counted, or when it must wait;
   * absent: test sends are not counted
   */
  limits?: {
    admit(row: AccountRow): Promise<string | null | { ok: false; retryAt: Date; window: string; reason?: string }>;
    release(reservation: string): Promise<void>;
  };
  now?: () => Date;
}

/**
 * Connected email providers: the rules of API.md's Accounts section. Verifies before saving,
 * keeps the grey/green/red status, and never returns or logs a secret.
 *
 * @example
 *   const view = await accounts.create(tenantId, { name: 'Sales', type: 'smtp_imap', preset: 'fastmail', email, password });
 */
export class AccountsService {
  private readonly now: () => Date;

  constructor(private readonly deps: AccountsServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async list(tenantId: string): Promise<AccountView[]> {
    const rows = await this.deps.repos.accounts.list(tenantId);
    return rows.map((r) => this.view(r));
  }

  async get(tenantId: string, id: string): Promise<AccountView> {
    return this.view(await this.row(tenantId, id));
  }

  async create(tenantId: string, input: AccountInput, options: { verify: boolean }): Promise<AccountView> {
    if (input.name === undefined) throw invalid('name', 'name is required');
    if (input.type === undefined) throw invalid('type', 'type is required');
    if (input.email === undefined) throw invalid('email', 'email is required');
    const draft = this.draftFrom(undefined, input);
    await this.checkCampaign(tenantId, draft.campaignId, null);
    const checks = options.verify ? await this.verifyDraft(draft, undefined) : null;
    const at = this.now().toISOString();
    const id = newId('acc');
    const row: AccountRow = {
      id,
      tenant_id: tenantId,
      ...this.columns(draft, id, undefined),
      ...this.outcome(draft, checks, at),
      campaign_id: draft.campaignId,
      created_at: at,
      updated_at: at,
    };
    await this.saveWithEvent((within) => this.deps.repos.accounts.insert(row, within), (saved) => (saved.status === 'active' ? 'account.active' : null));
    return this.view(row);
  }

  async update(tenantId: string, id: string, input: AccountInput, options: { verify: boolean }): Promise<AccountView> {
    const current = await this.row(tenantId, id);
    const draft = this.draftFrom(current, input);
    await this.checkCampaign(tenantId, draft.campaignId, current.campaign_id);
    const changed = this.connectionChanged(current, draft);
    const at = this.now().toISOString();
    let patch: AccountPatch = { ...this.columns(draft, id, current), campaign_id: draft.campaignId, updated_at: at };
    if (changed) {
      // new connection settings or credentials: verify before saving (nothing is saved on failure)
      const checks = options.verify ? await this.verifyDraft(draft, current) : null;
      patch = { ...patch, ...this.outcome(draft, checks, at) };
    } else {
      patch.warnings = JSON.stringify(this.warnings(draft, current.warnings));
    }
    const saved = await this.saveWithEvent((within) => this.deps.repos.accounts.update(tenantId, id, patch, within), (row) => (row.status === 'active' && current.status !== 'active' ? 'account.active' : null));
    if (!saved) throw notFound('Account');
    return this.view(saved);
  }

  async delete(tenantId: string, id: string): Promise<void> {
    if (!(await this.deps.repos.accounts.delete(tenantId, id))) throw notFound('Account');
  }

  async setEnabled(tenantId: string, id: string, enabled: boolean): Promise<AccountView> {
    const saved = await this.deps.repos.accounts.update(tenantId, id, { enabled: enabled ? 1 : 0, updated_at: this.now().toISOString() });
    if (!saved) throw notFound('Account');
    return this.view(saved);
  }

  /** "Clear settings": erases the password (and later tokens); the account goes back to grey. */
  async clear(tenantId: string, id: string): Promise<AccountView> {
    const saved = await this.deps.repos.accounts.update(tenantId, id, {
      password_enc: null,
      status: 'unverified',
      last_error: null,
      auth_failed_fingerprint: null,
      verified_at: null,
      updated_at: this.now().toISOString(),
    });
    if (!saved) throw notFound('Account');
    await this.deps.oauth?.erase(id);
    return this.view(saved);
  }

  /** A person asked: check now with the stored settings, whatever failed before, and record the outcome. */
  async verify(tenantId: string, id: string): Promise<{ status: string; checks: CheckResult[] }> {
    const row = await this.row(tenantId, id);
    if ((row.type === 'gmail' || row.type === 'outlook') && this.deps.oauth) return this.deps.oauth.verify(row);
    const draft = this.draftFrom(row, {});
    const checks = await this.runChecks(draft, row);
    const required = this.requiredKinds(draft);
    const failed = checks.find((c) => !c.ok && required.has(KIND_OF[c.protocol]));
    if (failed) {
      await this.recordFailure(tenantId, id, { code: failed.code ?? 'PROTOCOL_ERROR', message: failed.message ?? '', hint: failed.hint ?? null });
      return { status: 'error', checks };
    }
    if (checks.length === 0 && (draft.type === 'gmail' || draft.type === 'outlook')) {
      return { status: row.status, checks };
    }
    await this.recordSuccess(tenantId, id, this.warnings(draft, row.warnings, checks));
    return { status: 'active', checks };
  }

  /**
   * "Send test email": one real message now through the account's own SMTP (to the account's own
   * address unless `to` is given). It counts against the account's limits as any message does, and
   * is refused (422 LIMIT_REACHED) while they, or the provider's own block, leave no room. A failure
   * is a classified 422; a login failure also turns the account red, as any later failure does.
   */
  async testSend(tenantId: string, id: string, input: { to?: string }): Promise<{ messageId: string; accepted: string[]; response: string }> {
    const row = await this.row(tenantId, id);
    const to = (input.to ?? row.email).trim();
    if (!EMAIL_RE.test(to) || to.length > 254) throw invalid('to', 'to must be an address such as name@example.com');
    const smtp = endpointOf(row, 'smtp');
    const oauthType = row.type === 'gmail' || row.type === 'outlook';
    if (oauthType && !this.deps.oauth) {
      throw new MailportError('OAUTH_REQUIRED', { message: 'This account has not been signed in yet.', hint: `Use "Sign in with ${row.type === 'gmail' ? 'Google' : 'Microsoft'}" first.`, protocol: 'smtp' });
    }
    if (row.type === 'platform' || row.send_via === 'platform' || !smtp) {
      throw new MailportError('CONFLICT', { message: 'This account sends through the platform mail processor, not its own SMTP server; a test send needs an account that sends itself.' });
    }
    const cred = await this.loginCredentials(row, 'smtp');
    const preset = row.preset ? this.deps.catalog.get(row.preset) : undefined;
    const room = this.deps.limits ? await this.deps.limits.admit(row) : null;
    if (room !== null && typeof room !== 'string') {
      const until = room.retryAt.toISOString();
      throw new MailportError('LIMIT_REACHED', {
        message: room.reason === 'penalty' ? `The provider said the sending limit of this mailbox is reached; it rests until ${until}.` : `The ${room.window} sending limit of this mailbox is used up until ${until}; a test email would go over it.`,
        protocol: 'smtp',
      });
    }
    const { result, sent } = await this.deps.testSender(smtp, cred, {
      from: { name: row.from_name, address: row.email },
      to,
      subject: 'Mailport test email',
      text: `This is a test message from Mailport, sent through ${smtp.host} for the account "${row.name}" (${row.email}).\n\nIf you can read it, sending works.`,
    }, preset);
    if (!result.ok || !sent) {
      if (typeof room === 'string') await this.deps.limits!.release(room);
      const code = (result.code ?? 'PROTOCOL_ERROR') as ErrorCode;
      if (MailportErrorActions.fixSettings(code)) await this.recordFailure(tenantId, id, { code, message: result.message ?? '', hint: result.hint ?? null });
      throw new MailportError(code, { message: result.message, hint: result.hint, protocol: 'smtp', response: result.response, field: code === 'SEND_REJECTED' ? 'to' : fieldFor(code, 'smtp') });
    }
    return { messageId: sent.messageId, accepted: sent.accepted, response: sent.response };
  }

  async usage(tenantId: string, id: string): Promise<Usage> {
    const row = await this.row(tenantId, id);
    if (this.deps.usage) return this.deps.usage(row);
    const view = this.view(row);
    return { perDay: view.limits.perDay, perMinute: view.limits.perMinute, sentInWindow: 0, remaining: view.limits.perDay, windowResetsAt: null };
  }

  /**
   * Turns an account red after a failure found now or later (verify, send, sync). After an
   * authentication failure the same credentials are not tried again automatically:
   * {@link mayRetryAutomatically} says no until they change or a person verifies.
   */
  async recordFailure(tenantId: string, id: string, error: { code: string; message: string; hint: string | null }): Promise<void> {
    const row = await this.row(tenantId, id);
    const at = this.now().toISOString();
    const lastError: LastError = { code: error.code, message: error.message, hint: error.hint, at };
    // one event per change of state, not one per failed attempt
    const sameError = row.status === 'error' && row.last_error !== null && (JSON.parse(row.last_error) as LastError).code === error.code;
    const patch: AccountPatch = { status: 'error', last_error: JSON.stringify(lastError), auth_failed_fingerprint: AUTH_CODES.has(error.code) ? this.fingerprint(row) : null, updated_at: at };
    await this.saveWithEvent((within) => this.deps.repos.accounts.update(tenantId, id, patch, within), () => (sameError ? null : 'account.error'));
  }

  async recordSuccess(tenantId: string, id: string, warnings?: Warning[]): Promise<void> {
    const at = this.now().toISOString();
    const patch: AccountPatch = { status: 'active', last_error: null, auth_failed_fingerprint: null, verified_at: at, updated_at: at };
    if (warnings) patch.warnings = JSON.stringify(warnings);
    const before = await this.row(tenantId, id);
    await this.saveWithEvent((within) => this.deps.repos.accounts.update(tenantId, id, patch, within), () => (before.status !== 'active' ? 'account.active' : null));
  }

  /**
   * Saves a change of the account (`save`, which runs `within` in the change's transaction) with
   * the event that reports it, if `typeOf` the saved row names one: stored together or not at all.
   */
  private async saveWithEvent(
    save: (within?: (tx: Transaction<Database>, saved: AccountRow) => Promise<void>) => Promise<AccountRow | undefined>,
    typeOf: (saved: AccountRow) => 'account.active' | 'account.error' | null,
  ): Promise<AccountRow | undefined> {
    const events = this.deps.events;
    if (!events) return save();
    let wanted = false;
    const saved = await save(async (tx, row) => {
      const type = typeOf(row);
      if (type === null) return;
      const view = this.view(row);
      wanted = await events.recordIn(tx, row.tenant_id, type, { accountId: view.id, name: view.name, email: view.email, status: view.status, lastError: view.lastError });
    });
    if (wanted) events.recorded();
    return saved;
  }

  /**
   * How to sign in to the account's servers now: for gmail/outlook a fresh access token (a new one
   * when `rejected` is the token a server just refused; the password while a move to OAuth is not
   * signed in yet), otherwise the stored password. AUTH_FAILED (field `password`) when there is none.
   *
   * @example
   *   const cred = await accounts.loginCredentials(row, 'imap');
   */
  async loginCredentials(row: AccountRow, protocol: 'smtp' | 'imap' | 'pop3', opts: { rejected?: string } = {}): Promise<Credentials> {
    if ((row.type === 'gmail' || row.type === 'outlook') && this.deps.oauth) return this.deps.oauth.credentials(row, opts);
    const password = this.password(row);
    if (!password) throw new MailportError('AUTH_FAILED', { message: 'No password is stored for this account.', hint: 'Enter the password (or app password) again.', field: 'password', protocol });
    return { user: row.username ?? row.email, password };
  }

  /** Whether a worker may log in with this account's credentials without a person asking. */
  mayRetryAutomatically(row: AccountRow): boolean {
    if (row.enabled !== 1) return false;
    return row.auth_failed_fingerprint === null || row.auth_failed_fingerprint !== this.fingerprint(row);
  }

  /** The stored password, decrypted for a protocol login (never leaves the process). */
  password(row: AccountRow): string | undefined {
    return row.password_enc ? this.deps.box.open(row.password_enc, `account:${row.id}:password`) : undefined;
  }

  effectiveLimits(row: Pick<AccountRow, 'preset' | 'limits'>): AccountLimits {
    const preset = row.preset ? this.deps.catalog.get(row.preset) : undefined;
    const own = row.limits ? (JSON.parse(row.limits) as Partial<AccountLimits>) : {};
    const pick = (a: number | null | undefined, b: number | null | undefined): number | null => {
      const vals = [a, b].filter((v): v is number => typeof v === 'number');
      return vals.length ? Math.min(...vals) : null;
    };
    return {
      perDay: pick(own.perDay, preset?.limits.perDay),
      perMinute: pick(own.perMinute, preset?.limits.perMinute),
      perHour: pick(own.perHour, preset?.limits.perHour),
      recipientsPerMessage: pick(own.recipientsPerMessage, preset?.limits.recipientsPerMessage),
      fallbackToPlatform: own.fallbackToPlatform === true,
    };
  }

  // ---------------------------------------------------------------- internals

  private view(row: AccountRow): AccountView {
    return toView(row, this.effectiveLimits(row));
  }

  private async row(tenantId: string, id: string): Promise<AccountRow> {
    const row = await this.deps.repos.accounts.get(tenantId, id);
    if (!row) throw notFound('Account');
    return row;
  }

  /** A campaign an account is newly attached to must be one of the tenant's (400 campaignId otherwise). */
  private async checkCampaign(tenantId: string, campaignId: string | null, current: string | null): Promise<void> {
    if (campaignId === null || campaignId === current) return;
    if (!(await this.deps.repos.campaigns.get(tenantId, campaignId))) {
      throw invalid('campaignId', `there is no campaign "${campaignId}"; GET /v1/campaigns lists yours (POST /v1/campaigns creates one)`);
    }
  }

  private fingerprint(row: AccountRow): string {
    return credentialFingerprint(
      [row.username ?? row.email, row.password_enc, row.smtp_host, row.smtp_port, row.smtp_security, row.imap_host, row.imap_port, row.imap_security, row.pop_host, row.pop_port, row.pop_security],
      row.id,
    );
  }

  private preset(id: string | null | undefined, field = 'preset'): Preset | undefined {
    if (!id) return undefined;
    const p = this.deps.catalog.get(id);
    if (!p) throw invalid(field, `unknown preset "${id}"; GET /v1/presets lists them`);
    return p;
  }

  /** Merges the input over what is stored (or nothing), fills from the preset, and checks the rules. */
  private draftFrom(current: AccountRow | undefined, input: AccountInput): Draft {
    const type = input.type ?? (current?.type as AccountType | undefined) ?? 'smtp_imap';
    let presetId = input.preset !== undefined ? input.preset : current?.preset ?? null;
    if (!presetId && (type === 'gmail' || type === 'outlook')) presetId = type;
    const preset = this.preset(presetId);
    if (preset && !preset.types.includes(type)) {
      throw invalid('type', `the ${preset.name} preset supports type ${preset.types.join(' or ')}, not ${type}`);
    }
    const email = (input.email ?? current?.email ?? '').trim();
    if (!EMAIL_RE.test(email) || email.length > 254) throw invalid('email', 'email must be an address such as name@example.com');
    const receiveEmails = input.receiveEmails ?? (current ? current.receive_emails === 1 : false);
    const sendVia = type === 'platform' ? 'platform' : input.sendVia ?? (current?.send_via as 'own' | 'platform' | undefined) ?? 'own';
    // a new account, or a new preset, takes the preset's hosts; otherwise the stored ones stay.
    // IMAP comes from the preset even when not receiving (it serves the Sent-folder copy); POP only
    // when asked for, or when receiving from a provider that has no IMAP.
    const presetChanged = !current || presetId !== current.preset;
    const endpoint = (kind: EndpointKind): Endpoint | null => {
      const given = input[kind];
      if (given === null) return null;
      const wanted = kind !== 'pop' || given !== undefined || (receiveEmails && !preset?.imap);
      const fromPreset = wanted && preset?.[kind] ? fillTemplate(preset[kind]!, email) : null;
      const base = presetChanged ? fromPreset : current ? endpointOf(current, kind) : null;
      const merged = { ...(fromPreset ?? {}), ...(base ?? {}), ...(given ?? {}) } as Partial<Endpoint>;
      if (merged.host === undefined && merged.port === undefined && merged.security === undefined) return null;
      if (!merged.host) throw invalid(`${kind}.host`, `${kind}.host is required`);
      if (merged.port === undefined) throw invalid(`${kind}.port`, `${kind}.port is required`);
      if (!merged.security) throw invalid(`${kind}.security`, `${kind}.security is required (tls, starttls or none)`);
      return { host: merged.host.trim().toLowerCase(), port: merged.port, security: merged.security };
    };
    const draft: Draft = {
      name: (input.name ?? current?.name ?? '').trim(),
      type,
      preset: presetId,
      email,
      fromName: input.fromName !== undefined ? input.fromName : current?.from_name ?? null,
      username: input.username !== undefined ? input.username : current?.username ?? null,
      password: input.password,
      smtp: endpoint('smtp'),
      imap: endpoint('imap'),
      pop: endpoint('pop'),
      receiveEmails,
      sendVia,
      enabled: input.enabled ?? (current ? current.enabled === 1 : true),
      limits: input.limits !== undefined ? input.limits : current?.limits ? JSON.parse(current.limits) : null,
      campaignId: input.campaignId !== undefined ? input.campaignId : current?.campaign_id ?? null,
    };
    if (!draft.name) throw invalid('name', 'name must not be empty');
    if (!draft.username && preset?.username && preset.username !== '%EMAILADDRESS%') {
      draft.username = fillTemplate({ host: preset.username, port: 1, security: 'tls' }, email).host;
    }
    if (type === 'platform') {
      draft.smtp = null;
    } else if (sendVia === 'own' && !draft.smtp) {
      throw invalid('smtp', 'SMTP settings are required to send from this mailbox (or choose a provider preset)');
    }
    if (receiveEmails && !draft.imap && !draft.pop) {
      throw invalid('imap', 'receiving needs IMAP (or POP3) settings');
    }
    if ((type === 'gmail' || type === 'outlook') && input.password !== undefined) {
      throw invalid('password', `${type === 'gmail' ? 'Google' : 'Microsoft'} accounts sign in with OAuth; use type smtp_imap to connect with an app password`);
    }
    this.checkLimits(draft, preset);
    return draft;
  }

  private checkLimits(draft: Draft, preset: Preset | undefined): void {
    if (!draft.limits) return;
    for (const key of ['perDay', 'perMinute', 'perHour', 'recipientsPerMessage'] as const) {
      const own = draft.limits[key];
      const max = preset?.limits[key];
      if (typeof own === 'number' && typeof max === 'number' && own > max) {
        throw invalid(`limits.${key}`, `limits.${key} can only lower the provider's limit of ${max}`);
      }
    }
  }

  /** Which endpoints must pass for the account to be saved and active. */
  private requiredKinds(draft: Draft): Set<EndpointKind> {
    const kinds = new Set<EndpointKind>();
    if (draft.type === 'gmail' || draft.type === 'outlook') return kinds; // OAuth sign-in verifies them
    if (draft.sendVia === 'own' && draft.smtp) kinds.add('smtp');
    if (draft.receiveEmails) kinds.add(draft.imap ? 'imap' : 'pop');
    return kinds;
  }

  private async runChecks(draft: Draft, current: AccountRow | undefined): Promise<CheckResult[]> {
    if (draft.type === 'gmail' || draft.type === 'outlook') return [];
    const required = this.requiredKinds(draft);
    const preset = draft.preset ? this.deps.catalog.get(draft.preset) : undefined;
    const target: { smtp?: Endpoint; imap?: Endpoint; pop?: Endpoint } = {};
    for (const kind of KINDS) {
      const ep = draft[kind];
      // IMAP that is not required is still checked when Mailport will need it for the Sent-folder
      // copy (own sending, and a provider not known to file the copy itself)
      const forSentCopy = kind === 'imap' && draft.sendVia === 'own' && preset?.savesSentCopy !== true;
      if (ep && (required.has(kind) || forSentCopy || (kind !== 'smtp' && draft.receiveEmails))) target[kind] = ep;
    }
    if (Object.keys(target).length === 0) return [];
    const password = draft.password ?? (current ? this.password(current) : undefined);
    if (!password) throw invalid('password', 'password is required to verify the connection');
    return this.deps.verifier(target, { user: draft.username ?? draft.email, password }, preset);
  }

  private async verifyDraft(draft: Draft, current: AccountRow | undefined): Promise<CheckResult[]> {
    const checks = await this.runChecks(draft, current);
    const required = this.requiredKinds(draft);
    const failed = checks.find((c) => !c.ok && required.has(KIND_OF[c.protocol]));
    if (failed) {
      const kind = KIND_OF[failed.protocol];
      const code = (failed.code ?? 'PROTOCOL_ERROR') as ErrorCode;
      throw new VerificationError(code, checks, {
        message: failed.message,
        hint: failed.hint,
        field: fieldFor(code, kind),
        protocol: failed.protocol,
      });
    }
    return checks;
  }

  private warnings(draft: Draft, stored: string | undefined, checks?: CheckResult[] | null): Warning[] {
    const out: Warning[] = [];
    for (const kind of KINDS) {
      if (draft[kind]?.security === 'none') {
        out.push({ code: 'PLAINTEXT_PASSWORD', message: `${PROTOCOL_OF[kind].toUpperCase()} uses no encryption: the password crosses the network readable.` });
      }
    }
    if (draft.type === 'platform' && !this.deps.platformConfigured) {
      out.push({ code: 'PLATFORM_NOT_CONFIGURED', message: 'The platform mail processor is not configured (MAILPORT_PLATFORM_SMTP_URL), so nothing can be sent yet.' });
    }
    if (draft.pop && !draft.imap) {
      out.push({ code: 'POP_RECEIVE_ONLY', message: 'POP3 can only receive: mail you send is not recorded and there is no Sent folder.' });
    }
    const sourceChecks = checks ?? null;
    if (sourceChecks) {
      for (const c of sourceChecks) {
        if (!c.ok && !this.requiredKinds(draft).has(KIND_OF[c.protocol])) {
          out.push({ code: 'SENT_COPY_UNAVAILABLE', message: `${c.protocol.toUpperCase()} check failed (${c.code}): copies of sent mail cannot be kept in your Sent folder. ${c.hint ?? ''}`.trim() });
        }
      }
    } else if (stored) {
      for (const w of JSON.parse(stored) as Warning[]) if (w.code === 'SENT_COPY_UNAVAILABLE') out.push(w);
    }
    return out;
  }

  /** Status columns after a save: active when checks ran and passed, unverified when none ran. */
  private outcome(draft: Draft, checks: CheckResult[] | null, at: string): Pick<AccountRow, 'status' | 'last_error' | 'warnings' | 'auth_failed_fingerprint' | 'verified_at'> {
    const verified = checks !== null && (checks.length > 0 || (draft.type === 'platform' && this.deps.platformConfigured));
    return {
      status: verified ? 'active' : 'unverified',
      last_error: null,
      warnings: JSON.stringify(this.warnings(draft, undefined, checks)),
      auth_failed_fingerprint: null,
      verified_at: verified ? at : null,
    };
  }

  private columns(draft: Draft, id: string, current: AccountRow | undefined): Omit<AccountRow, 'id' | 'tenant_id' | 'status' | 'last_error' | 'warnings' | 'auth_failed_fingerprint' | 'verified_at' | 'campaign_id' | 'created_at' | 'updated_at'> {
    const passwordEnc = draft.password !== undefined ? this.deps.box.seal(draft.password, `account:${id}:password`) : current?.password_enc ?? null;
    const ep = (kind: EndpointKind) => ({
      [`${kind}_host`]: draft[kind]?.host ?? null,
      [`${kind}_port`]: draft[kind]?.port ?? null,
      [`${kind}_security`]: draft[kind]?.security ?? null,
    });
    return {
      name: draft.name,
      type: draft.type,
      preset: draft.preset,
      email: draft.email,
      from_name: draft.fromName,
      username: draft.username,
      // gmail/outlook take no password; one kept from before a move to OAuth is erased once the sign-in works
      password_enc: draft.type === 'gmail' || draft.type === 'outlook' ? current?.password_enc ?? null : passwordEnc,
      ...(ep('smtp') as { smtp_host: string | null; smtp_port: number | null; smtp_security: string | null }),
      ...(ep('imap') as { imap_host: string | null; imap_port: number | null; imap_security: string | null }),
      ...(ep('pop') as { pop_host: string | null; pop_port: number | null; pop_security: string | null }),
      receive_emails: draft.receiveEmails ? 1 : 0,
      send_via: draft.sendVia,
      enabled: draft.enabled ? 1 : 0,
      limits: draft.limits ? JSON.stringify(draft.limits) : null,
    };
  }

  /** Whether the change touches how Mailport connects or logs in (then it is verified again). */
  private connectionChanged(current: AccountRow, draft: Draft): boolean {
    if (draft.password !== undefined) return true;
    if (draft.type !== current.type || draft.email !== current.email || (draft.username ?? null) !== (current.username ?? null)) return true;
    if (draft.receiveEmails !== (current.receive_emails === 1) || draft.sendVia !== current.send_via) return true;
    for (const kind of KINDS) {
      const a = endpointOf(current, kind);
      const b = draft[kind];
      if (JSON.stringify(a) !== JSON.stringify(b)) return true;
    }
    return false;
  }
}
