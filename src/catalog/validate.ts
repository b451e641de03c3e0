/**
 * Checks the provider data against the {@link Preset} type when the catalog loads, so a bad edit
 * to providers.json stops the process at start-up with the preset and field named, instead of
 * surfacing later as a wrong port in some tenant's settings.
 */
import { ACCOUNT_TYPES, SECURITIES, type Endpoint } from '../core/types.js';
import {
  APP_PASSWORD_POLICIES,
  LIMIT_WINDOWS,
  MAIL_PROTOCOLS,
  OAUTH_PROVIDERS,
  USERNAME_TEMPLATES,
  type Preset,
} from './preset.js';
import { isHostName } from './template.js';

/**
 * A defect in providers.json, naming the preset and the field.
 *
 * @example
 *   // CatalogDataError: providers.json: preset "gmail", field "smtp.port": must be a whole number from 1 to 65535, got "465"
 */
export class CatalogDataError extends Error {
  constructor(presetId: string, field: string, problem: string) {
    super(`providers.json: preset "${presetId}", field "${field}": ${problem}`);
    this.name = 'CatalogDataError';
  }
}

type Obj = Record<string, unknown>;

/** Field-by-field reader that knows which preset it is reading, for error messages. */
class Reader {
  constructor(readonly presetId: string) {}

  fail(field: string, problem: string): never {
    throw new CatalogDataError(this.presetId, field, problem);
  }

  obj(v: unknown, field: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, `must be an object, got ${show(v)}`);
    return v as Obj;
  }

  str(v: unknown, field: string): string {
    if (typeof v !== 'string' || v.trim() === '') this.fail(field, `must be non-empty text, got ${show(v)}`);
    return v;
  }

  optStr(v: unknown, field: string): string | undefined {
    return v === undefined ? undefined : this.str(v, field);
  }

  url(v: unknown, field: string): string | undefined {
    if (v === undefined) return undefined;
    const s = this.str(v, field);
    if (!/^https?:\/\/[^\s]+$/.test(s)) this.fail(field, `must be an http(s) URL, got ${show(v)}`);
    return s;
  }

  bool(v: unknown, field: string): boolean {
    if (typeof v !== 'boolean') this.fail(field, `must be true or false, got ${show(v)}`);
    return v;
  }

  /** A positive whole number, or null ("not known"); undefined only when optional. */
  count(v: unknown, field: string, optional: boolean): number | null | undefined {
    if (v === undefined && optional) return undefined;
    if (v === null) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) this.fail(field, `must be a whole number above 0 or null, got ${show(v)}`);
    return v;
  }

  oneOf<T extends string>(v: unknown, allowed: readonly T[], field: string): T {
    if (typeof v !== 'string' || !allowed.includes(v as T)) this.fail(field, `must be one of ${allowed.join(', ')}, got ${show(v)}`);
    return v as T;
  }

  list<T>(v: unknown, field: string, item: (x: unknown, f: string) => T): T[] {
    if (!Array.isArray(v)) this.fail(field, `must be a list, got ${show(v)}`);
    return v.map((x, i) => item(x, `${field}[${i}]`));
  }

  domain(v: unknown, field: string): string {
    const s = this.str(v, field);
    if (s !== s.toLowerCase() || !isHostName(s)) this.fail(field, `must be a lower-case domain name, got ${show(v)}`);
    return s;
  }

  endpoint(v: unknown, field: string): Endpoint {
    const o = this.obj(v, field);
    const host = this.str(o.host, `${field}.host`);
    // hosts are either real names or templates such as mail.%EMAILDOMAIN%; 127.0.0.1 is Proton Bridge
    const probe = host.replaceAll('%EMAILDOMAIN%', 'example.com');
    if (probe !== '127.0.0.1' && !isHostName(probe)) this.fail(`${field}.host`, `must be a host name, got ${show(host)}`);
    if (/%EMAIL(ADDRESS|LOCALPART)%/.test(host)) this.fail(`${field}.host`, 'may only use the %EMAILDOMAIN% placeholder');
    const port = o.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      this.fail(`${field}.port`, `must be a whole number from 1 to 65535, got ${show(port)}`);
    }
    const security = this.oneOf(o.security, SECURITIES, `${field}.security`);
    noExtraKeys(this, o, ['host', 'port', 'security'], field);
    return { host, port, security };
  }

  endpointOrNull(v: unknown, field: string): Endpoint | null {
    return v === null ? null : this.endpoint(v, field);
  }
}

function show(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}

function noExtraKeys(r: Reader, o: Obj, allowed: string[], field: string): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) r.fail(field ? `${field}.${key}` : key, 'is not a known field (misspelt?)');
  }
}

const PRESET_KEYS = [
  'id', 'name', 'family', 'types', 'domains', 'mxDomains', 'smtp', 'imap', 'pop', 'alternatives', 'username',
  'usernameOverrides', 'auth', 'limits', 'savesSentCopy', 'sentFolder', 'popMinIntervalSeconds', 'notes',
  'enableUrl', 'appPasswordUrl', 'docs', 'unconfirmed',
];

function readPreset(raw: unknown, index: number): Preset {
  const first = new Reader(`#${index}`);
  const o = first.obj(raw, '');
  const id = first.str(o.id, 'id');
  if (!/^[a-z][a-z0-9_]*$/.test(id)) first.fail('id', `must be lower-case letters, digits and _, got ${show(id)}`);
  const r = new Reader(id);
  noExtraKeys(r, o, PRESET_KEYS, '');

  const preset: Preset = {
    id,
    name: r.str(o.name, 'name'),
    types: r.list(o.types, 'types', (x, f) => r.oneOf(x, ACCOUNT_TYPES, f)),
    domains: r.list(o.domains, 'domains', (x, f) => r.domain(x, f)),
    mxDomains: r.list(o.mxDomains, 'mxDomains', (x, f) => r.domain(x, f)),
    smtp: r.endpointOrNull(o.smtp, 'smtp'),
    imap: r.endpointOrNull(o.imap, 'imap'),
    pop: r.endpointOrNull(o.pop, 'pop'),
    username: r.oneOf(o.username, USERNAME_TEMPLATES, 'username'),
    auth: readAuth(r, o.auth),
    limits: readLimits(r, o.limits),
    savesSentCopy: o.savesSentCopy === null ? null : r.bool(o.savesSentCopy, 'savesSentCopy'),
    sentFolder: o.sentFolder === null ? null : r.str(o.sentFolder, 'sentFolder'),
    notes: r.list(o.notes, 'notes', (x, f) => r.str(x, f)),
  };
  if (preset.types.length === 0) r.fail('types', 'must name at least one account type');
  if (o.family !== undefined) preset.family = r.str(o.family, 'family');
  if (o.alternatives !== undefined) {
    const alt = r.obj(o.alternatives, 'alternatives');
    noExtraKeys(r, alt, [...MAIL_PROTOCOLS], 'alternatives');
    preset.alternatives = {};
    for (const p of MAIL_PROTOCOLS) {
      if (alt[p] !== undefined) preset.alternatives[p] = r.list(alt[p], `alternatives.${p}`, (x, f) => r.endpoint(x, f));
    }
  }
  if (o.usernameOverrides !== undefined) {
    const ov = r.obj(o.usernameOverrides, 'usernameOverrides');
    noExtraKeys(r, ov, [...MAIL_PROTOCOLS], 'usernameOverrides');
    preset.usernameOverrides = {};
    for (const p of MAIL_PROTOCOLS) {
      if (ov[p] !== undefined) preset.usernameOverrides[p] = r.oneOf(ov[p], USERNAME_TEMPLATES, `usernameOverrides.${p}`);
    }
  }
  if (o.popMinIntervalSeconds !== undefined) {
    preset.popMinIntervalSeconds = r.count(o.popMinIntervalSeconds, 'popMinIntervalSeconds', false) ?? r.fail('popMinIntervalSeconds', 'must be a number');
  }
  const enableUrl = r.url(o.enableUrl, 'enableUrl');
  if (enableUrl) preset.enableUrl = enableUrl;
  const appPasswordUrl = r.url(o.appPasswordUrl, 'appPasswordUrl');
  if (appPasswordUrl) preset.appPasswordUrl = appPasswordUrl;
  if (o.docs !== undefined) preset.docs = r.list(o.docs, 'docs', (x, f) => r.url(x, f)!);
  if (o.unconfirmed !== undefined) {
    preset.unconfirmed = r.list(o.unconfirmed, 'unconfirmed', (x, f) => r.str(x, f));
    for (const [i, path] of preset.unconfirmed.entries()) checkUnconfirmedPath(r, preset, path, `unconfirmed[${i}]`);
  }
  checkConsistency(r, preset);
  return preset;
}

function readAuth(r: Reader, v: unknown): Preset['auth'] {
  const o = r.obj(v, 'auth');
  noExtraKeys(r, o, ['password', 'passwordProtocols', 'appPassword', 'oauth', 'oauthOnly'], 'auth');
  const auth: Preset['auth'] = {
    password: r.bool(o.password, 'auth.password'),
    appPassword: r.oneOf(o.appPassword, APP_PASSWORD_POLICIES, 'auth.appPassword'),
    oauth: o.oauth === null ? null : r.oneOf(o.oauth, OAUTH_PROVIDERS, 'auth.oauth'),
  };
  if (o.passwordProtocols !== undefined) {
    auth.passwordProtocols = r.list(o.passwordProtocols, 'auth.passwordProtocols', (x, f) => r.oneOf(x, MAIL_PROTOCOLS, f));
  }
  if (o.oauthOnly !== undefined) auth.oauthOnly = r.bool(o.oauthOnly, 'auth.oauthOnly');
  return auth;
}

function readLimits(r: Reader, v: unknown): Preset['limits'] {
  const o = r.obj(v, 'limits');
  noExtraKeys(
    r, o,
    ['perDay', 'perHour', 'perMinute', 'recipientsPerMessage', 'countsRecipients', 'window', 'timeZone', 'confirmed', 'source', 'note'],
    'limits',
  );
  if (o.perDay === undefined) r.fail('limits.perDay', 'must be present (a number, or null when unknown)');
  const limits: Preset['limits'] = {
    perDay: r.count(o.perDay, 'limits.perDay', false) as number | null,
    countsRecipients: r.bool(o.countsRecipients, 'limits.countsRecipients'),
    window: r.oneOf(o.window, LIMIT_WINDOWS, 'limits.window'),
    confirmed: r.bool(o.confirmed, 'limits.confirmed'),
    source: r.str(o.source, 'limits.source'),
  };
  for (const key of ['perHour', 'perMinute', 'recipientsPerMessage'] as const) {
    const n = r.count(o[key], `limits.${key}`, true);
    if (n !== undefined) limits[key] = n;
  }
  const timeZone = r.optStr(o.timeZone, 'limits.timeZone');
  if (timeZone) {
    try {
      new Intl.DateTimeFormat('en', { timeZone });
    } catch {
      r.fail('limits.timeZone', `is not a known time zone: ${show(timeZone)}`);
    }
    limits.timeZone = timeZone;
  }
  const note = r.optStr(o.note, 'limits.note');
  if (note) limits.note = note;

  // the window must describe a limit that exists, or the limiter would count against nothing
  const main = limits.window === 'hour' ? limits.perHour : limits.window === 'minute' ? limits.perMinute : limits.perDay;
  const anyLimit = limits.perDay ?? limits.perHour ?? limits.perMinute;
  if (anyLimit != null && main == null) r.fail('limits.window', `is "${limits.window}" but that window's limit is not set`);
  if (limits.window === 'calendar_day' && !limits.timeZone) r.fail('limits.timeZone', 'is required for a calendar_day window');
  return limits;
}

function checkUnconfirmedPath(r: Reader, p: Preset, path: string, field: string): void {
  const m = /^alternatives\.(smtp|imap|pop)(?:\.(\d+))?$/.exec(path);
  if (m) {
    const list = p.alternatives?.[m[1] as 'smtp'];
    if (!list || (m[2] !== undefined && !list[Number(m[2])])) r.fail(field, `names ${show(path)}, which this preset does not have`);
    return;
  }
  const simple: Record<string, unknown> = {
    smtp: p.smtp, imap: p.imap, pop: p.pop, username: p.username, usernameOverrides: p.usernameOverrides,
    'auth.password': p.auth.password, 'auth.appPassword': p.auth.appPassword, 'auth.oauth': p.auth.oauth,
    savesSentCopy: p.savesSentCopy, sentFolder: p.sentFolder, popMinIntervalSeconds: p.popMinIntervalSeconds,
    mxDomains: p.mxDomains,
  };
  if (!(path in simple)) r.fail(field, `is not a field that can be marked unconfirmed: ${show(path)}`);
  if (simple[path] === undefined || (path !== 'savesSentCopy' && path !== 'auth.oauth' && simple[path] === null)) {
    r.fail(field, `names ${show(path)}, which this preset does not have`);
  }
}

function checkConsistency(r: Reader, p: Preset): void {
  if (p.auth.oauthOnly && p.types.includes('smtp_imap')) r.fail('types', 'lists smtp_imap but auth.oauthOnly says no password works');
  if (p.auth.oauth === 'google' && !p.types.includes('gmail')) r.fail('types', 'must include "gmail" when auth.oauth is "google"');
  if (p.auth.oauth === 'microsoft' && !p.types.includes('outlook')) r.fail('types', 'must include "outlook" when auth.oauth is "microsoft"');
  if (p.types.includes('gmail') && p.auth.oauth !== 'google') r.fail('auth.oauth', 'must be "google" for a preset of type gmail');
  if (p.types.includes('outlook') && p.auth.oauth !== 'microsoft') r.fail('auth.oauth', 'must be "microsoft" for a preset of type outlook');
  if (p.popMinIntervalSeconds !== undefined && !p.pop) r.fail('popMinIntervalSeconds', 'is set but the preset has no POP server');
}

/**
 * Validates the whole catalog: every preset, unique ids, each address domain and MX suffix in
 * one preset only, and the `other` preset present with no hosts. Returns the typed presets.
 *
 * @example
 *   const presets = validatePresets(JSON.parse(fs.readFileSync('providers.json', 'utf8')));
 */
export function validatePresets(data: unknown): Preset[] {
  const top = new Reader('(file)');
  const root = top.obj(data, '(root)');
  const presets = top.list(root.presets, 'presets', (x, f) => {
    const index = Number(/\[(\d+)\]$/.exec(f)![1]);
    return readPreset(x, index);
  });
  const seenIds = new Set<string>();
  const domainOwner = new Map<string, string>();
  const mxOwner = new Map<string, string>();
  for (const p of presets) {
    if (seenIds.has(p.id)) throw new CatalogDataError(p.id, 'id', 'is used by more than one preset');
    seenIds.add(p.id);
    for (const d of p.domains) {
      const owner = domainOwner.get(d);
      if (owner) throw new CatalogDataError(p.id, 'domains', `"${d}" is already listed by preset "${owner}"`);
      domainOwner.set(d, p.id);
    }
    for (const d of p.mxDomains) {
      const owner = mxOwner.get(d);
      if (owner) throw new CatalogDataError(p.id, 'mxDomains', `"${d}" is already listed by preset "${owner}"`);
      mxOwner.set(d, p.id);
    }
  }
  const other = presets.find((p) => p.id === 'other');
  if (!other) throw new CatalogDataError('other', 'id', 'the "other" preset must always be present');
  if (other.smtp || other.imap || other.pop || other.domains.length || other.mxDomains.length) {
    throw new CatalogDataError('other', 'smtp', 'the "other" preset has no hosts and no domains: the user types them');
  }
  return presets;
}
