import { invalid, notFound } from '../core/errors.js';
import { newId, newToken } from '../core/ids.js';
import { hashToken } from '../secrets/secret-box.js';
import type { Repositories, TenantRow } from '../store/index.js';

export interface TenantView {
  id: string;
  name: string;
  companyEmail: string;
  fromName: string | null;
  createdAt: string;
  updatedAt: string;
}

const EMAIL_RE = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;

function toView(row: TenantRow): TenantView {
  return { id: row.id, name: row.name, companyEmail: row.company_email, fromName: row.from_name, createdAt: row.created_at, updatedAt: row.updated_at };
}

function checkEmail(field: string, email: string): string {
  const e = email.trim();
  if (!EMAIL_RE.test(e) || e.length > 254) throw invalid(field, `${field} must be an address such as hello@example.com`);
  return e;
}

/**
 * Tenants (the platform's business customers) and their API keys. A key is shown once, at
 * creation; only its SHA-256 is stored.
 *
 * @example
 *   const { tenant, apiKey } = await tenants.create({ name: 'Acme', companyEmail: 'hello@acme.test' });
 */
export class TenantsService {
  constructor(private readonly repos: Repositories, private readonly now: () => Date = () => new Date()) {}

  async create(input: { name: string; companyEmail: string; fromName?: string | null }): Promise<{ tenant: TenantView; apiKey: string }> {
    const name = input.name.trim();
    if (!name) throw invalid('name', 'name must not be empty');
    const companyEmail = checkEmail('companyEmail', input.companyEmail);
    const at = this.now().toISOString();
    const id = newId('ten');
    const apiKey = newToken('mp_key');
    const row: TenantRow = { id, name, company_email: companyEmail, from_name: input.fromName?.trim() || null, created_at: at, updated_at: at };
    await this.repos.tenants.insert(row, { id: newId('key'), tenant_id: id, key_hash: hashToken(apiKey), prefix: apiKey.slice(0, 12), created_at: at, last_used_at: null });
    return { tenant: toView(row), apiKey };
  }

  async get(id: string): Promise<TenantView> {
    const row = await this.repos.tenants.get(id);
    if (!row) throw notFound('Tenant');
    return toView(row);
  }

  async list(): Promise<TenantView[]> {
    return (await this.repos.tenants.list()).map(toView);
  }

  async update(id: string, input: { name?: string; companyEmail?: string; fromName?: string | null }): Promise<TenantView> {
    const patch: { name?: string; company_email?: string; from_name?: string | null } = {};
    if (input.name !== undefined) {
      if (!input.name.trim()) throw invalid('name', 'name must not be empty');
      patch.name = input.name.trim();
    }
    if (input.companyEmail !== undefined) patch.company_email = checkEmail('companyEmail', input.companyEmail);
    if (input.fromName !== undefined) patch.from_name = input.fromName?.trim() || null;
    const row = await this.repos.tenants.update(id, patch, this.now().toISOString());
    if (!row) throw notFound('Tenant');
    return toView(row);
  }

  /** The tenant an API key belongs to, or undefined. */
  async authenticate(apiKey: string): Promise<TenantView | undefined> {
    const row = await this.repos.tenants.findByKeyHash(hashToken(apiKey), this.now().toISOString());
    return row ? toView(row) : undefined;
  }
}
