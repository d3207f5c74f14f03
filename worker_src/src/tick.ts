/** scheduled(): find every run due since the last evaluated minute, record it, dispatch it. */
import { flushAlerts, noteMissed } from "./alerts";
import { dispatchNow } from "./direct";
import { HOUR, jitterOffset, MINUTE } from "./cron";
import { dueIn, duePairs, entriesOf, inWindow, maxJitter, planError, zonesIn } from "./due";
import { advanceMinute, failSilentRuns, insertRuns, iso, type NewRuns, type Pause, pruneMinutes, pruneRuns, saveSpans, schedulerState } from "./runs";
import { checkSkew, readSkew, skewDue } from "./skew";
import { dueSchedules, moveSchedules } from "./schedules";
import type { Env, JobSpec } from "./types";
import { learnSpan, learnSpans, type Span, spanOf } from "./zone";

/** Old runs a tick prunes from a backlog (pruneRuns): about 4 rows read each (docs/WORKER.md). */
export const TICK_PRUNE = 20;

/** How far back a late tick looks at all; older misses are beyond recording (docs/WORKER.md). */
export const MAX_LOOKBACK_MS = 7 * 24 * 60 * MINUTE;

/** `<job>@2026-11-23T09:00Z`: the deterministic id that makes a duplicate fire a no-op. */
export const executionId = (job: string, minute: number) =>
  `${job}@${iso(minute).slice(0, 16)}Z`;

/** The runs due in (from, to], by minute: `cron` at `to`, `catchup` before it, `skipped` beyond
 * the catch-up window, and `skipped` for a paused job, with `paused` and its reason. None outside
 * a job's [start, end). A job with jitter is dispatched its run's jitter after the minute (its id
 * and scheduled time stay the minute's), so its minutes are looked at from that far back. */
export function dueRuns(env: Env, from: number, to: number, paused: Map<string, Pause> = NONE): NewRuns[] {
  const cfg = env.JOBS;
  const window = cfg.catchup_window_minutes * MINUTE;
  const reason = `missed tick, older than the ${cfg.catchup_window_minutes}-minute catch-up window`;
  const sets = new Map<number, NewRuns>();
  let key = Number.NaN;
  let set: NewRuns = { suffix: "", scheduled_time: "", trigger: "cron", status: "queued", jobs: [] };
  /** The runs of minute t dispatched at minute d. */
  const setOf = (t: number, d: number): NewRuns => {
    const late = to - d > window;
    const k = t * 4 + (late ? 2 : 0) + (d === to ? 1 : 0);
    if (k !== key) {
      key = k;
      let found = sets.get(k);
      if (!found) {
        found = { suffix: executionId("", t), scheduled_time: iso(t), trigger: d === to ? "cron" : "catchup", status: late ? "skipped" : "queued", last_error: late ? reason : undefined, jobs: [] };
        sets.set(k, found);
      }
      set = found;
    }
    return set;
  };
  /** The run of `job` at minute t, dispatched at minute d. */
  const add = (t: number, d: number, job: JobSpec) => {
    if ((job.start || job.end) && !inWindow(job, t)) return;
    const runs = setOf(t, d);
    const entry = job.args ? ([job.name, JSON.stringify(job.args)] as [string, string]) : job.name;
    const pause = paused.size > 0 ? paused.get(job.name) : undefined;
    if (pause) sets.set(-sets.size - 1, { ...runs, status: "skipped", last_error: pausedError(pause), jobs: [entry] });
    else runs.jobs.push(entry);
  };
  // A pair's runs in one copy when nothing sets its jobs apart (no pause, no start or end).
  duePairs(cfg, from, to, (t, pair) => {
    const entries = paused.size ? null : entriesOf(cfg, pair);
    if (!entries) for (const i of pair.jobs) add(t, t, cfg.jobs[i]!);
    else {
      const runs = setOf(t, t); // a copy: later pairs of the minute add to it, never to the cache
      runs.jobs = runs.jobs.length ? runs.jobs.concat(entries) : entries.slice();
    }
  });
  const jitter = maxJitter(cfg);
  if (jitter) {
    dueIn(cfg, from - jitter * MINUTE, to, (t, job) => {
      const d = t + jitterOffset(executionId(job.name, t), job.jitter) * MINUTE;
      if (d > from && d <= to) add(t, d, job);
    }, true);
  }
  return [...sets.values()].filter((s) => s.jobs.length > 0);
}

const NONE = new Map<string, Pause>();

/** A paused job's skipped run says so: `paused` first, then the reason given, if any. */
export const pausedError = (pause: Pause) => (pause.reason ? `paused: ${pause.reason}` : "paused");

export async function onScheduled(controller: ScheduledController, env: Env): Promise<void> {
  const cfg = env.JOBS;
  const refused = planError(cfg);
  // A plan this Worker cannot read fires nothing and leaves the last minute where it was.
  if (refused) return console.error(`scheduled() refused the plan: ${refused}`);
  if (cfg.mode === "native" && !cfg.cron_triggers.includes(controller.cron)) console.warn("unplanned trigger", controller.cron);
  const now = Math.floor(controller.scheduledTime / MINUTE) * MINUTE;
  const { last, spans, skew, paused, due } = await schedulerState(env.DB, now / MINUTE);
  learnSpans(spans);
  // A first, duplicate or out-of-order fire evaluates its own minute only; a late one catches up.
  const from = last === null || last >= now ? now - MINUTE : Math.max(last, now - MAX_LOOKBACK_MS);
  // The very first tick marks where it starts, so that if it dies before its minute advances the
  // next one catches its runs up (once in a stack's life).
  if (last === null) await advanceMinute(env.DB, from);
  // D1 is the outbox: the runs are in the log before any is sent, and the minute advances only
  // once they are. A tick that died in between left them queued; this one finds them again.
  // Runtime schedules move on only once their runs are dispatched: a tick that dies before finds
  // them still due, and their runs (the same ids) already in the log.
  const runtime = dueSchedules(env, now, paused, due);
  const sets = dueRuns(env, from, now, paused);
  await dispatchNow(env, await insertRuns(env.DB, runtime ? [...sets, ...runtime.sets] : sets, true), iso(now));
  if (runtime) await moveSchedules(env.DB, runtime.moves);
  await advanceMinute(env.DB, now);
  if (last !== null && now - last > (cfg.catchup_window_minutes + 1) * MINUTE && cfg.alert_on.includes("missed")) await noteMissed(env, last, now);
  await keepSpans(env.DB, [...zonesIn(cfg), ...(runtime?.zones ?? [])], now, spans);
  await failSilentRuns(env.DB, from, now, cfg.report_timeout_seconds * 1000);
  // After the dispatch: the minutes that left the retention, then a little of any backlog.
  await pruneMinutes(env.DB, from, now, cfg.run_retention_days);
  await pruneRuns(env.DB, now, cfg.run_retention_days, TICK_PRUNE);
  await flushAlerts(env);
  // Last, so that a slow dispatcher never delays a dispatch.
  if (skewDue(readSkew(skew, cfg.catalog_hash), Date.now())) await checkSkew(env, Date.now());
}

/** Store a span for each zone in use (the plan's, and those of the runtime schedules due) when D1
 * has none that lasts 3 more hours: learned anew from Intl unless this isolate knows one. The
 * next isolates' first ticks then read wall clocks without Intl (src/zone.ts). About once a day. */
async function keepSpans(db: D1Database, inUse: string[], now: number, stored: Record<string, Span>): Promise<void> {
  const lasts = (span?: Span) => (span?.[1] ?? 0) > now + 3 * HOUR;
  const zones = [...new Set(inUse)].filter((tz) => tz !== "UTC");
  if (zones.every((tz) => lasts(stored[tz]))) return;
  const fresh = zones.map((tz) => [tz, lasts(stored[tz]) ? stored[tz]! : lasts(spanOf(tz)) ? spanOf(tz)! : learnSpan(now, tz)]);
  await saveSpans(db, { ...stored, ...Object.fromEntries(fresh) });
}
