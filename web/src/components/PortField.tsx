import { useState } from 'react';
import type { FieldProblem } from '../types.ts';
import { TextField } from './TextField.tsx';

interface Props {
  label: string;
  value: string;
  onChange: (value: string) => void;
  name?: string;
  problem?: FieldProblem | null;
}

/** A port number: digits only (anything else is refused as it is typed, with a word why). */
export function PortField({ label, value, onChange, name, problem }: Props) {
  const [refused, setRefused] = useState(false);
  const change = (next: string) => {
    // a refused character is explained until the next accepted one
    if (/^\d{0,5}$/.test(next)) {
      setRefused(false);
      onChange(next);
    } else {
      setRefused(true);
    }
  };
  return (
    <TextField
      label={label}
      name={name}
      value={value}
      onChange={change}
      inputMode="numeric"
      pattern="[0-9]*"
      maxLength={5}
      autoComplete="off"
      help={refused ? 'A port is a number: digits only, for example 587.' : undefined}
      problem={problem}
    />
  );
}
