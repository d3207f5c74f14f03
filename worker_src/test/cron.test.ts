import { describe, expect, it } from "vitest";
import vectors from "../../tests/vectors/cron.json";
import { instantOf, Schedule, wallOf } from "../src/cron";
import { job } from "./bindings";

const at = (iso: string) => Date.parse(iso);

describe("shared cron vectors from cronflare/catalog/schedule.py", () => {
  it("agrees on every case", () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(80);
    const mismatches: string[] = [];
    for (const c of vectors.cases) {
      const s = new Schedule(job("v", c.cron, { timezone: c.timezone }));
      const got = s.upcoming(at(c.after), c.next.length).map((t) => new Date(t).toISOString().replace(".000Z", "Z"));
      if (JSON.stringify(got) !== JSON.stringify(c.next)) mismatches.push(`${c.cron} ${c.timezone} after ${c.after}: ${got} != ${c.next}`);
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
  it("reads wall time in half-hour zones", () => {
    expect(new Date(wallOf(at("2026-01-01T00:00:00Z"), "Asia/Kolkata")).toISOString()).toBe("2026-01-01T05:30:00.000Z");
  });
  it("keeps AND semantics for a *-led day field, as Vixie cron does", () => {
    const s = new Schedule(job("and", "0 0 */2 * MON"));
    const days = s.upcoming(at("2026-11-01T00:00:00Z"), 4).map((t) => new Date(t));
    expect(days.every((d) => d.getUTCDay() === 1 && d.getUTCDate() % 2 === 1)).toBe(true);
  });
  it("finds every due instant in a window, also after a cached later window", () => {
    const s = new Schedule(job("five", "*/5 * * * *"));
    expect(s.dueIn(at("2026-11-23T09:00:00Z"), at("2026-11-23T09:20:00Z")).length).toBe(4);
    // an earlier window after a later one must not reuse the later cache
    expect(s.dueIn(at("2026-11-23T08:00:00Z"), at("2026-11-23T08:10:00Z")).map((t) => new Date(t).getUTCMinutes())).toEqual([5, 10]);
  });
});
