/** The shapes of Mailport's API (API.md) that the settings page reads. */

export type Security = 'tls' | 'starttls' | 'none';
export type EndpointKind = 'smtp' | 'imap' | 'pop';

export interface Endpoint {
  host: string;
  port: number;
  security: Security;
}

export interface LastError {
  code: string;
  message: string;
  hint: string | null;
  at: string;
}

export interface Account {
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
  enabled: boolean;
  status: 'unverified' | 'active' | 'error';
  statusColor: 'grey' | 'green' | 'red';
  lastError: LastError | null;
  warnings: Array<{ code: string; message: string }>;
  limits: { perDay: number | null; perMinute: number | null };
  campaignId?: string | null;
}

export interface Preset {
  id: string;
  name: string;
  types: string[];
  smtp: Endpoint | null;
  imap: Endpoint | null;
  pop: Endpoint | null;
  auth: { password: boolean; appPassword: 'required' | 'optional' | 'no' | 'unknown'; oauth: string | null; oauthOnly?: boolean };
  notes: string[];
  username: '%EMAILADDRESS%' | '%EMAILLOCALPART%';
  enableUrl: string | null;
  appPasswordUrl: string | null;
}

export interface Discovery {
  preset: string | null;
  smtp: Endpoint | null;
  imap: Endpoint | null;
  pop: Endpoint | null;
  source: string;
  username?: string;
}

export interface Tenant {
  id: string;
  name: string;
  companyEmail: string;
  fromName: string | null;
}

export interface Usage {
  perDay: number | null;
  sentInWindow: number;
  remaining: number | null;
}

export interface SessionInfo {
  tenantId: string;
  returnUrl: string | null;
  expiresAt: string | null;
}

/** A message for one field: what happened, and what to change. */
export interface FieldProblem {
  message: string;
  hint?: string | null;
}

export interface Address {
  name: string | null;
  address: string;
}

/** A recorded message as `GET /v1/messages` lists it. */
export interface MessageSummary {
  id: string;
  accountId: string;
  direction: 'in' | 'out';
  folder: string;
  threadId: string;
  from: Address | null;
  to: Address[];
  cc: Address[];
  subject: string;
  date: string;
  snippet: string;
  hasAttachments: boolean;
}

/** `GET /v1/messages/:id`: the list item plus its bodies and attachment metadata. */
export interface MessageDetail extends MessageSummary {
  text: string | null;
  html: string | null;
  attachments: Array<{ filename: string | null; contentType: string; size: number }>;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type QueueStatus = 'queued' | 'claimed' | 'done';

export interface Campaign {
  id: string;
  name: string;
  accountId: string;
  accountIds: string[];
  receiving: boolean;
  counts: Record<QueueStatus, number>;
}

export interface QueueItem {
  id: string;
  campaignId: string;
  accountId: string;
  messageId: string;
  from: Address | null;
  subject: string;
  receivedAt: string;
  status: QueueStatus;
  claimedAt: string | null;
  doneAt: string | null;
}
