"""`cronflare cost`: run counts, Modal compute, Cloudflare usage and the plan each side needs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from typer.testing import CliRunner

from cronflare import cli
from cronflare.catalog.model import Catalog, CatalogError, Job, Resources
from cronflare.catalog.validate import resolve
from cronflare.cost import model
from cronflare.cost.model import CostReport, estimate
from cronflare.cost.prices import Prices
from cronflare.plan import plan, plan_resolved
from cronflare.settings import load_stack_settings, local_settings, settings_from_config
from jobs.catalog import CATALOG
from tests.cron_oracle import croniter_fires, oracle_next
from tests.test_cli import BAD_CATALOG

H = "jobs.handlers.ops:monitor"
# Europe/Berlin leaves summer time on 2026-10-25 and America/New_York on 2026-11-01.
DST_START = datetime(2026, 10, 15, tzinfo=UTC)
# A Monday, far from any DST change: 30 whole UTC days.
START = datetime(2026, 3, 2, tzinfo=UTC)

# Every figure pinned, so that the hand-computed numbers below never move with the real table.
PINNED = {
    "asOf": "2026-01-01",
    "workersFreeRequestsPerDay": 100_000,
    "workersPaidUsdPerMonth": 5,
    "workersPaidRequestsPerMonth": 10_000_000,
    "workersPaidUsdPerMillionRequests": 0.30,
    "queuesFreeOperationsPerDay": 10_000,
    "queuesPaidOperationsPerMonth": 1_000_000,
    "queuesPaidUsdPerMillionOperations": 0.40,
    "d1FreeRowsReadPerDay": 5_000_000,
    "d1FreeRowsWrittenPerDay": 100_000,
    "d1FreeDatabaseMb": 500,
    "d1PaidRowsReadPerMonth": 25_000_000_000,
    "d1PaidRowsWrittenPerMonth": 50_000_000,
    "d1PaidUsdPerMillionRowsRead": 0.001,
    "d1PaidUsdPerMillionRowsWritten": 1.0,
    "modalCpuUsdPerCoreSecond": 0.00001,
    "modalMemoryUsdPerGibSecond": 0.000002,
    "modalGpuUsdPerSecond": {"T4": 0.0001},
    "modalDefaultCpuCores": 0.125,
    "modalMinCpuCores": 0.125,
    "modalDefaultMemoryMib": 128,
    "modalScaledownWindowSeconds": 60,
    "modalStarterUsdPerMonth": 0,
    "modalStarterCreditsUsdPerMonth": 0,
    "modalStarterScheduledFunctions": 5,
    "modalStarterWebEndpoints": 8,
    "modalTeamUsdPerMonth": 250,
    "modalTeamCreditsUsdPerMonth": 0,
}

runner = CliRunner()


def job(name: str, **kw) -> Job:
    return Job(name=name, description="d", handler=H, **kw)


def pinned(**changes) -> Prices:
    return Prices.model_validate({**PINNED, **changes})


def report(
    catalog: Catalog, start: datetime = START, prices: Prices | None = None, **settings
) -> CostReport:
    s = local_settings(**settings)
    return estimate(plan(catalog, s), resolve(catalog, s.jobs).jobs, prices or pinned(), start)


def every_minute(count: int) -> Catalog:
    return Catalog(jobs=[job(f"m{i}", every="1m", expected_duration="5s") for i in range(count)])


def test_run_counts_match_an_independent_cron_reading_across_dst_changes():
    """Each job's runs in the 30 days are those an independent cron oracle finds, DST included."""
    end = DST_START + timedelta(days=30)
    for zone in ("Europe/Berlin", "America/New_York"):
        z = ZoneInfo(zone)
        assert DST_START.astimezone(z).utcoffset() != end.astimezone(z).utcoffset(), zone
    got = {j.name: j.runs for j in report(CATALOG, DST_START).jobs}
    for j in resolve(CATALOG).jobs:
        if j.cron is None:
            expected = []
        elif j.timezone == "UTC":
            expected = croniter_fires(j.cron, DST_START, end)
        else:
            after, horizon = DST_START - timedelta(minutes=1), timedelta(days=30, minutes=1)
            found = oracle_next(j.cron, j.timezone, after, 10_000, horizon)
            expected = [t for t in found if t < end]
        assert got[j.name] == len(expected), j.name
    assert got["berlin-digest"] == 22 and got["new-york-sla-report"] == 5
    assert got["monitoring"] == 30 * 288 and got["quarterly-archive"] == 0


def test_a_disabled_job_has_no_runs_and_costs_nothing():
    """A job disabled by the stack runs 0 times, bills nothing, and uses no Cloudflare."""
    catalog = Catalog(jobs=[job("on", schedule="0 * * * *"), job("off", every="1m")])
    r = report(catalog, jobs={"off": {"enabled": False}})
    off = next(j for j in r.jobs if j.name == "off")
    assert (off.runs, off.billed_seconds, off.usd) == (0, 0.0, 0.0)
    # 720 runs and as many trigger fires (native mode): 6 rows written a run, 4 a new minute.
    assert r.cloudflare.worker_invocations.per_month == 720 + 720
    assert r.cloudflare.d1_rows_written.per_month == 6 * 720 + 4 * 720
    assert r.modal_only.scheduled_functions == 1


def test_hand_computed_catalog():
    """Runs, container seconds, CPU-, GiB- and GPU-seconds, dollars and Cloudflare usage of a
    three-job catalog match the figures worked out by hand from the pinned prices.
    """
    catalog = Catalog(
        jobs=[
            job("hourly", schedule="0 * * * *", expected_duration="30s",
                resources=Resources(cpu=1, memory=2048)),
            job("gpu-nightly", schedule="0 2 * * *", expected_duration="10m",
                resources=Resources(gpu="T4")),
            job("every-minute", every="1m"),  # no expected_duration: 60 s assumed
        ]
    )  # fmt: skip
    r = report(catalog)
    jobs = {j.name: j for j in r.jobs}

    # hourly: 720 runs of 30 s, each then idle 60 s (the next run is an hour away).
    h = jobs["hourly"]
    assert (h.runs, h.billed_seconds) == (720, 720 * 90)  # 64,800 s
    assert h.cpu_core_seconds == 64_800 and h.memory_gib_seconds == 129_600
    assert h.usd == pytest.approx(64_800 * 0.00001 + 129_600 * 0.000002)  # 0.648 + 0.2592
    # gpu-nightly: 30 runs of 600 s + 60 s idle, on Modal's default 0.125 cores and 128 MiB.
    g = jobs["gpu-nightly"]
    assert (g.runs, g.billed_seconds, g.gpu_seconds) == (30, 19_800, 19_800)
    assert g.cpu_core_seconds == 2_475 and g.memory_gib_seconds == 2_475
    assert g.usd == pytest.approx(0.02475 + 0.00495 + 1.98)  # 2.0097
    # every-minute: 43,200 runs of 60 s (assumed), no idle time before the next one.
    e = jobs["every-minute"]
    assert (e.runs, e.expected_duration_s, e.expected_duration_assumed) == (43_200, 60, True)
    assert e.billed_seconds == 2_592_000 and e.cpu_core_seconds == 324_000
    assert e.usd == pytest.approx(3.24 + 0.648)  # 3.888

    # Native mode, 3 triggers. A day: 1,440 + 24 + 1 = 1,465 runs and as many trigger fires,
    # in 1,440 distinct minutes; each fire dispatches its runs itself (no queue, no consumer);
    # one report per run. A run writes 6 rows and reads 5; a fire reads 19; a new minute writes 4.
    cf = r.cloudflare
    assert (cf.mode, cf.cron_triggers) == ("native", 3)
    assert cf.worker_invocations.per_day_peak == 1_465 + 1_465  # 2,930
    assert cf.worker_invocations.per_month == 30 * 2_930
    assert cf.queue_operations.per_month == 0
    assert cf.d1_rows_written.per_day_peak == 6 * 1_465 + 4 * 1_440  # 14,550
    assert cf.d1_rows_written.per_month == 6 * 43_950 + 4 * 43_200  # 436,500
    assert cf.d1_rows_read.per_day_peak == 5 * 1_465 + 19 * 1_465  # 35,160
    assert cf.plan_needed == "free" and cf.usd_per_month == 0
    assert (
        cf.why
        == "every daily allowance fits; the fullest is D1 rows written, 14.6% on the busiest day"
    )

    assert cf.d1_storage_mb_retained == pytest.approx(1_465 * 90 * 244 / 1e6)  # 32.2 MB
    # What the free plan holds beside these 1,465 trigger fires a day: D1 rows written first.
    assert cf.runs_per_day_peak == 1_465
    assert (cf.free_plan_runs_per_day, cf.free_plan_limit) == (
        (100_000 - 4 * 1_465) // 6,  # 15,690
        "D1 rows written",
    )
    assert cf.free_plan_storage_runs_per_day == int(500e6 / (244 * 90))  # 22,768
    assert cf.paid_usd_per_million_runs == pytest.approx(1 * 0.30 + 6 * 1.00 + 5 * 0.001)

    # The dispatcher is busy 1 s every minute and idles the other 59: 43,200 min x 60 s.
    compute = 0.9072 + 2.0097 + 3.888
    assert r.hybrid.dispatcher_billed_seconds == 2_592_000
    assert r.hybrid.dispatcher_usd == pytest.approx(2_592_000 * 0.125 * (0.00001 + 0.000002))
    assert r.hybrid.jobs_compute_usd == pytest.approx(compute) == r.modal_only.jobs_compute_usd
    assert r.hybrid_usd_per_month == pytest.approx(compute + 3.888)  # 10.6929
    # Three scheduled functions fit Modal's Starter plan: Modal-only pays compute alone.
    assert (r.modal_only.modal_plan, r.modal_only_usd_per_month) == (
        "starter",
        pytest.approx(compute),
    )
    assert r.verdict.startswith("Modal-only is cheaper by $3.89/month")


def test_rows_written_beyond_the_free_allowance_need_the_paid_plan():
    """Twelve every-minute jobs write 6 x 17,280 + 4 x 1,440 = 109,440 rows a day: over the free
    100,000 (eleven write 100,800, ten 92,160). No queue operation while dispatches succeed.
    """
    r = report(every_minute(12))
    assert r.cloudflare.d1_rows_written.per_day_peak == 109_440
    assert r.cloudflare.queue_operations.per_month == 0
    assert r.cloudflare_plan_needed == "paid"
    assert r.cloudflare.reasons == (
        "D1 rows written: 109,440 on the busiest day > the free plan's 100,000 a day",
    )
    assert r.cloudflare.usd_per_month == 5  # the plan fee: 3,283,200 rows are included
    assert report(every_minute(10)).cloudflare_plan_needed == "free"


def test_retries_go_through_the_queue():
    """A retried dispatch costs its message's write, read and delete, a consumer invocation, a
    row written and 2 read, and the consumer batch's own 8 read.
    """
    s = local_settings()
    resolved = resolve(every_minute(1), s.jobs)
    r = estimate(plan_resolved(resolved, s), resolved.jobs, pinned(), START, retries_per_run=0.5)
    cf = r.cloudflare
    runs = 1_440
    assert cf.queue_operations.per_day_peak == 3 * runs // 2  # 2,160
    assert cf.worker_invocations.per_day_peak == runs + runs + runs // 2
    assert cf.d1_rows_written.per_day_peak == 6 * runs + 4 * runs + runs // 2
    assert cf.d1_rows_read.per_day_peak == 5 * runs + 19 * runs + (2 + 8) * runs // 2
    # The free plan's capacity drops with them: the queue's 10,000 operations a day, at 1.5 a
    # run, run out before D1's rows written (94,240 left after the ticks, at 6.5 a run).
    assert (cf.free_plan_runs_per_day, cf.free_plan_limit) == (6_666, "Queue operations")


def test_a_minute_past_the_ticks_own_dispatch_goes_through_the_queue():
    """The tick POSTs at most 40 batches of 500; the rest of its minute's runs are queued and the
    consumer takes them in batches of queueBatchSize.
    """
    n = model.TICK_DISPATCH_MAX_RUNS + 25
    catalog = Catalog(jobs=[job(f"j{i:05}", schedule="0 9 * * *") for i in range(n)])
    settings = local_settings()
    resolved = resolve(catalog, settings.jobs)
    start = START
    end = start + timedelta(days=1)
    fires = {j.name: [start.replace(hour=9)] for j in resolved.jobs}
    cf = model.cloudflare_cost(plan(catalog, settings), fires, start, end, pinned())
    assert model.TICK_DISPATCH_MAX_RUNS == 20_000
    assert cf.queue_operations.per_day_peak == 3 * 25
    assert cf.worker_invocations.per_day_peak == 1 + n + 3  # the fire, reports, 3 batches
    assert cf.d1_rows_read.per_day_peak == 5 * n + 19 + 2 * 25 + 8 * 3


def test_the_free_plans_capacity_and_the_paid_price_per_million_runs():
    """Each allowance less 1,440 ticks' own, divided by what a run uses: D1's 100,000 rows
    written run out first, at 15,706 runs; a million more runs cost $6.30 on Workers Paid.
    """
    p = pinned()
    runs, first = model.free_plan_capacity(p)
    assert (runs, first) == ((100_000 - 1_440 * 4) // 6, "d1_rows_written")  # 15,706
    assert (
        model.free_plan_capacity(pinned(d1FreeRowsWrittenPerDay=10**9))[1] == "worker_invocations"
    )
    assert model.free_plan_capacity(p, retries_per_run=1) == (10_000 // 3, "queue_operations")
    assert model.paid_usd_per_million_runs(p) == pytest.approx(0.30 + 6.00 + 0.005)
    assert model.paid_usd_per_million_runs(p, retries_per_run=1) == pytest.approx(
        (1 + 1) * 0.30 + 3 * 0.40 + (6 + 1) * 1.00 + (5 + 10) * 0.001
    )
    # 244 bytes a run: the free 500 MB hold 2.05 million runs, 22,768 a day for 90 days, more
    # than the allowances hold; 15,706 a day fit up to runRetentionDays 130.
    assert model.storage_runs_per_day(p, 90) == 22_768
    assert model.retention_days_for(p, runs) == 130


def test_cli_shows_the_free_plans_capacity():
    """`cronflare cost` says how many runs a day the free plan holds, against the catalog's."""
    r = runner.invoke(cli.app, ["cost", "--start", "2026-11-23T00:00Z"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    assert "Free plan capacity: about 15,706 runs a day (D1 rows written run out first)" in text
    assert "this catalog makes 431 on its busiest day (2.7%)" in text
    # At the default 90 days the database holds more than the allowances: no retention advice.
    assert "need runRetentionDays" not in text
    assert "a million more runs cost about $6.30 on Workers Paid" in text


def test_the_free_plan_line_names_the_retention_when_the_database_is_the_limit():
    """A year's retention holds fewer runs a day than the allowances: the line says how far to
    lower runRetentionDays for the allowances' runs.
    """
    line = model.free_plan_line(report(CATALOG, run_retention_days=365), pinned())
    assert "500 MB database holds 5,614 runs a day at runRetentionDays 365" in line
    assert "15,706 a day need runRetentionDays 130 or less" in line


def test_the_plan_flips_exactly_at_the_d1_rows_written_allowance():
    """At the allowance the free plan still fits; one row written over it needs paid."""
    busy = report(every_minute(1)).cloudflare.d1_rows_written.per_day_peak
    assert busy == 6 * 1_440 + 4 * 1_440
    at = report(every_minute(1), prices=pinned(d1FreeRowsWrittenPerDay=busy))
    over = report(every_minute(1), prices=pinned(d1FreeRowsWrittenPerDay=busy - 1))
    assert at.cloudflare_plan_needed == "free"
    assert over.cloudflare_plan_needed == "paid"
    assert over.cloudflare.reasons[0].startswith("D1 rows written: 14,400 on the busiest day")


def test_paid_usage_beyond_the_included_amounts_is_billed():
    """On the paid plan, rows written over the monthly inclusion cost their price per million."""
    r = report(every_minute(12), prices=pinned(d1PaidRowsWrittenPerMonth=100_000))
    overage = (30 * 109_440 - 100_000) / 1e6 * 1.00
    assert r.cloudflare.d1_rows_written.paid_overage_usd == pytest.approx(overage)
    assert r.cloudflare.usd_per_month == pytest.approx(5 + overage)


def test_native_triggers_beyond_the_free_five_need_the_paid_plan():
    """Seven native triggers fit a paid account but not the free plan's five."""
    catalog = Catalog(jobs=[job(f"j{h}", schedule=f"0 {h} * * *") for h in range(7)])
    r = report(catalog, cloudflare_plan="paid")
    assert (r.cloudflare.mode, r.cloudflare.cron_triggers) == ("native", 7)
    assert r.cloudflare.reasons[0].startswith(
        "cron triggers: 7 native triggers > the free plan's 5"
    )


def test_modal_only_needs_the_team_plan_beyond_five_scheduled_functions():
    """Five enabled jobs fit Modal's Starter plan; a sixth needs Team; disabled ones don't count."""
    five = Catalog(jobs=[job(f"j{h}", schedule=f"0 {h} * * *") for h in range(5)])
    six = Catalog(jobs=[*five.jobs, job("j5", schedule="0 5 * * *")])
    assert report(five).modal_only.modal_plan == "starter"
    assert report(six).modal_only.modal_plan == "team"
    assert report(six).modal_only.usd_per_month == pytest.approx(
        250 + report(six).hybrid.jobs_compute_usd
    )
    assert report(six, jobs={"j5": {"enabled": False}}).modal_only.modal_plan == "starter"


def test_the_default_expected_duration_is_capped_at_the_timeout_and_said():
    """A job without expected_duration runs 60 s, or its timeout if shorter, and is named."""
    r = report(Catalog(jobs=[job("short", schedule="@daily", timeout="30s")]))
    assert (r.jobs[0].expected_duration_s, r.jobs[0].expected_duration_assumed) == (30, True)
    assert r.assumptions[0].endswith("for 1 job(s) that do not set it: short")


def test_every_price_is_dated_and_has_a_source():
    """The table carries its date, and every figure names at least one https source."""
    figures = set(Prices.model_fields) - {"as_of"}
    assert set(Prices.SOURCES) == figures
    assert all(
        urls and all(u.startswith("https://") for u in urls) for urls in Prices.SOURCES.values()
    )
    assert Prices().as_of.year >= 2026


def test_a_stack_can_override_a_price(tmp_path: Path):
    """`cronflare:prices` in the stack file replaces those figures, GPUs one by one."""
    config = {
        "cronflare:accountId": "0" * 32,
        "cronflare:workersSubdomain": "acme",
        "cronflare:prices": {"workersPaidUsdPerMonth": 7, "modalGpuUsdPerSecond": {"T4": 0.001}},
    }
    (tmp_path / "Pulumi.t.yaml").write_text(yaml.safe_dump({"config": config}))
    prices = load_stack_settings("t", tmp_path).prices
    assert prices.workers_paid_usd_per_month == 7
    assert prices.modal_gpu_usd_per_second["T4"] == 0.001
    assert prices.modal_gpu_usd_per_second["H100"] == Prices().modal_gpu_usd_per_second["H100"]
    assert prices.overridden() == ["workersPaidUsdPerMonth", "modalGpuUsdPerSecond"]


def test_a_bad_price_override_is_a_config_error():
    """An unknown price key or a bad value is a `config cronflare:prices.<key>:` line."""
    with pytest.raises(CatalogError) as err:
        settings_from_config(
            {"prices": {"workersPaidUsdPerMont": 7, "queuesFreeOperationsPerDay": -1}},
            "dev",
        )
    assert err.value.problems == [
        "config cronflare:prices.queuesFreeOperationsPerDay: Input should be greater than or "
        "equal to 0",
        "config cronflare:prices.workersPaidUsdPerMont: unknown field "
        "(did you mean workersPaidUsdPerMonth?)",
    ]


def test_cli_json_has_the_documented_keys_and_uses_the_stack_prices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """`cost --json` exits 0 with the documented keys, priced by the stack's overrides."""
    (tmp_path / "Pulumi.yaml").write_text("name: cronflare\n")
    config = {
        "cronflare:accountId": "0" * 32,
        "cronflare:workersSubdomain": "acme",
        "cronflare:prices": {"modalTeamUsdPerMonth": 300},
    }
    (tmp_path / "Pulumi.t.yaml").write_text(yaml.safe_dump({"config": config}))
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(cli.app, ["cost", "--stack", "t", "--start", "2026-10-15T00:00Z", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert {
        "jobs",
        "cloudflare",
        "modal_only",
        "hybrid_usd_per_month",
        "modal_only_usd_per_month",
        "cloudflare_plan_needed",
    } <= set(data)
    assert data["start"] == "2026-10-15T00:00:00Z"
    assert data["price_overrides"] == ["modalTeamUsdPerMonth"]
    assert data["modal_only"]["modal_plan_usd"] == 300
    assert data["cloudflare_plan_needed"] == "free"


def test_cli_prints_the_tables_and_a_verdict():
    """The human output has the three tables, the plan needed and the one-line verdict."""
    r = runner.invoke(cli.app, ["cost", "--start", "2026-10-15T00:00Z"])
    assert r.exit_code == 0, r.output
    for text in ("Runs and Modal compute", "Cloudflare usage (tick mode)", "Per month",
                 "Cloudflare plan needed: free", "hybrid is cheaper by $250.00/month"):  # fmt: skip
        assert text in r.stdout, text


def test_cli_with_a_bad_catalog_exits_1_with_the_lines_of_check(tmp_path: Path):
    """A bad catalog stops `cost` with exactly the lines `check` prints, and exit 1."""
    path = tmp_path / "bad_catalog.py"
    path.write_text(BAD_CATALOG)
    got = runner.invoke(cli.app, ["cost", "--catalog", str(path)])
    want = runner.invoke(cli.app, ["check", "--catalog", str(path)])
    assert got.exit_code == 1 and got.stdout == ""
    assert got.stderr == want.stderr and "job weekly: schedule:" in got.stderr


def test_cli_refuses_a_start_that_is_not_a_time():
    """--start must be ISO 8601."""
    r = runner.invoke(cli.app, ["cost", "--start", "tomorrow"])
    assert r.exit_code == 1
    assert r.stderr.strip() == "--start: 'tomorrow' is not an ISO 8601 time"


# --- target jobs: an already deployed Modal function, started by name -------------------------


def target(name: str, fn: str = "etl/run", **kw) -> Job:
    return Job(name=name, description="d", target=fn, **kw)


def watcher_usd(runs: int, duration_s: int, p: Prices) -> float:
    """The watcher of a target's call: 0.125 cores and 128 MiB (0.125 GiB) for the run's time
    plus its 2 s scaledown window.
    """
    per_second = 0.125 * p.modal_cpu_usd_per_core_second + 0.125 * p.modal_memory_usd_per_gib_second
    return runs * (duration_s + 2) * per_second


def test_a_target_with_estimate_resources_is_priced_like_a_handler_job_plus_its_watcher():
    """A target job's runs and compute follow the handler formula on its estimate_resources;
    its watcher bills runs x duration at 0.125 cores and 128 MiB, on the hybrid side only.
    """
    size = Resources(cpu=1, memory=2048)
    hourly = job("hourly", schedule="0 * * * *", expected_duration="30s", resources=size)
    etl = target("etl", schedule="0 * * * *", expected_duration="30s", estimate_resources=size)
    prices = Prices()  # the dated table itself
    alone = report(Catalog(jobs=[hourly]), prices=prices)
    r = report(Catalog(jobs=[hourly, etl]), prices=prices)
    h, t = r.jobs

    # The handler job's cost does not change with a target beside it.
    assert h == alone.jobs[0]
    assert (h.target, h.compute_priced, h.watcher_billed_seconds, h.watcher_usd) == (
        None, True, 0.0, 0.0,
    )  # fmt: skip
    # The target: 720 runs, each 30 s then 60 s idle, on its estimate of 1 core and 2 GiB.
    assert (t.target, t.compute_priced, t.unpriced_reason) == ("etl/run", True, None)
    assert (t.runs, t.billed_seconds, t.cpu_cores, t.memory_mib) == (720, 720 * 90, 1, 2048)
    assert t.usd == pytest.approx(
        64_800 * prices.modal_cpu_usd_per_core_second
        + 64_800 * 2 * prices.modal_memory_usd_per_gib_second
    )
    assert t.usd == pytest.approx(h.usd)
    # Its watcher: 720 runs x (30 s + its 2 s scaledown window), at the watcher's request.
    assert t.watcher_billed_seconds == 720 * (30 + 2)  # plus the 2 s scaledown window
    assert t.watcher_usd == pytest.approx(watcher_usd(720, 30, prices))
    assert r.unpriced_jobs == ()

    hy, mo = r.hybrid, r.modal_only
    assert hy.watcher_usd == pytest.approx(t.watcher_usd)
    assert hy.watcher_billed_seconds == 720 * (30 + 2)
    assert hy.jobs_compute_usd == pytest.approx(h.usd + t.usd) == mo.jobs_compute_usd
    paid = hy.jobs_compute_usd + hy.dispatcher_usd + hy.watcher_usd
    assert hy.modal_credits_usd == pytest.approx(min(paid, 30.0))
    assert hy.usd_per_month == pytest.approx(paid - hy.modal_credits_usd)
    # Modal-only schedules the target itself: two scheduled functions, no watcher.
    assert mo.scheduled_functions == 2
    assert mo.usd_per_month == pytest.approx(mo.jobs_compute_usd - mo.modal_credits_usd)


def test_the_hybrid_total_adds_the_watcher_to_compute_and_dispatcher():
    """With no credits (pinned), the hybrid's total is Cloudflare + compute + dispatcher +
    watcher, and Modal-only's is its compute alone.
    """
    catalog = Catalog(
        jobs=[target("nightly", schedule="0 2 * * *", expected_duration="10m",
                     estimate_resources=Resources(gpu="T4"))]
    )  # fmt: skip
    r = report(catalog)
    t = r.jobs[0]
    # 30 runs of 600 s + 60 s idle, on Modal's default 0.125 cores and 128 MiB and one T4.
    assert t.usd == pytest.approx(19_800 * (0.125 * 0.00001 + 0.125 * 0.000002 + 0.0001))
    assert t.watcher_usd == pytest.approx(30 * 602 * (0.125 * 0.00001 + 0.125 * 0.000002))
    h = r.hybrid
    assert h.usd_per_month == pytest.approx(
        r.cloudflare.usd_per_month + t.usd + h.dispatcher_usd + t.watcher_usd
    )
    assert r.modal_only_usd_per_month == pytest.approx(t.usd)


def test_a_target_without_estimate_resources_is_counted_and_flagged_never_priced():
    """Its runs count as a handler job's would; its compute is $0 and says why and how to fix
    it, in the job, the report's list, the assumptions and the verdict; its watcher is priced.
    """
    catalog = Catalog(
        jobs=[
            job("probe", every="15m"),
            target("mystery", "other/go", every="15m"),  # no expected_duration: 60 s
            target("empty", "other/go", every="15m", estimate_resources=Resources()),
            target("off", "other/go", every="1m"),
        ]
    )
    r = report(catalog, jobs={"off": {"enabled": False}})
    probe, mystery, empty, off = r.jobs
    assert mystery.runs == probe.runs == 2_880
    assert mystery.billed_seconds == probe.billed_seconds  # its container time is known
    for t in (mystery, empty):
        assert (t.compute_priced, t.usd, t.cpu_core_seconds, t.memory_gib_seconds) == (
            False, 0.0, 0.0, 0.0,
        )  # fmt: skip
        assert t.unpriced_reason is not None
        assert "target other/go" in t.unpriced_reason
        assert "estimate_resources=Resources(cpu=..., memory=...) on the job" in t.unpriced_reason
        assert t.watcher_usd == pytest.approx(watcher_usd(2_880, 60, pinned()))
    assert (off.runs, off.watcher_usd, off.compute_priced) == (0, 0.0, False)
    assert r.unpriced_jobs == ("mystery", "empty")  # a disabled job costs nothing to leave out
    assert r.hybrid.jobs_compute_usd == pytest.approx(probe.usd)
    assert r.hybrid.watcher_usd == pytest.approx(2 * watcher_usd(2_880, 60, pinned()))
    assert any(
        a.startswith("the compute of 2 target job(s) is not priced ($0)") for a in r.assumptions
    )
    assert r.verdict.endswith(
        "both leave out the compute of 2 target job(s) without estimate_resources: mystery, empty"
    )


def test_cli_shows_and_reports_target_jobs_in_text_and_json(tmp_path: Path):
    """The table names the target, marks unpriced compute and has a watchers row; a line says
    how to fix it; `--json` carries the new per-job and hybrid fields.
    """
    path = tmp_path / "targets.py"
    path.write_text(
        "from cronflare import Catalog, Job, Resources\n"
        "CATALOG = Catalog(jobs=[\n"
        "    Job(name='sized', description='d', target='etl/run', schedule='@daily',\n"
        "        estimate_resources=Resources(cpu=2, memory=4096), expected_duration='10m'),\n"
        "    Job(name='unsized', description='d', target='other/go', schedule='@hourly'),\n"
        "])\n"
    )
    args = ["cost", "--catalog", str(path), "--start", "2026-03-02T00:00Z"]
    text = runner.invoke(cli.app, args)
    assert text.exit_code == 0, text.output
    for line in (
        "→ etl/run", "2 cpu, 4096 MiB (estimate)", "→ other/go", "not stated",
        "not priced", "target watchers", "target watcher compute",
        "! job unsized: target other/go is deployed outside cronflare and the job states no "
        "estimate_resources, so its compute cannot be priced (counted as $0): set "
        "estimate_resources=Resources(cpu=..., memory=...) on the job",
    ):  # fmt: skip
        assert line in text.stdout, line

    data = json.loads(runner.invoke(cli.app, [*args, "--json"]).stdout)
    sized, unsized = data["jobs"]
    assert (sized["target"], sized["compute_priced"], sized["unpriced_reason"]) == (
        "etl/run", True, None,
    )  # fmt: skip
    assert sized["watcher_billed_seconds"] == 30 * 602
    assert (unsized["target"], unsized["compute_priced"], unsized["usd"]) == ("other/go", False, 0)
    assert "estimate_resources=" in unsized["unpriced_reason"]
    assert data["unpriced_jobs"] == ["unsized"]
    assert data["hybrid"]["watcher_usd"] == pytest.approx(
        sized["watcher_usd"] + unsized["watcher_usd"]
    )
    assert unsized["watcher_usd"] == pytest.approx(watcher_usd(720, 60, Prices()))
