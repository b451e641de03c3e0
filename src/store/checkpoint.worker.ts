/**
 * SQLite's WAL checkpoints on a thread of their own. Copying the write-ahead log into the database
 * file and syncing both takes from a few to over a hundred milliseconds; done by the connection
 * that commits (SQLite's default), it stopped the thread that serves the API and drives the mail
 * sessions for that long, every few megabytes written. This thread holds a second connection to
 * the same file and runs a PASSIVE checkpoint (it never waits for readers or writers) every
 * `intervalMs`; 'close' ends it after one last checkpoint.
 *
 * A PASSIVE checkpoint never lets the log start over while the process keeps committing: the log
 * restarts from its beginning only when a transaction begins with every frame already copied,
 * and commits arrive faster than a checkpoint syncs. Under steady load the log then grew to the
 * committing connection's backstop, whose checkpoint, log sync and truncation held the API thread
 * 30–120 ms every ~80 MB. So once the log is past `restartPages`, this thread copies what it can
 * without waiting, asks the process for a pause ('pause': its connection is held, no statement
 * runs; answered 'paused'), copies the few frames committed meanwhile and resets the log (RESTART;
 * a few milliseconds), and ends the pause ('resume').
 */
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';

const { path, intervalMs, restartPages } = workerData as { path: string; intervalMs: number; restartPages: number };
const db = new SQLite(path);
const BUSY_MS = 1000;
/** while the process is paused nothing of ours holds a lock; another process's reader or writer is not waited for long */
const BUSY_PAUSED_MS = 50;
db.pragma(`busy_timeout = ${BUSY_MS}`);

type Counts = { busy: number; log: number; checkpointed: number };
const checkpoint = (mode: 'PASSIVE' | 'RESTART'): Counts | null => {
  try {
    return (db.pragma(`wal_checkpoint(${mode})`) as Counts[])[0] ?? null;
  } catch (err) {
    // busy or locked for a moment: the next tick tries again
    parentPort?.postMessage({ error: err instanceof Error ? err.message : String(err) });
    return null;
  }
};

let closing = false;
let paused: (() => void) | null = null;

async function restart(): Promise<void> {
  checkpoint('PASSIVE'); // what was committed during the first pass, still without a pause
  await new Promise<void>((answer) => {
    paused = answer;
    parentPort?.postMessage('pause');
  });
  paused = null;
  if (closing) return;
  db.pragma(`busy_timeout = ${BUSY_PAUSED_MS}`);
  try {
    checkpoint('RESTART');
  } finally {
    db.pragma(`busy_timeout = ${BUSY_MS}`);
    parentPort?.postMessage('resume');
  }
}

let timer: NodeJS.Timeout;
const tick = async () => {
  const counts = checkpoint('PASSIVE');
  if (counts && counts.log > restartPages && !closing) await restart();
  if (!closing) timer = setTimeout(() => void tick(), intervalMs);
};
timer = setTimeout(() => void tick(), intervalMs);

parentPort?.on('message', (m) => {
  if (m === 'paused') return paused?.();
  if (m !== 'close') return;
  closing = true;
  clearTimeout(timer);
  paused?.();
  checkpoint('PASSIVE');
  db.close();
  parentPort?.close();
});
