"""Check a whole catalog at once and resolve each job against defaults and stack overrides."""

from __future__ import annotations

import difflib
import hashlib
import json
import posixpath
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, JsonValue

from cronflare.catalog.loader import RefError, import_ref
from cronflare.catalog.model import (
    ARGS_MAX_BYTES,
    ARGS_MAX_DEPTH,
    HANDLER_PATH,
    SECRET_NAME,
    SLUG,
    TARGET,
    Catalog,
    CatalogError,
    Concurrency,
    Image,
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
    handler: str | None  # None for a target job
    target: str | None  # "app-name/function-name", deployed outside cronflare
    target_environment: str | None  # the target's Modal environment when not the stack's
    stand_in: str | None  # what runs in place of the target in the local stack
    args: dict[str, JsonValue]
    image: Image | str | None  # a spec, a "module:attr" modal.Image, or None: the default
    volumes: dict[str, str]  # mount path -> Modal Volume name
    schedule: str  # as written: a cron, a macro, "every 15m", or "" (runtime schedules only)
    cron: str | None  # canonical Unix 5-field cron, read in `timezone`; None: no catalog schedule
    timezone: str
    cloudflare_cron: str | None  # the schedule in Cloudflare's dialect, when it can be native
    native_blocker: str | None  # why it cannot be a native Cloudflare trigger
    never_fires: bool  # its catalog schedule matches no date (False without one)
    runtime_schedules: bool  # the app may add schedules of it through the Worker's API
    start: datetime | None  # UTC; no runs before it
    end: datetime | None  # UTC; no runs at or after it
    jitter: int  # minutes: a run is dispatched up to this many minutes past its nominal one
    timeout: int
    expected_duration: int | None  # seconds; None when neither the job nor its defaults say
    retries: RetryPolicy
    resources: Resources  # a target's estimate_resources: only `cronflare cost` reads them
    secrets: tuple[str, ...]
    concurrency: Concurrency
    enabled: bool
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Resolved:
    """The result of a successful check: jobs ready to plan, and the warnings worth showing."""

    jobs: tuple[ResolvedJob, ...]
    warnings: tuple[str, ...]


def catalog_hash(jobs: Iterable[ResolvedJob]) -> str:
    """A short fingerprint of the enabled jobs as resolved: the Worker's plan and the Modal
    dispatcher each report theirs, so that a deploy of one without the other shows as skew.
    """
    data = sorted((j.model_dump(mode="json") for j in jobs if j.enabled), key=lambda d: d["name"])
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


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
    try:
        target = import_ref(ref)
    except RefError as err:
        return str(err)
    if not callable(target):
        return f"{ref!r} is not callable"
    return None


# Where a volume may not be mounted: the system's own folders, the code's folder (/root), Modal's
# own (/__modal), and cronflare's output volume (/cronflare).
RESERVED_MOUNTS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/root", "/run",
                   "/sbin", "/sys", "/usr", "/var", "/__modal", "/cronflare")  # fmt: skip
VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$")
APT_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+:~-]+)?$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@lru_cache(maxsize=256)
def image_ref_problem(ref: str) -> str | None:
    """Why `ref` ("module:attr") is not a modal.Image that can be imported, or None."""
    if not HANDLER_PATH.match(ref):
        return f"{ref!r} is neither an Image(...) nor the import path 'package.module:image'"
    try:
        target = import_ref(ref)
    except RefError as err:
        return str(err)
    import modal

    if not isinstance(target, modal.Image):
        return f"{ref!r} is a {type(target).__name__}, not a modal.Image"
    return None


def image_problems(image: Image | str) -> list[str]:
    """Every reason the image cannot be built: bad requirements, apt names or variables."""
    if isinstance(image, str):
        problem = image_ref_problem(image)
        return [problem] if problem else []
    from packaging.requirements import InvalidRequirement, Requirement

    problems = []
    for req in image.pip:
        try:
            Requirement(req)
        except InvalidRequirement as err:
            problems.append(f"pip requirement {req!r} is not valid: {str(err).splitlines()[0]}")
    problems += [
        f"apt package {name!r} is not a valid Debian package name" for name in image.apt
        if not APT_NAME.match(name)
    ]  # fmt: skip
    for key in image.env:
        if not ENV_NAME.match(key):
            problems.append(f"env {key!r} is not a valid environment variable name")
        elif key.startswith("CRONFLARE_"):
            problems.append(f"env {key!r}: CRONFLARE_ variables are cronflare's own")
    return problems


def reserved_directory(path: str) -> str | None:
    """Why a volume may not be mounted on this normalised absolute path, naming the system or
    reserved directory it is or falls under; None when it may.
    """
    if path == "/":
        return "the root directory; mount a volume on a directory of its own, such as /data"
    for reserved in RESERVED_MOUNTS:
        if path == reserved:
            return f"the system or reserved directory {reserved}"
        if path.startswith(reserved + "/"):
            return f"under the system or reserved directory {reserved}"
    return None


def volume_problems(volumes: Mapping[str, str]) -> list[str]:
    """Every reason these mounts cannot work: relative, shared or system paths, bad names."""
    problems = []
    seen: dict[str, str] = {}
    for path, name in volumes.items():
        clean = posixpath.normpath(path) if path.startswith("/") else path
        if not path.startswith("/"):
            problems.append(f"{path!r} is not an absolute path")
            continue
        if not VOLUME_NAME.match(name):
            problems.append(f"{path}: {name!r} is not a valid Modal Volume name")
        reserved = reserved_directory(clean)
        if reserved is not None:
            problems.append(f"{path!r} is {reserved}")
            continue
        for other, other_path in seen.items():
            if clean == other or clean.startswith(other + "/") or other.startswith(clean + "/"):
                problems.append(f"{path!r} and {other_path!r} overlap: one volume per path")
        seen.setdefault(clean, path)
    return problems


def _deeper_than(value: object, levels: int) -> bool:
    """Whether objects and arrays nest more than `levels` deep; it stops descending there, so a
    hostile value costs no deep recursion.
    """
    if not isinstance(value, Mapping | list | tuple):
        return False
    items = value.values() if isinstance(value, Mapping) else value
    return levels < 1 or any(_deeper_than(v, levels - 1) for v in items)


def args_problem(args: Mapping[str, object]) -> str | None:
    """Why these arguments cannot travel with a run, or None."""
    if not args:
        return None
    if _deeper_than(args, ARGS_MAX_DEPTH):
        return f"is nested deeper than {ARGS_MAX_DEPTH} levels"
    size = len(json.dumps(args, separators=(",", ":")).encode())
    if size > ARGS_MAX_BYTES:
        return f"is {size} bytes serialized; at most {ARGS_MAX_BYTES} (8 KiB)"
    return None


RUNTIME_BLOCKER = "runtime schedules need the Worker's minutely tick"
JITTER_BLOCKER = "jitter needs the Worker's minutely tick"
RUNTIME_ONLY = "runtime schedules only"  # shown for a job without a catalog schedule


class _FieldError(Exception):
    def __init__(self, field: str, message: str):
        self.field, self.message = field, message


def _compile(job: Job, override: JobOverride | None) -> tuple[str, str | None, str]:
    """(schedule as written, canonical cron, field it came from) once an override is applied;
    ("", None, "") for a job whose only schedules are the ones its app creates.
    """
    schedule, every = job.schedule, job.every
    if override is not None and (override.schedule is not None or override.every is not None):
        schedule, every = override.schedule, override.every
    if schedule is None and every is None and job.runtime_schedules:
        return "", None, ""
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


def _code(
    job: Job,
    override: JobOverride | None,
    default_image: Image | str | None,
    default_volumes: dict[str, str],
    bad: Callable[[str, str], None],
) -> tuple[Image | str | None, dict[str, str]]:
    """What the job runs and with what: its handler, or its target and stand-in; its image and
    volumes (defaults, then the job, then the stack's override). Reports every problem.
    """
    if (job.handler is None) == (job.target is None):
        bad("handler", "give exactly one of handler= (a function to run) or target= "
            "(an already deployed Modal function, 'app-name/function-name')")  # fmt: skip
        return None, {}
    if job.target is not None:
        if not TARGET.match(job.target):
            bad("target", f"{job.target!r} is not 'app-name/function-name'")
        for field in ("image", "volumes", "resources"):
            if getattr(job, field) is not None or getattr(override, field, None) is not None:
                hint = (
                    " (estimate_resources= feeds `cronflare cost`)" if field == "resources" else ""
                )
                bad(field, f"a target job runs {job.target}, deployed with its own {field}; "
                    f"drop {field}={hint}")  # fmt: skip
        if job.target_environment is not None and not SLUG.match(job.target_environment):
            bad("target_environment", f"{job.target_environment!r} is not a Modal environment")
        if job.stand_in is not None and (p := handler_problem(str(job.stand_in))):
            bad("stand_in", p)
        return None, {}
    for field in ("target_environment", "stand_in", "estimate_resources"):
        if getattr(job, field) is not None:
            bad(field, "only a target job takes it; a handler job states its own resources")
    if p := handler_problem(str(job.handler)):
        bad("handler", p)
    image = job.image if job.image is not None else default_image
    if override is not None and override.image is not None:
        image = override.image
    for problem in image_problems(image) if image is not None else ():
        bad("image", problem)
    volumes = {**default_volumes, **(job.volumes or {}), **((override and override.volumes) or {})}
    for problem in volume_problems(volumes):
        bad("volumes", problem)
    return image, dict(sorted(volumes.items()))


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
        schedule = source = ""
        cron: str | None = None
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
        image, volumes = _code(job, override, d.image, dict(d.volumes), bad)
        args = override.args if override and override.args is not None else job.args
        if p := args_problem(args):
            bad("args", p)
        if job.start is not None and job.end is not None and job.end <= job.start:
            bad("end", "must be after start")
        if len(problems) > before:
            continue

        fires = cron is None or not never_fires(cron)
        if not fires:
            warnings.append(f"job {job.name}: {source}: {schedule!r} never fires (no date matches)")
        cf, blocker = (None, None) if cron is None else to_cloudflare(cron, timezone)
        if job.runtime_schedules or job.jitter:
            cf, blocker = None, RUNTIME_BLOCKER if job.runtime_schedules else JITTER_BLOCKER
        enabled = job.enabled if override is None or override.enabled is None else override.enabled
        resources = (
            (job.estimate_resources or Resources())
            if job.target
            else d.resources.merged(job.resources).merged(override.resources if override else None)
        )
        out.append(
            ResolvedJob(
                name=job.name,
                description=job.description,
                handler=job.handler_ref,
                target=job.target,
                target_environment=job.target_environment,
                stand_in=None if job.stand_in is None else str(job.stand_in),
                args=dict(args),
                image=image,
                volumes=volumes,
                schedule=schedule,
                cron=cron,
                timezone=timezone,
                cloudflare_cron=cf,
                native_blocker=blocker,
                never_fires=not fires,
                runtime_schedules=job.runtime_schedules,
                start=None if job.start is None else job.start.astimezone(UTC),
                end=None if job.end is None else job.end.astimezone(UTC),
                jitter=int(job.jitter) // 60,
                timeout=timeout,
                expected_duration=None if expected is None else int(expected),
                retries=job.retries or d.retries,
                resources=resources,
                secrets=tuple(dict.fromkeys([*d.secrets, *job.secrets])),
                concurrency=job.concurrency or d.concurrency,
                enabled=enabled,
                tags=tuple(dict.fromkeys([*d.tags, *job.tags])),
            )
        )
    if problems:
        raise CatalogError(problems)
    return Resolved(jobs=tuple(out), warnings=tuple(warnings))
