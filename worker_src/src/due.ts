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

/** The plan's groups by timezone: a pair's `jobs` index cfg.jobs. Jobs with jitter are in groups
 * of their own (flagged 1): a tick looks further back for them (src/tick.ts dueRuns). */
/** A (schedule, timezone) pair's compiled schedule and jobs; `entries`: its runs as the run log
 * takes them, built once (src/tick.ts dueRuns), or null when a job of it has a start or end. */
export type Pair = { c: Compiled; jobs: number[]; entries?: (string | [string, string])[] | null };
type Zone = { tz: string; pairs: Pair[] };
type Zones = { plain: Zone[]; jittered: Zone[]; jitter: number };
const grouped = new WeakMap<JobsConfig, Zones>();

/** Built once per isolate and plan from the plan's groups: no walk over the jobs themselves,
 * which at 10,000 jobs would be most of a new isolate's first tick. */
function zonesOf(cfg: JobsConfig): Zones {
  let zones = grouped.get(cfg);
  if (!zones) {
    const plain = new Map<string, Zone>();
    const jittered = new Map<string, Zone>();
    let jitter = 0;
    const add = (byTz: Map<string, Zone>, tz: string, c: Compiled, jobs: number[]) => {
      let zone = byTz.get(tz);
      if (!zone) byTz.set(tz, (zone = { tz, pairs: [] }));
      if (jobs.length) zone.pairs.push({ c, jobs });
    };
    for (const [tz, s, jobs, late] of cfg.groups) {
      // Only a jittered group's jobs are looked at: a new isolate touching all 10,000 costs ms.
      if (late) for (const i of jobs) jitter = Math.max(jitter, cfg.jobs[i]!.jitter ?? 0);
      add(late ? jittered : plain, tz, cfg.schedules[s]!, jobs);
    }
    zones = { plain: [...plain.values()], jittered: [...jittered.values()], jitter };
    grouped.set(cfg, zones);
  }
  return zones;
}

/** The timezones of the plan's enabled jobs. */
export const zonesIn = (cfg: JobsConfig): string[] => {
  const { plain, jittered } = zonesOf(cfg);
  return [...new Set([...plain, ...jittered].map((zone) => zone.tz))];
};

/** The longest jitter of the plan's enabled jobs, in minutes. */
export const maxJitter = (cfg: JobsConfig): number => zonesOf(cfg).jitter;

/** Call `each` for every pair due in (from, to], minute by minute: the pairs of the jobs without
 * jitter, or (`jittered`) of those with. */
export function duePairs(cfg: JobsConfig, from: number, to: number, each: (t: number, pair: Pair) => void, jittered = false): void {
  const zones = jittered ? zonesOf(cfg).jittered : zonesOf(cfg).plain;
  for (let t = Math.floor(from / MINUTE) * MINUTE + MINUTE; t <= to; t += MINUTE) {
    for (const zone of zones) {
      const { wall, from: first, repeated } = minuteIn(t, zone.tz);
      if (repeated) continue;
      const f = fieldsOf(wall);
      for (const pair of zone.pairs) if (first < wall ? anyIn(pair.c, first, wall) : matches(pair.c, f)) each(t, pair);
    }
  }
}

/** Call `each` for every enabled job due in (from, to], minute by minute (as duePairs). */
export function dueIn(cfg: JobsConfig, from: number, to: number, each: (t: number, job: JobSpec) => void, jittered = false): void {
  duePairs(cfg, from, to, (t, { jobs }) => {
    for (const i of jobs) each(t, cfg.jobs[i]!);
  }, jittered);
}

/** A pair's runs as the run log takes them (a name, or [name, args as JSON]), built on its first
 * use: a busy minute's thousands of runs are then a copy of these, not thousands of calls. Null
 * when a job of the pair has a start or end, which each run must be checked against. */
export function entriesOf(cfg: JobsConfig, pair: Pair): (string | [string, string])[] | null {
  if (pair.entries === undefined) {
    const jobs = pair.jobs.map((i) => cfg.jobs[i]!);
    pair.entries = jobs.some((j) => j.start || j.end) ? null : jobs.map((j) => (j.args ? [j.name, JSON.stringify(j.args)] : j.name));
  }
  return pair.entries;
}

/** Whether a job's runs may happen at t: at or after its start, before its end. */
export const inWindow = (job: { start?: string; end?: string }, t: number) =>
  !(job.start && t < Date.parse(job.start)) && !(job.end && t >= Date.parse(job.end));

/** The next `count` fire instants of a compiled schedule read in `tz`, strictly after `after`
 * and before `end` (looking at ≤10,000 wall times). */
export function fireTimes(c: Compiled, tz: string, after: number, count: number, end = Infinity): number[] {
  const out: number[] = [];
  let last = after;
  let w = Math.floor(wallOf(after, tz) / MINUTE) * MINUTE + MINUTE;
  for (let i = 0; out.length < count && i < 10_000; i++) {
    const wall = nextWall(c, w);
    if (wall === null) break;
    // Several skipped wall times map to the same gap end; a fold's second pass maps backwards.
    const t = instantOf(wall, tz);
    if (t >= end) break;
    if (t > last) out.push((last = t));
    w = wall + MINUTE;
  }
  return out;
}

/** The next `count` due instants of a job strictly after `after`, within its start and end. */
export function upcoming(cfg: JobsConfig, job: JobSpec, after: number, count: number): number[] {
  if (job.s === undefined) return [];
  const start = job.start ? Date.parse(job.start) - 1 : after;
  return fireTimes(cfg.schedules[job.s]!, job.timezone, Math.max(after, start), count, job.end ? Date.parse(job.end) : Infinity);
}
