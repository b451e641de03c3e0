import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
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

test('SQLite: under steady commits the write-ahead log starts over every few megabytes instead of growing to the backstop', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailport-ckpt-'));
  const store = openStore(`sqlite:${join(dir, 'mailport.db')}`);
  const wal = join(dir, 'mailport.db-wal');
  try {
    await migrateToLatest(store.db);
    // 3 s of commits about a millisecond apart, each a row of 2 KB: a checkpoint that only copies
    // (PASSIVE) and syncs never finds the log all copied when a transaction begins, so the log
    // would grow by all of it (~25 MB here); restarted past 4 MB, looked at every 250 ms, its file
    // stays at what a few ticks write
    const body = 'y'.repeat(2_000);
    let largest = 0;
    let commits = 0;
    const until = Date.now() + 3_000;
    while (Date.now() < until) {
      await store.db.insertInto('tenants').values({ id: `ten_${commits++}`, name: body, company_email: 'a@example.test', from_name: null, created_at: '', updated_at: '' }).execute();
      largest = Math.max(largest, statSync(wal).size);
      await sleep(1);
    }
    const { rows } = await sql<{ n: number }>`select count(*) as n from tenants`.execute(store.db);
    assert.equal(rows[0]!.n, commits);
    assert.ok(largest < 10_000_000, `the log grew to ${(largest / 1e6).toFixed(1)} MB over ${commits} commits`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SQLite: a process that ends without closing its store exits (the checkpoint thread does not hold it)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailport-ckpt-'));
  try {
    const store = new URL('./index.js', import.meta.url).href;
    const script = `import { openStore, migrateToLatest } from ${JSON.stringify(store)};
const s = openStore(${JSON.stringify(`sqlite:${join(dir, 'mailport.db')}`)});
await migrateToLatest(s.db);
console.log('left open');`;
    const started = Date.now();
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 20_000 });
    assert.equal(stdout.trim(), 'left open');
    assert.ok(Date.now() - started < 20_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
