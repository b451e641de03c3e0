import { useState, type FormEvent } from 'react';
import type { FieldProblem } from '../types.ts';
import { TextField } from './TextField.tsx';

/** When there is no valid link: the reason, and a place for an operator to paste a tenant API key. */
export function TokenForm({ problem, onToken }: { problem: FieldProblem | null; onToken: (token: string) => void }) {
  const [key, setKey] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (key.trim()) onToken(key.trim());
  };
  return (
    <div className="stack">
      <section className="card" aria-labelledby="no-access-title">
        <h2 id="no-access-title">{problem ? problem.message : 'Open this page from your application'}</h2>
        <p>{problem?.hint ?? 'This page is opened with a personal link from the application you use. Open the email settings there again.'}</p>
      </section>
      <form className="card" onSubmit={submit} noValidate aria-labelledby="operator-title">
        <h2 id="operator-title">For operators</h2>
        <TextField label="Tenant API key" name="apiKey" type="password" autoComplete="off" value={key} onChange={setKey} help="Acts as that tenant in this browser tab only." />
        <div className="actions">
          <button type="submit" className="button button-primary">Open settings</button>
        </div>
      </form>
    </div>
  );
}
