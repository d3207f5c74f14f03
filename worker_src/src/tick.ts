/** scheduled(): find every run due since the last evaluated minute, record it, enqueue it. */
import { MINUTE, schedulesFor } from "./cron";
import { advanceMinute, failSilentRuns, insertRuns, iso, lastMinute, type NewRun } from "./runs";
import type { Env, JobMessage } from "./types";

/** How far back a late tick looks at all; older misses are beyond recording (docs/WORKER.md). */
export const MAX_LOOKBACK_MS = 7 * 24 * 60 * MINUTE;

/** `<job>@2026-11-23T09:00Z`: the deterministic id that makes a duplicate fire a no-op. */
export const executionId = (job: string, minute: number) =>
  `${job}@${iso(minute).slice(0, 16)}Z`;

/** The runs due in (from, to]: `cron` at `to`, `catchup` before it, `skipped` beyond the window. */
export function dueRuns(env: Env, from: number, to: number): NewRun[] {
  const cfg = env.JOBS;
  const window = cfg.catchup_window_minutes * MINUTE;
  const runs: NewRun[] = [];
  for (const s of schedulesFor(cfg.jobs)) {
    if (!s.job.enabled) continue;
    for (const t of s.dueIn(from, to)) {
      const late = to - t > window;
      runs.push({
        execution_id: executionId(s.job.name, t),
        job: s.job.name,
        scheduled_time: iso(t),
        trigger: t === to ? "cron" : "catchup",
        status: late ? "skipped" : "queued",
        last_error: late ? `missed tick, older than the ${cfg.catchup_window_minutes}-minute catch-up window` : undefined,
        args: s.job.args && JSON.stringify(s.job.args),
      });
    }
  }
  return runs;
}

/** Enqueue created runs; a run that cannot be enqueued is marked failed, never left silent. */
export async function enqueue(env: Env, runs: NewRun[]): Promise<void> {
  const messages: JobMessage[] = runs
    .filter((r) => r.status === "queued")
    .map(({ execution_id, job, scheduled_time, trigger }) => ({ execution_id, job, scheduled_time, trigger }));
  for (let i = 0; i < messages.length; i += 100) {
    const chunk = messages.slice(i, i + 100);
    try {
      await env.JOBS_QUEUE.sendBatch(chunk.map((body) => ({ body, contentType: "json" })));
    } catch (err) {
      const reason = `enqueue failed: ${String(err)}`;
      console.error(reason);
      await env.DB.batch(
        chunk.map((m) =>
          env.DB.prepare(
            "UPDATE runs SET status = 'failed', last_error = ?2, updated_at = ?3, finished_at = ?3 WHERE execution_id = ?1 AND status = 'queued'",
          ).bind(m.execution_id, reason, iso()),
        ),
      );
    }
  }
}

export async function onScheduled(controller: ScheduledController, env: Env): Promise<void> {
  const cfg = env.JOBS;
  if (cfg?.version !== 1) throw new Error("JOBS is not a version 1 plan");
  if (cfg.mode === "native" && !cfg.cron_triggers.includes(controller.cron)) console.warn("unplanned trigger", controller.cron);
  const now = Math.floor(controller.scheduledTime / MINUTE) * MINUTE;
  const last = await lastMinute(env.DB);
  // A first, duplicate or out-of-order fire evaluates its own minute only; a late one catches up.
  const from = last === null || last >= now ? now - MINUTE : Math.max(last, now - MAX_LOOKBACK_MS);
  const created = await insertRuns(env.DB, dueRuns(env, from, now));
  await enqueue(env, created);
  await advanceMinute(env.DB, now);
  await failSilentRuns(env.DB, Date.now() - cfg.report_timeout_seconds * 1000);
}
