import type { AccountRow } from '../store/index.js';
import type { AccountStatus, Endpoint, LastError, Security, StatusColor } from '../core/types.js';

export interface AccountLimits {
  perDay: number | null;
  perMinute: number | null;
  perHour: number | null;
  recipientsPerMessage: number | null;
  /** over its limits, hand mail to the platform processor instead of deferring it (tenant's choice; default false) */
  fallbackToPlatform: boolean;
}

export interface Warning {
  code: string;
  message: string;
}

/** The account object of API.md. No password or token is ever part of it. */
export interface AccountView {
  id: string;
  name: string;
  type: string;
  preset: string | null;
  email: string;
  fromName: string | null;
  username: string;
  hasPassword: boolean;
  smtp: Endpoint | null;
  imap: Endpoint | null;
  pop: Endpoint | null;
  receiveEmails: boolean;
  sendVia: 'own' | 'platform';
  enabled: boolean;
  status: AccountStatus;
  statusColor: StatusColor;
  lastError: LastError | null;
  warnings: Warning[];
  limits: AccountLimits;
  campaignId: string | null;
  verifiedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export type EndpointKind = 'smtp' | 'imap' | 'pop';

export function endpointOf(row: AccountRow, kind: EndpointKind): Endpoint | null {
  const host = row[`${kind}_host`];
  const port = row[`${kind}_port`];
  const security = row[`${kind}_security`];
  if (!host || !port || !security) return null;
  return { host, port: Number(port), security: security as Security };
}

/** grey (unverified or disabled), green (active), red (error): API.md's rule, in one place. */
export function statusColor(status: AccountStatus, enabled: boolean): StatusColor {
  if (!enabled) return 'grey';
  if (status === 'active') return 'green';
  if (status === 'error') return 'red';
  return 'grey';
}

function parseJson<T>(text: string | null, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export function toView(row: AccountRow, limits: AccountLimits): AccountView {
  const status = row.status as AccountStatus;
  const enabled = row.enabled === 1;
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    preset: row.preset,
    email: row.email,
    fromName: row.from_name,
    username: row.username ?? row.email,
    hasPassword: row.password_enc !== null,
    smtp: endpointOf(row, 'smtp'),
    imap: endpointOf(row, 'imap'),
    pop: endpointOf(row, 'pop'),
    receiveEmails: row.receive_emails === 1,
    sendVia: row.send_via === 'platform' ? 'platform' : 'own',
    enabled,
    status,
    statusColor: statusColor(status, enabled),
    lastError: parseJson<LastError | null>(row.last_error, null),
    warnings: parseJson<Warning[]>(row.warnings, []),
    limits,
    campaignId: row.campaign_id,
    verifiedAt: row.verified_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
