/**
 * Bench only (issues 8, 14): the Worker's own tick evaluation in workerd, driven by bench/tick.mjs.
 *
 * The catalogs are Python's plans (bench/catalog.py through cronflare.plan), each a module
 * `<name>.js` beside this entry: plan.js's text plus `crons`, the cron text of each compiled
 * schedule, which only the naive baseline reads. `ours` runs src/tick.ts's dueRuns() once per
 * minute, exactly as scheduled() does in tick mode (from = the previous minute), over a plan
 * that lives for the isolate's life like plan.js. `naive` is the baseline: a new croner Cron per
 * job per tick, in the job's timezone, nothing cached. Neither touches D1 or the queue. The
 * driver times each request from Node (production workerd freezes the clock during pure CPU
 * work); the handlers return a digest of what was due, per minute, to compare the two.
 */
import { Cron } from "croner";
import { MINUTE } from "../src/cron";
import { dueRuns } from "../src/tick";
import type { Env, JobsConfig } from "../src/types";
import { type Digest, nameHash } from "./digest";

interface Loaded {
  env: Env;
  crons: string[];
}

/** Plans by module name, kept for the isolate's life (as the plan.js module is). */
const loaded = new Map<string, Loaded>();
async function load(name: string): Promise<Loaded> {
  let l = loaded.get(name);
  if (!l) {
    // A variable, not a literal: esbuild leaves it to workerd's module registry.
    const specifier = `./${name}.js`;
    const mod = (await import(specifier)) as { default: JobsConfig; crons: string[] };
    // dueRuns() reads env.JOBS only: no D1, no queue.
    l = { env: { JOBS: mod.default } as Env, crons: mod.crons };
    loaded.set(name, l);
  }
  return l;
}

/** A copy of a plan for one cold tick: a new object, so its grouping is not built yet. */
let fresh: Env | null = null;

function ours(env: Env, first: number, minutes: number): Digest[] {
  const out: Digest[] = [];
  for (let m = first; m < first + minutes * MINUTE; m += MINUTE) {
    let count = 0;
    let h = 0;
    for (const set of dueRuns(env, m - MINUTE, m)) {
      count += set.jobs.length;
      for (const job of set.jobs) h = (h + nameHash(typeof job === "string" ? job : job[0])) >>> 0;
    }
    out.push([count, h]);
  }
  return out;
}

function naive(l: Loaded, first: number, minutes: number, how: string): Digest[] {
  const jobs = l.env.JOBS.jobs;
  const out: Digest[] = [];
  for (let m = first; m < first + minutes * MINUTE; m += MINUTE) {
    let count = 0;
    let h = 0;
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      if (!job.enabled || job.s === undefined) continue;
      const text = l.crons[job.s]!;
      const [, , dom = "*", , dow = "*"] = text.split(" ");
      const cron = new Cron(text, { timezone: job.timezone, mode: "5-part", domAndDow: dom.startsWith("*") || dow.startsWith("*") });
      const due = how === "nextrun" ? cron.nextRun(new Date(m - MINUTE))?.getTime() === m : cron.match(new Date(m));
      if (due) {
        count++;
        h = (h + nameHash(job.name)) >>> 0;
      }
    }
    out.push([count, h]);
  }
  return out;
}

const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });

/** The digests, and the time inside workerd (0 if workerd froze the clock, as in production). */
function timed(work: () => Digest[]) {
  const t0 = performance.now();
  const digests = work();
  return json({ ms: performance.now() - t0, digests });
}

export default {
  async fetch(req) {
    const url = new URL(req.url);
    const q = (k: string, d = 0) => Number(url.searchParams.get(k) ?? d);
    const name = url.searchParams.get("plan") ?? "";
    switch (url.pathname) {
      case "/empty":
        return new Response("ok");
      case "/clock": {
        // Busy work with no I/O: does the clock move inside it?
        const d0 = Date.now();
        const p0 = performance.now();
        const iters = q("iters", 1e7);
        let x = 0;
        for (let i = 0; i < iters; i++) x = (x + Math.imul(i, 2654435761)) | 0;
        return json({ date_ms: Date.now() - d0, perf_ms: performance.now() - p0, x });
      }
      case "/mix": {
        // What the catalog holds: jobs by schedule text and by zone, and the distinct pairs.
        const { env } = await load(name);
        const schedules: Record<string, number> = {};
        const zones: Record<string, number> = {};
        const pairs = new Set<string>();
        for (const j of env.JOBS.jobs) {
          schedules[j.schedule] = (schedules[j.schedule] ?? 0) + 1;
          zones[j.timezone] = (zones[j.timezone] ?? 0) + 1;
          if (j.enabled) pairs.add(`${j.s} ${j.timezone}`);
        }
        const jobs = env.JOBS.jobs.length;
        const disabled = env.JOBS.jobs.filter((j) => !j.enabled).length;
        return json({ jobs, disabled, compiled_schedules: env.JOBS.schedules.length, schedule_zone_pairs: pairs.size, schedules, zones });
      }
      case "/load": {
        // Evaluate the plan module without ticking, so the first /ours times a first tick only.
        const t0 = performance.now();
        const { env } = await load(name);
        return json({ jobs: env.JOBS.jobs.length, ms: performance.now() - t0 });
      }
      case "/ours":
        return timed(() => ours(loaded.get(name)!.env, q("first"), q("minutes", 1)));
      case "/naive":
        return timed(() => naive(loaded.get(name)!, q("first"), q("minutes", 1), url.searchParams.get("how") ?? "match"));
      case "/prepare": {
        fresh = null; // let the previous cold copy go before building the next
        const { env } = await load(name);
        fresh = { JOBS: structuredClone(env.JOBS) } as Env;
        return json({ jobs: fresh.JOBS.jobs.length });
      }
      case "/cold": {
        // A plan's first tick in this isolate: groups its jobs, then evaluates the minute.
        if (!fresh) return new Response("prepare first", { status: 409 });
        const cold = fresh;
        fresh = null;
        return timed(() => ours(cold, q("first"), 1));
      }
      default:
        return new Response("not found", { status: 404 });
    }
  },
} satisfies ExportedHandler;
