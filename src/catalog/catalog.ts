/**
 * The provider catalog: presets loaded from providers.json (validated once, when this module is
 * first imported), looked up by id, address domain or MX host, and shaped for `GET /v1/presets`.
 */
// A JSON import (rather than readFileSync on a URL) makes tsc copy the file into dist/ with the code.
import shipped from './providers.json' with { type: 'json' };
import type { AccountType, Endpoint } from '../core/types.js';
import type { Preset, PresetAlternatives, PresetAuth, PresetLimits, UsernameTemplate } from './preset.js';
import { validatePresets } from './validate.js';

export type { Preset, PresetAlternatives, PresetAuth, PresetLimits, UsernameTemplate } from './preset.js';
export { fillTemplate, fillText, parseEmail, type EmailParts } from './template.js';
export { CatalogDataError, validatePresets } from './validate.js';

/** The shipped presets, validated and frozen at start-up: a malformed file stops the process here. */
const SHIPPED: readonly Preset[] = validatePresets(shipped).map(deepFreeze);

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/**
 * Lookups over a list of presets (the shipped ones unless a test passes its own).
 *
 * @example
 *   const catalog = new Catalog();
 *   catalog.byDomain('gmail.com')?.id;               // 'gmail'
 *   catalog.byMxHost('aspmx.l.google.com')?.id;      // 'google_workspace'
 */
export class Catalog {
  private readonly presets: readonly Preset[];
  private readonly byId = new Map<string, Preset>();
  private readonly domainIndex = new Map<string, Preset>();
  /** MX suffixes, longest first, so `olc.protection.outlook.com` wins over a shorter suffix */
  private readonly mxSuffixes: Array<[string, Preset]> = [];

  constructor(presets: readonly Preset[] = SHIPPED) {
    this.presets = presets;
    for (const p of presets) {
      this.byId.set(p.id, p);
      for (const d of p.domains) this.domainIndex.set(d, p);
      for (const d of p.mxDomains) this.mxSuffixes.push([d, p]);
    }
    this.mxSuffixes.sort((a, b) => b[0].length - a[0].length);
  }

  /** Every preset, in catalog order (`other` included). */
  list(): Preset[] {
    return [...this.presets];
  }

  get(id: string): Preset | undefined {
    return this.byId.get(id);
  }

  /**
   * The preset serving an address domain. A sub-domain of a listed domain matches too, because
   * some providers give every customer one (Microsoft 365's `contoso.onmicrosoft.com`).
   */
  byDomain(domain: string): Preset | undefined {
    let name = normalizeName(domain);
    for (;;) {
      const hit = this.domainIndex.get(name);
      if (hit) return hit;
      const dot = name.indexOf('.');
      if (dot < 0) return undefined;
      name = name.slice(dot + 1);
    }
  }

  /** The preset whose MX suffix ends the host name on a label boundary (`notgoogle.com` is not Google). */
  byMxHost(mxHost: string): Preset | undefined {
    const host = normalizeName(mxHost);
    for (const [suffix, preset] of this.mxSuffixes) {
      if (host === suffix || host.endsWith(`.${suffix}`)) return preset;
    }
    return undefined;
  }
}

/** One entry of `GET /v1/presets` (API.md's fields first, then the extras a settings page needs). */
export interface ApiPreset {
  id: string;
  name: string;
  types: AccountType[];
  smtp: Endpoint | null;
  imap: Endpoint | null;
  pop: Endpoint | null;
  auth: PresetAuth;
  limits: PresetLimits;
  savesSentCopy: boolean | null;
  notes: string[];
  family: string | null;
  alternatives: PresetAlternatives;
  username: UsernameTemplate;
  domains: string[];
  sentFolder: string | null;
  enableUrl: string | null;
  appPasswordUrl: string | null;
  docs: string[];
  unconfirmed: string[];
}

/**
 * A preset in API.md's shape. Hosts keep their `%EMAILDOMAIN%` placeholder: the page fills
 * them once the user has typed an address. Returns a fresh copy the caller may change.
 *
 * @example
 *   reply.send(new Catalog().list().map(presetToApi));
 */
export function presetToApi(p: Preset): ApiPreset {
  return structuredClone({
    id: p.id,
    name: p.name,
    types: p.types,
    smtp: p.smtp,
    imap: p.imap,
    pop: p.pop,
    auth: p.auth,
    limits: p.limits,
    savesSentCopy: p.savesSentCopy,
    notes: p.notes,
    family: p.family ?? null,
    alternatives: p.alternatives ?? {},
    username: p.username,
    domains: p.domains,
    sentFolder: p.sentFolder,
    enableUrl: p.enableUrl ?? null,
    appPasswordUrl: p.appPasswordUrl ?? null,
    docs: p.docs ?? [],
    unconfirmed: p.unconfirmed ?? [],
  });
}
