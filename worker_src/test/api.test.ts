import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Bindings, JobsConfig, RunRow } from "../src/types";
import { JOBS, job, withJobs } from "./bindings";
import { allRuns, BEARER, call, recordingEnv, report, seedRun, signedDispatch, stubFetch } from "./helpers";

const ID = "hourly@2026-11-23T09:00Z";

describe("GET /healthz", () => {
  it("is public", async () => {
    expect(await call("/healthz")).toMatchObject({ status: 200, body: { ok: true, mode: "tick", jobs: 5 } });
  });

  it("reports the plan module's jobs when there is no JOBS binding", async () => {
    expect(env.JOBS).toBeUndefined();
    expect(await call("/healthz")).toMatchObject({ body: { mode: JOBS.mode, jobs: JOBS.jobs.length } });
  });

  it("answers 503 with ok: false and the reason for a plan of another version", async () => {
    const old = { ...env, JOBS: { ...JOBS, version: 1 } as unknown as JobsConfig };
    const error = "plan version 1; this Worker reads version 2";
    expect(await call("/healthz", {}, old)).toEqual(expect.objectContaining({ status: 503, body: { ok: false, error } }));
    // The admin views that need the schedules say so too; the rest of the API keeps working.
    expect(await call("/jobs", { headers: BEARER }, old)).toMatchObject({ status: 503, body: { error } });
    expect((await call("/runs", { headers: BEARER }, old)).status).toBe(200);
  });

  it("reports a JOBS binding's jobs instead, when there is one", async () => {
    const override = { ...env, JOBS: withJobs({ ...JOBS, mode: "native" as const }, JOBS.jobs.slice(0, 2)) };
    expect(await call("/healthz", {}, override)).toMatchObject({ body: { mode: "native", jobs: 2 } });
  });
});

describe("admin auth", () => {
  it.each(["/", "/jobs", "/runs"])("refuses %s without the token", async (path) => {
    expect((await call(path)).status).toBe(401);
    expect((await call(path, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await call(path, { headers: { authorization: "Basic !!!" } })).status).toBe(401);
  });

  it("asks a browser for Basic auth on the dashboard, and accepts the token as its password", async () => {
    const res = await call("/");
    expect(res.headers.get("www-authenticate")).toContain("Basic");
    const ok = await call("/", { headers: { authorization: `Basic ${btoa(`admin:${env.ADMIN_TOKEN}`)}` } });
    expect(ok.status).toBe(200);
  });
});

describe("POST /runs/<id>: the completion callback", () => {
  it("records success with its times, signed with the current or the next key", async () => {
    await seedRun(ID, "dispatched");
    const started = "2026-11-23T09:00:01.000Z";
    const res = await report(ID, { status: "succeeded", started_at: started, finished_at: "2026-11-23T09:00:03.500Z" }, env.SIGNING_KEY_NEXT);
    expect(res).toMatchObject({ status: 200, body: { execution_id: ID, status: "succeeded" } });
    expect((await allRuns())[0]).toMatchObject({ status: "succeeded", started_at: started, finished_at: "2026-11-23T09:00:03.500Z" });
  });

  it("records failure with the job's error, and running before it", async () => {
    await seedRun(ID, "dispatched");
    expect((await report(ID, { status: "running", started_at: "2026-11-23T09:00:01Z" })).status).toBe(200);
    expect((await allRuns())[0]!.status).toBe("running");
    await report(ID, { status: "failed", error: "ValueError: bad input" });
    expect((await allRuns())[0]).toMatchObject({ status: "failed", last_error: "ValueError: bad input" });
  });

  it("keeps the first terminal status: a repeat is fine, a contradiction is 409", async () => {
    await seedRun(ID, "succeeded");
    expect((await report(ID, { status: "succeeded" })).body).toMatchObject({ duplicate: true });
    expect((await report(ID, { status: "failed", error: "late" })).status).toBe(409);
    expect((await allRuns())[0]!.status).toBe("succeeded");
  });

  it("refuses bad, missing or stale signatures with 401 and changes nothing", async () => {
    await seedRun(ID, "dispatched");
    expect((await report(ID, { status: "succeeded" }, "not-the-key")).status).toBe(401);
    expect((await report(ID, { status: "succeeded" }, env.SIGNING_KEY, Date.now() - 301_000)).status).toBe(401);
    const unsigned = await call(`/runs/${encodeURIComponent(ID)}`, { method: "POST", body: '{"status":"succeeded"}' });
    expect(unsigned.status).toBe(401);
    expect((await allRuns())[0]!.status).toBe("dispatched");
  });

  it("answers 4xx, never 5xx, to malformed bodies", async () => {
    await seedRun(ID, "dispatched");
    for (const bad of ["not json", "[]", "null", '{"status":"done"}', '{"status":"failed","error":42}', '{"status":"succeeded","started_at":"yesterday"}']) {
      const res = await report(ID, bad);
      expect(res.status, bad).toBe(422);
    }
    expect((await report("nope@2026-11-23T09:00Z", { status: "succeeded" })).status).toBe(404);
    expect((await call("/runs/%E0%A4%A", { method: "POST", body: "{}" })).status).toBe(400);
  });

  it("refuses bodies over 64 KiB with 413", async () => {
    await seedRun(ID, "dispatched");
    const huge = JSON.stringify({ status: "failed", error: "x".repeat(70_000) });
    expect((await report(ID, huge)).status).toBe(413);
    const lying = await call(`/runs/${encodeURIComponent(ID)}`, { method: "POST", headers: { "content-length": "999999" }, body: "{}" });
    expect(lying.status).toBe(413);
  });
});

describe("admin API", () => {
  it("GET /jobs lists every job with its next 3 fire times and last run", async () => {
    await seedRun(ID, "succeeded");
    const { body } = await call("/jobs", { headers: BEARER });
    const hourly = body.jobs.find((j: { name: string }) => j.name === "hourly");
    expect(hourly.next.length).toBe(3);
    expect(hourly.next.every((t: string) => t.endsWith(":00:00.000Z"))).toBe(true);
    expect(hourly.last).toMatchObject({ execution_id: ID, status: "succeeded" });
    expect(body.jobs.find((j: { name: string }) => j.name === "off").next).toEqual([]);
  });

  it("GET /runs filters by job and status, with a bounded limit", async () => {
    await seedRun(ID, "failed");
    await seedRun("every-5@2026-11-23T09:05Z", "succeeded");
    await seedRun("every-5@2026-11-23T09:10Z", "failed");
    const runs = async (q: string) => (await call(`/runs${q}`, { headers: BEARER })).body.runs.map((r: { execution_id: string }) => r.execution_id);
    expect(await runs("")).toEqual(["every-5@2026-11-23T09:10Z", "every-5@2026-11-23T09:05Z", ID]);
    expect(await runs("?job=every-5&status=failed")).toEqual(["every-5@2026-11-23T09:10Z"]);
    expect(await runs("?limit=1")).toEqual(["every-5@2026-11-23T09:10Z"]);
    for (const q of ["?limit=0", "?limit=501", "?limit=abc", "?status=exploded"]) {
      expect((await call(`/runs${q}`, { headers: BEARER })).status, q).toBe(400);
    }
  });

  it("GET /runs?job= answers 404 for a job neither in the plan nor in the run log", async () => {
    await seedRun("retired@2026-11-23T09:00Z", "succeeded"); // a job since removed from the catalog
    expect(await call("/runs?job=nosuch", { headers: BEARER })).toMatchObject({ status: 404, body: { error: "no such job: nosuch" } });
    expect(await call("/runs?job=nosuch&status=failed", { headers: BEARER })).toMatchObject({ status: 404 });
    // A job of the plan with no runs yet, and a removed one with history, are known: 200.
    expect(await call("/runs?job=hourly", { headers: BEARER })).toMatchObject({ status: 200, body: { runs: [] } });
    expect(await call("/runs?job=retired&status=failed", { headers: BEARER })).toMatchObject({ status: 200, body: { runs: [] } });
    expect((await call("/runs?job=retired", { headers: BEARER })).body.runs).toHaveLength(1);
  });

  it("POST /jobs/<name>/run records and enqueues a manual run", async () => {
    const { env: e, sent } = recordingEnv();
    const res = await call("/jobs/hourly/run", { method: "POST", headers: BEARER }, e);
    expect(res.status).toBe(202);
    expect(res.body.execution_id).toMatch(/^hourly@\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ-manual-[0-9a-f]{12}$/);
    expect(sent).toMatchObject([{ execution_id: res.body.execution_id, job: "hourly", trigger: "manual" }]);
    expect((await call("/jobs/nope/run", { method: "POST", headers: BEARER }, e)).status).toBe(404);
  });

  it("POST /runs/<id>/replay refuses a run that reached Modal: the dispatcher runs an id once", async () => {
    const { env: e, sent } = recordingEnv();
    await seedRun(ID, "failed", { last_error: "ValueError: bad row" });
    await env.DB.prepare("UPDATE runs SET call_id = 'fc-1' WHERE execution_id = ?1").bind(ID).run();
    const res = await call(`/runs/${encodeURIComponent(ID)}/replay`, { method: "POST", headers: BEARER }, e);
    expect(res.status).toBe(409);
    expect(res.body.error).toContain("POST /jobs/hourly/run");
    expect(sent).toEqual([]);
    expect((await allRuns())[0]).toMatchObject({ status: "failed", last_error: "ValueError: bad row" });
  });

  it("POST /runs/<id>/replay re-enqueues a failed or dead run, and only those", async () => {
    const { env: e, sent } = recordingEnv();
    await seedRun(ID, "dead", { attempts: 6, last_error: "dead-lettered" });
    const res = await call(`/runs/${encodeURIComponent(ID)}/replay`, { method: "POST", headers: BEARER }, e);
    expect(res.status).toBe(202);
    expect(sent).toMatchObject([{ execution_id: ID, trigger: "replay" }]);
    expect((await allRuns())[0]).toMatchObject({ status: "queued", attempts: 0, last_error: null, trigger: "replay" });
    expect((await call(`/runs/${encodeURIComponent(ID)}/replay`, { method: "POST", headers: BEARER }, e)).status).toBe(409);
    expect((await call("/runs/nope/replay", { method: "POST", headers: BEARER }, e)).status).toBe(404);
  });

  it("answers wrong methods with 405 and unknown routes with 404, as JSON", async () => {
    expect((await call("/jobs", { method: "DELETE", headers: BEARER })).status).toBe(405);
    expect((await call("/healthz", { method: "POST" })).status).toBe(405);
    const missing = await call("/nowhere", { headers: BEARER });
    expect(missing).toMatchObject({ status: 404, body: { error: "no such route" } });
  });
});

describe("job arguments and results", () => {
  const ARGS = { region: "eu", limit: 3 };
  const plan = () => recordingEnv({ jobs: [job("with-args", "0 * * * *", { args: ARGS }), job("plain", "0 * * * *")] });
  const runNow = (e: Bindings, name: string, body?: string) => call(`/jobs/${name}/run`, { method: "POST", headers: BEARER, body }, e);
  const argsOf = async (id: string) => (await allRuns()).find((r) => r.execution_id === id)!.args;

  it("POST /jobs/<name>/run without a body runs with the plan's args, or none", async () => {
    const { env: e } = plan();
    const withArgs = await runNow(e, "with-args");
    expect(withArgs).toMatchObject({ status: 202 });
    expect(Object.keys(withArgs.body).sort()).toEqual(["execution_id", "status"]);
    expect(await argsOf(withArgs.body.execution_id)).toBe(JSON.stringify(ARGS));
    expect(await argsOf((await runNow(e, "plain")).body.execution_id)).toBeNull();
    expect(await argsOf((await runNow(e, "with-args", "{}")).body.execution_id)).toBe(JSON.stringify(ARGS)); // no args key: the plan's
  });

  it("POST /jobs/<name>/run stores a body's args instead of the plan's", async () => {
    const { env: e, sent } = plan();
    const res = await runNow(e, "with-args", JSON.stringify({ args: { region: "us", dry_run: true } }));
    expect(res).toMatchObject({ status: 202, body: { status: "queued" } });
    expect(await argsOf(res.body.execution_id)).toBe('{"region":"us","dry_run":true}');
    expect(sent).toEqual([{ execution_id: res.body.execution_id, job: "with-args", scheduled_time: expect.any(String), trigger: "manual" }]);
    const empty = await runNow(e, "with-args", '{"args": {}}'); // explicitly none
    expect(await argsOf(empty.body.execution_id)).toBe("{}");
  });

  it("POST /jobs/<name>/run takes args up to 8 KiB of UTF-8 JSON", async () => {
    const { env: e } = plan();
    // {"s":"…"} is 8 bytes plus the string: 4092 two-byte characters make exactly 8192 bytes.
    const ok = await runNow(e, "plain", JSON.stringify({ args: { s: "é".repeat(4092) } }));
    expect(ok.status).toBe(202);
    const over = await runNow(e, "plain", JSON.stringify({ args: { s: "é".repeat(4093) } }));
    expect(over).toMatchObject({ status: 422, body: { error: "args is over 8 KiB (8194 bytes)" } });
    expect((await allRuns()).length).toBe(1);
  });

  it("POST /jobs/<name>/run answers 422 to a bad body, and inserts nothing", async () => {
    const { env: e, sent } = plan();
    const bad: [string, string][] = [
      ['{"args": []}', "args must be a JSON object"],
      ['{"args": null}', "args must be a JSON object"],
      ['{"args": "region=eu"}', "args must be a JSON object"],
      ["[]", "body must be a JSON object"],
      ['"args"', "body must be a JSON object"],
      ["null", "body must be a JSON object"],
      ['{"args": {}, "job": "plain"}', "unknown field job"],
      ['{"argz": {}}', "unknown field argz"],
      ["args=1", "body is not JSON"],
    ];
    for (const [body, error] of bad) expect(await runNow(e, "with-args", body), body).toMatchObject({ status: 422, body: { error } });
    const huge = await runNow(e, "with-args", JSON.stringify({ args: { s: "x".repeat(70_000) } }));
    expect(huge.status).toBe(413);
    expect(await allRuns()).toEqual([]);
    expect(sent).toEqual([]);
  });

  it("sends a manual run's args in the signed dispatch body, through the real queue", async () => {
    const calls = stubFetch(() => Response.json({ call_id: "fc-1", status: "spawned" }, { status: 202 }));
    const res = await runNow(env, "hourly", JSON.stringify({ args: { day: "2026-11-23" } }));
    await expect.poll(async () => (await allRuns()).map((r) => r.status), { timeout: 5000 }).toEqual(["dispatched"]);
    expect(calls.length).toBe(1);
    expect(JSON.parse(calls[0]!.body)).toMatchObject({ execution_id: res.body.execution_id, trigger: "manual", args: { day: "2026-11-23" } });
    expect(await signedDispatch(calls[0]!)).toBe(true);
  });

  it("POST /runs/<id>/replay keeps the run's args", async () => {
    const { env: e } = recordingEnv();
    await seedRun(ID, "failed", { args: '{"day":"2026-11-23"}' });
    expect((await call(`/runs/${encodeURIComponent(ID)}/replay`, { method: "POST", headers: BEARER }, e)).status).toBe(202);
    expect((await allRuns())[0]).toMatchObject({ status: "queued", trigger: "replay", args: '{"day":"2026-11-23"}' });
  });

  it("the report's result is stored, cut to 2000 characters, on a terminal status only", async () => {
    await seedRun(ID, "dispatched");
    await report(ID, { status: "running", result: "too early" });
    expect((await allRuns())[0]!.result).toBeNull();
    expect((await report(ID, { status: "succeeded", result: "r".repeat(2500) })).status).toBe(200);
    expect((await allRuns())[0]!.result).toBe("r".repeat(2000));
    // The first terminal status wins, and its result with it.
    expect((await report(ID, { status: "succeeded", result: "again" })).body).toMatchObject({ duplicate: true });
    expect((await allRuns())[0]!.result).toBe("r".repeat(2000));
    const failed = "every-5@2026-11-23T09:00Z";
    await seedRun(failed, "running");
    await report(failed, { status: "failed", error: "ValueError", result: "3 of 5 rows" });
    expect((await allRuns()).find((r) => r.execution_id === failed)).toMatchObject({ status: "failed", last_error: "ValueError", result: "3 of 5 rows" });
  });

  it("the report's result must be a string or null", async () => {
    await seedRun(ID, "dispatched");
    for (const result of [42, true, ["a"], { a: 1 }]) {
      expect(await report(ID, { status: "succeeded", result }), JSON.stringify(result)).toMatchObject({ status: 422, body: { error: "result must be a string" } });
    }
    expect((await allRuns())[0]!.status).toBe("dispatched");
    expect((await report(ID, { status: "succeeded", result: null })).status).toBe(200);
    expect((await allRuns())[0]).toMatchObject({ status: "succeeded", result: null });
  });

  it("GET /runs and GET /runs/<id> show args and result as stored", async () => {
    await seedRun(ID, "succeeded", { args: '{"day":"2026-11-23"}', result: "42 rows" });
    await seedRun("every-5@2026-11-23T09:05Z", "succeeded");
    const { body } = await call("/runs", { headers: BEARER });
    expect(body.runs.map((r: RunRow) => [r.execution_id, r.args, r.result])).toEqual([
      ["every-5@2026-11-23T09:05Z", null, null],
      [ID, '{"day":"2026-11-23"}', "42 rows"],
    ]);
    expect((await call(`/runs/${encodeURIComponent(ID)}`, { headers: BEARER })).body).toMatchObject({ args: '{"day":"2026-11-23"}', result: "42 rows" });
  });
});
