import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import vectors from "../../tests/vectors/cron.json";
import random from "../../tests/vectors/cron_random.json";
import { mulberry32 } from "../bench/random.ts";
import { fieldsOf, matches, MINUTE, nextWall } from "../src/cron";
import { dueIn, upcoming } from "../src/due";
import type { Compiled, JobsConfig, JobSpec } from "../src/types";
import { forgetSpans, instantOf, learnSpan, wallOf } from "../src/zone";
import { JOBS, job, withJobs } from "./bindings";
import { Oracle } from "./oracle";

const at = (iso: string) => Date.parse(iso);
const isoZ = (t: number) => new Date(t).toISOString().replace(".000Z", "Z");
const HOUR = 60 * MINUTE;

/** A plan of one job on one compiled schedule. */
function planOf(compiled: Compiled, timezone = "UTC"): { cfg: JobsConfig; job: JobSpec } {
  const j: JobSpec = { ...job("j", "0 * * * *"), s: 0, timezone };
  return { cfg: withJobs({ ...JOBS, schedules: [compiled] }, [j]), job: j };
}
/** The due instants in (from, to], by the per-minute evaluation scheduled() uses. */
function due(cfg: JobsConfig, from: number, to: number): number[] {
  const out: number[] = [];
  dueIn(cfg, from, to, (t) => out.push(t));
  return out;
}

describe("shared cron vectors from cronflare/catalog/schedule.py", () => {
  it("agrees on every case: next fire times, and the tick's minute-by-minute evaluation", () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(80);
    const mismatches: string[] = [];
    for (const c of vectors.cases) {
      const { cfg, job: j } = planOf(c.compiled as Compiled, c.timezone);
      const after = at(c.after);
      const got = upcoming(cfg, j, after, c.next.length).map(isoZ);
      if (JSON.stringify(got) !== JSON.stringify(c.next)) mismatches.push(`upcoming ${c.cron} ${c.timezone} after ${c.after}: ${got} != ${c.next}`);
      // Every vector starts a few days before a DST change or a leap day: walk 4 days of minutes.
      const to = after + 4 * 24 * HOUR;
      const expected = c.next.filter((t) => at(t) <= to);
      const ticked = due(cfg, after, Math.min(to, at(c.next.at(-1)!))).map(isoZ);
      if (JSON.stringify(ticked) !== JSON.stringify(expected)) mismatches.push(`dueIn ${c.cron} ${c.timezone} after ${c.after}: ${ticked} != ${expected}`);
    }
    expect(mismatches).toEqual([]);
  });
});

describe("wall clock and the DST rule", () => {
  it("maps a skipped wall time to the end of the gap", () => {
    // Berlin 2026-03-29 02:30 does not exist; the gap ends at 03:00 CEST = 01:00Z.
    expect(new Date(instantOf(at("2026-03-29T02:30:00Z"), "Europe/Berlin")).toISOString()).toBe("2026-03-29T01:00:00.000Z");
  });
  it("maps a repeated wall time to its first occurrence", () => {
    expect(new Date(instantOf(at("2026-10-25T02:30:00Z"), "Europe/Berlin")).toISOString()).toBe("2026-10-25T00:30:00.000Z");
  });
  it("maps a wall time of Chatham's fold (+13:45 before it) to its first occurrence", () => {
    // 2026-04-05 03:45 CHADT falls back to 02:45 CHAST (14:00Z): 03:00 shows at 13:15Z and 14:15Z.
    expect(new Date(instantOf(at("2026-04-05T03:00:00Z"), "Pacific/Chatham")).toISOString()).toBe("2026-04-04T13:15:00.000Z");
  });
  it("reads wall time in half-hour zones", () => {
    expect(new Date(wallOf(at("2026-01-01T00:00:00Z"), "Asia/Kolkata")).toISOString()).toBe("2026-01-01T05:30:00.000Z");
  });
  it("learns spans of constant offset that end exactly at each DST change, as Intl reads them", () => {
    const cases: [string, string, string][] = [
      // zone, a minute, the change a few hours from it
      ["Europe/Berlin", "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z"],
      ["Australia/Lord_Howe", "2026-04-04T10:00:00Z", "2026-04-04T15:00:00Z"], // 30 minutes
      ["Pacific/Chatham", "2026-04-05T00:00:00Z", "2026-04-04T14:00:00Z"], // +12:45 after it
      ["America/Santiago", "2026-09-06T00:00:00Z", "2026-09-06T04:00:00Z"], // at local midnight
    ];
    const intlOffset = (t: number, tz: string) => (forgetSpans(), wallOf(t, tz) - t);
    for (const [tz, minute, change] of cases) {
      forgetSpans();
      const [from, until, own] = learnSpan(at(minute), tz);
      const later = at(change) > at(minute);
      expect(isoZ(later ? until : from), tz).toBe(isoZ(at(change)));
      expect(isoZ(later ? from : until), tz).toBe(isoZ(at(minute) + (later ? -1 : 1) * 24 * HOUR));
      for (const t of [from, at(minute), until - MINUTE]) expect(intlOffset(t, tz), tz).toBe(own);
      expect(intlOffset(later ? until : from - MINUTE, tz), tz).not.toBe(own);
    }
    forgetSpans();
  });

  it("keeps AND semantics for a *-led day field, as Vixie cron does", () => {
    // 0 0 */2 * MON, compiled with flag 1 (DAY_AND)
    const { cfg, job: j } = planOf([1, 0, 1, 2863311530, 8190, 2, 1]);
    const days = upcoming(cfg, j, at("2026-11-01T00:00:00Z"), 4).map((t) => new Date(t));
    expect(days.length).toBe(4);
    expect(days.every((d) => d.getUTCDay() === 1 && d.getUTCDate() % 2 === 1)).toBe(true);
  });
  it("tests day-of-month bits up to 31 and the last day (>>>, not >>)", () => {
    // 0 0 31 * * and 0 0 L * *: bit 31 is the sign bit of a 32-bit int.
    const c31: Compiled = [1, 0, 1, 2 ** 31, 8190, 0, 0];
    expect(matches(c31, fieldsOf(at("2026-10-31T00:00:00Z")))).toBe(true);
    expect(matches(c31, fieldsOf(at("2026-10-30T00:00:00Z")))).toBe(false);
    const last: Compiled = [1, 0, 1, 0, 8190, 0, 2];
    expect([...Array(12).keys()].map((m) => isoZ(nextWall(last, Date.UTC(2028, m, 1))!).slice(5, 10))).toEqual([
      "01-31", "02-29", "03-31", "04-30", "05-31", "06-30", "07-31", "08-31", "09-30", "10-31", "11-30", "12-31",
    ]);
  });
  it("gives up on a schedule that never fires (February 30) instead of looping", () => {
    const { cfg, job: j } = planOf([1, 0, 1, 2 ** 30, 4, 0, 0]);
    expect(upcoming(cfg, j, at("2026-01-01T00:00:00Z"), 3)).toEqual([]);
  });
  it("finds every due instant in a window, in any order of windows", () => {
    const { cfg } = planOf(JOBS.schedules[0]!); // */5 * * * *
    expect(due(cfg, at("2026-11-23T09:00:00Z"), at("2026-11-23T09:20:00Z")).length).toBe(4);
    expect(due(cfg, at("2026-11-23T08:00:00Z"), at("2026-11-23T08:10:00Z")).map((t) => new Date(t).getUTCMinutes())).toEqual([5, 10]);
  });
  it("evaluates each (schedule, timezone) pair once and expands it to its jobs", () => {
    const jobs = [
      { ...job("a", "0 * * * *"), timezone: "Asia/Kolkata" },
      { ...job("b", "0 * * * *"), timezone: "Asia/Kolkata" },
      { ...job("c", "0 * * * *") },
      { ...job("d", "0 * * * *"), enabled: false },
    ];
    const cfg = withJobs(JOBS, jobs);
    const seen: string[] = [];
    dueIn(cfg, at("2026-11-23T08:00:00Z"), at("2026-11-23T09:30:00Z"), (t, j) => seen.push(`${j.name} ${isoZ(t)}`));
    // Kolkata is UTC+5:30: its whole hours fall on UTC half hours.
    expect(seen).toEqual(["a 2026-11-23T08:30:00Z", "b 2026-11-23T08:30:00Z", "c 2026-11-23T09:00:00Z", "a 2026-11-23T09:30:00Z", "b 2026-11-23T09:30:00Z"]);
  });
});

// --- property test: the compiled matcher + the DST rule against croner + the same mapping ------
//
// The oracle is the engine this Worker had before compiled schedules: croner over the wall
// clock's fields (utcOffset 0; domAndDow when a day field starts with "*", Vixie), each wall
// time mapped to an instant by instantOf. croner is a devDependency: it is not in the bundle.

const ZONES = ["Australia/Lord_Howe", "Pacific/Chatham", "America/Santiago", "Asia/Kolkata", "Europe/Berlin", "America/New_York", "UTC"];
const FIRST = Date.UTC(2023, 0, 1);
const LAST = Date.UTC(2031, 0, 1);
const CASES = Number(env.CRONFLARE_PROPERTY_CASES || 2000);

/** Each zone's offset changes in 2023-2030, to the minute: half the cases start near one. */
function transitions(tz: string): number[] {
  const offset = (t: number) => wallOf(t, tz) - t;
  const out: number[] = [];
  for (let t = FIRST; t < LAST; t += 6 * HOUR) {
    if (offset(t) === offset(t + 6 * HOUR)) continue;
    let lo = t;
    let hi = t + 6 * HOUR; // offset(lo) is the old one, offset(hi) the new one
    while (hi - lo > MINUTE) {
      const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
      if (offset(mid) === offset(t)) lo = mid;
      else hi = mid;
    }
    out.push(hi);
  }
  return out;
}

describe("property: compiled schedules + the DST rule equal croner + the same mapping", () => {
  it(`agrees on ${CASES} random (cron, zone, minute) cases, 2023-2030`, { timeout: Math.max(60_000, CASES * 20) }, () => {
    expect(random.cases.length).toBe(2000);
    const changes = new Map(ZONES.map((tz) => [tz, transitions(tz)]));
    expect(changes.get("Australia/Lord_Howe")!.length).toBe(16); // two a year, 30 minutes each
    expect(changes.get("UTC")!.length + changes.get("Asia/Kolkata")!.length).toBe(0);
    const rand = mulberry32(Number(env.CRONFLARE_PROPERTY_SEED || 14));
    const mismatches: string[] = [];
    let fires = 0;
    let windows = 0;
    for (let i = 0; i < CASES; i++) {
      const { cron, compiled } = random.cases[i % random.cases.length]!;
      // A one-value range with a step (`5-5/4`) is refused by Python's validation (cronsim and
      // Vixie read it differently), so every case means the same to the plan and to croner.
      const text = cron;
      const tz = ZONES[Math.floor(rand() * ZONES.length)]!;
      const near = changes.get(tz)!;
      const minute =
        near.length > 0 && rand() < 0.5
          ? near[Math.floor(rand() * near.length)]! + Math.floor((rand() - 0.5) * 6 * 60) * MINUTE
          : FIRST + Math.floor(rand() * ((LAST - FIRST) / MINUTE)) * MINUTE;
      // Half the cases read wall clocks through a span learned near the minute, as a new isolate
      // does from D1; the others through Intl alone.
      forgetSpans();
      if (rand() < 0.5) learnSpan(minute + Math.floor((rand() - 0.5) * 6 * 60) * MINUTE, tz);
      const oracle = new Oracle(text, tz);
      const { cfg, job: j } = planOf(compiled as Compiled, tz);
      const what = `${cron} in ${tz} at ${isoZ(minute)}`;
      // The next fire times (GET /jobs), from the minute and from a few seconds into it.
      for (const after of [minute, minute + 17_000]) {
        const want = oracle.upcoming(after, 4).map(isoZ);
        const got = upcoming(cfg, j, after, 4).map(isoZ);
        if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`upcoming ${what}+${after - minute}ms: ${got} != ${want}`);
        fires += want.length;
      }
      // The tick's minute-by-minute evaluation over 3 hours around the minute, and over 3 hours
      // from a random point before the first fire after it (so that sparse crons fire in it).
      const first = oracle.nextAfter(minute);
      const starts = [minute - 90 * MINUTE];
      if (first !== null) starts.push(first - Math.floor(rand() * 180) * MINUTE);
      for (const from of starts) {
        const want = oracle.dueIn(from, from + 180 * MINUTE).map(isoZ);
        const got = due(cfg, from, from + 180 * MINUTE).map(isoZ);
        if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`dueIn ${what} (${isoZ(from)}, +3h]: ${got} != ${want}`);
        fires += want.length;
        windows++;
      }
      if (mismatches.length >= 20) break;
    }
    console.log(`property: ${CASES} cases, ${windows} three-hour windows, ${fires} fire times compared, ${mismatches.length} mismatches`);
    expect(mismatches).toEqual([]);
  });
});
