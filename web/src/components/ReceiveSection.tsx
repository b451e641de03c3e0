import { useId } from 'react';
import type { FieldProblem, Preset } from '../types.ts';
import type { ProviderDraft } from '../form-state.ts';
import { EndpointFields } from './EndpointFields.tsx';
import { Switch } from './Switch.tsx';

interface Props {
  draft: ProviderDraft;
  preset: Preset | undefined;
  showServers: boolean;
  update: (patch: Partial<ProviderDraft>) => void;
  edited: (kind: 'imap' | 'pop') => void;
  problems: Record<string, FieldProblem>;
}

/** "Receive emails": off means this provider only sends; on asks how (IMAP, or POP3 with its limits). */
export function ReceiveSection({ draft, preset, showServers, update, edited, problems }: Props) {
  const name = useId();
  const canImap = !preset || preset.id === 'other' || preset.imap !== null;
  const canPop = !preset || preset.id === 'other' || preset.pop !== null;
  const problem = problems.receive;
  return (
    <section className="receive">
      <Switch label="Receive emails" checked={draft.receive} onChange={(receive) => update({ receive, receiveVia: canImap ? draft.receiveVia : 'pop' })} />
      <p className="help">Turn this on to record the emails your customers send you. Off: this provider only sends.</p>
      {draft.receive ? (
        <>
          <fieldset className="choice">
            <legend>How to receive</legend>
            {canImap ? (
              <label className="radio">
                <input type="radio" name={name} value="imap" checked={draft.receiveVia === 'imap'} onChange={() => update({ receiveVia: 'imap' })} />
                IMAP (recommended: keeps received and sent mail)
              </label>
            ) : null}
            {canPop ? (
              <label className="radio">
                <input type="radio" name={name} value="pop" checked={draft.receiveVia === 'pop'} onChange={() => update({ receiveVia: 'pop' })} />
                POP3
              </label>
            ) : null}
          </fieldset>
          {draft.receiveVia === 'pop' ? (
            <p className="callout">POP3 can only receive: it cannot record the mail you send, so conversations will show only one side. Use IMAP if your provider offers it.</p>
          ) : null}
          {problem ? (
            <div className="field-problem" role="alert">
              <p className="problem-message">{problem.message}</p>
              {problem.hint ? <p className="problem-hint">{problem.hint}</p> : null}
            </div>
          ) : null}
          {showServers ? (
            <EndpointFields
              kind={draft.receiveVia}
              value={draft[draft.receiveVia]}
              onChange={(value) => {
                edited(draft.receiveVia);
                update({ [draft.receiveVia]: value });
              }}
              problems={problems}
            />
          ) : null}
        </>
      ) : null}
    </section>
  );
}
