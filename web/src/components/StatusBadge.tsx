import type { Account } from '../types.ts';

/** grey/green/red as a dot and in words (colour is never the only signal). */
export function statusText(account: Pick<Account, 'enabled' | 'status'>): string {
  if (!account.enabled) return 'Turned off';
  if (account.status === 'active') return 'Working';
  if (account.status === 'error') return 'Not working';
  return 'Not checked yet';
}

export function StatusBadge({ account }: { account: Pick<Account, 'enabled' | 'status' | 'statusColor'> }) {
  return (
    <span className={`status status-${account.statusColor}`} data-status={account.statusColor}>
      <span className="status-dot" aria-hidden="true" />
      <span className="status-text">{statusText(account)}</span>
    </span>
  );
}
