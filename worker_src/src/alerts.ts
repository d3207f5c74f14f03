/**
 * Alerts people can act on (docs/WORKER.md, Alerts): ended runs wait in alert_outbox (the runs_end
 * trigger of migrations/0004 puts every failed, dead and skipped end there; a tick adds a missed
 * one), and a flush sends those the stack's alertOn names to the webhook, signed like every other
 * request, at most one per job per 15 minutes: later ones are folded into the next as a count.
 * A failing webhook is logged and counted, and never touches a run.
 */
import { MINUTE } from "./cron";
import { bump, iso } from "./runs";
import { signedHeaders } from "./signing";
import type { Env } from "./types";

/** At most one alert per job per this long. */
export const ALERT_WINDOW_MS = 15 * MINUTE;
/** The key of alerts about the scheduler itself (a missed tick), not one job. */
export const SCHEDULER = "(scheduler)";
const BATCH = 50;

interface Event {
  id: number;
  job: string;
  execution_id: string | null;
  status: string;
  error: string | null;
  at: string;
}

/** Record that ticks were missed for longer than the catch-up window. */
export async function noteMissed(env: Env, last: number, now: number): Promise<void> {
  const error = `no tick from ${iso(last)} to ${iso(now)}: runs older than the ${env.JOBS.catchup_window_minutes}-minute catch-up window were recorded skipped`;
  await env.DB.prepare("INSERT INTO alert_outbox (job, status, error, at) VALUES (?1, 'missed', ?2, ?3)").bind(SCHEDULER, error, iso(now)).run();
}

/** Send what waits in the outbox, fold what comes too soon, and tell the folded counts whose
 * window has passed. Reads the outbox and the folded jobs only: nothing when all is quiet. */
export async function flushAlerts(env: Env, now = Date.now()): Promise<void> {
  const db = env.DB;
  const since = iso(now - ALERT_WINDOW_MS);
  const [outbox, ripe] = await db.batch([
    db.prepare(`SELECT * FROM alert_outbox ORDER BY id LIMIT ${BATCH}`),
    db.prepare("SELECT key, folded FROM alert_state WHERE folded > 0 AND last_sent < ?1").bind(since),
  ]);
  const events = outbox!.results as unknown as Event[];
  const folded = ripe!.results as unknown as { key: string; folded: number }[];
  if (!events.length && !folded.length) return;
  const wanted = new Set<string>(env.JOBS.alert_on);
  // A paused job's skipped runs are what its pause asked for: no alert.
  const alerting = events.filter((e) => wanted.has(e.status) && !(e.status === "skipped" && e.error?.startsWith("paused")));
  const keys = [...new Set(alerting.map((e) => e.job))];
  const state = new Map<string, { last_sent: string; folded: number }>();
  if (keys.length) {
    const { results } = await db
      .prepare("SELECT key, last_sent, folded FROM alert_state WHERE key IN (SELECT value FROM json_each(?1))")
      .bind(JSON.stringify(keys))
      .all<{ key: string; last_sent: string; folded: number }>();
    for (const { key, ...s } of results) state.set(key, s);
  }
  const sends: Promise<void>[] = [];
  for (const { key, folded: n } of folded) {
    state.set(key, { last_sent: iso(now), folded: 0 });
    const body = { event: "runs.folded", job: key === SCHEDULER ? null : key, folded: n, url: link(env, key) };
    sends.push(send(env, { ...body, text: `cronflare: ${n} more alert${n === 1 ? "" : "s"} for ${key} in the last 15 minutes ${body.url}` }));
  }
  for (const e of alerting) {
    const s = state.get(e.job);
    if (s && s.last_sent >= since) {
      s.folded++;
      continue;
    }
    state.set(e.job, { last_sent: iso(now), folded: 0 });
    const more = s?.folded ? ` (and ${s.folded} more since ${s.last_sent})` : "";
    const what = e.execution_id ? `${e.execution_id} ${e.status}` : e.status;
    const url = link(env, e.job, e.status);
    const body = { event: `run.${e.status}`, job: e.job === SCHEDULER ? null : e.job, execution_id: e.execution_id, status: e.status, error: e.error, at: e.at, folded: s?.folded ?? 0, url };
    sends.push(send(env, { ...body, text: `cronflare: ${what}${e.error ? `: ${e.error}` : ""}${more} ${url}` }));
  }
  await Promise.all(sends);
  const upsert = db.prepare(
    "INSERT INTO alert_state (key, last_sent, folded) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET last_sent = excluded.last_sent, folded = excluded.folded",
  );
  await db.batch([
    ...(events.length ? [db.prepare("DELETE FROM alert_outbox WHERE id <= ?1").bind(events.at(-1)!.id)] : []),
    ...[...state].map(([key, s]) => upsert.bind(key, s.last_sent, s.folded)),
  ]);
}

/** The dashboard, filtered to the job (and status) an alert is about. */
function link(env: Env, job: string, status?: string): string {
  const url = new URL("/", env.PUBLIC_URL);
  if (job !== SCHEDULER) url.searchParams.set("job", job);
  if (status && status !== "missed") url.searchParams.set("status", status);
  return url.toString();
}

/** POST one alert, signed; a failure is logged and counted, never thrown. */
async function send(env: Env, alert: Record<string, unknown>): Promise<void> {
  if (!env.ALERT_WEBHOOK_URL) return;
  const body = JSON.stringify(alert);
  try {
    const res = await fetch(env.ALERT_WEBHOOK_URL, { method: "POST", headers: await signedHeaders(env.SIGNING_KEY, body), body, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`answered ${res.status}`);
    await bump(env.DB, "alerts:sent");
  } catch (err) {
    console.error(`alert webhook failed (${String(alert.event)} ${String(alert.execution_id ?? alert.job ?? "")}): ${String(err)}`);
    await bump(env.DB, "alerts:failed");
  }
}
