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

/** Dispatch one run and decide what happens to its message. */
export async function dispatchOne(env: Env, msg: Message<JobMessage>): Promise<Outcome> {
  const body = msg.body;
  const run = await getRun(env.DB, body.execution_id);
  if (!run) {
    console.error(`no run ${body.execution_id} in the log; dropping its message`);
    return { kind: "ack" };
  }
  if (run.status !== "queued") return { kind: "ack" }; // delivered twice, or already dispatched
  const payload = JSON.stringify({
    execution_id: body.execution_id,
    job: body.job,
    scheduled_time: body.scheduled_time,
    trigger: body.trigger,
    attempt: msg.attempts,
    callback_url: new URL(`/runs/${encodeURIComponent(body.execution_id)}`, env.PUBLIC_URL).toString(),
    args: run.args ? JSON.parse(run.args) : undefined, // only when the run has args: undefined is left out
  });
  const cap = env.JOBS.queues.retry_max_delay_seconds;
  let res: Response;
  try {
    res = await fetch(env.DISPATCH_URL, {
      method: "POST",
      headers: await signedHeaders(env.SIGNING_KEY, payload),
      body: payload,
      signal: AbortSignal.timeout(Number(env.DISPATCH_TIMEOUT_MS ?? 15_000)),
    });
  } catch (err) {
    const reason = `dispatch attempt ${msg.attempts}: ${err instanceof Error ? err.name + ": " + err.message : String(err)}`;
    await noteAttempt(env.DB, body.execution_id, msg.attempts, reason);
    return { kind: "retry", delay: backoffSeconds(msg.attempts, cap), reason };
  }
  const text = (await res.text()).slice(0, 500);
  if (res.ok) {
    let answer: { call_id?: string; status?: string } = {};
    try {
      answer = JSON.parse(text);
    } catch {
      // a 2xx without JSON still means the dispatcher took the run
    }
    if (answer.status === "skipped") {
      await setStatus(env.DB, body.execution_id, "skipped", {
        attempts: msg.attempts,
        last_error: "skipped: the previous run was still running (concurrency forbid)",
      });
    } else {
      await markDispatched(env.DB, body.execution_id, msg.attempts, answer.call_id ?? null);
    }
    return { kind: "ack" };
  }
  const reason = `dispatcher answered ${res.status}: ${text}`;
  if (res.status >= 500 || res.status === 429) {
    await noteAttempt(env.DB, body.execution_id, msg.attempts, reason);
    const retryAfter = Number(res.headers.get("retry-after"));
    const delay = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, cap) : backoffSeconds(msg.attempts, cap);
    return { kind: "retry", delay, reason };
  }
  await setStatus(env.DB, body.execution_id, "failed", { attempts: msg.attempts, last_error: reason });
  return { kind: "ack" };
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
