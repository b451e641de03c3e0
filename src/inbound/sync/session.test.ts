import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Slots } from './session.js';

const tick = () => new Promise((r) => setImmediate(r));

test('slots: at most n units held, first come first served, a take larger than n waits until nothing is held', async () => {
  const slots = new Slots(10);
  const order: string[] = [];
  const a = await slots.take(6);
  const b = await slots.take(4);
  const c = slots.take(3).then((r) => (order.push('c'), r));
  const d = slots.take(1).then((r) => (order.push('d'), r));
  const huge = slots.take(50).then((r) => (order.push('huge'), r));
  await tick();
  assert.deepEqual(order, [], 'full: everyone waits, even d that would fit behind c');
  a();
  await tick();
  assert.deepEqual(order, ['c', 'd'], 'freed units go to the waiting in order');
  b();
  (await c)();
  await tick();
  assert.deepEqual(order, ['c', 'd'], 'the large take waits while anything is held');
  (await d)();
  await tick();
  assert.deepEqual(order, ['c', 'd', 'huge']);
  const release = await huge;
  release();
  release(); // twice is once
  const e = await slots.take(10);
  e();
});
