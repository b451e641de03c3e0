import { useState, type FormEvent } from 'react';
import { ApiError, problemOf, type Api } from '../api.ts';
import type { Account, Address, FieldProblem, MessageSummary } from '../types.ts';
import { usePages } from '../pages.ts';
import { formatDate } from '../format.ts';
import { MessageBody } from './MessageBody.tsx';
import { Notice, ProblemNotice } from './Notice.tsx';
import { SelectField } from './SelectField.tsx';
import { TextField } from './TextField.tsx';

interface Filter {
  accountId: string;
  contact: string;
}

interface Group {
  key: string;
  contact: Address;
  messages: MessageSummary[];
}

/** The other party of a message: its sender when it came in, its first recipient when it went out. */
function counterpart(m: MessageSummary): Address | null {
  if (m.direction === 'in') return m.from;
  return m.to[0] ?? m.cc[0] ?? null;
}

/** Messages by contact, in the order of each contact's latest message; all in one group when the list is for one contact. */
function byContact(messages: MessageSummary[], only: string): Group[] {
  const groups = new Map<string, Group>();
  for (const m of messages) {
    const party = counterpart(m);
    const key = only ? only.toLowerCase() : party?.address.toLowerCase() ?? '';
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { key, contact: { name: null, address: key }, messages: [] }));
    if (!g.contact.name && party?.name && party.address.toLowerCase() === key) g.contact = { name: party.name, address: key };
    g.messages.push(m);
  }
  return [...groups.values()];
}

/** What a failed read says, and the field it is about (a contact that is no address: under its field). */
function problemIn(err: unknown): { field: string; problem: FieldProblem } {
  const field = err instanceof ApiError && err.field ? err.field : 'form';
  const p = problemOf(err);
  return { field, problem: field === 'contact' && !p.hint ? { ...p, hint: 'Type the whole address, for example name@example.com.' } : p };
}

/**
 * "Messages": the correspondence recorded through the tenant's providers, newest first, grouped
 * by contact, filtered by provider and contact address. Opening a message shows its text.
 */
export function Correspondence({ api, accounts }: { api: Api; accounts: Account[] }) {
  const [filter, setFilter] = useState<Filter>({ accountId: '', contact: '' });
  const [contactInput, setContactInput] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  // a new filter starts from the newest messages again; answers still due for the last one are dropped
  const { page, loading, error, more } = usePages<MessageSummary>(api, '/v1/messages', {
    ...(filter.accountId ? { accountId: filter.accountId } : {}),
    ...(filter.contact ? { contact: filter.contact } : {}),
  }, filter);
  const problem = error ? problemIn(error) : null;

  function apply(next: Filter) {
    setOpen(null);
    setFilter(next);
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    apply({ ...filter, contact: contactInput.trim() });
  }

  const accountName = (id: string) => accounts.find((a) => a.id === id)?.name ?? null;
  const groups = page ? byContact(page.items, filter.contact) : [];

  return (
    <section aria-labelledby="messages-title" className="stack">
      <div className="section-head">
        <h2 id="messages-title">Messages</h2>
      </div>
      <p className="muted">Email exchanged through your providers, newest first, by contact. Open a message to read it.</p>
      <form className="card filters" role="search" aria-label="Filter messages" onSubmit={submit} noValidate>
        <div className="row">
          <SelectField
            label="Provider"
            name="accountId"
            value={filter.accountId}
            onChange={(accountId) => apply({ ...filter, accountId })}
            options={[{ value: '', label: 'All providers' }, ...accounts.map((a) => ({ value: a.id, label: `${a.name} (${a.email})` }))]}
          />
          <TextField
            label="Contact email"
            name="contact"
            type="email"
            inputMode="email"
            autoComplete="off"
            value={contactInput}
            onChange={setContactInput}
            placeholder="name@example.com"
            problem={problem?.field === 'contact' ? problem.problem : null}
          />
        </div>
        <div className="actions">
          <button type="submit" className="button button-primary">Show messages</button>
          {filter.contact ? (
            <button type="button" className="button" onClick={() => { setContactInput(''); apply({ ...filter, contact: '' }); }}>
              All contacts
            </button>
          ) : null}
        </div>
      </form>
      <div aria-live="polite" className="stack">
        {problem && problem.field !== 'contact' ? <ProblemNotice problem={problem.problem} /> : null}
        {loading && !page ? <Notice kind="info">Loading messages…</Notice> : null}
        {page && page.items.length === 0 ? (
          <p className="muted empty">
            {filter.contact ? `No messages with ${filter.contact}.` : 'No messages recorded yet. They appear here once a provider with “Receive emails” on has been read, and as you send through Mailport.'}
          </p>
        ) : null}
      </div>
      {groups.map((g) => (
        <section key={g.key} className="card contact-group" aria-labelledby={`contact-${g.key}`}>
          <header className="contact-head">
            <div>
              <h3 id={`contact-${g.key}`}>{g.contact.name ?? g.contact.address}</h3>
              {g.contact.name ? <p className="muted">{g.contact.address}</p> : null}
            </div>
            <p className="muted count">{g.messages.length === 1 ? '1 message' : `${g.messages.length} messages`}</p>
          </header>
          <ul className="message-list">
            {g.messages.map((m) => {
              const expanded = open === m.id;
              const bodyId = `message-${m.id}`;
              return (
                <li key={m.id} className={expanded ? 'message open' : 'message'}>
                  <button type="button" className="message-row" aria-expanded={expanded} aria-controls={expanded ? bodyId : undefined} onClick={() => setOpen(expanded ? null : m.id)}>
                    <span className={`direction direction-${m.direction}`}>{m.direction === 'in' ? 'Received' : 'Sent'}</span>
                    <span className="message-subject">{m.subject || '(no subject)'}</span>
                    <time className="message-date" dateTime={m.date}>{formatDate(m.date)}</time>
                    <span className="message-snippet">{m.snippet}</span>
                    {!filter.accountId && accounts.length > 1 && accountName(m.accountId) ? <span className="message-account">via {accountName(m.accountId)}</span> : null}
                  </button>
                  {expanded ? <MessageBody api={api} messageId={m.id} id={bodyId} label={`Message: ${m.subject || '(no subject)'}`} /> : null}
                </li>
              );
            })}
          </ul>
          {!filter.contact && g.contact.address ? (
            <button type="button" className="link-button" onClick={() => { setContactInput(g.contact.address); apply({ ...filter, contact: g.contact.address }); }}>
              Only messages with {g.contact.address}
            </button>
          ) : null}
        </section>
      ))}
      {page?.nextCursor ? (
        <div className="actions">
          <button type="button" className="button" disabled={loading} onClick={more}>
            {loading ? 'Loading…' : 'Show older messages'}
          </button>
        </div>
      ) : null}
    </section>
  );
}
