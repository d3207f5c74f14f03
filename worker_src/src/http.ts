/** Small HTTP helpers: JSON answers, size-capped bodies, admin authentication, security headers. */
import { derive, encoder, sameSecret } from "./signing";

export const MAX_BODY = 64 * 1024;
/** How deeply a run's `args` may nest objects and arrays, itself included (as in Python). */
export const MAX_ARGS_DEPTH = 32;

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export const json = (data: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(data), { status, headers: { "content-type": "application/json", ...headers } });

/** A string's size in UTF-8 bytes. */
export const utf8Bytes = (text: string) => encoder.encode(text).length;

/** Whether a parsed JSON value is an object (not an array, not null). */
export const isObject = (data: unknown): data is Record<string, unknown> =>
  typeof data === "object" && data !== null && !Array.isArray(data);

/** The request body as text, read as a stream and refused (413) as soon as it passes `limit`
 * bytes, whatever Content-Length claims or when it is chunked: a big body costs the limit, not its size. */
export async function readBody(req: Request, limit = MAX_BODY): Promise<string> {
  const tooBig = () => new HttpError(413, `body over ${limit / 1024} KiB`);
  if (Number(req.headers.get("content-length") ?? 0) > limit) throw tooBig();
  const reader = req.body?.getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (let size = 0; reader; ) {
    const { done, value } = await reader.read();
    if (done) break;
    if ((size += value.byteLength) > limit) {
      reader.cancel().catch(() => {});
      throw tooBig();
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}

/** Whether a parsed JSON value nests objects and arrays more than `levels` deep; it stops
 * descending there, so a hostile value costs no deep recursion. */
export const tooDeep = (value: unknown, levels: number): boolean =>
  typeof value === "object" && value !== null && (levels < 1 || Object.values(value).some((v) => tooDeep(v, levels - 1)));

/** Parse JSON into a plain object, or answer 422. */
export function parseObject(text: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new HttpError(422, "body is not JSON");
  }
  if (!isObject(data)) throw new HttpError(422, "body must be a JSON object");
  return data;
}

/** 422 for a body field this route does not take. */
export function onlyFields(body: Record<string, unknown>, ...fields: string[]): void {
  for (const key in body) if (!fields.includes(key)) throw new HttpError(422, `unknown field ${key}`);
}

/** How a request proves it holds the admin token: a Bearer header (scripts, the CLI), or Basic
 * auth with the token as password (a browser opening the dashboard). */
export async function adminAuth(req: Request, token: string): Promise<"bearer" | "basic" | null> {
  // RFC 7235: the scheme is case-insensitive, and one or more spaces separate it from the credentials.
  const [, scheme = "", rest = ""] = /^(\S+) +(.*)$/.exec(req.headers.get("authorization") ?? "") ?? [];
  const kind = scheme.toLowerCase();
  let given = "";
  if (kind === "bearer") given = rest;
  else if (kind === "basic") {
    try {
      given = atob(rest).split(":").slice(1).join(":");
    } catch {
      return null;
    }
  } else return null;
  if (!(given.length > 0 && !!token && (await sameSecret(given, token)))) return null;
  return kind;
}

/** The dashboard's action token: it is in the page only an admin can load, and a POST made with
 * Basic auth must carry it in X-Cronflare-Action. A browser sends Basic credentials on its own,
 * as it sends cookies, so another site's form could otherwise act with them; it cannot read the
 * page, nor set the header without a CORS preflight this Worker never grants. */
export const actionToken = (adminToken: string) => derive(adminToken, "cronflare dashboard actions v1");

/** Whether a Basic-auth POST carries the dashboard's action token. */
export async function hasActionToken(req: Request, adminToken: string): Promise<boolean> {
  const given = req.headers.get("x-cronflare-action") ?? "";
  return given.length > 0 && (await sameSecret(given, await actionToken(adminToken)));
}

/** Headers on every answer: no MIME sniffing, no Referer leaving the admin's URLs, no caching
 * (every route but /healthz needs a token or a signature, and a cached health check lies), HSTS over https. */
export function secured(req: Request, res: Response): Response {
  const out = new Response(res.body, res);
  const h = out.headers;
  h.set("x-content-type-options", "nosniff");
  h.set("referrer-policy", "no-referrer");
  h.set("cache-control", "no-store");
  if (req.url.startsWith("https:")) h.set("strict-transport-security", "max-age=31536000; includeSubDomains");
  return out;
}
