import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { openStore, migrateToLatest } from './index.js';

test('SQLite: the write-ahead log is checkpointed into the database file by the checkpoint thread, not by the committing connection', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailport-ckpt-'));
  const store = openStore(`sqlite:${join(dir, 'mailport.db')}`);
  try {
    await migrateToLatest(store.db);
    const before = statSync(join(dir, 'mailport.db')).size;
    // about 12 MB of log: below the committing connection's 80 MB backstop, above SQLite's usual 4 MB
    const big = 'x'.repeat(100_000);
    for (let i = 0; i < 120; i++) {
      await store.db.insertInto('tenants').values({ id: `ten_${i}`, name: big, company_email: 'a@example.test', from_name: null, created_at: '', updated_at: '' }).execute();
    }
    const deadline = Date.now() + 10_000;
    while (statSync(join(dir, 'mailport.db')).size < before + 10_000_000 && Date.now() < deadline) await sleep(50);
    assert.ok(statSync(join(dir, 'mailport.db')).size >= before + 10_000_000, 'the rows reached the database file');
    // the thread is still there: had it failed, the connection would be back at SQLite's usual 1,000 pages
    const { rows } = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(store.db);
    assert.equal(rows[0]!.wal_autocheckpoint, 20_000);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
