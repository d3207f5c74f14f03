"""The plan of jobs that take runtime schedules, start or end, or jitter: plan.js, mode, timeout."""

from __future__ import annotations

import json

import pytest

from cronflare.catalog.model import Catalog, CatalogError, Job, JobOverride
from cronflare.plan import PLAN_JS_JOB_FIELDS, DeployPlan, plan
from cronflare.settings import local_settings

H = "jobs.handlers.ops:monitor"


def job(name: str, **kw) -> Job:
    if not kw.get("runtime_schedules"):
        kw.setdefault("schedule", "0 6 * * *")
    return Job(name=name, description="d", handler=H, **kw)


def plan_of(*jobs: Job, **settings):
    return plan(Catalog(jobs=list(jobs)), local_settings(**settings))


MIXED = (
    job("plain"),
    job("rt", runtime_schedules=True),
    job("both", runtime_schedules=True, schedule="0 7 * * *"),
    job("windowed", start="2026-12-01T01:00:00+01:00", end="2027-01-01T00:00:00.250Z"),
    job("spread", jitter="5m", schedule="0 6 * * *"),
)


def test_plan_js_carries_the_new_fields_only_when_set():
    p = plan_of(*MIXED)
    jobs = {j["name"]: j for j in p.worker_config()["jobs"]}
    base = {"description": "d", "timezone": "UTC", "enabled": True}
    assert jobs["plain"] == {"name": "plain", **base, "schedule": "0 6 * * *", "s": 0}
    assert jobs["rt"] == {"name": "rt", **base, "schedule": "", "runtime": True}
    assert jobs["both"] == {"name": "both", **base, "schedule": "0 7 * * *", "s": 1,
                            "runtime": True}  # fmt: skip
    assert jobs["windowed"] == {"name": "windowed", **base, "schedule": "0 6 * * *", "s": 0,
                                "start": "2026-12-01T00:00:00.000Z",
                                "end": "2027-01-01T00:00:00.250Z"}  # fmt: skip
    assert jobs["spread"] == {"name": "spread", **base, "schedule": "0 6 * * *", "s": 0,
                              "jitter": 5}  # fmt: skip
    assert {k for j in jobs.values() for k in j} <= set(PLAN_JS_JOB_FIELDS)
    assert "export default" in p.worker_module()


def test_a_runtime_only_job_has_no_schedule_index_and_is_in_no_group():
    p = plan_of(*MIXED)
    rt = next(j for j in p.jobs if j.name == "rt")
    assert (rt.s, rt.cron, rt.schedule, rt.runtime) == (None, None, "", True)
    grouped = {i for group in p.groups for i in group[2]}
    assert [p.jobs[i].name for i in sorted(grouped)] == ["plain", "both", "windowed", "spread"]
    assert len(p.schedules) == 2


def test_jobs_with_jitter_are_a_group_of_their_own_flagged_1():
    """The Worker finds the jobs it must look further back for without reading every job."""
    p = plan_of(*MIXED)
    names = {tuple(p.jobs[i].name for i in g[2]): g[3:] for g in p.worker_config()["groups"]}
    assert names == {("plain", "windowed"): [], ("both",): [], ("spread",): [1]}


def test_the_plan_still_round_trips():
    p = plan_of(*MIXED)
    assert DeployPlan.model_validate(json.loads(p.model_dump_json())) == p


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (job("rt", runtime_schedules=True), "runtime schedules need the Worker's minutely tick"),
        (job("spread", jitter="1m"), "jitter needs the Worker's minutely tick"),
    ],
)
def test_runtime_schedules_and_jitter_keep_auto_in_tick(extra, why):
    p = plan_of(job("plain"), extra)
    assert (p.mode, p.cron_triggers) == ("tick", ("* * * * *",))
    assert (
        p.mode_reason
        == f"1 job(s) cannot be native Cloudflare triggers, such as {extra.name}: {why}"
    )


def test_forced_native_names_the_field_that_blocks_it():
    with pytest.raises(CatalogError) as err:
        plan_of(job("rt", runtime_schedules=True), job("spread", jitter="5m"),
                trigger_mode="native")  # fmt: skip
    assert err.value.problems == [
        "job rt: runtime_schedules: cannot be a native Cloudflare trigger: runtime schedules need "
        "the Worker's minutely tick; set cronflare:triggerMode to auto or tick",
        "job spread: jitter: cannot be a native Cloudflare trigger: jitter needs the Worker's "
        "minutely tick; set cronflare:triggerMode to auto or tick",
    ]


def test_start_and_end_do_not_block_native_nor_does_a_disabled_runtime_job():
    p = plan_of(
        job("windowed", start="2026-12-01T00:00:00Z", end="2027-01-01T00:00:00Z"),
        job("rt", runtime_schedules=True),
        job("spread", jitter="5m"),
        jobs={"rt": JobOverride(enabled=False), "spread": JobOverride(enabled=False)},
    )
    assert (p.mode, p.cron_triggers) == ("native", ("0 6 * * *",))


def test_a_runtime_job_needs_the_tick_even_when_its_own_schedule_never_fires():
    p = plan_of(job("plain"), job("rt", runtime_schedules=True, schedule="0 0 30 2 *"))
    assert p.mode == "tick" and "runtime schedules" in p.mode_reason


def test_the_report_timeout_adds_jitter_and_an_hour_for_runtime_schedules():
    # timeout 600 s, 3 attempts, retry delays up to 60 s: 1,800 + 120, plus the 600 s margin
    base = 600 * 3 + 2 * 60
    assert plan_of(job("plain")).report_timeout_seconds == base + 600
    assert plan_of(job("plain"), job("s", jitter="20m")).report_timeout_seconds == (
        base + 20 * 60 + 600
    )
    assert plan_of(job("rt", runtime_schedules=True)).report_timeout_seconds == (base + 3600 + 600)
    assert (
        plan_of(
            job("rt", runtime_schedules=True, jitter="5m"), job("long", timeout="1h")
        ).report_timeout_seconds
        == 3600 * 3 + 2 * 60 + 3600 + 600
    )
    off = {"rt": JobOverride(enabled=False)}
    assert plan_of(
        job("plain"), job("rt", runtime_schedules=True), jobs=off
    ).report_timeout_seconds == (base + 600)
