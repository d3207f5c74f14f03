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

export async function seedRun(id: string, status = "queued", extra: Partial<RunRow> = {}) {
  const [job, when] = id.split("@");
  const now = new Date().toISOString();
  await env.DB.prepare(
    "INSERT INTO runs (execution_id, job, scheduled_time, trigger, status, attempts, created_at, updated_at, last_error, args, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10)",
  )
    .bind(id, job, extra.scheduled_time ?? `${when}:00.000Z`.replace("Z:00.000Z", ":00.000Z"), extra.trigger ?? "cron", status, extra.attempts ?? 0, now, extra.last_error ?? null, extra.args ?? null, extra.result ?? null)
    .run();
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
