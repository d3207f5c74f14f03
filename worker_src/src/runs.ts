/** The D1 run log: every due run, its status; the scheduler's last evaluated minute and zone spans. */
import { DAY } from "./cron";
import type { JobMessage, RunRow, RunStatus, Trigger } from "./types";
import { TERMINAL } from "./types";
import type { Span } from "./zone";

/** New runs of one minute that share their trigger and status: each job's execution id is its
 * name + `suffix`. A job is its name, or [name, args as JSON object text]. */
export interface NewRuns {
  suffix: string;
  scheduled_time: string;
  trigger: Trigger;
  status: "queued" | "skipped";
  last_error?: string;
  jobs: (string | [name: string, args: string])[];
}

/** An instant as the run log stores it: ISO 8601 UTC, to the millisecond. */
export const iso = (t: number | string = Date.now()) => new Date(t).toISOString();

/** At most this many runs, and about this many bytes of them, go in one INSERT's JSON. D1
 * takes a bound string of up to 2 MB; a job's args are at most 8 KiB. */
const INSERT_RUNS = 1000;
const INSERT_BYTES = 1_000_000;
/** A job's name in insertRuns' JSON array, where it is "name" or ["name", "args text"]. */
const JOB_NAME = "IIF(type = 'array', value ->> 0, value)";

/** Insert runs that do not exist yet; return the messages of the queued ones this call created.
 * One statement per minute (and per 1,000 runs) over a JSON array of job names, not one per
 * run: a tick with 2,500 due runs binds one statement. D1 reads one row per name and none per
 * insert, so a tick's reads grow with the runs it creates and not with the log (no RETURNING,
 * which reads each new row back twice): `changes` says whether every run was new, as a tick's
 * nearly always are, or none; only a mix asks which (docs/WORKER.md). */
export async function insertRuns(db: D1Database, sets: NewRuns[]): Promise<JobMessage[]> {
  const now = iso();
  const insert = db.prepare(
    `INSERT OR IGNORE INTO runs (execution_id, job, scheduled_time, trigger, status, last_error, created_at, updated_at, finished_at, args) SELECT ${JOB_NAME} || ?2, ${JOB_NAME}, ?3, ?4, ?5, ?6, ?7, ?7, ?8, IIF(type = 'array', value ->> 1, NULL) FROM json_each(?1)`,
  );
  const statements: D1PreparedStatement[] = [];
  const chunks: { set: NewRuns; jobs: NewRuns["jobs"]; json: string }[] = [];
  for (const set of sets) {
    const add = (jobs: NewRuns["jobs"]) => {
      const json = JSON.stringify(jobs);
      const finished = set.status === "skipped" ? now : null;
      statements.push(insert.bind(json, set.suffix, set.scheduled_time, set.trigger, set.status, set.last_error ?? null, now, finished));
      chunks.push({ set, jobs, json });
    };
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < set.jobs.length; i++) {
      const job = set.jobs[i]!;
      bytes += typeof job === "string" ? job.length + 3 : 2 * (job[0].length + job[1].length) + 8;
      if (i + 1 - start >= INSERT_RUNS || bytes >= INSERT_BYTES) {
        add(set.jobs.slice(start, i + 1));
        start = i + 1;
        bytes = 0;
      }
    }
    if (start < set.jobs.length) add(start ? set.jobs.slice(start) : set.jobs);
  }
  const created: JobMessage[] = [];
  let skipped = 0;
  let queued = 0;
  for (let i = 0; i < statements.length; i += 500) {
    const results = await db.batch(statements.slice(i, i + 500));
    for (let j = 0; j < results.length; j++) {
      const { set, jobs, json } = chunks[i + j]!;
      const changes = results[j]!.meta.changes;
      if (set.status === "skipped") skipped += changes;
      else queued += changes;
      if (set.status !== "queued" || changes === 0) continue;
      const { suffix, scheduled_time, trigger } = set;
      // Some were new, some not (a backfill, a manual fire of the same minute): the new ones are
      // those this call stamped.
      const isNew = changes === jobs.length ? null : await createdAt(db, json, suffix, now);
      for (let k = 0; k < jobs.length; k++) {
        const job = jobs[k]!;
        const name = typeof job === "string" ? job : job[0];
        const execution_id = name + suffix;
        if (!isNew || isNew.has(execution_id)) created.push({ execution_id, job: name, scheduled_time, trigger });
      }
    }
  }
  // An INSERT passes no trigger: the runs it made are counted here (migrations/0004, counters).
  const counts = [["runs:queued", queued], ["runs:skipped", skipped]] as const;
  if (queued || skipped) await db.batch(counts.filter(([, n]) => n).map(([name, n]) => bumpStatement(db, name, n)));
  return created;
}

/** The ids among a chunk's runs that were created at `now`. */
async function createdAt(db: D1Database, json: string, suffix: string, now: string): Promise<Set<string>> {
  const { results } = await db
    .prepare(`SELECT execution_id FROM runs WHERE execution_id IN (SELECT ${JOB_NAME} || ?2 FROM json_each(?1)) AND created_at = ?3`)
    .bind(json, suffix, now)
    .all<{ execution_id: string }>();
  return new Set(results.map((r) => r.execution_id));
}

const bumpStatement = (db: D1Database, name: string, n: number) =>
  db.prepare("INSERT INTO counters (name, n) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n").bind(name, n);

/** Add `n` to a counter of `counters` (migrations/0004), such as `alerts:sent`. */
export async function bump(db: D1Database, name: string, n = 1): Promise<void> {
  await bumpStatement(db, name, n).run();
}

export async function getRun(db: D1Database, id: string): Promise<RunRow | null> {
  return db.prepare("SELECT * FROM runs WHERE execution_id = ?").bind(id).first<RunRow>();
}

/**
 * Move a run to `status` unless it already reached a terminal status (the first terminal status
 * wins) or, for non-terminal moves, a later one. Returns whether the row changed.
 */
export async function setStatus(
  db: D1Database,
  id: string,
  status: RunStatus,
  fields: { attempts?: number; call_id?: string | null; last_error?: string | null; started_at?: string; finished_at?: string; result?: string | null } = {},
): Promise<boolean> {
  const order = ["queued", "dispatched", "running"];
  const allowedFrom = TERMINAL.includes(status) ? order : order.slice(0, Math.max(order.indexOf(status), 1));
  const res = await db
    .prepare(
      `UPDATE runs SET status = ?2, updated_at = ?3, attempts = COALESCE(?4, attempts), call_id = COALESCE(?5, call_id), last_error = COALESCE(?6, last_error), started_at = COALESCE(started_at, ?7), finished_at = COALESCE(?8, finished_at), result = COALESCE(?9, result) WHERE execution_id = ?1 AND status IN (${allowedFrom.map((s) => `'${s}'`).join(",")})`,
    )
    .bind(id, status, iso(), fields.attempts ?? null, fields.call_id ?? null, fields.last_error ?? null, fields.started_at ?? null, fields.finished_at ?? (TERMINAL.includes(status) ? iso() : null), fields.result ?? null)
    .run();
  return res.meta.changes > 0;
}

/** The dispatcher took the run: keep the call id and attempt even when its report came first. */
export async function markDispatched(db: D1Database, id: string, attempts: number, callId: string | null): Promise<void> {
  await db
    .prepare("UPDATE runs SET status = CASE status WHEN 'queued' THEN 'dispatched' ELSE status END, attempts = ?2, call_id = COALESCE(call_id, ?3), updated_at = ?4 WHERE execution_id = ?1")
    .bind(id, attempts, callId, iso())
    .run();
}

/** What the report timeout writes; a late report from the job itself still wins over it. */
export const NEVER_REPORTED = "the job never reported";

/** A run dispatched or running with no word since `before` will never report (its container was
 * killed, say): fail it, so that every run still ends. Along runs_in_flight, which SQLite does
 * not pick by itself: it reads the silent runs only, not all those in flight. */
export async function failSilentRuns(db: D1Database, before: number): Promise<void> {
  await db
    .prepare("UPDATE runs INDEXED BY runs_in_flight SET status = 'failed', last_error = ?3, finished_at = ?1, updated_at = ?1 WHERE (status = 'dispatched' OR status = 'running') AND updated_at < ?2")
    .bind(iso(), iso(before), NEVER_REPORTED)
    .run();
}

/** Record an attempt that will be retried: the run stays where it is. */
export async function noteAttempt(db: D1Database, id: string, attempts: number, error: string): Promise<void> {
  await db
    .prepare("UPDATE runs SET attempts = ?2, last_error = ?3, updated_at = ?4 WHERE execution_id = ?1")
    .bind(id, attempts, error, iso())
    .run();
}

/** Runs newest first, filtered by job and status: each filter walks its own index for at most
 * `limit` rows (migrations/0004), whatever the size of the log. */
export async function listRuns(
  db: D1Database,
  filter: { job?: string | null; status?: string | null; limit: number },
): Promise<RunRow[]> {
  const where: string[] = [];
  const values: unknown[] = [filter.limit];
  for (const [column, value] of [["job", filter.job], ["status", filter.status]] as const) {
    if (value) where.push(`${column} = ?${values.push(value)}`);
  }
  const { results } = await db
    .prepare(`SELECT * FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY scheduled_time DESC, execution_id LIMIT ?1`)
    .bind(...values)
    .all<RunRow>();
  return results;
}

export type RunRowsByJob = Map<string, RunRow[]>;

/** Each job's last `count` runs, newest first: one indexed read of at most `count` rows per job
 * (the first 500 jobs), for the last run of /jobs and the dashboard's status strips. */
export async function recentRuns(db: D1Database, jobs: string[], count: number): Promise<RunRowsByJob> {
  const recent = db.prepare("SELECT * FROM runs WHERE job = ?1 ORDER BY scheduled_time DESC LIMIT ?2");
  const shown = jobs.slice(0, 500);
  const results = shown.length ? await db.batch<RunRow>(shown.map((job) => recent.bind(job, count))) : [];
  return new Map(shown.map((job, i) => [job, results[i]!.results]));
}

/** Runs by status from `counters` (migrations/0004), which pruning leaves alone: every run that
 * ended, over all time, and the runs in flight now; and the alerts sent and failed. */
export async function statusCounts(db: D1Database): Promise<{ counts: Record<string, number>; alerts: Record<string, number> }> {
  const { results } = await db.prepare("SELECT name, n FROM counters").all<{ name: string; n: number }>();
  const counts: Record<string, number> = {};
  const alerts: Record<string, number> = {};
  for (const { name, n } of results) {
    const [kind, key] = name.split(":") as [string, string];
    if (kind === "runs") counts[key] = n;
    else if (kind === "alerts") alerts[key] = n;
  }
  return { counts, alerts };
}

/** Delete at most `limit` ended runs scheduled more than `days` days before `at` (the
 * scheduler's clock), oldest first, along runs_time; what they counted stays in `counters`.
 * (`<>` chains, not IN: an IN list costs D1 a row read per row tested.) */
export async function pruneRuns(db: D1Database, at: number, days: number, limit: number): Promise<number> {
  const res = await db
    .prepare(
      "DELETE FROM runs WHERE rowid IN (SELECT rowid FROM runs INDEXED BY runs_time WHERE scheduled_time < ?1 AND status <> 'queued' AND status <> 'dispatched' AND status <> 'running' ORDER BY scheduled_time LIMIT ?2)",
    )
    .bind(iso(at - days * DAY), limit)
    .run();
  return res.meta.changes;
}

const PAUSED = "SELECT job, reason, since FROM paused_jobs";

/** A paused job: why, and since when. */
export interface Pause {
  reason: string | null;
  since: string;
}

/** What a tick reads before it evaluates, in one round trip: the last evaluated minute, the
 * zones' spans (src/zone.ts), the cached skew check (src/skew.ts) and the paused jobs. */
export async function schedulerState(db: D1Database): Promise<{ last: number | null; spans: Record<string, Span>; skew: string | null; paused: Map<string, Pause> }> {
  const [state, paused] = await db.batch([
    db.prepare("SELECT key, value FROM scheduler_state"),
    db.prepare(PAUSED),
  ]);
  const rows = (state!.results ?? []) as { key: string; value: string }[];
  const row = (key: string) => rows.find((r) => r.key === key)?.value;
  const last = row("last_minute");
  const spans: Record<string, Span> = {};
  try {
    for (const [tz, span] of Object.entries(JSON.parse(row("zones") ?? "{}"))) {
      if (Array.isArray(span) && span.length === 3 && span.every(Number.isFinite)) spans[tz] = span as Span;
    }
  } catch {
    // unreadable: the zones are learned again from Intl
  }
  return { last: last ? Date.parse(last) : null, spans, skew: row("skew") ?? null, paused: pauseMap(paused!.results ?? []) };
}

const pauseMap = (rows: unknown[]) =>
  new Map((rows as ({ job: string } & Pause)[]).map(({ job, reason, since }) => [job, { reason, since }]));

/** The paused jobs, by name. */
export async function pausedJobs(db: D1Database): Promise<Map<string, Pause>> {
  const { results } = await db.prepare(PAUSED).all();
  return pauseMap(results);
}

/** Pause a job, or resume it; whether that changed anything (pausing a paused job keeps its
 * first reason and time). */
export async function setPaused(db: D1Database, job: string, paused: boolean, reason: string | null): Promise<boolean> {
  const res = paused
    ? await db.prepare("INSERT OR IGNORE INTO paused_jobs (job, reason, since) VALUES (?1, ?2, ?3)").bind(job, reason, iso()).run()
    : await db.prepare("DELETE FROM paused_jobs WHERE job = ?1").bind(job).run();
  return res.meta.changes > 0;
}

/** A value of scheduler_state, such as the cached skew check. */
export async function stateValue(db: D1Database, key: string): Promise<string | null> {
  const row = await db.prepare("SELECT value FROM scheduler_state WHERE key = ?1").bind(key).first<{ value: string }>();
  return row?.value ?? null;
}

/** Set a value of scheduler_state. */
export async function setStateValue(db: D1Database, key: string, value: string): Promise<void> {
  await db
    .prepare("INSERT INTO scheduler_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
    .bind(key, value)
    .run();
}

/** Keep the zones' spans for the next isolates. */
export const saveSpans = (db: D1Database, spans: Record<string, Span>) => setStateValue(db, "zones", JSON.stringify(spans));

/** Advance the last evaluated minute; never move it back. */
export async function advanceMinute(db: D1Database, minute: number): Promise<void> {
  await db
    .prepare(
      `INSERT INTO scheduler_state (key, value) VALUES ('last_minute', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE excluded.value > scheduler_state.value`,
    )
    .bind(iso(minute))
    .run();
}
