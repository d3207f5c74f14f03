/**
 * The tick's own dispatch (docs/WORKER.md, "What a run costs"): a minute's runs go straight to the
 * dispatcher in signed batches of up to 100, each run answered on its own. Runs it takes never
 * touch the queue; only those that hit a 5xx, a 429, a timeout or a network error, or that are
 * past the invocation's subrequest budget, go there and take the consumer's retries.
 */
import { backoffSeconds, callbackBase, enqueue, FORBID_SKIP, failure, retryable } from "./dispatch";
import { attemptStatement, type CreatedRun, statusStatement } from "./runs";
import { signedHeaders } from "./signing";
import type { Env } from "./types";

/** Runs in one POST, and about the most bytes of args they carry: the dispatcher refuses more
 * than 500 runs or 1 MiB (413). 500, not 100: each POST's signature is one more HMAC in a tick
 * that a new isolate must fit in the free plan's 10 ms (docs/ARCHITECTURE.md, departures). */
export const BATCH_RUNS = 500;
const BATCH_BYTES = 900_000;
/** POSTs one tick may make. Workers Free allows an invocation 50 subrequests; the skew check and
 * the alert webhook take a few. 40 batches carry 20,000 runs a minute; more go to the queue. */
export const MAX_POSTS = 40;

/** What became of a run the dispatcher did not take. */
type Outcome = { run: CreatedRun; kind: "skipped" | "failed" | "retry"; reason: string };

/** What a tick's POSTs came to: the runs the dispatcher took, as their `dispatched` upsert's values
 * (4 a run: no object a run, which a new isolate's first tick would pay for 2,500 times), and the
 * others. */
interface Answers {
  taken: unknown[];
  others: Outcome[];
}

/** The runs of one minute in a batch (the dispatcher's DispatchBatch): what they share once, then
 * their jobs' names, so a new isolate's first tick builds little per run. */
interface Minute {
  suffix: string;
  scheduled_time: string;
  trigger: string;
  attempt: 1;
  jobs: string[];
  args?: Record<string, unknown>;
}

/** A minute's answers, as columns in its jobs' order. */
interface Columns {
  codes?: number[];
  statuses?: (string | null)[];
  call_ids?: (string | null)[];
  errors?: (string | null)[];
}

/** A tick that dies on purpose (the WORKER_FAULTS binding): `after-insert` before any POST,
 * `after-post` once its first batch is POSTed, before a word of the answer is written. Only at the
 * minute `at`, so the next tick is healthy and must find what this one left. */
export interface WorkerFaults {
  die?: "after-insert" | "after-post";
  at?: string;
}

/** The fault for a tick of `minute`, if any. */
export function faultAt(env: Env, minute: string): WorkerFaults["die"] {
  if (!env.WORKER_FAULTS) return undefined;
  const faults = JSON.parse(env.WORKER_FAULTS) as WorkerFaults;
  return faults.at === undefined || faults.at === minute ? faults.die : undefined;
}

/** Dispatch runs now; record each answer in one D1 batch; queue what is worth another try. */
export async function dispatchNow(env: Env, runs: CreatedRun[], minute = ""): Promise<void> {
  if (!runs.length) return;
  const die = faultAt(env, minute);
  const crash = (after: string) => {
    throw new Error(`injected: the tick of ${minute} died after its ${after}`);
  };
  if (die === "after-insert") crash("insert");
  const batches: CreatedRun[][] = [];
  let batch: CreatedRun[] = [];
  let bytes = 0;
  for (const run of runs) {
    const size = run.args ? 64 + run.args.length : 64;
    if (batch.length >= BATCH_RUNS || bytes + size > BATCH_BYTES) batches.push(batch), (batch = []), (bytes = 0);
    batch.push(run);
    bytes += size;
  }
  batches.push(batch);
  const answers: Answers = { taken: [], others: batches.slice(MAX_POSTS).flat().map((run) => ({ run, kind: "retry", reason: "past the tick's POSTs: queued" })) };
  const base = callbackBase(env);
  await Promise.all(batches.slice(0, MAX_POSTS).map((b) => postBatch(env, b, base, answers)));
  if (die === "after-post") crash("POSTs");
  await record(env, answers);
}

/** A batch's runs by minute: runs of one minute come together from insertRuns. */
function byMinute(batch: CreatedRun[]): { minutes: Minute[]; runs: CreatedRun[][] } {
  const minutes: Minute[] = [];
  const runs: CreatedRun[][] = [];
  let minute: Minute | undefined;
  let group: CreatedRun[] = [];
  for (const run of batch) {
    // One minute's runs share their time and trigger strings: a new group costs the slice.
    // A run's id is its prefix (its job, or `<job>@<schedule id>`) and its minute's suffix, which
    // a minute's runs share, whichever kind they are.
    const prefix = run.prefix ?? run.job;
    if (!minute || minute.scheduled_time !== run.scheduled_time || minute.trigger !== run.trigger) {
      minutes.push((minute = { suffix: run.execution_id.slice(prefix.length), scheduled_time: run.scheduled_time, trigger: run.trigger, attempt: 1, jobs: [] }));
      runs.push((group = []));
    }
    minute.jobs.push(prefix);
    group.push(run);
    if (run.args) (minute.args ??= {})[prefix] = JSON.parse(run.args);
  }
  return { minutes, runs };
}

/** POST one batch, signed, and add what became of each run to `out`. */
async function postBatch(env: Env, batch: CreatedRun[], callback: string, out: Answers): Promise<void> {
  const url = `${env.DISPATCH_URL.replace(/\/+$/, "")}/batch`;
  const { minutes, runs } = byMinute(batch);
  const body = JSON.stringify({ callback, minutes });
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: await signedHeaders(env.SIGNING_KEY, "dispatch", "POST", url, body),
      body,
      signal: AbortSignal.timeout(Number(env.DISPATCH_TIMEOUT_MS ?? 15_000)),
    });
    text = await res.text();
  } catch (err) {
    for (const run of batch) out.others.push({ run, kind: "retry", reason: failure(1, err) });
    return;
  }
  if (!res.ok) {
    const reason = `dispatcher answered ${res.status}: ${text.slice(0, 500)}`;
    for (const run of batch) out.others.push({ run, kind: retryable(res.status) ? "retry" : "failed", reason });
    return;
  }
  let answers: Columns[] = [];
  try {
    answers = (JSON.parse(text) as { minutes?: Columns[] }).minutes ?? [];
  } catch {
    // a 2xx that is not the batch answer: each run below is unanswered, and retried
  }
  const { taken, others } = out;
  for (let m = 0; m < runs.length; m++) {
    const group = runs[m]!;
    const { codes = [], statuses = [], call_ids = [], errors = [] } = answers[m] ?? {};
    // A minute's runs share their scheduled time: parse it once.
    const time = group[0]?.scheduled_time;
    const at = time ? Date.parse(time) : 0;
    for (let j = 0; j < group.length; j++) {
      const run = group[j]!;
      const code = codes[j];
      if (typeof code !== "number") others.push({ run, kind: "retry", reason: "dispatch attempt 1: no answer for this run" });
      else if (code < 200 || code >= 300) others.push({ run, kind: retryable(code) ? "retry" : "failed", reason: `dispatcher answered ${code}: ${String(errors[j] ?? "").slice(0, 500)}` });
      else if (statuses[j] === "skipped") others.push({ run, kind: "skipped", reason: FORBID_SKIP });
      else taken.push(run.execution_id, run.scheduled_time === time ? at : Date.parse(run.scheduled_time), run.trigger, call_ids[j] ?? null);
    }
  }
}

/** Answers of runs the dispatcher took, a statement: 4 values a run and the time, under D1's 100. */
const DISPATCHED_ROWS = 24;
const dispatchedSqls = new Map<number, string>();

/**
 * The `dispatched` answers of `rows` runs as one upsert (the markDispatched of runs.ts, many at a
 * time): a run the dispatcher took moves from queued to dispatched with its call id, and a run
 * whose report came first keeps its status. An upsert, not an UPDATE a run: D1 reads no row for
 * it, and a tick binds one statement for 24 runs, not one each. The run's row always exists (the
 * tick inserted it before the POST); the VALUES only fill what an INSERT would need.
 */
function dispatchedSql(rows: number): string {
  let sql = dispatchedSqls.get(rows);
  if (!sql) {
    const tuples = Array.from({ length: rows }, (_, i) => `(?${2 + 4 * i}, ?${3 + 4 * i}, ?${4 + 4 * i}, 'dispatched', 1, ?${5 + 4 * i}, ?1 - ?${3 + 4 * i})`);
    sql =
      `INSERT INTO runs (execution_id, scheduled_ms, trigger, status, attempts, call_id, updated_after) VALUES ${tuples.join(", ")} ` +
      "ON CONFLICT (execution_id) DO UPDATE SET status = CASE runs.status WHEN 'queued' THEN 'dispatched' ELSE runs.status END, attempts = 1, call_id = COALESCE(runs.call_id, excluded.call_id), updated_after = ?1 - runs.scheduled_ms";
    dispatchedSqls.set(rows, sql);
  }
  return sql;
}

/** Write every answer in one D1 batch (500 statements a call), then queue the retries. */
async function record(env: Env, { taken, others }: Answers): Promise<void> {
  const db = env.DB;
  const now = Date.now();
  const statements: D1PreparedStatement[] = [];
  for (const o of others) {
    const id = o.run.execution_id;
    if (o.kind === "retry") statements.push(attemptStatement(db, id, 1, o.reason));
    else statements.push(statusStatement(db, id, o.kind, { attempts: 1, last_error: o.reason }));
  }
  for (let i = 0; i < taken.length; i += 4 * DISPATCHED_ROWS) {
    const values = taken.slice(i, i + 4 * DISPATCHED_ROWS);
    statements.push(db.prepare(dispatchedSql(values.length / 4)).bind(now, ...values));
  }
  for (let i = 0; i < statements.length; i += 500) await db.batch(statements.slice(i, i + 500));
  // A retry waits a first backoff; one that cannot be queued is failed, never left silent.
  const retries = others.flatMap((o) => (o.kind === "retry" ? [{ ...o.run, attempts_before: 1 }] : []));
  await enqueue(env, retries, backoffSeconds(1, env.JOBS.queues.retry_max_delay_seconds));
}
