/**
 * The tick's own dispatch (docs/WORKER.md, "What a run costs"): a minute's runs go straight to the
 * dispatcher in signed batches of up to 100, each run answered on its own. Runs it takes never
 * touch the queue; only those that hit a 5xx, a 429, a timeout or a network error, or that are
 * past the invocation's subrequest budget, go there and take the consumer's retries.
 */
import { backoffSeconds, enqueue, FORBID_SKIP, failure, retryable, runPayload } from "./dispatch";
import { attemptStatement, type CreatedRun, dispatchedStatement, statusStatement } from "./runs";
import { signedHeaders } from "./signing";
import type { Env } from "./types";

/** Runs in one POST: the dispatcher refuses more (413). */
export const BATCH_RUNS = 100;
/** POSTs one tick may make. Workers Free allows an invocation 50 subrequests; the skew check and
 * the alert webhook take a few. 40 batches carry 4,000 runs a minute; more go to the queue. */
export const MAX_POSTS = 40;

/** What became of one run's dispatch. */
type Outcome =
  | { run: CreatedRun; kind: "dispatched"; call_id: string | null }
  | { run: CreatedRun; kind: "skipped" | "failed" | "retry"; reason: string };

/** One run's answer in a batch: its own HTTP status and body. */
interface Answer {
  execution_id?: string;
  code?: number;
  status?: string;
  call_id?: string | null;
  error?: string;
}

/** A tick that dies on purpose (the WORKER_FAULTS binding): `after-insert` before any POST,
 * `after-post` once its first batch is POSTed, before a word of the answer is written. Only at the
 * minute `at`, so the next tick is healthy and must find what this one left. */
export interface WorkerFaults {
  die?: "after-insert" | "after-post";
  at?: string;
}

export class InjectedCrash extends Error {}

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
  if (die === "after-insert") throw new InjectedCrash(`injected: the tick of ${minute} died after its insert`);
  const batches: CreatedRun[][] = [];
  for (let i = 0; i < runs.length; i += BATCH_RUNS) batches.push(runs.slice(i, i + BATCH_RUNS));
  const overflow: Outcome[] = batches.slice(MAX_POSTS).flat().map((run) => ({ run, kind: "retry", reason: `over the tick's ${MAX_POSTS} dispatch POSTs: sent through the queue` }));
  const outcomes = (await Promise.all(batches.slice(0, MAX_POSTS).map((batch) => postBatch(env, batch)))).flat();
  if (die === "after-post") throw new InjectedCrash(`injected: the tick of ${minute} died after its POSTs`);
  await record(env, [...outcomes, ...overflow]);
}

/** POST one batch, signed, and tell what became of each run. */
async function postBatch(env: Env, batch: CreatedRun[]): Promise<Outcome[]> {
  const url = `${env.DISPATCH_URL.replace(/\/+$/, "")}/batch`;
  const body = JSON.stringify({ runs: batch.map((run) => runPayload(env, run, 1, run.args)) });
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
  const whole = (code: number) => `dispatcher answered ${code}: ${text.slice(0, 500)}`;
  if (!res.ok) return batch.map((run) => ({ run, kind: retryable(res.status) ? "retry" : "failed", reason: whole(res.status) }));
  let answers = new Map<string, Answer>();
  try {
    const parsed = JSON.parse(text) as { runs?: Answer[] };
    answers = new Map((parsed.runs ?? []).map((a) => [String(a.execution_id), a]));
  } catch {
    // a 2xx that is not the batch answer: each run below is unanswered, and retried
  }
  return batch.map((run): Outcome => {
    const a = answers.get(run.execution_id);
    if (!a || typeof a.code !== "number") return { run, kind: "retry", reason: `dispatch attempt 1: the batch answer has no word on this run` };
    if (a.code >= 200 && a.code < 300) {
      return a.status === "skipped" ? { run, kind: "skipped", reason: FORBID_SKIP } : { run, kind: "dispatched", call_id: a.call_id ?? null };
    }
    const reason = `dispatcher answered ${a.code}: ${JSON.stringify({ error: a.error ?? null }).slice(0, 500)}`;
    return { run, kind: retryable(a.code) ? "retry" : "failed", reason };
  });
}

/** Write every answer in one D1 batch (500 statements a call), then queue the retries. */
async function record(env: Env, outcomes: Outcome[]): Promise<void> {
  const db = env.DB;
  const statements = outcomes.map((o) => {
    const id = o.run.execution_id;
    if (o.kind === "dispatched") return dispatchedStatement(db, id, 1, o.call_id);
    if (o.kind === "retry") return attemptStatement(db, id, 1, o.reason);
    return statusStatement(db, id, o.kind, { attempts: 1, last_error: o.reason });
  });
  for (let i = 0; i < statements.length; i += 500) await db.batch(statements.slice(i, i + 500));
  // A retry waits a first backoff; one that cannot be queued is failed, never left silent.
  const retries = outcomes.flatMap((o) => (o.kind === "retry" ? [{ ...o.run, attempts_before: 1 }] : []));
  await enqueue(env, retries, backoffSeconds(1, env.JOBS.queues.retry_max_delay_seconds));
}
