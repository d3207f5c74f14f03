// Bench (issues 8, 14): the Worker's tick evaluation cost, measured in workerd through miniflare.
//
//   uv run node worker_src/bench/tick.mjs [--quick] [--repeats N] [--sizes 100,1000,10000] [--no-varied]
//
// The catalogs are Python's: bench/catalog.py's mixed(n) planned by cronflare.plan (tick mode),
// each plan.js module exactly as deployed (compiled schedules, version 2). Two workerd setups:
//
// - one long-lived isolate (tick_entry.ts) loads every plan and times src/tick.ts's dueRuns()
//   over consecutive minutes, warm (µs per job per tick), against the naive baseline (a new
//   croner Cron per job per tick), and a plan's first tick in that warm isolate;
// - for the largest plan, `--repeats` new workerd processes (fresh_entry.ts), each holding
//   worker.js (build.mjs's bundle of src/index.ts) and plan.js, time the module evaluation of
//   both, the real scheduled() of the new isolate's first tick (D1 and the queue stubbed), the
//   memory that first tick adds, and one scheduled() that catches up 60 missed minutes.
//
// Every request is timed from Node (in production workerd freezes Date.now() and
// performance.now() while a request only computes; whether local workerd does is checked and
// reported): Node's time around dispatchFetch minus the median empty request. A warm figure is
// µs per catalog job per one-minute tick, the median of --repeats requests each sized to about
// 400 ms. Every evaluation is compared, minute by minute, on which jobs are due. Unless
// --no-varied (or --quick), a second catalog of the largest size with many distinct schedules
// (random minutes and hours: issue 8's mix) is measured too, under `varied`. One JSON object on
// stdout; progress on stderr.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { build } from "esbuild";
import { WORKER_BUILD } from "../esbuild.options.mjs";
import { mulberry32 } from "./random.ts";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";

const started = performance.now();
const here = new URL(".", import.meta.url).pathname;
const root = new URL("..", import.meta.url).pathname;
const repo = new URL("../..", import.meta.url).pathname;
const log = (...parts) => process.stderr.write(parts.join(" ") + "\n");

// --- arguments ---------------------------------------------------------------------------
const argv = process.argv.slice(2);
const option = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = argv.includes("--quick");
const repeats = Number(option("--repeats") ?? (quick ? 2 : 5));
const sizes = (option("--sizes") ?? (quick ? "20,200" : "100,1000,10000")).split(",").map(Number);
const withVaried = !quick && !argv.includes("--no-varied");
// Each timed request aims at this much work, so that the empty-request cost is a small fraction.
const targetMs = quick ? 15 : 400;
const known = new Set(["--quick", "--repeats", "--sizes", "--no-varied"]);
const unknown = argv.filter((a, i) => a.startsWith("--") ? !known.has(a) : !["--repeats", "--sizes"].includes(argv[i - 1]));
if (unknown.length || !(repeats >= 1) || sizes.some((n) => !(n >= 1))) {
  log("usage: node worker_src/bench/tick.mjs [--quick] [--repeats N] [--sizes 100,1000,10000] [--no-varied]");
  process.exit(2);
}
const largest = Math.max(...sizes);

// Consecutive minutes from Monday 2026-11-23 00:00 UTC. No zone in the mix changes its UTC
// offset before 2027-03-14 (New York's spring-forward), so every measured minute is a plain
// wall-clock minute in every zone; DST handling itself is tested in test/cron.test.ts.
const MINUTE = 60_000;
const START = Date.UTC(2026, 10, 23, 0, 0);
const DST_FREE_UNTIL = Date.UTC(2027, 2, 14, 0, 0);

const { compatibility_date } = JSON.parse(readFileSync(root + "worker.config.json", "utf8"));
const version = (pkg) => JSON.parse(readFileSync(`${root}node_modules/${pkg}/package.json`, "utf8")).version;

// --- the varied catalog (issue 8's mix): many distinct schedules -----------------------------
const ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"];
const ALL = ["UTC", ...ZONES];
const int = (r, n) => Math.floor(r() * n);
const pick = (r, xs) => xs[int(r, xs.length)];
const at = (r) => `${int(r, 60)} ${int(r, 24)}`;
/** The mix: weight (percent of jobs), timezones drawn from, cron text. */
const KINDS = [
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
/** A deterministic varied catalog of `n` jobs, as cronflare Job fields. */
function varied(n) {
  const r = mulberry32(0xc0ffee ^ n);
  const total = KINDS.reduce((s, k) => s + k.weight, 0);
  return Array.from({ length: n }, (_, i) => {
    let w = r() * total;
    const k = KINDS.find((k) => (w -= k.weight) < 0) ?? KINDS[KINDS.length - 1];
    const schedule = k.cron(r);
    const timezone = pick(r, k.zones);
    return { name: `job-${String(i).padStart(5, "0")}`, description: k.kind, schedule, timezone, enabled: i % DISABLED_EVERY !== DISABLED_EVERY - 1 };
  });
}

// --- the plans, from Python ------------------------------------------------------------------
// Each plan: the plan.js module text as deployed, and the cron text of each compiled schedule
// (for the naive baseline only: plan.js carries no cron text).
const PLANS_PY = `
import json, sys
from bench.catalog import mixed
from cronflare import Catalog, Job
from cronflare.catalog.validate import resolve
from cronflare.plan import plan_resolved
from cronflare.settings import local_settings

request = json.load(sys.stdin)
settings = local_settings(trigger_mode="tick")

def emit(catalog):
    resolved = resolve(catalog)
    plan = plan_resolved(resolved, settings)
    crons = [""] * len(plan.schedules)
    for job, rjob in zip(plan.jobs, resolved.jobs, strict=True):
        crons[job.s] = rjob.cron
    return {"module": plan.worker_module(), "crons": crons}

out = {f"plan_{n}": emit(mixed(n)) for n in request["mixed"]}
for name, jobs in request["custom"].items():
    out[name] = emit(Catalog(jobs=[Job(handler="bench.handlers:noop", **j) for j in jobs]))
json.dump(out, sys.stdout)
`;
function python() {
  const candidates = [process.env.VIRTUAL_ENV && `${process.env.VIRTUAL_ENV}/bin/python`, `${repo}.venv/bin/python`];
  return candidates.find((p) => p && existsSync(p)) ?? "python3";
}
const planStarted = performance.now();
const VARIED = `varied_${largest}`;
const planned = spawnSync(python(), ["-c", PLANS_PY], {
  cwd: repo,
  input: JSON.stringify({ mixed: sizes, custom: withVaried ? { [VARIED]: varied(largest) } : {} }),
  encoding: "utf8",
  maxBuffer: 1 << 30,
});
if (planned.status !== 0) {
  log(`planning the bench catalogs failed:\n${planned.stderr}`);
  process.exit(1);
}
const plans = JSON.parse(planned.stdout);
log(`plans from Python (bench/catalog.py mixed(n) through cronflare.plan): ${Object.keys(plans).join(", ")} in ${((performance.now() - planStarted) / 1000).toFixed(1)} s`);

// --- build -----------------------------------------------------------------------------------
/** build.mjs's options, for a bench entry or the Worker itself. */
async function bundle(entry, outfile) {
  await build({ ...WORKER_BUILD, entryPoints: [entry], outfile, logLevel: "error" });
  return outfile;
}
const tickBundle = await bundle(here + "tick_entry.ts", here + "dist/tick_entry.js");
const freshBundle = await bundle(here + "fresh_entry.ts", here + "dist/fresh_entry.js");
const workerBundle = await bundle(root + "src/index.ts", here + "dist/worker.js");

// --- workerd -------------------------------------------------------------------------------
/** A workerd process with `modules` (the first is the entry), ready for timed requests. */
async function start(modules) {
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      modulesRoot: here + "dist",
      modules: modules.map((m) => ({ type: "ESModule", ...m })),
      compatibilityDate: compatibility_date,
    }),
  );
  const base = await mf.ready;
  /** One request; `ms` is Node's wall time around dispatchFetch (the body is read after). */
  async function call(path, params = {}) {
    const url = new URL(path, base);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, String(v));
    const t0 = performance.now();
    const res = await mf.dispatchFetch(url);
    const ms = performance.now() - t0;
    const text = await res.text();
    if (!res.ok) throw new Error(`${path}: ${res.status} ${text.slice(0, 500)}`);
    return { ms, body: /^[[{]/.test(text) ? JSON.parse(text) : text };
  }
  const empties = [];
  const measureEmpty = async (count) => {
    for (let i = 0; i < count; i++) empties.push((await call("/empty")).ms);
    return median(empties);
  };
  for (let i = 0; i < 10; i++) await call("/empty"); // warm the path
  return { mf, call, empties, measureEmpty };
}

/** The resident memory of the workerd process(es) under this Node process, in MB. */
function workerdRssMb() {
  const children = (pid) => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  let kb = 0;
  const queue = children(process.pid);
  while (queue.length) {
    const pid = queue.shift();
    queue.push(...children(pid));
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "workerd") continue;
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb ? Math.round(kb / 102.4) / 10 : null;
}

// --- statistics ----------------------------------------------------------------------------
function quantile(sorted, p) {
  const i = (sorted.length - 1) * p;
  const lo = Math.floor(i);
  return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (i - lo);
}
function median(xs) {
  return quantile([...xs].sort((a, b) => a - b), 0.5);
}
const round = (x, digits = 4) => (typeof x === "number" ? Number(x.toPrecision(digits)) : x);
function stats(runs) {
  const s = [...runs].sort((a, b) => a - b);
  return {
    median: round(quantile(s, 0.5)),
    min: round(s[0]),
    max: round(s[s.length - 1]),
    iqr: [round(quantile(s, 0.25)), round(quantile(s, 0.75))],
    runs: runs.map((x) => round(x)),
  };
}

// --- checking ------------------------------------------------------------------------------
const check = { minutes: 0, due_runs: 0, mismatched_minutes: 0, detail: [] };
function mismatch(label, minute, ref, got) {
  check.mismatched_minutes++;
  if (check.detail.length < 10) check.detail.push({ label, minute: new Date(minute).toISOString(), reference: ref, got });
}
/** Compare per-minute digests [count, hash of due job names] against a reference map. */
function compare(reference, first, digests, label) {
  digests.forEach((d, j) => {
    const minute = first + j * MINUTE;
    const ref = reference.get(minute);
    check.minutes++;
    check.due_runs += d[0];
    if (!ref || ref[0] !== d[0] || ref[1] !== d[1]) mismatch(label, minute, ref, d);
  });
}

// --- our evaluation, warm --------------------------------------------------------------------
/**
 * Warm ticks: the first request is the plan's first tick in this isolate, a probe sizes the
 * requests, then `repeats` requests each evaluate `minutes` consecutive minutes, continuing
 * where the last stopped, as an isolate that lives on does.
 */
async function measureOurs(stack, plan, n, emptyMs, label) {
  const { call } = stack;
  const digests = new Map();
  const record = (first, body) => body.digests.forEach((d, i) => digests.set(first + i * MINUTE, d));
  const load = await call("/load", { plan });
  const out = { plan_module_eval_ms: round(load.body.ms), rss_before_mb: workerdRssMb() };
  const first = await call("/ours", { plan, first: START, minutes: 1 });
  record(START, first.body);
  out.first_tick_ms = round(first.ms - emptyMs);
  out.rss_after_first_tick_mb = workerdRssMb();
  let cursor = START + MINUTE;
  const probeMinutes = Math.max(1, Math.ceil(20_000 / n));
  const probe = await call("/ours", { plan, first: cursor, minutes: probeMinutes });
  record(cursor, probe.body);
  cursor += probeMinutes * MINUTE;
  const perMinuteMs = Math.max((probe.ms - emptyMs) / probeMinutes, 1e-3);
  const maxMinutes = Math.floor((DST_FREE_UNTIL - cursor) / MINUTE / repeats);
  const minutes = Math.max(1, Math.min(maxMinutes, Math.ceil(targetMs / perMinuteMs)));
  const runs = [];
  const inside = [];
  const firsts = [];
  const duePerTick = [];
  const perDueRun = [];
  for (let i = 0; i < repeats; i++) {
    const res = await call("/ours", { plan, first: cursor, minutes });
    record(cursor, res.body);
    firsts.push(cursor);
    const us = Math.max(res.ms - emptyMs, 0) * 1000;
    const due = res.body.digests.reduce((s, d) => s + d[0], 0);
    runs.push(us / (n * minutes));
    inside.push((res.body.ms * 1000) / (n * minutes));
    duePerTick.push(due / minutes);
    perDueRun.push(us / Math.max(due, 1));
    cursor += minutes * MINUTE;
  }
  Object.assign(out, {
    ...stats(runs),
    in_worker_median: round(median(inside)),
    minutes_per_request: minutes,
    // How many runs each request found due per tick: building a due run's row costs more than
    // testing a schedule, so the spread between requests follows these.
    due_per_tick: round(median(duePerTick)),
    due_per_tick_runs: duePerTick.map((x) => round(x)),
    us_per_due_run: round(median(perDueRun)),
  });
  log(`${label} n=${n}: ${out.median} µs/job/tick (min ${out.min}, max ${out.max}; in-worker clock ${out.in_worker_median}; ${minutes} minutes × ${repeats} requests; ${out.due_per_tick} runs due per tick, ${out.us_per_due_run} µs per due run; first tick ${out.first_tick_ms} ms)`);
  return { out, digests, firsts, minutes };
}

/** A plan's first tick in the warm isolate, `repeats` times, each on a fresh copy of the plan. */
async function measureCold(stack, plan, n, emptyMs, label, reference) {
  const runs = [];
  for (let i = 0; i < repeats; i++) {
    await stack.call("/prepare", { plan });
    const res = await stack.call("/cold", { plan, first: START });
    compare(reference, START, res.body.digests, `${label} cold n=${n}`);
    runs.push(res.ms - emptyMs);
  }
  const out = stats(runs);
  out.us_per_job = round((out.median * 1000) / n);
  log(`${label} cold n=${n}: a plan's first tick in a warm isolate ${out.median} ms (${out.us_per_job} µs/job)`);
  return out;
}

// --- naive: a new Cron per job per tick ------------------------------------------------------
const NAIVE = ["match", "nextrun"];
async function measureNaive(stack, plan, n, emptyMs, how, ours) {
  const probe = await stack.call("/naive", { plan, first: ours.firsts[0], minutes: 1, how });
  compare(ours.digests, ours.firsts[0], probe.body.digests, `naive(${how}) n=${n}`);
  const perMinuteMs = Math.max(probe.ms - emptyMs, 1e-3);
  const minutes = Math.max(1, Math.min(ours.minutes, Math.round(targetMs / perMinuteMs)));
  const runs = [];
  const inside = [];
  for (let i = 0; i < repeats; i++) {
    // Later minutes than the probe's, inside the range ours evaluated in its i-th request.
    const first = ours.firsts[i] + (ours.minutes > minutes ? MINUTE : 0);
    const res = await stack.call("/naive", { plan, first, minutes, how });
    compare(ours.digests, first, res.body.digests, `naive(${how}) n=${n}`);
    runs.push((Math.max(res.ms - emptyMs, 0) * 1000) / (n * minutes));
    inside.push((res.body.ms * 1000) / (n * minutes));
  }
  const out = { ...stats(runs), in_worker_median: round(median(inside)), minutes_per_request: minutes };
  log(`naive(${how}) n=${n}: ${out.median} µs/job/tick (min ${out.min}, max ${out.max}; in-worker clock ${out.in_worker_median}; ${minutes} minutes × ${repeats} requests)`);
  return out;
}

// --- a new isolate: startup, the first scheduled(), memory, a catch-up -----------------------
/**
 * New workerd processes with worker.js and the plan's plan.js, one at a time. The first finds
 * no zone spans in D1, as the first tick after a deploy (or, about once a day, the tick that
 * renews them) does: its scheduled() reads the zones through Intl and stores their spans. Then
 * `count` more, with those spans in D1 (the steady state), each: imports both modules (module
 * evaluation), runs scheduled() for `at` (the isolate's first tick: no last minute, so it
 * evaluates `at` only), five warm ticks, then one at START + 120 min whose last evaluated
 * minute is START + 59 min (60 missed minutes and its own), then its first Intl object alone.
 */
async function measureFresh(plan, n, count, reference, label, at = START) {
  const samples = { startup_ms: [], startup_node_ms: [], first_tick_ms: [], first_tick_in_worker_ms: [], rss_growth_mb: [], catchup_60m_ms: [], catchup_60m_in_worker_ms: [], icu_setup_ms: [] };
  const rss = [];
  let runs = {};
  let zones = null;
  let learning = null;
  for (let i = 0; i <= count; i++) {
    const stack = await start([
      { path: freshBundle },
      { path: here + "dist/worker.js" },
      { path: here + "dist/plan.js", contents: plans[plan].module },
    ]);
    const emptyMs = await stack.measureEmpty(20);
    const withZones = (params) => (zones === null ? params : { ...params, zones });
    const before = workerdRssMb();
    const startup = await stack.call("/startup");
    const loaded = workerdRssMb();
    const first = await stack.call("/tick", withZones({ at }));
    const ticked = workerdRssMb();
    if (first.body.errors.length) throw new Error(`${label}: scheduled() logged ${first.body.errors.join("; ")}`);
    const got = new Map(Object.entries((await stack.call("/digests")).body).map(([k, d]) => [Date.parse(k), d]));
    if (reference) compare(reference, at, [got.get(at) ?? [0, 0]], `${label} first scheduled()`);
    if (zones === null) {
      // No spans in D1: this tick set up Intl, read the zones through it and stored their spans.
      zones = first.body.zones;
      if (!zones) throw new Error(`${label}: the first tick stored no zone spans`);
      learning = { first_tick_ms: round(first.ms - emptyMs - first.body.stub_ms), first_tick_in_worker_ms: first.body.ms, spans: JSON.parse(zones) };
      await stack.mf.dispose();
      continue;
    }
    if (first.body.zones) throw new Error(`${label}: a tick with fresh spans in D1 stored them again`);
    for (let m = 1; m <= 5; m++) await stack.call("/tick", withZones({ at: at + m * MINUTE, last: at + (m - 1) * MINUTE }));
    const catchupAt = START + 120 * MINUTE;
    const catchup = await stack.call("/tick", withZones({ at: catchupAt, last: START + 59 * MINUTE }));
    const end = workerdRssMb();
    const caughtDigests = (await stack.call("/digests")).body;
    const icu = await stack.call("/icu");
    await stack.mf.dispose();
    if (catchup.body.errors.length) throw new Error(`${label}: scheduled() logged ${catchup.body.errors.join("; ")}`);
    // The catch-up's runs, against the warm isolate's evaluation of the same minutes.
    const caught = new Map(Object.entries(caughtDigests).map(([k, d]) => [Date.parse(k), d]));
    const minutes = [...Array(61).keys()].map((j) => START + (60 + j) * MINUTE);
    if (reference && minutes.every((t) => reference.has(t))) {
      const sum = (get) => minutes.reduce((s, t) => [s[0] + (get(t)?.[0] ?? 0), (s[1] + (get(t)?.[1] ?? 0)) >>> 0], [0, 0]);
      const want = sum((t) => reference.get(t));
      const have = sum((t) => caught.get(t));
      check.minutes += minutes.length;
      check.due_runs += have[0];
      if (want[0] !== have[0] || want[1] !== have[1]) mismatch(`${label} catch-up`, minutes[0], want, have);
    }
    samples.startup_ms.push(startup.body.ms);
    samples.startup_node_ms.push(startup.ms - emptyMs);
    samples.first_tick_ms.push(first.ms - emptyMs - first.body.stub_ms);
    samples.first_tick_in_worker_ms.push(first.body.ms);
    samples.rss_growth_mb.push(ticked - loaded);
    samples.catchup_60m_ms.push(catchup.ms - emptyMs - catchup.body.stub_ms);
    samples.catchup_60m_in_worker_ms.push(catchup.body.ms);
    samples.icu_setup_ms.push(icu.body.ms);
    rss.push({ before_startup_mb: before, after_startup_mb: loaded, after_first_tick_mb: ticked, end_mb: end });
    runs = {
      first_tick: first.body.runs,
      first_tick_dispatched: first.body.dispatched,
      first_tick_posts: first.body.posts,
      first_tick_stub_dispatcher_ms: round(first.body.stub_ms),
      catchup_60m: catchup.body.runs,
      catchup_60m_dispatched: catchup.body.dispatched,
      catchup_60m_queued: catchup.body.queued,
    };
  }
  const out = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]));
  Object.assign(out, { jobs: n, isolates: count, rss, runs, without_spans: learning, plan_js_bytes: Buffer.byteLength(plans[plan].module), worker_js_bytes: readFileSync(workerBundle).length });
  out.first_tick_minute = { at: new Date(at).toISOString(), due_runs: runs.first_tick };
  log(`${label} new isolate n=${n} (×${count}), first tick at ${new Date(at).toISOString()}: startup ${out.startup_ms.median} ms, first scheduled() ${out.first_tick_ms.median} ms (in-worker ${out.first_tick_in_worker_ms.median}; ${learning.first_tick_ms} ms without spans in D1), +${out.rss_growth_mb.median} MB after it, 60-minute catch-up ${out.catchup_60m_ms.median} ms (${runs.catchup_60m} runs); the isolate's first Intl object ${out.icu_setup_ms.median} ms`);
  return out;
}

// --- the run -------------------------------------------------------------------------------
const planModules = Object.entries(plans).map(([name, p]) => ({
  path: `${here}dist/${name}.js`,
  contents: `${p.module}export const crons = ${JSON.stringify(p.crons)};\n`,
}));
const main = await start([{ path: tickBundle }, ...planModules]);
const clock = await main.call("/clock", { iters: 3e8 });
const clockFrozen = clock.body.date_ms === 0 && clock.body.perf_ms === 0;
log(`clock: ${clock.ms.toFixed(1)} ms of busy work seen from Node; inside workerd Date.now() moved ${clock.body.date_ms} ms, performance.now() ${clock.body.perf_ms} ms`);
let emptyMs = await main.measureEmpty(quick ? 20 : 50);
log(`empty request: ${emptyMs.toFixed(3)} ms (median of ${main.empties.length})`);
const mix = (await main.call("/mix", { plan: `plan_${largest}` })).body;

const ours = {};
for (const n of sizes) ours[n] = await measureOurs(main, `plan_${n}`, n, emptyMs, "ours");
const naive = Object.fromEntries(NAIVE.map((how) => [how, {}]));
for (const n of sizes) for (const how of NAIVE) naive[how][n] = await measureNaive(main, `plan_${n}`, n, emptyMs, how, ours[n]);
const cold = {};
for (const n of sizes) cold[n] = await measureCold(main, `plan_${n}`, n, emptyMs, "ours", ours[n].digests);
let variedOut = null;
let variedOurs = null;
if (withVaried) {
  variedOurs = await measureOurs(main, VARIED, largest, emptyMs, "varied");
  // Checked against the naive loop on a few minutes; not timed.
  const first = variedOurs.firsts[0];
  const probe = await main.call("/naive", { plan: VARIED, first, minutes: 3, how: "match" });
  compare(variedOurs.digests, first, probe.body.digests, `varied naive n=${largest}`);
  variedOut = {
    mix: (await main.call("/mix", { plan: VARIED })).body,
    tick_us_per_job: variedOurs.out,
    cold_first_tick_ms: await measureCold(main, VARIED, largest, emptyMs, "varied", variedOurs.digests),
  };
}
emptyMs = await main.measureEmpty(quick ? 10 : 30);
const empties = main.empties;
const rssEnd = workerdRssMb();
await main.mf.dispose();

// The first tick at START, Monday 00:00 UTC, the mix's busiest minute; and at the first minute
// after it with the fewest due runs (in the mix, none): the part of a first tick that does not
// grow with the runs due.
const busiest = ours[largest].digests;
const quiet = [...Array(59).keys()].map((j) => START + (j + 1) * MINUTE).reduce((best, t) => (busiest.get(t)[0] < busiest.get(best)[0] ? t : best));
const fresh = await measureFresh(`plan_${largest}`, largest, repeats, busiest, "ours");
const freshQuiet = await measureFresh(`plan_${largest}`, largest, repeats, busiest, "ours", quiet);
if (withVaried) variedOut.new_isolate = await measureFresh(VARIED, largest, Math.min(repeats, 3), variedOurs.digests, "varied");

// --- report ---------------------------------------------------------------------------------
const bestNaive = (n) => Math.min(...NAIVE.map((how) => naive[how][n].median));
const at10k = (f) => (largest === 10000 ? f() : null);
const tickAt = (n) => ours[n].out.median;
const pickKeys = (o, keys) => Object.fromEntries(keys.map((k) => [k, o[k]]));
const report = {
  // The figures of issue 14, at 10,000 jobs (null when the largest size is another).
  tick_cold_ms_10k_jobs: at10k(() => fresh.first_tick_ms.median),
  tick_cold_ms_10k_jobs_quiet_minute: at10k(() => freshQuiet.first_tick_ms.median),
  worker_startup_ms_10k_jobs: at10k(() => fresh.startup_ms.median),
  tick_us_per_job_at_10000: at10k(() => tickAt(10000)),
  workerd_rss_mb_10k_jobs: at10k(() => fresh.rss_growth_mb.median),
  catchup_60m_ms_10k_jobs: at10k(() => fresh.catchup_60m_ms.median),
  new_isolate: fresh,
  new_isolate_quiet_minute: freshQuiet,
  new_isolate_about:
    "per new workerd process holding worker.js + plan.js, with the zones' spans in D1 (as after the day's first tick): startup_ms = in-worker time to import worker.js (which imports plan.js); first_tick_ms = the real scheduled() of the isolate's first tick (D1 and the queue stubbed), Node-timed minus the empty request; rss_growth_mb = workerd RSS after that tick minus after startup; catchup_60m_ms = one scheduled() evaluating 60 missed minutes and its own; icu_setup_ms = the isolate's first Intl object afterwards; without_spans = the first tick of an isolate that finds no spans in D1 (reads zones through Intl, stores the spans)",
  tick_us_per_job: Object.fromEntries(sizes.map((n) => [n, pickKeys(ours[n].out, ["median", "min", "max", "iqr", "runs", "in_worker_median", "minutes_per_request", "due_per_tick", "due_per_tick_runs", "us_per_due_run", "plan_module_eval_ms"])])),
  naive_us_per_job_at_10000: at10k(() => bestNaive(10000)),
  tick_naive_ratio: round(tickAt(largest) / bestNaive(largest)),
  tick_naive_ratio_at: largest,
  naive_us_per_job: naive.match,
  naive_nextrun_us_per_job: naive.nextrun,
  naive_baseline:
    "per job per tick: new Cron(cron, {timezone, mode: '5-part', domAndDow}), then match(minute) (naive_us_per_job) or nextRun(minute - 1) === minute (naive_nextrun_us_per_job); the ratio uses the faster",
  cold_first_tick_ms: cold,
  cold_first_tick_about: "a plan's first tick in a warm isolate (a new copy of the plan object: its grouping is built); a new isolate's is new_isolate.first_tick_ms",
  mismatches: check.mismatched_minutes,
  mismatch_detail: check.detail,
  compared_minutes: check.minutes,
  compared_due_runs: check.due_runs,
  workerd_rss_mb: {
    ...Object.fromEntries(sizes.map((n) => [n, pickKeys(ours[n].out, ["rss_before_mb", "rss_after_first_tick_mb"])])),
    end: rssEnd,
  },
  empty_request_ms: { median: round(emptyMs), min: round(Math.min(...empties)), max: round(Math.max(...empties)), count: empties.length },
  workerd_clock_frozen: clockFrozen,
  clock_check: { node_ms: round(clock.ms), workerd_date_now_ms: clock.body.date_ms, workerd_performance_now_ms: round(clock.body.perf_ms) },
  timing: "Node performance.now() around each dispatchFetch minus the median empty request, per catalog job (disabled ones included) per one-minute tick; in_worker_median is workerd's own performance.now() (0 where the clock is frozen)",
  measured_minutes: `consecutive minutes from ${new Date(START).toISOString()}; no zone in the mix changes offset in them`,
  catalog: "bench/catalog.py mixed(n), planned by cronflare.plan in tick mode (plan.js version 2, as deployed)",
  jobs_mix: mix,
  varied: variedOut,
  sizes,
  repeats,
  quick,
  workerd_version: version("workerd"),
  miniflare_version: version("miniflare"),
  croner_version: version("croner"),
  compatibility_date,
  node_version: process.version,
  run_seconds: round((performance.now() - started) / 1000, 3),
};
process.stdout.write(JSON.stringify(report) + "\n");
