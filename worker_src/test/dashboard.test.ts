import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { duration, relative, renderDashboard } from "../src/dashboard";
import type { RunRow } from "../src/types";
import { type IncomingRequest, seedRun, worker } from "./helpers";
import { createExecutionContext } from "cloudflare:test";

const page = async () => {
  const res = await worker.fetch!(
    new Request("https://cronflare.test/", { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } }) as IncomingRequest,
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
    await env.DB.prepare("UPDATE runs SET started_at = '2026-11-21T09:00:00.000Z', finished_at = '2026-11-21T09:00:01.500Z' WHERE status = 'succeeded'").run();
    const html = await page();
    const rows = html.split('<table id="runs">')[1]!.match(/<tr>/g)!.length - 1;
    expect(rows).toBe(50); // the 50 most recent
    expect(html).toContain('<b>12</b>failed');
    expect(html).toMatch(/<b>\d+<\/b>dead/);
    expect(html).toContain("1.5 s");
    expect(html).toContain('<span class="s succeeded">succeeded</span>');
  });

  it("escapes what it shows", () => {
    const evil = { execution_id: "<script>x</script>", job: "j", scheduled_time: "2026-11-23T09:00:00Z", trigger: "cron", status: "failed", attempts: 1, call_id: null, last_error: '"><img src=x>', created_at: "", updated_at: "", started_at: null, finished_at: null } as RunRow;
    const html = renderDashboard({ mode: "tick", jobs: [], runs: [evil], counts: {}, now: 0 });
    expect(html).not.toContain("<script>x");
    expect(html).not.toContain("<img");
  });

  it("shows relative times and durations people read", () => {
    const now = Date.parse("2026-11-23T09:00:00Z");
    expect(relative("2026-11-23T09:05:00Z", now)).toBe("in 5 min");
    expect(relative("2026-11-23T06:00:00Z", now)).toBe("3 h ago");
    expect(relative("2026-11-20T09:00:00Z", now)).toBe("3 d ago");
    const run = { created_at: "2026-11-23T09:00:00Z", started_at: null, finished_at: "2026-11-23T09:00:00.250Z" } as RunRow;
    expect(duration(run)).toBe("250 ms");
  });
});
