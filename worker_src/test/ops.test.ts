import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { actionToken } from "../src/http";
import type { Bindings } from "../src/types";
import { JOBS } from "./bindings";
import { allRuns, BEARER, call, recordingEnv, seedRun, stubFetch, tick } from "./helpers";

const post = (path: string, body?: unknown, e: Bindings = env) =>
  call(path, { method: "POST", headers: { ...BEARER, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) }, e);

describe("POST /jobs/<name>/pause and /resume", () => {
  it("pauses once, keeps the first reason, and resumes once", async () => {
    const first = await post("/jobs/hourly/pause", { reason: "bad upstream data" });
    expect(first).toMatchObject({ status: 200, body: { job: "hourly", paused: true, reason: "bad upstream data", changed: true } });
    const again = await post("/jobs/hourly/pause", { reason: "another" });
    expect(again.body).toMatchObject({ paused: true, reason: "bad upstream data", since: first.body.since, changed: false });
    expect(await post("/jobs/hourly/resume")).toMatchObject({ status: 200, body: { job: "hourly", paused: false, changed: true } });
    expect(await post("/jobs/hourly/resume")).toMatchObject({ status: 200, body: { paused: false, changed: false } });
  });

  it("keeps the pause in D1, so that it survives a deploy", async () => {
    await post("/jobs/hourly/pause", {});
    const row = await env.DB.prepare("SELECT job, reason FROM paused_jobs").first();
    expect(row).toEqual({ job: "hourly", reason: null });
  });

  it("answers 404 for an unknown job and 422 for a bad body", async () => {
    expect(await post("/jobs/nope/pause")).toMatchObject({ status: 404, body: { error: "no such job: nope" } });
    expect(await post("/jobs/nope/resume")).toMatchObject({ status: 404 });
    expect((await post("/jobs/hourly/pause", { reason: 3 })).status).toBe(422);
    expect((await post("/jobs/hourly/pause", { why: "x" })).status).toBe(422);
    expect((await post("/jobs/hourly/pause", { reason: "x".repeat(501) })).status).toBe(422);
    expect((await call("/jobs/hourly/pause", { headers: BEARER })).status).toBe(405); // never a GET
  });

  it("records a paused job's due runs as skipped, saying why, and enqueues the others", async () => {
    await post("/jobs/hourly/pause", { reason: "migrating" });
    const { env: e, sent } = recordingEnv();
    await tick(e, "2026-11-23T09:00:00Z");
    const runs = Object.fromEntries((await allRuns()).map((r) => [r.job, r]));
    expect(runs.hourly).toMatchObject({ status: "skipped", trigger: "cron", last_error: "paused: migrating" });
    expect(runs.hourly!.finished_at).not.toBeNull();
    expect(sent.map((m) => m.job).sort()).toEqual(["every-5", "weekly-report"]);
    await post("/jobs/hourly/resume");
    await tick(e, "2026-11-23T10:00:00Z");
    expect(sent.map((m) => m.execution_id)).toContain("hourly@2026-11-23T10:00Z");
  });

  it("refuses manual runs and replays of a paused job with 409", async () => {
    await seedRun("hourly@2026-11-23T08:00Z", "failed");
    await post("/jobs/hourly/pause", { reason: "incident 42" });
    const run = await post("/jobs/hourly/run");
    expect(run).toMatchObject({ status: 409 });
    expect(run.body.error).toContain("paused: incident 42");
    expect((await post(`/runs/${encodeURIComponent("hourly@2026-11-23T08:00Z")}/replay`)).status).toBe(409);
    expect((await allRuns()).map((r) => r.status)).toEqual(["failed"]); // nothing changed
  });

  it("shows the pause in GET /jobs", async () => {
    await post("/jobs/every-5/pause", { reason: "noisy" });
    const { body } = await call("/jobs", { headers: BEARER });
    const byName = Object.fromEntries(body.jobs.map((j: { name: string }) => [j.name, j]));
    expect(byName["every-5"].paused).toMatchObject({ reason: "noisy" });
    expect(byName.hourly.paused).toBeNull();
  });
});

describe("POST /jobs/<name>/backfill", () => {
  const HOUR = 3600_000;
  const past = (hoursAgo: number) => new Date(Math.floor(Date.now() / HOUR) * HOUR - hoursAgo * HOUR).toISOString();

  it("enqueues every scheduled minute of [from, to) under its usual id, with trigger backfill", async () => {
    const { env: e, sent } = recordingEnv();
    const res = await post("/jobs/hourly/backfill", { from: past(3), to: past(0) }, e);
    const ids = [3, 2, 1].map((h) => `hourly@${past(h).slice(0, 16)}Z`);
    expect(res).toMatchObject({ status: 200, body: { enqueued: 3, existing: 0, ids } });
    expect(sent.map((m) => [m.execution_id, m.trigger])).toEqual(ids.map((id) => [id, "backfill"]));
    expect((await allRuns()).map((r) => [r.execution_id, r.trigger, r.status])).toEqual(ids.map((id) => [id, "backfill", "queued"]));
  });

  it("leaves a minute that already has a run alone, and counts it as existing", async () => {
    const { env: e, sent } = recordingEnv();
    await seedRun(`hourly@${past(2).slice(0, 16)}Z`, "succeeded", { scheduled_time: past(2) });
    const res = await post("/jobs/hourly/backfill", { from: past(3), to: past(0) }, e);
    expect(res.body).toMatchObject({ enqueued: 2, existing: 1 });
    expect(res.body.ids).toHaveLength(3);
    expect(sent).toHaveLength(2);
    expect((await allRuns()).find((r) => r.scheduled_time === past(2))!.status).toBe("succeeded");
    expect((await post("/jobs/hourly/backfill", { from: past(3), to: past(0) }, e)).body).toMatchObject({ enqueued: 0, existing: 3 });
  });

  it("answers 422 with the reason for a window it will not take", async () => {
    const cases: [unknown, string][] = [
      [{ from: past(0), to: past(1) }, "from must be before to"],
      [{ from: past(1), to: new Date(Date.now() + HOUR).toISOString() }, "in the future"],
      [{ from: past(1001), to: past(0) }, "more than 1000 runs"],
      [{ from: "yesterday", to: past(0) }, "from must be an ISO 8601 time"],
      [{ from: past(1) }, "to must be an ISO 8601 time"],
      [{ from: past(2), to: past(1), extra: 1 }, "unknown field extra"],
    ];
    for (const [body, why] of cases) {
      const res = await post("/jobs/hourly/backfill", body);
      expect([res.status, res.body.error]).toEqual([422, expect.stringContaining(why)]);
    }
    expect(await allRuns()).toEqual([]);
  });

  it("takes 1,000 runs at most, and a window of exactly 1,000", async () => {
    const { env: e, sent } = recordingEnv();
    const res = await post("/jobs/hourly/backfill", { from: past(1000), to: past(0) }, e);
    expect(res.body).toMatchObject({ enqueued: 1000, existing: 0 });
    expect(sent).toHaveLength(1000);
  });

  it("answers 404 for an unknown job, 409 for a paused or disabled one", async () => {
    const window = { from: past(2), to: past(0) };
    expect((await post("/jobs/nope/backfill", window)).status).toBe(404);
    expect((await post("/jobs/off/backfill", window)).status).toBe(409);
    await post("/jobs/hourly/pause");
    expect((await post("/jobs/hourly/backfill", window)).status).toBe(409);
  });
});

describe("skew: the Worker and the Modal dispatcher run the same catalog", () => {
  const forget = () => env.DB.prepare("DELETE FROM scheduler_state WHERE key = 'skew'").run();
  const skew = async () => (await call("/jobs", { headers: BEARER })).body.skew;
  const healthz = (hash: string) => stubFetch(() => Response.json({ ok: true, jobs: 4, catalog_hash: hash }));

  it("says unchecked before the first check, then in sync", async () => {
    await forget();
    expect(await skew()).toMatchObject({ status: "unchecked", worker: JOBS.catalog_hash });
    const calls = healthz(JOBS.catalog_hash);
    await tick(recordingEnv().env, "2026-11-23T09:00:00Z");
    expect(calls.map((c) => c.url)).toEqual(["https://dispatch.test/healthz"]);
    expect(await skew()).toMatchObject({ status: "in sync", message: "in sync", modal: JOBS.catalog_hash });
  });

  it("names both hashes when they differ", async () => {
    await forget();
    healthz("ffffffffffff");
    await tick(recordingEnv().env, "2026-11-23T09:00:00Z");
    expect((await skew()).message).toBe(`out of sync: Worker ${JOBS.catalog_hash}, Modal ffffffffffff`);
  });

  it("records a failed check, and the tick still runs its jobs", async () => {
    await forget();
    stubFetch(() => {
      throw new TypeError("connection refused");
    });
    const { env: e, sent } = recordingEnv();
    await tick(e, "2026-11-23T09:00:00Z");
    expect(sent).toHaveLength(3);
    expect(await skew()).toMatchObject({ status: "check failed", message: expect.stringContaining("connection refused") });
    stubFetch(() => new Response("oops", { status: 502 }));
    await forget();
    await tick(e, "2026-11-23T09:01:00Z");
    expect((await skew()).message).toBe("check failed: its /healthz answered 502");
  });

  it("keeps any answer for an hour, a failed or out-of-sync one too: each check wakes Modal", async () => {
    const cache = (status: string, minutesAgo: number) =>
      env.DB.prepare("UPDATE scheduler_state SET value = ?1 WHERE key = 'skew'")
        .bind(JSON.stringify({ status, message: status, worker: JOBS.catalog_hash, modal: null, checked_at: new Date(Date.now() - minutesAgo * 60_000).toISOString() }))
        .run();
    const calls = healthz(JOBS.catalog_hash);
    const { env: e } = recordingEnv();
    await cache("check failed", 59);
    await tick(e, "2026-11-23T09:00:00Z");
    await cache("out of sync", 30);
    await tick(e, "2026-11-23T09:01:00Z");
    expect(calls).toHaveLength(0);
    await cache("out of sync", 61);
    await tick(e, "2026-11-23T09:02:00Z");
    expect(calls).toHaveLength(1);
    expect((await skew()).status).toBe("in sync");
  });

  it("asks at most hourly while in sync, and again when the plan changes", async () => {
    const calls = healthz(JOBS.catalog_hash); // setup.ts cached "in sync" just now
    const { env: e } = recordingEnv();
    await tick(e, "2026-11-23T09:00:00Z");
    await tick(e, "2026-11-23T09:01:00Z");
    expect(calls).toHaveLength(0);
    const redeployed = recordingEnv({ catalog_hash: "abcdefabcdef" }).env;
    await tick(redeployed, "2026-11-23T09:02:00Z"); // a new plan: the cached answer was for the old one
    expect(calls).toHaveLength(1);
  });
});

describe("admin auth for actions", () => {
  const basic = { authorization: `Basic ${btoa(`admin:${env.ADMIN_TOKEN}`)}` };

  it("refuses a POST with Basic auth alone: a browser sends it by itself, like a cookie", async () => {
    const res = await call("/jobs/hourly/pause", { method: "POST", headers: basic });
    expect(res.status).toBe(403);
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM paused_jobs").first()).toEqual({ n: 0 });
  });

  it("takes a Basic-auth POST that carries the dashboard's action token, which only the page holds", async () => {
    const page = await call("/", { headers: basic });
    const token = await actionToken(env.ADMIN_TOKEN);
    expect(page.body).toContain(token);
    const res = await call("/jobs/hourly/pause", { method: "POST", headers: { ...basic, "x-cronflare-action": token } });
    expect(res).toMatchObject({ status: 200, body: { paused: true } });
    expect((await call("/jobs/hourly/resume", { method: "POST", headers: { ...basic, "x-cronflare-action": "guess" } })).status).toBe(403);
  });

  it("never changes state on a GET", async () => {
    for (const path of ["/jobs/hourly/pause", "/jobs/hourly/resume", "/jobs/hourly/run", "/jobs/hourly/backfill"]) {
      expect((await call(path, { headers: BEARER })).status).toBe(405);
    }
    expect(await allRuns()).toEqual([]);
  });
});
