import { describe, expect, it, vi } from "vitest";
import { env } from "cloudflare:workers";
import type { JobsConfig } from "../src/types";
import { jitterOffset } from "../src/cron";
import { upcoming } from "../src/due";
import { forgetSpans } from "../src/zone";
import { JOBS, job, withJobs } from "./bindings";
import { acceptingDispatcher, allRuns, batchRuns, recordingEnv, stubFetch, tick } from "./helpers";

describe("scheduled(), tick mode", () => {
  it("records and dispatches every enabled job due this minute, with deterministic ids", async () => {
    const { env: e, sent } = recordingEnv();
    await tick(e, "2026-11-23T09:00:00Z");
    const ids = sent.map((m) => m.execution_id).sort();
    expect(ids).toEqual(["every-5@2026-11-23T09:00Z", "hourly@2026-11-23T09:00Z", "weekly-report@2026-11-23T09:00Z"]);
    expect(sent.every((m) => m.trigger === "cron" && m.scheduled_time === "2026-11-23T09:00:00.000Z")).toBe(true);
    const runs = await allRuns();
    expect(runs.map((r) => [r.execution_id, r.status, r.trigger, r.attempts])).toEqual(ids.map((id) => [id, "dispatched", "cron", 1]));
  });

  it("reads Unix weekdays: 1 is Monday, so Sunday 09:00 runs no weekly report", async () => {
    const { env: e, sent } = recordingEnv();
    await tick(e, "2026-11-22T09:00:00Z");
    expect(sent.map((m) => m.job)).not.toContain("weekly-report");
  });

  it("enqueues nothing new when the same minute fires twice", async () => {
    const { env: e, sent } = recordingEnv();
    await tick(e, "2026-11-23T09:00:00Z");
    await tick(e, "2026-11-23T09:00:00Z");
    await tick(e, "2026-11-23T09:00:30Z"); // late duplicate inside the same minute
    expect(sent.length).toBe(3);
    expect((await allRuns()).length).toBe(3);
  });

  it("catches up across a 10-minute gap with trigger catchup", async () => {
    const { env: e, sent } = recordingEnv();
    await tick(e, "2026-11-23T08:50:00Z");
    sent.length = 0;
    await tick(e, "2026-11-23T09:01:00Z"); // 08:51-09:00 were missed
    expect(sent.map((m) => `${m.execution_id} ${m.trigger}`).sort()).toEqual([
      "every-5@2026-11-23T08:55Z catchup",
      "every-5@2026-11-23T09:00Z catchup",
      "hourly@2026-11-23T09:00Z catchup",
      "weekly-report@2026-11-23T09:00Z catchup",
    ]);
  });

  it("records runs older than the catch-up window as skipped, and does not enqueue them", async () => {
    const { env: e, sent } = recordingEnv({ catchup_window_minutes: 10 });
    await tick(e, "2026-11-23T08:00:00Z");
    sent.length = 0;
    await tick(e, "2026-11-23T08:30:00Z");
    const runs = await allRuns();
    const late = runs.filter((r) => r.scheduled_time < "2026-11-23T08:20:00.000Z" && r.scheduled_time > "2026-11-23T08:00:00.000Z");
    expect(late.map((r) => r.status)).toEqual(["skipped", "skipped", "skipped"]); // 08:05, 08:10, 08:15
    expect(late[0]!.last_error).toContain("catch-up window");
    expect(late[0]!.finished_at).not.toBeNull();
    expect(sent.map((m) => m.execution_id).sort()).toEqual([
      "every-5@2026-11-23T08:20Z",
      "every-5@2026-11-23T08:25Z",
      "every-5@2026-11-23T08:30Z",
    ]);
  });

  it("runs a Berlin 02:30 job at 03:00 CEST on the spring-forward night, once", async () => {
    const { env: e, sent } = recordingEnv();
    for (const t of ["2026-03-29T00:59:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"]) await tick(e, t);
    expect(sent.filter((m) => m.job === "berlin-digest").map((m) => m.execution_id)).toEqual(["berlin-digest@2026-03-29T01:00Z"]);
  });

  it("does not repeat a Berlin 02:30 job in the fall-back fold", async () => {
    const { env: e, sent } = recordingEnv();
    for (let m = 0; m <= 120; m += 30) await tick(e, new Date(Date.parse("2026-10-25T00:00:00Z") + m * 60000).toISOString());
    expect(sent.filter((m) => m.job === "berlin-digest").map((m) => m.execution_id)).toEqual(["berlin-digest@2026-10-25T00:30Z"]);
  });

  it("never runs a disabled job", async () => {
    const { env: e, sent } = recordingEnv();
    await tick(e, "2026-11-23T09:07:00Z");
    expect(sent.some((m) => m.job === "off")).toBe(false);
  });

  it("marks runs failed, with the reason, when the dispatcher is down and the queue refuses them", async () => {
    const { env: e } = recordingEnv();
    stubFetch(() => new Response("down", { status: 503 }), { batches: "answer" });
    e.JOBS_QUEUE = { sendBatch: async () => { throw new Error("queue unavailable"); } } as unknown as Queue;
    await tick(e, "2026-11-23T10:00:00Z");
    const runs = await allRuns();
    expect(runs.length).toBe(2);
    expect(runs.every((r) => r.status === "failed" && r.last_error!.includes("queue unavailable"))).toBe(true);
  });
});

describe("scheduled(): many runs in one tick", () => {
  /** The statements of D1 batches that insert runs. */
  const inserts = (batch: { mock: { calls: [D1PreparedStatement[]][] } }) =>
    batch.mock.calls.flatMap(([sts]) => sts).filter((st) => (st as unknown as { statement: string }).statement.startsWith("INSERT OR IGNORE INTO runs"));
  const many = (n: number, extra: (i: number) => Partial<ReturnType<typeof job>> = () => ({})) =>
    Array.from({ length: n }, (_, i) => job(`job-${String(i).padStart(4, "0")}`, "0 * * * *", extra(i)));

  it("records 2,600 due runs in INSERTs of at most 46, and dispatches each once in 6 POSTs", async () => {
    const { env: e, sent } = recordingEnv({ jobs: many(2600) });
    const batch = vi.spyOn(e.DB, "batch");
    await tick(e, "2026-11-23T09:00:00Z");
    expect(inserts(batch).length).toBe(57); // 56 × 46 + 24
    expect(vi.mocked(fetch).mock.calls.length).toBe(6); // 500 runs a POST
    expect(new Set(sent.map((m) => m.execution_id)).size).toBe(2600);
    expect(sent[0]).toEqual({ execution_id: "job-0000@2026-11-23T09:00Z", job: "job-0000", scheduled_time: "2026-11-23T09:00:00.000Z", trigger: "cron" });
    const { n } = (await env.DB.prepare("SELECT COUNT(*) AS n FROM runs WHERE status = 'dispatched' AND trigger = 'cron'").first<{ n: number }>())!;
    expect(n).toBe(2600);
    await tick(e, "2026-11-23T09:00:00Z"); // the same minute again
    expect(sent.length).toBe(2600);
  });

  it("dispatches only the runs still queued when some of the minute's runs already exist", async () => {
    const { env: e, sent } = recordingEnv({ jobs: many(5) });
    await env.DB.prepare(
      "INSERT INTO runs (execution_id, scheduled_ms, trigger, status, updated_after) VALUES ('job-0002@2026-11-23T09:00Z', ?1, 'cron', 'running', 5000)",
    ).bind(Date.parse("2026-11-23T09:00:00.000Z")).run();
    await tick(e, "2026-11-23T09:00:00Z");
    expect(sent.map((m) => m.job).sort()).toEqual(["job-0000", "job-0001", "job-0003", "job-0004"]);
    expect((await allRuns()).find((r) => r.job === "job-0002")!.status).toBe("running"); // untouched
  });

  it("splits runs with large args so that no INSERT binds over 2 MB, and keeps every args text", async () => {
    const big = (i: number) => ({ args: { i, pad: "x".repeat(7000) } });
    const { env: e } = recordingEnv({ jobs: many(400, big) });
    const batch = vi.spyOn(e.DB, "batch");
    await tick(e, "2026-11-23T09:00:00Z");
    expect(inserts(batch).length).toBeGreaterThan(2); // 400 × 7 KB is about 2.8 MB
    const runs = await allRuns();
    expect(runs.length).toBe(400);
    expect(runs.every((r) => r.args === JSON.stringify(big(Number(r.job.slice(4))).args))).toBe(true);
  });
});

describe("scheduled() refuses a plan of another version", () => {
  it("fires nothing, records nothing, leaves the last minute, and says why", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const { env: old, sent } = recordingEnv({ version: 1 } as unknown as Partial<JobsConfig>);
    await tick(old, "2026-11-23T09:00:00Z");
    expect(sent).toEqual([]);
    expect(await allRuns()).toEqual([]);
    expect(await env.DB.prepare("SELECT * FROM scheduler_state WHERE key != 'skew'").all()).toMatchObject({ results: [] });
    expect(error).toHaveBeenCalledWith("scheduled() refused the plan: plan version 1; this Worker reads version 2");
  });

  it("refuses a version 2 plan without groups", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const { env: bad, sent } = recordingEnv({ groups: undefined } as unknown as Partial<JobsConfig>);
    await tick(bad, "2026-11-23T09:00:00Z");
    expect(sent).toEqual([]);
    expect(error).toHaveBeenCalledWith("scheduled() refused the plan: the plan has no groups");
  });

  it("leaves the minutes it refused to the next version 2 plan's catch-up", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { env: current, sent } = recordingEnv();
    await tick(current, "2026-11-23T08:59:00Z");
    await tick({ ...current, JOBS: { ...current.JOBS, version: 1 } as unknown as JobsConfig }, "2026-11-23T09:00:00Z"); // a bad deploy
    expect(sent).toEqual([]);
    await tick(current, "2026-11-23T09:01:00Z"); // fixed
    expect(sent.map((m) => `${m.execution_id} ${m.trigger}`)).toContain("weekly-report@2026-11-23T09:00Z catchup");
  });
});

describe("scheduled() and Intl: a new isolate's first tick reads the zones' spans from D1", () => {
  it("stores each zone's span, then ticks in a new isolate without Intl, with the same runs", async () => {
    const { env: e, sent } = recordingEnv();
    await tick(e, "2026-11-23T01:00:00Z");
    const row = await env.DB.prepare("SELECT value FROM scheduler_state WHERE key = 'zones'").first<{ value: string }>();
    const day = 24 * 3600_000;
    const t = Date.parse("2026-11-23T01:00:00Z");
    expect(JSON.parse(row!.value)).toEqual({ "Europe/Berlin": [t - day, t + day, 3600_000] }); // CET all along
    forgetSpans(); // a new isolate
    const intl = vi.spyOn(Intl.DateTimeFormat.prototype, "formatToParts");
    await tick(e, "2026-11-23T01:30:00Z"); // 02:30 in Berlin
    expect(intl).not.toHaveBeenCalled();
    expect(sent.map((m) => m.execution_id)).toContain("berlin-digest@2026-11-23T01:30Z");
  });

  it("learns a span anew when it ends within 3 hours, and stops it at a DST change", async () => {
    const { env: e } = recordingEnv();
    await tick(e, "2026-10-24T01:00:00Z"); // Berlin falls back at 2026-10-25T01:00Z
    const span = async () => JSON.parse((await env.DB.prepare("SELECT value FROM scheduler_state WHERE key = 'zones'").first<{ value: string }>())!.value)["Europe/Berlin"];
    const first = await span();
    expect(first).toEqual([Date.parse("2026-10-23T01:00:00Z"), Date.parse("2026-10-25T01:00:00Z"), 7200_000]);
    await tick(e, "2026-10-24T21:00:00Z"); // 4 hours left: kept
    expect(await span()).toEqual(first);
    await tick(e, "2026-10-24T22:30:00Z"); // 2.5 hours left: learned anew, still ending at the change
    expect(await span()).toEqual([Date.parse("2026-10-23T22:30:00Z"), Date.parse("2026-10-25T01:00:00Z"), 7200_000]);
    await tick(e, "2026-10-25T02:00:00Z"); // past the change: CET, from the change on
    expect(await span()).toEqual([Date.parse("2026-10-25T01:00:00Z"), Date.parse("2026-10-26T02:00:00Z"), 3600_000]);
  });
});

describe("runs that never report", () => {
  it("are failed once their scheduled minute passes the report timeout silent, and only those", async () => {
    const { env: e } = recordingEnv({ report_timeout_seconds: 600 });
    await tick(e, "2026-11-23T08:40:00Z"); // the last evaluated minute: the next sweep reads 08:31-08:51
    const old = new Date(Date.now() - 601_000).toISOString();
    const recent = new Date(Date.now() - 60_000).toISOString();
    const rows: [string, string, string, string][] = [
      ["hourly@2026-11-23T08:31Z", "dispatched", old, "cron"],
      ["every-5@2026-11-23T08:45Z", "running", old, "cron"],
      ["every-5@2026-11-23T08:50Z", "succeeded", old, "cron"],
      ["every-5@2026-11-23T08:55Z", "dispatched", old, "cron"], // a later tick's sweep reads it
      ["every-5@2026-11-23T08:35Z", "queued", old, "cron"], // the queue's to retry, or to dead-letter
      ["hourly@2026-11-20T07:00Z", "dispatched", old, "replay"], // runs_watch, whatever its minute
      ["hourly@2026-11-20T08:00Z", "dispatched", recent, "backfill"],
    ];
    for (const [id, status, at, trigger] of rows) {
      const scheduled = Date.parse(`${id.split("@")[1]!.slice(0, 16)}:00.000Z`);
      await env.DB.prepare("INSERT INTO runs (execution_id, scheduled_ms, trigger, status, updated_after) VALUES (?1, ?2, ?5, ?3, ?4)")
        .bind(id, scheduled, status, Date.parse(at) - scheduled, trigger)
        .run();
    }
    await tick(e, "2026-11-23T09:01:00Z");
    const status = Object.fromEntries((await allRuns()).map((r) => [r.execution_id, [r.status, r.last_error]]));
    for (const id of ["hourly@2026-11-23T08:31Z", "every-5@2026-11-23T08:45Z", "hourly@2026-11-20T07:00Z"]) {
      expect(status[id], id).toEqual(["failed", "the job never reported"]);
    }
    expect(status["every-5@2026-11-23T08:50Z"]![0]).toBe("succeeded");
    expect(status["every-5@2026-11-23T08:55Z"]![0]).toBe("dispatched");
    expect(status["every-5@2026-11-23T08:35Z"]![0]).toBe("queued");
    expect(status["hourly@2026-11-20T08:00Z"]![0]).toBe("dispatched");
  });
});

describe("scheduled(), native mode", () => {
  const native = {
    mode: "native" as const,
    cron_triggers: ["0 9 * * MON", "*/5 * * * *"],
    jobs: [
      job("weekly-report", "0 9 * * 1"),
      job("every-5", "*/5 * * * *"),
    ],
  };

  it("runs the jobs whose translated cron fired", async () => {
    const { env: e, sent } = recordingEnv(native);
    await tick(e, "2026-11-23T09:00:00Z", "0 9 * * MON");
    await tick(e, "2026-11-23T09:00:00Z", "*/5 * * * *"); // the other trigger, same minute
    expect(sent.map((m) => m.execution_id).sort()).toEqual(["every-5@2026-11-23T09:00Z", "weekly-report@2026-11-23T09:00Z"]);
  });

  it("leaves a trace of a missed native trigger at the next one", async () => {
    const { env: e, sent } = recordingEnv(native);
    await tick(e, "2026-11-23T08:55:00Z", "*/5 * * * *");
    // the 09:00 triggers never come; 09:05 does
    await tick(e, "2026-11-23T09:05:00Z", "*/5 * * * *");
    expect(sent.map((m) => `${m.execution_id} ${m.trigger}`)).toContain("weekly-report@2026-11-23T09:00Z catchup");
  });
});

describe("scheduled() through the real queue", () => {
  it("queues a run the dispatcher could not take, and the consumer dispatches it as attempt 2", async () => {
    const calls = stubFetch(({ url }) =>
      url.endsWith("/batch") ? new Response("busy", { status: 503 }) : Response.json({ execution_id: "x", call_id: "fc-1", status: "spawned" }, { status: 202 }),
      { batches: "answer" },
    );
    await tick(env, "2026-11-23T09:05:00Z");
    await expect.poll(async () => (await allRuns()).map((r) => r.status), { timeout: 5000 }).toEqual(["dispatched"]);
    expect(calls.map((c) => new URL(c.url).pathname)).toEqual(["/dispatch/batch", "/dispatch"]);
    expect(JSON.parse(calls[1]!.body)).toMatchObject({ execution_id: "every-5@2026-11-23T09:05Z", attempt: 2 });
    expect((await allRuns())[0]).toMatchObject({ attempts: 2, call_id: "fc-1" });
  });
});

describe("scheduled(): job arguments", () => {
  const ARGS = { region: "eu", limit: 3, tags: ["a", "é"] };
  const withArgs = { jobs: [job("with-args", "0 * * * *", { args: ARGS }), job("plain", "0 * * * *")] };

  it("stores a job's plan args on each run, and NULL for a job without args", async () => {
    const { env: e, sent } = recordingEnv(withArgs);
    await tick(e, "2026-11-23T09:00:00Z");
    const runs = Object.fromEntries((await allRuns()).map((r) => [r.execution_id, r.args]));
    expect(runs).toEqual({ "plain@2026-11-23T09:00Z": null, "with-args@2026-11-23T09:00Z": JSON.stringify(ARGS) });
    // The queue message stays the run's id and times; the consumer reads args from the row.
    expect(sent.every((m) => !("args" in m))).toBe(true);
  });

  it("stores them on catch-up and skipped runs too", async () => {
    const { env: e } = recordingEnv({ ...withArgs, catchup_window_minutes: 90 });
    await tick(e, "2026-11-23T06:30:00Z");
    await tick(e, "2026-11-23T09:01:00Z"); // 07:00 is past the window, 08:00 and 09:00 are caught up
    const runs = (await allRuns()).filter((r) => r.job === "with-args");
    expect(runs.map((r) => [r.scheduled_time.slice(11, 16), r.trigger, r.status, r.args])).toEqual([
      ["07:00", "catchup", "skipped", JSON.stringify(ARGS)],
      ["08:00", "catchup", "dispatched", JSON.stringify(ARGS)],
      ["09:00", "catchup", "dispatched", JSON.stringify(ARGS)],
    ]);
    expect((await allRuns()).filter((r) => r.job === "plain").every((r) => r.args === null)).toBe(true);
  });

  it("sends them in the tick's dispatch body exactly when the run has args", async () => {
    const calls = acceptingDispatcher();
    await tick({ ...env, JOBS: withJobs(JOBS, withArgs.jobs) }, "2026-11-23T09:00:00Z");
    expect((await allRuns()).map((r) => r.status)).toEqual(["dispatched", "dispatched"]);
    const bodies = Object.fromEntries(calls.flatMap((c) => batchRuns(c.body).flat()).map((b) => [b.job, b]));
    expect(bodies["with-args"]!.args).toEqual(ARGS);
    expect(bodies.plain).not.toHaveProperty("args");
  });
});

describe("scheduled(): a catalog job's start, end and jitter", () => {
  const minutes = (from: string, n: number) => Array.from({ length: n + 1 }, (_, m) => new Date(Date.parse(from) + m * 60_000).toISOString());

  it("makes no run before start or at and after end, and shows next runs from start", async () => {
    const windowed = job("windowed", "*/5 * * * *", { start: "2026-11-23T09:05:00.000Z", end: "2026-11-23T09:20:00.000Z" });
    const { env: e, sent } = recordingEnv({ jobs: [windowed] });
    for (const at of minutes("2026-11-23T09:00:00Z", 30)) await tick(e, at);
    expect(sent.map((m) => m.execution_id)).toEqual(["windowed@2026-11-23T09:05Z", "windowed@2026-11-23T09:10Z", "windowed@2026-11-23T09:15Z"]);
    expect(upcoming(e.JOBS, windowed, Date.parse("2026-11-23T08:00:00Z"), 5).map((t) => new Date(t).toISOString())).toEqual([
      "2026-11-23T09:05:00.000Z",
      "2026-11-23T09:10:00.000Z",
      "2026-11-23T09:15:00.000Z",
    ]);
  });

  it("dispatches a jittered run at its minute plus its id's offset, under the minute's id and time", async () => {
    const spread = Array.from({ length: 12 }, (_, i) => job(`spread-${i}`, "0 * * * *", { jitter: 5 }));
    const { env: e, sent } = recordingEnv({ jobs: [...spread, job("hourly", "0 * * * *")] });
    const firstSeen = new Map<string, number>();
    const ticks = minutes("2026-11-23T09:00:00Z", 8);
    for (const [m, at] of ticks.entries()) {
      await tick(e, at);
      for (const r of sent) if (!firstSeen.has(r.execution_id)) firstSeen.set(r.execution_id, m);
    }
    expect(firstSeen.get("hourly@2026-11-23T09:00Z")).toBe(0);
    const offsets = spread.map((j) => jitterOffset(`${j.name}@2026-11-23T09:00Z`, 5));
    expect(spread.map((j) => firstSeen.get(`${j.name}@2026-11-23T09:00Z`))).toEqual(offsets);
    expect(new Set(offsets).size).toBeGreaterThan(2); // spread over the minutes, not all at once
    const runs = await allRuns();
    expect(runs.filter((r) => r.job.startsWith("spread-")).every((r) => r.scheduled_time === "2026-11-23T09:00:00.000Z")).toBe(true);
    expect(runs.filter((r) => r.job.startsWith("spread-")).map((r) => r.trigger)).toEqual(spread.map(() => "cron"));
  });

  it("catches a jittered run up after a missed tick, once", async () => {
    const late = job("late", "0 * * * *", { jitter: 5 });
    const { env: e, sent } = recordingEnv({ jobs: [late] });
    await tick(e, "2026-11-23T08:58:00Z");
    await tick(e, "2026-11-23T09:10:00Z"); // 08:59-09:09 missed
    await tick(e, "2026-11-23T09:11:00Z");
    expect(sent.map((m) => `${m.execution_id} ${m.trigger}`)).toEqual(["late@2026-11-23T09:00Z catchup"]);
  });
});
