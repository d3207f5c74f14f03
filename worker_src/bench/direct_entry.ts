/** Bench only: the simple design, where scheduled() POSTs each due run straight to the dispatcher. */
import { signedHeaders } from "../src/signing";

interface DirectEnv {
  DISPATCH_URL: string;
  SIGNING_KEY: string;
  /** This Worker's own URL: it also answers the jobs' reports, which the bench ignores. */
  CALLBACK_URL: string;
  /** Comma-separated `name/offset`: a job is due when minute % 5 = offset (bench/catalog.py).
   * The simple design would evaluate each cron here; this figure is about the path, not that. */
  JOBS: string;
}

async function dispatch(env: DirectEnv, job: string, at: Date): Promise<void> {
  const id = `${job}@${at.toISOString().slice(0, 16)}Z`;
  const body = JSON.stringify({
    execution_id: id,
    job,
    scheduled_time: at.toISOString(),
    trigger: "cron",
    attempt: 1,
    callback_url: `${env.CALLBACK_URL}/runs/${encodeURIComponent(id)}`,
  });
  const res = await fetch(env.DISPATCH_URL, { method: "POST", headers: await signedHeaders(env.SIGNING_KEY, "dispatch", "POST", env.DISPATCH_URL, body), body });
  if (!res.ok) throw new Error(`${id}: dispatcher answered ${res.status}`);
}

export default {
  fetch: async () => new Response("ok"),
  scheduled: async (controller, env) => {
    const at = new Date(controller.scheduledTime);
    const due = env.JOBS.split(",").map((j) => j.split("/")).filter(([, offset]) => at.getUTCMinutes() % 5 === Number(offset));
    await Promise.all(due.map(([job]) => dispatch(env, job!, at)));
  },
} satisfies ExportedHandler<DirectEnv>;
