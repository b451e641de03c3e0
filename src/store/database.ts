import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, PostgresDialect, SqliteDialect, SqliteDriver, sql, type Driver, type SqliteDatabase, type SqliteDialectConfig, type Transaction } from 'kysely';
import type { Database } from './schema.js';
import { moduleBeside } from '../core/modules.js';

export type DialectName = 'sqlite' | 'postgres';

/** Prepared statements kept per database; the SQL strings Mailport builds are few, a bound keeps odd ones (long IN lists) from piling up. */
const STATEMENT_CACHE_MAX = 500;

/**
 * Kysely's SQLite driver prepares every statement again on each call, which cost about as much as
 * running the small ones. This keeps the prepared statements by SQL text; a statement still busy
 * (an open iterator) is never handed out twice, a fresh one is prepared instead. SQLite prepares
 * a cached statement again by itself after a schema change.
 */
function withStatementCache(sqlite: SQLite.Database): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => void sqlite.close(),
    prepare(source: string) {
      const hit = cache.get(source);
      if (hit && !hit.busy) return hit;
      const stmt = sqlite.prepare(source);
      if (!hit) {
        if (cache.size >= STATEMENT_CACHE_MAX) cache.delete(cache.keys().next().value!);
        cache.set(source, stmt);
      }
      return stmt;
    },
  };
}

const CHECKPOINT_WORKER = moduleBeside(import.meta.url, 'checkpoint.worker');
/**
 * The worker's entry (a data: URL): imports the module, or under tsx (tests, scripts) requires the
 * .ts source, as piscina's workers do: tsx's require hook works in a worker thread, its import hook
 * does not.
 */
const CHECKPOINT_ENTRY = new URL(
  `data:text/javascript,${encodeURIComponent(`import { workerData } from 'node:worker_threads'; import { createRequire } from 'node:module'; import { fileURLToPath } from 'node:url';
if (workerData.module.endsWith('.ts')) createRequire(workerData.module)(fileURLToPath(workerData.module)); else await import(workerData.module);`)}`,
);
const CHECKPOINT_MS = 250;
/** past this many pages of log (4 MB, SQLite's usual checkpoint size) the checkpoint thread pauses the connection for a moment to start the log over */
const RESTART_PAGES = 1000;
/** a pause the thread has not ended by then is ended here (it should take a few milliseconds) */
const PAUSE_LIMIT_MS = 2_000;
/** With the checkpoint thread running, the committing connection checkpoints only past this many pages (80 MB): a backstop. */
const BACKSTOP_PAGES = 20_000;

/** Kysely's SQLite dialect on a driver made beforehand, so that the store can hold its one connection (Kysely's mutex) for the checkpoint thread. */
class HeldSqliteDialect extends SqliteDialect {
  readonly driver: SqliteDriver;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.driver = new SqliteDriver(config);
  }
  override createDriver(): Driver {
    return this.driver;
  }
}

/**
 * Starts the checkpoint thread of a SQLite file (checkpoint.worker.ts) and leaves the committing
 * connection only a backstop; should the thread stop, that connection checkpoints at SQLite's
 * usual 1,000 pages again. When the thread asks for a pause to start the log over, the
 * connection is taken from Kysely (queries wait, the event loop does not) until it answers
 * 'resume'. Answers the function that stops the thread.
 */
function startCheckpointer(sqlite: SQLite.Database, path: string, driver: SqliteDriver): () => Promise<void> {
  const worker = new Worker(CHECKPOINT_ENTRY, {
    workerData: { module: CHECKPOINT_WORKER.href, path, intervalMs: CHECKPOINT_MS, restartPages: RESTART_PAGES },
  });
  sqlite.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  let closing = false;
  let release: (() => void) | null = null;
  const resume = () => {
    const held = release;
    release = null;
    held?.();
  };
  const pause = async () => {
    if (release || closing) return;
    await driver.acquireConnection();
    const limit = setTimeout(resume, PAUSE_LIMIT_MS);
    release = () => {
      clearTimeout(limit);
      void driver.releaseConnection();
    };
    if (closing) return resume();
    worker.postMessage('paused');
  };
  const fallBack = () => {
    resume();
    if (!closing && sqlite.open) sqlite.pragma('wal_autocheckpoint = 1000');
  };
  worker.on('error', fallBack);
  worker.on('exit', fallBack);
  worker.on('message', (m) => {
    if (m === 'pause') void pause();
    else if (m === 'resume') resume();
    // otherwise a checkpoint that met a lock, tried again on the next tick
  });
  // after the listeners: adding a 'message' listener refs the thread's port again, and a process
  // that ended without closing its store then never exited
  worker.unref();
  return () =>
    new Promise<void>((done) => {
      closing = true;
      resume();
      const timer = setTimeout(() => void worker.terminate().finally(done), 2_000);
      worker.once('exit', () => {
        clearTimeout(timer);
        done();
      });
      worker.postMessage('close');
    });
}

/**
 * Runs `fn`'s writes in `tx` under a savepoint: when `fn` throws, its writes alone are undone and
 * `tx` goes on (after an error PostgreSQL refuses every further statement of the transaction
 * otherwise); the error is thrown again. For a part a change must not fail for, e.g. its webhook
 * event. Savepoints nest, so one name serves every use.
 *
 * @example
 *   await savepoint(tx, () => tx.insertInto('webhook_events').values(row).execute());
 */
export async function savepoint<T>(tx: Transaction<Database>, fn: () => Promise<T>): Promise<T> {
  await sql`savepoint part`.execute(tx);
  try {
    const result = await fn();
    await sql`release savepoint part`.execute(tx);
    return result;
  } catch (err) {
    await sql`rollback to savepoint part`.execute(tx);
    await sql`release savepoint part`.execute(tx);
    throw err;
  }
}

export interface Store {
  db: Kysely<Database>;
  dialect: DialectName;
  close(): Promise<void>;
}

/**
 * Opens the database named by a URL: `sqlite:PATH` (the folder is created) or `postgres://...`.
 *
 * @example
 *   const store = openStore('sqlite:./data/mailport.db');
 *   await migrateToLatest(store.db);
 */
export function openStore(url: string, options: { poolSize?: number } = {}): Store {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    const inMemory = path === ':memory:' || path === '';
    if (!inMemory) mkdirSync(dirname(resolve(path)), { recursive: true });
    const sqlite = new SQLite(inMemory ? ':memory:' : path);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    // the log is cut back to 64 MB after a checkpoint
    sqlite.pragma('journal_size_limit = 67108864');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    const dialect = new HeldSqliteDialect({ database: withStatementCache(sqlite) });
    const stopCheckpoints = inMemory ? async () => {} : startCheckpointer(sqlite, resolve(path), dialect.driver);
    const db = new Kysely<Database>({ dialect });
    return {
      db,
      dialect: 'sqlite',
      close: async () => {
        await stopCheckpoints();
        await db.destroy();
      },
    };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 });
    // an idle client that loses its connection emits 'error' on the pool; without a listener it crashes the process
    pool.on('error', () => {});
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, dialect: 'postgres', close: () => db.destroy() };
  }
  throw new Error(`unsupported database URL (use sqlite:PATH or postgres://...): ${url.replace(/\/\/[^@]*@/, '//***@')}`);
}
