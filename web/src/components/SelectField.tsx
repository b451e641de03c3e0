import { useId, type ReactNode } from 'react';
import type { FieldProblem } from '../types.ts';
import { FieldShell, describedBy } from './FieldShell.tsx';

interface Props {
  label: string;
  value: string;
  onChange: (value: string) => void;
  options: Array<{ value: string; label: string }>;
  name?: string;
  help?: ReactNode;
  problem?: FieldProblem | null;
}

/** One labelled drop-down list. */
export function SelectField(props: Props) {
  const id = useId();
  return (
    <FieldShell id={id} label={props.label} help={props.help} problem={props.problem}>
      <select
        id={id}
        name={props.name}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
        aria-invalid={props.problem ? true : undefined}
        aria-describedby={describedBy(id, props.help, props.problem)}
      >
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </FieldShell>
  );
}
