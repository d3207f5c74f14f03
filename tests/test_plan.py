"""The deploy plan: pure, versioned, JSON-serialisable, and the auto/native/tick choice."""

from __future__ import annotations

import json

import pytest

from cronflare.catalog.model import Catalog, CatalogError, Job, JobOverride
from cronflare.plan import DeployPlan, plan
from cronflare.settings import Settings, local_settings
from jobs.catalog import CATALOG

H = "jobs.handlers.ops:monitor"


def catalog(*schedules: str, tz: str | None = None) -> Catalog:
    return Catalog(
        jobs=[
            Job(name=f"j{i}", description="d", handler=H, schedule=s, timezone=tz)
            for i, s in enumerate(schedules)
        ]
    )


UTC5 = catalog("0 6 * * *", "0 * * * *", "0 9 * * 1", "*/5 * * * *", "0 6 * * *", "0 3 * * *")


def test_auto_is_native_when_everything_is_utc_exact_and_fits():
    p = plan(UTC5, local_settings())
    assert p.mode == "native" and p.requested_mode == "auto"
    assert p.cron_triggers == ("*/5 * * * *", "0 * * * *", "0 3 * * *", "0 6 * * *", "0 9 * * MON")
    # Two jobs share the 06:00 trigger; the Worker matches them by their cloudflare_cron.
    assert [j.name for j in p.jobs if j.cloudflare_cron == "0 6 * * *"] == ["j0", "j4"]


def test_auto_falls_back_to_tick_over_the_free_trigger_limit():
    six = catalog(*(f"0 {h} * * *" for h in range(6)))
    p = plan(six, local_settings())
    assert (p.mode, p.cron_triggers) == ("tick", ("* * * * *",))
    assert p.mode_reason == "6 distinct schedules exceed the free plan's 5 cron triggers"
    assert plan(six, local_settings(cloudflare_plan="paid")).mode == "native"
    assert plan(six, local_settings(native_trigger_limit=6)).mode == "native"


def test_auto_picks_tick_for_a_timezone_or_an_untranslatable_schedule():
    assert plan(catalog("0 8 * * *", tz="Europe/Berlin"), local_settings()).mode == "tick"
    p = plan(catalog("0 0 13 * FRI"), local_settings())
    assert p.mode == "tick" and "both day-of-month and day-of-week" in p.mode_reason


def test_forced_native_fails_naming_each_job_and_the_limit():
    with pytest.raises(CatalogError) as err:
        plan(CATALOG, local_settings(trigger_mode="native"))
    lines = err.value.problems
    assert lines[0].startswith("job berlin-digest: timezone: cannot be a native Cloudflare trigger")
    assert lines[-1] == (
        "config cronflare:triggerMode: native mode is impossible: 12 distinct schedules exceed "
        "the free plan's 5 cron triggers"
    )


def test_forced_tick_uses_one_minute_trigger():
    p = plan(UTC5, local_settings(trigger_mode="tick"))
    assert (p.mode, p.cron_triggers) == ("tick", ("* * * * *",))


def test_disabled_and_never_firing_jobs_take_no_trigger():
    c = catalog("0 1 * * *", "0 2 * * *", "0 0 30 2 *")
    s = local_settings(jobs={"j1": JobOverride(enabled=False)})
    p = plan(c, s)
    assert p.cron_triggers == ("0 1 * * *",)
    assert [j.enabled for j in p.jobs] == [True, False, True]
    assert p.warnings == ("job j2: schedule: '0 0 30 2 *' never fires (no date matches)",)


def test_the_plan_is_versioned_json_and_round_trips():
    p = plan(CATALOG, local_settings())
    data = json.loads(p.model_dump_json())
    assert data["version"] == 2 and data["mode"] in {"native", "tick"}
    assert DeployPlan.model_validate(data) == p
    assert plan(CATALOG, local_settings()) == p  # pure: same inputs, same plan


def test_the_worker_view_has_what_the_worker_reads_and_no_secret():
    s = Settings.model_validate({"stack": "dev", "alertWebhookUrl": "https://secret.example/hook"})
    view = plan(CATALOG, s).worker_config()
    assert set(view) == {
        "version",
        "mode",
        "cron_triggers",
        "catchup_window_minutes",
        "report_timeout_seconds",
        "run_retention_days",
        "alert_on",
        "queues",
        "schedules",
        "jobs",
        "groups",
        "catalog_hash",
    }
    assert view["queues"]["jobs"] == "cronflare-dev-jobs"
    assert view["queues"]["dead_letter"] == "cronflare-dev-jobs-dlq"
    assert {"name", "description", "schedule", "timezone", "enabled", "s"} == set(
        view["jobs"][0]
    )  # no cron text: the Worker tests the compiled schedule, schedules[s]
    assert "cron" not in json.dumps(view["jobs"])
    assert "secret.example" not in json.dumps(view)
    assert "secret.example" not in plan(CATALOG, s).model_dump_json()


def test_groups_hold_each_enabled_job_once_under_its_timezone_and_schedule():
    """plan.js groups the enabled jobs by (timezone, s): the Worker walks pairs, not jobs."""
    jobs = [("a", "0 9 * * 1", "UTC"), ("b", "0 9 * * MON", "UTC"),
            ("c", "0 9 * * 1", "Asia/Tokyo"), ("d", "@daily", "UTC"),
            ("e", "0 9 * * 1", "UTC")]  # fmt: skip
    off = {"e": JobOverride(enabled=False)}
    p = plan(Catalog(jobs=[Job(name=n, description="d", handler=H, schedule=c, timezone=tz)
                           for n, c, tz in jobs]), local_settings(jobs=off))  # fmt: skip
    groups = [["UTC", 0, [0, 1]], ["Asia/Tokyo", 0, [2]], ["UTC", 1, [3]]]
    assert p.worker_config()["groups"] == groups
    for tz, s, ids, *_ in p.groups:
        assert all(p.jobs[i].timezone == tz and p.jobs[i].s == s and p.jobs[i].enabled for i in ids)


def test_plan_of_many_jobs_keeps_one_trigger_set():
    many = catalog(*(f"{m} {h} * * *" for h in range(24) for m in range(0, 60, 5)))
    p = plan(many, local_settings())
    assert len(p.jobs) == 288 and p.cron_triggers == ("* * * * *",)


def test_the_report_timeout_covers_the_longest_job_with_all_its_attempts():
    # embeddings-refresh: 30 min, 3 attempts, retry delays up to 60 s: 5,400 + 120 + 600 margin
    # customer-digest takes runtime schedules, whose jitter may be up to an hour: 3,600 s more.
    timeout = plan(CATALOG, local_settings()).report_timeout_seconds
    assert timeout == 30 * 60 * 3 + 2 * 60 + 3600 + 600
    nothing = plan(catalog("0 0 * * *"), local_settings(jobs={"j0": JobOverride(enabled=False)}))
    assert nothing.report_timeout_seconds == 600


def test_a_jobs_args_reach_the_worker_and_a_stack_override_replaces_them():
    """plan.js carries args only for the jobs that have them; the dev stack's override wins."""
    from cronflare.settings import load_stack_settings
    from tests import ROOT

    dev = plan(CATALOG, load_stack_settings("dev", ROOT)).worker_config()
    local = plan(CATALOG, local_settings()).worker_config()
    args = {j["name"]: j.get("args") for j in local["jobs"]}
    assert args["cache-warm"] == {"limit": 20_000} and args["monitoring"] is None
    assert "args" not in next(j for j in local["jobs"] if j["name"] == "monitoring")
    assert next(j for j in dev["jobs"] if j["name"] == "cache-warm")["args"] == {"limit": 1000}


def test_jobs_with_equal_crons_share_one_compiled_schedule():
    """plan.js carries each distinct cron once, compiled; a job refers to it by index."""
    from cronflare.catalog.schedule import compile_cron

    p = plan(Catalog(jobs=[Job(name=n, description="d", handler=H, schedule=c) for n, c in
                           [("a", "0 9 * * 1"), ("b", "@daily"), ("c", "0 9 * * MON"),
                            ("d", "0 0 * * *")]]), local_settings())  # fmt: skip
    view = p.worker_config()
    assert [j["s"] for j in view["jobs"]] == [0, 1, 0, 1]
    assert view["schedules"] == [compile_cron("0 9 * * 1"), compile_cron("0 0 * * *")]
    assert [j["schedule"] for j in view["jobs"]] == ["0 9 * * 1", "@daily", "0 9 * * MON",
                                                    "0 0 * * *"]  # fmt: skip


def test_the_catalog_hash_follows_what_runs_and_not_the_order_jobs_are_written_in():
    """The skew check's fingerprint: a changed or disabled job changes it, reordering does not."""
    jobs = [Job(name=n, description="d", handler=H, schedule=c) for n, c in
            [("a", "0 9 * * 1"), ("b", "@daily")]]  # fmt: skip
    base = plan(Catalog(jobs=jobs), local_settings()).catalog_hash
    assert len(base) == 12 and int(base, 16) >= 0
    assert plan(Catalog(jobs=jobs[::-1]), local_settings()).catalog_hash == base
    moved = [jobs[0], jobs[1].model_copy(update={"schedule": "@hourly"})]
    assert plan(Catalog(jobs=moved), local_settings()).catalog_hash != base
    off = local_settings(jobs={"b": JobOverride(enabled=False)})
    assert plan(Catalog(jobs=jobs), off).catalog_hash != base
