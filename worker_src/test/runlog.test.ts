import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { ALERT_WINDOW_MS, flushAlerts } from "../src/alerts";
import { MINUTE } from "../src/cron";
import { NEVER_REPORTED } from "../src/runs";
import { signedPath, verify } from "../src/signing";
import { TICK_PRUNE } from "../src/tick";
import type { Bindings, Env, JobMessage, JobsConfig } from "../src/types";
import { JOBS } from "./bindings";
import { allRuns, BEARER, call, countingD1, recordingEnv, report, seedRun, stubFetch, tick } from "./helpers";

const DAY = 24 * 60 * MINUTE;
/** The log's clock in these tests: retention counts back from the scheduler's minute, not the wall. */
const NOW = Date.parse("2026-11-23T09:00:00Z");
/** A minute `days` days before NOW, as a run id's time ("2026-08-15T09:00"). */
const ago = (days: number, minute = 0) => new Date(NOW - days * DAY + minute * MINUTE).toISOString().slice(0, 16);
const stats = async () => (await call("/stats", { headers: BEARER })).body;
const withPlan = (config: Partial<JobsConfig>): Env => recordingEnv(config).env;
const plain = () => withPlan({});

describe("retention: runs older than runRetentionDays are pruned, their counts stay", () => {
  it("prunes ended runs past the retention, oldest first, at most TICK_PRUNE a tick, never one in flight", async () => {
    for (let i = 0; i < 30; i++) await seedRun(`hourly@${ago(100, i)}Z`, i % 3 ? "succeeded" : "failed");
    await seedRun(`hourly@${ago(200)}Z`, "running"); // not ended: never deleted
    await seedRun(`hourly@${ago(10)}Z`, "succeeded"); // inside the retention
    const before = await stats();
    const { env: e } = recordingEnv({ run_retention_days: 90 });
    await tick(e, "2026-11-23T09:01:00Z");
    const left = await allRuns();
    expect(left.length).toBe(32 - TICK_PRUNE);
    expect(left.map((r) => r.execution_id)).toContain(`hourly@${ago(200)}Z`);
    expect(left.map((r) => r.execution_id)).toContain(`hourly@${ago(10)}Z`);
    const oldest = left.filter((r) => r.status !== "running").map((r) => r.scheduled_time).sort()[0]!;
    expect(oldest.slice(0, 16)).toBe(ago(100, TICK_PRUNE)); // the oldest went first
    await tick(e, "2026-11-23T09:02:00Z");
    expect((await allRuns()).length).toBe(2);
    const after = await stats();
    expect(after.counts).toMatchObject({ succeeded: before.counts.succeeded, failed: before.counts.failed });
    expect(after.counts.succeeded + after.counts.failed).toBe(31);
  });

  it("empties the succeeded runs migrations 0006 and 0008 set aside, by the same retention, oldest first", async () => {
    const TABLES = ["runs_before_0006", "runs_before_0008"];
    const aside = (table: string, minute: string) =>
      env.DB.prepare(`INSERT INTO ${table} (execution_id, job, scheduled_time, trigger, status, updated_at${table === "runs_before_0006" ? ", created_at" : ""}) VALUES (?1, 'hourly', ?2, 'cron', 'succeeded', ?2${table === "runs_before_0006" ? ", ?2" : ""})`).bind(`hourly@${minute}Z`, `${minute}:00.000Z`);
    const old = Array.from({ length: TICK_PRUNE + 5 }, (_, i) => ago(100, i));
    await env.DB.batch(TABLES.flatMap((table) => [...old, ago(10)].map((minute) => aside(table, minute))));
    const left = async (table: string) => (await env.DB.prepare(`SELECT execution_id FROM ${table} ORDER BY scheduled_time`).all<{ execution_id: string }>()).results.map((r) => r.execution_id.slice(7, -1));
    const e = recordingEnv({ run_retention_days: 90 }).env;
    await tick(e, "2026-11-23T09:01:00Z");
    for (const table of TABLES) expect(await left(table), table).toEqual([...old.slice(TICK_PRUNE), ago(10)]);
    await tick(e, "2026-11-23T09:02:00Z");
    for (const table of TABLES) expect(await left(table), table).toEqual([ago(10)]);
  });

  it("prunes two old runs per message a queue batch dispatches", async () => {
    for (let i = 0; i < 10; i++) await seedRun(`hourly@${ago(100, i)}Z`, "succeeded");
    await seedRun("hourly@2026-11-23T09:00Z");
    await env.DB.prepare("INSERT INTO scheduler_state (key, value) VALUES ('last_minute', ?1)").bind(new Date(NOW).toISOString()).run();
    stubFetch(() => Response.json({ call_id: "fc", status: "spawned" }, { status: 202 }));
    const { createMessageBatch, createExecutionContext, getQueueResult } = await import("cloudflare:test");
    const { worker } = await import("./helpers");
    const batch = createMessageBatch<JobMessage>(JOBS.queues.jobs, [{ id: "m1", timestamp: new Date(), attempts: 1, body: { execution_id: "hourly@2026-11-23T09:00Z", job: "hourly", scheduled_time: "2026-11-23T09:00:00.000Z", trigger: "cron" } }]);
    const ctx = createExecutionContext();
    await worker.queue!(batch, env as Bindings, ctx);
    await getQueueResult(batch, ctx);
    expect((await allRuns()).length).toBe(11 - 2);
  });

  it("counts all time in GET /stats: ended runs by status, and those in flight as created less ended", async () => {
    stubFetch(() => new Response("ok")); // the dead run's alert
    await seedRun("hourly@2026-11-23T08:00Z", "succeeded");
    await seedRun("hourly@2026-11-23T09:00Z", "dead");
    await seedRun("hourly@2026-11-23T10:00Z", "running");
    const { env: e } = recordingEnv({ catchup_window_minutes: 10 });
    await tick(e, "2026-11-23T11:00:00Z");
    await tick(e, "2026-11-23T11:30:00Z"); // 11:05 .. 11:15 are older than the window: skipped
    // 3 seeded and 10 created by the ticks; 5 ended: the 5 caught up and the 1 running are in flight.
    expect((await stats()).counts).toEqual({ succeeded: 1, dead: 1, skipped: 3, in_flight: 6 });
  });
});

describe("failing silent runs reads the minutes that passed the timeout, not every run in flight", () => {
  it("reads a few rows a run of those minutes, not the 300 in flight, and fails the 2 silent ones", async () => {
    const fresh = new Date().toISOString();
    const timeout = JOBS.report_timeout_seconds * 1000;
    const swept = new Date(Date.parse("2026-11-23T09:01:00Z") - timeout).toISOString(); // the minute the sweep reads
    await env.DB.prepare(
      `INSERT INTO runs (execution_id, scheduled_ms, trigger, status, updated_after)
       WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 299)
       SELECT 'hourly@' || i, IIF(i < 4, ?2, ?1), 'cron', IIF(i % 2 = 0, 'running', 'dispatched'), ?1 - IIF(i < 4, ?2, ?1) FROM n`,
    ).bind(Date.parse(fresh), Date.parse(swept)).run();
    await env.DB.prepare("UPDATE runs SET updated_after = ?1 - scheduled_ms WHERE execution_id IN ('hourly@1', 'hourly@2')").bind(Date.parse("2026-01-01T00:00:00.000Z")).run();
    const counting = countingD1(env.DB);
    await tick({ ...recordingEnv().env, DB: counting.db }, "2026-11-23T09:01:00Z");
    const silent = counting.reads.filter((r) => r.sql.includes("the job never reported") || r.sql.includes("SET status = 'failed', last_error = ?1"));
    // Each of the 4 runs of the swept minute: its index entry and row; each failed one, its
    // counters and the alert outbox too. None of the 296 others.
    expect(silent.reduce((n, r) => n + r.rows_read, 0)).toBeLessThanOrEqual(4 * 4 + 2);
    expect((await allRuns()).filter((r) => r.status === "failed").map((r) => r.execution_id).sort()).toEqual(["hourly@1", "hourly@2"]);
  });
});

describe("a signed report wins over dead and the report timeout's failed", () => {
  it("turns a dead run that reports success into succeeded, and says so", async () => {
    const id = "hourly@2026-11-23T09:00Z";
    await seedRun(id, "dead", { last_error: "dead-lettered after 5 attempts" });
    const res = await report(id, { status: "succeeded", started_at: "2026-11-23T09:00:01Z", finished_at: "2026-11-23T09:00:03Z", result: "ok" });
    expect(res).toMatchObject({ status: 200, body: { status: "succeeded", corrected: "dead" } });
    const [run] = await allRuns();
    expect(run).toMatchObject({ status: "succeeded", last_error: "reported succeeded after being marked dead", result: "ok" });
    expect((await stats()).counts).toMatchObject({ succeeded: 1, dead: 0 });
  });

  it("turns a run the report timeout failed into what it reports", async () => {
    const id = "hourly@2026-11-23T09:00Z";
    await seedRun(id, "failed", { last_error: NEVER_REPORTED });
    expect((await report(id, { status: "failed", error: "ValueError: x" })).body).toMatchObject({ corrected: "failed" });
    expect((await allRuns())[0]!.last_error).toBe("reported failed after being marked failed: ValueError: x");
  });

  it("keeps every other terminal status final", async () => {
    const id = "hourly@2026-11-23T09:00Z";
    await seedRun(id, "failed", { last_error: "dispatcher answered 404: no such job" });
    expect((await report(id, { status: "succeeded" })).status).toBe(409);
    await seedRun("hourly@2026-11-23T10:00Z", "succeeded");
    expect((await report("hourly@2026-11-23T10:00Z", { status: "failed" })).status).toBe(409);
    expect((await allRuns()).map((r) => r.status)).toEqual(["failed", "succeeded"]);
  });
});

describe("alerts", () => {
  const hook = () => stubFetch(() => new Response("ok"));
  const bodies = (calls: { body: string }[]) => calls.map((c) => JSON.parse(c.body));

  it("posts a dead run as JSON with text for Slack, the run's fields and a link, signed", async () => {
    const calls = hook();
    await seedRun("hourly@2026-11-23T09:00Z", "dead");
    await env.DB.prepare("UPDATE runs SET last_error = 'dead-lettered after 5 attempts'").run();
    await flushAlerts(plain());
    expect(calls.map((c) => c.url)).toEqual(["https://alerts.test/hook"]);
    const [alert] = bodies(calls);
    expect(alert).toMatchObject({ event: "run.dead", job: "hourly", execution_id: "hourly@2026-11-23T09:00Z", status: "dead", folded: 0, url: "https://cronflare.test/?job=hourly&status=dead" });
    expect(alert.text).toContain("hourly@2026-11-23T09:00Z dead");
    expect(alert.text.endsWith(` <${alert.url.replaceAll("&", "&amp;")}|dashboard>`)).toBe(true);
    expect(alert).toMatchObject({ content: alert.text, allowed_mentions: { parse: [] } });
    const headers = new Headers(calls[0]!.init.headers as HeadersInit);
    expect(await verify([env.SIGNING_KEY], "alert", "POST", signedPath(calls[0]!.url), headers, calls[0]!.body)).toBe(true);
    expect((await stats()).alerts).toEqual({ sent: 1 });
  });

  it("sends only what alertOn names, and never a paused job's skips", async () => {
    const calls = hook();
    await seedRun("hourly@2026-11-23T08:00Z", "failed"); // not in alertOn: ["dead"]
    await flushAlerts(plain());
    expect(calls).toEqual([]);
    const e = withPlan({ alert_on: ["failed", "skipped"] });
    await seedRun("hourly@2026-11-23T09:00Z", "failed");
    await seedRun("every-5@2026-11-23T09:00Z", "skipped");
    await env.DB.prepare("UPDATE runs SET last_error = 'paused: maintenance' WHERE job = 'every-5'").run();
    await env.DB.prepare("UPDATE alert_outbox SET error = 'paused: maintenance' WHERE job = 'every-5'").run();
    await flushAlerts(e);
    expect(bodies(calls).map((a) => a.execution_id)).toEqual(["hourly@2026-11-23T09:00Z"]);
  });

  it("sends at most one alert per job per 15 minutes, folding the rest into the next as a count", async () => {
    const calls = hook();
    const now = Date.now();
    for (const t of ["09:00", "09:05", "09:10"]) await seedRun(`hourly@2026-11-23T${t}Z`, "dead");
    await seedRun("every-5@2026-11-23T09:00Z", "dead"); // another job: its own window
    await flushAlerts(plain(), now);
    expect(bodies(calls).map((a) => a.execution_id).sort()).toEqual(["every-5@2026-11-23T09:00Z", "hourly@2026-11-23T09:00Z"]);
    await flushAlerts(plain(), now + 5 * MINUTE); // nothing new, the window is not over
    expect(calls.length).toBe(2);
    await flushAlerts(plain(), now + ALERT_WINDOW_MS + MINUTE); // the window is over: the 2 folded
    const last = bodies(calls).at(-1);
    expect(last).toMatchObject({ event: "runs.folded", job: "hourly", folded: 2 });
    expect(last.text).toContain("2 more alerts for hourly");
    await seedRun("hourly@2026-11-23T10:00Z", "dead");
    await flushAlerts(plain(), now + ALERT_WINDOW_MS + 2 * MINUTE); // inside the new window: folded
    expect(calls.length).toBe(3);
  });

  it("tells of a tick gap longer than the catch-up window, with alertOn missed", async () => {
    const calls = hook();
    const e = withPlan({ alert_on: ["missed"], catchup_window_minutes: 10 });
    await tick(e, "2026-11-23T09:00:00Z");
    await tick(e, "2026-11-23T09:30:00Z");
    const missed = bodies(calls).filter((a) => a.event === "run.missed");
    expect(missed).toHaveLength(1);
    expect(missed[0]).toMatchObject({ job: null, status: "missed" });
    expect(missed[0].error).toContain("no tick from 2026-11-23T09:00:00.000Z to 2026-11-23T09:30:00.000Z");
  });

  it("counts a failing webhook in /stats and leaves the run as it was", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    stubFetch(() => new Response("nope", { status: 500 }));
    await seedRun("hourly@2026-11-23T09:00Z", "dead");
    await flushAlerts(plain());
    expect((await stats()).alerts).toEqual({ failed: 1 });
    expect((await allRuns())[0]!.status).toBe("dead");
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM alert_outbox").first()).toEqual({ n: 0 }); // never retried
  });
});
