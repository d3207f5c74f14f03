/** queue(): send each due run to the Modal dispatcher, signed; retry, fail or dead-letter it. */
import { isObject } from "./http";
import { flushAlerts } from "./alerts";
import { getRun, markDispatched, noteAttempt, pruneRuns, setStatus, stateValue } from "./runs";
import { signedHeaders } from "./signing";
import type { Env, JobMessage, Trigger } from "./types";
import { TERMINAL, TRIGGERS } from "./types";

const BASE_DELAY_S = 2;

/** Exponential backoff with full jitter, capped: attempt 1 waits up to 2 s, then 4 s, 8 s, ... */
export function backoffSeconds(attempt: number, capSeconds: number, random = Math.random): number {
  const ceiling = Math.min(capSeconds, BASE_DELAY_S * 2 ** Math.max(0, attempt - 1));
  return Math.max(1, Math.round(ceiling * (0.5 + random() / 2)));
}

type Outcome = { kind: "ack" } | { kind: "retry"; delay: number; reason: string };

/** What a run skipped by the dispatcher's concurrency policy says in the log. */
export const FORBID_SKIP = "skipped: the previous run was still running (concurrency forbid)";

/** Whether a dispatcher answer is worth retrying: 5xx and 429 are; any other 4xx is final. */
export const retryable = (code: number) => code >= 500 || code === 429;

/** The body the dispatcher gets for one run: its args only when it has some. `base` is
 * callbackBase(env), worked out once for a tick's thousands of runs. */
export function runPayload(base: string, run: JobMessage, attempt: number, args: string | null | undefined) {
  return {
    execution_id: run.execution_id,
    job: run.job,
    scheduled_time: run.scheduled_time,
    trigger: run.trigger,
    attempt,
    callback_url: base + encodeURIComponent(run.execution_id),
    args: args ? JSON.parse(args) : undefined, // undefined is left out of the JSON
  };
}

/** Where a run's report goes, less its id: `<PUBLIC_URL origin>/runs/`. */
export const callbackBase = (env: Env) => new URL("/runs/", env.PUBLIC_URL).toString();

/** Why an attempt failed, for the run's last_error. */
export const failure = (attempt: number, err: unknown) => `dispatch attempt ${attempt}: ${err instanceof Error ? err.name + ": " + err.message : String(err)}`;

/** Dispatch one run and decide what happens to its message. */
export async function dispatchOne(env: Env, msg: Message<JobMessage>): Promise<Outcome> {
  const body = msg.body;
  const run = await getRun(env.DB, body.execution_id);
  if (!run) {
    console.error(`no run ${body.execution_id} in the log; dropping its message`);
    return { kind: "ack" };
  }
  if (run.status !== "queued") return { kind: "ack" }; // delivered twice, or already dispatched
  // The tick's own dispatch, when it failed, was the first attempt.
  const attempt = msg.attempts + (body.attempts_before ?? 0);
  const payload = JSON.stringify(runPayload(callbackBase(env), body, attempt, run.args));
  const cap = env.JOBS.queues.retry_max_delay_seconds;
  let res: Response;
  try {
    res = await fetch(env.DISPATCH_URL, {
      method: "POST",
      headers: await signedHeaders(env.SIGNING_KEY, "dispatch", "POST", env.DISPATCH_URL, payload),
      body: payload,
      signal: AbortSignal.timeout(Number(env.DISPATCH_TIMEOUT_MS ?? 15_000)),
    });
  } catch (err) {
    const reason = failure(attempt, err);
    await noteAttempt(env.DB, body.execution_id, attempt, reason);
    return { kind: "retry", delay: backoffSeconds(attempt, cap), reason };
  }
  const text = (await res.text()).slice(0, 500);
  if (res.ok) {
    let answer: { call_id?: string; status?: string } = {};
    try {
      answer = JSON.parse(text);
    } catch {
      // a 2xx without JSON still means the dispatcher took the run
    }
    if (answer.status === "skipped") await setStatus(env.DB, body.execution_id, "skipped", { attempts: attempt, last_error: FORBID_SKIP });
    else await markDispatched(env.DB, body.execution_id, attempt, answer.call_id ?? null);
    return { kind: "ack" };
  }
  const reason = `dispatcher answered ${res.status}: ${text}`;
  if (retryable(res.status)) {
    await noteAttempt(env.DB, body.execution_id, attempt, reason);
    const retryAfter = Number(res.headers.get("retry-after"));
    const delay = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, cap) : backoffSeconds(attempt, cap);
    return { kind: "retry", delay, reason };
  }
  await setStatus(env.DB, body.execution_id, "failed", { attempts: attempt, last_error: reason });
  return { kind: "ack" };
}

/** Enqueue created runs; a run that cannot be enqueued is marked failed, never left silent. */
export async function enqueue(env: Env, messages: JobMessage[], delaySeconds?: number): Promise<void> {
  for (let i = 0; i < messages.length; i += 100) {
    const chunk = messages.slice(i, i + 100);
    try {
      // The message is the run's id and times: the consumer reads its args from the row.
      const bodies = chunk.map(({ execution_id, job, scheduled_time, trigger, attempts_before }) => ({ execution_id, job, scheduled_time, trigger, ...(attempts_before ? { attempts_before } : {}) }));
      await env.JOBS_QUEUE.sendBatch(bodies.map((body) => ({ body, contentType: "json", delaySeconds })));
    } catch (err) {
      const reason = `enqueue failed: ${String(err)}`;
      console.error(reason);
      await env.DB.prepare(
        "UPDATE runs SET status = 'failed', last_error = ?2, updated_after = ?3 - scheduled_ms, finished_after = ?3 - scheduled_ms WHERE execution_id IN (SELECT value FROM json_each(?1)) AND status = 'queued'",
      )
        .bind(JSON.stringify(chunk.map((m) => m.execution_id)), reason, Date.now())
        .run();
    }
  }
}

/** A message past its retries: the run is dead (its alert leaves through the outbox). */
export async function deadLetter(env: Env, msg: Message<JobMessage>): Promise<void> {
  const run = await getRun(env.DB, msg.body.execution_id);
  if (run && TERMINAL.includes(run.status)) return;
  const reason = `dead-lettered after ${run?.attempts ?? "?"} attempts; last error: ${run?.last_error ?? "none"}`;
  await setStatus(env.DB, msg.body.execution_id, "dead", { last_error: reason });
}

/** After a batch: prune two old runs per message (so the log shrinks as fast as it grows, with
 * the backlog caught up), and send what alerts are waiting. Neither may fail the batch. */
async function afterBatch(env: Env, messages: number, dead: boolean): Promise<void> {
  try {
    // Retention counts back from the last minute the scheduler evaluated: the log's own clock.
    const last = dead ? null : await stateValue(env.DB, "last_minute");
    if (last) await pruneRuns(env.DB, Date.parse(last), env.JOBS.run_retention_days, Math.min(2 * messages, 1000));
    await flushAlerts(env);
  } catch (err) {
    console.error(`after the batch: ${String(err)}`);
  }
}

export async function onQueue(batch: MessageBatch<JobMessage>, env: Env): Promise<void> {
  const dead = batch.queue === env.JOBS.queues.dead_letter;
  await Promise.all(
    batch.messages.map(async (msg) => {
      try {
        if (!isJobMessage(msg.body)) {
          // Not a run at all: let it dead-letter (its trace), where it is logged and dropped.
          console.error(`malformed message ${msg.id} on ${batch.queue}`);
          if (dead) msg.ack();
          else msg.retry({ delaySeconds: 0 });
        } else if (dead) {
          await deadLetter(env, msg);
          msg.ack();
        } else {
          const outcome = await dispatchOne(env, msg);
          if (outcome.kind === "ack") msg.ack();
          else msg.retry({ delaySeconds: outcome.delay });
        }
      } catch (err) {
        // Never ack a message whose handling failed: retry it, or let it dead-letter.
        console.error(`message ${msg.id}: ${String(err)}`);
        msg.retry({ delaySeconds: backoffSeconds(msg.attempts, env.JOBS.queues.retry_max_delay_seconds) });
      }
    }),
  );
  await afterBatch(env, batch.messages.length, dead);
}

function isJobMessage(body: unknown): body is JobMessage {
  const b = body as Partial<JobMessage>;
  return (
    isObject(b) &&
    typeof b.execution_id === "string" &&
    typeof b.job === "string" &&
    typeof b.scheduled_time === "string" &&
    TRIGGERS.includes(b.trigger as Trigger)
  );
}
