import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { duration, relative, renderDashboard } from "../src/dashboard";
import type { RunRow } from "../src/types";
import { type IncomingRequest, seedRun, worker } from "./helpers";
import { createExecutionContext } from "cloudflare:test";

const page = async (query = "") => {
  const res = await worker.fetch!(
    new Request(`https://cronflare.test/${query}`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } }) as IncomingRequest,
    env,
    createExecutionContext(),
  );
  expect(res.headers.get("content-type")).toContain("text/html");
  return res.text();
};

describe("dashboard", () => {
  it("renders with zero runs", async () => {
    const html = await page();
    expect(html).toContain("No runs yet.");
    for (const name of ["every-5", "hourly", "weekly-report", "berlin-digest", "off"]) expect(html).toContain(`<b>${name}</b>`);
    expect(html).toContain("never ran");
    expect(html).toContain('<span class="s skipped">disabled</span>');
  });

  it("renders many runs with statuses, counts and durations", async () => {
    for (let i = 0; i < 120; i++) {
      const minute = String(i % 60).padStart(2, "0");
      await seedRun(`every-5@2026-11-2${1 + Math.floor(i / 60)}T09:${minute}Z`, i % 10 === 0 ? "failed" : i % 17 === 0 ? "dead" : "succeeded");
    }
    const at = (iso: string) => `${Date.parse(iso)} - scheduled_ms`;
    await env.DB.prepare(`UPDATE runs SET started_after = ${at("2026-11-21T09:00:00.000Z")}, finished_after = ${at("2026-11-21T09:00:01.500Z")} WHERE status = 'succeeded'`).run();
    const html = await page();
    const rows = html.split('<table id="runs">')[1]!.match(/<tr>/g)!.length - 1;
    expect(rows).toBe(50); // the 50 most recent
    expect(html).toContain('<b>12</b>failed');
    expect(html).toMatch(/<b>\d+<\/b>dead/);
    expect(html).toContain("1.5 s");
    expect(html).toContain('<span class="s succeeded">succeeded</span>');
  });

  it("escapes what it shows", () => {
    const evil = { execution_id: "<script>x</script>", job: "j", scheduled_time: "2026-11-23T09:00:00Z", trigger: "cron", status: "failed", attempts: 1, call_id: null, last_error: '"><img src=x>', updated_at: "", started_at: null, finished_at: null } as RunRow;
    const html = renderDashboard({ mode: "tick", jobs: [], runs: [evil], counts: {}, now: 0 });
    expect(html).not.toContain("<script>x");
    expect(html).not.toContain("<img");
  });

  it("gives each enabled job run now and pause, a paused one resume and its reason", async () => {
    await env.DB.prepare("INSERT INTO paused_jobs (job, reason, since) VALUES ('hourly', 'vendor <down>', '2026-11-23T09:00:00.000Z')").run();
    const html = await page();
    const row = (name: string) => html.split(`<tr data-job="${name}">`)[1]!.split("</tr>")[0]!;
    expect(row("hourly")).toContain('<span class="s paused">paused: vendor &#60;down&#62;</span>');
    expect(row("hourly")).toContain('<button data-p="/jobs/hourly/resume">resume</button>');
    expect(row("hourly")).not.toContain(">pause<");
    expect(row("every-5")).toContain('<button data-p="/jobs/every-5/run">run now</button>');
    expect(row("every-5")).toContain('<button data-p="/jobs/every-5/pause" data-r="every-5">pause</button>');
    expect(row("off")).not.toContain("<button"); // disabled: nothing to act on
  });

  it("offers replay on failed, dead and skipped runs only, and a strip of each job's last 30 runs", async () => {
    const statuses = ["succeeded", "failed", "dead", "skipped", "running"];
    for (let i = 0; i < 35; i++) await seedRun(`every-5@2026-11-23T08:${String(i).padStart(2, "0")}Z`, statuses[i % 5]);
    const html = await page();
    const replays = html.match(/data-p="\/runs\/[^"]+\/replay"/g)!;
    expect(replays.length).toBe(21); // 35 runs: 7 each of failed, dead, skipped
    const strip = html.split('<tr data-job="every-5">')[1]!.split('<div class="strip">')[1]!.split("</div>")[0]!;
    const cells = [...strip.matchAll(/<i class="s (\w+)" title="([^"]+)"><\/i>/g)];
    expect(cells.length).toBe(30);
    expect(cells.at(-1)![2]).toBe("every-5@2026-11-23T08:34Z running"); // oldest left, newest right
    expect(html.split('<tr data-job="hourly">')[1]!.split("</tr>")[0]).toContain('<div class="strip"></div>');
  });

  it("filters the run table by job and status, and keeps the choice in the form", async () => {
    await seedRun("every-5@2026-11-23T08:00Z", "failed");
    await seedRun("every-5@2026-11-23T08:05Z", "succeeded");
    await seedRun("hourly@2026-11-23T08:00Z", "failed");
    const html = await page("?job=every-5&status=failed");
    const runs = html.split('<table id="runs">')[1]!;
    expect(runs.match(/<code>[^<]+<\/code>/g)).toEqual(["<code>every-5@2026-11-23T08:00Z</code>"]);
    expect(html).toContain("<option selected>every-5</option>");
    expect(html).toContain("<option selected>failed</option>");
    const anyStatus = await page("?job=every-5&status=");
    expect(anyStatus.split('<table id="runs">')[1]!.match(/<code>[^<]+<\/code>/g)).toHaveLength(2);
    const allJobs = await page("?job=&status=failed");
    expect(allJobs.split('<table id="runs">')[1]!.match(/<code>[^<]+<\/code>/g)).toHaveLength(2);
    const bad = await worker.fetch!(new Request("https://cronflare.test/?status=nope", { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } }) as IncomingRequest, env, createExecutionContext());
    expect(bad.status).toBe(400);
  });

  it("shows no rows, not an error, for a job filter the plan does not know", async () => {
    await seedRun("every-5@2026-11-23T08:00Z", "failed");
    const html = await page("?job=nosuch");
    expect(html.split('<table id="runs">')[1]).toContain("No runs yet.");
    expect(html).toContain("<b>every-5</b>");
  });

  it("shows the skew check", async () => {
    expect(await page()).toMatch(/<span class="skew in-sync" title="checked 20\d\d-[^"]+Z">in sync<\/span>/);
  });

  it("shows relative times and durations people read", () => {
    const now = Date.parse("2026-11-23T09:00:00Z");
    expect(relative("2026-11-23T09:05:00Z", now)).toBe("in 5 min");
    expect(relative("2026-11-23T06:00:00Z", now)).toBe("3 h ago");
    expect(relative("2026-11-20T09:00:00Z", now)).toBe("3 d ago");
    const run = { updated_at: "2026-11-23T08:00:00Z", started_at: "2026-11-23T09:00:00Z", finished_at: "2026-11-23T09:00:00.250Z" } as RunRow;
    expect(duration(run)).toBe("250 ms");
    expect(duration({ ...run, started_at: null })).toBe(""); // skipped, or failed before its job started
  });
});

describe("dashboard: runtime schedules", () => {
  it("shows a runtime job's schedule count, a page of its schedules with the next, and which schedule made a run", () => {
    const digest = { name: "digest", description: "d", schedule: "", timezone: "UTC", enabled: true, runtime: true as const, next: [], last: null, schedules: 1200 };
    const run = { execution_id: "digest@cust-7@2026-11-23T09:00Z", job: "digest", scheduled_time: "2026-11-23T09:00:00.000Z", trigger: "cron", status: "succeeded", attempts: 1, call_id: null, last_error: null, updated_at: "", started_at: null, finished_at: null, args: null, result: null } as const;
    const rows = [{ id: "cust-7", schedule: "0 9 * * *", timezone: "Europe/Paris", next: ["2026-11-24T08:00:00.000Z"], paused: false, external_id: "7" }, { id: "cust-8", at: "2026-12-24T17:00:00.000Z", timezone: "UTC", next: [], paused: true, external_id: null }];
    const html = renderDashboard({ mode: "tick", jobs: [digest], runs: [run], counts: {}, now: Date.parse("2026-11-23T10:00:00Z"), schedules: { job: "digest", rows, next_cursor: "cust-8" } });
    expect(html).toContain('<a href="/?schedules=digest">1200 runtime schedules</a>');
    expect(html).toContain("<h2>Runtime schedules of digest</h2>");
    expect(html).toContain("<code>cust-7</code></td><td><code>0 9 * * *</code></td><td>Europe/Paris</td>");
    expect(html).toContain("<code>at 2026-12-24T17:00:00.000Z</code>");
    expect(html).toContain('href="/?schedules=digest&amp;after=cust-8">next page</a>');
    expect(html).toContain('<div class="muted">schedule cust-7</div>');
  });
});
