import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, migrateToLatest } from './index.js';
import { CompiledShapes } from './compiled.js';

test('compiled shapes: built once, run again with new parameters; a shape that compiles otherwise is built each time', async () => {
  const store = openStore('sqlite::memory:');
  try {
    await migrateToLatest(store.db);
    const shapes = new CompiledShapes();
    let builds = 0;
    const insert = (id: string, fromName: string | null | undefined) => {
      const row = { id, name: `n-${id}`, company_email: `${id}@example.test`, from_name: fromName, created_at: 'c', updated_at: 'u' };
      return shapes.run(store.db, 'tenant', Object.values(row), () => {
        builds++;
        return store.db.insertInto('tenants').values(row as never).compile();
      });
    };
    await insert('t1', 'One');
    await insert('t2', null);
    assert.equal(builds, 1, 'the second run reused the text');
    await insert('t3', undefined);
    assert.equal(builds, 2, 'an undefined value (a dropped column) is built again');
    const rows = await store.db.selectFrom('tenants').select(['id', 'name', 'from_name']).orderBy('id').execute();
    assert.deepEqual(rows, [{ id: 't1', name: 'n-t1', from_name: 'One' }, { id: 't2', name: 'n-t2', from_name: null }, { id: 't3', name: 'n-t3', from_name: null }]);
  } finally {
    await store.close();
  }
});
