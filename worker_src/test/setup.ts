// Apply the real migrations once, and start every test from an empty run log and scheduler state.
import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, vi } from "vitest";
import { forgetSpans } from "../src/zone";

beforeAll(async () => {
  await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
});

beforeEach(async () => {
  vi.restoreAllMocks();
  forgetSpans(); // each test starts as a new isolate would: no zone spans but D1's
  await env.DB.batch([env.DB.prepare("DELETE FROM runs"), env.DB.prepare("DELETE FROM scheduler_state")]);
});
