/**
 * Provider sending limits (DESIGN point 5): count what each account sends in its windows, defer a
 * message that would go over until the window allows it, and stop an account outright while its
 * provider says it is over the limit (Yandex extends its block on every attempt, so "defer, do
 * not hammer"). State lives in the database, so several workers share one count.
 */
import type { Kysely } from 'kysely';
import { newId } from '../core/ids.js';
import type { Database } from '../store/schema.js';
import { SendLimitsRepository, type WindowCheck } from '../store/send-limits.repository.js';

/** The window of a spec's day limit (`calendar_day` or else rolling 24 h); `hour` / `minute` name the main limit. */
export type SpecWindow = 'rolling_24h' | 'calendar_day' | 'hour' | 'minute';
const SPEC_WINDOWS: readonly SpecWindow[] = ['rolling_24h', 'calendar_day', 'hour', 'minute'];

/** The limits one account sends under. A null or missing limit is no limit. */
export interface LimitSpec {
  perDay?: number | null;
  perHour?: number | null;
  perMinute?: number | null;
  /** true: a message counts one unit per recipient in every window; false: one per message */
  countsRecipients: boolean;
  /** `calendar_day`: perDay counts from local midnight in `timeZone`; anything else: perDay is a rolling 24 h */
  window?: SpecWindow;
  /** IANA zone of a `calendar_day` window (default UTC) */
  timeZone?: string;
}

export type LimitWindowName = 'day' | 'hour' | 'minute';

/**
 * The answer of `reserve`. On refusal, `retryAt` is the earliest moment the message can fit and
 * `window` the window that holds it longest; `reason` (an addition to the shared contract)
 * tells a window that is full (`limit`) from a provider block (`penalty`) from a message too
 * large for a window however empty (`too_large`: see `fitsAtAll`; it will never fit).
 */
export type Reservation =
  | { ok: true; id: string }
  | { ok: false; retryAt: Date; window: LimitWindowName; reason?: 'limit' | 'penalty' | 'too_large' };

export interface Usage {
  perDay: number | null;
  perMinute: number | null;
  /** units counted in the main window (the day window, or hour/minute when only those are limited) */
  sentInWindow: number;
  /** units the main window still allows (0 while the provider blocks the account); null without a limit */
  remaining: number | null;
  /** ISO time the next counted unit leaves the main window, or the block ends if later; null when nothing is counted */
  windowResetsAt: string | null;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** longer than any local calendar day (25 h on a DST fall-back day): older ledger rows count nowhere */
const KEEP = 25 * HOUR;

interface Window {
  name: LimitWindowName;
  limit: number;
  /** rows with `at` after this count */
  after: number;
  /** rolling length in ms, or null for a calendar day */
  length: number | null;
  /** calendar day: when it ends */
  resetsAt?: number;
}

/**
 * Counts and enforces an account's sending limits. `now` is injectable for tests.
 *
 * @example
 *   const limiter = new SendLimiter(store.db);
 *   const spec = limitSpecFor(accounts.effectiveLimits(row), catalog.get(row.preset));
 *   if (!fitsAtAll(spec, rcpts.length)) return fail('too many recipients for this provider');
 *   const r = await limiter.reserve(row.id, spec, rcpts.length);
 *   if (!r.ok) return defer(r.retryAt);
 *   try { await send(); } catch (err) { await limiter.release(r.id); throw err; }
 */
export class SendLimiter {
  private readonly repo: SendLimitsRepository;

  constructor(
    db: Kysely<Database>,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.repo = new SendLimitsRepository(db);
  }

  /**
   * Atomically reserves capacity for one message with `recipients` recipients (units =
   * recipients when the spec counts recipients, else 1) in every window the spec limits. A
   * message over a limit is never reserved: `retryAt` says when the windows allow it, or when
   * the provider's block ends.
   */
  async reserve(accountId: string, spec: LimitSpec, recipients: number): Promise<Reservation> {
    const count = checkRecipients(recipients);
    const now = this.now().getTime();
    const windows = windowsOf(spec, now);
    const units = spec.countsRecipients ? count : 1;

    const tooSmall = windows.find((w) => units > w.limit);
    if (tooSmall) {
      // never fits: retryAt only says when the window would be empty, should a caller retry anyway
      return { ok: false, retryAt: new Date(tooSmall.resetsAt ?? now + tooSmall.length!), window: tooSmall.name, reason: 'too_large' };
    }

    const id = newId('rsv', now);
    const outcome = await this.repo.reserveWithin(
      { id, account_id: accountId, at: iso(now), recipients: count },
      spec.countsRecipients,
      windows.map(toCheck),
      iso(now - KEEP),
    );
    if (outcome.reserved) return { ok: true, id };
    if (outcome.block) {
      const until = Date.parse(outcome.block.until);
      return { ok: false, retryAt: new Date(until), window: windowForWait(until - now), reason: 'penalty' };
    }

    // each full window frees in its own time; the message fits once all of them have freed enough
    let best: { at: number; name: LimitWindowName } | undefined;
    for (const [i, w] of windows.entries()) {
      const excess = outcome.used[i] + units - w.limit;
      if (excess <= 0) continue;
      const at = await this.freesAt(accountId, spec, w, excess, now);
      if (!best || at > best.at) best = { at, name: w.name };
    }
    // the counts changed between the check and now (a release): let the caller try again at once
    return { ok: false, retryAt: new Date(best?.at ?? now), window: best?.name ?? windows[0]?.name ?? 'day', reason: 'limit' };
  }

  /**
   * Room for one message of `recipients` recipients, as every send asks (the worker's and a test
   * send): the reservation id (release it if the message does not go out), null when the spec sets
   * no limit (nothing is counted) and no provider block holds the account, or the refusal. An
   * account without limits of its own still rests while its provider's block holds (a limit reply
   * at send time), so it is not hammered until the provider extends the block.
   */
  async admit(accountId: string, spec: LimitSpec, recipients: number): Promise<string | null | Extract<Reservation, { ok: false }>> {
    if (!isLimit(spec.perDay) && !isLimit(spec.perHour) && !isLimit(spec.perMinute)) {
      const until = await this.blockedUntil(accountId);
      return until ? { ok: false, retryAt: until, window: 'day', reason: 'penalty' } : null;
    }
    const r = await this.reserve(accountId, spec, recipients);
    return r.ok ? r.id : r;
  }

  /** Gives the capacity back when the message did not go out. Releasing twice, or an unknown id, does nothing. */
  async release(id: string): Promise<void> {
    await this.repo.release(id);
  }

  /**
   * The message went to only `recipients` of the recipients it reserved for: the others were
   * refused for now and are sent to again by a message that reserves for them itself, so each
   * recipient counts once. Lowers the reservation (never raises it; an unknown id does nothing).
   */
  async shrink(id: string, recipients: number): Promise<void> {
    await this.repo.shrink(id, checkRecipients(recipients));
  }

  /**
   * The provider itself said "over the limit": nothing goes out for this account until `until`
   * (a shorter block never shortens a longer one). `usage` shows it as nothing remaining.
   */
  async penalize(accountId: string, until: Date, reason: string): Promise<void> {
    const now = this.now().getTime();
    await this.repo.insertBlock({ id: newId('blk', now), account_id: accountId, until: until.toISOString(), reason, created_at: iso(now) });
  }

  /**
   * When the provider's block on the account ends, or null when none holds it now. A read only:
   * for accounts without limits of their own, which have nothing to reserve but must still rest.
   */
  async blockedUntil(accountId: string): Promise<Date | null> {
    const block = await this.repo.activeBlock(accountId, iso(this.now().getTime()));
    return block ? new Date(Date.parse(block.until)) : null;
  }

  /**
   * The numbers `GET /v1/accounts/:id/usage` shows. The main window is the day window when the
   * spec has a day limit (or no limit at all), else the hour, else the minute window.
   */
  async usage(accountId: string, spec: LimitSpec): Promise<Usage> {
    const now = this.now().getTime();
    const main = mainWindow(spec, now);
    const [[sent], block] = await Promise.all([
      this.repo.used(accountId, spec.countsRecipients, [toCheck(main)]),
      this.repo.activeBlock(accountId, iso(now)),
    ]);
    let resetsAt: number | null = null;
    if (sent > 0) resetsAt = main.resetsAt ?? (await this.freesAt(accountId, spec, main, 1, now));
    if (block) resetsAt = Math.max(resetsAt ?? 0, Date.parse(block.until));
    const limited = Number.isFinite(main.limit);
    return {
      perDay: spec.perDay ?? null,
      perMinute: spec.perMinute ?? null,
      sentInWindow: sent,
      remaining: block ? 0 : limited ? Math.max(0, main.limit - sent) : null,
      windowResetsAt: resetsAt === null ? null : iso(resetsAt),
    };
  }

  /** When `excess` units have left window `w`: a rolling window frees unit by unit, a calendar day all at once. */
  private async freesAt(accountId: string, spec: LimitSpec, w: Window, excess: number, now: number): Promise<number> {
    if (w.resetsAt !== undefined) return w.resetsAt;
    let freed = 0;
    for (const e of await this.repo.entriesAfter(accountId, iso(w.after))) {
      freed += spec.countsRecipients ? e.recipients : 1;
      if (freed >= excess) return Date.parse(e.at) + w.length!;
    }
    return now;
  }
}

/**
 * Whether a message with `recipients` recipients can ever be sent under `spec`: false when it
 * alone exceeds a window's whole limit (then `reserve` refuses it forever and the caller should
 * fail the message instead of deferring it; `tooLargeFor` names the window).
 *
 * @example
 *   fitsAtAll({ perDay: 500, countsRecipients: true }, 600) // false
 *   fitsAtAll({ perDay: 500, countsRecipients: false }, 600) // true: one message is one unit
 */
export function fitsAtAll(spec: LimitSpec, recipients: number): boolean {
  return tooLargeFor(spec, recipients) === null;
}

/**
 * The first window a message with `recipients` recipients can never fit in, with its limit and
 * the units the message needs; null when it fits everywhere.
 *
 * @example
 *   tooLargeFor({ perDay: 10000, perMinute: 30, countsRecipients: true }, 40)
 *   // { window: 'minute', limit: 30, units: 40 }
 */
export function tooLargeFor(spec: LimitSpec, recipients: number): { window: LimitWindowName; limit: number; units: number } | null {
  const units = spec.countsRecipients ? checkRecipients(recipients) : 1;
  for (const [window, limit] of [['day', spec.perDay], ['hour', spec.perHour], ['minute', spec.perMinute]] as const) {
    if (typeof limit === 'number' && units > limit) return { window, limit, units };
  }
  return null;
}

/**
 * The LimitSpec for an account: its effective limits (`AccountsService.effectiveLimits`: the
 * account's own lower limits over the catalog's) and the preset's counting rules. Without a
 * preset (a custom server), recipients are counted and the day is rolling: the cautious reading,
 * since most providers count recipients and a rolling 24 h never allows more than a calendar day.
 *
 * @example
 *   limitSpecFor({ perDay: 10000, perHour: null, perMinute: null }, catalog.get('rackspace'))
 *   // { perDay: 10000, perHour: null, perMinute: null, countsRecipients: true, window: 'calendar_day', timeZone: 'America/New_York' }
 */
export function limitSpecFor(
  limits: { perDay: number | null; perHour: number | null; perMinute: number | null },
  preset?: { limits: { countsRecipients: boolean; window: string; timeZone?: string } },
): LimitSpec {
  const window = SPEC_WINDOWS.find((w) => w === preset?.limits.window) ?? 'rolling_24h';
  const spec: LimitSpec = {
    perDay: limits.perDay,
    perHour: limits.perHour,
    perMinute: limits.perMinute,
    countsRecipients: preset?.limits.countsRecipients ?? true,
    window,
  };
  if (preset?.limits.timeZone) spec.timeZone = preset.limits.timeZone;
  return spec;
}

/**
 * The instant the local calendar day containing `at` began in `timeZone` (IANA), e.g. 04:00Z or
 * 05:00Z for America/New_York. Correct across DST changes, also where they happen at midnight.
 *
 * @example
 *   startOfLocalDay(Date.parse('2030-07-01T03:00:00Z'), 'America/New_York') // Date.parse('2030-06-30T04:00:00Z')
 */
export function startOfLocalDay(at: number, timeZone: string): number {
  const p = localParts(at, timeZone);
  // time on the local clock since midnight, then corrected by any offset change since then
  const guess = at - ((p.hour * 60 + p.minute) * 60 + p.second) * 1000 - (((at % 1000) + 1000) % 1000);
  return guess + (offsetAt(at, timeZone) - offsetAt(guess, timeZone));
}

/** The next local midnight after `at` in `timeZone` (when a calendar-day window resets). */
export function nextLocalMidnight(at: number, timeZone: string): number {
  // a local day lasts 23 to 25 hours: 26 h after the start is always within the next day
  return startOfLocalDay(startOfLocalDay(at, timeZone) + 26 * HOUR, timeZone);
}

// ---------------------------------------------------------------- internals

function windowsOf(spec: LimitSpec, now: number): Window[] {
  const out: Window[] = [];
  if (isLimit(spec.perDay)) out.push(dayWindow(spec, spec.perDay, now));
  if (isLimit(spec.perHour)) out.push({ name: 'hour', limit: spec.perHour, after: now - HOUR, length: HOUR });
  if (isLimit(spec.perMinute)) out.push({ name: 'minute', limit: spec.perMinute, after: now - MINUTE, length: MINUTE });
  return out;
}

function mainWindow(spec: LimitSpec, now: number): Window {
  const all = windowsOf(spec, now);
  return all[0] ?? dayWindow(spec, Number.POSITIVE_INFINITY, now);
}

function dayWindow(spec: LimitSpec, limit: number, now: number): Window {
  if (spec.window !== 'calendar_day') return { name: 'day', limit, after: now - DAY, length: DAY };
  const zone = spec.timeZone ?? 'UTC';
  // rows at or after local midnight count: "after" is exclusive, times have millisecond precision
  return { name: 'day', limit, after: startOfLocalDay(now, zone) - 1, length: null, resetsAt: nextLocalMidnight(now, zone) };
}

function toCheck(w: Window): WindowCheck {
  return { after: iso(w.after), limit: w.limit };
}

function isLimit(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function checkRecipients(recipients: number): number {
  if (!Number.isInteger(recipients) || recipients < 1) throw new RangeError(`recipients must be a whole number of at least 1, got ${recipients}`);
  return recipients;
}

/** The window that best describes a wait, for a provider block that is not tied to one of ours. */
function windowForWait(ms: number): LimitWindowName {
  return ms <= MINUTE ? 'minute' : ms <= HOUR ? 'hour' : 'day';
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function localParts(at: number, timeZone: string): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, f);
  }
  const parts: Record<string, number> = {};
  for (const p of f.formatToParts(new Date(at))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour, minute: parts.minute, second: parts.second };
}

/** The zone's offset from UTC at `at`, in ms (New York in winter: -5 h). */
function offsetAt(at: number, timeZone: string): number {
  const p = localParts(at, timeZone);
  const seconds = Math.floor(at / 1000) * 1000;
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - seconds;
}
