import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, problemOf, type Api } from '../api.ts';
import type { Account, Discovery, EndpointKind, FieldProblem, Preset } from '../types.ts';
import {
  EMAIL_RE, OTHER, applyDiscovery, checkDraft, defaultUsername, emptyDraft, fieldKey, serversFromPreset, showsServers, toRequest, toSignInRequest, usernameOf,
  type ProviderDraft,
} from '../form-state.ts';
import { oauthTypeOf, signInLabel, startSignIn } from '../oauth.ts';
import { EndpointFields } from './EndpointFields.tsx';
import { ProblemNotice, Notice } from './Notice.tsx';
import { ProviderNotes } from './ProviderNotes.tsx';
import { ReceiveSection } from './ReceiveSection.tsx';
import { SelectField } from './SelectField.tsx';
import { TextField } from './TextField.tsx';

interface Props {
  api: Api;
  presets: Preset[];
  /** `problem`: the account was saved (grey) but its sign-in could not start */
  onSaved: (account: Account, problem?: FieldProblem) => void;
  onCancel: () => void;
}

/**
 * "Add provider": pick the provider (or Other), type the address (discovery fills the rest) and
 * the password, press Save. Saving checks the settings for real; a refusal is shown next to the
 * field it concerns, with what to change. Gmail, Google Workspace, Outlook and Microsoft 365 sign
 * in with the provider instead ("Sign in with Google", "Activate Outlook"): the account is saved
 * grey, the browser goes to the provider and comes back to this page with the outcome.
 */
export function AccountForm({ api, presets, onSaved, onCancel }: Props) {
  const [draft, setDraft] = useState<ProviderDraft>(emptyDraft);
  const [problems, setProblems] = useState<Record<string, FieldProblem>>({});
  const [saving, setSaving] = useState(false);
  const [discovered, setDiscovered] = useState<string | null>(null);
  const discoveredFor = useRef('');
  // discovery answers later: it must see the provider choice as it is then, not as it was when asked
  const chosenByUser = useRef(false);
  chosenByUser.current = draft.presetChosenByUser;
  const preset = presets.find((p) => p.id === draft.presetId);
  const offered = oauthTypeOf(preset);
  // Google also takes app passwords (type smtp_imap); Microsoft has turned them off for mail
  const signIn = offered && !(offered === 'gmail' && draft.useAppPassword) ? offered : null;
  const update = (patch: Partial<ProviderDraft>) => setDraft((d) => ({ ...d, ...patch }));
  const markEdited = (kind: EndpointKind) => setDraft((d) => (d.edited.includes(kind) ? d : { ...d, edited: [...d.edited, kind] }));

  // typing the address fills the rest: once it looks complete, ask discovery (at most once per address)
  useEffect(() => {
    const email = draft.email.trim();
    if (!EMAIL_RE.test(email) || discoveredFor.current === email) return;
    const timer = setTimeout(() => {
      discoveredFor.current = email;
      api.post<Discovery>('/v1/discover', { email }).then(
        (found) => {
          if (chosenByUser.current) return setDiscovered(null); // the person's choice stands
          setDraft((d) => (d.email.trim() === email ? applyDiscovery(d, found, presets) : d));
          const name = presets.find((p) => p.id === found.preset)?.name;
          if (found.preset && found.preset !== OTHER && name) setDiscovered(`Settings found: ${name}.`);
          else if (found.smtp) setDiscovered(found.source === 'guess' ? 'Server settings guessed from the address: check them below.' : 'Server settings found for this address: check them below.');
          else setDiscovered(null);
        },
        () => setDiscovered(null),
      );
    }, 500);
    return () => clearTimeout(timer);
  }, [draft.email, api, presets]);

  const options = [
    { value: '', label: 'Choose your provider…' },
    ...presets.filter((p) => p.id !== OTHER && p.types.includes('smtp_imap')).map((p) => ({ value: p.id, label: p.name })),
    { value: OTHER, label: 'Other / not listed' },
  ];

  const chooseProvider = (presetId: string) => {
    setProblems({});
    update({ presetId, presetChosenByUser: true, customServers: false, useAppPassword: false });
  };

  const openServers = () => setDraft((d) => ({ ...d, customServers: true, ...serversFromPreset(d, presets.find((p) => p.id === d.presetId)) }));

  /** Saves the account grey (type gmail or outlook) and goes to the provider's sign-in. */
  async function connect(type: 'gmail' | 'outlook') {
    const local = checkDraft(draft, true);
    setProblems(local);
    if (Object.keys(local).length) return;
    setSaving(true);
    let account: Account;
    try {
      account = await api.post<Account>('/v1/accounts', toSignInRequest(draft, type));
    } catch (err) {
      setProblems({ [fieldKey(err instanceof ApiError ? err.field : null, draft)]: problemOf(err) });
      setSaving(false);
      return;
    }
    try {
      await startSignIn(api, account.id); // the page is left here
    } catch (err) {
      setSaving(false);
      onSaved(account, problemOf(err));
    }
  }

  async function save(e: FormEvent) {
    e.preventDefault();
    if (signIn) return connect(signIn);
    const local = checkDraft(draft);
    setProblems(local);
    if (Object.keys(local).length) return;
    setSaving(true);
    try {
      const account = await api.post<Account>('/v1/accounts', toRequest(draft, preset));
      onSaved(account);
    } catch (err) {
      const field = err instanceof ApiError ? err.field : null;
      // a server setting the person has not seen yet: show the preset's servers so it can be changed
      if (field && /^(smtp|imap|pop)\./.test(field) && !showsServers(draft)) openServers();
      const key = fieldKey(field, { ...draft, customServers: draft.customServers || Boolean(field && /^(smtp|imap|pop)\./.test(field)) });
      setProblems({ [key]: problemOf(err) });
    } finally {
      setSaving(false);
    }
  }

  const servers = showsServers(draft);
  const formProblem = problems.form;
  const fieldProblemCount = Object.keys(problems).filter((k) => k !== 'form').length;

  return (
    <form className="card account-form" onSubmit={save} noValidate aria-labelledby="add-provider-title">
      <h2 id="add-provider-title">Add an email provider</h2>
      <TextField label="Name" name="name" value={draft.name} onChange={(name) => update({ name })} help='For you to recognise it, e.g. "Sales".' problem={problems.name} maxLength={200} />
      <SelectField label="Email provider" name="preset" value={draft.presetId} onChange={chooseProvider} options={options} problem={problems.preset} />
      {preset && preset.id !== OTHER ? <ProviderNotes preset={preset} signsIn={signIn !== null} /> : null}
      <TextField
        label="Email address"
        name="email"
        type="email"
        inputMode="email"
        autoComplete="email"
        value={draft.email}
        onChange={(email) => update({ email })}
        help={discovered ?? undefined}
        problem={problems.email}
      />
      {signIn ? null : (
        <>
          <TextField
            label="Username"
            name="username"
            autoComplete="username"
            value={usernameOf(draft, preset)}
            onChange={(username) => update({ username })}
            placeholder={defaultUsername(draft.email, preset) || 'Usually your email address'}
            help="Usually your full email address."
            problem={problems.username}
          />
          <TextField
            label={preset?.auth.appPassword === 'required' ? 'App password' : 'Password'}
            name="password"
            type="password"
            autoComplete="new-password"
            value={draft.password}
            onChange={(password) => update({ password })}
            help="Kept encrypted; never shown again."
            problem={problems.password}
          />
        </>
      )}
      {offered === 'gmail' ? (
        <p className="help">
          {draft.useAppPassword ? 'Connecting with an app password. ' : 'Or connect with a Google app password. '}
          <button type="button" className="link-button" onClick={() => { setProblems({}); update({ useAppPassword: !draft.useAppPassword }); }}>
            {draft.useAppPassword ? 'Sign in with Google instead' : 'Use an app password instead'}
          </button>
        </p>
      ) : null}
      {signIn ? null : servers ? (
        <EndpointFields
          kind="smtp"
          value={draft.smtp}
          onChange={(smtp) => {
            markEdited('smtp');
            update({ smtp });
          }}
          problems={problems}
        />
      ) : preset ? (
        <p className="help">
          Server settings come from {preset.name}.{' '}
          <button type="button" className="link-button" onClick={openServers}>
            Change server settings
          </button>
        </p>
      ) : null}
      <ReceiveSection draft={draft} preset={signIn && preset ? { ...preset, pop: null } : preset} showServers={servers} update={update} edited={markEdited} problems={problems} />
      {problems.servers ? <ProblemNotice problem={problems.servers} /> : null}
      {formProblem ? <ProblemNotice problem={formProblem} /> : null}
      {!formProblem && fieldProblemCount > 0 && !saving ? <Notice kind="error">Not saved yet: see the message next to the field above.</Notice> : null}
      {saving ? <Notice kind="info">{signIn ? 'Opening the sign-in page…' : 'Checking your settings… This connects to your provider and can take a few seconds.'}</Notice> : null}
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={saving} aria-busy={saving}>
          {signIn ? signInLabel(signIn) : saving ? 'Checking your settings…' : 'Save'}
        </button>
        <button type="button" className="button" onClick={onCancel} disabled={saving}>
          Cancel
        </button>
      </div>
    </form>
  );
}
