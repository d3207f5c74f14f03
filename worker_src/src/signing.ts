/** The signed-request contract shared with the dispatcher: v1=hex(HMAC-SHA256(key, ts + "." + body)). */

export const TOLERANCE_S = 300;
export const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    keys.set(secret, key);
  }
  return key;
}

const hex = (bytes: ArrayBuffer) =>
  [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** The signature header value for a body sent at `timestamp` (unix seconds). */
export async function sign(secret: string, timestamp: number, body: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(`${timestamp}.${body}`));
  return `v1=${hex(mac)}`;
}

/** hex(HMAC-SHA256(secret, text)): a value derived from a secret that does not reveal it. */
export async function derive(secret: string, text: string): Promise<string> {
  return hex(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(text)));
}

/** Headers for a signed POST of `body`. */
export async function signedHeaders(secret: string, body: string, now = Date.now()): Promise<Record<string, string>> {
  const timestamp = Math.floor(now / 1000);
  return {
    "content-type": "application/json",
    "x-cronflare-timestamp": String(timestamp),
    "x-cronflare-signature": await sign(secret, timestamp, body),
  };
}

/** Whether a request was signed by one of `secrets` within the tolerance; constant time per key. */
export async function verify(
  secrets: (string | undefined)[],
  headers: Headers,
  body: string,
  now = Date.now(),
): Promise<boolean> {
  const ts = headers.get("x-cronflare-timestamp") ?? "";
  const sig = headers.get("x-cronflare-signature") ?? "";
  if (!/^\d{1,12}$/.test(ts) || Math.abs(now / 1000 - Number(ts)) > TOLERANCE_S) return false;
  const match = /^v1=([0-9a-f]{64})$/.exec(sig);
  if (!match) return false;
  const mac = new Uint8Array(match[1]!.match(/../g)!.map((h) => parseInt(h, 16)));
  const data = encoder.encode(`${ts}.${body}`);
  let ok = false;
  for (const secret of secrets) {
    if (secret && (await crypto.subtle.verify("HMAC", await hmacKey(secret), mac, data))) ok = true;
  }
  return ok;
}

/** Constant-time equality of two strings, by comparing their SHA-256 digests. */
export async function sameSecret(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([a, b].map((s) => crypto.subtle.digest("SHA-256", encoder.encode(s))));
  return crypto.subtle.timingSafeEqual(da!, db!);
}
