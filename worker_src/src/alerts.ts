/**
 * Alerts people can act on (docs/WORKER.md, Alerts): ended runs wait in alert_outbox (the runs_end
 * trigger of migrations/0004 puts every failed, dead and skipped end there; a tick adds a missed
 * one), and a flush sends those the stack's alertOn names to the webhook, signed with the alert
 * purpose key (its receiver holds that key, which signs nothing else), at most one per job per
 * 15 minutes: later ones are folded into the next as a count. The text is escaped for Slack and
 * pings no one on Discord. A failing webhook is logged and counted, and never touches a run.
 */
import { MINUTE } from "./cron";
import { bump, iso } from "./runs";
import { signedHeaders } from "./signing";
import type { Env } from "./types";

/** At most one alert per job per this long. */
export const ALERT_WINDOW_MS = 15 * MINUTE;
/** The key of alerts about the scheduler itself (a missed tick), not one job. */
export const SCHEDULER = "(scheduler)";
/** The longest alert text: Discord refuses a `content` over 2,000 characters (Slack takes far
 * more). The error is cut first, then the rest; the dashboard link is always kept. */
export const TEXT_CAP = 1900;
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
    sends.push(send(env, { ...body, text: alertText(`${n} more alert${n === 1 ? "" : "s"} for ${key} in the last 15 minutes`, null, "", body.url) }));
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
    sends.push(send(env, { ...body, text: alertText(what, e.error, more, url) }));
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

/** Text as Slack shows it and not as markup: `<!channel>`, `<@U1>` or `<https://x|label>` in an
 * error stays plain text (Slack reads markup only between `<` and `>`). */
export const slackEscape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** `text` in at most `room` characters, cut (with an ellipsis) before a split entity or pair. */
function fit(text: string, room: number): string {
  if (text.length <= room) return text;
  if (room <= 0) return "";
  return `${text.slice(0, room - 1).replace(/&[a-z]*$|[\uD800-\uDBFF]$/, "")}…`;
}

/** The `text` (and Discord `content`) of an alert: every piece escaped, at most TEXT_CAP long,
 * ending with our own dashboard link as Slack link markup. */
export function alertText(what: string, error: string | null, more: string, url: string): string {
  const link = ` <${slackEscape(url)}|dashboard>`;
  let room = TEXT_CAP - link.length;
  const head = fit(slackEscape(`cronflare: ${what}`), room);
  room -= head.length;
  const tail = fit(slackEscape(more), room);
  room -= tail.length;
  return `${head}${error ? fit(slackEscape(`: ${error}`), room) : ""}${tail}${link}`;
}

/** POST one alert, signed for the alert purpose only; a failure is logged and counted, never thrown.
 * `content` and `allowed_mentions` are for Discord: no `@everyone`, role or user is ever pinged. */
async function send(env: Env, alert: Record<string, unknown> & { text: string }): Promise<void> {
  if (!env.ALERT_WEBHOOK_URL) return;
  const body = JSON.stringify({ ...alert, content: alert.text, allowed_mentions: { parse: [] } });
  try {
    const headers = await signedHeaders(env.SIGNING_KEY, "alert", "POST", env.ALERT_WEBHOOK_URL, body);
    const res = await fetch(env.ALERT_WEBHOOK_URL, { method: "POST", headers, body, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`answered ${res.status}`);
    await bump(env.DB, "alerts:sent");
  } catch (err) {
    console.error(`alert webhook failed (${String(alert.event)} ${String(alert.execution_id ?? alert.job ?? "")}): ${String(err)}`);
    await bump(env.DB, "alerts:failed");
  }
}
