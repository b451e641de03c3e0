import type { CheckResult, Endpoint, Security } from '../core/types.js';
import { SECURITIES } from '../core/types.js';
import { isMailportError } from '../core/errors.js';
import { Catalog } from '../catalog/catalog.js';
import { discover, defaultDiscoveryDeps } from '../catalog/discover.js';
import { AddressGuard } from '../net/guard.js';
import { providerFacts, verifyEndpoints } from '../protocols/verify.js';

/** A mistake in how the command was called (exit code 2). */
export class UsageError extends Error {}

export interface DoctorOptions {
  email: string;
  password: string;
  smtp?: string;
  imap?: string;
  pop?: string;
  username?: string;
  allowPrivateHosts: string[];
  timeoutMs: number;
  out: (line: string) => void;
}

/** `HOST:PORT:SECURITY` (IPv6 hosts in brackets) → Endpoint. */
export function parseEndpoint(flag: string, text: string): Endpoint {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5}):(tls|starttls|none)$/.exec(text.trim());
  if (!m) throw new UsageError(`--${flag} must be HOST:PORT:SECURITY with SECURITY one of ${SECURITIES.join(', ')} (e.g. smtp.example.com:587:starttls)`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new UsageError(`--${flag}: port must be from 1 to 65535`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port, security: m[3] as Security };
}

const LABEL: Record<Security, string> = { tls: 'SSL/TLS', starttls: 'STARTTLS', none: 'no encryption' };
const fmt = (ep: Endpoint | null | undefined) => (ep ? `${ep.host}:${ep.port} (${LABEL[ep.security]})` : 'none');

/**
 * `mailport doctor EMAIL`: discovers settings for an address, checks them for real, and prints a
 * result a person can act on. Returns the process exit code (0 when every check passed).
 */
export async function runDoctor(o: DoctorOptions): Promise<number> {
  const catalog = new Catalog();
  const guard = new AddressGuard({ allow: o.allowPrivateHosts });
  let found;
  try {
    found = await discover(o.email, defaultDiscoveryDeps(catalog, { guard }));
  } catch (err) {
    o.out(`✗ ${isMailportError(err) ? err.message : String(err)}`);
    return 2;
  }
  const preset = found.preset ? catalog.get(found.preset) : undefined;
  const smtp = o.smtp ? parseEndpoint('smtp', o.smtp) : found.smtp;
  const imap = o.imap ? parseEndpoint('imap', o.imap) : o.pop ? null : found.imap;
  const pop = o.pop ? parseEndpoint('pop', o.pop) : null;
  o.out(`Mailport doctor for ${o.email}`);
  o.out(`  provider: ${preset ? preset.name : 'not in the catalog'} (settings from ${o.smtp || o.imap || o.pop ? 'the command line' : found.source})`);
  o.out(`  SMTP: ${fmt(smtp)}`);
  o.out(`  ${pop ? 'POP3' : 'IMAP'}: ${fmt(pop ?? imap)}`);
  for (const note of preset?.notes ?? []) o.out(`  note: ${note}`);
  o.out('');
  const target: { smtp?: Endpoint; imap?: Endpoint; pop?: Endpoint } = {};
  if (smtp) target.smtp = smtp;
  if (imap) target.imap = imap;
  if (pop) target.pop = pop;
  const user = o.username ?? found.username ?? o.email;
  const checks: CheckResult[] = await verifyEndpoints(target, { user, password: o.password }, {
    guard,
    timeoutMs: o.timeoutMs,
    provider: providerFacts(preset),
  });
  for (const c of checks) {
    if (c.ok) {
      o.out(`✓ ${c.protocol.toUpperCase()} works (${c.ms} ms)`);
    } else {
      o.out(`✗ ${c.protocol.toUpperCase()} failed: ${c.code}`);
      if (c.message) o.out(`    ${c.message}`);
      if (c.response) o.out(`    server said: ${c.response}`);
      if (c.hint) o.out(`    what to change: ${c.hint}`);
    }
  }
  const ok = checks.length > 0 && checks.every((c) => c.ok);
  o.out('');
  o.out(ok ? 'All checks passed: these settings work.' : checks.length === 0 ? 'Nothing to check: no settings were found.' : 'Some checks failed: see above.');
  return ok ? 0 : 1;
}
