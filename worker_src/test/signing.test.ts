import { describe, expect, it } from "vitest";
import vectors from "../../tests/vectors/signing.json";
import { PURPOSES, type Purpose, purposeKey, sign, signedHeaders, verify, verifyLegacy } from "../src/signing";

const URL_A = "https://w.test/runs/job-a@2026-11-23T09:00Z";
const PATH_A = "/runs/job-a@2026-11-23T09:00Z";

describe("signing contract", () => {
  it("matches every shared vector, spelled out with hmac alone in tests/vectors/generate.py", async () => {
    for (const c of vectors.cases) {
      const key = await purposeKey(c.key, c.purpose as Purpose);
      expect(key).toBe(c.purpose_key);
      expect(await sign(key, c.purpose as Purpose, c.method, c.path, c.timestamp, c.body)).toBe(c.signature);
    }
  });

  it("verifies within ±300 s with the current or the next key, for every purpose", async () => {
    const now = Date.parse("2026-11-23T09:00:00Z");
    const body = '{"status":"succeeded"}';
    for (const purpose of PURPOSES) {
      const headers = new Headers(await signedHeaders("next-key", purpose, "POST", URL_A, body, now));
      expect(await verify(["current-key", "next-key"], purpose, "POST", PATH_A, headers, body, now + 299_000)).toBe(true);
      expect(await verify(["current-key", undefined], purpose, "POST", PATH_A, headers, body, now)).toBe(false);
      expect(await verify(["current-key", "next-key"], purpose, "POST", PATH_A, headers, body, now + 301_000)).toBe(false);
      expect(await verify(["current-key", "next-key"], purpose, "POST", PATH_A, headers, body, now - 301_000)).toBe(false);
      expect(await verify(["next-key"], purpose, "POST", PATH_A, headers, body + " ", now)).toBe(false);
    }
  });

  it("binds a signature to its purpose, method and path", async () => {
    const now = Date.parse("2026-11-23T09:00:00Z");
    const headers = new Headers(await signedHeaders("k", "report", "POST", URL_A, "{}", now));
    expect(await verify(["k"], "report", "POST", PATH_A, headers, "{}", now)).toBe(true);
    const others: [Purpose, string, string][] = [
      ["dispatch", "POST", PATH_A],
      ["alert", "POST", PATH_A],
      ["report", "GET", PATH_A],
      ["report", "POST", "/runs/job-b@2026-11-23T09:00Z"],
      ["report", "POST", `${PATH_A}/replay`],
    ];
    for (const [purpose, method, path] of others) expect(await verify(["k"], purpose, method, path, headers, "{}", now)).toBe(false);
    expect(await verifyLegacy(["k"], headers, "{}", now)).toBe(false);
  });

  it("rejects malformed headers", async () => {
    const body = "{}";
    for (const [ts, sig] of [["", ""], ["abc", "v2=00"], ["1795424400", "v1=" + "0".repeat(64)], ["1795424400", "v2=" + "g".repeat(64)]]) {
      const headers = new Headers({ "x-cronflare-timestamp": ts!, "x-cronflare-signature": sig! });
      expect(await verify(["k"], "report", "POST", "/", headers, body, 1795424400_000)).toBe(false);
    }
  });
});
