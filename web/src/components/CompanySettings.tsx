import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, problemOf, type Api } from '../api.ts';
import type { FieldProblem, Tenant } from '../types.ts';
import { Notice, ProblemNotice } from './Notice.tsx';
import { TextField } from './TextField.tsx';

/** The company email and from name used when the platform sends for the company. */
export function CompanySettings({ api, tenant, onSaved }: { api: Api; tenant: Tenant; onSaved: (t: Tenant) => void }) {
  const [companyEmail, setCompanyEmail] = useState(tenant.companyEmail);
  const [fromName, setFromName] = useState(tenant.fromName ?? '');
  const [problems, setProblems] = useState<Record<string, FieldProblem>>({});
  const [state, setState] = useState<'idle' | 'saving' | 'saved'>('idle');
  useEffect(() => {
    setCompanyEmail(tenant.companyEmail);
    setFromName(tenant.fromName ?? '');
  }, [tenant]);

  async function save(e: FormEvent) {
    e.preventDefault();
    setProblems({});
    setState('saving');
    try {
      onSaved(await api.patch<Tenant>('/v1/tenant', { companyEmail: companyEmail.trim(), fromName: fromName.trim() || null }));
      setState('saved');
    } catch (err) {
      const field = err instanceof ApiError && err.field ? err.field : 'form';
      setProblems({ [field]: problemOf(err) });
      setState('idle');
    }
  }

  return (
    <form className="card" onSubmit={save} noValidate aria-labelledby="company-title">
      <h2 id="company-title">Company settings</h2>
      <p className="muted">Used when the platform sends email for you: your customers see this name and address.</p>
      <TextField label="Company email" name="companyEmail" type="email" inputMode="email" autoComplete="email" value={companyEmail} onChange={setCompanyEmail} problem={problems.companyEmail} />
      <TextField label="From name" name="fromName" autoComplete="organization" value={fromName} onChange={setFromName} help="The sender name people see, e.g. your company name." problem={problems.fromName} />
      {problems.form ? <ProblemNotice problem={problems.form} /> : null}
      {state === 'saved' ? <Notice kind="success">Company settings saved.</Notice> : null}
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={state === 'saving'}>
          {state === 'saving' ? 'Saving…' : 'Save company settings'}
        </button>
      </div>
    </form>
  );
}
