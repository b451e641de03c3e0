/**
 * The shape of one provider preset, exactly as `providers.json` stores it. The data is the
 * source of truth (reference/providers.md, kept as data rather than code); `validate.ts`
 * checks the file against these types when the catalog loads.
 */
import type { AccountType, Endpoint } from '../core/types.js';

/** Login-name templates, in Thunderbird's autoconfig placeholder syntax. */
export type UsernameTemplate = '%EMAILADDRESS%' | '%EMAILLOCALPART%';
export const USERNAME_TEMPLATES: readonly UsernameTemplate[] = ['%EMAILADDRESS%', '%EMAILLOCALPART%'];

export type MailProtocol = 'smtp' | 'imap' | 'pop';
export const MAIL_PROTOCOLS: readonly MailProtocol[] = ['smtp', 'imap', 'pop'];

/**
 * `required`: the normal password is refused, an app password works instead;
 * `optional`: the normal password works, app passwords too (typically once 2FA is on);
 * `no`: the provider has no app passwords; `unknown`: our sources do not say.
 */
export type AppPasswordPolicy = 'required' | 'optional' | 'no' | 'unknown';
export const APP_PASSWORD_POLICIES: readonly AppPasswordPolicy[] = ['required', 'optional', 'no', 'unknown'];

/** The OAuth flows Mailport itself implements (account types `gmail` and `outlook`). */
export type OAuthProvider = 'google' | 'microsoft';
export const OAUTH_PROVIDERS: readonly OAuthProvider[] = ['google', 'microsoft'];

export interface PresetAuth {
  /** whether the mailbox's normal password is accepted by the mail protocols */
  password: boolean;
  /** when set, password sign-in works only on these protocols (Microsoft 365: SMTP only) */
  passwordProtocols?: MailProtocol[];
  appPassword: AppPasswordPolicy;
  oauth: OAuthProvider | null;
  /** true when no password of any kind works: only the OAuth sign-in connects */
  oauthOnly?: boolean;
}

/**
 * The window of the preset's main limit: `rolling_24h` and `calendar_day` apply to `perDay`,
 * `hour` when the main limit is `perHour`, `minute` when only `perMinute` is known.
 */
export type LimitWindow = 'rolling_24h' | 'calendar_day' | 'hour' | 'minute';
export const LIMIT_WINDOWS: readonly LimitWindow[] = ['rolling_24h', 'calendar_day', 'hour', 'minute'];

export interface PresetLimits {
  /** null: no number is known; the operator or tenant should set one */
  perDay: number | null;
  perHour?: number | null;
  perMinute?: number | null;
  recipientsPerMessage?: number | null;
  /**
   * true: every window counts each recipient as one send. Where a provider counts messages in
   * one window and recipients in another (Microsoft 365: 30 messages a minute, 10,000
   * recipients a day) this is the conservative reading of both.
   */
  countsRecipients: boolean;
  window: LimitWindow;
  /** IANA zone where a `calendar_day` window starts (Rackspace: 00:00 US Eastern) */
  timeZone?: string;
  /** false when no primary or otherwise solid source backs the numbers */
  confirmed: boolean;
  /** where the numbers come from, with the source tag used in providers.md */
  source: string;
  note?: string;
}

export interface PresetAlternatives {
  smtp?: Endpoint[];
  imap?: Endpoint[];
  pop?: Endpoint[];
}

/** One entry of the provider catalog. Hosts may contain `%EMAILDOMAIN%` (see `fillTemplate`). */
export interface Preset {
  id: string;
  name: string;
  /** presets that are regional or product variants of one provider share a family (zoho, gmx, ionos) */
  family?: string;
  types: AccountType[];
  /** address domains served by this provider (a sub-domain of one matches too) */
  domains: string[];
  /** MX host suffixes that identify a custom domain hosted by this provider */
  mxDomains: string[];
  smtp: Endpoint | null;
  imap: Endpoint | null;
  pop: Endpoint | null;
  alternatives?: PresetAlternatives;
  username: UsernameTemplate;
  /** a protocol whose login name differs from `username` (iCloud IMAP per the ISPDB) */
  usernameOverrides?: Partial<Record<MailProtocol, UsernameTemplate>>;
  auth: PresetAuth;
  limits: PresetLimits;
  /** true: the server files SMTP-sent mail in Sent itself; false: Mailport must APPEND; null: unknown, search first */
  savesSentCopy: boolean | null;
  /** name hint for the Sent folder when the server does not flag it `\Sent` */
  sentFolder: string | null;
  /** do not poll POP3 more often than this (HostGator counts logins per hour) */
  popMinIntervalSeconds?: number;
  /** plain-words advice for the mailbox owner */
  notes: string[];
  /** where the owner switches IMAP/POP/SMTP access on */
  enableUrl?: string;
  /** where the owner learns to create an app password */
  appPasswordUrl?: string;
  docs?: string[];
  /**
   * Fields whose values no primary or otherwise solid source backs (providers.md
   * "unconfirmed" or "3rd-party"): `smtp`, `imap`, `pop`, `alternatives.smtp` (all of them) or
   * `alternatives.smtp.1` (one), `username`, `usernameOverrides`, `auth.password`,
   * `auth.appPassword`, `auth.oauth`, `savesSentCopy`, `sentFolder`, `popMinIntervalSeconds`,
   * `mxDomains`. Limits carry their own `confirmed` flag.
   */
  unconfirmed?: string[];
}
