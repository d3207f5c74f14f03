/** The tick's own dispatch: batches signed for /dispatch/batch, each run's answer its own, and
 * only what failed on the queue, with the attempt it already had. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BATCH_RUNS, MAX_POSTS } from "../src/direct";
import { signedPath, verify } from "../src/signing";
import { job } from "./bindings";
import { allRuns, batchRuns, type FetchCall, recordingEnv, stubFetch, tick } from "./helpers";

const every = (n: number) => Array.from({ length: n }, (_, i) => job(`job-${String(i).padStart(4, "0")}`, "* * * * *"));
const runsOf = (c: FetchCall) => batchRuns(c.body).flat();
const status = async () => Object.fromEntries((await allRuns()).map((r) => [r.job, [r.status, r.attempts, r.last_error]]));
/** The dispatcher's answer to a batch, with `code` for each run. */
const answer = (c: FetchCall, code: (id: string) => number) =>
  Response.json({
    minutes: batchRuns(c.body).map((runs) => ({
      codes: runs.map((r) => code(r.execution_id)),
      statuses: runs.map(() => "spawned"),
      call_ids: runs.map(() => "fc"),
      errors: runs.map(() => "nope"),
    })),
  });

describe("the tick dispatches directly", () => {
  it("POSTs each minute's runs in signed batches of up to 500, attempt 1, with the callback", async () => {
    const { env: e } = recordingEnv({ jobs: every(BATCH_RUNS + 50) });
    const calls = stubFetch((c) => answer(c, () => 202), { batches: "answer" });
    await tick(e, "2026-11-23T09:00:00Z");
    expect(calls.map((c) => runsOf(c).length)).toEqual([BATCH_RUNS, 50]);
    expect(JSON.parse(calls[0]!.body).minutes[0]).toMatchObject({ suffix: "@2026-11-23T09:00Z", scheduled_time: "2026-11-23T09:00:00.000Z", trigger: "cron", attempt: 1 });
    for (const c of calls) {
      expect(c.url).toBe("https://dispatch.test/dispatch/batch");
      expect(await verify([env.SIGNING_KEY], "dispatch", "POST", signedPath(c.url), new Headers(c.init.headers as HeadersInit), c.body)).toBe(true);
    }
    expect(runsOf(calls[0]!)[0]).toMatchObject({ execution_id: "job-0000@2026-11-23T09:00Z", attempt: 1, callback_url: "https://cronflare.test/runs/job-0000%402026-11-23T09%3A00Z" });
    expect(Object.values(await status()).every(([s, a]) => s === "dispatched" && a === 1)).toBe(true);
  });

  it("fails a run its own 4xx refused, queues one its own 5xx or 429 refused, and dispatches the rest", async () => {
    const { env: e, sent } = recordingEnv({ jobs: every(4) });
    const codes: Record<string, number> = { "job-0001": 404, "job-0002": 503, "job-0003": 429 };
    stubFetch((c) => answer(c, (id) => codes[id.split("@")[0]!] ?? 202), { batches: "answer" });
    await tick(e, "2026-11-23T09:00:00Z");
    const s = await status();
    expect(s["job-0000"]![0]).toBe("dispatched");
    expect(s["job-0001"]).toEqual(["failed", 1, "dispatcher answered 404: nope"]);
    expect(s["job-0002"]!.slice(0, 2)).toEqual(["queued", 1]);
    expect(s["job-0003"]![2]).toContain("429");
    expect(sent.map((m) => [m.job, m.attempts_before])).toEqual([["job-0002", 1], ["job-0003", 1]]);
  });

  it("queues the whole batch on a 5xx, a network error or an answer without a word on a run", async () => {
    for (const fail of [() => new Response("down", { status: 502 }), () => Promise.reject(new TypeError("connection refused")), () => Response.json({ minutes: [] })]) {
      await env.DB.prepare("DELETE FROM runs").run();
      const { env: e, sent } = recordingEnv({ jobs: every(3) });
      stubFetch(fail, { batches: "answer" });
      await tick(e, "2026-11-23T09:00:00Z");
      expect(sent.map((m) => m.attempts_before)).toEqual([1, 1, 1]);
      expect(Object.values(await status()).every(([s]) => s === "queued")).toBe(true);
    }
  });

  it("fails the whole batch on a final 4xx, such as a 401", async () => {
    const { env: e, sent } = recordingEnv({ jobs: every(2) });
    stubFetch(() => Response.json({ error: "bad signature" }, { status: 401 }), { batches: "answer" });
    await tick(e, "2026-11-23T09:00:00Z");
    expect(sent).toEqual([]);
    expect(Object.values(await status()).every(([s, , err]) => s === "failed" && String(err).startsWith("dispatcher answered 401"))).toBe(true);
  });

  it(`sends what is past ${MAX_POSTS} POSTs through the queue: the free plan's 50 subrequests`, { timeout: 60_000 }, async () => {
    const n = (MAX_POSTS + 1) * BATCH_RUNS;
    const { env: e, sent } = recordingEnv({ jobs: every(n) });
    const calls = stubFetch((c) => answer(c, () => 202), { batches: "answer" });
    await tick(e, "2026-11-23T09:00:00Z");
    expect(calls.length).toBe(MAX_POSTS);
    expect(sent.length).toBe(BATCH_RUNS);
    const { n: dispatched } = (await env.DB.prepare("SELECT COUNT(*) AS n FROM runs WHERE status = 'dispatched'").first<{ n: number }>())!;
    expect(dispatched).toBe(MAX_POSTS * BATCH_RUNS);
  });
});

describe("D1 is the outbox", () => {
  it("a tick that died after its insert leaves queued runs that the next tick dispatches once", async () => {
    const { env: e } = recordingEnv({ jobs: every(3) });
    await tick(e, "2026-11-23T08:59:00Z");
    const dying = { ...e, WORKER_FAULTS: JSON.stringify({ die: "after-insert", at: "2026-11-23T09:00:00.000Z" }) };
    await expect(tick(dying, "2026-11-23T09:00:00Z")).rejects.toThrow(/died after its insert/);
    expect((await allRuns()).filter((r) => r.scheduled_time.startsWith("2026-11-23T09:00")).map((r) => r.status)).toEqual(["queued", "queued", "queued"]);
    const calls = stubFetch((c) => answer(c, () => 202), { batches: "answer" });
    await tick(dying, "2026-11-23T09:01:00Z");
    const sentIds = calls.flatMap(runsOf).map((r) => r.execution_id);
    expect(sentIds.filter((id) => id.endsWith("09:00Z")).length).toBe(3);
    expect(sentIds.filter((id) => id.endsWith("09:01Z")).length).toBe(3);
    expect((await allRuns()).every((r) => r.status === "dispatched")).toBe(true);
  });

  it("the very first tick of a stack that dies is caught up by the next", async () => {
    const { env: e } = recordingEnv({ jobs: every(1) });
    const dying = { ...e, WORKER_FAULTS: JSON.stringify({ die: "after-insert", at: "2026-11-23T09:00:00.000Z" }) };
    await expect(tick(dying, "2026-11-23T09:00:00Z")).rejects.toThrow();
    await tick(dying, "2026-11-23T09:01:00Z");
    expect((await allRuns()).map((r) => [r.execution_id, r.status])).toEqual([
      ["job-0000@2026-11-23T09:00Z", "dispatched"],
      ["job-0000@2026-11-23T09:01Z", "dispatched"],
    ]);
  });
});
