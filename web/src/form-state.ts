import type { Discovery, Endpoint, EndpointKind, FieldProblem, Preset, Security } from './types.ts';

/** One server as typed: the port stays text until it is sent (the field refuses non-digits). */
export interface EndpointDraft {
  host: string;
  port: string;
  security: Security;
}

export interface ProviderDraft {
  name: string;
  /** a preset id, 'other', or '' while nothing is chosen */
  presetId: string;
  presetChosenByUser: boolean;
  email: string;
  /** null while untouched: the provider's default (usually the email address) applies */
  username: string | null;
  password: string;
  smtp: EndpointDraft;
  imap: EndpointDraft;
  pop: EndpointDraft;
  /** server kinds the person edited: discovery no longer changes them */
  edited: EndpointKind[];
  /** a preset's server settings opened for editing */
  customServers: boolean;
  receive: boolean;
  receiveVia: 'imap' | 'pop';
  /** Gmail or Google Workspace with an app password (type smtp_imap) instead of "Sign in with Google" */
  useAppPassword: boolean;
}

export const OTHER = 'other';

const EMPTY: EndpointDraft = { host: '', port: '', security: 'tls' };

export function emptyDraft(): ProviderDraft {
  return {
    name: '',
    presetId: '',
    presetChosenByUser: false,
    email: '',
    username: null,
    password: '',
    smtp: { ...EMPTY },
    imap: { ...EMPTY },
    pop: { ...EMPTY },
    edited: [],
    customServers: false,
    receive: false,
    receiveVia: 'imap',
    useAppPassword: false,
  };
}

export const DEFAULT_PORTS: Record<EndpointKind, Record<Security, number>> = {
  smtp: { tls: 465, starttls: 587, none: 25 },
  imap: { tls: 993, starttls: 143, none: 143 },
  pop: { tls: 995, starttls: 110, none: 110 },
};

export const EMAIL_RE = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;

export function domainOf(email: string): string {
  return email.trim().split('@')[1] ?? '';
}

/** A preset's host with `%EMAILDOMAIN%` filled in from the address. */
export function fillEndpoint(e: Endpoint, email: string): EndpointDraft {
  return { host: e.host.replace(/%EMAILDOMAIN%/g, domainOf(email) || 'example.com'), port: String(e.port), security: e.security };
}

export function defaultUsername(email: string, preset: Preset | undefined): string {
  const e = email.trim();
  if (preset?.username === '%EMAILLOCALPART%') return e.split('@')[0] ?? e;
  return e;
}

export function usernameOf(d: ProviderDraft, preset: Preset | undefined): string {
  return d.username ?? defaultUsername(d.email, preset);
}

/** Whether the server fields are on screen (Other, or a preset opened for editing). */
export function showsServers(d: ProviderDraft): boolean {
  return d.presetId === OTHER || d.customServers;
}

/** The preset's servers as drafts, for a person who wants to change them. */
export function serversFromPreset(d: ProviderDraft, preset: Preset | undefined): Pick<ProviderDraft, 'smtp' | 'imap' | 'pop'> {
  const pick = (kind: EndpointKind) => {
    const e = preset?.[kind];
    return e ? fillEndpoint(e, d.email) : d[kind];
  };
  return { smtp: pick('smtp'), imap: pick('imap'), pop: pick('pop') };
}

/** Applies what discovery found, without overriding anything the person chose or typed. */
export function applyDiscovery(d: ProviderDraft, found: Discovery, presets: Preset[]): ProviderDraft {
  if (d.presetChosenByUser) return d;
  const known = found.preset && found.preset !== OTHER && presets.some((p) => p.id === found.preset);
  if (known) return { ...d, presetId: found.preset!, customServers: false };
  const next: ProviderDraft = { ...d, presetId: OTHER };
  for (const kind of ['smtp', 'imap', 'pop'] as const) {
    const e = found[kind];
    if (e && !d.edited.includes(kind)) next[kind] = { host: e.host, port: String(e.port), security: e.security };
  }
  return next;
}

/** Problems found before asking the server (empty fields), keyed like the API's `error.field`. */
export function checkDraft(d: ProviderDraft, signsIn = false): Record<string, FieldProblem> {
  const p: Record<string, FieldProblem> = {};
  if (!d.name.trim()) p.name = { message: 'Give this provider a name, for example "Sales" or your company name.' };
  if (!d.presetId) p.preset = { message: 'Choose your email provider, or "Other / not listed".' };
  if (!EMAIL_RE.test(d.email.trim())) p.email = { message: 'Enter the full email address, for example name@example.com.' };
  if (!signsIn && !d.password) p.password = { message: 'Enter the password of this mailbox (or its app password).' };
  if (showsServers(d)) {
    const kinds: EndpointKind[] = ['smtp'];
    if (d.receive) kinds.push(d.receiveVia);
    for (const kind of kinds) {
      const e = d[kind];
      if (!e.host.trim()) p[`${kind}.host`] = { message: 'Enter the server name, for example mail.example.com.' };
      const port = Number(e.port);
      if (!/^\d+$/.test(e.port) || port < 1 || port > 65535) p[`${kind}.port`] = { message: 'Enter the port: a number from 1 to 65535.' };
    }
  }
  return p;
}

function endpoint(e: EndpointDraft): Endpoint {
  return { host: e.host.trim(), port: Number(e.port), security: e.security };
}

/** The body of `POST /v1/accounts` for this draft. */
export function toRequest(d: ProviderDraft, preset: Preset | undefined): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: d.name.trim(),
    type: 'smtp_imap',
    preset: d.presetId,
    email: d.email.trim(),
    username: usernameOf(d, preset).trim() || d.email.trim(),
    password: d.password,
    receiveEmails: d.receive,
  };
  const servers = showsServers(d);
  if (servers) body.smtp = endpoint(d.smtp);
  if (d.receive && d.receiveVia === 'pop') {
    body.imap = null;
    body.pop = servers ? endpoint(d.pop) : {};
  } else if (d.receive && servers) {
    body.imap = endpoint(d.imap);
  }
  return body;
}

/** The body of `POST /v1/accounts` for a provider that signs in (type gmail or outlook): saved grey, no password. */
export function toSignInRequest(d: ProviderDraft, type: 'gmail' | 'outlook'): Record<string, unknown> {
  return { name: d.name.trim(), type, preset: d.presetId, email: d.email.trim(), receiveEmails: d.receive };
}

/** Where a server's `error.field` is shown on this form. */
export function fieldKey(field: string | null, d: ProviderDraft): string {
  if (!field) return 'form';
  if (field === 'type' || field === 'preset') return 'preset';
  if (field === 'imap' || field === 'pop') return 'receive';
  if (/^(smtp|imap|pop)(\.|$)/.test(field)) return showsServers(d) ? field : 'servers';
  return field;
}
