import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics, outboxQueueSource } from './metrics.js';

/** The value of one sample line (`name{labels} value`), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('counters, the queue read at scrape time, and the sync collector all appear in the text', async () => {
  let depth = { queued: 4, deferred: 1, sending: 2 };
  const m = new Metrics({ queue: async () => ({ depth, oldestDueSeconds: 12.5 }), info: { version: '1.2.3', role: 'worker' } });
  m.sendOutcome('sent');
  m.sendOutcome('sent');
  m.sendOutcome('failed');
  m.limitDeferral();
  m.verification('smtp', null);
  m.verification('imap', 'AUTH_FAILED');
  m.webhookDelivery('retry');
  m.httpRequest('GET', '/v1/accounts/:id', 404, 0.003);
  m.httpRequest('BREW', undefined, 404, 0.001);
  m.setSyncCollector(() => ({ states: { idle: 3, auth_failed: 1, 'Bad State!': 2 }, connected: 3, lagSeconds: [5, 1, 3, 2, 40] }));

  const text = await m.render();
  assert.equal(sample(text, 'mailport_info{version="1.2.3",role="worker"}'), 1);
  assert.equal(sample(text, 'mailport_sends_total{outcome="sent"}'), 2);
  assert.equal(sample(text, 'mailport_sends_total{outcome="failed"}'), 1);
  assert.equal(sample(text, 'mailport_send_limit_deferrals_total'), 1);
  assert.equal(sample(text, 'mailport_verifications_total{protocol="smtp",code="ok"}'), 1);
  assert.equal(sample(text, 'mailport_verifications_total{protocol="imap",code="AUTH_FAILED"}'), 1);
  assert.equal(sample(text, 'mailport_webhook_deliveries_total{outcome="retry"}'), 1);
  assert.equal(sample(text, 'mailport_http_requests_total{method="GET",route="/v1/accounts/:id",status_code="404"}'), 1);
  assert.equal(sample(text, 'mailport_http_requests_total{method="other",route="unmatched",status_code="404"}'), 1);
  assert.equal(sample(text, 'mailport_outbox_jobs{status="queued"}'), 4);
  assert.equal(sample(text, 'mailport_outbox_jobs{status="sending"}'), 2);
  assert.equal(sample(text, 'mailport_outbox_oldest_due_seconds'), 12.5);
  assert.equal(sample(text, 'mailport_sync_accounts{state="idle"}'), 3);
  assert.equal(sample(text, 'mailport_sync_accounts{state="auth_failed"}'), 1);
  assert.equal(sample(text, 'mailport_sync_accounts{state="other"}'), 2, 'a state that does not look like one is not a label');
  assert.equal(sample(text, 'mailport_sync_connected_accounts'), 3);
  assert.equal(sample(text, 'mailport_sync_lag_seconds{stat="p50"}'), 3);
  assert.equal(sample(text, 'mailport_sync_lag_seconds{stat="p90"}'), 40);
  assert.equal(sample(text, 'mailport_sync_lag_seconds{stat="max"}'), 40);
  assert.ok(sample(text, 'process_resident_memory_bytes')! > 0, 'process metrics are appended');

  // the next scrape reads the sources again; a status that emptied is not left at its old value
  depth = { queued: 0, deferred: 0, sending: 0 };
  m.setSyncCollector(() => ({ states: { idle: 1 }, connected: 1, lagSeconds: [] }));
  const again = await m.render();
  assert.equal(sample(again, 'mailport_outbox_jobs{status="queued"}'), 0);
  assert.equal(sample(again, 'mailport_sync_accounts{state="auth_failed"}'), undefined);
  assert.equal(sample(again, 'mailport_sync_lag_seconds{stat="max"}'), undefined, 'no accounts, no lag');
});

test('a failing source is counted and leaves its gauges empty; the rest of the scrape still works', async () => {
  const warned: string[] = [];
  const m = new Metrics({ queue: async () => Promise.reject(new Error('database down')), logger: { warn: (_o, msg) => warned.push(msg ?? '') } });
  m.setSyncCollector(() => {
    throw new Error('engine busy');
  });
  m.sendOutcome('deferred');
  const text = await m.render();
  assert.equal(sample(text, 'mailport_sends_total{outcome="deferred"}'), 1);
  assert.equal(sample(text, 'mailport_metrics_source_errors_total{source="queue"}'), 1);
  assert.equal(sample(text, 'mailport_metrics_source_errors_total{source="sync"}'), 1);
  assert.equal(sample(text, 'mailport_outbox_jobs{status="queued"}'), undefined);
  assert.equal(warned.length, 2);
});

test('two apps in one process keep separate registries', async () => {
  const a = new Metrics();
  const b = new Metrics();
  a.sendOutcome('sent');
  assert.equal(sample(await a.render(), 'mailport_sends_total{outcome="sent"}'), 1);
  assert.equal(sample(await b.render(), 'mailport_sends_total{outcome="sent"}'), undefined);
});

test('outboxQueueSource turns the oldest due time into seconds waited', async () => {
  const now = new Date('2030-01-01T00:01:00.000Z');
  const source = outboxQueueSource({ snapshot: async (n) => ({ depth: { queued: 1 }, oldestDueAt: n === now.toISOString() ? '2030-01-01T00:00:00.000Z' : null }) }, () => now);
  assert.deepEqual(await source(), { depth: { queued: 1 }, oldestDueSeconds: 60 });
  const none = outboxQueueSource({ snapshot: async () => ({ depth: {}, oldestDueAt: null }) }, () => now);
  assert.equal((await none()).oldestDueSeconds, 0);
});
