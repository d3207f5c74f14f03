/** Small HTTP helpers: JSON answers, size-capped bodies, admin authentication. */
import { encoder, sameSecret } from "./signing";

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

/** Bearer token, or Basic auth with the token as password (so a browser can open the dashboard). */
export async function isAdmin(req: Request, token: string): Promise<boolean> {
  const header = req.headers.get("authorization") ?? "";
  let given = "";
  if (header.startsWith("Bearer ")) given = header.slice(7);
  else if (header.startsWith("Basic ")) {
    try {
      given = atob(header.slice(6)).split(":").slice(1).join(":");
    } catch {
      return false;
    }
  }
  return given.length > 0 && !!token && (await sameSecret(given, token));
}
