/** Hostile HTTP: security headers on every answer, bodies capped while read, auth header
 * variants, deep args, old backfills and hostile strings; a refused request changes nothing. */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Bindings } from "../src/types";
import { job } from "./bindings";
import { allRuns, BEARER, call, dbSnapshot, type IncomingRequest, recordingEnv, seedRun, worker } from "./helpers";

const TOKEN = env.ADMIN_TOKEN;
const basic = (user: string, password: string) => `Basic ${btoa(`${user}:${password}`)}`;
const post = (path: string, body: unknown, headers: Record<string, string> = BEARER, e: Bindings = env) =>
  call(path, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) }, e);
const page = (e: Bindings = env, query = "") => call(`/${query}`, { headers: BEARER }, e);

/** Fail the test unless `act` leaves every table as it was. */
async function changesNothing(act: () => Promise<unknown>) {
  const before = await dbSnapshot();
  await act();
  expect(await dbSnapshot()).toBe(before);
}

/** A body of `total` bytes, made one 16 KiB chunk per pull, and how many chunks were pulled. */
function lazyBody(total: number) {
  const chunk = new Uint8Array(16 * 1024).fill(0x20);
  const seen = { pulls: 0 };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (seen.pulls++ * chunk.length >= total) controller.close();
      else controller.enqueue(chunk.slice());
    },
  });
  return { stream, seen };
}

describe("security headers", () => {
  const everywhere = (headers: Headers) => {
    expect(headers.get("x-content-type-options")).toBe("nosniff");
    expect(headers.get("referrer-policy")).toBe("no-referrer");
    expect(headers.get("cache-control")).toBe("no-store");
    expect(headers.get("strict-transport-security")).toBe("max-age=31536000; includeSubDomains");
  };

  it("are on every answer: health, 401, 403, 404, 405, 413, 422, the dashboard, the API, a POST, the callback", async () => {
    const answers = {
      healthz: await call("/healthz"),
      unauthenticated: await call("/jobs"),
      unauthenticatedDashboard: await call("/"),
      forbidden: await call("/jobs/hourly/run", { method: "POST", headers: { authorization: basic("admin", TOKEN) } }),
      noRoute: await call("/nope", { headers: BEARER }),
      noJob: await post("/jobs/nope/run", {}),
      wrongMethod: await call("/jobs/hourly/run", { headers: BEARER }),
      tooBig: await post("/jobs/hourly/pause", { reason: "x".repeat(70_000) }),
      badBody: await post("/jobs/hourly/pause", { why: 1 }),
      dashboard: await page(),
      runs: await call("/runs", { headers: BEARER }),
      pause: await post("/jobs/hourly/pause", { reason: "r" }),
      unsignedCallback: await post("/runs/hourly%402026-11-23T09%3A00Z", { status: "succeeded" }, {}),
    };
    expect(Object.fromEntries(Object.entries(answers).map(([k, v]) => [k, v.status]))).toEqual({
      healthz: 200,
      unauthenticated: 401,
      unauthenticatedDashboard: 401,
      forbidden: 403,
      noRoute: 404,
      noJob: 404,
      wrongMethod: 405,
      tooBig: 413,
      badBody: 422,
      dashboard: 200,
      runs: 200,
      pause: 200,
      unsignedCallback: 401,
    });
    for (const res of Object.values(answers)) everywhere(res.headers);
  });

  it("give the dashboard a CSP that allows only its own inline script and style, by hash", async () => {
    const { headers, body: html } = await page();
    expect(headers.get("x-frame-options")).toBe("DENY");
    const csp = headers.get("content-security-policy")!;
    const directives = Object.fromEntries(csp.split("; ").map((d) => [d.split(" ")[0], d.split(" ").slice(1).join(" ")]));
    const scripts = [...html.matchAll(/<script>([^]*?)<\/script>/g)].map((m) => m[1]!);
    const styles = [...html.matchAll(/<style>([^]*?)<\/style>/g)].map((m) => m[1]!);
    expect([scripts.length, styles.length, html.match(/<script/g)!.length, html.match(/<style/g)!.length]).toEqual([1, 1, 1, 1]);
    const hash = async (text: string) => `'sha256-${btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)))))}'`;
    expect(directives).toEqual({
      "default-src": "'none'",
      "script-src": await hash(scripts[0]!),
      "style-src": await hash(styles[0]!),
      "connect-src": "'self'",
      "form-action": "'self'",
      "frame-ancestors": "'none'",
      "base-uri": "'none'",
    });
    // The CSP allows neither inline handlers nor style attributes: the page must use neither.
    expect(html).not.toMatch(/<[^>]*\s(on[a-z]+|style)\s*=/i);
    // The filter form submits to this page (form-action 'self'), by GET.
    expect(html).toMatch(/<form id="filter">/);
    // JSON answers carry no CSP of their own, and the same page twice gets the same policy.
    expect((await call("/runs", { headers: BEARER })).headers.get("content-security-policy")).toBeNull();
    expect((await page()).headers.get("content-security-policy")).toBe(csp);
  });

  it("send HSTS only over https", async () => {
    const res = await worker.fetch!(new Request("http://cronflare.test/healthz") as IncomingRequest, env, createExecutionContext());
    expect(res.status).toBe(200);
    expect(res.headers.get("strict-transport-security")).toBeNull();
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect((await call("/healthz")).headers.get("strict-transport-security")).toContain("max-age=31536000");
  });
});

describe("bodies are capped while they are read", () => {
  const streamed = (path: string, body: ReadableStream | string, headers: Record<string, string> = BEARER) =>
    call(path, { method: "POST", headers, body });

  it("refuses a chunked body with no Content-Length once it passes 64 KiB, without reading the rest", async () => {
    for (const path of ["/jobs/hourly/pause", "/jobs/hourly/run", "/jobs/hourly/backfill", "/runs/hourly%402026-11-23T09%3A00Z"]) {
      const { stream, seen } = lazyBody(32 * 1024 * 1024); // 2,048 chunks, if anyone read them all
      await changesNothing(async () => {
        const res = await streamed(path, stream, path.startsWith("/runs/") ? {} : BEARER);
        expect([res.status, res.body.error]).toEqual([413, "body over 64 KiB"]);
      });
      expect(seen.pulls).toBeGreaterThan(4); // it did read up to the limit
      expect(seen.pulls).toBeLessThan(10);
    }
  });

  it("takes a chunked body under the limit, a character split across chunks included", async () => {
    const bytes = new TextEncoder().encode(JSON.stringify({ reason: "naïve € ✓" }));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 3) controller.enqueue(bytes.slice(i, i + 3));
        controller.close();
      },
    });
    const res = await streamed("/jobs/hourly/pause", stream);
    expect(res).toMatchObject({ status: 200, body: { reason: "naïve € ✓" } });
  });

  it("refuses a body that is bigger than its Content-Length says, and one that claims too much", async () => {
    const big = JSON.stringify({ reason: "x".repeat(100_000) });
    await changesNothing(async () => {
      const lie = await streamed("/jobs/hourly/pause", big, { ...BEARER, "content-length": "20" });
      expect(lie.status).toBe(413);
      const claim = await streamed("/jobs/hourly/pause", "{}", { ...BEARER, "content-length": String(65 * 1024) });
      expect(claim.status).toBe(413);
    });
    const exact = await streamed("/jobs/hourly/pause", JSON.stringify({ reason: "y".repeat(400) }).padEnd(64 * 1024, " "));
    expect(exact.status).toBe(200); // exactly 64 KiB is allowed
  });
});

describe("admin auth", () => {
  it("takes the scheme in any case, and one or more spaces before the credentials", async () => {
    for (const header of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `BEARER ${TOKEN}`, `bEaReR ${TOKEN}`, `Bearer    ${TOKEN}`, basic("admin", TOKEN), `basic ${btoa(`admin:${TOKEN}`)}`, `BASIC ${btoa(`:${TOKEN}`)}`]) {
      expect([header, (await call("/jobs", { headers: { authorization: header } })).status]).toEqual([header, 200]);
    }
  });

  it("refuses a missing, empty, wrong or malformed credential with 401, changing nothing", async () => {
    const refused = [
      undefined,
      "",
      "Bearer",
      "Bearer ",
      "Bearer  ",
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN} ${TOKEN}`,
      `Bearer\t${TOKEN}`,
      `Bearer${TOKEN}`,
      `Token ${TOKEN}`,
      `${TOKEN}`,
      basic("admin", "wrong"),
      basic(TOKEN, ""),
      `Basic ${btoa(TOKEN)}`, // no colon: the token as user name is no password
      "Basic !!!not-base64",
      "Basic ",
    ];
    await changesNothing(async () => {
      for (const header of refused) {
        const headers: Record<string, string> = header === undefined ? {} : { authorization: header };
        const res = await call("/jobs/hourly/pause", { method: "POST", headers, body: "{}" });
        expect([header, res.status, res.headers.get("www-authenticate")]).toEqual([header, 401, 'Bearer realm="cronflare"']);
        expect((await call("/", { headers })).status).toBe(401);
      }
    });
  });
});

describe("run args nest at most 32 levels", () => {
  /** An args object whose objects and arrays nest `levels` deep, itself included. */
  const nested = (levels: number): Record<string, unknown> => {
    let value: unknown = [];
    for (let i = 0; i < levels - 2; i++) value = i % 2 ? [value] : { b: value };
    return levels > 1 ? { a: value } : {};
  };

  it("takes 32 levels and refuses 33 with 422", async () => {
    const { env: e, sent } = recordingEnv();
    await changesNothing(async () => {
      const res = await post("/jobs/hourly/run", { args: nested(33) }, BEARER, e);
      expect(res).toMatchObject({ status: 422, body: { error: "args is nested deeper than 32 levels" } });
    });
    const ok = await post("/jobs/hourly/run", { args: nested(32) }, BEARER, e);
    expect(ok.status).toBe(202);
    expect(sent).toHaveLength(1);
    expect(JSON.parse((await allRuns())[0]!.args!)).toEqual(nested(32));
  });

  it("refuses args nested as deep as 64 KiB allows with 422, not a 500", async () => {
    const levels = 30_000;
    const text = `{"args":{"a":${"[".repeat(levels)}${"]".repeat(levels)}}}`;
    await changesNothing(async () => {
      const res = await call("/jobs/hourly/run", { method: "POST", headers: BEARER, body: text });
      expect(res).toMatchObject({ status: 422, body: { error: "args is nested deeper than 32 levels" } });
    });
  });
});

describe("a backfill stays within the run log's retention", () => {
  const DAY = 86_400_000;
  const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();

  it("refuses a window that starts before the retention, naming it, and impossible dates", async () => {
    const { env: e, sent } = recordingEnv({ run_retention_days: 90 });
    const cases: [unknown, string][] = [
      [{ from: ago(91), to: ago(89) }, "before the run log's retention of 90 days"],
      [{ from: "-271821-04-20T00:00:00.000Z", to: ago(1) }, "retention of 90 days"],
      [{ from: "-271821-04-19T00:00:00.000Z", to: ago(1) }, "from must be an ISO 8601 time"],
      [{ from: "+275760-09-13T00:00:00.000Z", to: ago(1) }, "from must be before to"],
      [{ from: ago(1), to: "+275760-09-13T00:00:00.000Z" }, "in the future"],
      [{ from: 0, to: ago(1) }, "from must be an ISO 8601 time"],
      [{ from: "0", to: ago(1) }, "retention"],
    ];
    await changesNothing(async () => {
      for (const [body, why] of cases) {
        const res = await post("/jobs/weekly-report/backfill", body, BEARER, e);
        expect([body, res.status, res.body.error]).toEqual([body, 422, expect.stringContaining(why)]);
      }
    });
    expect(sent).toEqual([]);
    const inside = await post("/jobs/weekly-report/backfill", { from: ago(89), to: ago(0) }, BEARER, e);
    expect(inside.status).toBe(200);
    expect(inside.body.enqueued).toBeGreaterThanOrEqual(12);
  });
});

describe("hostile strings are shown only escaped", () => {
  const HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</textarea><b>x", "'onmouseover='alert(1)", "\u202Egnp.exe", `<${"x".repeat(5000)}>`];
  /** No markup came from the data: one script, one style, no image, no bidi override. */
  const inert = (html: string) => {
    expect(html.match(/<script/g)!.length).toBe(1);
    expect(html.match(/<style/g)!.length).toBe(1);
    expect(html).not.toMatch(/<img|<\/textarea|<x{10}|onmouseover='|\u202E/);
    for (const h of HOSTILE) expect(html).not.toContain(h);
  };

  it("in a job name in the path: a JSON 404 that a browser will not sniff as HTML", async () => {
    await changesNothing(async () => {
      for (const h of HOSTILE) {
        for (const path of [`/jobs/${encodeURIComponent(h)}/run`, `/jobs/${encodeURIComponent(h)}/pause`, `/runs/${encodeURIComponent(h)}`]) {
          const res = await call(path, { method: path.endsWith("s/" + encodeURIComponent(h)) ? "GET" : "POST", headers: BEARER });
          expect(res.status).toBe(404);
          expect(res.headers.get("content-type")).toBe("application/json");
          expect(res.headers.get("x-content-type-options")).toBe("nosniff");
        }
      }
      inert((await page(env, `?job=${encodeURIComponent(HOSTILE[1]!)}`)).body);
    });
  });

  it("in a pause reason, a run's error and result, a run id and job names of the plan", async () => {
    for (const [i, h] of HOSTILE.entries()) {
      await seedRun(`hourly@2026-11-23T0${i}:00Z`, "failed", { last_error: h, result: h });
      await seedRun(`hourly@${h}`, "dead", { scheduled_time: `2026-11-22T0${i}:00:00.000Z`, last_error: h });
    }
    expect((await post("/jobs/hourly/pause", { reason: HOSTILE[1] })).status).toBe(200);
    const { body: html } = await page();
    inert(html);
    expect(html).toContain("paused: &#34;&#62;&#60;img src=x onerror=alert(1)&#62;");
    expect(html).toContain("&#60;script&#62;alert(1)&#60;/script&#62;");
    expect(html).toContain("[U+202E]gnp.exe"); // a bidi override is shown, not obeyed

    const { env: e } = recordingEnv({ jobs: HOSTILE.map((h) => job(h, "0 * * * *", { description: h })) });
    const plan = await page(e);
    expect(plan.status).toBe(200);
    inert(plan.body);
    expect(plan.body).toContain(`data-p="/jobs/${encodeURIComponent(HOSTILE[0]!)}/run"`);
  });
});
