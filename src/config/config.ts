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
}

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
  });
}
