import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { AddressGuard } from '../net/guard.js';
import { SecretBox } from '../secrets/secret-box.js';
import { DEFAULT_DISPATCHER_OPTIONS, WebhookDispatcher } from './dispatcher.js';
import { parseEventList, parseWebhookUrl } from './webhooks.service.js';
import { isMailportError } from '../core/errors.js';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (isMailportError(err) && err.code === 'INVALID_INPUT') return err.field;
    throw err;
  }
  return undefined;
}

test('receiver URLs: http(s), a host, no credentials, bounded length', () => {
  assert.equal(parseWebhookUrl('https://crm.example.com/hooks/mailport?tenant=1').hostname, 'crm.example.com');
  assert.equal(parseWebhookUrl('http://[2001:db8::1]:8080/x').port, '8080');
  for (const bad of ['', 'crm.example.com/hooks', 'ftp://example.com/', 'javascript:alert(1)', 'file:///etc/passwd', 'https://u:p@example.com/', 'https://u@example.com/', 'https://exa mple.com/', 'https://example.com/\r\nX: y', `https://example.com/${'a'.repeat(2048)}`]) {
    assert.equal(fieldOf(() => parseWebhookUrl(bad)), 'url', bad.slice(0, 40));
  }
});

test('event lists: known types or *, at least one, no repeats', () => {
  assert.deepEqual(parseEventList(['account.error', 'campaign.item.queued']), ['account.error', 'campaign.item.queued']);
  assert.deepEqual(parseEventList(['*']), ['*']);
  assert.equal(fieldOf(() => parseEventList([])), 'events');
  assert.equal(fieldOf(() => parseEventList(['account.error', 'account.deleted'])), 'events.1');
  assert.equal(fieldOf(() => parseEventList(['message.sent', 'message.sent'])), 'events.1');
  assert.equal(fieldOf(() => parseEventList(['account.*'])), 'events.0');
});

test('backoff follows the schedule, is capped by its last step, and jitters within bounds', () => {
  const make = (random: number) =>
    new WebhookDispatcher({
      repos: {} as never,
      box: new SecretBox([Buffer.alloc(32, 1)]),
      guard: new AddressGuard(),
      logger: pino({ level: 'silent' }),
      random: () => random,
    });
  const mid = make(0.5);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => mid.backoff(n)), [10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000]);
  assert.equal(mid.backoff(40), 3_600_000, 'capped at an hour');
  assert.equal(make(0).backoff(1), 8_000, '-20%');
  assert.equal(make(0.999999).backoff(1), 12_000, '+20%');
  // a day of retries at the production schedule: a few dozen attempts, not thousands
  let elapsed = 0;
  let attempts = 0;
  while (elapsed < DEFAULT_DISPATCHER_OPTIONS.maxAgeMs) elapsed += mid.backoff(++attempts);
  assert.ok(attempts > 20 && attempts < 35, `${attempts} attempts in a day`);
});
