/**
 * Skew: whether the Worker and the Modal dispatcher run the same catalog. The plan carries the
 * catalog's hash and the dispatcher's /healthz reports the one it was deployed with. scheduled()
 * asks at the first tick after a Worker deploy, then at most hourly (each check wakes the
 * dispatcher, which Modal scales to zero), and keeps the answer in D1 for GET /jobs and the
 * dashboard.
 */
import { HOUR } from "./cron";
import { iso, setStateValue } from "./runs";
import type { Env } from "./types";

export interface Skew {
  status: "in sync" | "out of sync" | "unchecked" | "check failed";
  /** What a person reads: "in sync", "out of sync: Worker <h1>, Modal <h2>", "check failed: …". */
  message: string;
  worker: string;
  modal: string | null;
  checked_at: string | null;
}

const CHECK_TIMEOUT_MS = 5000;

/** The cached answer as this Worker sees it: one made for another plan is no answer. */
export function readSkew(cached: string | null, worker: string): Skew {
  try {
    const skew = JSON.parse(cached ?? "null") as Skew | null;
    if (skew && skew.worker === worker) return skew;
  } catch {
    // unreadable: checked again at the next tick
  }
  return { status: "unchecked", message: "not checked yet: the next tick asks the dispatcher", worker, modal: null, checked_at: null };
}

/** Whether a tick at `now` should ask the dispatcher again. */
export function skewDue(skew: Skew, now: number): boolean {
  if (!skew.checked_at) return true;
  const age = now - Date.parse(skew.checked_at);
  return !(age >= 0 && age < HOUR);
}

/** Ask the dispatcher's /healthz for its catalog hash, compare, and keep the answer. Never
 * throws: a failed check is an answer too. */
export async function checkSkew(env: Env, now: number): Promise<Skew> {
  const worker = env.JOBS.catalog_hash;
  const base = { worker, checked_at: iso(now) };
  let skew: Skew;
  try {
    const res = await fetch(new URL("healthz", env.DISPATCH_URL), { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
    const body = (await res.json().catch(() => null)) as { catalog_hash?: unknown } | null;
    const modal = typeof body?.catalog_hash === "string" ? body.catalog_hash : null;
    if (!res.ok || modal === null) {
      const why = res.ok ? "its /healthz reports no catalog_hash (a dispatcher older than this Worker?)" : `its /healthz answered ${res.status}`;
      skew = { ...base, status: "check failed", message: `check failed: ${why}`, modal };
    } else if (modal === worker) {
      skew = { ...base, status: "in sync", message: "in sync", modal };
    } else {
      skew = { ...base, status: "out of sync", message: `out of sync: Worker ${worker}, Modal ${modal}`, modal };
    }
  } catch (err) {
    skew = { ...base, status: "check failed", message: `check failed: the dispatcher could not be reached (${String(err)})`, modal: null };
  }
  await setStateValue(env.DB, "skew", JSON.stringify(skew));
  return skew;
}
