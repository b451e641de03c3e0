import { useEffect, useState } from 'react';
import { problemOf, type Api } from '../api.ts';
import type { FieldProblem, MessageDetail } from '../types.ts';
import { formatAddress, formatDate, htmlToText } from '../format.ts';
import { Notice, ProblemNotice } from './Notice.tsx';

/**
 * The text of one recorded message (GET /v1/messages/:id), read when it is opened. HTML is never
 * rendered: a message with only an HTML part is shown as its text.
 */
export function MessageBody({ api, messageId, id, label }: { api: Api; messageId: string; id: string; label: string }) {
  const [message, setMessage] = useState<MessageDetail | null>(null);
  const [problem, setProblem] = useState<FieldProblem | null>(null);
  useEffect(() => {
    let live = true;
    api.get<MessageDetail>(`/v1/messages/${encodeURIComponent(messageId)}`).then(
      (m) => live && setMessage(m),
      (err) => live && setProblem(problemOf(err)),
    );
    return () => {
      live = false;
    };
  }, [api, messageId]);

  if (problem) return <div id={id}><ProblemNotice problem={problem} /></div>;
  if (!message) return <div id={id}><Notice kind="info">Opening the message…</Notice></div>;
  const text = message.text ?? (message.html ? htmlToText(message.html) : '');
  return (
    <section id={id} className="message-body" aria-label={label}>
      <dl className="message-meta">
        <dt>From</dt>
        <dd>{formatAddress(message.from)}</dd>
        <dt>To</dt>
        <dd>{message.to.map((a) => formatAddress(a)).join(', ') || '—'}</dd>
        {message.cc.length ? (
          <>
            <dt>Cc</dt>
            <dd>{message.cc.map((a) => formatAddress(a)).join(', ')}</dd>
          </>
        ) : null}
        <dt>Date</dt>
        <dd>
          <time dateTime={message.date}>{formatDate(message.date)}</time>
        </dd>
      </dl>
      <div className="message-text">{text || <span className="muted">This message has no text.</span>}</div>
      {message.attachments.length ? (
        <p className="muted">
          Attachments: {message.attachments.map((a) => a.filename ?? 'unnamed').join(', ')}
        </p>
      ) : null}
    </section>
  );
}
