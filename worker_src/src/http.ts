/** Small HTTP helpers: JSON answers, size-capped bodies, admin authentication. */
import { derive, encoder, sameSecret } from "./signing";

export const MAX_BODY = 64 * 1024;
const TOO_BIG = "body over 64 KiB";

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

/** The request body as text, refusing more than 64 KiB whatever Content-Length claims. */
export async function readBody(req: Request): Promise<string> {
  if (Number(req.headers.get("content-length") ?? 0) > MAX_BODY) throw new HttpError(413, TOO_BIG);
  const text = await req.text();
  if (utf8Bytes(text) > MAX_BODY) throw new HttpError(413, TOO_BIG);
  return text;
}

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
  const header = req.headers.get("authorization") ?? "";
  let given = "";
  if (header.startsWith("Bearer ")) given = header.slice(7);
  else if (header.startsWith("Basic ")) {
    try {
      given = atob(header.slice(6)).split(":").slice(1).join(":");
    } catch {
      return null;
    }
  }
  if (!(given.length > 0 && !!token && (await sameSecret(given, token)))) return null;
  return header.startsWith("Bearer ") ? "bearer" : "basic";
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
