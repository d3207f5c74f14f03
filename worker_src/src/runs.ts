/** The D1 run log: every due run, its status; the scheduler's last evaluated minute and zone spans. */
import { DAY } from "./cron";
import type { JobMessage, RunRow, RunStatus, Trigger } from "./types";
import { TERMINAL } from "./types";
import type { Span } from "./zone";
import type { ScheduleRow } from "./schedules";

/** Runtime schedules a tick reads (src/schedules.ts): the rest wait for the next tick, still due. */
export const TICK_SCHEDULES = 5000;

/** New runs of one minute that share their trigger and status: each job's execution id is its
 * name + `suffix`. A job is its name, or [name, args as JSON object text]. */
export interface NewRuns {
  suffix: string;
  scheduled_time: string;
  trigger: Trigger;
  status: "queued" | "skipped";
  last_error?: string;
  /** Each entry names a run's id prefix, `<job>@<schedule id>` (src/schedules.ts), not its job. */
  prefixed?: boolean;
  jobs: (string | [name: string, args: string])[];
}

/** An instant as the run log shows it: ISO 8601 UTC, to the millisecond. */
export const iso = (t: number | string = Date.now()) => new Date(t).toISOString();

/** A run's columns as every reader knows them (migrations/0008 stores integer times and computes
 * these as the row is read): what `SELECT *` gave before, without the stored integers. */
export const RUN = "execution_id, job, scheduled_time, trigger, status, attempts, call_id, last_error, updated_at, started_at, finished_at, args, result";

/** An ISO instant as an epoch millisecond, or null (a report's started_at, say). */
const msOrNull = (t: string | undefined | null) => (t ? Date.parse(t) : null);

/** D1 binds at most 100 values a statement: the 7 a minute's runs share, and 2 a run. */
const ROWS_PER_INSERT = 46;
/** At most this many bytes of args in one INSERT (each at most 8 KiB; D1 takes 100 KB of SQL and
 * bound strings of up to 2 MB). */
const INSERT_BYTES = 1_000_000;
const insertSqls = new Map<number, string>();

/** The INSERT of `rows` runs of one minute: ?1-?7 what they share, then an id prefix and args a
 * run. A run's job is its id's text before the first '@' (migrations/0008). */
function insertSql(rows: number): string {
  let sql = insertSqls.get(rows);
  if (!sql) {
    const tuples = Array.from({ length: rows }, (_, i) => `(?${8 + 2 * i} || ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?${9 + 2 * i})`);
    sql = `INSERT OR IGNORE INTO runs (execution_id, scheduled_ms, trigger, status, last_error, updated_after, finished_after, args) VALUES ${tuples.join(", ")}`;
    insertSqls.set(rows, sql);
  }
  return sql;
}

/** A created run, with what its dispatch carries: its args as JSON object text, when it has some,
 * and its id's prefix when that is not its job (`<job>@<schedule id>`, src/schedules.ts). */
export type CreatedRun = JobMessage & { args?: string; prefix?: string };

/** Insert runs that do not exist yet; return the queued ones this call created (and, with
 * `resend`, the queued ones that already existed: a tick that died before its dispatch left them,
 * and D1 is the outbox). Multi-row VALUES, not a SELECT over json_each: an INSERT of values reads
 * no row, so a run costs D1 its 2 rows written (the row and runs_by_time) and nothing read.
 * `changes` says whether every run was new, as a tick's nearly always are; only a mix asks which
 * (docs/WORKER.md, "What a run costs"). */
export async function insertRuns(db: D1Database, sets: NewRuns[], resend = false): Promise<CreatedRun[]> {
  const now = Date.now();
  const statements: D1PreparedStatement[] = [];
  const chunks: { set: NewRuns; jobs: NewRuns["jobs"] }[] = [];
  for (const set of sets) {
    const at = Date.parse(set.scheduled_time);
    const shared = [set.suffix, at, set.trigger, set.status, set.last_error ?? null, now - at, set.status === "skipped" ? now - at : null];
    for (let start = 0; start < set.jobs.length; ) {
      const values: unknown[] = shared.slice();
      let end = start;
      let bytes = 0;
      // A plain loop: at the busiest minute a new isolate runs this 2,500 times, cold.
      while (end < set.jobs.length && end - start < ROWS_PER_INSERT && bytes < INSERT_BYTES) {
        const job = set.jobs[end++]!;
        if (typeof job === "string") values.push(job, null);
        else values.push(job[0], job[1]);
        bytes += typeof job === "string" ? job.length : job[0].length + job[1].length;
      }
      statements.push(db.prepare(insertSql(end - start)).bind(...values));
      chunks.push({ set, jobs: start === 0 && end === set.jobs.length ? set.jobs : set.jobs.slice(start, end) });
      start = end;
    }
  }
  const created: CreatedRun[] = [];
  let skipped = 0;
  let queued = 0;
  for (let i = 0; i < statements.length; i += 500) {
    const results = await db.batch(statements.slice(i, i + 500));
    for (let j = 0; j < results.length; j++) {
      const { set, jobs } = chunks[i + j]!;
      const changes = results[j]!.meta.changes;
      if (set.status === "skipped") skipped += changes;
      else queued += changes;
      if (set.status !== "queued" || (changes === 0 && !resend)) continue;
      const { suffix, scheduled_time, trigger } = set;
      // Some were new, some not (a backfill, a manual fire of the same minute, a tick again after
      // one that died): ask the log which are new, or still queued.
      const pick = changes === jobs.length ? null : await queuedAmong(db, jobs, suffix, resend ? null : now);
      for (const job of jobs) {
        const name = typeof job === "string" ? job : job[0];
        const execution_id = name + suffix;
        if (pick && !pick.has(execution_id)) continue;
        const run: CreatedRun = set.prefixed ? { execution_id, job: name.slice(0, name.indexOf("@")), scheduled_time, trigger, prefix: name } : { execution_id, job: name, scheduled_time, trigger };
        if (typeof job !== "string") run.args = job[1];
        created.push(run);
      }
    }
  }
  // An INSERT passes no trigger: the runs it made are counted here (migrations/0006, counters).
  const counts = [["runs:created", queued + skipped], ["runs:skipped", skipped]] as const;
  if (queued || skipped) await db.batch(counts.filter(([, n]) => n).map(([name, n]) => bumpStatement(db, name, n)));
  return created;
}

/** The ids among a chunk's runs that are still queued: those this call stamped (`stamp`), or all
 * of them (null). */
async function queuedAmong(db: D1Database, jobs: NewRuns["jobs"], suffix: string, stamp: number | null): Promise<Set<string>> {
  const ids = jobs.map((job) => (typeof job === "string" ? job : job[0]) + suffix);
  const { results } = await db
    .prepare("SELECT execution_id FROM runs WHERE execution_id IN (SELECT value FROM json_each(?1)) AND status = 'queued' AND (?2 IS NULL OR scheduled_ms + updated_after = ?2)")
    .bind(JSON.stringify(ids), stamp)
    .all<{ execution_id: string }>();
  return new Set(results.map((r) => r.execution_id));
}

export const bumpStatement = (db: D1Database, name: string, n: number) =>
  db.prepare("INSERT INTO counters (name, n) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n").bind(name, n);

/** Add `n` to a counter of `counters` (migrations/0004), such as `alerts:sent`. */
export async function bump(db: D1Database, name: string, n = 1): Promise<void> {
  await bumpStatement(db, name, n).run();
}

export async function getRun(db: D1Database, id: string): Promise<RunRow | null> {
  return db.prepare(`SELECT ${RUN} FROM runs WHERE execution_id = ?`).bind(id).first<RunRow>();
}

/**
 * Move a run to `status` unless it already reached a terminal status (the first terminal status
 * wins) or, for non-terminal moves, a later one. Returns whether the row changed.
 */
export async function setStatus(db: D1Database, id: string, status: RunStatus, fields: StatusFields = {}): Promise<boolean> {
  return (await statusStatement(db, id, status, fields).run()).meta.changes > 0;
}

export type StatusFields = { attempts?: number; call_id?: string | null; last_error?: string | null; started_at?: string; finished_at?: string; result?: string | null };

/** setStatus as a statement, for a batch. */
export function statusStatement(db: D1Database, id: string, status: RunStatus, fields: StatusFields = {}): D1PreparedStatement {
  const order = ["queued", "dispatched", "running"];
  const allowedFrom = TERMINAL.includes(status) ? order : order.slice(0, Math.max(order.indexOf(status), 1));
  return db
    .prepare(
      `UPDATE runs SET status = ?2, updated_after = ?3 - scheduled_ms, attempts = COALESCE(?4, attempts), call_id = COALESCE(?5, call_id), last_error = COALESCE(?6, last_error), started_after = COALESCE(started_after, ?7 - scheduled_ms), finished_after = COALESCE(?8 - scheduled_ms, finished_after), result = COALESCE(?9, result) WHERE execution_id = ?1 AND (${allowedFrom.map((s) => `status = '${s}'`).join(" OR ")})`,
    )
    .bind(id, status, Date.now(), fields.attempts ?? null, fields.call_id ?? null, fields.last_error ?? null, msOrNull(fields.started_at), fields.finished_at ? Date.parse(fields.finished_at) : TERMINAL.includes(status) ? Date.now() : null, fields.result ?? null);
}

/** The dispatcher took the run: keep the call id and attempt even when its report came first. */
export async function markDispatched(db: D1Database, id: string, attempts: number, callId: string | null): Promise<void> {
  await dispatchedStatement(db).bind(id, attempts, callId, Date.now()).run();
}

/** markDispatched's statement, to bind (id, attempts, call id, now) for each run of a batch. */
export const dispatchedStatement = (db: D1Database) =>
  db.prepare("UPDATE runs SET status = CASE status WHEN 'queued' THEN 'dispatched' ELSE status END, attempts = ?2, call_id = COALESCE(call_id, ?3), updated_after = ?4 - scheduled_ms WHERE execution_id = ?1");

/** What the report timeout writes; a late report from the job itself still wins over it. */
export const NEVER_REPORTED = "the job never reported";

/** Runs in flight with no word for the report timeout will never report (a killed container,
 * say): fail them, so that every run still ends. Without an index of the runs in flight (each run
 * would pay 2 rows written to enter and leave it): each tick reads the runs scheduled in the
 * minutes that just passed the timeout, along runs_by_scheduled, so a run is read once in its life;
 * replays and backfills, whose scheduled time is long past, wait in runs_watch instead. */
export async function failSilentRuns(db: D1Database, from: number, to: number, timeoutMs: number): Promise<void> {
  // Queued runs are the queue's: retried, or dead-lettered to `dead`.
  const fail = (index: string, where: string) =>
    `UPDATE runs INDEXED BY ${index} SET status = 'failed', last_error = ?1, finished_after = ?2 - scheduled_ms, updated_after = ?2 - scheduled_ms WHERE ${where} AND (status = 'dispatched' OR status = 'running') AND scheduled_ms + updated_after < ?3`;
  const now = Date.now();
  const args = [NEVER_REPORTED, now, now - timeoutMs];
  await db.batch([
    db.prepare(fail("runs_by_scheduled", "scheduled_ms > ?4 AND scheduled_ms <= ?5")).bind(...args, from - timeoutMs, to - timeoutMs),
    db.prepare(fail("runs_watch", "(trigger = 'replay' OR trigger = 'backfill')")).bind(...args),
  ]);
}

/** Record an attempt that will be retried: the run stays where it is. */
export async function noteAttempt(db: D1Database, id: string, attempts: number, error: string): Promise<void> {
  await attemptStatement(db, id, attempts, error).run();
}

/** noteAttempt as a statement, for a batch. Only a later attempt than the log has: a consumer
 * that notes a timed-out attempt after the next one was dispatched (a slow invocation, a
 * redelivery) must not take the run's attempts back or give a finished run a stale error. */
export const attemptStatement = (db: D1Database, id: string, attempts: number, error: string) =>
  db.prepare("UPDATE runs SET attempts = ?2, last_error = ?3, updated_after = ?4 - scheduled_ms WHERE execution_id = ?1 AND attempts < ?2").bind(id, attempts, error, Date.now());

/** How far a filter the indexes cannot serve looks: the newest this many runs (of the job). */
export const SCAN_LIMIT = 1000;
const TROUBLE = ["failed", "dead", "skipped"];

/** Runs newest first, filtered by job, schedule and status, a page after `cursor`, each read
 * bounded whatever the log's size (migrations/0006, 0008): all runs along runs_by_scheduled; a job's along
 * its key range (`<job>@...`, '@' sorts just before 'A'), a runtime schedule's along its own
 * (`<job>@<schedule>@...`); failed, dead and skipped runs along runs_trouble (and
 * runs_job_trouble); other statuses among the newest SCAN_LIMIT runs of the range. By time, ties
 * go by id as the indexes hold them, and a page after a cursor is two bounded range reads. */
export async function listRuns(
  db: D1Database,
  filter: { job?: string | null; status?: string | null; schedule?: string | null; cursor?: string | null; limit: number },
): Promise<RunRow[]> {
  const { job, status, schedule, cursor, limit } = filter;
  const values: unknown[] = [];
  const p = (value: unknown) => `?${values.push(value)}`;
  const n = status && !(TROUBLE.includes(status) && !schedule) ? SCAN_LIMIT : limit;
  const [time, id] = cursor ? [cursor.slice(0, cursor.indexOf("~")), cursor.slice(cursor.indexOf("~") + 1)] : [];
  let sql: string;
  if (schedule || (job && !(status && TROUBLE.includes(status)))) {
    const low = p(schedule ? `${job}@${schedule}@` : `${job}@`);
    const high = schedule ? `${low} || '~'` : p(`${job}A`);
    sql = `SELECT ${RUN} FROM runs WHERE execution_id > ${low} AND execution_id < ${high}${cursor ? ` AND execution_id < ${p(id)}` : ""} ORDER BY execution_id DESC LIMIT ${n}`;
  } else {
    // The status is a literal from a fixed list, so SQLite can prove runs_trouble covers it.
    const base = status && TROUBLE.includes(status)
      ? `SELECT ${RUN} FROM runs INDEXED BY ${job ? `runs_job_trouble WHERE job = ${p(job)} AND` : "runs_trouble WHERE"} status = '${status}'`
      : `SELECT ${RUN} FROM runs INDEXED BY runs_by_scheduled WHERE 1`;
    const order = `ORDER BY scheduled_ms DESC, execution_id LIMIT ${n}`;
    if (!cursor) sql = `${base} ${order}`;
    else {
      const t = p(Date.parse(time!));
      sql = `SELECT * FROM (${base} AND scheduled_ms = ${t} AND execution_id > ${p(id)} ORDER BY execution_id LIMIT ${n}) UNION ALL SELECT * FROM (${base} AND scheduled_ms < ${t} ${order}) LIMIT ${n}`;
    }
  }
  if (n !== limit) sql = `SELECT * FROM (${sql}) WHERE status = ${p(status)} LIMIT ${limit}`;
  const { results } = await db
    .prepare(sql)
    .bind(...values)
    .all<RunRow>();
  return results;
}

/** Where the page after these runs starts, when there may be one. */
export const nextCursor = (runs: RunRow[], limit: number) => (runs.length === limit ? `${runs.at(-1)!.scheduled_time}~${runs.at(-1)!.execution_id}` : null);

/** A job's runs are the keys `<job>@...`: '@' sorts just before 'A'. */
const JOB_RANGE = "execution_id > ?2 || '@' AND execution_id < ?2 || 'A'";

export type RunRowsByJob = Map<string, RunRow[]>;

/** Each job's last `count` runs, newest first: its key range, at most `count` rows per job (the
 * first 500 jobs), for the last run of /jobs and the dashboard's status strips. */
export async function recentRuns(db: D1Database, jobs: string[], count: number): Promise<RunRowsByJob> {
  const recent = db.prepare(`SELECT ${RUN} FROM runs WHERE ${JOB_RANGE} ORDER BY execution_id DESC LIMIT ?1`);
  const shown = jobs.slice(0, 500);
  const results = shown.length ? await db.batch<RunRow>(shown.map((job) => recent.bind(count, job))) : [];
  return new Map(shown.map((job, i) => [job, results[i]!.results]));
}

/** Runs by status from `counters` (migrations/0004), which pruning leaves alone: every run that
 * ended, over all time, and the runs in flight now; the alerts sent and failed; and each job's
 * runtime schedules. */
export async function statusCounts(db: D1Database): Promise<{ counts: Record<string, number>; alerts: Record<string, number>; schedules: Record<string, number> }> {
  const { results } = await db.prepare("SELECT name, n FROM counters").all<{ name: string; n: number }>();
  const counts: Record<string, number> = {};
  const alerts: Record<string, number> = {};
  const schedules: Record<string, number> = {};
  for (const { name, n } of results) {
    const [kind, key] = name.split(":") as [string, string];
    if (kind === "runs") counts[key] = n;
    else if (kind === "alerts") alerts[key] = n;
    else if (kind === "schedules" && n) schedules[key] = n;
  }
  // Created over all time, less those that ended: the runs queued, dispatched or running now.
  const { created = 0, ...ended } = counts;
  counts.in_flight = Math.max(0, created - TERMINAL.reduce((sum, s) => sum + (ended[s] ?? 0), 0));
  delete counts.created;
  return { counts, alerts, schedules };
}

const ENDED = "status <> 'queued' AND status <> 'dispatched' AND status <> 'running'";

/** Delete the ended runs scheduled in [from, to) less `days` days: the minutes a tick moved out
 * of the retention. A range of runs_by_scheduled, so a run costs its one row read and one
 * written, and the log shrinks as fast as it grows. What they counted stays in `counters`. */
export async function pruneMinutes(db: D1Database, from: number, to: number, days: number): Promise<number> {
  const res = await db
    .prepare(`DELETE FROM runs INDEXED BY runs_by_scheduled WHERE scheduled_ms >= ?1 AND scheduled_ms < ?2 AND ${ENDED}`)
    .bind(from - days * DAY, to - days * DAY)
    .run();
  return res.meta.changes;
}

/** Delete at most `limit` ended runs scheduled more than `days` days before `at` (the
 * scheduler's clock), oldest first: what pruneMinutes left, such as the backlog of a lowered
 * runRetentionDays. Also empties the succeeded runs that migrations/0006 and 0008 left aside in
 * runs_before_0006 and runs_before_0008 (ISO text times, as they were).
 * (`<>` chains, not IN: an IN list costs D1 a row read per row tested.) */
export async function pruneRuns(db: D1Database, at: number, days: number, limit: number): Promise<number> {
  const cutoff = at - days * DAY;
  const results = await db.batch([
    db.prepare(`DELETE FROM runs INDEXED BY runs_by_scheduled WHERE scheduled_ms < ?1 AND ${ENDED} ORDER BY scheduled_ms LIMIT ?2`).bind(cutoff, limit),
    db.prepare("DELETE FROM runs_before_0006 WHERE rowid IN (SELECT rowid FROM runs_before_0006 INDEXED BY runs_time WHERE scheduled_time < ?1 ORDER BY scheduled_time LIMIT ?2)").bind(iso(cutoff), limit),
    db.prepare("DELETE FROM runs_before_0008 INDEXED BY runs_by_time WHERE scheduled_time < ?1 ORDER BY scheduled_time LIMIT ?2").bind(iso(cutoff), limit),
  ]);
  return results.reduce((n, r) => n + r.meta.changes, 0);
}

const PAUSED = "SELECT job, reason, since FROM paused_jobs";

/** A paused job: why, and since when. */
export interface Pause {
  reason: string | null;
  since: string;
}

/** What a tick reads before it evaluates, in one round trip: the last evaluated minute, the
 * zones' spans (src/zone.ts), the cached skew check (src/skew.ts), the paused jobs, and the
 * runtime schedules due by `minute` (epoch minutes; src/schedules.ts). */
export async function schedulerState(
  db: D1Database,
  minute = 0,
): Promise<{ last: number | null; spans: Record<string, Span>; skew: string | null; paused: Map<string, Pause>; due: ScheduleRow[] }> {
  const [state, paused, due] = await db.batch([
    db.prepare("SELECT key, value FROM scheduler_state"),
    db.prepare(PAUSED),
    db.prepare("SELECT * FROM schedules INDEXED BY schedules_due WHERE due_at <= ?1 ORDER BY due_at LIMIT ?2").bind(minute, TICK_SCHEDULES),
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
  return { last: last ? Date.parse(last) : null, spans, skew: row("skew") ?? null, paused: pauseMap(paused!.results ?? []), due: (due?.results ?? []) as ScheduleRow[] };
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
