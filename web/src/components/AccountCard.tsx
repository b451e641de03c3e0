import { useState } from 'react';
import { problemOf, type Api } from '../api.ts';
import type { Account, FieldProblem } from '../types.ts';
import { ChangePassword } from './ChangePassword.tsx';
import { ConfirmDialog } from './ConfirmDialog.tsx';
import { Notice, ProblemNotice } from './Notice.tsx';
import { StatusBadge } from './StatusBadge.tsx';
import { Switch } from './Switch.tsx';
import { UsageLine } from './UsageLine.tsx';
import { isOAuthType, signInLabel, startSignIn } from '../oauth.ts';

interface Props {
  api: Api;
  account: Account;
  presetName: string | null;
  onChanged: (account: Account) => void;
  onDeleted: (id: string) => void;
}

type Outcome = { kind: 'success' | 'info'; text: string } | { kind: 'error'; problem: FieldProblem } | null;
type Confirm = 'clear' | 'delete' | null;

/** One connected provider: its status in colour and words, the last error with its hint, usage and actions. */
export function AccountCard({ api, account, presetName, onChanged, onDeleted }: Props) {
  const [busy, setBusy] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [confirm, setConfirm] = useState<Confirm>(null);
  const [changingPassword, setChangingPassword] = useState(false);
  const base = `/v1/accounts/${account.id}`;

  /** Runs an action, shows its progress and outcome, and reloads the account (a failure may have turned it red). */
  async function run(label: string, action: () => Promise<Outcome>) {
    setBusy(label);
    setOutcome(null);
    try {
      setOutcome(await action());
    } catch (err) {
      setOutcome({ kind: 'error', problem: problemOf(err) });
    } finally {
      setBusy(null);
      api.get<Account>(base).then(onChanged, () => undefined);
    }
  }

  const testSend = () => run('Sending a test email…', async () => {
    const r = await api.post<{ accepted: string[]; response: string }>(`${base}/test-send`, {});
    return { kind: 'success', text: `Test email sent to ${r.accepted.join(', ') || account.email}. The server replied: ${r.response}` };
  });
  const verify = () => run('Checking your settings…', async () => {
    const r = await api.post<{ status: string; checks: Array<{ ok: boolean; message?: string; hint?: string }> }>(`${base}/verify`, {});
    if (r.status === 'active') return { kind: 'success', text: 'Checked just now: everything works.' };
    // the reason and what to change are shown above, as the provider's last error
    return { kind: 'info', text: r.status === 'error' ? 'Checked just now: still not working.' : 'Checked just now.' };
  });
  const setEnabled = (on: boolean) => run(on ? 'Turning on…' : 'Turning off…', async () => {
    await api.post<Account>(`${base}/${on ? 'enable' : 'disable'}`, {});
    return { kind: 'info', text: on ? 'Turned on.' : 'Turned off: nothing is sent or received; the settings are kept.' };
  });
  const clear = () => run('Clearing…', async () => {
    setConfirm(null);
    await api.post<Account>(`${base}/clear`, {});
    return { kind: 'info', text: 'Settings cleared: the password was erased. Enter it again to use this provider.' };
  });
  async function remove() {
    setConfirm(null);
    setBusy('Deleting…');
    try {
      await api.del(base);
      onDeleted(account.id);
    } catch (err) {
      setOutcome({ kind: 'error', problem: problemOf(err) });
      setBusy(null);
    }
  }

  /** Gmail or Outlook not (or no longer) signed in: to the provider's sign-in; the page is left there. */
  async function signIn() {
    setBusy('Opening the sign-in page…');
    setOutcome(null);
    try {
      await startSignIn(api, account.id);
    } catch (err) {
      setOutcome({ kind: 'error', problem: problemOf(err) });
      setBusy(null);
    }
  }

  const oauth = isOAuthType(account.type) ? account.type : null;
  const headingId = `account-${account.id}`;
  const shownError = account.enabled ? account.lastError?.message : undefined;
  return (
    <article className="card account" aria-labelledby={headingId} data-account-id={account.id}>
      <header className="account-head">
        <div>
          <h3 id={headingId}>{account.name}</h3>
          <p className="muted">
            {account.email}
            {presetName ? ` · ${presetName}` : ''}
          </p>
        </div>
        <StatusBadge account={account} />
      </header>
      {account.enabled && account.lastError ? (
        <div className="last-error">
          <p className="problem-message">{account.lastError.message}</p>
          {account.lastError.hint ? <p className="problem-hint">{account.lastError.hint}</p> : null}
        </div>
      ) : null}
      {account.warnings.map((w) => (
        <p key={w.code} className="callout">{w.message}</p>
      ))}
      {!account.hasPassword && account.type === 'smtp_imap' ? <p className="callout">No password is stored: use “Change password” to enter it.</p> : null}
      <UsageLine api={api} accountId={account.id} refresh={account} />
      <Switch label="Use this provider" checked={account.enabled} disabled={busy !== null} onChange={setEnabled} />
      <div className="actions">
        {oauth && account.status !== 'active' ? (
          <button type="button" className="button button-primary" onClick={signIn} disabled={busy !== null}>{signInLabel(oauth)}</button>
        ) : null}
        <button type="button" className="button" onClick={testSend} disabled={busy !== null || !account.enabled}>Send test email</button>
        <button type="button" className="button" onClick={verify} disabled={busy !== null}>Verify now</button>
        {oauth ? null : (
          <button type="button" className="button" onClick={() => setChangingPassword(true)} disabled={busy !== null || changingPassword}>Change password</button>
        )}
        <button type="button" className="button" onClick={() => setConfirm('clear')} disabled={busy !== null}>Clear settings</button>
        <button type="button" className="button button-danger-outline" onClick={() => setConfirm('delete')} disabled={busy !== null}>Delete</button>
      </div>
      {changingPassword ? (
        <ChangePassword
          api={api}
          account={account}
          onSaved={(a) => {
            setChangingPassword(false);
            onChanged(a);
            setOutcome({ kind: 'success', text: 'Password saved and checked.' });
          }}
          onCancel={() => setChangingPassword(false)}
        />
      ) : null}
      <div className="outcome" aria-live="polite">
        {busy ? <Notice kind="info">{busy}</Notice> : null}
        {outcome?.kind === 'error' && outcome.problem.message !== shownError ? <ProblemNotice problem={outcome.problem} /> : null}
        {outcome?.kind === 'error' && outcome.problem.message === shownError ? <Notice kind="info">Not done: see what to change above.</Notice> : null}
        {outcome && outcome.kind !== 'error' ? <Notice kind={outcome.kind}>{outcome.text}</Notice> : null}
      </div>
      <ConfirmDialog
        open={confirm === 'clear'}
        title={`Clear the settings of “${account.name}”?`}
        text="The stored password is erased. The provider stays in the list, grey, until you enter the password again."
        confirmLabel="Clear settings"
        onConfirm={clear}
        onCancel={() => setConfirm(null)}
      />
      <ConfirmDialog
        open={confirm === 'delete'}
        title={`Delete “${account.name}”?`}
        text="Mailport stops sending and receiving through this mailbox and forgets its settings. Your mailbox itself is not touched."
        confirmLabel="Delete"
        onConfirm={remove}
        onCancel={() => setConfirm(null)}
      />
    </article>
  );
}
