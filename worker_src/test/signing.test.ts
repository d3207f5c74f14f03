import { describe, expect, it } from "vitest";
import vectors from "../../tests/vectors/signing.json";
import { sign, signedHeaders, verify } from "../src/signing";

describe("signing contract", () => {
  it("matches every shared vector", async () => {
    for (const c of vectors.cases) expect(await sign(c.key, c.timestamp, c.body)).toBe(c.signature);
  });

  it("verifies within ±300 s with the current or the next key", async () => {
    const now = Date.parse("2026-11-23T09:00:00Z");
    const body = '{"status":"succeeded"}';
    const headers = new Headers(await signedHeaders("next-key", body, now));
    expect(await verify(["current-key", "next-key"], headers, body, now + 299_000)).toBe(true);
    expect(await verify(["current-key", undefined], headers, body, now)).toBe(false);
    expect(await verify(["current-key", "next-key"], headers, body, now + 301_000)).toBe(false);
    expect(await verify(["current-key", "next-key"], headers, body, now - 301_000)).toBe(false);
    expect(await verify(["next-key"], headers, body + " ", now)).toBe(false);
  });

  it("rejects malformed headers", async () => {
    const body = "{}";
    for (const [ts, sig] of [["", ""], ["abc", "v1=00"], ["1795424400", "v2=" + "0".repeat(64)], ["1795424400", "v1=" + "g".repeat(64)]]) {
      const headers = new Headers({ "x-cronflare-timestamp": ts!, "x-cronflare-signature": sig! });
      expect(await verify(["k"], headers, body, 1795424400_000)).toBe(false);
    }
  });
});
