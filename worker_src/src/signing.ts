/**
 * The signed-request contract shared with the Modal side (docs/SECURITY.md, "What is signed"):
 * v2=hex(HMAC-SHA256(purpose key, "cronflare-v2\n" purpose "\n" METHOD "\n" path "\n" ts "\n" body)),
 * where each purpose (dispatch, report, alert) has its own key derived from the stack's signing key.
 */

export const TOLERANCE_S = 300;
export const SCHEME = "cronflare-v2";
export const PURPOSES = ["dispatch", "report", "alert"] as const;
export type Purpose = (typeof PURPOSES)[number];
export const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();
const purposeKeys = new Map<string, Promise<string>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    keys.set(secret, key);
  }
  return key;
}

const hex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** hex(HMAC-SHA256(secret, text)): a value derived from a secret that does not reveal it. */
export async function derive(secret: string, text: string): Promise<string> {
  return hex(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(text)));
}

/** The key one purpose signs with: holding it signs that purpose only (the alert key is handed
 * to webhook receivers, who must not be able to sign a report or a dispatch). */
export function purposeKey(signingKey: string, purpose: Purpose): Promise<string> {
  const id = `${purpose}\n${signingKey}`;
  let key = purposeKeys.get(id);
  if (!key) purposeKeys.set(id, (key = derive(signingKey, `${SCHEME} purpose ${purpose}`)));
  return key;
}

/** What a signature covers, one field per line: nothing signed for one thing reads as another. */
export const canonical = (purpose: Purpose, method: string, path: string, timestamp: number | string, body: string) =>
  `${SCHEME}\n${purpose}\n${method.toUpperCase()}\n${path}\n${timestamp}\n${body}`;

/** The path a signature covers: percent-decoded, as the receiving framework routes it. */
export function signedPath(url: string | URL): string {
  return decodeURIComponent(new URL(url).pathname);
}

/** The X-Cronflare-Signature value, made with a purpose key (see purposeKey). */
export async function sign(key: string, purpose: Purpose, method: string, path: string, timestamp: number, body: string): Promise<string> {
  return `v2=${await derive(key, canonical(purpose, method, path, timestamp, body))}`;
}

/** Headers for a signed JSON request of `body` to `url`, with the stack's signing key. */
export async function signedHeaders(
  signingKey: string,
  purpose: Purpose,
  method: string,
  url: string | URL,
  body: string,
  now = Date.now(),
): Promise<Record<string, string>> {
  const timestamp = Math.floor(now / 1000);
  const key = await purposeKey(signingKey, purpose);
  return {
    "content-type": "application/json",
    "x-cronflare-timestamp": String(timestamp),
    "x-cronflare-signature": await sign(key, purpose, method, signedPath(url), timestamp, body),
  };
}

/** The request's timestamp when it is within the tolerance, else null. */
function freshTimestamp(headers: Headers, now: number): string | null {
  const ts = headers.get("x-cronflare-timestamp") ?? "";
  return /^\d{1,12}$/.test(ts) && Math.abs(now / 1000 - Number(ts)) <= TOLERANCE_S ? ts : null;
}

const unhex = (text: string) => new Uint8Array(text.match(/../g)!.map((h) => parseInt(h, 16)));

/** Whether a request was signed for this purpose, method and path by one of the stack's signing
 * keys (current and next generation) within ±300 s. Every key is tried, so timing tells nothing. */
export async function verify(
  signingKeys: (string | undefined)[],
  purpose: Purpose,
  method: string,
  path: string,
  headers: Headers,
  body: string,
  now = Date.now(),
): Promise<boolean> {
  const ts = freshTimestamp(headers, now);
  const match = /^v2=([0-9a-f]{64})$/.exec(headers.get("x-cronflare-signature") ?? "");
  if (ts === null || !match) return false;
  const mac = unhex(match[1]!);
  const data = encoder.encode(canonical(purpose, method, path, ts, body));
  let ok = false;
  for (const secret of signingKeys) {
    if (secret && (await crypto.subtle.verify("HMAC", await hmacKey(await purposeKey(secret, purpose)), mac, data))) ok = true;
  }
  return ok;
}

/** The pre-v2 scheme, v1=hex(HMAC-SHA256(signing key, ts + "." + body)): it binds no run, path
 * or purpose. Only reports of runs already in flight when a stack upgraded are verified with it,
 * for one report timeout (src/api.ts, legacyReport; docs/SECURITY.md, "Upgrading"). */
export async function verifyLegacy(signingKeys: (string | undefined)[], headers: Headers, body: string, now = Date.now()): Promise<boolean> {
  const ts = freshTimestamp(headers, now);
  const match = /^v1=([0-9a-f]{64})$/.exec(headers.get("x-cronflare-signature") ?? "");
  if (ts === null || !match) return false;
  const mac = unhex(match[1]!);
  const data = encoder.encode(`${ts}.${body}`);
  let ok = false;
  for (const secret of signingKeys) {
    if (secret && (await crypto.subtle.verify("HMAC", await hmacKey(secret), mac, data))) ok = true;
  }
  return ok;
}

/** Constant-time equality of two strings, by comparing their SHA-256 digests. */
export async function sameSecret(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([a, b].map((s) => crypto.subtle.digest("SHA-256", encoder.encode(s))));
  return crypto.subtle.timingSafeEqual(da!, db!);
}
