import { useMemo, useState } from 'react';
import { createApi } from './api.ts';
import type { FieldProblem } from './types.ts';
import { forgetToken, saveToken, takeToken } from './token.ts';
import { Settings } from './components/Settings.tsx';
import { TokenForm } from './components/TokenForm.tsx';

/** The hosted settings page: acts with the link's session token (or an operator's API key). */
export function App() {
  const [token, setToken] = useState<string | null>(takeToken);
  const [authProblem, setAuthProblem] = useState<FieldProblem | null>(null);
  const api = useMemo(
    () =>
      token
        ? createApi(token, (err) => {
            forgetToken();
            setAuthProblem(err.problem);
          })
        : null,
    [token],
  );
  return (
    <main className="page">
      {api && !authProblem ? (
        <Settings api={api} />
      ) : (
        <TokenForm
          problem={authProblem}
          onToken={(t) => {
            saveToken(t);
            setAuthProblem(null);
            setToken(t);
          }}
        />
      )}
    </main>
  );
}
