import { useEffect, useState, type ReactNode } from 'react';
import { problemOf, type Api } from '../api.ts';
import type { Account, FieldProblem, Preset, SessionInfo, Tenant } from '../types.ts';
import { AccountCard } from './AccountCard.tsx';
import { AccountForm } from './AccountForm.tsx';
import { CompanySettings } from './CompanySettings.tsx';
import { Notice, ProblemNotice } from './Notice.tsx';
import { statusText } from './StatusBadge.tsx';
import { takeSignInResult, type SignInResult } from '../oauth.ts';
import { CampaignQueues } from './CampaignQueues.tsx';
import { Correspondence } from './Correspondence.tsx';
import { ViewTabs, panelId, rememberView, tabId, viewFromAddress, type View } from './ViewTabs.tsx';

interface Loaded {
  session: SessionInfo;
  tenant: Tenant;
  presets: Preset[];
  accounts: Account[];
}

/** The whole page once the caller is known: providers, "Add provider", company settings; and the Messages and Campaigns views. */
export function Settings({ api }: { api: Api }) {
  const [data, setData] = useState<Loaded | null>(null);
  const [loadProblem, setLoadProblem] = useState<FieldProblem | null>(null);
  const [adding, setAdding] = useState(false);
  const [saved, setSaved] = useState<{ account: Account; problem?: FieldProblem } | null>(null);
  // back from the provider's sign-in: the outcome is in the address once, then removed from it
  const [signedIn, setSignedIn] = useState<SignInResult | null>(takeSignInResult);
  const [view, setView] = useState<View>(viewFromAddress);
  // a view is kept (with what was typed in it) once opened; the others are hidden
  const [opened, setOpened] = useState<Set<View>>(() => new Set([view]));

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

  const show = (v: View) => {
    setView(v);
    setOpened((o) => (o.has(v) ? o : new Set([...o, v])));
    rememberView(v);
  };
  const panel = (v: View, content: () => ReactNode) =>
    opened.has(v) ? (
      <div role="tabpanel" id={panelId(v)} aria-labelledby={tabId(v)} hidden={view !== v} className="stack panel">
        {content()}
      </div>
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
      <ViewTabs value={view} onChange={show} />
      {panel('settings', () => (
        <>
          {signedIn ? <SignInOutcome result={signedIn} account={data.accounts.find((a) => a.id === signedIn.accountId)} returnUrl={returnUrl} /> : null}
          {saved ? (
            <div className={`notice ${saved.problem ? 'notice-info' : 'notice-success'} saved`} role="status">
              <p>
                <strong>Saved “{saved.account.name}”.</strong> Status: {statusText(data.accounts.find((a) => a.id === saved.account.id) ?? saved.account)}.
                {returnUrl && !saved.problem ? ' Press Done when you have finished.' : ''}
              </p>
            </div>
          ) : null}
          {saved?.problem ? <ProblemNotice problem={saved.problem} /> : null}
          <section aria-labelledby="providers-title" className="stack">
            <div className="section-head">
              <h2 id="providers-title">Email providers</h2>
              {!adding ? (
                <button type="button" className="button button-primary" onClick={() => { setAdding(true); setSaved(null); setSignedIn(null); }}>
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
                onSaved={(account, problem) => {
                  setAccounts((list) => [...list, account]);
                  setAdding(false);
                  setSaved({ account, problem });
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
      ))}
      {panel('messages', () => <Correspondence api={api} accounts={data.accounts} />)}
      {panel('campaigns', () => <CampaignQueues api={api} accounts={data.accounts} />)}
    </>
  );
}

/** The outcome of "Sign in with Google" / "Activate Outlook", in plain words: connected, or what went wrong and what to do. */
function SignInOutcome({ result, account, returnUrl }: { result: SignInResult; account: Account | undefined; returnUrl: string | null }) {
  const name = account ? `“${account.name}”` : 'The provider';
  if (result.status === 'active') {
    return (
      <div className="notice notice-success signed-in" role="status">
        <p>
          <strong>Connected.</strong> {name} works now: email is sent through it.
          {returnUrl ? ' Press Done when you have finished.' : ''}
        </p>
      </div>
    );
  }
  const hint = account?.lastError && account.lastError.code === result.code ? account.lastError.hint : null;
  return (
    <ProblemNotice
      problem={{
        message: `Not connected: ${result.message ?? 'the sign-in did not complete.'}`,
        hint: hint ?? `Press “${account?.type === 'outlook' ? 'Activate Outlook' : 'Sign in with Google'}” to try again.`,
      }}
    />
  );
}
