import { useEffect, useState } from 'react';
import type { Api } from '../api.ts';
import type { Usage } from '../types.ts';

/** Sent in the current window against the daily limit, in words. */
export function UsageLine({ api, accountId, refresh }: { api: Api; accountId: string; refresh: unknown }) {
  const [usage, setUsage] = useState<Usage | null>(null);
  useEffect(() => {
    let live = true;
    api.get<Usage>(`/v1/accounts/${accountId}/usage`).then((u) => live && setUsage(u), () => live && setUsage(null));
    return () => {
      live = false;
    };
  }, [api, accountId, refresh]);
  if (!usage) return null;
  const text = usage.perDay === null
    ? `Sent in the last 24 hours: ${usage.sentInWindow} (this provider publishes no daily limit)`
    : `Sent in the last 24 hours: ${usage.sentInWindow} of ${usage.perDay} (${usage.remaining ?? 0} left)`;
  const ratio = usage.perDay ? Math.min(1, usage.sentInWindow / usage.perDay) : 0;
  return (
    <div className="usage">
      <p>{text}</p>
      {usage.perDay !== null ? <progress max={usage.perDay} value={usage.sentInWindow} aria-label="Daily limit used">{Math.round(ratio * 100)}%</progress> : null}
    </div>
  );
}
