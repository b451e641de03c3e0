import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from './ids.js';

test('ids: prefixed, 26 base32 characters, sorted by time, never repeated across many draws of the random pool', () => {
  const ids = Array.from({ length: 20_000 }, (_, i) => newId('eml', 1_700_000_000_000 + Math.floor(i / 10)));
  assert.match(ids[0]!, /^eml_[0-9a-hjkmnp-tv-z]{26}$/);
  assert.equal(new Set(ids).size, ids.length);
  const byTime = ids.filter((_, i) => i % 10 === 0);
  assert.deepEqual([...byTime].sort(), byTime, 'a later millisecond sorts later');
});
