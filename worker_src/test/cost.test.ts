/** What one run costs Cloudflare, counted with D1's own meta in workerd (docs/COST.md): rows
 * written and read across its life (the tick that inserts and dispatches it, its report, the
 * sweep that would fail it silent, the pruning that deletes it), queue operations, invocations,
 * and the bytes it keeps in D1. CRONFLARE_COST=1 prints the figures for bench/run.py. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { failSilentRuns, pruneMinutes } from "../src/runs";
import type { Env, JobMessage, JobSpec } from "../src/types";
import { job } from "./bindings";
import { countingD1, recordingEnv, report, tick } from "./helpers";

const MINUTE = 60_000;
const AT = Date.parse("2026-11-23T09:00:00Z");
const every = (n: number): JobSpec[] => Array.from({ length: n }, (_, i) => job(`job-${String(i).padStart(4, "0")}`, "* * * * *"));
const sum = (reads: { rows_read: number; rows_written: number }[]) => ({
  read: reads.reduce((n, r) => n + r.rows_read, 0),
  written: reads.reduce((n, r) => n + r.rows_written, 0),
});

/** One minute of `n` runs that all succeed at their first dispatch: every statement of their
 * life, with the queue operations and the invocations they took. */
async function lifecycle(n: number) {
  await env.DB.prepare("DELETE FROM runs").run();
  const counting = countingD1(env.DB);
  const { env: e, sent } = recordingEnv({ jobs: every(n) }, { DB: counting.db });
  let queueOps = 0;
  const queue = e.JOBS_QUEUE;
  e.JOBS_QUEUE = {
    send: async (body: JobMessage) => (queueOps++, queue.send(body)),
    sendBatch: async (batch: MessageSendRequest<JobMessage>[]) => ((queueOps += batch.length), queue.sendBatch(batch)),
  } as unknown as Queue<JobMessage>;
  await env.DB.prepare("INSERT OR REPLACE INTO scheduler_state (key, value) VALUES ('last_minute', ?1)").bind(new Date(AT - MINUTE).toISOString()).run();
  await tick(e, new Date(AT).toISOString());
  const tickCost = sum(counting.reads);
  expect(sent.length).toBe(n);
  counting.reads.length = 0;
  for (const m of sent) {
    const res = await report(m.execution_id, { status: "succeeded", started_at: new Date(AT + 1000).toISOString(), finished_at: new Date(AT + 3000).toISOString() }, env.SIGNING_KEY, Date.now(), { ...e, DB: counting.db } as Env);
    expect(res.status).toBe(200);
  }
  const reportCost = sum(counting.reads);
  counting.reads.length = 0;
  // The sweep that reads this minute once it passes the report timeout: none is silent.
  const timeout = e.JOBS.report_timeout_seconds * 1000;
  await failSilentRuns(counting.db, AT - MINUTE + timeout, AT + timeout, timeout);
  const sweepCost = sum(counting.reads);
  counting.reads.length = 0;
  // Pruning deletes each once its minute leaves the retention.
  const retention = 90 * 24 * 60 * MINUTE;
  expect(await pruneMinutes(counting.db, AT + retention, AT + retention + MINUTE, 90)).toBe(n);
  const pruneCost = sum(counting.reads);
  return { tick: tickCost, report: reportCost, sweep: sweepCost, prune: pruneCost, queueOps, invocations: 1 + n };
}

/** The D1 bytes one run keeps with its index entries: the database's growth over `n` runs as the
 * Worker writes them (real ids, times and call ids; no args, error or result). */
async function bytesPerRun(n: number): Promise<number> {
  await env.DB.prepare("DELETE FROM runs").run();
  const before = (await env.DB.prepare("SELECT 1").run()).meta.size_after;
  await env.DB.prepare(
    `INSERT INTO runs (execution_id, scheduled_ms, trigger, status, attempts, call_id, updated_after, started_after, finished_after)
     WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1),
     r AS (SELECT i, printf('nightly-job-%02d', i % 50) AS job, ?2 - 60 * (i / 50) AS t FROM n)
     SELECT job || '@' || strftime('%Y-%m-%dT%H:%MZ', t, 'unixepoch'), t * 1000, 'cron', 'succeeded', 1,
            printf('fc-01JDCRONFLARE%014d', i), 4000, 1000, 4000
     FROM r`,
  )
    .bind(n, AT / 1000)
    .run();
  const after = (await env.DB.prepare("SELECT 1").run()).meta.size_after;
  await env.DB.prepare("DELETE FROM runs").run();
  return (after - before) / n;
}

describe("what a run costs, counted by D1", () => {
  it("a run that succeeds at its first dispatch: at most 6 rows written and 6 read, no queue operation, one invocation, at most 250 bytes kept", { timeout: 120_000 }, async () => {
    // Per run: the difference between minutes of 200 and 100 runs, so each tick's own statements
    // (its state, the last minute, alerts) are not counted per run; docs/COST.md counts them per tick.
    const [small, large] = [await lifecycle(100), await lifecycle(200)];
    const marginal = (k: "read" | "written") =>
      (["tick", "report", "sweep", "prune"] as const).reduce((n, part) => n + (large[part][k] - small[part][k]) / 100, 0);
    const figures = {
      d1_rows_written_per_run: marginal("written"),
      d1_rows_read_per_run: marginal("read"),
      queue_ops_per_run: large.queueOps / 200,
      invocations_per_run: (large.invocations - small.invocations) / 100,
      d1_rows_written_per_tick: small.tick.written - 100 * ((large.tick.written - small.tick.written) / 100),
      d1_rows_read_per_tick: small.tick.read - 100 * ((large.tick.read - small.tick.read) / 100),
      parts_200: large,
      d1_bytes_per_run: env.CRONFLARE_COST ? await bytesPerRun(200_000) : await bytesPerRun(20_000),
    };
    if (env.CRONFLARE_COST) console.log(`CRONFLARE_COST ${JSON.stringify(figures)}`);
    expect(figures.d1_rows_written_per_run).toBeLessThanOrEqual(6);
    expect(figures.d1_rows_read_per_run).toBeLessThanOrEqual(6);
    expect(figures.queue_ops_per_run).toBe(0);
    expect(figures.invocations_per_run).toBeLessThanOrEqual(1.1);
    // Integer times and no stored job (migrations/0008): 444 bytes before it.
    expect(figures.d1_bytes_per_run).toBeLessThanOrEqual(250);
  });
});
