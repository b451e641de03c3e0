import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Batcher } from './batcher.js';

test('calls made in the same turn run as one batch, each getting its own result or error', async () => {
  const batches: number[][] = [];
  const b = new Batcher<number, number>(async (items) => {
    batches.push(items);
    return items.map((i): PromiseSettledResult<number> => (i < 0 ? { status: 'rejected', reason: new Error(`bad ${i}`) } : { status: 'fulfilled', value: i * 10 }));
  }, 3);
  const results = await Promise.allSettled([b.push(1), b.push(2), b.push(-3), b.push(4), b.push(5)]);
  assert.deepEqual(batches, [[1, 2, -3], [4, 5]], 'at most `max` per batch; the rest in the next');
  assert.deepEqual(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)), [10, 20, 'bad -3', 40, 50]);
  await b.push(6);
  assert.deepEqual(batches.at(-1), [6], 'a later call starts a new batch');
});

test('a batch that fails as a whole fails each of its calls', async () => {
  const b = new Batcher<number, number>(async () => {
    throw new Error('database gone');
  }, 10);
  const results = await Promise.allSettled([b.push(1), b.push(2)]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  assert.match(String((results[0] as PromiseRejectedResult).reason), /database gone/);
});
