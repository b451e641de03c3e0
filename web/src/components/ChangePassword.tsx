import { useState, type FormEvent } from 'react';
import { ApiError, problemOf, type Api } from '../api.ts';
import type { Account, FieldProblem } from '../types.ts';
import { Notice } from './Notice.tsx';
import { TextField } from './TextField.tsx';

interface Props {
  api: Api;
  account: Account;
  onSaved: (account: Account) => void;
  onCancel: () => void;
}

/** Replaces the stored password (which is never shown): saving checks the new one first. */
export function ChangePassword({ api, account, onSaved, onCancel }: Props) {
  const [password, setPassword] = useState('');
  const [problem, setProblem] = useState<FieldProblem | null>(null);
  const [other, setOther] = useState<FieldProblem | null>(null);
  const [saving, setSaving] = useState(false);

  async function save(e: FormEvent) {
    e.preventDefault();
    setOther(null);
    if (!password) return setProblem({ message: 'Enter the new password.' });
    setProblem(null);
    setSaving(true);
    try {
      onSaved(await api.patch<Account>(`/v1/accounts/${account.id}`, { password }));
    } catch (err) {
      if (err instanceof ApiError && (err.field === 'password' || err.field === null)) setProblem(problemOf(err));
      else setOther(problemOf(err));
    } finally {
      setSaving(false);
    }
  }

  return (
    <form className="inline-form" onSubmit={save} noValidate>
      <TextField label="New password" name="new-password" type="password" autoComplete="new-password" value={password} onChange={setPassword} problem={problem} />
      {other ? (
        <div className="field-problem" role="alert">
          <p className="problem-message">{other.message}</p>
          {other.hint ? <p className="problem-hint">{other.hint}</p> : null}
        </div>
      ) : null}
      {saving ? <Notice kind="info">Checking your settings…</Notice> : null}
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={saving}>
          {saving ? 'Checking your settings…' : 'Save password'}
        </button>
        <button type="button" className="button" onClick={onCancel} disabled={saving}>
          Cancel
        </button>
      </div>
    </form>
  );
}
