/** Shared test helpers: an env whose queue records messages, ticks, fetch stubs, run queries. */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import worker from "../src/index";
import { RUN } from "../src/runs";
import type { Bindings, Env, JobMessage, JobsConfig, RunRow, Trigger } from "../src/types";
import { JOBS, withJobs } from "./bindings";
import { signedHeaders, signedPath, verify } from "../src/signing";

export { worker };

/** A Request typed as one the Worker receives from the edge. */
export type IncomingRequest = Request<unknown, IncomingRequestCfProperties>;

/** The test env with a queue that records what is sent instead of delivering it, and a JOBS
 * binding (the test plan with `config` over it) that overrides the plan module. */
export function recordingEnv(config: Partial<JobsConfig> = {}, extra: Partial<Env> = {}) {
  const sent: JobMessage[] = [];
  const queue = {
    send: async (body: JobMessage) => void sent.push(body),
    sendBatch: async (batch: Iterable<MessageSendRequest<JobMessage>>) => {
      for (const m of batch) sent.push(m.body);
    },
  } as unknown as Queue<JobMessage>;
  // Jobs without groups get the groups the plan would carry for them.
  const base = config.jobs && !("groups" in config) ? withJobs(JOBS, config.jobs) : JOBS;
  const testEnv: Env = { ...env, JOBS: { ...base, ...config }, JOBS_QUEUE: queue, ...extra };
  // A fetch stub installed before keeps its answers; its batches are accepted into this `sent`.
  if (vi.isMockFunction(globalThis.fetch)) spawnedInto = sent;
  else acceptingDispatcher(sent);
  return { env: testEnv, sent };
}

/** Where the accepting dispatcher records what it spawned: the `sent` of the last recordingEnv. */
let spawnedInto: JobMessage[] = [];
let spawned = 0;

/** The dispatcher's answer to a batch when it spawns every run, recording each as the message it
 * would have queued: `sent` holds what the tick started, by either path. */
function acceptBatch(body: string): Response {
  return Response.json({
    minutes: batchRuns(body).map((runs) => {
      for (const { execution_id, job, scheduled_time, trigger } of runs) spawnedInto.push({ execution_id, job, scheduled_time, trigger });
      return { codes: runs.map(() => 202), statuses: runs.map(() => "spawned"), call_ids: runs.map(() => `fc-${++spawned}`), errors: runs.map(() => null) };
    }),
  });
}

/** A batch the tick POSTs, run by run, by minute: each as a lone POST /dispatch would carry it. */
export type BatchRun = JobMessage & { attempt: number; callback_url: string; args?: unknown };
export function batchRuns(body: string): BatchRun[][] {
  const { callback, minutes } = JSON.parse(body) as { callback: string; minutes: { suffix: string; scheduled_time: string; trigger: Trigger; attempt: number; jobs: string[]; args?: Record<string, unknown> }[] };
  return minutes.map((m) =>
    // An entry is a run's id prefix: its job, or `<job>@<schedule id>` for a runtime schedule's.
    m.jobs.map((prefix) => ({
      execution_id: prefix + m.suffix,
      job: prefix.split("@")[0]!,
      scheduled_time: m.scheduled_time,
      trigger: m.trigger,
      attempt: m.attempt,
      callback_url: callback + encodeURIComponent(prefix + m.suffix),
      ...(m.args && prefix in m.args ? { args: m.args[prefix] } : {}),
    })),
  );
}

/** A dispatcher (fetch stub) that spawns every run of each batch the tick POSTs; the calls. */
export function acceptingDispatcher(sent: JobMessage[] = spawnedInto) {
  spawnedInto = sent;
  return stubFetch(({ url, body }) => (url.endsWith("/batch") ? acceptBatch(body) : new Response("not found", { status: 404 })), { batches: "answer" });
}

/** Fire scheduled() for a minute, as Cloudflare would. */
export async function tick(testEnv: Bindings, at: string, cron = "* * * * *") {
  const controller = createScheduledController({ scheduledTime: new Date(at), cron });
  const ctx = createExecutionContext();
  await worker.scheduled!(controller, testEnv, ctx);
  await waitOnExecutionContext(ctx);
}

export async function allRuns(): Promise<RunRow[]> {
  const { results } = await env.DB.prepare(`SELECT ${RUN} FROM runs ORDER BY scheduled_ms, execution_id`).all<RunRow>();
  return results;
}

/** A run in the log as the Worker leaves it: inserted queued and counted created, then moved to
 * `status` by an UPDATE, as the Worker does (so the counters and the alert outbox see it end). */
export async function seedRun(id: string, status = "queued", extra: Partial<RunRow> = {}) {
  const when = id.split("@")[1]!;
  const at = Date.parse(extra.scheduled_time ?? `${when}:00.000Z`.replace("Z:00.000Z", ":00.000Z"));
  await env.DB.prepare(
    "INSERT INTO runs (execution_id, scheduled_ms, trigger, status, attempts, updated_after, last_error, args, result) VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, ?8)",
  )
    .bind(id, at, extra.trigger ?? "cron", extra.attempts ?? 0, Date.now() - at, extra.last_error ?? null, extra.args ?? null, extra.result ?? null)
    .run();
  await env.DB.prepare("INSERT INTO counters (name, n) VALUES ('runs:created', 1) ON CONFLICT (name) DO UPDATE SET n = n + 1").run();
  if (status !== "queued") await env.DB.prepare("UPDATE runs SET status = ?2 WHERE execution_id = ?1").bind(id, status).run();
}

export type FetchCall = { url: string; init: RequestInit; body: string };

/** Replace fetch with `answer`, recording every call. The tick's batch POSTs go to the accepting
 * dispatcher, unrecorded, unless `batches: "answer"` hands them to `answer` too. */
export function stubFetch(answer: (call: FetchCall) => Response | Promise<Response>, opts: { batches?: "accept" | "answer" } = {}) {
  const calls: FetchCall[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init);
    const call = { url: req.url, init: init ?? {}, body: await req.text() };
    if (opts.batches !== "answer" && call.url.endsWith("/dispatch/batch")) return acceptBatch(call.body);
    calls.push(call);
    return answer(call);
  });
  return calls;
}

export const BEARER = { authorization: `Bearer ${env.ADMIN_TOKEN}` };

/** A request to the Worker's fetch(); the body parsed when it is JSON. */
export async function call(path: string, init: RequestInit = {}, e: Bindings = env) {
  const res = await worker.fetch!(new Request(`https://cronflare.test${path}`, init) as IncomingRequest, e, createExecutionContext());
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // HTML or plain text
  }
  return { status: res.status, body, headers: res.headers };
}

/** One query the Worker ran and the rows D1 says it read and wrote. */
export interface Read {
  sql: string;
  rows_read: number;
  rows_written: number;
}

/** env.DB as the Worker uses it, but keeping every query's meta.rows_read. D1's first() and raw()
 * hand back no meta, so here they go through all() (raw() loses duplicate column names). */
export function countingD1(db: D1Database): { db: D1Database; reads: Read[] } {
  const reads: Read[] = [];
  const keep = <R extends D1Result>(sql: string, res: R): R => {
    reads.push({ sql, rows_read: res.meta.rows_read, rows_written: res.meta.rows_written });
    return res;
  };
  class Statement {
    constructor(
      readonly inner: D1PreparedStatement,
      readonly sql: string,
    ) {}
    bind(...values: unknown[]) {
      return new Statement(this.inner.bind(...values), this.sql);
    }
    async run<T>() {
      return keep(this.sql, await this.inner.run<T>());
    }
    async all<T>() {
      return keep(this.sql, await this.inner.all<T>());
    }
    async first(column?: string) {
      const row = (await this.all<Record<string, unknown>>()).results[0] ?? null;
      if (column === undefined || row === null) return row;
      if (!(column in row)) throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${column})`);
      return row[column];
    }
    async raw(options?: { columnNames?: boolean }) {
      const { results } = await this.all<Record<string, unknown>>();
      const rows = results.map((r) => Object.values(r));
      return options?.columnNames ? [Object.keys(results[0] ?? {}), ...rows] : rows;
    }
  }
  const ours = (s: D1PreparedStatement) => {
    if (s instanceof Statement) return s;
    throw new Error("batch() was given a statement the counting D1 did not prepare");
  };
  const over = (inner: D1Database | D1DatabaseSession) => ({
    prepare: (sql: string) => new Statement(inner.prepare(sql), sql),
    batch: async <T>(statements: D1PreparedStatement[]) => {
      const wrapped = statements.map(ours);
      const results = await inner.batch<T>(wrapped.map((s) => s.inner));
      return results.map((r, i) => keep(wrapped[i]!.sql, r));
    },
  });
  const counting = {
    ...over(db),
    withSession: (constraint?: string) => {
      const session = db.withSession(constraint);
      return { ...over(session), getBookmark: () => session.getBookmark() };
    },
    // exec() reports no rows read: NaN makes the sum, and so the assertion, say it was not counted.
    exec: async (sql: string) => {
      const res = await db.exec(sql);
      reads.push({ sql, rows_read: Number.NaN, rows_written: Number.NaN });
      return res;
    },
    dump: () => db.dump(),
  };
  return { db: counting as unknown as D1Database, reads };
}


/** Every row of every table the Worker writes, as text: a refused request must leave it equal. */
export async function dbSnapshot(): Promise<string> {
  const { results: tables } = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations' ORDER BY name",
  ).all<{ name: string }>();
  const dump: Record<string, unknown[]> = {};
  for (const { name } of tables) dump[name] = (await env.DB.prepare(`SELECT * FROM "${name}" ORDER BY 1`).all()).results;
  return JSON.stringify(dump);
}

/** POST a signed report (the job wrapper's) for run `id`, signed as `key` would sign it. */
export async function report(id: string, payload: unknown, key = env.SIGNING_KEY, now = Date.now(), e: Bindings = env) {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const url = `https://cronflare.test/runs/${encodeURIComponent(id)}`;
  return call(`/runs/${encodeURIComponent(id)}`, { method: "POST", headers: await signedHeaders(key, "report", "POST", url, body, now), body }, e);
}

/** Whether a recorded fetch was a dispatch signed for the dispatcher's URL with the stack's key. */
export async function signedDispatch(c: FetchCall): Promise<boolean> {
  return verify([env.SIGNING_KEY], "dispatch", "POST", signedPath(c.url), new Headers(c.init.headers as HeadersInit), c.body);
}
