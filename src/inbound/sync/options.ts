/** How mailbox sync behaves; every value has a default fit for production. */
export interface SyncOptions {
  /** the initial sync goes back this far (newest first) */
  lookbackDays: number;
  /** folders synced besides the Inbox and the Sent folder, on every account that has them */
  extraFolders: string[];
  /** other folders are checked (STATUS) this often while the Inbox IDLEs; also the poll interval without IDLE */
  pollMs: number;
  /** a command (or the end of an IDLE) that takes longer than this means the session is dead: it is replaced */
  commandTimeoutMs: number;
  /** connect and sign-in budget */
  connectTimeoutMs: number;
  /** messages fetched and stored per batch */
  batchSize: number;
  /** a batch also ends at this many bytes (RFC822.SIZE); two batches are fetched ahead of the one being stored */
  batchBytes: number;
  /** bytes of fetched mail all of a node's sessions hold at once, fetched but not yet stored (2,000 accounts in their initial sync must not hold 3 batches each) */
  fetchBudgetBytes: number;
  /** reconnect backoff: first delay and cap (exponential, with jitter) */
  backoffMs: number;
  maxBackoffMs: number;
  /** consecutive connection failures before the account turns red (authentication failures: at once) */
  failuresBeforeRed: number;
  /** lease length; a dead node's accounts are taken over after at most this long */
  leaseMs: number;
  /** how often the supervisor renews leases, claims accounts and looks for changed settings */
  scanMs: number;
  /** most accounts one node syncs at once */
  capacity: number;
  /** POP3: default minutes between checks when the catalog says nothing */
  popIntervalMs: number;
  /** sessions of one node that may be connecting and signing in at the same time */
  connectConcurrency: number;
}

export const DEFAULT_SYNC_OPTIONS: SyncOptions = {
  lookbackDays: 90,
  extraFolders: [],
  pollMs: 30_000,
  commandTimeoutMs: 60_000,
  connectTimeoutMs: 30_000,
  batchSize: 200,
  batchBytes: 16 * 1024 * 1024,
  fetchBudgetBytes: 256 * 1024 * 1024,
  backoffMs: 1_000,
  maxBackoffMs: 300_000,
  failuresBeforeRed: 3,
  leaseMs: 30_000,
  scanMs: 5_000,
  capacity: 5_000,
  popIntervalMs: 300_000,
  connectConcurrency: 20,
};

/** Exponential backoff with full jitter in [d/2, d]. */
export function backoffDelay(attempt: number, o: Pick<SyncOptions, 'backoffMs' | 'maxBackoffMs'>): number {
  const d = Math.min(o.maxBackoffMs, o.backoffMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(d / 2 + Math.random() * (d / 2));
}
