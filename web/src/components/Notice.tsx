import type { ReactNode } from 'react';
import type { FieldProblem } from '../types.ts';

/** A short message in a live region: success, progress or a problem with its hint. */
export function Notice({ kind, children }: { kind: 'info' | 'success' | 'error'; children: ReactNode }) {
  return (
    <div className={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

export function ProblemNotice({ problem }: { problem: FieldProblem }) {
  return (
    <Notice kind="error">
      <p className="problem-message">{problem.message}</p>
      {problem.hint ? <p className="problem-hint">{problem.hint}</p> : null}
    </Notice>
  );
}
