/** Runtime schedules: the API an app uses, least privilege, and how the tick fires them. */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import vectors from "../../tests/vectors/cron.json";
import { jitterOffset } from "../src/cron";
import { fireFrom, runId, type ScheduleRow } from "../src/schedules";
import type { JobSpec } from "../src/types";
import { job } from "./bindings";
import { allRuns, BEARER, call, recordingEnv, tick } from "./helpers";
import { Oracle } from "./oracle";

const APP = { authorization: `Bearer ${env.SCHEDULES_TOKEN}`, "content-type": "application/json" };
const ADMIN = { ...BEARER, "content-type": "application/json" };
const digest: JobSpec = { name: "digest", description: "per-customer digest", schedule: "", timezone: "UTC", enabled: true, runtime: true, args: { kind: "digest" } };
const JOBS = [job("hourly", "0 * * * *"), digest];

/** A stack whose plan has the runtime job `digest`, and what its ticks dispatch. */
const stack = (extra: Partial<JobSpec> = {}, config = {}) => recordingEnv({ jobs: [job("hourly", "0 * * * *"), { ...digest, ...extra }], ...config });

const post = (e: ReturnType<typeof stack>["env"], path: string, body: unknown, headers: Record<string, string> = APP) =>
  call(path, { method: "POST", headers, body: JSON.stringify(body) }, e);

/** Freeze the clock at `at` for the API (create and patch read Date.now()). */
const clock = (at: string) => vi.useFakeTimers({ now: Date.parse(at), toFake: ["Date"] });
afterEach(() => void vi.useRealTimers());

describe("creating runtime schedules", () => {
  it("creates one (201) with its next 3 fire times, and answers the same id again with it (200)", async () => {
    clock("2026-11-23T08:59:30Z");
    const { env: e } = stack();
    const body = { id: "cust-42", schedule: "0 9 * * *", timezone: "Europe/Paris", args: { customer: 42 }, external_id: "42" };
    const first = await post(e, "/jobs/digest/schedules", body);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ id: "cust-42", job: "digest", schedule: "0 9 * * *", timezone: "Europe/Paris", args: { customer: 42 }, paused: false, external_id: "42" });
    expect(first.body.every).toBeUndefined();
    expect(first.body.next).toEqual(["2026-11-24T08:00:00.000Z", "2026-11-25T08:00:00.000Z", "2026-11-26T08:00:00.000Z"]);
    const again = await post(e, "/jobs/digest/schedules", { ...body, schedule: "0 10 * * *" });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
  });

  it("gives 404 for an unknown job, 409 for a job without the opt-in, 409 for another job's id", async () => {
    const { env: e } = stack();
    expect((await post(e, "/jobs/nope/schedules", { schedule: "@daily" })).body.error).toBe("no such job: nope");
    const hourly = await post(e, "/jobs/hourly/schedules", { schedule: "@daily" });
    expect([hourly.status, hourly.body.error]).toEqual([409, "job hourly does not take runtime schedules (runtime_schedules=True in the catalog)"]);
    const { env: two } = recordingEnv({ jobs: [...JOBS, { ...digest, name: "other" }] });
    expect((await post(two, "/jobs/digest/schedules", { id: "a", schedule: "@daily" })).status).toBe(201);
    const taken = await post(two, "/jobs/other/schedules", { id: "a", schedule: "@daily" });
    expect([taken.status, taken.body.error]).toEqual([409, "schedule a belongs to job digest"]);
  });

  it("answers bad input with 422 and every problem as `field: message`, as cronflare check words it", async () => {
    clock("2026-11-23T09:00:00Z");
    const { env: e } = stack();
    const bad = await post(e, "/jobs/digest/schedules", { id: "no/slash", schedule: "61 * * * *", timezone: "Mars/Base", args: [1], end: "2026-01-01", colour: "red" });
    expect(bad.status).toBe(422);
    expect(bad.body.problems).toEqual([
      "colour: unknown field",
      "id: must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit",
      "schedule: minute field '61' is not valid; it takes 0-59, and * , - / as usual",
      "timezone: unknown IANA timezone 'Mars/Base'",
      "args: must be a JSON object",
      "end: must be an ISO 8601 time with a UTC offset, such as 2026-12-01T00:00:00Z",
    ]);
    expect(bad.body.error).toBe(bad.body.problems[0]);
    const every = await post(e, "/jobs/digest/schedules", { every: "15m", timezone: "Europe/Paris" });
    expect(every.body.problems).toEqual(["timezone: every= runs on elapsed UTC time, so timezone Europe/Paris would have no effect; drop the timezone, or write a cron schedule to follow that wall clock"]);
    const two = await post(e, "/jobs/digest/schedules", { schedule: "@daily", every: "1h" });
    expect(two.body.problems).toEqual(["schedule: give exactly one of schedule (a cron or @macro), every (such as 15m) or at (an instant)"]);
    const past = await post(e, "/jobs/digest/schedules", { at: "2026-11-23T08:00:00Z" });
    expect(past.body.problems).toEqual(["at: 2026-11-23T08:00:00.000Z is in the past; a one-time schedule fires in the future"]);
    const jitter = await post(e, "/jobs/digest/schedules", { schedule: "@daily", jitter: "90s", start: "2026-12-02T00:00:00Z", end: "2026-12-01T00:00:00Z" });
    expect(jitter.body.problems).toEqual(["end: must be after start", "jitter: must be whole minutes, such as 5m"]);
    expect(await countSchedules()).toBe(0);
  });

  it("creates up to 1,000 in one batch, answered item by item in order", async () => {
    clock("2026-11-23T09:00:00Z");
    const { env: e } = stack();
    await post(e, "/jobs/digest/schedules", { id: "old", schedule: "@hourly" });
    const res = await post(e, "/jobs/digest/schedules/batch", {
      schedules: [{ id: "a", schedule: "@daily" }, { id: "old", every: "5m" }, { id: "b", schedule: "nope" }, { id: "a", schedule: "@weekly" }, { id: "c", at: "2026-12-24T18:00:00+01:00" }],
    });
    expect(res.status).toBe(200);
    expect(res.body.schedules.map((i: { status: number }) => i.status)).toEqual([201, 200, 422, 200, 201]);
    expect(res.body.schedules[1].schedule.schedule).toBe("@hourly"); // what exists
    expect(res.body.schedules[2].problems, JSON.stringify(res.body.schedules[2])).toEqual(["schedule: 'NOPE' has 1 fields; a cron needs 5: minute hour day-of-month month day-of-week"]);
    expect(res.body.schedules[4].schedule).toMatchObject({ at: "2026-12-24T17:00:00.000Z", next: ["2026-12-24T17:00:00.000Z"] });
    expect(await countSchedules()).toBe(3);
    const stats = await call("/stats", { headers: BEARER }, e);
    expect(stats.body.schedules).toEqual({ total: 3, by_job: { digest: 3 }, orphaned: {} });
    const tooMany = await post(e, "/jobs/digest/schedules/batch", { schedules: Array.from({ length: 1001 }, () => ({ schedule: "@daily" })) });
    expect([tooMany.status, tooMany.body.error]).toEqual([422, "schedules holds 1001; at most 1000 a batch"]);
  });
});

describe("reading, changing and deleting runtime schedules", () => {
  it("lists a job's schedules by id, a page at a time, and by external id", async () => {
    const { env: e } = stack();
    const ids = Array.from({ length: 7 }, (_, i) => `c-${i}`);
    await post(e, "/jobs/digest/schedules/batch", { schedules: ids.map((id, i) => ({ id, schedule: "@daily", external_id: i % 2 ? "odd" : "even" })) });
    const seen: string[] = [];
    let cursor = "";
    for (let page = 0; page < 5; page++) {
      const res = await call(`/jobs/digest/schedules?limit=3&cursor=${cursor}`, { headers: APP }, e);
      seen.push(...res.body.schedules.map((s: { id: string }) => s.id));
      if (!res.body.next_cursor) break;
      cursor = res.body.next_cursor;
    }
    expect(seen).toEqual(ids);
    const odd = await call("/jobs/digest/schedules?external_id=odd", { headers: APP }, e);
    expect(odd.body.schedules.map((s: { id: string }) => s.id)).toEqual(["c-1", "c-3", "c-5"]);
  });

  it("patches any subset of fields, pauses and resumes, and deletes", async () => {
    clock("2026-11-23T09:00:30Z");
    const { env: e } = stack();
    await post(e, "/jobs/digest/schedules", { id: "p", schedule: "*/10 * * * *", args: { a: 1 } });
    const patched = await call("/schedules/p", { method: "PATCH", headers: APP, body: JSON.stringify({ every: "30m", args: null, jitter: "5m" }) }, e);
    expect(patched.body).toMatchObject({ every: "30m", args: null, jitter: "5m", next: ["2026-11-23T09:30:00.000Z", "2026-11-23T10:00:00.000Z", "2026-11-23T10:30:00.000Z"] });
    expect(patched.body.schedule).toBeUndefined();
    expect((await call("/schedules/p", { method: "PATCH", headers: APP, body: JSON.stringify({ id: "q" }) }, e)).body.problems).toEqual(["id: cannot be changed"]);
    const paused = await post(e, "/schedules/p/pause", {});
    expect(paused.body).toMatchObject({ paused: true, next: [] });
    expect((await post(e, "/schedules/p/resume", {})).body).toMatchObject({ paused: false, next: ["2026-11-23T09:30:00.000Z", "2026-11-23T10:00:00.000Z", "2026-11-23T10:30:00.000Z"] });
    expect((await call("/schedules/p", { method: "DELETE", headers: APP }, e)).body).toEqual({ id: "p", deleted: true });
    expect((await call("/schedules/p", { headers: APP }, e)).status).toBe(404);
    expect((await call("/stats", { headers: BEARER }, e)).body.schedules.total).toBe(0);
  });

  it("shows on the dashboard: the job's count, and its schedules a page at a time", async () => {
    const { env: e } = stack();
    await post(e, "/jobs/digest/schedules/batch", { schedules: [{ id: "d-1", schedule: "@daily" }, { id: "d-2", every: "1h" }] });
    const page = await call("/?schedules=digest", { headers: BEARER }, e);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<a href="/?schedules=digest">2 runtime schedules</a>');
    expect(page.body).toContain("<code>d-1</code></td><td><code>@daily</code>");
    expect(page.body).toContain("<code>d-2</code></td><td><code>every 1h</code>");
    const after = await call("/?schedules=digest&after=d-1", { headers: BEARER }, e);
    expect(after.body).not.toContain("<code>d-1</code>");
    expect(after.body).toContain("<code>d-2</code>");
  });

  it("lets the schedules token manage schedules and nothing else; the admin token does both", async () => {
    const { env: e } = stack();
    expect((await post(e, "/jobs/digest/schedules", { id: "x", schedule: "@daily" }, ADMIN)).status).toBe(201);
    expect((await call("/schedules/x", { headers: APP }, e)).status).toBe(200);
    for (const path of ["/jobs", "/runs", "/stats", "/"]) expect((await call(path, { headers: APP }, e)).status, path).toBe(401);
    expect((await post(e, "/jobs/digest/run", {})).status).toBe(401);
    expect((await call("/schedules/x", { headers: { authorization: "Bearer wrong" } }, e)).status).toBe(401);
  });
});

const countSchedules = async () => (await env.DB.prepare("SELECT COUNT(*) AS n FROM schedules").first<{ n: number }>())!.n;
const runsOf = async () => (await allRuns()).filter((r) => r.job === "digest");

describe("the tick fires runtime schedules", () => {
  it("records and dispatches each due schedule's run as <job>@<schedule>@<minute>, with its args, then moves it on", async () => {
    clock("2026-11-23T08:58:00Z");
    const { env: e, sent } = stack();
    await post(e, "/jobs/digest/schedules", { id: "c1", schedule: "0 9 * * *", args: { customer: 1 } });
    await post(e, "/jobs/digest/schedules", { id: "c2", schedule: "*/30 * * * *" });
    await tick(e, "2026-11-23T09:00:00Z");
    expect(sent.filter((m) => m.job === "digest").map((m) => m.execution_id).sort()).toEqual(["digest@c1@2026-11-23T09:00Z", "digest@c2@2026-11-23T09:00Z"]);
    const runs = await runsOf();
    expect(runs.map((r) => [r.execution_id, r.status, r.trigger, r.args])).toEqual([
      ["digest@c1@2026-11-23T09:00Z", "dispatched", "cron", '{"customer":1}'],
      ["digest@c2@2026-11-23T09:00Z", "dispatched", "cron", '{"kind":"digest"}'],
    ]);
    const c1 = await call("/schedules/c1", { headers: APP }, e);
    expect(c1.body.next[0]).toBe("2026-11-24T09:00:00.000Z");
    await tick(e, "2026-11-23T09:00:00Z"); // the same minute again: nothing new
    expect((await runsOf()).length).toBe(2);
    const listed = await call("/runs?schedule=c1", { headers: BEARER }, e);
    expect(listed.body.runs.map((r: { execution_id: string; schedule: string }) => [r.execution_id, r.schedule])).toEqual([["digest@c1@2026-11-23T09:00Z", "c1"]]);
  });

  it("catches up within the window, skips beyond it, as the catalog does", async () => {
    clock("2026-11-23T07:59:00Z");
    const { env: e } = stack({}, { catchup_window_minutes: 30 });
    await post(e, "/jobs/digest/schedules", { id: "q", schedule: "*/20 * * * *" });
    await tick(e, "2026-11-23T09:00:00Z");
    const runs = await runsOf();
    expect(runs.map((r) => [r.execution_id.split("@")[2], r.status, r.trigger])).toEqual([
      ["2026-11-23T08:00Z", "skipped", "catchup"],
      ["2026-11-23T08:20Z", "skipped", "catchup"],
      ["2026-11-23T08:40Z", "dispatched", "catchup"],
      ["2026-11-23T09:00Z", "dispatched", "cron"],
    ]);
    expect(runs[0]!.last_error).toBe("missed tick, older than the 30-minute catch-up window");
  });

  it("makes no run while a schedule or its job is paused, and makes none up on resume", async () => {
    clock("2026-11-23T08:59:00Z");
    const { env: e } = stack();
    await post(e, "/jobs/digest/schedules", { id: "m", schedule: "* * * * *" });
    await post(e, "/jobs/digest/schedules", { id: "n", schedule: "* * * * *", paused: true });
    await post(e, "/jobs/digest/pause", {}, ADMIN);
    await tick(e, "2026-11-23T09:00:00Z");
    await tick(e, "2026-11-23T09:01:00Z");
    expect(await runsOf()).toEqual([]);
    await post(e, "/jobs/digest/resume", {}, ADMIN);
    clock("2026-11-23T09:01:30Z");
    await post(e, "/schedules/n/resume", {});
    await tick(e, "2026-11-23T09:02:00Z");
    expect((await runsOf()).map((r) => r.execution_id)).toEqual(["digest@m@2026-11-23T09:02Z", "digest@n@2026-11-23T09:02Z"]);
  });

  it("records each fire of a schedule whose job left the catalog as skipped, with the reason", async () => {
    clock("2026-11-23T08:59:30Z");
    const { env: e } = stack();
    await post(e, "/jobs/digest/schedules", { id: "o", schedule: "* * * * *" });
    const { env: without } = recordingEnv({ jobs: [job("hourly", "0 * * * *")] });
    await tick(without, "2026-11-23T09:00:00Z");
    const [run] = await runsOf();
    expect([run!.execution_id, run!.status, run!.last_error]).toEqual(["digest@o@2026-11-23T09:00Z", "skipped", "job digest is no longer in the catalog"]);
    expect((await call("/stats", { headers: BEARER }, without)).body.schedules.orphaned).toEqual({ digest: 1 });
    // Still listed under its old job, so that it can be found and deleted.
    const left = await call("/jobs/digest/schedules", { headers: APP }, without);
    expect(left.body.schedules.map((x: { id: string }) => x.id)).toEqual(["o"]);
    expect((await call("/jobs/never-was/schedules", { headers: APP }, without)).status).toBe(404);
    const { env: optedOut } = stack({ runtime: undefined });
    await tick(optedOut, "2026-11-23T09:01:00Z");
    expect((await runsOf())[1]!.last_error).toBe("job digest no longer takes runtime schedules");
  });

  it("fires a one-time `at` schedule once, and never again", async () => {
    clock("2026-11-23T08:00:00Z");
    const { env: e, sent } = stack();
    await post(e, "/jobs/digest/schedules", { id: "once", at: "2026-11-23T09:00:20Z" });
    await tick(e, "2026-11-23T09:00:00Z");
    await tick(e, "2026-11-23T09:01:00Z");
    await tick(e, "2026-11-23T09:02:00Z");
    const digests = () => sent.filter((m) => m.job === "digest").map((m) => m.execution_id);
    expect(digests()).toEqual(["digest@once@2026-11-23T09:01Z"]);
    expect((await call("/schedules/once", { headers: APP }, e)).body.next).toEqual([]);
    clock("2026-11-25T09:00:00Z");
    await tick(e, "2026-11-25T09:00:00Z");
    expect(digests().length).toBe(1);
  });

  it("fires within [start, end), and dispatches a run its jitter after its minute, under the minute's id", async () => {
    clock("2026-11-23T08:00:30Z");
    const { env: e, sent } = stack();
    await post(e, "/jobs/digest/schedules", { id: "w", schedule: "*/10 * * * *", start: "2026-11-23T09:05:00Z", end: "2026-11-23T09:30:00Z" });
    await post(e, "/jobs/digest/schedules", { id: "j", schedule: "0 * * * *", jitter: "30m" });
    const offset = jitterOffset("digest@j@2026-11-23T09:00Z", 30);
    let seen = -1;
    for (let m = 0; m <= 40; m++) {
      await tick(e, new Date(Date.parse("2026-11-23T09:00:00Z") + m * 60_000).toISOString());
      if (seen < 0 && sent.some((r) => r.execution_id.startsWith("digest@j@"))) seen = m;
    }
    expect(sent.filter((r) => r.execution_id.startsWith("digest@w@")).map((r) => r.scheduled_time)).toEqual(["2026-11-23T09:10:00.000Z", "2026-11-23T09:20:00.000Z"]);
    const jittered = (await runsOf()).filter((r) => r.execution_id.startsWith("digest@j@"));
    expect(jittered.map((r) => [r.execution_id, r.scheduled_time, r.trigger])).toEqual([["digest@j@2026-11-23T09:00Z", "2026-11-23T09:00:00.000Z", "cron"]]);
    // Dispatched by the tick of 09:00 + its offset, which its id decides.
    expect(offset).toBeGreaterThan(0);
    expect(seen).toBe(offset);
  });

  it("follows the DST rule, L and # in time zones: each fire once, minute by minute through a change", async () => {
    clock("2026-03-28T00:00:00Z");
    const { env: e, sent } = stack();
    // Berlin skips 02:00-03:00 on 2026-03-29: 02:30 runs at 03:00 CEST (01:00Z).
    await post(e, "/jobs/digest/schedules", { id: "gap", schedule: "30 2 * * *", timezone: "Europe/Berlin" });
    for (let m = 0; m <= 150; m++) await tick(e, new Date(Date.parse("2026-03-29T00:00:00Z") + m * 60_000).toISOString());
    expect(sent.filter((r) => r.job === "digest").map((r) => r.execution_id)).toEqual(["digest@gap@2026-03-29T01:00Z"]);
  });
});

describe("runtime fire times against the shared vectors (the catalog's oracle)", () => {
  it("agrees on every case: DST gaps and folds, L, #, leap days", () => {
    const mismatches: string[] = [];
    for (const c of vectors.cases) {
      const row = { id: "v", job: "digest", schedule: c.cron, timezone: c.timezone, start_at: null, end_at: null } as ScheduleRow;
      const got = fireFrom(row, Date.parse(c.after) / 60_000 + 1, c.next.length).map((m) => new Date(m * 60_000).toISOString().replace(".000Z", "Z"));
      if (JSON.stringify(got) !== JSON.stringify(c.next)) mismatches.push(`${c.cron} ${c.timezone} after ${c.after}: ${got} != ${c.next}`);
    }
    expect(vectors.cases.length).toBeGreaterThanOrEqual(80);
    expect(mismatches).toEqual([]);
    expect(runId({ job: "digest", id: "v" }, Date.parse("2026-11-23T09:00:00Z") / 60_000)).toBe("digest@v@2026-11-23T09:00Z");
  });
});

describe("runtime schedules against the catalog's oracle, through the tick", () => {
  it("fires L, # and a DST zone's schedules at the oracle's minutes, caught up across 3-hour gaps", { timeout: 60_000 }, async () => {
    clock("2027-12-31T23:00:00Z");
    const { env: e } = stack({}, { catchup_window_minutes: 240 });
    // Santiago leaves DST on 2028-04-02 (a fold) and Lord Howe its half hour the same night.
    const cases = [
      ["last-day", "30 23 L * *", "UTC"],
      ["second-fri", "0 18 * * 5#2", "America/New_York"],
      ["last-mon", "15 0 * * 1L", "America/Santiago"],
      ["fold", "30 1 * * *", "Australia/Lord_Howe"],
      ["gap", "30 2 * * SUN", "Europe/Berlin"],
    ] as const;
    for (const [id, schedule, timezone] of cases) expect((await post(e, "/jobs/digest/schedules", { id, schedule, timezone })).status).toBe(201);
    const from = Date.parse("2028-01-01T00:00:00Z");
    const to = Date.parse("2028-04-05T00:00:00Z");
    for (let t = from; t <= to; t += 3 * 3600_000) await tick(e, new Date(t).toISOString());
    const runs = await runsOf();
    expect(runs.every((r) => r.status === "dispatched")).toBe(true);
    for (const [id, schedule, timezone] of cases) {
      const got = runs.filter((r) => r.execution_id.startsWith(`digest@${id}@`)).map((r) => r.scheduled_time).sort();
      const want = new Oracle(schedule, timezone).dueIn(Date.parse("2027-12-31T23:00:00Z"), to).map((t) => new Date(t).toISOString());
      expect(got, `${id} ${schedule} ${timezone}`).toEqual(want);
      expect(got.length).toBeGreaterThan(0);
    }
  });
});
