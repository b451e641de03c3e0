import { useId, type ReactNode } from 'react';
import type { FieldProblem } from '../types.ts';
import { FieldShell, describedBy } from './FieldShell.tsx';

interface Props {
  label: string;
  value: string;
  onChange: (value: string) => void;
  onBlur?: () => void;
  type?: 'text' | 'email' | 'password';
  name?: string;
  autoComplete?: string;
  inputMode?: 'text' | 'email' | 'numeric';
  placeholder?: string;
  help?: ReactNode;
  problem?: FieldProblem | null;
  required?: boolean;
  maxLength?: number;
  pattern?: string;
}

/** One labelled text input. */
export function TextField(props: Props) {
  const id = useId();
  return (
    <FieldShell id={id} label={props.label} help={props.help} problem={props.problem}>
      <input
        id={id}
        name={props.name}
        type={props.type ?? 'text'}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
        onBlur={props.onBlur}
        autoComplete={props.autoComplete}
        inputMode={props.inputMode}
        placeholder={props.placeholder}
        required={props.required}
        maxLength={props.maxLength}
        pattern={props.pattern}
        aria-invalid={props.problem ? true : undefined}
        aria-describedby={describedBy(id, props.help, props.problem)}
        spellCheck={false}
      />
    </FieldShell>
  );
}
