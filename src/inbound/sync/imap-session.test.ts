import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ImapFlow } from 'imapflow';
import { cutBatches, keepListedOnly, planFolders, uidRange } from './imap-session.js';
import { backoffDelay } from './options.js';

test('cutBatches ends a batch at the message count or the byte budget, keeps the order, and never leaves a big message out', () => {
  const sizes = new Map([[10, 5], [9, 5], [8, 50], [7, 5], [6, 5], [5, 5]]);
  assert.deepEqual(cutBatches([10, 9, 8, 7, 6, 5], sizes, 200, 12), [[10, 9], [8], [7, 6], [5]]);
  assert.deepEqual(cutBatches([10, 9, 8, 7, 6, 5], sizes, 2, 1000), [[10, 9], [8, 7], [6, 5]]);
  assert.deepEqual(cutBatches([1, 2, 3], new Map(), 200, 10), [[1, 2, 3]], 'unknown sizes count 0');
  assert.deepEqual(cutBatches([], sizes, 200, 10), []);
});

test('uidRange folds runs of UIDs, in any order, duplicates once', () => {
  assert.equal(uidRange([5, 1, 2, 3, 9, 7, 8, 3]), '1:3,5,7:9');
  assert.equal(uidRange([42]), '42');
  assert.equal(uidRange([]), '');
});

test('planFolders: Inbox, the \\Sent folder (special-use before names), extra folders that exist and can be selected', () => {
  const listed = [
    { path: 'INBOX', delimiter: '/', flags: [] },
    { path: 'Sent Messages', delimiter: '/', flags: [] },
    { path: 'Gesendet', delimiter: '/', flags: ['\\Sent'] },
    { path: 'Archive', delimiter: '/', flags: ['\\Archive'] },
    { path: 'Old', delimiter: '/', flags: ['\\Noselect'] },
  ];
  assert.deepEqual(planFolders(listed, { extra: ['archive', 'Old', 'Missing', 'INBOX'] }), [
    { path: 'INBOX', role: 'inbox' },
    { path: 'Gesendet', role: 'sent' },
    { path: 'Archive', role: 'extra' },
  ]);
});

test('planFolders: a cPanel-style namespace (INBOX.) and the catalog hint', () => {
  const ns = { prefix: 'INBOX.', delimiter: '.' };
  const listed = [
    { path: 'INBOX', delimiter: '.', flags: [] },
    { path: 'INBOX.Sent', delimiter: '.', flags: [] },
    { path: 'INBOX.Sent Items', delimiter: '.', flags: [] },
  ];
  assert.deepEqual(planFolders(listed, { namespace: ns, sentHint: 'Sent Items', extra: [] }).map((f) => f.path), ['INBOX', 'INBOX.Sent Items']);
  assert.deepEqual(planFolders([{ path: 'INBOX', delimiter: '/', flags: [] }], { extra: [] }), [{ path: 'INBOX', role: 'inbox' }], 'no Sent folder: the Inbox only (sync never creates folders)');
});

test('keepListedOnly: the client keeps the LIST entries of the planned folders only (SELECT needs no new LIST for them)', () => {
  const entry = (path: string) => ({ path, delimiter: '/', flags: new Set<string>() });
  const entries = new Map(['INBOX', 'Sent', 'Trash', 'Lists/a', 'Lists/b'].map((p) => [p, entry(p)]));
  const client = { folders: entries } as unknown as ImapFlow & { folders: Map<string, unknown> };
  keepListedOnly(client, [{ path: 'INBOX', role: 'inbox' }, { path: 'Sent', role: 'sent' }, { path: 'Gone', role: 'extra' }]);
  assert.deepEqual([...client.folders.keys()], ['INBOX', 'Sent']);
  assert.equal(client.folders.get('Sent'), entries.get('Sent'));
  const other = { folders: 'not a Map' } as unknown as ImapFlow;
  keepListedOnly(other, [{ path: 'INBOX', role: 'inbox' }]);
  assert.equal((other as unknown as { folders: unknown }).folders, 'not a Map', 'an imapflow that keeps no such cache is left alone');
});

test('reconnect backoff grows exponentially with jitter and stays under the cap', () => {
  const o = { backoffMs: 1_000, maxBackoffMs: 300_000 };
  for (let attempt = 1; attempt <= 20; attempt++) {
    const d = backoffDelay(attempt, o);
    const full = Math.min(o.maxBackoffMs, 1_000 * 2 ** (attempt - 1));
    assert.ok(d >= full / 2 && d <= full, `attempt ${attempt}: ${d} within [${full / 2}, ${full}]`);
  }
});
