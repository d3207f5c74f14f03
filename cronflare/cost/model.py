"""What a catalog costs for 30 days: its runs, their Modal compute and the Cloudflare usage of the
hybrid, against the Modal-only alternative of one scheduled function per job (docs/COST.md).

Pure arithmetic on the deploy plan, the resolved jobs and the price table: no cloud call.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from rich.console import Console
from rich.table import Table

from cronflare.catalog.model import format_duration
from cronflare.catalog.schedule import fires_between, in_window, iso_utc, next_fires
from cronflare.catalog.validate import RUNTIME_ONLY, ResolvedJob
from cronflare.cost.prices import Prices
from cronflare.plan import DeployPlan, Frozen
from cronflare.runtime.image import WATCHER_CPU, WATCHER_MEMORY, WATCHER_SCALEDOWN
from cronflare.settings import TRIGGER_LIMITS

WINDOW_DAYS = 30
DEFAULT_EXPECTED_DURATION_S = 60  # for a job that does not say, capped at its timeout
TICKS_PER_DAY = 24 * 60
_MINUTE = 60

# How Modal's GPU spellings (catalog.model.MODAL_GPUS) map onto its price list. "any" may land
# on a T4, L4 or A10: priced as the dearest of them.
GPU_PRICE_KEY = {
    "ANY": "A10",
    "A10G": "A10",
    "A100": "A100-40GB",
    "H100!": "H100",
}

# What a run costs Cloudflare, measured by worker_src/test/cost.test.ts in workerd (the same
# SQLite engine as D1) with D1's own meta.rows_written and meta.rows_read: a minute of 200 runs
# less a minute of 100, each run succeeding at its first dispatch, across its whole life (the
# tick that inserts and dispatches it, its report, the sweep that would fail it silent, the
# pruning that deletes it). `make bench` records the figures in bench/results.json (bench_cost);
# each constant below is its figure rounded up, and tests/cost/test_measured.py keeps them equal.
# The run log is migration 0006: WITHOUT ROWID, one index every run pays for (docs/WORKER.md).
# Written: its INSERT 2 (the row, runs_by_time), `dispatched` 1, its report 2 (the row, its end's
# count), pruning 1 (measured 5.98).
D1_WRITTEN_PER_RUN = 6
# Read: its report 2, the silent-run sweep 1, pruning 1; `dispatched` is an upsert of the tick's
# answers, which D1 counts as no row read (measured 4.02; 5.02 while it was an UPDATE a run).
D1_READ_PER_RUN = 5
# The tick POSTs a minute's runs to the dispatcher itself, in signed batches of up to 500: a run
# that succeeds at its first dispatch never touches the queue (measured 0).
QUEUE_OPS_PER_RUN = 0
# Its report, the job wrapper's signed POST; its dispatch rides the tick's invocation (measured 1).
INVOCATIONS_PER_RUN = 1
# Each tick's own statements, whatever its runs: the scheduler's state, the last minute, the
# runs' count, the sweeps, pruning (the log, and what migrations 0006 and 0008 set aside), the
# alert outbox, the runtime schedules due (measured 4 and 19). Rows written once per newly
# evaluated minute; rows read on every scheduled() call.
D1_WRITTEN_PER_TICK = 4
D1_READ_PER_TICK = 19
# The bytes a run keeps in D1 with its index entry: the database's growth over 200,000 runs as
# the Worker writes them (measured 243.5, migrations/0008). Runs older than runRetentionDays are
# pruned, so the log levels off at about runRetentionDays of runs.
D1_BYTES_PER_RUN = 244
# The figures above by their key in bench/results.json: tests/cost/test_measured.py.
MEASURED = {
    "D1_WRITTEN_PER_RUN": "d1_rows_written_per_run",
    "D1_READ_PER_RUN": "d1_rows_read_per_run",
    "QUEUE_OPS_PER_RUN": "queue_ops_per_run",
    "INVOCATIONS_PER_RUN": "invocations_per_run",
    "D1_WRITTEN_PER_TICK": "d1_rows_written_per_tick",
    "D1_READ_PER_TICK": "d1_rows_read_per_tick",
    "D1_BYTES_PER_RUN": "d1_bytes_per_run",
}
# A dispatch that fails at the tick (a 5xx, a 429, a timeout, a network error) goes through the
# queue, as do a minute's runs past the tick's 40 POSTs of 500 (worker_src/src/direct.ts). Counted
# the same way in workerd (a tick whose batch POST gets a 503, then the consumer's batches of 10),
# over a run that succeeds at once: its message's write, read and delete; one consumer
# invocation (as if each batch carried one retry); the consumer's `dispatched` 1 row written
# (the tick's noted attempt replaces its own); getRun and `dispatched` 2 rows read, and the
# consumer batch's own 8 (the last minute 1, pruning 5, the alert outbox 2).
QUEUE_OPS_PER_RETRY = 3
INVOCATIONS_PER_RETRY = 1
D1_WRITTEN_PER_RETRY = 1
D1_READ_PER_RETRY = 2
D1_READ_PER_CONSUMER_BATCH = 8
TICK_BATCH_RUNS = 500  # BATCH_RUNS: runs in one signed POST to the dispatcher
TICK_DISPATCH_MAX_RUNS = 40 * TICK_BATCH_RUNS  # MAX_POSTS of them; more in a minute are queued
# The dispatcher answers within about a second, then waits out the scaledown window.
DISPATCH_BUSY_S = 1
# A target job's run ("app/function", deployed outside cronflare) is watched by a function of
# cronflare's own app that blocks on the target's FunctionCall for as long as it runs, then
# reports the outcome. It requests Modal's smallest container, as cronflare/runtime/image.py
# says and modal_app deploys. Modal bills max(request, usage); the watcher only waits, so the
# request is what it bills, plus its 2 s scaledown window after each call.
WATCHER_CPU_CORES, WATCHER_MEMORY_MIB, WATCHER_SCALEDOWN_S = (
    WATCHER_CPU,
    WATCHER_MEMORY,
    WATCHER_SCALEDOWN,
)
# What a target job without estimate_resources is told to add, in the report and the output.
ESTIMATE_HINT = "set estimate_resources=Resources(cpu=..., memory=...) on the job"

METER_NAMES = {
    "worker_invocations": "Worker invocations",
    "queue_operations": "Queue operations",
    "d1_rows_written": "D1 rows written",
    "d1_rows_read": "D1 rows read",
}

CloudflarePlanName = Literal["free", "paid"]
ModalPlanName = Literal["starter", "team"]


class JobCost(Frozen):
    """One job's runs in the window and the Modal compute they bill (the same on both sides).

    A target job's compute is priced from its estimate_resources; without them it is not priced
    (compute_priced False, usd 0, unpriced_reason says how to fix it). Its watcher (hybrid only)
    is in watcher_billed_seconds and watcher_usd, never in usd.
    """

    name: str
    enabled: bool
    schedule: str
    timezone: str
    runs: int
    expected_duration_s: int
    expected_duration_assumed: bool  # no expected_duration in the catalog: the default was used
    cpu_cores: float  # billed: the request, Modal's default when unset, at least Modal's minimum
    memory_mib: int
    gpu: str | None
    billed_seconds: float  # runs x duration, plus each container's billed idle time
    cpu_core_seconds: float
    memory_gib_seconds: float
    gpu_seconds: float
    usd: float
    target: str | None  # "app-name/function-name" for a target job, None for a handler job
    compute_priced: bool  # False: a target job that states no estimate_resources
    unpriced_reason: str | None  # why usd leaves the job's compute out, and the fix
    watcher_billed_seconds: float  # hybrid only: runs x duration of the target's watcher
    watcher_usd: float


class Meter(Frozen):
    """One Cloudflare meter over the window: per day against the free plan, per month on paid."""

    per_day_average: float
    per_day_peak: int  # the busiest whole UTC day: free allowances reset at 00:00 UTC
    free_per_day: int
    percent_of_free: float  # the peak day's share of the free allowance
    per_month: int
    paid_included_per_month: int
    paid_overage_usd: float


class CloudflareCost(Frozen):
    """The hybrid's Cloudflare usage, the plan it needs and why, and that plan's monthly cost."""

    mode: Literal["native", "tick"]
    cron_triggers: int
    free_cron_triggers: int
    worker_invocations: Meter
    queue_operations: Meter
    d1_rows_written: Meter
    d1_rows_read: Meter
    d1_storage_mb_per_month: float  # how fast the run log grows until retention prunes it
    d1_storage_mb_retained: float  # its size once it holds runRetentionDays of runs
    runs_per_day_peak: int  # the catalog's runs on the busiest whole UTC day
    # The most runs a day the free plan's daily allowances hold, with this catalog's ticks (or
    # trigger fires) and retries, and the allowance that runs out first (a METER_NAMES value).
    free_plan_runs_per_day: int
    free_plan_limit: str
    # The most runs a day whose runRetentionDays of log fit the free plan's database.
    free_plan_storage_runs_per_day: int
    run_retention_days: int
    paid_usd_per_million_runs: float  # on Workers Paid, past what it includes
    plan_needed: CloudflarePlanName
    reasons: tuple[str, ...]  # which allowance the free plan lacks; empty when it fits
    why: str  # the reasons in one line, or how close the fullest allowance comes
    usd_per_month: float


class Hybrid(Frozen):
    """cronflare: Cloudflare keeps time, Modal runs the jobs on the Starter plan (no crons)."""

    cloudflare_plan: CloudflarePlanName
    cloudflare_usd: float
    modal_plan: ModalPlanName
    modal_plan_usd: float
    jobs_compute_usd: float
    dispatcher_billed_seconds: float
    dispatcher_usd: float
    modal_credits_usd: float  # the plan's monthly credits, as far as compute uses them
    usd_per_month: float
    watcher_billed_seconds: float  # the target jobs' watchers (0 without target jobs)
    watcher_usd: float


class ModalOnly(Frozen):
    """The alternative: one modal.Cron/Period function per enabled job, no Cloudflare."""

    scheduled_functions: int
    starter_limit: int
    modal_plan: ModalPlanName
    reason: str
    modal_plan_usd: float
    jobs_compute_usd: float
    modal_credits_usd: float
    usd_per_month: float


class CostReport(Frozen):
    """Everything `cronflare cost` prints; `--json` is this model."""

    stack: str
    start: str
    end: str
    days: int
    prices_as_of: str
    price_overrides: tuple[str, ...]
    jobs: tuple[JobCost, ...]
    cloudflare: CloudflareCost
    hybrid: Hybrid
    modal_only: ModalOnly
    hybrid_usd_per_month: float
    modal_only_usd_per_month: float
    cloudflare_plan_needed: CloudflarePlanName
    verdict: str
    assumptions: tuple[str, ...]
    unpriced_jobs: tuple[str, ...]  # enabled target jobs whose compute is not priced


def window_fires(cron: str, timezone: str, start: datetime, end: datetime) -> list[datetime]:
    """Fire instants in [start, end) under catalog.schedule's timezone and DST rule, plus the
    first one at or after `end` (it bounds the last run's idle time), when there is one.
    """
    return fires_between(cron, timezone, start, end) + next_fires(
        cron, timezone, end - timedelta(microseconds=1), 1
    )


def job_window_fires(job: ResolvedJob, start: datetime, end: datetime) -> list[datetime]:
    """window_fires of an enabled job's catalog schedule, kept to its own start/end: runtime
    schedules are the app's to make, so a job without a catalog schedule counts none.
    """
    if job.cron is None or not job.enabled:
        return []
    return [t for t in window_fires(job.cron, job.timezone, start, end) if in_window(job, t)]


def expected_duration(job: ResolvedJob) -> tuple[int, bool]:
    """(seconds a run takes, whether that is the default): the default never exceeds the timeout."""
    if job.expected_duration is not None:
        return job.expected_duration, False
    return min(DEFAULT_EXPECTED_DURATION_S, job.timeout), True


def gpu_usd_per_second(gpu: str | None, prices: Prices) -> tuple[float, int]:
    """(price of one GPU per second, how many): "A100:2" is two A100-40GBs."""
    if gpu is None:
        return 0.0, 0
    kind, _, count = gpu.partition(":")
    key = GPU_PRICE_KEY.get(kind.upper(), kind.upper())
    return prices.modal_gpu_usd_per_second[key], int(count or 1)


def billed_seconds(fires: Sequence[datetime], end: datetime, busy: float, idle: float) -> float:
    """Container seconds: each fire in the window is busy, then idles until the next fire or for
    the scaledown window, whichever is shorter (a container that is still busy when the next
    fire comes makes Modal start a second one; the first one still idles afterwards).
    """
    total = 0.0
    for i, instant in enumerate(fires):
        if instant >= end:
            break
        gap = (fires[i + 1] - instant).total_seconds() if i + 1 < len(fires) else math.inf
        total += busy + min(idle, max(0.0, gap - busy))
    return total


def compute_priced(job: ResolvedJob) -> bool:
    """Whether the job's compute can be priced: a handler job's always can (cronflare deploys it,
    with Modal's defaults for what it leaves unset); a target job's only when its
    estimate_resources state at least one of cpu, memory or gpu.
    """
    r = job.resources
    return job.target is None or any(v is not None for v in (r.cpu, r.memory, r.gpu))


def unpriced_reason(job: ResolvedJob) -> str:
    """What the report says of a target job whose compute it cannot price."""
    return (
        f"target {job.target} is deployed outside cronflare and the job states no "
        f"estimate_resources, so its compute cannot be priced (counted as $0): {ESTIMATE_HINT}"
    )


def watcher_usd_per_second(p: Prices) -> float:
    """What one watcher container bills per second: its request, at least Modal's CPU floor."""
    cores = max(WATCHER_CPU_CORES, p.modal_min_cpu_cores)
    return (
        cores * p.modal_cpu_usd_per_core_second
        + WATCHER_MEMORY_MIB / 1024 * p.modal_memory_usd_per_gib_second
    )


def job_cost(job: ResolvedJob, fires: Sequence[datetime], end: datetime, p: Prices) -> JobCost:
    """One job's runs and Modal compute in the window, and for a target job its watcher's."""
    runs = sum(1 for t in fires if t < end) if job.enabled else 0
    duration, assumed = expected_duration(job)
    priced = compute_priced(job)
    cores = max(job.resources.cpu or p.modal_default_cpu_cores, p.modal_min_cpu_cores)
    memory = job.resources.memory or p.modal_default_memory_mib
    gpu_price, gpus = gpu_usd_per_second(job.resources.gpu, p)
    if not priced:  # a target of unknown size: its container time is known, its price is not
        cores, memory, gpu_price, gpus = 0.0, 0, 0.0, 0
    seconds = (
        billed_seconds(fires, end, duration, p.modal_scaledown_window_seconds)
        if job.enabled
        else 0.0
    )
    gib_seconds = seconds * memory / 1024
    usd = (
        seconds * cores * p.modal_cpu_usd_per_core_second
        + gib_seconds * p.modal_memory_usd_per_gib_second
        + seconds * gpus * gpu_price
    )
    # The watcher waits on the target's call for as long as it runs, then idles for its
    # scaledown window: runs x (duration + window).
    watcher_s = float(runs * (duration + WATCHER_SCALEDOWN_S)) if job.target is not None else 0.0
    return JobCost(
        name=job.name,
        enabled=job.enabled,
        schedule=job.schedule or RUNTIME_ONLY,
        timezone=job.timezone,
        runs=runs,
        expected_duration_s=duration,
        expected_duration_assumed=assumed,
        cpu_cores=cores,
        memory_mib=memory,
        gpu=job.resources.gpu,
        billed_seconds=seconds,
        cpu_core_seconds=seconds * cores,
        memory_gib_seconds=gib_seconds,
        gpu_seconds=seconds * gpus,
        usd=usd,
        target=job.target,
        compute_priced=priced,
        unpriced_reason=None if priced else unpriced_reason(job),
        watcher_billed_seconds=watcher_s,
        watcher_usd=watcher_s * watcher_usd_per_second(p),
    )


def _minute(t: datetime) -> int:
    return int(t.timestamp()) // _MINUTE


# Per-minute counts of one kind of event, keyed by minutes since the epoch. Floats, because a
# retry rate may be fractional; a meter rounds up once, at the end.
PerMinute = dict[int, float]


class _Days:
    """The whole UTC days inside the window: the free plan's allowances reset at 00:00 UTC."""

    def __init__(self, start: datetime, end: datetime):
        first = start.replace(hour=0, minute=0, second=0, microsecond=0)
        if first < start:
            first += timedelta(days=1)
        self.first = _minute(first)
        self.count = int((end - first) / timedelta(days=1))

    def peak(self, per_minute: PerMinute, per_tick: float) -> float:
        """The largest one-day total of the per-minute counts, plus `per_tick` every minute."""
        totals = [per_tick * TICKS_PER_DAY] * self.count
        for minute, n in per_minute.items():
            day = (minute - self.first) // TICKS_PER_DAY
            if 0 <= day < self.count:
                totals[day] += n
        return max(totals, default=0.0)


def _meter(
    per_minute: PerMinute,
    per_tick: float,
    window_minutes: int,
    days: _Days,
    free_per_day: int,
    included: int,
    usd_per_million: float,
) -> Meter:
    month = math.ceil(sum(per_minute.values()) + per_tick * window_minutes)
    peak = math.ceil(days.peak(per_minute, per_tick))
    return Meter(
        per_day_average=month / WINDOW_DAYS,
        per_day_peak=peak,
        free_per_day=free_per_day,
        percent_of_free=100.0 * peak / free_per_day if free_per_day else math.inf,
        per_month=month,
        paid_included_per_month=included,
        paid_overage_usd=max(0, month - included) / 1e6 * usd_per_million,
    )


def _sum(*terms: tuple[PerMinute, float]) -> PerMinute:
    """Weighted sum of per-minute counts: (counts, weight) pairs."""
    total: PerMinute = {}
    for counts, weight in terms:
        for minute, n in counts.items():
            total[minute] = total.get(minute, 0.0) + n * weight
    return total


class RunCost(Frozen):
    """What one run costs Cloudflare, and each tick beside it: the measured constants above."""

    invocations: float = INVOCATIONS_PER_RUN
    queue_operations: float = QUEUE_OPS_PER_RUN
    d1_rows_written: float = D1_WRITTEN_PER_RUN
    d1_rows_read: float = D1_READ_PER_RUN
    d1_bytes: float = D1_BYTES_PER_RUN
    tick_d1_rows_written: float = D1_WRITTEN_PER_TICK
    tick_d1_rows_read: float = D1_READ_PER_TICK

    @classmethod
    def measured(cls, figures: Mapping[str, float]) -> RunCost:
        """From the figures of worker_src/test/cost.test.ts (bench/results.json's keys), each
        rounded up as the constants are.
        """
        field = {
            "INVOCATIONS_PER_RUN": "invocations",
            "QUEUE_OPS_PER_RUN": "queue_operations",
            "D1_WRITTEN_PER_RUN": "d1_rows_written",
            "D1_READ_PER_RUN": "d1_rows_read",
            "D1_BYTES_PER_RUN": "d1_bytes",
            "D1_WRITTEN_PER_TICK": "tick_d1_rows_written",
            "D1_READ_PER_TICK": "tick_d1_rows_read",
        }
        return cls(**{field[name]: math.ceil(figures[key]) for name, key in MEASURED.items()})

    def per_run(self, retries_per_run: float = 0.0) -> dict[str, float]:
        """Each meter's use by one run and its share of retries (at most: each retry its own
        consumer batch), by METER_NAMES key.
        """
        r = retries_per_run
        return {
            "worker_invocations": self.invocations + r * INVOCATIONS_PER_RETRY,
            "queue_operations": self.queue_operations + r * QUEUE_OPS_PER_RETRY,
            "d1_rows_written": self.d1_rows_written + r * D1_WRITTEN_PER_RETRY,
            "d1_rows_read": self.d1_rows_read
            + r * (D1_READ_PER_RETRY + INVOCATIONS_PER_RETRY * D1_READ_PER_CONSUMER_BATCH),
        }

    def per_tick(self) -> dict[str, float]:
        """Each meter's use by one tick, whatever its runs."""
        return {
            "worker_invocations": 1,
            "queue_operations": 0,
            "d1_rows_written": self.tick_d1_rows_written,
            "d1_rows_read": self.tick_d1_rows_read,
        }


def free_plan_capacity(
    p: Prices,
    *,
    retries_per_run: float = 0.0,
    ticks_per_day: float = TICKS_PER_DAY,
    cost: RunCost | None = None,
) -> tuple[int, str]:
    """The most runs a day the free plan's daily allowances hold, and the METER_NAMES key of the
    one that runs out first: each allowance, less what `ticks_per_day` ticks use (1,440 in tick
    mode), divided by what a run uses.
    """
    cost = cost or RunCost()
    free = {
        "worker_invocations": p.workers_free_requests_per_day,
        "queue_operations": p.queues_free_operations_per_day,
        "d1_rows_written": p.d1_free_rows_written_per_day,
        "d1_rows_read": p.d1_free_rows_read_per_day,
    }
    tick, run = cost.per_tick(), cost.per_run(retries_per_run)
    holds = {
        key: max(0.0, free[key] - ticks_per_day * tick[key]) / run[key] if run[key] else math.inf
        for key in free
    }
    first = min(holds, key=holds.__getitem__)
    return math.floor(holds[first]), first


def paid_usd_per_million_runs(
    p: Prices, *, retries_per_run: float = 0.0, cost: RunCost | None = None
) -> float:
    """What a million more runs cost on Workers Paid once its included usage is spent."""
    run = (cost or RunCost()).per_run(retries_per_run)
    return (
        run["worker_invocations"] * p.workers_paid_usd_per_million_requests
        + run["queue_operations"] * p.queues_paid_usd_per_million_operations
        + run["d1_rows_written"] * p.d1_paid_usd_per_million_rows_written
        + run["d1_rows_read"] * p.d1_paid_usd_per_million_rows_read
    )


def storage_runs_per_day(p: Prices, retention_days: int, cost: RunCost | None = None) -> int:
    """The most runs a day whose `retention_days` of log fit the free plan's database."""
    per_run = (cost or RunCost()).d1_bytes
    return math.floor(p.d1_free_database_mb * 1e6 / (per_run * retention_days))


def retention_days_for(p: Prices, runs_per_day: float, cost: RunCost | None = None) -> int:
    """The longest runRetentionDays whose log of `runs_per_day` fits the free plan's database."""
    per_run = (cost or RunCost()).d1_bytes
    return math.floor(p.d1_free_database_mb * 1e6 / (per_run * runs_per_day))


def cloudflare_cost(
    plan: DeployPlan,
    fires: dict[str, list[datetime]],
    start: datetime,
    end: datetime,
    p: Prices,
    retries_per_run: float = 0.0,
) -> CloudflareCost:
    """The Worker's invocations, queue operations and D1 rows, per day and per month."""
    # Minute marks in [start, end): the ticks of tick mode.
    window_minutes = (
        _minute(end - timedelta(microseconds=1)) - math.ceil(start.timestamp() / 60) + 1
    )
    enabled = {j.name for j in plan.jobs if j.enabled}
    runs: PerMinute = dict(
        Counter(_minute(t) for name, ts in fires.items() if name in enabled for t in ts if t < end)
    )
    days = _Days(start, end)

    # scheduled() calls and the minutes they newly evaluate (advanceMinute writes once each):
    # in tick mode one of each every minute, in native mode one call per trigger fire.
    scheduled: PerMinute = {}
    per_tick = 1 if plan.mode == "tick" else 0
    if plan.mode == "native":
        for trigger in plan.cron_triggers:
            members = [j.name for j in plan.jobs if j.enabled and j.cloudflare_cron == trigger]
            for minute in {_minute(t) for name in members for t in fires.get(name, []) if t < end}:
                scheduled[minute] = scheduled.get(minute, 0.0) + 1
    evaluated: PerMinute = dict.fromkeys(scheduled, 1.0)

    # The tick dispatches its runs itself. Through the queue go the retries, and the runs of a
    # minute past the tick's own POSTs (sent together: one consumer batch per queueBatchSize).
    batch = plan.queues.batch_size
    over = {m: n - TICK_DISPATCH_MAX_RUNS for m, n in runs.items() if n > TICK_DISPATCH_MAX_RUNS}
    retries = _sum((runs, retries_per_run))
    queued = _sum((retries, 1), (over, 1))
    consumer = _sum(
        (retries, INVOCATIONS_PER_RETRY),
        ({m: float(math.ceil(n / batch)) for m, n in over.items()}, 1),
    )
    # (per-minute counts, per tick, free per day, included per month, USD per million on paid)
    meters = {
        # A run is one report; a retry, one consumer delivery (its dispatch rides it).
        "worker_invocations": (
            _sum((scheduled, 1), (runs, INVOCATIONS_PER_RUN), (consumer, 1)),
            per_tick,
            p.workers_free_requests_per_day,
            p.workers_paid_requests_per_month,
            p.workers_paid_usd_per_million_requests,
        ),
        "queue_operations": (
            _sum((runs, QUEUE_OPS_PER_RUN), (queued, QUEUE_OPS_PER_RETRY)),
            0,
            p.queues_free_operations_per_day,
            p.queues_paid_operations_per_month,
            p.queues_paid_usd_per_million_operations,
        ),
        "d1_rows_written": (
            _sum(
                (runs, D1_WRITTEN_PER_RUN),
                (evaluated, D1_WRITTEN_PER_TICK),
                (queued, D1_WRITTEN_PER_RETRY),
            ),
            per_tick * D1_WRITTEN_PER_TICK,
            p.d1_free_rows_written_per_day,
            p.d1_paid_rows_written_per_month,
            p.d1_paid_usd_per_million_rows_written,
        ),
        "d1_rows_read": (
            _sum(
                (runs, D1_READ_PER_RUN),
                (scheduled, D1_READ_PER_TICK),
                (queued, D1_READ_PER_RETRY),
                (consumer, D1_READ_PER_CONSUMER_BATCH),
            ),
            per_tick * D1_READ_PER_TICK,
            p.d1_free_rows_read_per_day,
            p.d1_paid_rows_read_per_month,
            p.d1_paid_usd_per_million_rows_read,
        ),
    }
    usage = {
        key: _meter(counts, tick, window_minutes, days, free, included, price)
        for key, (counts, tick, free, included, price) in meters.items()
    }
    reasons: list[str] = []
    free_triggers = TRIGGER_LIMITS["free"]
    triggers = len(plan.cron_triggers)
    if plan.mode == "native" and triggers > free_triggers:
        reasons.append(
            f"cron triggers: {triggers} native triggers > the free plan's {free_triggers} per "
            "account (on the free plan, triggerMode auto would run in tick mode instead)"
        )
    for key, meter in usage.items():
        if meter.per_day_peak > meter.free_per_day:
            reasons.append(
                f"{METER_NAMES[key]}: {meter.per_day_peak:,} on the busiest day > the free "
                f"plan's {meter.free_per_day:,} a day"
            )
    plan_needed: CloudflarePlanName = "paid" if reasons else "free"
    usd = 0.0
    if plan_needed == "paid":
        usd = p.workers_paid_usd_per_month + sum(m.paid_overage_usd for m in usage.values())
    total_runs = sum(runs.values())
    # In native mode the trigger fires of the catalog as written stand in for the ticks.
    calls = days.peak(scheduled, per_tick)
    capacity, limit = free_plan_capacity(p, retries_per_run=retries_per_run, ticks_per_day=calls)
    fullest = max(usage, key=lambda k: usage[k].percent_of_free)
    why = "; ".join(reasons) or (
        f"every daily allowance fits; the fullest is {METER_NAMES[fullest]}, "
        f"{usage[fullest].percent_of_free:.1f}% on the busiest day"
    )
    return CloudflareCost(
        mode=plan.mode,
        cron_triggers=triggers,
        free_cron_triggers=free_triggers,
        worker_invocations=usage["worker_invocations"],
        queue_operations=usage["queue_operations"],
        d1_rows_written=usage["d1_rows_written"],
        d1_rows_read=usage["d1_rows_read"],
        d1_storage_mb_per_month=total_runs * D1_BYTES_PER_RUN / 1e6,
        d1_storage_mb_retained=total_runs
        / (end - start).days
        * plan.run_retention_days
        * D1_BYTES_PER_RUN
        / 1e6,
        runs_per_day_peak=math.ceil(days.peak(runs, 0)),
        free_plan_runs_per_day=capacity,
        free_plan_limit=METER_NAMES[limit],
        free_plan_storage_runs_per_day=storage_runs_per_day(p, plan.run_retention_days),
        run_retention_days=plan.run_retention_days,
        paid_usd_per_million_runs=paid_usd_per_million_runs(p, retries_per_run=retries_per_run),
        plan_needed=plan_needed,
        reasons=tuple(reasons),
        why=why,
        usd_per_month=usd,
    )


def dispatcher_seconds(fires: dict[str, list[datetime]], end: datetime, idle: float) -> float:
    """Billed seconds of the hybrid's dispatcher: busy once per minute with due runs, then idle
    until the next such minute or for the scaledown window.
    """
    minutes = sorted({t.replace(second=0, microsecond=0) for ts in fires.values() for t in ts})
    return billed_seconds(minutes, end, DISPATCH_BUSY_S, idle)


def _credits(compute: float, credits: float) -> float:
    return min(compute, credits)


def modal_only_cost(jobs: Sequence[JobCost], p: Prices) -> ModalOnly:
    """One scheduled function per enabled job: Starter holds a few, more need Team."""
    count = sum(j.enabled for j in jobs)
    compute = sum(j.usd for j in jobs)
    limit = p.modal_starter_scheduled_functions
    if count > limit:
        plan: ModalPlanName = "team"
        fee, credits = p.modal_team_usd_per_month, p.modal_team_credits_usd_per_month
        reason = f"{count} scheduled functions > the Starter plan's {limit}"
    else:
        plan = "starter"
        fee, credits = p.modal_starter_usd_per_month, p.modal_starter_credits_usd_per_month
        reason = f"{count} scheduled functions fit the Starter plan's {limit}"
    used = _credits(compute, credits)
    return ModalOnly(
        scheduled_functions=count,
        starter_limit=limit,
        modal_plan=plan,
        reason=reason,
        modal_plan_usd=fee,
        jobs_compute_usd=compute,
        modal_credits_usd=used,
        usd_per_month=fee + compute - used,
    )


def hybrid_cost(
    jobs: Sequence[JobCost], cloudflare: CloudflareCost, dispatcher_s: float, p: Prices
) -> Hybrid:
    """cronflare's side: the Cloudflare plan, Modal Starter, the jobs, the dispatcher and the
    target jobs' watchers.
    """
    default_core_s = dispatcher_s * max(p.modal_default_cpu_cores, p.modal_min_cpu_cores)
    dispatcher_usd = (
        default_core_s * p.modal_cpu_usd_per_core_second
        + dispatcher_s * p.modal_default_memory_mib / 1024 * p.modal_memory_usd_per_gib_second
    )
    compute = sum(j.usd for j in jobs)
    watcher_usd = sum(j.watcher_usd for j in jobs)
    modal = compute + dispatcher_usd + watcher_usd
    used = _credits(modal, p.modal_starter_credits_usd_per_month)
    fee = p.modal_starter_usd_per_month
    return Hybrid(
        cloudflare_plan=cloudflare.plan_needed,
        cloudflare_usd=cloudflare.usd_per_month,
        modal_plan="starter",
        modal_plan_usd=fee,
        jobs_compute_usd=compute,
        dispatcher_billed_seconds=dispatcher_s,
        dispatcher_usd=dispatcher_usd,
        modal_credits_usd=used,
        usd_per_month=cloudflare.usd_per_month + fee + modal - used,
        watcher_billed_seconds=sum(j.watcher_billed_seconds for j in jobs),
        watcher_usd=watcher_usd,
    )


def verdict(hybrid: Hybrid, modal_only: ModalOnly, unpriced: Sequence[str] = ()) -> str:
    """One line: which side is cheaper per month, and by how much (and what is left out)."""
    h, m = hybrid.usd_per_month, modal_only.usd_per_month
    sides = (
        f"hybrid ${h:,.2f} (Cloudflare {hybrid.cloudflare_plan}, Modal Starter) vs Modal-only "
        f"${m:,.2f} (Modal {modal_only.modal_plan.title()}: {modal_only.reason})"
    )
    left_out = (
        f"; both leave out the compute of {len(unpriced)} target job(s) without "
        f"estimate_resources: {', '.join(unpriced)}"
        if unpriced
        else ""
    )
    if round(h, 2) == round(m, 2):
        return f"same cost per month: {sides}{left_out}"
    cheaper = "hybrid" if h < m else "Modal-only"
    return f"{cheaper} is cheaper by ${abs(m - h):,.2f}/month: {sides}{left_out}"


def assumptions(
    jobs: Sequence[JobCost],
    plan: DeployPlan,
    p: Prices,
    retries_per_run: float,
    runtime: Sequence[str] = (),
) -> tuple[str, ...]:
    """The assumptions behind the figures, in words, the defaults used first."""
    out: list[str] = []
    if runtime:
        out.append(
            f"only catalog schedules are counted: the runtime schedules that apps create for "
            f"{len(runtime)} job(s) are not: {', '.join(runtime)}"
        )
    assumed = [j.name for j in jobs if j.enabled and j.expected_duration_assumed]
    if assumed:
        out.append(
            f"expected_duration {format_duration(DEFAULT_EXPECTED_DURATION_S)} (capped at the "
            f"timeout) for {len(assumed)} job(s) that do not set it: {', '.join(assumed)}"
        )
    unpriced = [j.name for j in jobs if j.enabled and not j.compute_priced]
    if unpriced:
        out.append(
            f"the compute of {len(unpriced)} target job(s) is not priced ($0), since they state no "
            f"estimate_resources: {', '.join(unpriced)}; {ESTIMATE_HINT}"
        )
    targets = [j.name for j in jobs if j.enabled and j.target is not None]
    if targets:
        out.append(
            f"on the hybrid side, each run of a target job also runs cronflare's watcher "
            f"({WATCHER_CPU_CORES:g} cores, {WATCHER_MEMORY_MIB} MiB) for the run's expected "
            f"duration plus its {WATCHER_SCALEDOWN_S} s scaledown window, for "
            f"{len(targets)} job(s): {', '.join(targets)}; a target's own container is priced "
            "with Modal's default scaledown window"
        )
    out += [
        f"cpu/memory left unset: Modal's default request of {p.modal_default_cpu_cores:g} cores "
        f"and {p.modal_default_memory_mib} MiB; CPU is billed at least "
        f"{p.modal_min_cpu_cores:g} cores; gpu 'any' is priced as an A10",
        f"after each run its container idles, billed, until the job's next run or for Modal's "
        f"{p.modal_scaledown_window_seconds} s scaledown window, whichever comes first",
        f"the hybrid's dispatcher (Modal's default resources) is busy {DISPATCH_BUSY_S} s in "
        "each minute with due runs, then idles the same way; Modal-only has no dispatcher",
        f"every run succeeds on its first attempt (no Modal retries), with {retries_per_run:g} "
        "dispatch retries per run; one callback per run; no admin or dashboard requests",
        f"each tick dispatches its minute's runs itself, in signed batches of up to "
        f"{TICK_BATCH_RUNS} (at most "
        f"{TICK_DISPATCH_MAX_RUNS:,} a minute; more go through the queue, whose consumer takes "
        f"them in batches of up to {plan.queues.batch_size}, queueBatchSize); a retried dispatch "
        "goes through the queue, one consumer invocation each",
        f"a month is the {WINDOW_DAYS}-day window; daily peaks are over whole UTC days, since "
        "Cloudflare resets the free plan's allowances at 00:00 UTC",
        "Workers CPU time is not estimated: the free plan allows 10 ms per invocation, the paid "
        "plan includes 30 million CPU-ms a month",
    ]
    return tuple(out)


def estimate(
    plan: DeployPlan,
    jobs: Sequence[ResolvedJob],
    prices: Prices,
    start: datetime,
    *,
    retries_per_run: float = 0.0,
) -> CostReport:
    """The whole cost report of a catalog, from `start` for WINDOW_DAYS days."""
    start = start.astimezone(UTC)
    end = start + timedelta(days=WINDOW_DAYS)
    fires = {j.name: job_window_fires(j, start, end) for j in jobs}
    costs = tuple(job_cost(j, fires[j.name], end, prices) for j in jobs)
    unpriced = tuple(c.name for c in costs if c.enabled and not c.compute_priced)
    cloudflare = cloudflare_cost(plan, fires, start, end, prices, retries_per_run)
    dispatcher_s = dispatcher_seconds(fires, end, prices.modal_scaledown_window_seconds)
    hybrid = hybrid_cost(costs, cloudflare, dispatcher_s, prices)
    modal_only = modal_only_cost(costs, prices)
    return CostReport(
        stack=plan.stack,
        start=iso_utc(start),
        end=iso_utc(end),
        days=WINDOW_DAYS,
        prices_as_of=prices.as_of.isoformat(),
        price_overrides=tuple(prices.overridden()),
        jobs=costs,
        cloudflare=cloudflare,
        hybrid=hybrid,
        modal_only=modal_only,
        hybrid_usd_per_month=hybrid.usd_per_month,
        modal_only_usd_per_month=modal_only.usd_per_month,
        cloudflare_plan_needed=cloudflare.plan_needed,
        verdict=verdict(hybrid, modal_only, unpriced),
        assumptions=assumptions(
            costs,
            plan,
            prices,
            retries_per_run,
            runtime=[j.name for j in jobs if j.enabled and j.runtime_schedules],
        ),
        unpriced_jobs=unpriced,
    )


# --- the human output ------------------------------------------------------------------------


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _resources(job: JobCost) -> str:
    if not job.compute_priced:
        return "[yellow]not stated[/]"
    parts = [f"{job.cpu_cores:g} cpu", f"{job.memory_mib} MiB"]
    text = ", ".join(parts + ([job.gpu] if job.gpu else []))
    return f"{text} (estimate)" if job.target else text


def _compute(job: JobCost) -> str:
    if not job.enabled:
        return ""
    return _usd(job.usd) if job.compute_priced else "[yellow]not priced[/]"


def jobs_table(report: CostReport, p: Prices) -> Table:
    """Per job: runs in the window, run time, resources, billed container time and its cost."""
    table = Table(
        title=f"Runs and Modal compute, {report.start} → {report.end} ({report.days} days)",
        title_justify="left",
    )
    for col in ("job", "schedule", "runs", "run time", "resources", "billed", "compute"):
        table.add_column(col, justify="right" if col in {"runs", "billed", "compute"} else "left")
    for j in report.jobs:
        run_time = format_duration(j.expected_duration_s) + (
            "*" if j.expected_duration_assumed else ""
        )
        table.add_row(
            j.name if j.target is None else f"{j.name}\n→ {j.target}",
            j.schedule
            if j.timezone == "UTC" or j.schedule == RUNTIME_ONLY
            else f"{j.schedule} ({j.timezone})",
            f"{j.runs:,}" if j.enabled else "[dim]disabled[/]",
            run_time if j.enabled else "",
            _resources(j),
            f"{j.billed_seconds / 3600:,.1f} h" if j.enabled else "",
            _compute(j),
        )
    table.add_section()
    h = report.hybrid
    table.add_row(
        "dispatcher",
        "hybrid only",
        "",
        f"{DISPATCH_BUSY_S}s",
        f"{max(p.modal_default_cpu_cores, p.modal_min_cpu_cores):g} cpu, "
        f"{p.modal_default_memory_mib} MiB",
        f"{h.dispatcher_billed_seconds / 3600:,.1f} h",
        _usd(h.dispatcher_usd),
    )
    watched = sum(j.runs for j in report.jobs if j.target is not None)
    if any(j.target is not None for j in report.jobs):
        table.add_row(
            "target watchers",
            "hybrid only",
            f"{watched:,}",
            "target's",
            f"{WATCHER_CPU_CORES:g} cpu, {WATCHER_MEMORY_MIB} MiB",
            f"{h.watcher_billed_seconds / 3600:,.1f} h",
            _usd(h.watcher_usd),
        )
    table.add_section()
    table.add_row(
        "[bold]total[/]",
        "",
        f"{sum(j.runs for j in report.jobs):,}",
        "",
        "",
        "",
        _usd(h.jobs_compute_usd + h.dispatcher_usd + h.watcher_usd),
    )
    return table


def cloudflare_table(report: CostReport) -> Table:
    """The hybrid's Cloudflare usage against the free plan's daily allowances."""
    cf = report.cloudflare
    table = Table(
        title=f"Cloudflare usage ({cf.mode} mode) against the free plan's daily allowances",
        title_justify="left",
    )
    for col in ("allowance", "average/day", "busiest day", "free plan/day", "used", "per month"):
        table.add_column(col, justify="left" if col == "allowance" else "right")
    for key, name in METER_NAMES.items():
        m: Meter = getattr(cf, key)
        used = f"{m.percent_of_free:.1f}%"
        table.add_row(
            name,
            f"{m.per_day_average:,.0f}",
            f"{m.per_day_peak:,}",
            f"{m.free_per_day:,}",
            f"[red]{used}[/]" if m.per_day_peak > m.free_per_day else used,
            f"{m.per_month:,}",
        )
    over = cf.mode == "native" and cf.cron_triggers > cf.free_cron_triggers
    share = f"{100 * cf.cron_triggers / cf.free_cron_triggers:.0f}%"
    table.add_row(
        "Cron triggers (per account)",
        "",
        f"{cf.cron_triggers}",
        f"{cf.free_cron_triggers}",
        f"[red]{share}[/]" if over else share,
        "",
    )
    return table


def comparison_table(report: CostReport) -> Table:
    """Per month, side by side: the hybrid and Modal-only."""
    h, m = report.hybrid, report.modal_only
    table = Table(title=f"Per month ({report.days} days)", title_justify="left")
    for col in ("", "hybrid (cronflare)", "Modal-only"):
        table.add_column(col, justify="left" if not col else "right")
    table.add_row("Cloudflare", f"{h.cloudflare_plan} {_usd(h.cloudflare_usd)}", "")
    table.add_row(
        "Modal plan",
        f"{h.modal_plan.title()} {_usd(h.modal_plan_usd)}",
        f"{m.modal_plan.title()} {_usd(m.modal_plan_usd)}",
    )
    table.add_row("Modal scheduled functions", "0", f"{m.scheduled_functions}")
    table.add_row("job compute", _usd(h.jobs_compute_usd), _usd(m.jobs_compute_usd))
    table.add_row("dispatcher compute", _usd(h.dispatcher_usd), "")
    if any(j.target is not None for j in report.jobs):
        table.add_row("target watcher compute", _usd(h.watcher_usd), "")
    table.add_row("Modal credits", f"-{_usd(h.modal_credits_usd)}", f"-{_usd(m.modal_credits_usd)}")
    table.add_section()
    table.add_row(
        "[bold]total[/]", f"[bold]{_usd(h.usd_per_month)}[/]", f"[bold]{_usd(m.usd_per_month)}[/]"
    )
    return table


def free_plan_line(report: CostReport, p: Prices) -> str:
    """How many runs a day the free plan holds, against the catalog as written; what a million
    more cost on the paid plan.
    """
    cf = report.cloudflare
    share = 100 * cf.runs_per_day_peak / cf.free_plan_runs_per_day
    line = (
        f"Free plan capacity: about {cf.free_plan_runs_per_day:,} runs a day ({cf.free_plan_limit} "
        f"run out first); this catalog makes {cf.runs_per_day_peak:,} on its busiest day "
        f"({share:.1f}%)."
    )
    if cf.free_plan_storage_runs_per_day < cf.free_plan_runs_per_day:
        retention = retention_days_for(p, cf.free_plan_runs_per_day)
        line += (
            f" Its {p.d1_free_database_mb:,} MB database holds "
            f"{cf.free_plan_storage_runs_per_day:,} runs a day at runRetentionDays "
            f"{cf.run_retention_days}; "
            f"{cf.free_plan_runs_per_day:,} a day need runRetentionDays {retention} or less."
        )
    return line + (
        f" Past the free plan, a million more runs cost about "
        f"{_usd(cf.paid_usd_per_million_runs)} on Workers Paid."
    )


def render(report: CostReport, p: Prices, console: Console) -> None:
    """The three tables, the plan needed and why, the assumptions, then the one-line verdict."""
    console.print(jobs_table(report, p))
    if any(j.expected_duration_assumed and j.enabled for j in report.jobs):
        console.print(
            f"* no expected_duration in the catalog: {format_duration(DEFAULT_EXPECTED_DURATION_S)}"
            " assumed (at most the timeout)",
            markup=False,
        )
    for j in report.jobs:
        if j.enabled and j.unpriced_reason:
            console.print(
                f"! job {j.name}: {j.unpriced_reason}", markup=False, style="yellow", soft_wrap=True
            )
    console.print(cloudflare_table(report))
    cf = report.cloudflare
    price = "" if cf.plan_needed == "free" else f" ({_usd(cf.usd_per_month)}/month)"
    console.print(f"Cloudflare plan needed: {cf.plan_needed}{price}: {cf.why}", markup=False)
    console.print(
        f"The run log grows about {cf.d1_storage_mb_per_month:,.1f} MB a month and levels off "
        f"near {cf.d1_storage_mb_retained:,.1f} MB, once it holds runRetentionDays of runs "
        f"(free plan: {p.d1_free_database_mb:,} MB per database).",
        markup=False,
    )
    console.print(free_plan_line(report, p), markup=False)
    console.print(comparison_table(report))
    console.print(
        f"Prices as of {report.prices_as_of} (docs/COST.md)"
        + (
            f"; overridden by the stack: {', '.join(report.price_overrides)}"
            if report.price_overrides
            else ""
        )
        + ". Assuming:",
        markup=False,
    )
    for line in report.assumptions:
        console.print(f"  - {line}", markup=False, style="dim", soft_wrap=True)
    console.print(report.verdict, markup=False, style="bold", soft_wrap=True)
