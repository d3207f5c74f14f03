/**
 * When jobs are due, from the plan's compiled schedules: minute by minute, each timezone's wall
 * clock is read once, then each distinct (schedule, timezone) pair is tested and expanded to its
 * jobs. Next fire times (GET /jobs, the dashboard) walk the masks on the job's wall clock.
 */
import { anyIn, fieldsOf, matches, MINUTE, nextWall } from "./cron";
import type { Compiled, JobSpec, JobsConfig } from "./types";
import { instantOf, minuteIn, wallOf } from "./zone";

const PLAN_VERSION = 2;

/** Why this Worker cannot use the plan (a version it does not read), or null. */
export function planError(cfg: JobsConfig): string | null {
  if (cfg?.version !== PLAN_VERSION) return `plan version ${cfg?.version}; this Worker reads version ${PLAN_VERSION}`;
  return Array.isArray(cfg.groups) ? null : "the plan has no groups";
}

/** The plan's groups by timezone: a pair's `jobs` index cfg.jobs. */
type Pair = { c: Compiled; jobs: number[] };
type Zone = { tz: string; pairs: Pair[] };
const grouped = new WeakMap<JobsConfig, Zone[]>();

/** Built once per isolate and plan from the plan's groups: no walk over the jobs themselves,
 * which at 10,000 jobs would be most of a new isolate's first tick. */
function zonesOf(cfg: JobsConfig): Zone[] {
  let zones = grouped.get(cfg);
  if (!zones) {
    const byTz = new Map<string, Zone>();
    for (const [tz, s, jobs] of cfg.groups) {
      let zone = byTz.get(tz);
      if (!zone) byTz.set(tz, (zone = { tz, pairs: [] }));
      zone.pairs.push({ c: cfg.schedules[s]!, jobs });
    }
    zones = [...byTz.values()];
    grouped.set(cfg, zones);
  }
  return zones;
}

/** The timezones of the plan's enabled jobs. */
export const zonesIn = (cfg: JobsConfig): string[] => zonesOf(cfg).map((zone) => zone.tz);

/** Call `each` for every enabled job due in (from, to], minute by minute. */
export function dueIn(cfg: JobsConfig, from: number, to: number, each: (t: number, job: JobSpec) => void): void {
  const zones = zonesOf(cfg);
  for (let t = Math.floor(from / MINUTE) * MINUTE + MINUTE; t <= to; t += MINUTE) {
    for (const zone of zones) {
      const { wall, from: first, repeated } = minuteIn(t, zone.tz);
      if (repeated) continue;
      const f = fieldsOf(wall);
      for (const { c, jobs } of zone.pairs) {
        if (first < wall ? anyIn(c, first, wall) : matches(c, f)) for (const i of jobs) each(t, cfg.jobs[i]!);
      }
    }
  }
}

/** The next `count` due instants of a job strictly after `after` (looking at ≤10,000 wall times). */
export function upcoming(cfg: JobsConfig, job: JobSpec, after: number, count: number): number[] {
  const c = cfg.schedules[job.s]!;
  const out: number[] = [];
  let last = after;
  let w = Math.floor(wallOf(after, job.timezone) / MINUTE) * MINUTE + MINUTE;
  for (let i = 0; out.length < count && i < 10_000; i++) {
    const wall = nextWall(c, w);
    if (wall === null) break;
    // Several skipped wall times map to the same gap end; a fold's second pass maps backwards.
    const t = instantOf(wall, job.timezone);
    if (t > last) out.push((last = t));
    w = wall + MINUTE;
  }
  return out;
}
