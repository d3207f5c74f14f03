/** Alerts as an attacker shapes them: hostile run ids and errors render as plain text, ping no one,
 * fit Slack and Discord, and the alert's signature is good for an alert receiver and nothing else. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ALERT_WINDOW_MS, flushAlerts, TEXT_CAP } from "../src/alerts";
import { MINUTE } from "../src/cron";
import { purposeKey, sign, signedHeaders, signedPath, verify } from "../src/signing";
import type { Env, JobsConfig } from "../src/types";
import { call, dbSnapshot, recordingEnv, seedRun, stubFetch } from "./helpers";

const MARKUP = "<!channel> <!here> <https://evil.test|click> & <@U123> <#C1> <!subteam^S1> @everyone @here";
const HOSTILE: [string, string][] = [
  ["Slack markup and mentions", MARKUP],
  ["an HTML end tag", "</script><script>alert(1)</script>"],
  ["5,000 characters of markup", `${MARKUP} `.repeat(Math.ceil(5000 / (MARKUP.length + 1))).slice(0, 5000)],
  ["5,000 ampersands (each 5 characters escaped)", "&".repeat(5000)],
  ["5,000 UTF-16 units of emoji", "😀".repeat(2500)],
];
const A = "hourly@2026-11-23T09:00Z";
const B = "hourly@2026-11-23T10:00Z";

const escaped = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
const plan = (config: Partial<JobsConfig> = {}, extra: Partial<Env> = {}) => recordingEnv(config, extra).env;

/** Flush the outbox to a stub webhook; the alerts posted, parsed, with their requests. */
async function flush(e: Env, now = Date.now()) {
  const calls = stubFetch(() => new Response("ok"));
  await flushAlerts(e, now);
  return calls.map((c) => ({ call: c, alert: JSON.parse(c.body), headers: new Headers(c.init.headers as HeadersInit) }));
}

/** What every alert's text must be: plain text but for our own link at its end, within the cap. */
function expectSafe(alert: { text: string; content: string; url: string; allowed_mentions: unknown }) {
  const link = ` <${escaped(alert.url)}|dashboard>`;
  expect(alert.text.endsWith(link)).toBe(true);
  const shown = alert.text.slice(0, -link.length);
  expect(shown).not.toMatch(/[<>]/); // no <!channel>, <@U..>, <http..|..> or any other markup
  expect(shown).not.toMatch(/&(?!amp;|lt;|gt;)/); // every & begins a whole entity, none cut
  expect(() => encodeURIComponent(alert.text)).not.toThrow(); // no surrogate pair cut in half
  expect(alert.text.length).toBeLessThanOrEqual(TEXT_CAP);
  expect(alert.content).toBe(alert.text);
  expect(alert.allowed_mentions).toEqual({ parse: [] });
}

describe("an alert shows hostile run data as plain text", () => {
  it.each(HOSTILE)("an error of %s", async (_, error) => {
    await seedRun(A, "dead", { last_error: error });
    const [sent, ...more] = await flush(plan());
    expect(more).toEqual([]);
    const { alert } = sent!;
    expectSafe(alert);
    expect(alert.error).toBe(error); // the field for programs keeps the error as it was
    expect(alert.text.startsWith(`cronflare: ${A} dead: `)).toBe(true);
    if (error.includes("<")) expect(alert.text).toContain("&lt;");
    if (escaped(error).length > TEXT_CAP) expect(alert.text).toContain("…");
    else expect(alert.text).toContain(escaped(error));
  });

  it("a hostile execution id and job name, in a run's alert and in the folded count after it", async () => {
    const job = "<!here>&<#C1|x>"; // no "@": seedRun splits the id there
    const ids = [`${job}@<https://evil.test|x>`, `${job}@2`];
    for (const [i, id] of ids.entries()) await seedRun(id, "dead", { scheduled_time: `2026-11-23T09:0${i}:00.000Z`, last_error: "@everyone" });
    const now = Date.now();
    const first = await flush(plan(), now);
    expect(first.map((s) => s.alert.execution_id)).toEqual([ids[0]]);
    expect(first[0]!.alert.text).toContain(`cronflare: ${escaped(ids[0]!)} dead: @everyone`);
    const folded = await flush(plan(), now + ALERT_WINDOW_MS + MINUTE);
    expect(folded.map((s) => s.alert)).toMatchObject([{ event: "runs.folded", job, folded: 1 }]);
    expect(folded[0]!.alert.text).toContain(`1 more alert for ${escaped(job)}`);
    for (const { alert } of [...first, ...folded]) {
      expectSafe(alert);
      expect(new URL(alert.url).searchParams.get("job")).toBe(job); // the link filters by the real name
    }
  });

  it("a missed tick's alert is escaped and capped like any other", async () => {
    await env.DB.prepare("INSERT INTO alert_outbox (job, status, error, at) VALUES ('(scheduler)', 'missed', ?1, ?2)").bind(HOSTILE[2]![1], new Date().toISOString()).run();
    const [sent] = await flush(plan({ alert_on: ["missed"] }));
    expectSafe(sent!.alert);
    expect(sent!.alert).toMatchObject({ job: null, status: "missed" });
  });
});

describe("an alert's signature is good for an alert receiver and nothing else", () => {
  it("verifies for the alert purpose only, and with the alert key alone", async () => {
    await seedRun(A, "dead", { last_error: MARKUP });
    const [sent] = await flush(plan());
    const { call: c, headers } = sent!;
    const path = signedPath(c.url);
    expect(await verify([env.SIGNING_KEY], "alert", "POST", path, headers, c.body)).toBe(true);
    for (const purpose of ["report", "dispatch"] as const) expect(await verify([env.SIGNING_KEY], purpose, "POST", path, headers, c.body)).toBe(false);
    // What a receiver does with the alertSigningKey output: it never sees the signing key.
    const alertKey = await purposeKey(env.SIGNING_KEY, "alert");
    expect(alertKey).not.toBe(env.SIGNING_KEY);
    const ts = Number(headers.get("x-cronflare-timestamp"));
    expect(await sign(alertKey, "alert", "POST", path, ts, c.body)).toBe(headers.get("x-cronflare-signature"));
  });

  // A failed run's alert body has `status: "failed"`, a well-formed report. Were its signature
  // taken as a report's, whoever holds an alert (or the alert key) could end any run in flight.
  for (const [where, hook] of [
    ["the configured webhook", undefined],
    ["a webhook URL on the Worker's own report route", `https://cronflare.test/runs/${encodeURIComponent(B)}`],
  ] as const) {
    it(`replayed to the report route is refused and changes nothing (signed for ${where})`, async () => {
      await seedRun(A, "failed", { last_error: "boom" });
      await seedRun(B, "dispatched");
      const [sent] = await flush(plan({ alert_on: ["failed"] }, hook ? { ALERT_WEBHOOK_URL: hook } : {}));
      expect(sent!.alert).toMatchObject({ status: "failed", error: "boom" });
      const before = await dbSnapshot();
      for (const id of [B, A]) {
        const res = await call(`/runs/${encodeURIComponent(id)}`, { method: "POST", headers: sent!.call.init.headers as HeadersInit, body: sent!.call.body });
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject({ scheme: "cronflare-v2" });
      }
      expect(await dbSnapshot()).toBe(before);
      // The same body signed as a report is taken: only the alert purpose stood in the way.
      const url = `https://cronflare.test/runs/${encodeURIComponent(B)}`;
      const headers = await signedHeaders(env.SIGNING_KEY, "report", "POST", url, sent!.call.body);
      expect((await call(`/runs/${encodeURIComponent(B)}`, { method: "POST", headers, body: sent!.call.body })).status).toBe(200);
    });
  }
});
