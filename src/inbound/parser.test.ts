import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskThreads } from '../core/task-threads.js';
import { parseMessage } from './parse.js';
import { MessageParser } from './parser.js';

const message = (i: number) =>
  Buffer.from(
    [
      `From: "Zoë ${i}" <z${i}@example.test>`, 'To: sales@acme.test', `Subject: =?UTF-8?B?${Buffer.from(`Grüße ${i}`).toString('base64')}?=`, `Message-ID: <m${i}@example.test>`,
      'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: text/plain; charset=utf-8', '', `Hello ${i}`, '--b',
      'Content-Type: application/pdf; name="a.pdf"', 'Content-Transfer-Encoding: base64', '', Buffer.from(`pdf ${i}`).toString('base64'), '--b--', '',
    ].join('\r\n'),
  );

test('a batch parsed on a worker thread gives what the calling thread gives, in order', async () => {
  const raws = Array.from({ length: 30 }, (_, i) => message(i));
  const failures: unknown[] = [];
  const parser = new MessageParser({ threads: 1, onThreadFailure: (err) => failures.push(err) });
  try {
    const threaded = await parser.parseMany(raws);
    const inline = await Promise.all(raws.map((r) => parseMessage(r)));
    assert.deepEqual(threaded, inline);
    assert.equal(threaded[7]!.subject, 'Grüße 7');
    assert.deepEqual(threaded[7]!.attachments, [{ filename: 'a.pdf', contentType: 'application/pdf', size: 5, partId: '2' }]);
    assert.deepEqual(failures, [], 'parsed on the thread, not by the fallback');
  } finally {
    await parser.close();
  }
});

test('threads that cannot start: the work is done on the calling thread and the failure told once', async () => {
  const failures: unknown[] = [];
  const threads = new TaskThreads<number, number>({
    file: new URL('./no-such-worker.js', import.meta.url).href, threads: 1, perTask: 2,
    inline: async (items) => items.map((n) => n * 2), onThreadFailure: (err) => failures.push(err),
  });
  try {
    assert.deepEqual(await threads.run([1, 2, 3, 4, 5]), [2, 4, 6, 8, 10]);
    assert.deepEqual(await threads.run([6]), [12]);
    assert.equal(failures.length, 1);
    assert.equal(threads.offloading, false);
  } finally {
    await threads.close();
  }
});
