import type { Preset } from '../types.ts';

/**
 * What the catalog says a person must know or do first: app passwords, switching IMAP on, and notes.
 * `signsIn`: the form connects with "Sign in with Google" / "Activate Outlook", so no password is asked for.
 */
export function ProviderNotes({ preset, signsIn = false }: { preset: Preset; signsIn?: boolean }) {
  const appPassword = preset.auth.appPassword === 'required' && !signsIn;
  if (!appPassword && !preset.enableUrl && preset.notes.length === 0) return null;
  return (
    <section className="provider-notes" aria-label={`Before you connect ${preset.name}`}>
      <h3>Before you connect {preset.name}</h3>
      {appPassword ? (
        <p className="callout">
          <strong>{preset.name} needs an app password</strong>, not your normal password.{' '}
          {preset.appPasswordUrl ? (
            <a href={preset.appPasswordUrl} target="_blank" rel="noopener noreferrer">
              Create an app password (opens in a new tab)
            </a>
          ) : (
            'Create one in your account’s security settings.'
          )}
        </p>
      ) : null}
      {preset.enableUrl ? (
        <p className="callout">
          Access for mail programs (IMAP) must be switched on first.{' '}
          <a href={preset.enableUrl} target="_blank" rel="noopener noreferrer">
            How to switch it on (opens in a new tab)
          </a>
        </p>
      ) : null}
      {preset.notes.length ? (
        <ul className="notes">
          {preset.notes.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
