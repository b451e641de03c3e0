import { useEffect, useState } from 'react';
import { ApiError, problemOf, type Api } from '../api.ts';
import type { Account, Campaign, FieldProblem, QueueItem, QueueStatus } from '../types.ts';
import { usePages } from '../pages.ts';
import { formatAddress, formatDate } from '../format.ts';
import { MessageBody } from './MessageBody.tsx';
import { Notice, ProblemNotice } from './Notice.tsx';
import { SelectField } from './SelectField.tsx';

const STATUS_TEXT: Record<QueueStatus, string> = { queued: 'Waiting', claimed: 'Claimed', done: 'Done' };
const FILTERS: Array<{ value: QueueStatus | ''; label: string }> = [
  { value: 'queued', label: 'Waiting' },
  { value: 'claimed', label: 'Claimed' },
  { value: 'done', label: 'Done' },
  { value: '', label: 'All' },
];

/**
 * "Campaigns": each campaign with its queue counts, and the inbound queue of the one opened,
 * oldest first, where an item is claimed, then marked done (or put back).
 */
export function CampaignQueues({ api, accounts }: { api: Api; accounts: Account[] }) {
  const [campaigns, setCampaigns] = useState<Campaign[] | null>(null);
  const [problem, setProblem] = useState<FieldProblem | null>(null);
  const [selected, setSelected] = useState<string | null>(null);

  async function reload() {
    try {
      const list = (await api.get<{ items: Campaign[] }>('/v1/campaigns')).items;
      setCampaigns(list);
      setSelected((s) => s ?? (list.length === 1 ? list[0]!.id : null));
    } catch (err) {
      setProblem(problemOf(err));
    }
  }

  useEffect(() => {
    void reload();
  }, [api]);

  const providerOf = (c: Campaign) => {
    const names = c.accountIds.map((id) => accounts.find((a) => a.id === id)).filter((a): a is Account => Boolean(a)).map((a) => `${a.name} (${a.email})`);
    return names.length ? names.join(', ') : 'no provider';
  };
  const current = campaigns?.find((c) => c.id === selected) ?? null;

  return (
    <section aria-labelledby="campaigns-title" className="stack">
      <div className="section-head">
        <h2 id="campaigns-title">Campaign queues</h2>
      </div>
      <p className="muted">New email that arrives at a provider with “Receive emails” on waits in its campaign’s queue. Claim a message to work on it, then mark it done.</p>
      {problem ? <ProblemNotice problem={problem} /> : null}
      {!campaigns && !problem ? <Notice kind="info">Loading campaigns…</Notice> : null}
      {campaigns && campaigns.length === 0 ? <p className="muted empty">There are no campaigns yet. Your platform creates them for a provider.</p> : null}
      {campaigns && campaigns.length > 0 ? (
        <ul className="campaign-list">
          {campaigns.map((c) => (
            <li key={c.id} className={c.id === selected ? 'card campaign selected' : 'card campaign'}>
              <div className="campaign-head">
                <h3 id={`campaign-${c.id}`}>{c.name}</h3>
                <span className={c.receiving ? 'pill pill-green' : 'pill pill-grey'}>{c.receiving ? 'Receiving' : 'Not receiving'}</span>
              </div>
              <p className="muted">From {providerOf(c)}</p>
              {!c.receiving ? <p className="help">New email arrives here only while its provider is on and has “Receive emails” on.</p> : null}
              <p className="counts">
                <span><strong>{c.counts.queued}</strong> waiting</span>
                <span><strong>{c.counts.claimed}</strong> claimed</span>
                <span><strong>{c.counts.done}</strong> done</span>
              </p>
              {c.id !== selected ? (
                <button type="button" className="button" aria-describedby={`campaign-${c.id}`} onClick={() => setSelected(c.id)}>
                  Show queue
                </button>
              ) : campaigns.length > 1 ? (
                <p className="muted">Its queue is shown below.</p>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
      {current ? <Queue key={current.id} api={api} campaign={current} onCountsChanged={() => void reload()} /> : null}
    </section>
  );
}

type Outcome = { itemId: string; kind: 'success'; text: string } | { itemId: string; kind: 'error'; problem: FieldProblem };

/** One campaign's queue with its status filter, paging and the claim / done / put back actions. */
function Queue({ api, campaign, onCountsChanged }: { api: Api; campaign: Campaign; onCountsChanged: () => void }) {
  const [status, setStatus] = useState<QueueStatus | ''>('queued');
  const [busy, setBusy] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [reading, setReading] = useState<string | null>(null);
  const base = `/v1/campaigns/${encodeURIComponent(campaign.id)}/queue`;
  // a status left at once: its answer, arriving late, is dropped
  const { page, error, more, setPage } = usePages<QueueItem>(api, base, status ? { status } : {});
  const problem = error ? problemOf(error) : null;

  useEffect(() => setOutcome(null), [base, status]);

  async function act(item: QueueItem, action: 'claim' | 'done' | 'release') {
    setBusy(item.id);
    setOutcome(null);
    try {
      const next = await api.post<QueueItem>(`${base}/${encodeURIComponent(item.id)}/${action}`, {});
      setPage((p) => (p ? { ...p, items: p.items.map((x) => (x.id === next.id ? next : x)) } : p));
      const text = action === 'claim' ? 'Claimed: it is yours to work on.' : action === 'done' ? 'Marked done.' : 'Put back: it is waiting again.';
      setOutcome({ itemId: item.id, kind: 'success', text });
    } catch (err) {
      // a conflict in words for the person at the page (the API's hint speaks to programs)
      const conflict = err instanceof ApiError && err.code === 'CONFLICT';
      const hint = action === 'claim' ? 'Someone else took it first. Pick another waiting message.' : action === 'done' ? 'Claim it first, then mark it done.' : null;
      setOutcome({ itemId: item.id, kind: 'error', problem: conflict ? { message: err.message, hint } : problemOf(err) });
      // someone else may have moved it: show where it is now
      api.get<QueueItem>(`${base}/${encodeURIComponent(item.id)}`).then(
        (now) => setPage((p) => (p ? { ...p, items: p.items.map((x) => (x.id === now.id ? now : x)) } : p)),
        () => undefined,
      );
    } finally {
      setBusy(null);
      onCountsChanged();
    }
  }

  const headingId = `queue-${campaign.id}`;
  return (
    <section className="card queue" aria-labelledby={headingId}>
      <div className="section-head">
        <h3 id={headingId}>Queue of “{campaign.name}”</h3>
      </div>
      <SelectField label="Show" name="status" value={status} onChange={(v) => setStatus(v as QueueStatus | '')} options={FILTERS} help="Oldest first: the order the messages arrived in the queue." />
      {problem ? <ProblemNotice problem={problem} /> : null}
      {!page && !problem ? <Notice kind="info">Loading the queue…</Notice> : null}
      {page && page.items.length === 0 ? (
        <p className="muted empty">{status ? `No ${STATUS_TEXT[status].toLowerCase()} messages.` : 'The queue is empty.'}</p>
      ) : null}
      {page && page.items.length > 0 ? (
        <ul className="queue-list">
          {page.items.map((item) => {
            const mine = outcome?.itemId === item.id ? outcome : null;
            const bodyId = `queue-message-${item.id}`;
            const isReading = reading === item.id;
            return (
              <li key={item.id} className="queue-item" data-item-id={item.id}>
                <div className="queue-item-head">
                  <div className="queue-item-text">
                    <p className="message-subject">{item.subject || '(no subject)'}</p>
                    <p className="muted">{formatAddress(item.from)}</p>
                    <p className="muted">
                      Received <time dateTime={item.receivedAt}>{formatDate(item.receivedAt)}</time>
                      {item.status === 'done' && item.doneAt ? <> · done <time dateTime={item.doneAt}>{formatDate(item.doneAt)}</time></> : null}
                    </p>
                  </div>
                  <span className={`pill pill-${item.status}`}>{STATUS_TEXT[item.status]}</span>
                </div>
                <div className="actions">
                  {item.status === 'queued' ? (
                    <button type="button" className="button button-primary" disabled={busy !== null} onClick={() => void act(item, 'claim')}>Claim</button>
                  ) : null}
                  {item.status === 'claimed' ? (
                    <>
                      <button type="button" className="button button-primary" disabled={busy !== null} onClick={() => void act(item, 'done')}>Mark done</button>
                      <button type="button" className="button" disabled={busy !== null} onClick={() => void act(item, 'release')}>Put back</button>
                    </>
                  ) : null}
                  <button type="button" className="button" aria-expanded={isReading} aria-controls={isReading ? bodyId : undefined} onClick={() => setReading(isReading ? null : item.id)}>
                    {isReading ? 'Hide message' : 'Read message'}
                  </button>
                </div>
                <div aria-live="polite" className="outcome">
                  {busy === item.id ? <Notice kind="info">Working…</Notice> : null}
                  {mine?.kind === 'success' ? <Notice kind="success">{mine.text}</Notice> : null}
                  {mine?.kind === 'error' ? <ProblemNotice problem={mine.problem} /> : null}
                </div>
                {isReading ? <MessageBody api={api} messageId={item.messageId} id={bodyId} label={`Message: ${item.subject || '(no subject)'}`} /> : null}
              </li>
            );
          })}
        </ul>
      ) : null}
      {page?.nextCursor ? (
        <div className="actions">
          <button type="button" className="button" onClick={more}>Show more</button>
        </div>
      ) : null}
    </section>
  );
}
