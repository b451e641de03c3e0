import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase } from 'kysely';
import type { Database } from './schema.js';

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
    // checkpoint at 40 MB of log instead of 4 MB: each checkpoint syncs the file, and a mailbox's
    // initial sync writes megabytes per batch (commits took half as long again at the default);
    // the log is cut back to 64 MB after one
    sqlite.pragma('wal_autocheckpoint = 10000');
    sqlite.pragma('journal_size_limit = 67108864');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
    return { db, dialect: 'sqlite', close: () => db.destroy() };
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
