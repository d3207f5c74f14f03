/**
 * Compiled schedules: the plan carries every cron as bit masks (cronflare/catalog/schedule.py
 * compile_cron, docs/WORKER.md), and the Worker only tests bits against wall-clock fields. No
 * cron text is read here; time zones and the DST rule are src/zone.ts's.
 */
import type { Compiled } from "./types";

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** A wall-clock minute's fields: month 1-12, weekday 0 (Sunday) to 6, dim = days in its month. */
export interface Fields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: number;
  dim: number;
}

/** The fields of a wall time given as the epoch ms of those fields read in UTC. */
export function fieldsOf(wall: number): Fields {
  const d = new Date(wall);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth() + 1;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  // 31 for January, March, May, July, August, October, December; 30 for the others but February.
  const dim = month === 2 ? (leap ? 29 : 28) : 30 + ((month + (month >> 3)) & 1);
  return { year, month, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), weekday: d.getUTCDay(), dim };
}

const minuteBit = (c: Compiled, m: number) => (m < 30 ? c[0] >> m : c[1] >> (m - 30)) & 1;

/** The day test: day of month (or the last day, with flag 2) OR (AND, with flag 1) weekday, where
 * a [w, k] pair matches weekday w on its k-th occurrence in the month, or its last when k = 0. */
function dayOk(c: Compiled, f: Fields): boolean {
  const dom = ((c[3] >>> f.day) & 1) === 1 || ((c[6] & 2) === 2 && f.day === f.dim);
  const dow =
    ((c[5] >> f.weekday) & 1) === 1 ||
    (c[7]?.some(([w, k]) => w === f.weekday && (k ? Math.ceil(f.day / 7) === k : f.day + 7 > f.dim)) ?? false);
  return c[6] & 1 ? dom && dow : dom || dow;
}

/** Whether the schedule fires at this wall-clock minute. */
export function matches(c: Compiled, f: Fields): boolean {
  return minuteBit(c, f.minute) === 1 && ((c[2] >> f.hour) & 1) === 1 && ((c[4] >> f.month) & 1) === 1 && dayOk(c, f);
}

/** Whether any wall minute in [from, to] (wall ms, whole minutes) matches: a DST gap's test. */
export function anyIn(c: Compiled, from: number, to: number): boolean {
  for (let w = from; w <= to; ) {
    const f = fieldsOf(w);
    if (((c[2] >> f.hour) & 1) === 1 && ((c[4] >> f.month) & 1) === 1 && dayOk(c, f)) {
      const last = Math.min(59, f.minute + (to - w) / MINUTE);
      for (let m = f.minute; m <= last; m++) if (minuteBit(c, m)) return true;
    }
    w += (60 - f.minute) * MINUTE; // the next hour
  }
  return false;
}

/** The lowest set bit of x, or -1. */
const low = (x: number) => (x ? 31 - Math.clz32(x & -x) : -1);

/** The first minute at or after m (0-59) that the schedule allows, or -1. */
function nextMinute(c: Compiled, m: number): number {
  const first = m < 30 ? low(c[0] & (-1 << m)) : -1;
  if (first >= 0) return first;
  const second = low(c[1] & (-1 << Math.max(m - 30, 0)));
  return second < 0 ? -1 : 30 + second;
}

/**
 * The first wall minute at or after `wall` that matches, or null if none does within 28 years
 * (days of month, weekdays and leap years repeat their pattern every 28 years from 1901 to 2099,
 * so such a schedule never fires). Skips whole months, days and hours that cannot match.
 */
export function nextWall(c: Compiled, wall: number): number | null {
  for (let w = wall, end = wall + 28 * 366 * DAY; w < end; ) {
    const f = fieldsOf(w);
    const { year, month, day, hour } = f;
    const h = low(c[2] & (-1 << hour)); // the first allowed hour from this one on
    const m = h === hour ? nextMinute(c, f.minute) : 0;
    if (!((c[4] >> month) & 1)) w = Date.UTC(year, month, 1);
    else if (h < 0 || !dayOk(c, f)) w = Date.UTC(year, month - 1, day + 1);
    else if (h > hour) w = Date.UTC(year, month - 1, day, h);
    else if (m < 0) w = Date.UTC(year, month - 1, day, hour + 1);
    else return Date.UTC(year, month - 1, day, hour, m);
  }
  return null;
}

/** A run's jitter in whole minutes, from its execution id (FNV-1a 32 of its ASCII): the same run
 * always lands in the same minute, in Python too (schedule.py jitter_offset). */
export function jitterOffset(id: string, minutes = 0): number {
  let h = 0x811c9dc5;
  for (let i = 0; minutes && i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return minutes ? h % minutes : 0;
}
