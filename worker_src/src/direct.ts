/**
 * The tick's own dispatch (docs/WORKER.md, "What a run costs"): a minute's runs go straight to the
 * dispatcher in signed batches of up to 100, each run answered on its own. Runs it takes never
 * touch the queue; only those that hit a 5xx, a 429, a timeout or a network error, or that are
 * past the invocation's subrequest budget, go there and take the consumer's retries.
 */
import { backoffSeconds, callbackBase, enqueue, FORBID_SKIP, failure, retryable } from "./dispatch";
import { attemptStatement, type CreatedRun, dispatchedStatement, iso, statusStatement } from "./runs";
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

/** What became of one run's dispatch. */
type Outcome =
  | { run: CreatedRun; kind: "dispatched"; call_id: string | null }
  | { run: CreatedRun; kind: "skipped" | "failed" | "retry"; reason: string };

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
  let bytes = 0;
  for (const run of runs) {
    const size = 64 + (run.args?.length ?? 0);
    if (!batches.length || batches.at(-1)!.length >= BATCH_RUNS || bytes + size > BATCH_BYTES) batches.push([]), (bytes = 0);
    batches.at(-1)!.push(run);
    bytes += size;
  }
  const overflow: Outcome[] = batches.slice(MAX_POSTS).flat().map((run) => ({ run, kind: "retry", reason: "past the tick's POSTs: queued" }));
  const base = callbackBase(env);
  const outcomes = (await Promise.all(batches.slice(0, MAX_POSTS).map((batch) => postBatch(env, batch, base)))).flat();
  if (die === "after-post") crash("POSTs");
  await record(env, [...outcomes, ...overflow]);
}

/** A batch's runs by minute: runs of one minute come together from insertRuns. */
function byMinute(batch: CreatedRun[]): { minutes: Minute[]; runs: CreatedRun[][] } {
  const minutes: Minute[] = [];
  const runs: CreatedRun[][] = [];
  let minute: Minute | undefined;
  for (const run of batch) {
    // One minute's runs share their time and trigger strings: a new group costs the slice.
    // A run's id is its prefix (its job, or `<job>@<schedule id>`) and the minute after its last '@'.
    const at = run.execution_id.lastIndexOf("@");
    const prefix = at === run.job.length ? run.job : run.execution_id.slice(0, at);
    if (!minute || minute.scheduled_time !== run.scheduled_time || minute.trigger !== run.trigger || !run.execution_id.endsWith(minute.suffix)) {
      minutes.push((minute = { suffix: run.execution_id.slice(at), scheduled_time: run.scheduled_time, trigger: run.trigger, attempt: 1, jobs: [] }));
      runs.push([]);
    }
    minute.jobs.push(prefix);
    runs.at(-1)!.push(run);
    if (run.args) (minute.args ??= {})[prefix] = JSON.parse(run.args);
  }
  return { minutes, runs };
}

/** POST one batch, signed, and tell what became of each run. */
async function postBatch(env: Env, batch: CreatedRun[], callback: string): Promise<Outcome[]> {
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
    return batch.map((run) => ({ run, kind: "retry", reason: failure(1, err) }));
  }
  if (!res.ok) {
    const reason = `dispatcher answered ${res.status}: ${text.slice(0, 500)}`;
    return batch.map((run) => ({ run, kind: retryable(res.status) ? "retry" : "failed", reason }));
  }
  let answers: Columns[] = [];
  try {
    answers = (JSON.parse(text) as { minutes?: Columns[] }).minutes ?? [];
  } catch {
    // a 2xx that is not the batch answer: each run below is unanswered, and retried
  }
  const outcomes: Outcome[] = [];
  runs.forEach((group, m) => {
    const { codes = [], statuses = [], call_ids = [], errors = [] } = answers[m] ?? {};
    group.forEach((run, j) => {
      const code = codes[j];
      if (typeof code !== "number") outcomes.push({ run, kind: "retry", reason: "dispatch attempt 1: no answer for this run" });
      else if (code >= 200 && code < 300) outcomes.push(statuses[j] === "skipped" ? { run, kind: "skipped", reason: FORBID_SKIP } : { run, kind: "dispatched", call_id: call_ids[j] ?? null });
      else outcomes.push({ run, kind: retryable(code) ? "retry" : "failed", reason: `dispatcher answered ${code}: ${String(errors[j] ?? "").slice(0, 500)}` });
    });
  });
  return outcomes;
}

/** Write every answer in one D1 batch (500 statements a call), then queue the retries. */
async function record(env: Env, outcomes: Outcome[]): Promise<void> {
  const db = env.DB;
  const dispatched = dispatchedStatement(db); // prepared once: a tick may answer thousands
  const now = iso();
  const statements = outcomes.map((o) => {
    const id = o.run.execution_id;
    if (o.kind === "dispatched") return dispatched.bind(id, 1, o.call_id, now);
    if (o.kind === "retry") return attemptStatement(db, id, 1, o.reason);
    return statusStatement(db, id, o.kind, { attempts: 1, last_error: o.reason });
  });
  for (let i = 0; i < statements.length; i += 500) await db.batch(statements.slice(i, i + 500));
  // A retry waits a first backoff; one that cannot be queued is failed, never left silent.
  const retries = outcomes.flatMap((o) => (o.kind === "retry" ? [{ ...o.run, attempts_before: 1 }] : []));
  await enqueue(env, retries, backoffSeconds(1, env.JOBS.queues.retry_max_delay_seconds));
}
