/**
 * SQLite's WAL checkpoints on a thread of their own. Copying the write-ahead log into the database
 * file and syncing both takes from a few to over a hundred milliseconds; done by the connection
 * that commits (SQLite's default), it stopped the thread that serves the API and drives the mail
 * sessions for that long, every few megabytes written. This thread holds a second connection to
 * the same file and runs a PASSIVE checkpoint (it never waits for readers or writers) every
 * `intervalMs`; 'close' ends it after one last checkpoint.
 */
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';

const { path, intervalMs } = workerData as { path: string; intervalMs: number };
const db = new SQLite(path);
db.pragma('busy_timeout = 1000');

const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    // busy or locked for a moment: the next tick tries again
    parentPort?.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
};
const timer = setInterval(checkpoint, intervalMs);

parentPort?.on('message', (m) => {
  if (m !== 'close') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort?.close();
});
