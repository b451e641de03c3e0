import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, type TestDatabase } from '../../test/helpers/databases.js';
import { openStore, migrateToLatest, type Store } from '../store/index.js';
import { SendLimiter, fitsAtAll, limitSpecFor, nextLocalMidnight, startOfLocalDay, tooLargeFor, type LimitSpec, type Reservation } from './limits.js';

const T0 = Date.parse('2030-01-15T12:00:00.000Z');
const S = 1000;
const M = 60 * S;
const H = 60 * M;

/** A clock the test moves by hand. */
function clock(start: number) {
  let t = start;
  return { now: () => new Date(t), set: (ms: number) => void (t = ms), add: (ms: number) => void (t += ms), get: () => t };
}

function refused(r: Reservation, why = 'expected a refusal'): Extract<Reservation, { ok: false }> {
  assert.equal(r.ok, false, why);
  return r as Extract<Reservation, { ok: false }>;
}

function reserved(r: Reservation, why = 'expected a reservation'): string {
  assert.equal(r.ok, true, `${why}, got ${JSON.stringify(r)}`);
  return (r as Extract<Reservation, { ok: true }>).id;
}

let seq = 0;
const account = () => `acc_limits_${++seq}`;

describe('limit helpers (no database)', () => {
  test('fitsAtAll and tooLargeFor: a message over a whole window never fits', () => {
    assert.equal(fitsAtAll({ perDay: 500, countsRecipients: true }, 500), true);
    assert.equal(fitsAtAll({ perDay: 500, countsRecipients: true }, 501), false);
    assert.equal(fitsAtAll({ perDay: 500, countsRecipients: false }, 5000), true, 'counting messages: one unit whatever the recipients');
    assert.equal(fitsAtAll({ countsRecipients: true }, 10_000), true, 'no limits');
    assert.deepEqual(tooLargeFor({ perDay: 10000, perMinute: 30, countsRecipients: true }, 40), { window: 'minute', limit: 30, units: 40 });
    assert.deepEqual(tooLargeFor({ perDay: 10000, perHour: 20, perMinute: 30, countsRecipients: true }, 25), { window: 'hour', limit: 20, units: 25 });
    assert.equal(tooLargeFor({ perDay: 10, countsRecipients: true }, 10), null);
    assert.throws(() => fitsAtAll({ countsRecipients: true }, 0), RangeError);
    assert.throws(() => fitsAtAll({ countsRecipients: true }, 1.5), RangeError);
  });

  test('limitSpecFor takes the numbers from the account and the counting rules from the preset', () => {
    const rackspace = { limits: { countsRecipients: true, window: 'calendar_day', timeZone: 'America/New_York' } };
    assert.deepEqual(limitSpecFor({ perDay: 10000, perHour: null, perMinute: null }, rackspace), {
      perDay: 10000, perHour: null, perMinute: null, countsRecipients: true, window: 'calendar_day', timeZone: 'America/New_York',
    });
    const hostgator = { limits: { countsRecipients: false, window: 'hour' } };
    assert.deepEqual(limitSpecFor({ perDay: null, perHour: 500, perMinute: null }, hostgator), {
      perDay: null, perHour: 500, perMinute: null, countsRecipients: false, window: 'hour',
    });
    assert.deepEqual(limitSpecFor({ perDay: 100, perHour: null, perMinute: 5 }), {
      perDay: 100, perHour: null, perMinute: 5, countsRecipients: true, window: 'rolling_24h',
    }, 'no preset: count recipients, rolling day');
    assert.equal(limitSpecFor({ perDay: 1, perHour: null, perMinute: null }, { limits: { countsRecipients: true, window: 'fortnight' } }).window, 'rolling_24h');
  });

  test('local midnight in New York, winter, summer and across DST changes', () => {
    const NY = 'America/New_York';
    assert.equal(new Date(startOfLocalDay(Date.parse('2030-01-15T12:34:56.789Z'), NY)).toISOString(), '2030-01-15T05:00:00.000Z');
    assert.equal(new Date(startOfLocalDay(Date.parse('2030-01-15T03:00:00.000Z'), NY)).toISOString(), '2030-01-14T05:00:00.000Z', '22:00 the day before');
    assert.equal(new Date(startOfLocalDay(Date.parse('2030-07-01T03:00:00Z'), NY)).toISOString(), '2030-06-30T04:00:00.000Z');
    // 2030-03-10: clocks go from 02:00 EST to 03:00 EDT; the day began at 05:00Z and ends at 04:00Z (23 h)
    assert.equal(new Date(startOfLocalDay(Date.parse('2030-03-10T20:00:00Z'), NY)).toISOString(), '2030-03-10T05:00:00.000Z');
    assert.equal(new Date(nextLocalMidnight(Date.parse('2030-03-10T20:00:00Z'), NY)).toISOString(), '2030-03-11T04:00:00.000Z');
    // 2030-11-03: back from 02:00 EDT to 01:00 EST; 25 h long
    assert.equal(new Date(startOfLocalDay(Date.parse('2030-11-04T04:30:00Z'), NY)).toISOString(), '2030-11-03T04:00:00.000Z', '23:30 EST');
    assert.equal(new Date(nextLocalMidnight(Date.parse('2030-11-03T04:00:00Z'), NY)).toISOString(), '2030-11-04T05:00:00.000Z');
    // Santiago moves its clocks at midnight: on 2030-09-08 the local day starts at 01:00 (-03)
    assert.equal(new Date(startOfLocalDay(Date.parse('2030-09-08T15:00:00Z'), 'America/Santiago')).toISOString(), '2030-09-08T04:00:00.000Z');
    assert.equal(new Date(startOfLocalDay(T0, 'UTC')).toISOString(), '2030-01-15T00:00:00.000Z');
  });
});

// The limiter on every dialect: SQLite (one process) and PostgreSQL (several workers share the counts).
for (const { dialect, make } of DIALECTS) {
  describe(`send limiter on ${dialect}`, () => {
    let tdb: TestDatabase;
    let store: Store;
    let second: Store;

    before(async () => {
      tdb = await make();
      store = openStore(tdb.url);
      await migrateToLatest(store.db);
      // a second pool on PostgreSQL stands for a second worker node; SQLite has one writer process
      if (dialect === 'postgres') second = openStore(tdb.url);
    });
    after(async () => {
      await second?.close();
      await store?.close();
      await tdb?.drop();
    });

    test('per minute: the sixth message waits for the oldest to leave the window', async () => {
      const c = clock(T0);
      const limiter = new SendLimiter(store.db, c.now);
      const acc = account();
      const spec: LimitSpec = { perMinute: 5, countsRecipients: false };
      for (let i = 0; i < 5; i++) {
        reserved(await limiter.reserve(acc, spec, 3));
        c.add(10 * S);
      }
      // now T0+50s: units at 0,10,20,30,40 s
      const r = refused(await limiter.reserve(acc, spec, 1));
      assert.equal(r.window, 'minute');
      assert.equal(r.reason, 'limit');
      assert.equal(r.retryAt.toISOString(), new Date(T0 + M).toISOString(), 'when the first unit leaves');
      c.set(T0 + M - 1);
      refused(await limiter.reserve(acc, spec, 1));
      c.set(T0 + M);
      reserved(await limiter.reserve(acc, spec, 1));
      refused(await limiter.reserve(acc, spec, 1));
    });

    test('per hour counts recipients, and retryAt waits until enough recipients have left', async () => {
      const c = clock(T0);
      const limiter = new SendLimiter(store.db, c.now);
      const acc = account();
      const spec: LimitSpec = { perHour: 10, countsRecipients: true, window: 'hour' };
      reserved(await limiter.reserve(acc, spec, 2)); // T0
      c.add(10 * M);
      reserved(await limiter.reserve(acc, spec, 3)); // +10 min
      c.add(10 * M);
      reserved(await limiter.reserve(acc, spec, 4)); // +20 min: 9 of 10
      reserved(await limiter.reserve(acc, spec, 1)); // exactly 10
      c.add(M);
      const r = refused(await limiter.reserve(acc, spec, 4));
      assert.equal(r.window, 'hour');
      // 4 more need 4 freed: the 2 of T0 are not enough, the 3 of +10 min are
      assert.equal(r.retryAt.toISOString(), new Date(T0 + 10 * M + H).toISOString());
      c.set(T0 + H);
      refused(await limiter.reserve(acc, spec, 4), 'only 2 freed so far');
      reserved(await limiter.reserve(acc, spec, 2));
    });

    test('counting messages: many recipients are one unit', async () => {
      const c = clock(T0);
      const limiter = new SendLimiter(store.db, c.now);
      const acc = account();
      const spec: LimitSpec = { perHour: 2, countsRecipients: false };
      reserved(await limiter.reserve(acc, spec, 50));
      reserved(await limiter.reserve(acc, spec, 50));
      assert.equal(refused(await limiter.reserve(acc, spec, 1)).window, 'hour');
      const asRecipients = await limiter.usage(acc, { perHour: 200, countsRecipients: true });
      assert.equal(asRecipients.sentInWindow, 100, 'the same ledger counted by recipients');
    });

    test('rolling 24 h day window, checked together with the minute window', async () => {
      const c = clock(T0);
      const limiter = new SendLimiter(store.db, c.now);
      const acc = account();
      const spec: LimitSpec = { perDay: 6, perMinute: 4, countsRecipients: true, window: 'rolling_24h' };
      reserved(await limiter.reserve(acc, spec, 4));
      const minute = refused(await limiter.reserve(acc, spec, 1));
      assert.equal(minute.window, 'minute');
      assert.equal(minute.retryAt.getTime(), T0 + M);
      c.set(T0 + 2 * H);
      reserved(await limiter.reserve(acc, spec, 2)); // the day is full: 6
      const day = refused(await limiter.reserve(acc, spec, 1));
      assert.equal(day.window, 'day');
      assert.equal(day.retryAt.getTime(), T0 + 24 * H, 'the 4 of T0 leave 24 h later');
      // both full: the later of the two frees decides
      c.set(T0 + 24 * H);
      reserved(await limiter.reserve(acc, spec, 4));
      const both = refused(await limiter.reserve(acc, spec, 1));
      assert.equal(both.window, 'day');
      assert.equal(both.retryAt.getTime(), T0 + 26 * H);
    });

    test('calendar day in New York resets at local midnight, not 24 h later', async () => {
      // 2030-01-15 23:30 EST = 2030-01-16T04:30Z; New York midnight = 05:00Z
      const c = clock(Date.parse('2030-01-16T04:30:00.000Z'));
      const limiter = new SendLimiter(store.db, c.now);
      const acc = account();
      const spec = limitSpecFor({ perDay: 3, perHour: null, perMinute: null }, { limits: { countsRecipients: true, window: 'calendar_day', timeZone: 'America/New_York' } });
      reserved(await limiter.reserve(acc, spec, 3));
      const r = refused(await limiter.reserve(acc, spec, 1));
      assert.equal(r.window, 'day');
      assert.equal(r.retryAt.toISOString(), '2030-01-16T05:00:00.000Z');
      const u = await limiter.usage(acc, spec);
      assert.deepEqual(u, { perDay: 3, perMinute: null, sentInWindow: 3, remaining: 0, windowResetsAt: '2030-01-16T05:00:00.000Z' });
      c.set(Date.parse('2030-01-16T04:59:59.999Z'));
      refused(await limiter.reserve(acc, spec, 1));
      c.set(Date.parse('2030-01-16T05:00:00.000Z'));
      reserved(await limiter.reserve(acc, spec, 3), 'a new day in New York, 30 minutes after the first sends');
      assert.equal((await limiter.usage(acc, spec)).sentInWindow, 3, 'only the new day counts');
    });

    test('a message too large for a window is refused as too_large, and nothing is reserved', async () => {
      const c = clock(T0);
      const limiter = new SendLimiter(store.db, c.now);
      const acc = account();
      const spec: LimitSpec = { perDay: 500, perMinute: 30, countsRecipients: true };
      const r = refused(await limiter.reserve(acc, spec, 31));
      assert.equal(r.reason, 'too_large');
      assert.equal(r.window, 'minute');
      assert.equal(fitsAtAll(spec, 31), false);
      assert.equal((await limiter.usage(acc, spec)).sentInWindow, 0);
    });

    test('release gives the capacity back, once', async () => {
      const c = clock(T0);
      const limiter = new SendLimiter(store.db, c.now);
      const acc = account();
      const spec: LimitSpec = { perDay: 5, countsRecipients: true };
      const id = reserved(await limiter.reserve(acc, spec, 5));
      refused(await limiter.reserve(acc, spec, 1));
      await limiter.release(id);
      await limiter.release(id);
      await limiter.release('rsv_unknown');
      assert.equal((await limiter.usage(acc, spec)).remaining, 5);
      reserved(await limiter.reserve(acc, spec, 5));
    });

    test('shrink lowers a reservation to the recipients it went to, never raises it', async () => {
      const c = clock(T0);
      const limiter = new SendLimiter(store.db, c.now);
      const acc = account();
      const spec: LimitSpec = { perDay: 5, countsRecipients: true };
      const id = reserved(await limiter.reserve(acc, spec, 4));
      refused(await limiter.reserve(acc, spec, 2));
      await limiter.shrink(id, 2);
      assert.equal((await limiter.usage(acc, spec)).sentInWindow, 2);
      await limiter.shrink(id, 3);
      await limiter.shrink('rsv_unknown', 1);
      assert.equal((await limiter.usage(acc, spec)).remaining, 3, 'not raised again');
      reserved(await limiter.reserve(acc, spec, 3));
      await assert.rejects(limiter.shrink(id, 0), RangeError);
    });

    test('penalize blocks the account until the provider says, whatever the windows', async () => {
      const c = clock(T0);
      const limiter = new SendLimiter(store.db, c.now);
      const acc = account();
      const other = account();
      const spec: LimitSpec = { perDay: 500, countsRecipients: true };
      reserved(await limiter.reserve(acc, spec, 10));
      await limiter.penalize(acc, new Date(T0 + 24 * H), '550 5.4.5 Daily user sending quota exceeded');
      await limiter.penalize(acc, new Date(T0 + H), 'a shorter block does not shorten the first');
      const r = refused(await limiter.reserve(acc, spec, 1));
      assert.equal(r.reason, 'penalty');
      assert.equal(r.window, 'day');
      assert.equal(r.retryAt.getTime(), T0 + 24 * H);
      reserved(await limiter.reserve(other, spec, 1), 'other accounts are not blocked');
      assert.equal(refused(await limiter.reserve(acc, { countsRecipients: true }, 1)).reason, 'penalty', 'a block holds even without limits');
      assert.equal((await limiter.blockedUntil(acc))?.getTime(), T0 + 24 * H, 'the longest block, read without reserving');
      assert.equal(await limiter.blockedUntil(other), null);

      const u = await limiter.usage(acc, spec);
      assert.deepEqual(u, { perDay: 500, perMinute: null, sentInWindow: 10, remaining: 0, windowResetsAt: new Date(T0 + 24 * H).toISOString() });

      c.set(T0 + 24 * H);
      reserved(await limiter.reserve(acc, spec, 1));
      // a short block (Microsoft's per-minute excess) reads as the minute window
      await limiter.penalize(acc, new Date(T0 + 24 * H + 30 * S), '421 4.7.0 try again later');
      assert.equal(refused(await limiter.reserve(acc, spec, 1)).window, 'minute');
    });

    test('usage: the day window, what remains, and when the next unit frees', async () => {
      const c = clock(T0);
      const limiter = new SendLimiter(store.db, c.now);
      const acc = account();
      const spec: LimitSpec = { perDay: 100, perMinute: 30, countsRecipients: true };
      assert.deepEqual(await limiter.usage(acc, spec), { perDay: 100, perMinute: 30, sentInWindow: 0, remaining: 100, windowResetsAt: null });
      reserved(await limiter.reserve(acc, spec, 7));
      c.add(3 * H);
      reserved(await limiter.reserve(acc, spec, 5));
      assert.deepEqual(await limiter.usage(acc, spec), {
        perDay: 100, perMinute: 30, sentInWindow: 12, remaining: 88, windowResetsAt: new Date(T0 + 24 * H).toISOString(),
      });
      c.set(T0 + 24 * H);
      assert.deepEqual(await limiter.usage(acc, spec), {
        perDay: 100, perMinute: 30, sentInWindow: 5, remaining: 95, windowResetsAt: new Date(T0 + 27 * H).toISOString(),
      });
      // only an hour limit (HostGator): the hour is the main window
      const hourly: LimitSpec = { perHour: 500, countsRecipients: true, window: 'hour' };
      const u = await limiter.usage(acc, hourly);
      assert.deepEqual(u, { perDay: null, perMinute: null, sentInWindow: 0, remaining: 500, windowResetsAt: null });
      // no limit at all: counted over the day, nothing to remain
      assert.deepEqual(await limiter.usage(acc, { countsRecipients: true }), { perDay: null, perMinute: null, sentInWindow: 5, remaining: null, windowResetsAt: new Date(T0 + 27 * H).toISOString() });
    });

    test('ledger rows older than 25 h are pruned when the account reserves again', async () => {
      const c = clock(T0);
      const limiter = new SendLimiter(store.db, c.now);
      const acc = account();
      const spec: LimitSpec = { perDay: 10, countsRecipients: true };
      reserved(await limiter.reserve(acc, spec, 1));
      await limiter.penalize(acc, new Date(T0 + M), 'old block');
      c.set(T0 + 26 * H);
      reserved(await limiter.reserve(acc, spec, 1));
      const rows = await store.db.selectFrom('send_limit_ledger').select('at').where('account_id', '=', acc).execute();
      assert.deepEqual(rows.map((r) => r.at), [new Date(T0 + 26 * H).toISOString()]);
      const blocks = await store.db.selectFrom('send_limit_blocks').select('id').where('account_id', '=', acc).execute();
      assert.equal(blocks.length, 0);
    });

    test('20 reservations at once against 5 a minute: exactly 5 pass', async () => {
      const c = clock(T0);
      const stores = second ? [store, second] : [store];
      const limiters = stores.map((s) => new SendLimiter(s.db, c.now));
      const acc = account();
      const spec: LimitSpec = { perMinute: 5, countsRecipients: false };
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => limiters[i % limiters.length].reserve(acc, spec, 1)));
      assert.equal(results.filter((r) => r.ok).length, 5);
      assert.ok(results.filter((r) => !r.ok).every((r) => !r.ok && r.window === 'minute' && r.retryAt.getTime() === T0 + M));
      const count = await store.db.selectFrom('send_limit_ledger').select((eb) => eb.fn.countAll<string | number>().as('n')).where('account_id', '=', acc).executeTakeFirstOrThrow();
      assert.equal(Number(count.n), 5);

      // the same with recipients, on an account never seen before (its lock row is created by the race)
      const fresh = account();
      const byRecipients: LimitSpec = { perDay: 10, countsRecipients: true };
      const r2 = await Promise.all(Array.from({ length: 20 }, (_, i) => limiters[i % limiters.length].reserve(fresh, byRecipients, 3)));
      assert.equal(r2.filter((r) => r.ok).length, 3, '3 x 3 = 9 of 10');
    });
  });
}
