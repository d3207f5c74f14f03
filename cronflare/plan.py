"""catalog + settings -> DeployPlan: pure, versioned and JSON-able (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, JsonValue, PlainSerializer

from cronflare.catalog.model import Catalog, CatalogError, Concurrency, Image
from cronflare.catalog.schedule import compile_cron
from cronflare.catalog.validate import (
    JITTER_BLOCKER,
    RUNTIME_BLOCKER,
    Resolved,
    ResolvedJob,
    catalog_hash,
    resolve,
)
from cronflare.settings import NAMESPACE, Settings

PLAN_VERSION = 2  # 2: schedules compiled (docs/SCHEDULES.md); the Worker refuses others
WORKER_PLAN_MODULE = "plan.js"  # the name src/index.ts imports it by
TICK_CRON = "* * * * *"
Mode = Literal["native", "tick"]
# [timezone, schedule index, job indexes] and, for the jobs with jitter, a trailing 1.
Group = tuple[str, int, tuple[int, ...]] | tuple[str, int, tuple[int, ...], int]


class Frozen(BaseModel):
    """An immutable model that refuses unknown fields: the plan's, and what is derived from it."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# What plan.js carries of each job: what the Worker reads, and no more (at 10,000 jobs every
# byte a job counts 10 KB). Cron text is not among it: the Worker tests schedules[s].
PLAN_JS_JOB_FIELDS = (
    "name",
    "description",
    "schedule",
    "timezone",
    "enabled",
    "s",
    "args",
    "runtime",
    "start",
    "end",
    "jitter",
)
# Carried only when they say something: most jobs have none of them.
PLAN_JS_UNSET = {"s": None, "args": None, "runtime": False, "start": None, "end": None,
                 "jitter": 0}  # fmt: skip


def js_instant(moment: datetime) -> str:
    """An instant as JavaScript's Date.toISOString() writes it, so the Worker compares text."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


JsInstant = Annotated[datetime, PlainSerializer(js_instant, return_type=str, when_used="json")]


class WorkerJob(Frozen):
    """One job of the plan: what plan.js carries of it (PLAN_JS_JOB_FIELDS, each optional one
    only when set), and what Python itself reads (cron text, concurrency, timeout).
    """

    name: str
    description: str
    schedule: str  # as written, for display: the Worker never parses it; "" without one
    cron: str | None  # canonical Unix cron; the Worker gets its compiled form, schedules[s]
    timezone: str
    cloudflare_cron: str | None
    enabled: bool
    concurrency: Concurrency
    timeout: int
    s: int | None  # index into DeployPlan.schedules; None: no catalog schedule, in no group
    args: dict[str, JsonValue] | None = None  # omitted from plan.js when the job has none
    runtime: bool = False  # the job takes runtime schedules
    start: JsInstant | None = None  # no runs before it
    end: JsInstant | None = None  # no runs at or after it
    jitter: int = 0  # minutes


class ModalJob(Frozen):
    """One job as Modal runs it: its code, image and volumes. Not in plan.js: the Worker needs
    none of it.
    """

    name: str
    handler: str | None
    target: str | None
    target_environment: str | None
    image: Image | str | None  # None: cronflare's default image
    volumes: dict[str, str]


class Queues(Frozen):
    """Queue names and consumer settings: the Worker tells the two queues apart by name."""

    jobs: str
    dead_letter: str
    batch_size: int
    max_retries: int
    max_wait_time_ms: int
    retry_max_delay_seconds: int


class DeployPlan(Frozen):
    """What the Pulumi program and the Worker need to know, derived from catalog + settings."""

    version: Literal[2] = PLAN_VERSION
    stack: str
    name_prefix: str
    mode: Mode
    requested_mode: Literal["auto", "native", "tick"]
    mode_reason: str
    cloudflare_plan: Literal["free", "paid"]
    native_trigger_limit: int
    cron_triggers: tuple[str, ...]
    catchup_window_minutes: int
    report_timeout_seconds: int
    run_retention_days: int
    alert_on: tuple[str, ...]
    queues: Queues
    schedules: tuple[tuple[Any, ...], ...]  # distinct compiled schedules, shared by index
    jobs: tuple[WorkerJob, ...]
    # The enabled jobs by (timezone, schedule): [tz, s, [job indexes]], so that a new isolate's
    # first tick walks the pairs, not every job (docs/SCHEDULES.md).
    groups: tuple[Group, ...]
    # The enabled jobs' fingerprint; the Modal dispatcher's /healthz reports its own.
    catalog_hash: str
    modal_jobs: tuple[ModalJob, ...] = ()
    warnings: tuple[str, ...]

    def worker_module(self) -> str:
        """`plan.js`, the ES module uploaded beside the Worker bundle that default-exports
        worker_config(). A module, not a JSON binding: Cloudflare caps a binding at 5 KB.
        """
        body = json.dumps(self.worker_config(), separators=(",", ":"), sort_keys=True)
        return f"export default {body};\n"

    def worker_config(self) -> dict[str, Any]:
        """The plan as the Worker reads it (env.JOBS): no secrets, nothing it does not use."""
        config = self.model_dump(
            mode="json",
            include={
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
            },
        )
        config["jobs"] = [
            {
                k: v
                for k, v in job.items()
                if k in PLAN_JS_JOB_FIELDS and (k not in PLAN_JS_UNSET or v != PLAN_JS_UNSET[k])
            }
            for job in config["jobs"]
        ]
        return config


def _worker_job(job: ResolvedJob, s: int | None) -> WorkerJob:
    return WorkerJob(
        name=job.name,
        description=job.description,
        schedule=job.schedule,
        cron=job.cron,
        timezone=job.timezone,
        cloudflare_cron=job.cloudflare_cron,
        enabled=job.enabled,
        concurrency=job.concurrency,
        timeout=job.timeout,
        s=s,
        args=job.args or None,
        runtime=job.runtime_schedules,
        start=job.start,
        end=job.end,
        jitter=job.jitter,
    )


def _groups(jobs: tuple[ResolvedJob, ...], crons: dict[str, int]) -> tuple[Group, ...]:
    """The enabled jobs' indexes by (timezone, compiled schedule), in first-use order: a job
    without a catalog schedule is in none. Jobs with jitter are a group of their own, flagged 1,
    so that the Worker finds them without looking at every job (a new isolate's first tick).
    """
    groups: dict[tuple[str, int, bool], list[int]] = {}
    for i, job in enumerate(jobs):
        if job.enabled and job.cron is not None:
            groups.setdefault((job.timezone, crons[job.cron], job.jitter > 0), []).append(i)
    return tuple(
        (tz, s, tuple(ids), 1) if late else (tz, s, tuple(ids))
        for (tz, s, late), ids in groups.items()
    )


def _modal_job(job: ResolvedJob) -> ModalJob:
    # Every field was validated in ResolvedJob: constructing again would only cost time.
    return ModalJob.model_construct(name=job.name, handler=job.handler, target=job.target,
                                    target_environment=job.target_environment, image=job.image,
                                    volumes=job.volumes)  # fmt: skip


def choose_mode(resolved: Resolved, settings: Settings) -> tuple[Mode, str, tuple[str, ...]]:
    """Pick native or tick, say why, and list the native triggers; raise if `native` cannot be."""
    # A job that takes runtime schedules needs the tick even if its own schedule never fires.
    active = [j for j in resolved.jobs if j.enabled and (j.runtime_schedules or not j.never_fires)]
    blocked = [j for j in active if j.native_blocker is not None]
    triggers = tuple(sorted({j.cloudflare_cron for j in active if j.cloudflare_cron}))
    limit, plan = settings.trigger_limit, settings.cloudflare_plan
    over = f"{len(triggers)} distinct schedules exceed the {plan} plan's {limit} cron triggers"
    requested = settings.trigger_mode
    if requested == "tick":
        return "tick", f"{NAMESPACE}:triggerMode is tick", (TICK_CRON,)
    if requested == "native":
        problems = [
            f"job {j.name}: {_blocking_field(j)}: cannot be a "
            f"native Cloudflare trigger: {j.native_blocker}; "
            f"set {NAMESPACE}:triggerMode to auto or tick"
            for j in blocked
        ]
        if len(triggers) > limit:
            problems.append(f"config {NAMESPACE}:triggerMode: native mode is impossible: {over}")
        if problems:
            raise CatalogError(problems)
        return "native", f"{NAMESPACE}:triggerMode is native", triggers
    if blocked:
        first = blocked[0]
        return (
            "tick",
            (
                f"{len(blocked)} job(s) cannot be native Cloudflare triggers, "
                f"such as {first.name}: {first.native_blocker}"
            ),
            (TICK_CRON,),
        )
    if len(triggers) > limit:
        return "tick", over, (TICK_CRON,)
    return (
        "native",
        (
            f"{len(triggers)} distinct UTC schedules, each translated exactly, fit the {plan} "
            f"plan's {limit} cron triggers"
        ),
        triggers,
    )


def _blocking_field(job: ResolvedJob) -> str:
    """The catalog field to change for a job to become a native trigger."""
    if job.native_blocker == RUNTIME_BLOCKER:
        return "runtime_schedules"
    if job.native_blocker == JITTER_BLOCKER:
        return "jitter"
    return "schedule" if job.timezone == "UTC" else "timezone"


REPORT_MARGIN_S = 600
RUNTIME_JITTER_MAX_S = 3600  # a runtime schedule's own jitter may be up to 60m


def report_timeout(jobs: tuple[ResolvedJob, ...]) -> int:
    """How long a dispatched run may stay silent before the Worker fails it: the longest a job
    can take on Modal, every attempt and retry delay included, and its jitter (a runtime
    schedule's up to an hour), plus a margin.
    """
    longest = [
        j.timeout * j.retries.attempts
        + int(j.retries.max_delay) * (j.retries.attempts - 1)
        + j.jitter * 60
        for j in jobs
        if j.enabled
    ]
    runtime = any(j.enabled and j.runtime_schedules for j in jobs)
    return max(longest, default=0) + (RUNTIME_JITTER_MAX_S if runtime else 0) + REPORT_MARGIN_S


def plan(catalog: Catalog, settings: Settings) -> DeployPlan:
    """Check the catalog against the stack and derive the deploy plan, or raise CatalogError."""
    return plan_resolved(resolve(catalog, settings.jobs), settings)


def plan_resolved(resolved: Resolved, settings: Settings) -> DeployPlan:
    """The deploy plan of jobs already resolved with the stack's overrides."""
    mode, reason, triggers = choose_mode(resolved, settings)
    prefix = settings.name_prefix
    # One compiled entry per distinct schedule, in first-use order: jobs refer to it by index.
    # Keyed by the compiled form, so "0 9 * * 1" and "0 9 * * MON" share one.
    forms: dict[str, int] = {}
    crons: dict[str, int] = {}
    for cron in dict.fromkeys(j.cron for j in resolved.jobs if j.cron is not None):
        crons[cron] = forms.setdefault(json.dumps(compile_cron(cron)), len(forms))
    return DeployPlan(
        stack=settings.stack,
        name_prefix=prefix,
        mode=mode,
        requested_mode=settings.trigger_mode,
        mode_reason=reason,
        cloudflare_plan=settings.cloudflare_plan,
        native_trigger_limit=settings.trigger_limit,
        cron_triggers=triggers,
        catchup_window_minutes=settings.catchup_window_minutes,
        report_timeout_seconds=report_timeout(resolved.jobs),
        run_retention_days=settings.run_retention_days,
        alert_on=settings.alert_on,
        queues=Queues(
            jobs=f"{prefix}-jobs",
            dead_letter=f"{prefix}-jobs-dlq",
            batch_size=settings.queue_batch_size,
            max_retries=settings.queue_max_retries,
            max_wait_time_ms=settings.queue_max_wait_time_ms,
            retry_max_delay_seconds=settings.retry_max_delay_seconds,
        ),
        schedules=tuple(tuple(json.loads(form)) for form in forms),
        jobs=tuple(
            _worker_job(j, None if j.cron is None else crons[j.cron]) for j in resolved.jobs
        ),
        groups=_groups(resolved.jobs, crons),
        catalog_hash=catalog_hash(resolved.jobs),
        modal_jobs=tuple(_modal_job(j) for j in resolved.jobs),
        warnings=resolved.warnings,
    )
