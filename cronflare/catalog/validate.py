"""Check a whole catalog at once and resolve each job against defaults and stack overrides."""

from __future__ import annotations

import difflib
import importlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict

from cronflare.catalog.model import (
    SECRET_NAME,
    SLUG,
    Catalog,
    CatalogError,
    Concurrency,
    Job,
    JobOverride,
    Resources,
    RetryPolicy,
    format_duration,
)
from cronflare.catalog.schedule import (
    ScheduleError,
    expand_macro,
    interval_cron,
    never_fires,
    parse_cron,
    to_cloudflare,
)


class ResolvedJob(BaseModel):
    """A job with defaults and overrides applied and its schedule compiled: what the plan uses."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    handler: str
    schedule: str  # as written: a cron, a macro, or "every 15m"
    cron: str  # canonical Unix 5-field cron, read in `timezone`
    timezone: str
    cloudflare_cron: str | None  # the same schedule in Cloudflare's dialect, when exact
    native_blocker: str | None  # why it cannot be a native Cloudflare trigger
    never_fires: bool
    timeout: int
    expected_duration: int | None  # seconds; None when neither the job nor its defaults say
    retries: RetryPolicy
    resources: Resources
    secrets: tuple[str, ...]
    concurrency: Concurrency
    enabled: bool
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Resolved:
    """The result of a successful check: jobs ready to plan, and the warnings worth showing."""

    jobs: tuple[ResolvedJob, ...]
    warnings: tuple[str, ...]


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=1024)
def timezone_problem(name: str) -> str | None:
    """Why `name` is not a usable IANA timezone, or None."""
    if name == "UTC":
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, _zone_names(), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"unknown IANA timezone {name!r}{hint}"
    return None


@lru_cache(maxsize=1024)
def handler_problem(ref: str) -> str | None:
    """Why the handler at `ref` ("module:function") cannot be imported and called, or None."""
    module_name, _, attr = ref.partition(":")
    try:
        target: object = importlib.import_module(module_name)
    except Exception as err:
        return f"cannot import {module_name!r}: {type(err).__name__}: {err}"
    for part in attr.split("."):
        if not hasattr(target, part):
            return f"{module_name!r} has no attribute {attr!r}"
        target = getattr(target, part)
    if not callable(target):
        return f"{ref!r} is not callable"
    return None


class _FieldError(Exception):
    def __init__(self, field: str, message: str):
        self.field, self.message = field, message


def _compile(job: Job, override: JobOverride | None) -> tuple[str, str, str]:
    """(schedule as written, canonical cron, field it came from) once an override is applied."""
    schedule, every = job.schedule, job.every
    if override is not None and (override.schedule is not None or override.every is not None):
        schedule, every = override.schedule, override.every
    if (schedule is None) == (every is None):
        raise _FieldError(
            "schedule", "give exactly one of schedule= (a cron or @macro) or every= (such as 15m)"
        )
    field = "every" if every is not None else "schedule"
    try:
        if every is not None:
            return f"every {every}", interval_cron(every), field
        assert schedule is not None
        cron = expand_macro(schedule)
        parse_cron(cron)
        return schedule, cron, field
    except ScheduleError as err:
        raise _FieldError(field, str(err)) from None


def resolve(catalog: Catalog, overrides: Mapping[str, JobOverride] | None = None) -> Resolved:
    """Resolve every job, or raise CatalogError with one line per problem in the whole catalog."""
    overrides = dict(overrides or {})
    problems: list[str] = []
    warnings: list[str] = []
    d = catalog.defaults
    if p := timezone_problem(d.timezone):
        problems.append(f"catalog: defaults.timezone: {p}")
    counts = Counter(job.name for job in catalog.jobs)
    names = set(counts)
    for name in overrides:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"job {name}: jobs: stack override names no job in the catalog{hint}")

    out: list[ResolvedJob] = []
    reported: set[str] = set()
    for job in catalog.jobs:
        before = len(problems)

        def bad(field: str, message: str, job: Job = job) -> None:
            problems.append(f"job {job.name}: {field}: {message}")

        if not SLUG.match(job.name):
            bad("name", "must be a lowercase slug of letters, digits and '-' (at most 63)")
        if counts[job.name] > 1 and job.name not in reported:
            reported.add(job.name)
            bad("name", f"is used by {counts[job.name]} jobs; job names must be unique")
        override = overrides.get(job.name)
        schedule = cron = source = ""
        try:
            schedule, cron, source = _compile(job, override)
        except _FieldError as err:
            bad(err.field, err.message)
        explicit_tz = override.timezone if override and override.timezone else job.timezone
        timezone = explicit_tz or ("UTC" if source == "every" else d.timezone)
        if explicit_tz and (p := timezone_problem(explicit_tz)):
            bad("timezone", p)
        elif source == "every" and timezone != "UTC":
            bad(
                "timezone",
                f"every= runs on elapsed UTC time, so timezone {timezone} would have no effect; "
                "drop the timezone, or write a cron schedule to follow that wall clock",
            )
        timeout = int(job.timeout if job.timeout is not None else d.timeout)
        expected = (
            job.expected_duration if job.expected_duration is not None else d.expected_duration
        )
        if expected is not None and int(expected) > timeout:
            whose = "" if job.expected_duration is not None else "the default "
            bad(
                "expected_duration",
                f"{whose}{format_duration(int(expected))} is longer than the timeout "
                f"({format_duration(timeout)}); a run that long would be killed",
            )
        for secret in job.secrets:
            if not SECRET_NAME.match(secret):
                bad("secrets", f"{secret!r} is not a valid Modal secret name")
        if p := handler_problem(job.handler_ref):
            bad("handler", p)
        if len(problems) > before:
            continue

        fires = not never_fires(cron)
        if not fires:
            warnings.append(f"job {job.name}: {source}: {schedule!r} never fires (no date matches)")
        cf, blocker = to_cloudflare(cron, timezone)
        enabled = job.enabled if override is None or override.enabled is None else override.enabled
        resources = d.resources.merged(job.resources)
        out.append(
            ResolvedJob(
                name=job.name,
                description=job.description,
                handler=job.handler_ref,
                schedule=schedule,
                cron=cron,
                timezone=timezone,
                cloudflare_cron=cf,
                native_blocker=blocker,
                never_fires=not fires,
                timeout=timeout,
                expected_duration=None if expected is None else int(expected),
                retries=job.retries or d.retries,
                resources=resources.merged(override.resources if override else None),
                secrets=tuple(dict.fromkeys([*d.secrets, *job.secrets])),
                concurrency=job.concurrency or d.concurrency,
                enabled=enabled,
                tags=tuple(dict.fromkeys([*d.tags, *job.tags])),
            )
        )
    if problems:
        raise CatalogError(problems)
    return Resolved(jobs=tuple(out), warnings=tuple(warnings))
