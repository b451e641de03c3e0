import type { ReactNode } from 'react';
import type { FieldProblem } from '../types.ts';

interface Props {
  id: string;
  label: string;
  help?: ReactNode;
  problem?: FieldProblem | null;
  children: ReactNode;
}

/** A label, the control, a help line and, when the server said no, its message and hint beside the field. */
export function FieldShell({ id, label, help, problem, children }: Props) {
  return (
    <div className={problem ? 'field field-invalid' : 'field'}>
      <label htmlFor={id}>{label}</label>
      {children}
      {help ? <p className="help" id={`${id}-help`}>{help}</p> : null}
      {problem ? (
        <div className="field-problem" id={`${id}-problem`} role="alert">
          <p className="problem-message">{problem.message}</p>
          {problem.hint ? <p className="problem-hint">{problem.hint}</p> : null}
        </div>
      ) : null}
    </div>
  );
}

/** aria-describedby for a control inside a {@link FieldShell}. */
export function describedBy(id: string, help: unknown, problem: unknown): string | undefined {
  const ids = [help ? `${id}-help` : null, problem ? `${id}-problem` : null].filter(Boolean);
  return ids.length ? ids.join(' ') : undefined;
}
