/**
 * Configuration is declared once here, validated at start-up, and read from the environment in
 * this file only. Every other module receives the frozen {@link Config} (or a slice of it).
 *
 * @example
 *   const config = loadConfig(process.env); // throws ConfigError naming the variable
 */

export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Kind = 'string' | 'int' | 'list' | 'url';

interface VariableSpec {
  kind: Kind;
  default?: string;
  secret?: boolean;
  doc: string;
}

/** Every variable Mailport reads. API.md's "Configuration" table is the public part of this list. */
export const VARIABLES = {
  MAILPORT_PORT: { kind: 'int', default: '3000', doc: 'port of the API and settings page' },
  MAILPORT_HOST: { kind: 'string', default: '127.0.0.1', doc: 'address to listen on' },
  MAILPORT_DATA_DIR: { kind: 'string', default: './data', doc: 'folder for the SQLite database, the generated secret key and message files' },
  MAILPORT_DATABASE_URL: { kind: 'string', doc: 'sqlite:PATH or postgres://... (default sqlite:<data dir>/mailport.db)' },
  MAILPORT_SECRET_KEY: { kind: 'string', secret: true, doc: 'base64 of 32 bytes; comma-separated list to rotate (the first encrypts, all decrypt); generated into the data folder when unset' },
  MAILPORT_ADMIN_TOKEN: { kind: 'string', secret: true, doc: "the operator's bearer token; generated and printed once when unset" },
  MAILPORT_PLATFORM_SMTP_URL: { kind: 'url', secret: true, doc: 'the platform mail processor, e.g. smtps://user:pass@relay.example:465' },
  MAILPORT_PLATFORM_FROM: { kind: 'string', doc: "the platform processor's own sender address (used when a company's domain forbids others to send for it by DMARC); default: the user of MAILPORT_PLATFORM_SMTP_URL when it is an address" },
  MAILPORT_ALLOW_PRIVATE_HOSTS: { kind: 'list', default: '', doc: 'comma-separated CIDRs user-supplied hosts may resolve to' },
  MAILPORT_PUBLIC_URL: { kind: 'url', doc: 'the URL people reach Mailport at (connect-session links, OAuth callback); default http://HOST:PORT' },
  MAILPORT_VERIFY_TIMEOUT_MS: { kind: 'int', default: '15000', doc: 'bound for each protocol check when verifying an account' },
  MAILPORT_LOG_LEVEL: { kind: 'string', default: 'info', doc: 'pino level: fatal, error, warn, info, debug, trace, silent' },
  MAILPORT_BODY_LIMIT: { kind: 'int', default: String(30 * 1024 * 1024), doc: 'largest accepted request body in bytes' },
  MAILPORT_FRAME_ANCESTORS: { kind: 'list', default: "'none'", doc: "origins that may embed the settings page in a frame (space- or comma-separated, e.g. https://app.example.com); 'none' forbids framing" },
  MAILPORT_ROLE: { kind: 'string', default: 'all', doc: 'what this node does: all (API and workers), api (HTTP API and settings page only) or worker (sending, webhooks, sync; HTTP only for /healthz, /readyz, /metrics); api and worker need PostgreSQL. `serve --role` overrides it' },
  MAILPORT_SEND_VISIBILITY_SECONDS: { kind: 'int', default: '180', doc: 'how long a claimed send stays with its node: the sends of a node that died are taken again after this' },
  MAILPORT_SYNC_LOOKBACK_DAYS: { kind: 'int', default: '90', doc: 'how far back the first sync of a mailbox goes (newest first)' },
  MAILPORT_SYNC_EXTRA_FOLDERS: { kind: 'list', default: '', doc: 'comma-separated folders synced besides the Inbox and the Sent folder, where a mailbox has them (e.g. Archive)' },
  MAILPORT_SYNC_POLL_SECONDS: { kind: 'int', default: '30', doc: 'how often folders other than the Inbox are checked (the Inbox is pushed by IDLE); also the poll interval of servers without IDLE' },
  MAILPORT_SYNC_LEASE_SECONDS: { kind: 'int', default: '30', doc: "how long a node's hold on a mailbox lasts without renewal: a dead node's mailboxes move to others within this time" },
  MAILPORT_SYNC_CAPACITY: { kind: 'int', default: '5000', doc: 'most mailboxes one worker node keeps connected' },
  MAILPORT_METRICS_TOKEN: { kind: 'string', secret: true, doc: 'when set, GET /metrics requires "Authorization: Bearer <this token>"; unset, /metrics is open like /healthz' },
} as const satisfies Record<string, VariableSpec>;

export type VariableName = keyof typeof VARIABLES;

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string;
  /** null when unset: the composition root generates one into the data folder */
  secretKeys: string[] | null;
  adminToken: string | null;
  platformSmtpUrl: string | null;
  /** MAILPORT_PLATFORM_FROM; null: the SMTP URL's user when it is an address */
  platformFrom: string | null;
  allowPrivateHosts: string[];
  publicUrl: string;
  verifyTimeoutMs: number;
  logLevel: string;
  bodyLimit: number;
  /** CSP frame-ancestors sources of the settings page: ["'none'"] by default */
  frameAncestors: string[];
  /** MAILPORT_ROLE: `all` (default), `api` or `worker`; the last two need PostgreSQL */
  role: Role;
  /** MAILPORT_METRICS_TOKEN: the bearer token GET /metrics requires; null: /metrics is open */
  metricsToken: string | null;
  /** MAILPORT_SEND_VISIBILITY_SECONDS, in ms */
  sendVisibilityMs: number;
  /** MAILPORT_SYNC_*: mailbox sync */
  sync: { lookbackDays: number; extraFolders: string[]; pollMs: number; leaseMs: number; capacity: number };
}

/** What a node does: `api` serves HTTP, `worker` runs the background work, `all` both (one process). */
export type Role = 'all' | 'api' | 'worker';
export const ROLES: readonly Role[] = ['all', 'api', 'worker'];

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function raw(env: NodeJS.ProcessEnv, name: VariableName): string | undefined {
  const v = env[name];
  if (v !== undefined && v.trim() !== '') return v.trim();
  const spec: VariableSpec = VARIABLES[name];
  return spec.default;
}

function int(env: NodeJS.ProcessEnv, name: VariableName, min: number, max: number): number {
  const v = raw(env, name)!;
  if (!/^\d+$/.test(v)) throw new ConfigError(name, `must be a whole number, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}`);
  return n;
}

function url(env: NodeJS.ProcessEnv, name: VariableName, protocols: string[]): string | null {
  const v = raw(env, name);
  if (!v) return null;
  let parsed: URL;
  try {
    parsed = new URL(v);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(name, `must start with ${protocols.join(' or ')}`);
  return v;
}

/** `'none'`, `'self'`, or an http(s) origin, optionally with a `*.` wildcard for sub-domains. */
const FRAME_SOURCE = /^(?:'none'|'self'|https?:\/\/(?:\*\.)?[A-Za-z0-9.-]+(?::\d{1,5})?|\[[0-9a-fA-F:]+\](?::\d{1,5})?)$/;

function frameAncestors(env: NodeJS.ProcessEnv): string[] {
  const sources = (raw(env, 'MAILPORT_FRAME_ANCESTORS') ?? "'none'").split(/[\s,]+/).filter(Boolean).map((s) => s.replace(/\/$/, ''));
  for (const s of sources) {
    if (!FRAME_SOURCE.test(s)) throw new ConfigError('MAILPORT_FRAME_ANCESTORS', `"${s}" is not an origin such as https://app.example.com (or 'self' / 'none')`);
  }
  if (sources.length === 0) return ["'none'"];
  if (sources.includes("'none'") && sources.length > 1) throw new ConfigError('MAILPORT_FRAME_ANCESTORS', "'none' cannot be combined with origins");
  return sources;
}

/** An address only: it becomes the From of platform sends on strict-DMARC domains. */
function platformFrom(env: NodeJS.ProcessEnv): string | null {
  const v = raw(env, 'MAILPORT_PLATFORM_FROM');
  if (!v) return null;
  if (!/^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/.test(v)) throw new ConfigError('MAILPORT_PLATFORM_FROM', 'must be an address such as mail@platform.example');
  return v;
}

/** The node's role; a separate API or worker process needs a database several processes can share. */
function role(env: NodeJS.ProcessEnv, databaseUrl: string): Role {
  const v = raw(env, 'MAILPORT_ROLE')!;
  if (!(ROLES as readonly string[]).includes(v)) throw new ConfigError('MAILPORT_ROLE', `must be all, api or worker, got "${v}"`);
  if (v !== 'all' && databaseUrl.startsWith('sqlite:')) {
    throw new ConfigError('MAILPORT_ROLE', `role "${v}" (MAILPORT_ROLE or serve --role) needs PostgreSQL (MAILPORT_DATABASE_URL=postgres://...): SQLite serves one process, which runs the default role "all"`);
  }
  return v as Role;
}

function metricsToken(env: NodeJS.ProcessEnv): string | null {
  const v = raw(env, 'MAILPORT_METRICS_TOKEN') ?? null;
  if (v !== null && !/^[\x21-\x7e]{16,512}$/.test(v)) throw new ConfigError('MAILPORT_METRICS_TOKEN', 'must be 16 to 512 printable characters without spaces');
  return v;
}

/** Reads and validates the environment. Throws {@link ConfigError} on the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const port = int(env, 'MAILPORT_PORT', 0, 65535);
  const host = raw(env, 'MAILPORT_HOST')!;
  const dataDir = raw(env, 'MAILPORT_DATA_DIR')!;
  const databaseUrl = raw(env, 'MAILPORT_DATABASE_URL') ?? `sqlite:${dataDir.replace(/\/$/, '')}/mailport.db`;
  if (!/^(sqlite:|postgres:\/\/|postgresql:\/\/)/.test(databaseUrl)) {
    throw new ConfigError('MAILPORT_DATABASE_URL', 'must be sqlite:PATH or postgres://...');
  }
  const keys = raw(env, 'MAILPORT_SECRET_KEY');
  const secretKeys = keys ? keys.split(',').map((k) => k.trim()).filter(Boolean) : null;
  if (secretKeys) {
    for (const k of secretKeys) {
      if (Buffer.from(k, 'base64').length !== 32) throw new ConfigError('MAILPORT_SECRET_KEY', 'each key must be base64 of exactly 32 bytes (openssl rand -base64 32)');
    }
  }
  const adminToken = raw(env, 'MAILPORT_ADMIN_TOKEN') ?? null;
  if (adminToken !== null && adminToken.length < 16) throw new ConfigError('MAILPORT_ADMIN_TOKEN', 'must be at least 16 characters');
  const allowPrivateHosts = (raw(env, 'MAILPORT_ALLOW_PRIVATE_HOSTS') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const cidr of allowPrivateHosts) {
    if (!/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(cidr)) throw new ConfigError('MAILPORT_ALLOW_PRIVATE_HOSTS', `"${cidr}" is not a CIDR such as 10.0.0.0/8`);
  }
  const logLevel = raw(env, 'MAILPORT_LOG_LEVEL')!;
  if (!LOG_LEVELS.has(logLevel)) throw new ConfigError('MAILPORT_LOG_LEVEL', `must be one of ${[...LOG_LEVELS].join(', ')}`);
  const publicUrl = (url(env, 'MAILPORT_PUBLIC_URL', ['http:', 'https:']) ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`).replace(/\/$/, '');
  return Object.freeze({
    port,
    host,
    dataDir,
    databaseUrl,
    secretKeys,
    adminToken,
    platformSmtpUrl: url(env, 'MAILPORT_PLATFORM_SMTP_URL', ['smtp:', 'smtps:']),
    platformFrom: platformFrom(env),
    allowPrivateHosts,
    publicUrl,
    verifyTimeoutMs: int(env, 'MAILPORT_VERIFY_TIMEOUT_MS', 1000, 120000),
    logLevel,
    bodyLimit: int(env, 'MAILPORT_BODY_LIMIT', 1024, 200 * 1024 * 1024),
    frameAncestors: frameAncestors(env),
    role: role(env, databaseUrl),
    metricsToken: metricsToken(env),
    sendVisibilityMs: int(env, 'MAILPORT_SEND_VISIBILITY_SECONDS', 10, 86_400) * 1000,
    sync: {
      lookbackDays: int(env, 'MAILPORT_SYNC_LOOKBACK_DAYS', 1, 36500),
      extraFolders: (raw(env, 'MAILPORT_SYNC_EXTRA_FOLDERS') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
      pollMs: int(env, 'MAILPORT_SYNC_POLL_SECONDS', 5, 3600) * 1000,
      leaseMs: int(env, 'MAILPORT_SYNC_LEASE_SECONDS', 5, 3600) * 1000,
      capacity: int(env, 'MAILPORT_SYNC_CAPACITY', 1, 1_000_000),
    },
  });
}
