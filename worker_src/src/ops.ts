/** Operating a live stack without a deploy: pause, resume and backfill a job (docs/OPERATIONS.md). */
import { DAY } from "./cron";
import { upcoming } from "./due";
import { HttpError, json, onlyFields, parseObject, readBody } from "./http";
import { insertRuns, iso, type NewRuns, pausedJobs, setPaused } from "./runs";
import { enqueue } from "./dispatch";
import { executionId, pausedError } from "./tick";
import type { Env, JobSpec } from "./types";

/** The most runs one backfill may enqueue. */
export const MAX_BACKFILL = 1000;
const MAX_REASON = 500;

/** The job of a route, or 404. */
export function jobNamed(env: Env, name: string): JobSpec {
  const job = env.JOBS.jobs.find((j) => j.name === name);
  if (!job) throw new HttpError(404, `no such job: ${name}`);
  return job;
}

/** 409 when the job is paused: manual runs, replays and backfills wait for a resume. */
export async function refuseIfPaused(env: Env, name: string): Promise<void> {
  const pause = (await pausedJobs(env.DB)).get(name);
  if (pause) throw new HttpError(409, `job ${name} is ${pausedError(pause)} (since ${pause.since}); resume it first`);
}

/** POST /jobs/<name>/pause, with an optional {"reason": "..."}: 200 whether or not it was paused. */
export async function pause(req: Request, env: Env, name: string): Promise<Response> {
  jobNamed(env, name);
  const text = await readBody(req);
  const body = text.trim() ? parseObject(text) : {};
  onlyFields(body, "reason");
  const reason = body.reason ?? null;
  if (reason !== null && typeof reason !== "string") throw new HttpError(422, "reason must be a string");
  if (reason !== null && reason.length > MAX_REASON) throw new HttpError(422, `reason is over ${MAX_REASON} characters`);
  const changed = await setPaused(env.DB, name, true, reason?.trim() || null);
  const now = (await pausedJobs(env.DB)).get(name);
  return json({ job: name, paused: true, reason: now?.reason ?? null, since: now?.since ?? null, changed });
}

/** POST /jobs/<name>/resume: 200 whether or not it was paused. */
export async function resume(env: Env, name: string): Promise<Response> {
  jobNamed(env, name);
  return json({ job: name, paused: false, changed: await setPaused(env.DB, name, false, null) });
}

/** POST /jobs/<name>/backfill {"from": ISO, "to": ISO}: enqueue every scheduled minute of the job
 * in [from, to) that has no run yet, under its usual execution id, with trigger `backfill`. */
export async function backfill(req: Request, env: Env, name: string): Promise<Response> {
  const job = jobNamed(env, name);
  const body = parseObject(await readBody(req));
  onlyFields(body, "from", "to");
  const from = instant(body.from, "from");
  const to = instant(body.to, "to");
  if (from >= to) throw new HttpError(422, "from must be before to");
  if (to > Date.now()) throw new HttpError(422, `to (${iso(to)}) is in the future; a backfill only reruns the past`);
  // Older runs would be pruned as soon as they ended, and a second backfill would run them again.
  const days = env.JOBS.run_retention_days;
  const oldest = Date.now() - days * DAY;
  if (from < oldest) throw new HttpError(422, `from (${iso(from)}) is before the run log's retention of ${days} days (${iso(oldest)})`);
  if (!job.enabled) throw new HttpError(409, `job ${name} is disabled in the plan`);
  await refuseIfPaused(env, name);
  const due = upcoming(env.JOBS, job, from - 1, MAX_BACKFILL + 1).filter((t) => t < to);
  if (due.length > MAX_BACKFILL) {
    throw new HttpError(422, `the window holds more than ${MAX_BACKFILL} runs of ${name}; backfill it in smaller windows`);
  }
  const entry = job.args ? ([name, JSON.stringify(job.args)] as [string, string]) : name;
  const sets: NewRuns[] = due.map((t) => ({ suffix: executionId("", t), scheduled_time: iso(t), trigger: "backfill", status: "queued", jobs: [entry] }));
  const created = await insertRuns(env.DB, sets);
  await enqueue(env, created);
  const ids = due.map((t) => executionId(name, t));
  return json({ enqueued: created.length, existing: ids.length - created.length, ids });
}

/** A body field that must be an ISO 8601 time, as epoch ms. */
function instant(value: unknown, key: string): number {
  const t = typeof value === "string" ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(t)) throw new HttpError(422, `${key} must be an ISO 8601 time, such as 2026-11-23T00:00:00Z`);
  return t;
}
