import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL server tests use. It is required: a test run without it fails, it does not skip. */
export const PG_URL = process.env.MAILPORT_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  dialect: 'sqlite' | 'postgres';
  url: string;
  drop(): Promise<void>;
}

/** A new, empty SQLite file in a temporary folder. */
export function freshSqlite(): TestDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'mailport-db-'));
  return { dialect: 'sqlite', url: `sqlite:${join(dir, 'test.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** A new, empty PostgreSQL database on the test server, dropped by drop(). */
export async function freshPostgres(): Promise<TestDatabase> {
  const name = `mailport_t_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is required for the test suite at ${PG_URL} (set MAILPORT_TEST_PG_URL): ${(err as Error).message}`);
  }
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    dialect: 'postgres',
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** One of each dialect: suites loop over these so both are always checked. */
export const DIALECTS: Array<{ dialect: 'sqlite' | 'postgres'; make: () => Promise<TestDatabase> }> = [
  { dialect: 'sqlite', make: async () => freshSqlite() },
  { dialect: 'postgres', make: freshPostgres },
];
