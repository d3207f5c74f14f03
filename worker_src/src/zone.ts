/**
 * Time zones' wall clocks and the DST rule of docs/SCHEDULES.md: a wall time skipped by a gap
 * runs at the first minute after the gap; a repeated one runs once, on its first occurrence.
 * A wall time is the epoch ms of its fields read in UTC.
 *
 * Intl is the only source of zone rules, and an isolate's first Intl object costs ~13 ms (V8
 * sets up its locale data). So each zone also has a span: instants [from, until) over which its
 * offset is constant, learned from Intl around a tick and kept in D1 (scheduler_state 'zones'),
 * so that a new isolate's first tick reads wall clocks without Intl (docs/WORKER.md).
 */
import { HOUR, MINUTE } from "./cron";

/** Per zone, one formatter, and the wall times of minutes already asked (at most 512 kept). */
const zones = new Map<string, { format: Intl.DateTimeFormat; seen: Map<number, number> }>();

/** [from, until, offset]: from `from` (included) to `until` (excluded), wall = instant + offset. */
export type Span = [from: number, until: number, offset: number];
const spans = new Map<string, Span>();

/** The wall-clock time of `instant` in `tz`. */
export function wallOf(instant: number, tz: string): number {
  if (tz === "UTC") return instant;
  const span = spans.get(tz);
  if (span && instant >= span[0] && instant < span[1]) return instant + span[2];
  let zone = zones.get(tz);
  if (!zone) {
    const format = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
    });
    zones.set(tz, (zone = { format, seen: new Map() }));
  }
  const rest = ((instant % MINUTE) + MINUTE) % MINUTE;
  const minute = instant - rest;
  let wall = zone.seen.get(minute);
  if (wall === undefined) {
    const f: Record<string, number> = {};
    for (const part of zone.format.formatToParts(minute)) f[part.type] = Number(part.value);
    wall = Date.UTC(f.year!, f.month! - 1, f.day!, f.hour!, f.minute!);
    if (zone.seen.size >= 512) zone.seen.clear();
    zone.seen.set(minute, wall);
  }
  return wall + rest;
}

/** The span this isolate knows for a zone. */
export const spanOf = (tz: string): Span | undefined => spans.get(tz);

/** Take these spans as known (from D1), keeping a known one that lasts longer. */
export function learnSpans(known: Record<string, Span>): void {
  for (const [tz, span] of Object.entries(known)) {
    const mine = spans.get(tz);
    if (!mine || mine[1] < span[1]) spans.set(tz, span);
  }
}

/** Forget every span (tests: a new isolate). */
export const forgetSpans = () => spans.clear();

/**
 * Learn from Intl the span of tz's offset around the minute t, reaching at most a day either
 * side: hourly samples (no zone changes its offset twice within an hour), each edge found to
 * the minute. Returns it, and wallOf uses it from then on.
 */
export function learnSpan(minute: number, tz: string): Span {
  spans.delete(tz);
  const t = Math.floor(minute / MINUTE) * MINUTE;
  const offset = (x: number) => wallOf(x, tz) - x;
  const own = offset(t);
  /** The first minute in (a, b] whose offset is not a's, when b's is not. */
  const change = (a: number, b: number) => {
    const before = offset(a);
    while (b - a > MINUTE) {
      const mid = a + Math.floor((b - a) / 2 / MINUTE) * MINUTE;
      if (offset(mid) === before) a = mid;
      else b = mid;
    }
    return b;
  };
  let from = t - 24 * HOUR;
  let until = t + 24 * HOUR;
  for (let h = 1; h <= 24; h++) {
    if (offset(t - h * HOUR) !== own) {
      from = change(t - h * HOUR, t - (h - 1) * HOUR);
      break;
    }
  }
  for (let h = 1; h <= 24; h++) {
    if (offset(t + h * HOUR) !== own) {
      until = change(t + (h - 1) * HOUR, t + h * HOUR);
      break;
    }
  }
  const span: Span = [from, until, own];
  spans.set(tz, span);
  return span;
}

/** The instant of a wall time: its first occurrence, or the end of the gap that skips it. */
export function instantOf(wall: number, tz: string): number {
  if (tz === "UTC") return wall;
  // Offsets run from -12 h to +14 h, so the instant is in [wall - 14 h, wall + 12 h]: the
  // offsets at wall - 15 h and wall + 13 h are those on either side of a change near it.
  const offsets = new Set([-15, 0, 13].map((h) => wallOf(wall + h * HOUR, tz) - (wall + h * HOUR)));
  const shown = [...offsets].map((o) => wall - o).filter((t) => wallOf(t, tz) === wall);
  if (shown.length > 0) return Math.min(...shown);
  // In a gap: binary-search the first minute whose wall time is already past `wall`.
  let lo = wall - Math.max(...offsets); // shows a wall time before the gap
  let hi = wall - Math.min(...offsets); // shows a wall time after it
  while (hi - lo > MINUTE) {
    const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
    if (wallOf(mid, tz) > wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * What a schedule tests at the UTC minute `t` (whole minutes): a job is due when a wall minute
 * in [from, wall] matches and the minute is not `repeated`. `from` is `wall` unless a DST gap
 * ends at t, when it is the gap's first skipped wall minute; `repeated` is true in the second
 * pass of a fold (the offset dropped by D within the last 3 hours and t - D shows the same wall
 * time). Both as cronflare/catalog/schedule.py compiled_fires walks them.
 */
export function minuteIn(t: number, tz: string): { wall: number; from: number; repeated: boolean } {
  const wall = wallOf(t, tz);
  if (tz === "UTC") return { wall, from: wall, repeated: false };
  const before = wallOf(t - MINUTE, tz);
  if (wall - before > MINUTE) return { wall, from: before + MINUTE, repeated: false };
  const drop = wallOf(t - 3 * HOUR, tz) - (t - 3 * HOUR) - (wall - t);
  return { wall, from: wall, repeated: drop > 0 && wallOf(t - drop, tz) === wall };
}
