import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { backoffSeconds } from "../src/dispatch";
import type { JobMessage } from "../src/types";
import { JOBS } from "./bindings";
import { allRuns, seedRun, signedDispatch, stubFetch, worker } from "./helpers";

const ID = "hourly@2026-11-23T09:00Z";
const message = (id = ID, attempts = 1, body?: unknown) => ({
  id: `m-${id}-${attempts}`,
  timestamp: new Date(),
  attempts,
  body: (body ?? { execution_id: id, job: id.split("@")[0], scheduled_time: "2026-11-23T09:00:00.000Z", trigger: "cron" }) as JobMessage,
});

/** Deliver a batch; getQueueResult does not report retry delays, so they are recorded here. */
async function deliver(queue: string, messages: ReturnType<typeof message>[]) {
  const batch = createMessageBatch<JobMessage>(queue, messages);
  const delays: (number | undefined)[] = [];
  for (const m of batch.messages) {
    const retry = m.retry.bind(m);
    m.retry = (options?: QueueRetryOptions) => {
      delays.push(options?.delaySeconds);
      retry(options);
    };
  }
  const ctx = createExecutionContext();
  await worker.queue!(batch, env, ctx);
  return { ...(await getQueueResult(batch, ctx)), delays };
}
const main = (...m: ReturnType<typeof message>[]) => deliver(JOBS.queues.jobs, m);
const dlq = (...m: ReturnType<typeof message>[]) => deliver(JOBS.queues.dead_letter, m);
const run = async (id = ID) => (await allRuns()).find((r) => r.execution_id === id)!;

describe("queue(): dispatch", () => {
  it("POSTs the §5 body, signed, and marks the run dispatched with the call id on 2xx", async () => {
    await seedRun(ID);
    const calls = stubFetch(() => Response.json({ execution_id: ID, call_id: "fc-42", status: "spawned" }, { status: 202 }));
    const result = await main(message(ID, 1));
    expect(result.explicitAcks).toEqual([`m-${ID}-1`]);
    expect(result.retryMessages).toEqual([]);
    expect(calls[0]!.url).toBe(env.DISPATCH_URL);
    expect(JSON.parse(calls[0]!.body)).toEqual({
      execution_id: ID,
      job: "hourly",
      scheduled_time: "2026-11-23T09:00:00.000Z",
      trigger: "cron",
      attempt: 1,
      callback_url: "https://cronflare.test/runs/hourly%4009%3A00Z".replace("hourly%4009%3A00Z", encodeURIComponent(ID)),
    });
    expect(await signedDispatch(calls[0]!)).toBe(true);
    expect(await run()).toMatchObject({ status: "dispatched", call_id: "fc-42", attempts: 1 });
  });

  it("keeps a later attempt when a timed-out earlier one is noted after it (an overlapping delivery)", async () => {
    await seedRun(ID);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    stubFetch(async (call) => {
      // Attempt 3 hangs until attempt 4 has been dispatched, then times out.
      if (JSON.parse(call.body).attempt === 3) await gate.then(() => Promise.reject(new DOMException("timed out", "TimeoutError")));
      return Response.json({ call_id: "fc-4", status: "spawned" }, { status: 202 });
    });
    const slow = main(message(ID, 2, { execution_id: ID, job: "hourly", scheduled_time: "2026-11-23T09:00:00.000Z", trigger: "cron", attempts_before: 1 }));
    await main(message(ID, 3, { execution_id: ID, job: "hourly", scheduled_time: "2026-11-23T09:00:00.000Z", trigger: "cron", attempts_before: 1 }));
    expect(await run()).toMatchObject({ status: "dispatched", call_id: "fc-4", attempts: 4 });
    release();
    await slow;
    expect(await run()).toMatchObject({ status: "dispatched", call_id: "fc-4", attempts: 4, last_error: null });
  });

  it("adds the run's args to the body exactly when the run has args", async () => {
    const other = "every-5@2026-11-23T09:00Z";
    await seedRun(ID, "queued", { args: '{"region":"eu","n":[1,2],"deep":{"x":null}}' });
    await seedRun(other);
    const calls = stubFetch(() => Response.json({ call_id: "fc", status: "spawned" }, { status: 202 }));
    await main(message(ID, 1), message(other, 1));
    const bodies = Object.fromEntries(calls.map((c) => [JSON.parse(c.body).execution_id, c]));
    const withArgs = bodies[ID]!;
    expect(JSON.parse(withArgs.body)).toMatchObject({ execution_id: ID, attempt: 1, args: { region: "eu", n: [1, 2], deep: { x: null } } });
    expect(await signedDispatch(withArgs)).toBe(true);
    expect(Object.keys(JSON.parse(bodies[other]!.body))).toEqual(["execution_id", "job", "scheduled_time", "trigger", "attempt", "callback_url"]);
  });

  it.each([
    ["a 5xx", () => new Response("boom", { status: 503 })],
    ["a 429", () => new Response("slow down", { status: 429 })],
    ["a network error", () => Promise.reject(new TypeError("connection refused"))],
    ["a timeout", () => new Promise<Response>((_, reject) => setTimeout(() => reject(new DOMException("timed out", "TimeoutError")), 10))],
  ])("retries %s with backoff, keeping the run queued with the reason", async (_, answer) => {
    await seedRun(ID);
    stubFetch(answer as () => Promise<Response>);
    const result = await main(message(ID, 3));
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.length).toBe(1);
    const delay = result.delays[0]!;
    expect(delay).toBeGreaterThanOrEqual(4);
    expect(delay).toBeLessThanOrEqual(8);
    expect(await run()).toMatchObject({ status: "queued", attempts: 3 });
    expect((await run()).last_error).toMatch(/^dispatch attempt 3|^dispatcher answered (503|429)/);
  });

  it("honours Retry-After on a 429", async () => {
    await seedRun(ID);
    stubFetch(() => new Response("", { status: 429, headers: { "retry-after": "42" } }));
    const result = await main(message(ID, 1));
    expect(result.delays).toEqual([42]);
  });

  it("marks a final 4xx failed with the reason, and acks without retry", async () => {
    await seedRun(ID);
    const calls = stubFetch(() => Response.json({ detail: "unknown job" }, { status: 404 }));
    const result = await main(message(ID, 1));
    expect(result.explicitAcks.length).toBe(1);
    expect(result.retryMessages).toEqual([]);
    expect(calls.length).toBe(1);
    expect(await run()).toMatchObject({ status: "failed", last_error: 'dispatcher answered 404: {"detail":"unknown job"}' });
  });

  it("keeps the call id when the job's report arrived before the dispatch answer", async () => {
    await seedRun(ID, "succeeded");
    stubFetch(() => Response.json({ execution_id: ID, call_id: "fc-7", status: "spawned" }, { status: 202 }));
    await env.DB.prepare("UPDATE runs SET status = 'queued' WHERE execution_id = ?").bind(ID).run();
    const early = env.DB.prepare("UPDATE runs SET status = 'succeeded' WHERE execution_id = ?").bind(ID);
    const realFetch = globalThis.fetch;
    globalThis.fetch = (async (...args: Parameters<typeof fetch>) => {
      await early.run(); // the report lands while the dispatch answer is on its way
      return realFetch(...args);
    }) as typeof fetch;
    try {
      await main(message(ID, 2));
    } finally {
      globalThis.fetch = realFetch;
    }
    expect(await run()).toMatchObject({ status: "succeeded", call_id: "fc-7", attempts: 2 });
  });

  it("records a dispatcher skip (concurrency forbid) as skipped", async () => {
    await seedRun(ID);
    stubFetch(() => Response.json({ execution_id: ID, call_id: null, status: "skipped" }, { status: 202 }));
    await main(message(ID, 1));
    expect((await run()).status).toBe("skipped");
  });

  it("does not POST a message delivered twice", async () => {
    await seedRun(ID, "dispatched");
    const calls = stubFetch(() => new Response("should not be called", { status: 500 }));
    const result = await main(message(ID, 2));
    expect(calls.length).toBe(0);
    expect(result.explicitAcks.length).toBe(1);
  });

  it("keeps one bad message from failing the others in its batch", async () => {
    const ok = "every-5@2026-11-23T09:00Z";
    const bad = "hourly@2026-11-23T10:00Z";
    await seedRun(ok);
    await seedRun(bad);
    stubFetch((call) =>
      JSON.parse(call.body).execution_id === bad ? new Response("no", { status: 500 }) : Response.json({ call_id: "fc-ok", status: "spawned" }),
    );
    const result = await main(message(ok), message(bad), message("x", 1, { not: "a run" }));
    expect(result.explicitAcks).toEqual([`m-${ok}-1`]);
    expect(result.retryMessages.map((m) => m.msgId).sort()).toEqual([`m-${bad}-1`, "m-x-1"]);
    expect((await run(ok)).status).toBe("dispatched");
  });

  it("retries, never acks, a message whose handling throws", async () => {
    await seedRun(ID);
    stubFetch(() => Response.json({ call_id: "fc", status: "spawned" }));
    const broken = { ...env, DB: { prepare: () => { throw new Error("D1 down"); } } as unknown as D1Database };
    const batch = createMessageBatch<JobMessage>(JOBS.queues.jobs, [message(ID, 1)]);
    const ctx = createExecutionContext();
    await worker.queue!(batch, broken, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.length).toBe(1);
  });
});

describe("queue(): dead letters", () => {
  it("marks the run dead, posts the alert, and acks", async () => {
    await seedRun(ID, "queued", { attempts: 3, last_error: "dispatcher answered 503: boom" });
    const calls = stubFetch(() => new Response("ok"));
    const result = await dlq(message(ID, 1));
    expect(result.explicitAcks.length).toBe(1);
    const dead = await run();
    expect(dead.status).toBe("dead");
    expect(dead.last_error).toBe("dead-lettered after 3 attempts; last error: dispatcher answered 503: boom");
    expect(calls.map((c) => c.url)).toEqual(["https://alerts.test/hook"]);
    expect(JSON.parse(calls[0]!.body)).toMatchObject({ event: "run.dead", execution_id: ID });
  });

  it("still marks the run dead when the alert webhook is down", async () => {
    await seedRun(ID);
    stubFetch(() => Promise.reject(new TypeError("webhook unreachable")));
    await dlq(message(ID, 1));
    expect((await run()).status).toBe("dead");
  });

  it("leaves a run that already ended alone", async () => {
    await seedRun(ID, "succeeded");
    stubFetch(() => new Response("ok"));
    await dlq(message(ID, 1));
    expect((await run()).status).toBe("succeeded");
  });
});

describe("backoff", () => {
  it("grows exponentially with jitter and is capped", () => {
    expect([1, 2, 3, 4].map((a) => backoffSeconds(a, 300, () => 1))).toEqual([2, 4, 8, 16]);
    expect([1, 2, 3, 4].map((a) => backoffSeconds(a, 300, () => 0))).toEqual([1, 2, 4, 8]);
    expect(backoffSeconds(30, 300, () => 1)).toBe(300);
  });
});
