import type { EndpointKind, FieldProblem, Security } from '../types.ts';
import { DEFAULT_PORTS, type EndpointDraft } from '../form-state.ts';
import { PortField } from './PortField.tsx';
import { SelectField } from './SelectField.tsx';
import { TextField } from './TextField.tsx';

const TITLES: Record<EndpointKind, string> = {
  smtp: 'Sending server (SMTP)',
  imap: 'Receiving server (IMAP)',
  pop: 'Receiving server (POP3)',
};

const SECURITY_OPTIONS: Array<{ value: Security; label: string }> = [
  { value: 'tls', label: 'SSL/TLS' },
  { value: 'starttls', label: 'STARTTLS' },
  { value: 'none', label: 'None (not encrypted)' },
];

interface Props {
  kind: EndpointKind;
  value: EndpointDraft;
  onChange: (value: EndpointDraft) => void;
  problems: Record<string, FieldProblem>;
}

/** Host, port and encryption of one server. Choosing an encryption suggests its usual port. */
export function EndpointFields({ kind, value, onChange, problems }: Props) {
  const setSecurity = (security: Security) => {
    const usual = Object.values(DEFAULT_PORTS[kind]).map(String);
    const port = value.port === '' || usual.includes(value.port) ? String(DEFAULT_PORTS[kind][security]) : value.port;
    onChange({ ...value, security, port });
  };
  return (
    <fieldset className="servers">
      <legend>{TITLES[kind]}</legend>
      <TextField
        label="Server name"
        name={`${kind}-host`}
        value={value.host}
        onChange={(host) => onChange({ ...value, host })}
        placeholder={kind === 'smtp' ? 'smtp.example.com' : kind === 'imap' ? 'imap.example.com' : 'pop.example.com'}
        autoComplete="off"
        problem={problems[`${kind}.host`]}
      />
      <div className="row">
        <PortField label="Port" name={`${kind}-port`} value={value.port} onChange={(port) => onChange({ ...value, port })} problem={problems[`${kind}.port`]} />
        <SelectField
          label="Encryption"
          name={`${kind}-security`}
          value={value.security}
          onChange={(s) => setSecurity(s as Security)}
          options={SECURITY_OPTIONS}
          problem={problems[`${kind}.security`]}
        />
      </div>
      {value.security === 'none' ? <p className="help">Without encryption the password travels readable on the network. Use it only if your provider offers nothing else.</p> : null}
    </fieldset>
  );
}
