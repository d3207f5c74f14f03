/** fetch(): the health check, the signed completion callback, and the admin API and dashboard. */
import { dashboardPolicy, renderDashboard } from "./dashboard";
import { planError, upcoming } from "./due";
import { actionToken, adminAuth, HttpError, hasActionToken, isObject, json, MAX_ARGS_DEPTH, onlyFields, parseObject, readBody, secured, tooDeep, utf8Bytes } from "./http";
import { backfill, jobNamed, pause, refuseIfPaused, resume } from "./ops";
import { flushAlerts } from "./alerts";
import { getRun, insertRuns, iso, listRuns, NEVER_REPORTED, nextCursor, pausedJobs, recentRuns, type RunRowsByJob, setStatus, stateValue, statusCounts } from "./runs";
import { createRoute, listRoute, Problems, scheduleRoute } from "./schedules";
import { readSkew } from "./skew";
import { SCHEME, verify, verifyLegacy } from "./signing";
import { enqueue } from "./dispatch";
import { type Env, type RunRow, type RunStatus, TERMINAL } from "./types";

const STATUSES: RunStatus[] = ["queued", "dispatched", "running", ...TERMINAL];
const REPLAYABLE = TERMINAL.slice(1); // failed, dead, skipped
/** The most a manual run's `args` may take, serialized as JSON, in UTF-8 bytes. */
const MAX_ARGS = 8192;

export async function onFetch(req: Request, env: Env): Promise<Response> {
  return secured(req, await routeOrError(req, env));
}

/** The route's answer, or its error as JSON: never a thrown error, so every answer gets the headers. */
async function routeOrError(req: Request, env: Env): Promise<Response> {
  try {
    return await route(req, env);
  } catch (err) {
    if (err instanceof Problems) return json({ error: err.message, problems: err.problems }, 422);
    if (err instanceof HttpError) return json({ error: err.message }, err.status);
    console.error(`unhandled ${req.method} ${new URL(req.url).pathname}: ${String(err)}`);
    return json({ error: "internal error" }, 500);
  }
}

async function route(req: Request, env: Env): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname.replace(/\/+$/, "") || "/";
  const method = req.method;
  const runPath = /^\/runs\/([^/]+)(\/replay)?$/.exec(path);

  if (path === "/healthz") {
    allow(method, "GET");
    const error = planError(env.JOBS);
    if (error) return json({ ok: false, error }, 503);
    return json({ ok: true, mode: env.JOBS.mode, jobs: env.JOBS.jobs.length, catalog_hash: env.JOBS.catalog_hash });
  }
  if (runPath && !runPath[2] && method === "POST") return callback(req, env, decode(runPath[1]!));

  // Runtime schedules: the admin token, or the schedules token, which can do nothing else.
  const jobSchedules = /^\/jobs\/([^/]+)\/schedules(\/batch)?$/.exec(path);
  const oneSchedule = /^\/schedules\/([^/]+)(?:\/(pause|resume))?$/.exec(path);
  const auth = await adminAuth(req, env.ADMIN_TOKEN);
  if (!auth && (jobSchedules || oneSchedule) && (await adminAuth(req, env.SCHEDULES_TOKEN ?? "")) === "bearer") {
    return schedules(req, env, url, jobSchedules, oneSchedule);
  }
  if (!auth) {
    const challenge = path === "/" ? 'Basic realm="cronflare", charset="UTF-8"' : 'Bearer realm="cronflare"';
    return json({ error: "missing or wrong admin token" }, 401, { "www-authenticate": challenge });
  }
  if (method === "POST" && auth === "basic" && !(await hasActionToken(req, env.ADMIN_TOKEN))) {
    throw new HttpError(403, "a POST with Basic auth needs the dashboard's X-Cronflare-Action header; scripts use a Bearer token");
  }
  if (path === "/") {
    allow(method, "GET");
    return dashboard(env, url);
  }
  if (path === "/jobs") {
    allow(method, "GET");
    const [jobs, skew] = await Promise.all([jobsWithNextRuns(env, recentRuns(env.DB, names(env), 1), statusCounts(env.DB)), stateValue(env.DB, "skew")]);
    return json({ jobs, skew: readSkew(skew, env.JOBS.catalog_hash) });
  }
  if (jobSchedules || oneSchedule) {
    if (method === "POST" && auth === "basic") throw new HttpError(403, "schedules are managed with a Bearer token");
    return schedules(req, env, url, jobSchedules, oneSchedule);
  }
  if (path === "/stats") {
    allow(method, "GET");
    const { schedules, ...stats } = await statusCounts(env.DB);
    const orphaned = Object.fromEntries(Object.entries(schedules).filter(([job]) => !env.JOBS.jobs.some((j) => j.name === job && j.runtime)));
    return json({ ...stats, schedules: { total: Object.values(schedules).reduce((a, b) => a + b, 0), by_job: schedules, orphaned } });
  }
  if (path === "/runs") {
    allow(method, "GET");
    const filter = runFilter(url);
    await scheduleJob(env, filter);
    const runs = await listRuns(env.DB, filter);
    // A job neither in the plan nor in the run log is a 404, as on the /jobs/<name> routes; one
    // since removed from the catalog keeps its history. The dashboard's filter shows no rows.
    const job = filter.job;
    if (job !== null && !runs.length && !names(env).includes(job) && !(await listRuns(env.DB, { job, limit: 1 })).length) {
      throw new HttpError(404, `no such job: ${job}`);
    }
    return json({ runs: runs.map(withSchedule), next_cursor: nextCursor(runs, filter.limit) });
  }
  const jobAction = /^\/jobs\/([^/]+)\/(run|pause|resume|backfill)$/.exec(path);
  if (jobAction) {
    allow(method, "POST");
    const name = decode(jobAction[1]!);
    if (jobAction[2] === "pause") return pause(req, env, name);
    if (jobAction[2] === "resume") return resume(env, name);
    if (jobAction[2] === "backfill") return backfill(req, env, name);
    return runNow(req, env, name);
  }
  if (runPath?.[2]) {
    allow(method, "POST");
    return replay(env, decode(runPath[1]!));
  }
  if (runPath) {
    allow(method, "GET");
    const run = await getRun(env.DB, decode(runPath[1]!));
    return run ? json(run) : json({ error: "no such run" }, 404);
  }
  throw new HttpError(404, "no such route");
}

function allow(method: string, expected: string): void {
  if (method !== expected) throw new HttpError(405, `use ${expected}`);
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new HttpError(400, "bad percent-encoding in the path");
  }
}

/** A run as the API shows it: with the runtime schedule that made it (its id's middle part). */
const withSchedule = (run: RunRow) => {
  const parts = run.execution_id.split("@");
  return { ...run, schedule: parts.length === 3 ? parts[1]! : null };
};

/** The schedules routes, for the admin token or the schedules token. */
function schedules(req: Request, env: Env, url: URL, jobSchedules: RegExpExecArray | null, oneSchedule: RegExpExecArray | null): Promise<Response> {
  if (oneSchedule) return scheduleRoute(req, env, decode(oneSchedule[1]!), oneSchedule[2]);
  const name = decode(jobSchedules![1]!);
  if (jobSchedules![2] || req.method === "POST") {
    allow(req.method, "POST");
    return createRoute(req, env, name, !!jobSchedules![2]);
  }
  allow(req.method, "GET");
  return listRoute(env, name, url);
}

function runFilter(url: URL) {
  // An empty value (the dashboard form's "all jobs", "any status") is no filter.
  const job = url.searchParams.get("job") || null;
  const status = url.searchParams.get("status") || null;
  const schedule = url.searchParams.get("schedule") || null;
  const cursor = url.searchParams.get("cursor") || null;
  if (cursor !== null && !(/^[^~]{1,40}~[^~]{1,300}$/.test(cursor) && Number.isFinite(Date.parse(cursor.slice(0, cursor.indexOf("~")))))) {
    throw new HttpError(400, "cursor is not one this API gave");
  }
  if (schedule !== null && schedule.length > 100) throw new HttpError(400, "schedule id too long");
  const limitText = url.searchParams.get("limit") ?? "50";
  const limit = Number(limitText);
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > 500) throw new HttpError(400, "limit must be 1 to 500");
  if (status !== null && !STATUSES.includes(status as RunStatus)) {
    throw new HttpError(400, `status must be one of ${STATUSES.join(", ")}`);
  }
  if (job !== null && job.length > 100) throw new HttpError(400, "job name too long");
  return { job, status, schedule, cursor, limit };
}

/** POST /runs/<id>: the job wrapper's signed report of how a run went. */
async function callback(req: Request, env: Env, id: string): Promise<Response> {
  const text = await readBody(req);
  const keys = [env.SIGNING_KEY, env.SIGNING_KEY_NEXT];
  if (!((await verify(keys, "report", "POST", `/runs/${id}`, req.headers, text)) || (await legacyReport(env, id, req.headers, text)))) {
    // Naming the scheme tells an upgraded wrapper that this Worker verifies v2 (docs/SECURITY.md).
    return json({ error: "bad or missing signature, or stale timestamp", scheme: SCHEME }, 401);
  }
  const body = parseObject(text);
  const status = body.status;
  if (status !== "succeeded" && status !== "failed" && status !== "running") {
    throw new HttpError(422, "status must be succeeded, failed or running");
  }
  const started = isoField(body, "started_at");
  const finished = isoField(body, "finished_at");
  const error = textField(body, "error");
  const result = textField(body, "result");
  const fields = {
    started_at: started ?? undefined,
    finished_at: status === "running" ? undefined : (finished ?? iso()),
    last_error: status === "failed" ? (error ?? "failed") : null,
    result: status === "running" ? null : result,
  };
  let answer: Response;
  if (await setStatus(env.DB, id, status, fields)) answer = json({ execution_id: id, status });
  else {
    // The UPDATE changed nothing (the common case reads the run once, this one twice).
    const now = await getRun(env.DB, id);
    if (!now) throw new HttpError(404, "no such run");
    if (status !== "running" && (await correct(env.DB, now, status, fields))) answer = json({ execution_id: id, status, corrected: now.status });
    else if (now?.status === status) answer = json({ execution_id: id, status, duplicate: true });
    else answer = json({ error: `run is already ${now?.status}` }, 409);
  }
  if (status === "failed") await flushAlerts(env).catch((err) => console.error(`alerts: ${String(err)}`));
  return answer;
}

/**
 * A v1-signed report (it binds no run) is taken only during an upgrade: for a run scheduled before
 * the migration that brought v2, within one report timeout of that migration. Runs dispatched by
 * the old Worker to the old Modal code still end once; after that window v1 is never accepted.
 */
async function legacyReport(env: Env, id: string, headers: Headers, text: string): Promise<boolean> {
  if (!headers.get("x-cronflare-signature")?.startsWith("v1=")) return false;
  if (!(await verifyLegacy([env.SIGNING_KEY, env.SIGNING_KEY_NEXT], headers, text))) return false;
  const [since, run] = await Promise.all([stateValue(env.DB, "signing_v2_since"), getRun(env.DB, id)]);
  if (!since || !run) return false;
  return run.scheduled_time < since && Date.now() < Date.parse(since) + env.JOBS.report_timeout_seconds * 1000;
}

/**
 * A signed report is first-hand evidence: it wins over `dead` (its dispatch timed out, yet it
 * spawned) and over the report timeout's `failed`, and the run says so. Every other terminal
 * status stays final. Whether the run changed.
 */
async function correct(db: D1Database, run: RunRow, status: "succeeded" | "failed", fields: { started_at?: string; finished_at?: string; last_error: string | null; result: string | null }): Promise<boolean> {
  if (!(run.status === "dead" || (run.status === "failed" && run.last_error === NEVER_REPORTED))) return false;
  const note = `reported ${status} after being marked ${run.status}${fields.last_error ? `: ${fields.last_error}` : ""}`;
  const res = await db
    .prepare(
      "UPDATE runs SET status = ?2, last_error = ?3, started_after = COALESCE(started_after, ?4 - scheduled_ms), finished_after = ?5 - scheduled_ms, result = COALESCE(?6, result), updated_after = ?7 - scheduled_ms WHERE execution_id = ?1 AND status = ?8 AND last_error IS ?9",
    )
    .bind(run.execution_id, status, note, fields.started_at ? Date.parse(fields.started_at) : null, fields.finished_at ? Date.parse(fields.finished_at) : Date.now(), fields.result, Date.now(), run.status, run.last_error)
    .run();
  return res.meta.changes > 0;
}

/** An optional string field, cut to its first 2000 characters; null when absent. */
function textField(body: Record<string, unknown>, key: string): string | null {
  const value = body[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw new HttpError(422, `${key} must be a string`);
  return value.slice(0, 2000);
}

function isoField(body: Record<string, unknown>, key: string): string | null {
  const value = body[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== "string" || Number.isNaN(Date.parse(value))) throw new HttpError(422, `${key} must be an ISO 8601 time`);
  return iso(value);
}

/** POST /jobs/<name>/run: run a job now, with its plan's args or the body's `{"args": {...}}`. */
async function runNow(req: Request, env: Env, name: string): Promise<Response> {
  const job = jobNamed(env, name);
  await refuseIfPaused(env, name);
  const text = await readBody(req);
  let args = job.args && JSON.stringify(job.args);
  if (text) {
    const body = parseObject(text);
    onlyFields(body, "args");
    if ("args" in body) {
      if (!isObject(body.args)) throw new HttpError(422, "args must be a JSON object");
      if (tooDeep(body.args, MAX_ARGS_DEPTH)) throw new HttpError(422, `args is nested deeper than ${MAX_ARGS_DEPTH} levels`);
      args = JSON.stringify(body.args);
      const size = utf8Bytes(args);
      if (size > MAX_ARGS) throw new HttpError(422, `args is over 8 KiB (${size} bytes)`);
    }
  }
  // `<job>@<the second it was asked>Z-manual-<random>`: a job's runs are a range of the run log's
  // key, newest last, manual ones among them (migrations/0006).
  const suffix = `@${iso().slice(0, 19)}Z-manual-${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;
  const run = { suffix, scheduled_time: iso(), trigger: "manual" as const, status: "queued" as const, jobs: [args ? ([name, args] as [string, string]) : name] };
  await enqueue(env, await insertRuns(env.DB, [run]));
  return json({ execution_id: name + suffix, status: "queued" }, 202);
}

async function replay(env: Env, id: string): Promise<Response> {
  const run = await getRun(env.DB, id);
  if (!run) throw new HttpError(404, "no such run");
  if (!REPLAYABLE.includes(run.status)) throw new HttpError(409, `only ${REPLAYABLE.join(", ")} runs can be replayed; this one is ${run.status}`);
  // The dispatcher spawns an id once: replaying a run that reached Modal would only wait for a
  // report that never comes again.
  if (run.call_id) throw new HttpError(409, `this run already reached Modal (call ${run.call_id}), which runs an id once; to run the job again, POST /jobs/${run.job}/run`);
  await refuseIfPaused(env, run.job);
  const res = await env.DB.prepare(
    `UPDATE runs SET status = 'queued', trigger = 'replay', attempts = 0, last_error = NULL, started_after = NULL, finished_after = NULL, updated_after = ?2 - scheduled_ms WHERE execution_id = ?1 AND status = ?3`,
  )
    .bind(id, Date.now(), run.status)
    .run();
  if (res.meta.changes === 0) throw new HttpError(409, "run changed; retry");
  await enqueue(env, [{ execution_id: id, job: run.job, scheduled_time: run.scheduled_time, trigger: "replay" }]);
  return json({ execution_id: id, status: "queued" }, 202);
}

const names = (env: Env) => env.JOBS.jobs.map((j) => j.name);

/** Every job of the plan with its next fire times, last run (the first of `recent`), pause and
 * runtime schedule count. */
async function jobsWithNextRuns(env: Env, recent: Promise<RunRowsByJob>, stats: ReturnType<typeof statusCounts>) {
  const cfg = env.JOBS;
  const error = planError(cfg);
  if (error) throw new HttpError(503, error);
  const [runs, paused, { schedules }] = await Promise.all([recent, pausedJobs(env.DB), stats]);
  const now = Date.now();
  const next = new Map<string, string[]>(); // jobs with one schedule and timezone share them
  return cfg.jobs.map((job) => {
    const key = `${job.s} ${job.timezone} ${job.start} ${job.end}`;
    let times = next.get(key);
    if (job.enabled && !times) next.set(key, (times = upcoming(cfg, job, now, 3).map((t) => iso(t))));
    return { ...job, next: (job.enabled && times) || [], last: runs.get(job.name)?.[0] ?? null, paused: paused.get(job.name) ?? null, schedules: schedules[job.name] ?? 0 };
  });
}

/** A schedule filter names its job's runs: the job given, or the schedule's (404 if gone). */
async function scheduleJob(env: Env, filter: { job: string | null; schedule: string | null }): Promise<void> {
  const schedule = filter.schedule;
  if (!schedule || filter.job) return;
  const row = await env.DB.prepare("SELECT job FROM schedules WHERE id = ?1").bind(schedule).first<{ job: string }>();
  if (!row) throw new HttpError(404, `no such schedule: ${schedule} (give job= too for the runs of a deleted one)`);
  filter.job = row.job;
}

async function dashboard(env: Env, url: URL): Promise<Response> {
  const filter = runFilter(url);
  await scheduleJob(env, filter);
  const recent = recentRuns(env.DB, names(env), 30);
  const stats = statusCounts(env.DB);
  const [jobs, runs, { counts }, skew, strips, action, policy] = await Promise.all([
    jobsWithNextRuns(env, recent, stats),
    listRuns(env.DB, filter),
    stats,
    stateValue(env.DB, "skew"),
    recent,
    actionToken(env.ADMIN_TOKEN),
    dashboardPolicy(),
  ]);
  const job = url.searchParams.get("schedules");
  let schedules;
  if (job) {
    const page = await (await listRoute(env, job, new URL(`/?cursor=${encodeURIComponent(url.searchParams.get("after") ?? "")}`, url))).json<{ schedules: []; next_cursor: string | null }>();
    schedules = { job, rows: page.schedules, next_cursor: page.next_cursor };
  }
  const html = renderDashboard({
    mode: env.JOBS.mode,
    jobs,
    runs,
    schedules,
    counts,
    now: Date.now(),
    strips: Object.fromEntries(strips),
    skew: readSkew(skew, env.JOBS.catalog_hash),
    filter,
    statuses: STATUSES,
    action,
  });
  return new Response(html, { headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": policy, "x-frame-options": "DENY" } });
}
