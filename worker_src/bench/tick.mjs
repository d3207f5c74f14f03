// Bench (issue 8): the Worker's tick evaluation cost, measured in workerd through miniflare.
//
//   uv run node worker_src/bench/tick.mjs [--quick] [--repeats N] [--sizes 100,1000,10000]
//
// Bundles tick_entry.ts (which imports dueRuns() from src/tick.ts) with build.mjs's esbuild
// options into bench/dist/, loads it into workerd, and times each request from Node: in
// production workerd freezes Date.now() and performance.now() while a request only computes
// (whether local workerd does is checked and reported). A figure is µs per catalog job per
// one-minute tick: Node's time around dispatchFetch minus the median empty request, over the
// jobs and minutes the request evaluated; the median of --repeats requests, each sized to about
// 400 ms so the empty-request cost is small. The naive baseline builds a new croner Cron per job
// per tick. Both must agree on which jobs are due in every minute both evaluated. One JSON object
// on stdout; progress on stderr.
import { readFileSync } from "node:fs";
import { build } from "esbuild";
import { WORKER_BUILD } from "../esbuild.options.mjs";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";

const started = performance.now();
const here = new URL(".", import.meta.url).pathname;
const root = new URL("..", import.meta.url).pathname;
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
// Each timed request aims at this much work, so that the empty-request cost is a small fraction.
const targetMs = quick ? 15 : 400;
const known = new Set(["--quick", "--repeats", "--sizes"]);
const unknown = argv.filter((a, i) => a.startsWith("--") ? !known.has(a) : !["--repeats", "--sizes"].includes(argv[i - 1]));
if (unknown.length || !(repeats >= 1) || sizes.some((n) => !(n >= 1))) {
  log("usage: node worker_src/bench/tick.mjs [--quick] [--repeats N] [--sizes 100,1000,10000]");
  process.exit(2);
}

// Consecutive minutes from Monday 2026-11-23 00:00 UTC. No zone in the mix changes its UTC
// offset before 2027-03-14 (New York's spring-forward), so every measured minute is a plain
// wall-clock minute in every zone; DST handling itself is tested in test/cron.test.ts.
const MINUTE = 60_000;
const START = Date.UTC(2026, 10, 23, 0, 0);
const DST_FREE_UNTIL = Date.UTC(2027, 2, 14, 0, 0);

const { compatibility_date } = JSON.parse(readFileSync(root + "worker.config.json", "utf8"));
const version = (pkg) => JSON.parse(readFileSync(`${root}node_modules/${pkg}/package.json`, "utf8")).version;

// --- build ---------------------------------------------------------------------------------
/** build.mjs's options, for the bench entry. */
async function bundle(outfile) {
  await build({ ...WORKER_BUILD, entryPoints: [here + "tick_entry.ts"], outfile });
  return outfile;
}
const mainBundle = await bundle(here + "dist/tick_entry.js");

// --- workerd -------------------------------------------------------------------------------
async function start(outfile) {
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      modulesRoot: here + "dist",
      modules: [{ type: "ESModule", path: outfile }],
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
  return kb ? Math.round(kb / 1024) : null;
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
/** Compare per-minute digests [count, hash of due job indices] against a reference map. */
function compare(reference, first, digests, label) {
  digests.forEach((d, j) => {
    const minute = first + j * MINUTE;
    const ref = reference.get(minute);
    check.minutes++;
    check.due_runs += d[0];
    if (!ref || ref[0] !== d[0] || ref[1] !== d[1]) {
      check.mismatched_minutes++;
      if (check.detail.length < 10) check.detail.push({ label, minute: new Date(minute).toISOString(), reference: ref, got: d });
    }
  });
}

// --- our evaluation --------------------------------------------------------------------------
/**
 * Warm ticks: the first request builds the catalog's schedules (the isolate's first tick),
 * a probe sizes the requests, then `repeats` requests each evaluate `minutes` consecutive
 * minutes, continuing where the last stopped, as an isolate that lives on does.
 */
async function measureOurs(stack, n, emptyMs, label, reference, same) {
  const { call } = stack;
  const digests = new Map();
  const record = (first, body) => {
    body.digests.forEach((d, i) => digests.set(first + i * MINUTE, d));
    if (reference) compare(reference, first, body.digests, `${label} n=${n}`);
  };
  await call("/load", { n });
  const out = { rss_before_mb: workerdRssMb() };
  const first = await call("/ours", { n, first: START, minutes: 1 });
  record(START, first.body);
  out.first_tick_ms = round(first.ms - emptyMs);
  out.rss_after_first_tick_mb = workerdRssMb();
  let cursor = START + MINUTE;
  const probeMinutes = Math.max(1, Math.ceil(20_000 / n));
  const probe = await call("/ours", { n, first: cursor, minutes: probeMinutes });
  record(cursor, probe.body);
  cursor += probeMinutes * MINUTE;
  const perMinuteMs = Math.max((probe.ms - emptyMs) / probeMinutes, 1e-3);
  const maxMinutes = Math.floor((DST_FREE_UNTIL - cursor) / MINUTE / repeats);
  // `same`: another run's request sizes, so that both evaluate the very same minutes.
  const minutes = same?.minutes ?? Math.max(1, Math.min(maxMinutes, Math.ceil(targetMs / perMinuteMs)));
  const runs = [];
  const inside = [];
  const firsts = [];
  const duePerTick = [];
  const perDueRun = [];
  for (let i = 0; i < repeats; i++) {
    const res = await call("/ours", { n, first: cursor, minutes });
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
    // How many runs each request found due per tick: most of a warm tick's cost is computing a
    // due job's next instant, so the spread between requests follows these.
    due_per_tick: round(median(duePerTick)),
    due_per_tick_runs: duePerTick.map((x) => round(x)),
    us_per_due_run: round(median(perDueRun)),
  });
  log(`${label} n=${n}: ${out.median} µs/job/tick (min ${out.min}, max ${out.max}; in-worker clock ${out.in_worker_median}; ${minutes} minutes × ${repeats} requests; ${out.due_per_tick} runs due per tick, ${out.us_per_due_run} µs per due run; first tick ${out.first_tick_ms} ms)`);
  return { out, digests, firsts, minutes };
}

/** An isolate's first tick, `repeats` times, each on a fresh copy of the catalog. */
async function measureCold(stack, n, emptyMs, label, reference) {
  const runs = [];
  for (let i = 0; i < repeats; i++) {
    await stack.call("/prepare", { n });
    const res = await stack.call("/cold", { n, first: START });
    compare(reference, START, res.body.digests, `${label} cold n=${n}`);
    runs.push(res.ms - emptyMs);
  }
  const out = stats(runs);
  out.us_per_job = round((out.median * 1000) / n);
  log(`${label} cold n=${n}: first tick of an isolate ${out.median} ms (${out.us_per_job} µs/job)`);
  return out;
}

// --- naive: a new Cron per job per tick ------------------------------------------------------
const NAIVE = ["match", "nextrun"];
async function measureNaive(stack, n, emptyMs, how, ours) {
  const probe = await stack.call("/naive", { n, first: ours.firsts[0], minutes: 1, how });
  compare(ours.digests, ours.firsts[0], probe.body.digests, `naive(${how}) n=${n}`);
  const perMinuteMs = Math.max(probe.ms - emptyMs, 1e-3);
  const minutes = Math.max(1, Math.min(ours.minutes, Math.round(targetMs / perMinuteMs)));
  const runs = [];
  const inside = [];
  for (let i = 0; i < repeats; i++) {
    // Later minutes than the probe's, inside the range ours evaluated in its i-th request.
    const first = ours.firsts[i] + (ours.minutes > minutes ? MINUTE : 0);
    const res = await stack.call("/naive", { n, first, minutes, how });
    compare(ours.digests, first, res.body.digests, `naive(${how}) n=${n}`);
    runs.push((Math.max(res.ms - emptyMs, 0) * 1000) / (n * minutes));
    inside.push((res.body.ms * 1000) / (n * minutes));
  }
  const out = { ...stats(runs), in_worker_median: round(median(inside)), minutes_per_request: minutes };
  log(`naive(${how}) n=${n}: ${out.median} µs/job/tick (min ${out.min}, max ${out.max}; in-worker clock ${out.in_worker_median}; ${minutes} minutes × ${repeats} requests)`);
  return out;
}

// --- the run -------------------------------------------------------------------------------
const main = await start(mainBundle);
const clock = await main.call("/clock", { iters: 3e8 });
const clockFrozen = clock.body.date_ms === 0 && clock.body.perf_ms === 0;
log(`clock: ${clock.ms.toFixed(1)} ms of busy work seen from Node; inside workerd Date.now() moved ${clock.body.date_ms} ms, performance.now() ${clock.body.perf_ms} ms`);
let emptyMs = await main.measureEmpty(quick ? 20 : 50);
log(`empty request: ${emptyMs.toFixed(3)} ms (median of ${main.empties.length})`);
const mix = (await main.call("/mix", { n: Math.max(...sizes) })).body;

const ours = {};
for (const n of sizes) ours[n] = await measureOurs(main, n, emptyMs, "ours", null);
const naive = Object.fromEntries(NAIVE.map((how) => [how, {}]));
for (const n of sizes) for (const how of NAIVE) naive[how][n] = await measureNaive(main, n, emptyMs, how, ours[n]);
const cold = {};
for (const n of sizes) cold[n] = await measureCold(main, n, emptyMs, "ours", ours[n].digests);
emptyMs = await main.measureEmpty(quick ? 10 : 30);
const empties = main.empties;
const rssEnd = workerdRssMb();
await main.mf.dispose();

// --- report ---------------------------------------------------------------------------------
const largest = Math.max(...sizes);
const bestNaive = (n) => Math.min(...NAIVE.map((how) => naive[how][n].median));
const at10k = (f) => (sizes.includes(10000) ? f(10000) : null);
const tickAt = (n) => ours[n].out.median;
const pick = (o, keys) => Object.fromEntries(keys.map((k) => [k, o[k]]));
const report = {
  tick_us_per_job: Object.fromEntries(sizes.map((n) => [n, pick(ours[n].out, ["median", "min", "max", "iqr", "runs", "in_worker_median", "minutes_per_request", "due_per_tick", "due_per_tick_runs", "us_per_due_run"])])),
  tick_us_per_job_at_10000: at10k(tickAt),
  naive_us_per_job_at_10000: at10k(bestNaive),
  tick_naive_ratio: round(tickAt(largest) / bestNaive(largest)),
  tick_naive_ratio_at: largest,
  naive_us_per_job: naive.match,
  naive_nextrun_us_per_job: naive.nextrun,
  naive_baseline:
    "per job per tick: new Cron(cron, {timezone, mode: '5-part', domAndDow}), then match(minute) (naive_us_per_job) or nextRun(minute - 1) === minute (naive_nextrun_us_per_job); the ratio uses the faster",
  cold_first_tick_ms: cold,
  mismatches: check.mismatched_minutes,
  mismatch_detail: check.detail,
  compared_minutes: check.minutes,
  compared_due_runs: check.due_runs,
  workerd_rss_mb: {
    ...Object.fromEntries(sizes.map((n) => [n, pick(ours[n].out, ["rss_before_mb", "rss_after_first_tick_mb"])])),
    end: rssEnd,
  },
  empty_request_ms: { median: round(emptyMs), min: round(Math.min(...empties)), max: round(Math.max(...empties)), count: empties.length },
  workerd_clock_frozen: clockFrozen,
  clock_check: { node_ms: round(clock.ms), workerd_date_now_ms: clock.body.date_ms, workerd_performance_now_ms: round(clock.body.perf_ms) },
  timing: "Node performance.now() around each dispatchFetch minus the median empty request, per catalog job (disabled ones included) per one-minute tick; in_worker_median is workerd's own performance.now() (0 where the clock is frozen)",
  measured_minutes: `consecutive minutes from ${new Date(START).toISOString()}; no zone in the mix changes offset in them`,
  jobs_mix: mix,
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
