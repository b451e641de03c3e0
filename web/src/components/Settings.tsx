import { useEffect, useState } from 'react';
import { problemOf, type Api } from '../api.ts';
import type { Account, FieldProblem, Preset, SessionInfo, Tenant } from '../types.ts';
import { AccountCard } from './AccountCard.tsx';
import { AccountForm } from './AccountForm.tsx';
import { CompanySettings } from './CompanySettings.tsx';
import { Notice, ProblemNotice } from './Notice.tsx';
import { statusText } from './StatusBadge.tsx';

interface Loaded {
  session: SessionInfo;
  tenant: Tenant;
  presets: Preset[];
  accounts: Account[];
}

/** The whole page once the caller is known: providers, "Add provider", company settings. */
export function Settings({ api }: { api: Api }) {
  const [data, setData] = useState<Loaded | null>(null);
  const [loadProblem, setLoadProblem] = useState<FieldProblem | null>(null);
  const [adding, setAdding] = useState(false);
  const [saved, setSaved] = useState<Account | null>(null);

  useEffect(() => {
    Promise.all([
      api.get<SessionInfo>('/v1/connect-session'),
      api.get<Tenant>('/v1/tenant'),
      api.get<Preset[]>('/v1/presets'),
      api.get<{ items: Account[] }>('/v1/accounts'),
    ]).then(
      ([session, tenant, presets, accounts]) => setData({ session, tenant, presets, accounts: accounts.items }),
      (err) => setLoadProblem(problemOf(err)),
    );
  }, [api]);

  if (loadProblem) return <ProblemNotice problem={loadProblem} />;
  if (!data) return <Notice kind="info">Loading your email settings…</Notice>;

  const presetName = (id: string | null) => data.presets.find((p) => p.id === id)?.name ?? null;
  const setAccounts = (f: (a: Account[]) => Account[]) => setData((d) => (d ? { ...d, accounts: f(d.accounts) } : d));
  const returnUrl = data.session.returnUrl;
  const done = returnUrl ? (
    <a className="button button-primary" href={returnUrl} target="_top" rel="noopener">
      Done
    </a>
  ) : null;

  return (
    <>
      <header className="page-head">
        <div>
          <h1>Email settings</h1>
          <p className="muted">{data.tenant.name}</p>
        </div>
        {done}
      </header>
      {saved ? (
        <div className="notice notice-success saved" role="status">
          <p>
            <strong>Saved “{saved.name}”.</strong> Status: {statusText(data.accounts.find((a) => a.id === saved.id) ?? saved)}.
            {returnUrl ? ' Press Done when you have finished.' : ''}
          </p>
        </div>
      ) : null}
      <section aria-labelledby="providers-title" className="stack">
        <div className="section-head">
          <h2 id="providers-title">Email providers</h2>
          {!adding ? (
            <button type="button" className="button button-primary" onClick={() => { setAdding(true); setSaved(null); }}>
              Add provider
            </button>
          ) : null}
        </div>
        {data.accounts.length === 0 && !adding ? (
          <p className="muted">No email provider is connected yet. Until you add one, email is sent by the platform for {data.tenant.name}.</p>
        ) : null}
        {adding ? (
          <AccountForm
            api={api}
            presets={data.presets}
            onCancel={() => setAdding(false)}
            onSaved={(account) => {
              setAccounts((list) => [...list, account]);
              setAdding(false);
              setSaved(account);
            }}
          />
        ) : null}
        {data.accounts.map((a) => (
          <AccountCard
            key={a.id}
            api={api}
            account={a}
            presetName={presetName(a.preset)}
            onChanged={(next) => setAccounts((list) => list.map((x) => (x.id === next.id ? next : x)))}
            onDeleted={(id) => setAccounts((list) => list.filter((x) => x.id !== id))}
          />
        ))}
      </section>
      <CompanySettings api={api} tenant={data.tenant} onSaved={(tenant) => setData((d) => (d ? { ...d, tenant } : d))} />
    </>
  );
}
