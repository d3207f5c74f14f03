/**
 * Bench only (issue 8): the Worker's own tick evaluation in workerd, driven by bench/tick.mjs.
 *
 * `ours` runs src/tick.ts's dueRuns() once per minute, exactly as scheduled() does in tick mode
 * (from = the previous minute), over a config that lives for the isolate's life like plan.js, so
 * each job's cached next instant stays warm between requests. `naive` is the baseline: a new
 * croner Cron per job per tick, in the job's timezone, nothing cached. Neither touches D1 or the
 * queue. workerd freezes the clock during pure CPU work, so the driver times each request from
 * Node; the handlers only return a digest of what was due, per minute, to compare the two.
 */
import { Cron } from "croner";
import { MINUTE } from "../src/cron";
import { dueRuns } from "../src/tick";
import type { Env, JobSpec, JobsConfig } from "../src/types";

const ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"];
const ALL = ["UTC", ...ZONES];

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;
const at = (r: Rand) => `${int(r, 60)} ${int(r, 24)}`;

/** The catalog mix: weight (percent of jobs), timezones drawn from, cron text. */
const KINDS: { kind: string; weight: number; zones: string[]; cron: (r: Rand) => string }[] = [
  { kind: "* * * * *", weight: 2, zones: ["UTC"], cron: () => "* * * * *" },
  { kind: "*/5 * * * *", weight: 10, zones: ["UTC"], cron: () => "*/5 * * * *" },
  { kind: "*/15 * * * *", weight: 5, zones: ["UTC"], cron: () => "*/15 * * * *" },
  { kind: "*/30 * * * * (tz)", weight: 5, zones: ZONES, cron: () => "*/30 * * * *" },
  { kind: "m * * * * (hourly)", weight: 13, zones: ["UTC"], cron: (r) => `${int(r, 60)} * * * *` },
  { kind: "m */2 * * *", weight: 5, zones: ["UTC"], cron: (r) => `${int(r, 60)} */2 * * *` },
  { kind: "m * * * * (hourly, tz)", weight: 5, zones: ["Asia/Kolkata", "Australia/Lord_Howe"], cron: (r) => `${int(r, 60)} * * * *` },
  { kind: "m h * * * (daily)", weight: 20, zones: ALL, cron: (r) => `${at(r)} * * *` },
  { kind: "m h * * MON-FRI", weight: 10, zones: ALL, cron: (r) => `${at(r)} * * MON-FRI` },
  { kind: "m h * * SAT,SUN", weight: 5, zones: ALL, cron: (r) => `${at(r)} * * SAT,SUN` },
  { kind: "m h 1|L * * (monthly)", weight: 5, zones: ALL, cron: (r) => `${at(r)} ${pick(r, ["1", "L"])} * *` },
  { kind: "m h * * 5L|FRI#2|MON#1", weight: 5, zones: ALL, cron: (r) => `${at(r)} * * ${pick(r, ["5L", "FRI#2", "MON#1"])}` },
  { kind: "m h 13 * FRI (OR)", weight: 5, zones: ALL, cron: (r) => `${at(r)} 13 * FRI` },
  { kind: "m h */2 * MON (AND)", weight: 5, zones: ALL, cron: (r) => `${at(r)} */2 * MON` },
];
/** Every DISABLED_EVERY-th job is disabled, as a real catalog has a few. */
const DISABLED_EVERY = 50;

function mulberry32(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A deterministic mixed catalog of `n` jobs (the same `n` always gives the same jobs). */
export function catalog(n: number): JobSpec[] {
  const r = mulberry32(0xc0ffee ^ n);
  const total = KINDS.reduce((s, k) => s + k.weight, 0);
  return Array.from({ length: n }, (_, i) => {
    let w = r() * total;
    const k = KINDS.find((k) => (w -= k.weight) < 0) ?? KINDS[KINDS.length - 1]!;
    const cron = k.cron(r);
    const timezone = pick(r, k.zones);
    return {
      name: `job-${String(i).padStart(5, "0")}`,
      description: k.kind,
      schedule: cron,
      cron,
      timezone,
      cloudflare_cron: null,
      enabled: i % DISABLED_EVERY !== DISABLED_EVERY - 1,
      concurrency: "allow",
      timeout: 600,
    };
  });
}

const config = (jobs: JobSpec[]): JobsConfig => ({
  version: 1,
  mode: "tick",
  cron_triggers: ["* * * * *"],
  catchup_window_minutes: 60,
  report_timeout_seconds: 3600,
  queues: { jobs: "bench-jobs", dead_letter: "bench-jobs-dlq", max_retries: 2, retry_max_delay_seconds: 300 },
  jobs,
});
// dueRuns() reads env.JOBS only: no D1, no queue.
const envOf = (cfg: JobsConfig) => ({ JOBS: cfg }) as Env;

/** Warm configs, one per size, kept for the isolate's life (as the plan.js module is). */
const warm = new Map<number, { env: Env; index: Map<string, number> }>();
function warmFor(n: number) {
  let w = warm.get(n);
  if (!w) {
    const jobs = catalog(n);
    w = { env: envOf(config(jobs)), index: new Map(jobs.map((j, i) => [j.name, i])) };
    warm.set(n, w);
  }
  return w;
}
/** A fresh config for one cold tick: its schedules are not built yet. */
let fresh: { env: Env; index: Map<string, number> } | null = null;

/** Per minute: [due count, order-free hash of the due job indices]. */
type Digest = [number, number];
const mix = (i: number) => Math.imul(i + 1, 0x9e3779b1) >>> 0;

function ours(w: { env: Env; index: Map<string, number> }, first: number, minutes: number): Digest[] {
  const out: Digest[] = [];
  for (let m = first; m < first + minutes * MINUTE; m += MINUTE) {
    const runs = dueRuns(w.env, m - MINUTE, m);
    let h = 0;
    for (const run of runs) h = (h + mix(w.index.get(run.job)!)) >>> 0;
    out.push([runs.length, h]);
  }
  return out;
}

function naive(jobs: JobSpec[], first: number, minutes: number, how: string): Digest[] {
  const out: Digest[] = [];
  for (let m = first; m < first + minutes * MINUTE; m += MINUTE) {
    let count = 0;
    let h = 0;
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      if (!job.enabled) continue;
      const [, , dom = "*", , dow = "*"] = job.cron.split(" ");
      const cron = new Cron(job.cron, { timezone: job.timezone, mode: "5-part", domAndDow: dom.startsWith("*") || dow.startsWith("*") });
      const due = how === "nextrun" ? cron.nextRun(new Date(m - MINUTE))?.getTime() === m : cron.match(new Date(m));
      if (due) {
        count++;
        h = (h + mix(i)) >>> 0;
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
    const n = q("n");
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
        const counts: Record<string, number> = {};
        const zones: Record<string, number> = {};
        for (const j of catalog(n)) {
          counts[j.description] = (counts[j.description] ?? 0) + 1;
          zones[j.timezone] = (zones[j.timezone] ?? 0) + 1;
        }
        return json({ weights: Object.fromEntries(KINDS.map((k) => [k.kind, k.weight])), counts, zones, disabled_every: DISABLED_EVERY });
      }
      case "/load":
        // Build the catalog for `n` without evaluating it, so the first /ours times a first tick only.
        return json({ jobs: warmFor(n).env.JOBS.jobs.length });
      case "/ours":
        return timed(() => ours(warmFor(n), q("first"), q("minutes", 1)));
      case "/naive":
        return timed(() => naive(warmFor(n).env.JOBS.jobs, q("first"), q("minutes", 1), url.searchParams.get("how") ?? "match"));
      case "/prepare": {
        fresh = null; // let the previous cold config go before building the next
        const jobs = catalog(n);
        fresh = { env: envOf(config(jobs)), index: new Map(jobs.map((j, i) => [j.name, i])) };
        return json({ jobs: jobs.length });
      }
      case "/cold":
        // The first tick of an isolate: builds every job's Schedule, then evaluates the minute.
        if (!fresh) return new Response("prepare first", { status: 409 });
        const cold = fresh;
        fresh = null;
        return timed(() => ours(cold, q("first"), 1));
      case "/release":
        warm.delete(n);
        fresh = null;
        return json({ ok: true });
      default:
        return new Response("not found", { status: 404 });
    }
  },
} satisfies ExportedHandler;
