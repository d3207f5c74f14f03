/** Shared test helpers: an env whose queue records messages, ticks, fetch stubs, run queries. */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import worker from "../src/index";
import type { Bindings, Env, JobMessage, JobsConfig, RunRow } from "../src/types";
import { JOBS, withJobs } from "./bindings";

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
  return { env: testEnv, sent };
}

/** Fire scheduled() for a minute, as Cloudflare would. */
export async function tick(testEnv: Bindings, at: string, cron = "* * * * *") {
  const controller = createScheduledController({ scheduledTime: new Date(at), cron });
  const ctx = createExecutionContext();
  await worker.scheduled!(controller, testEnv, ctx);
  await waitOnExecutionContext(ctx);
}

export async function allRuns(): Promise<RunRow[]> {
  const { results } = await env.DB.prepare("SELECT * FROM runs ORDER BY scheduled_time, execution_id").all<RunRow>();
  return results;
}

/** A run in the log as the Worker leaves it: inserted queued, then moved to `status` by an
 * UPDATE, as the Worker does (so the counters and the alert outbox see it end). */
export async function seedRun(id: string, status = "queued", extra: Partial<RunRow> = {}) {
  const [job, when] = id.split("@");
  const now = new Date().toISOString();
  await env.DB.prepare(
    "INSERT INTO runs (execution_id, job, scheduled_time, trigger, status, attempts, created_at, updated_at, last_error, args, result) VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?6, ?7, ?8, ?9)",
  )
    .bind(id, job, extra.scheduled_time ?? `${when}:00.000Z`.replace("Z:00.000Z", ":00.000Z"), extra.trigger ?? "cron", extra.attempts ?? 0, now, extra.last_error ?? null, extra.args ?? null, extra.result ?? null)
    .run();
  if (status !== "queued") await env.DB.prepare("UPDATE runs SET status = ?2 WHERE execution_id = ?1").bind(id, status).run();
}

export type FetchCall = { url: string; init: RequestInit; body: string };

/** Replace fetch with `answer`, recording every call. */
export function stubFetch(answer: (call: FetchCall) => Response | Promise<Response>) {
  const calls: FetchCall[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init);
    const call = { url: req.url, init: init ?? {}, body: await req.text() };
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

