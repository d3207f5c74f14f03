// Apply the real migrations once, and start every test from an empty run log and scheduler
// state, no runtime schedule, no paused job, no counts or alerts, and a skew check just answered "in sync" (so that a tick asks the
// dispatcher nothing unless a test says so: test/ops.test.ts).
import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, vi } from "vitest";
import { forgetSpans } from "../src/zone";
import { JOBS } from "./bindings";

beforeAll(async () => {
  await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
});

beforeEach(async () => {
  vi.restoreAllMocks();
  forgetSpans(); // each test starts as a new isolate would: no zone spans but D1's
  const skew = { status: "in sync", message: "in sync", worker: JOBS.catalog_hash, modal: JOBS.catalog_hash, checked_at: new Date().toISOString() };
  await env.DB.batch([
    env.DB.prepare("DELETE FROM runs"),
    env.DB.prepare("DELETE FROM runs_before_0006"),
    env.DB.prepare("DELETE FROM runs_before_0008"),
    env.DB.prepare("DELETE FROM paused_jobs"),
    env.DB.prepare("DELETE FROM schedules"),
    env.DB.prepare("DELETE FROM counters"),
    env.DB.prepare("DELETE FROM alert_outbox"),
    env.DB.prepare("DELETE FROM alert_state"),
    env.DB.prepare("DELETE FROM scheduler_state"),
    env.DB.prepare("INSERT INTO scheduler_state (key, value) VALUES ('skew', ?1)").bind(JSON.stringify(skew)),
  ]);
});
