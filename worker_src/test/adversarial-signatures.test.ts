/** Signatures as an attacker tries them: each authorizes one purpose, method, run and moment,
 * and a refused request leaves D1 exactly as it was. */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { signedHeaders } from "../src/signing";
import { JOBS } from "./bindings";
import { call, dbSnapshot, report, seedRun } from "./helpers";

const A = "hourly@2026-11-23T09:00Z";
const B = "hourly@2026-11-23T10:00Z";
const urlOf = (id: string) => `https://cronflare.test/runs/${encodeURIComponent(id)}`;
const post = (id: string, headers: Record<string, string>, body: string) => call(`/runs/${encodeURIComponent(id)}`, { method: "POST", headers, body });
const SUCCEEDED = JSON.stringify({ status: "succeeded", started_at: "2026-11-23T09:00:01Z", finished_at: "2026-11-23T09:00:09Z" });

/** The v1 headers the Worker took before signatures were bound: HMAC(key, ts "." body). */
async function legacyHeaders(key: string, body: string, now = Date.now()) {
  const ts = Math.floor(now / 1000);
  const k = await crypto.subtle.importKey("raw", new TextEncoder().encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(`${ts}.${body}`));
  const hex = [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { "content-type": "application/json", "x-cronflare-timestamp": String(ts), "x-cronflare-signature": `v1=${hex}` };
}

/** Expect a 401 that changed nothing. */
async function refused(attempt: () => Promise<{ status: number; body: any }>) {
  const before = await dbSnapshot();
  const res = await attempt();
  expect(res.status).toBe(401);
  expect(res.body).toMatchObject({ scheme: "cronflare-v2" });
  expect(await dbSnapshot()).toBe(before);
}

describe("a report's signature authorizes one run", () => {
  beforeEach(async () => {
    await seedRun(A, "dispatched");
    await seedRun(B, "dispatched");
  });

  it("a report signed for run A is refused for run B", async () => {
    const headers = await signedHeaders(env.SIGNING_KEY, "report", "POST", urlOf(A), SUCCEEDED);
    await refused(() => post(B, headers, SUCCEEDED));
    expect((await post(A, headers, SUCCEEDED)).status).toBe(200);
  });

  it("a report signed for run A's replay path, or with another method, is refused", async () => {
    for (const [method, url] of [["POST", `${urlOf(A)}/replay`], ["PUT", urlOf(A)]] as const) {
      await refused(async () => post(A, await signedHeaders(env.SIGNING_KEY, "report", method, url, SUCCEEDED), SUCCEEDED));
    }
  });

  it("a dispatch or an alert signature, however valid, is no report", async () => {
    for (const purpose of ["dispatch", "alert"] as const) {
      await refused(async () => post(A, await signedHeaders(env.SIGNING_KEY, purpose, "POST", urlOf(A), SUCCEEDED), SUCCEEDED));
    }
  });

  it("a stale or future timestamp is refused, 300 s either way is taken", async () => {
    for (const skew of [301_000, -301_000, 86_400_000]) {
      await refused(() => report(A, SUCCEEDED, env.SIGNING_KEY, Date.now() - skew));
    }
    expect((await report(A, SUCCEEDED, env.SIGNING_KEY, Date.now() - 290_000)).status).toBe(200);
  });

  it("a key that is neither the current nor the next, or no signature, is refused; the next key works", async () => {
    await refused(() => report(A, SUCCEEDED, "guessed-key"));
    await refused(() => post(A, { "content-type": "application/json" }, SUCCEEDED));
    await refused(() => post(A, { "x-cronflare-timestamp": String(Math.floor(Date.now() / 1000)), "x-cronflare-signature": "v2=" + "0".repeat(64) }, SUCCEEDED));
    expect((await report(B, SUCCEEDED, env.SIGNING_KEY_NEXT)).status).toBe(200);
  });
});

describe("upgrading to v2: a v1 report is taken only for runs in flight at the upgrade", () => {
  const since = (ms: number) =>
    env.DB.prepare("INSERT OR REPLACE INTO scheduler_state (key, value) VALUES ('signing_v2_since', ?1)").bind(new Date(ms).toISOString()).run();
  // Moves the scheduled time and keeps when the run last changed.
  const scheduledAt = (id: string, ms: number) =>
    env.DB.prepare("UPDATE runs SET updated_after = updated_after + scheduled_ms - ?2, scheduled_ms = ?2 WHERE execution_id = ?1").bind(id, ms).run();

  it("a run scheduled before the v2 migration ends by its v1 report, within one report timeout", async () => {
    await seedRun(A, "running");
    await scheduledAt(A, Date.now() - 120_000);
    await since(Date.now() - 60_000);
    const res = await post(A, await legacyHeaders(env.SIGNING_KEY, SUCCEEDED), SUCCEEDED);
    expect(res).toMatchObject({ status: 200, body: { execution_id: A, status: "succeeded" } });
  });

  it("a run scheduled after the migration, a run not in the log, or a bad v1 key is refused", async () => {
    await seedRun(B, "running");
    await scheduledAt(B, Date.now());
    await since(Date.now() - 60_000);
    await refused(async () => post(B, await legacyHeaders(env.SIGNING_KEY, SUCCEEDED), SUCCEEDED));
    await refused(async () => post("hourly@2026-11-23T11:00Z", await legacyHeaders(env.SIGNING_KEY, SUCCEEDED), SUCCEEDED));
    await scheduledAt(B, Date.now() - 120_000);
    await refused(async () => post(B, await legacyHeaders("guessed-key", SUCCEEDED), SUCCEEDED));
  });

  it("once a report timeout has passed since the migration, v1 is never taken", async () => {
    await seedRun(A, "running");
    await scheduledAt(A, Date.now() - 10 * 86_400_000);
    await since(Date.now() - JOBS.report_timeout_seconds * 1000 - 1000);
    await refused(async () => post(A, await legacyHeaders(env.SIGNING_KEY, SUCCEEDED), SUCCEEDED));
  });

  it("on a stack that never had v1 (no migration mark), v1 is refused", async () => {
    await seedRun(A, "running");
    await refused(async () => post(A, await legacyHeaders(env.SIGNING_KEY, SUCCEEDED), SUCCEEDED));
  });
});
