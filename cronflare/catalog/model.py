"""Typed job catalog: the pydantic models of jobs/catalog.py, and per-stack overrides."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
HANDLER_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
# "app-name/function-name": a Modal app name, then a function (or "Class.method") in it.
TARGET = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}/[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?$")
ARGS_MAX_BYTES = 8 * 1024
ARGS_MAX_DEPTH = 32  # objects and arrays, the args object itself included (as in the Worker)
_DURATION_PART = re.compile(r"(\d+)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# Modal's GPU types (https://modal.com/docs/guide/gpu); ":N" asks for N of them.
MODAL_GPUS = (
    "any",
    "T4",
    "L4",
    "A10",
    "A10G",
    "A100",
    "A100-40GB",
    "A100-80GB",
    "L40S",
    "H100",
    "H100!",
    "H200",
    "B200",
)

Concurrency = Literal["allow", "forbid", "replace"]


class CatalogError(Exception):
    """Every problem in a catalog or stack config: one `job <name>: <field>: <message>` each."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def parse_duration(value: object) -> int:
    """Read a duration as whole seconds: an int, or text such as "90s", "15m" or "1h30m"."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 15m or 2h")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, float) and value.is_integer():
        seconds = int(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if text.isdigit():
            seconds = int(text)
        else:
            parts = _DURATION_PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(f"{value!r} is not a duration such as 30s, 15m, 2h or 1h30m")
            seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)
    else:
        raise ValueError("expected a duration such as 30s, 15m or 2h")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def _within(low: int, high: int) -> Callable[[int | str], int]:
    """A check that a parsed duration lies in [low, high] seconds."""

    def check(seconds: int | str) -> int:
        assert isinstance(seconds, int)
        if not low <= seconds <= high:
            raise ValueError(f"must be between {format_duration(low)} and {format_duration(high)}")
        return seconds

    return check


# Durations are typed `int | str` for whoever writes a catalog ("10m"), and are always whole
# seconds (an int) once validated. The bounds are Modal's own.
Timeout = Annotated[int | str, BeforeValidator(parse_duration), AfterValidator(_within(10, 86400))]
RetryDelay = Annotated[int | str, BeforeValidator(parse_duration), AfterValidator(_within(0, 60))]
RetryMaxDelay = Annotated[
    int | str, BeforeValidator(parse_duration), AfterValidator(_within(1, 60))
]


def _positive(seconds: int | str) -> int:
    """A check that a parsed duration is longer than zero."""
    assert isinstance(seconds, int)
    if seconds <= 0:
        raise ValueError("must be longer than 0s")
    return seconds


def _jitter(seconds: int | str) -> int:
    """A check that a parsed jitter is whole minutes, up to an hour."""
    assert isinstance(seconds, int)
    if seconds % 60:
        raise ValueError("must be whole minutes, such as 5m")
    if seconds > 3600:
        raise ValueError("must be between 0s and 1h")
    return seconds


# How far past its nominal minute a run may be dispatched, spread by its id (seconds, minutes only).
Jitter = Annotated[int | str, BeforeValidator(parse_duration), AfterValidator(_jitter)]


def _aware(moment: datetime) -> datetime:
    """A check that an instant says its UTC offset: a naive one would mean a different moment on
    the Worker than on the machine that wrote it.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("must have a UTC offset, such as 2026-12-01T00:00:00Z")
    return moment


Instant = Annotated[datetime, AfterValidator(_aware)]


# How long a run usually takes: only `cronflare cost` reads it. Whether it fits the timeout is
# checked once both are resolved (catalog.validate), since either may come from the defaults.
ExpectedDuration = Annotated[int | str, BeforeValidator(parse_duration), AfterValidator(_positive)]


def format_duration(seconds: int) -> str:
    """Render seconds the way a user would write them: 900 -> "15m", 5400 -> "1h30m"."""
    if seconds == 0:
        return "0s"
    out = ""
    for unit in "dhms":
        n, seconds = divmod(seconds, _UNIT_SECONDS[unit])
        if n:
            out += f"{n}{unit}"
    return out


def handler_path(value: object) -> str:
    """Turn a handler (a module-level function or "module:function" text) into its import path."""
    if isinstance(value, str):
        if not HANDLER_PATH.match(value):
            raise ValueError(
                f"{value!r} is not an import path of the form 'package.module:function'"
            )
        return value
    if callable(value):
        module = getattr(value, "__module__", None)
        qualname = getattr(value, "__qualname__", None)
        if not module or not qualname or "<" in qualname or module == "__main__":
            raise ValueError("must be a module-level function, importable on Modal by its path")
        return f"{module}:{qualname}"
    raise ValueError("must be a function or an import path 'package.module:function'")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# A list or tuple in, a tuple kept: equal specs compare equal however they were written.
Strings = Annotated[Sequence[str], AfterValidator(tuple)]


class Image(_Strict):
    """A Modal image for a job, built on debian_slim; cronflare's runtime packages are added to it.

    Jobs whose specs are equal share one image. For anything this cannot say, build your own
    `modal.Image` and give the job its import path instead: `image="my_pkg.images:gpu"`.
    """

    python: str | None = Field(
        default=None, pattern=r"^3\.1[1-4]$", description="such as 3.12; default 3.11"
    )
    pip: Strings = Field(default=(), description='requirements, such as "pandas==2.2.3"')
    apt: Strings = Field(default=(), description='Debian packages, such as "ffmpeg"')
    commands: Strings = Field(default=(), description="shell commands, after apt, before pip")
    env: Mapping[str, str] = Field(default_factory=dict, description="environment variables")

    def key(self) -> str:
        """Equal specs have equal keys: the image each job gets is looked up by this."""
        return self.model_dump_json()


# A job's image: a spec, or the import path "package.module:attr" of a modal.Image you build
# (checked on resolve, so that a bad one is one clear line).
ImageRef = str


# A handler's or target's arguments: a JSON object, at most 8 KiB serialized (checked on resolve).
Args = Mapping[str, JsonValue]


class Resources(_Strict):
    """Container resources for one job on Modal: None leaves Modal's own default."""

    cpu: float | None = Field(default=None, gt=0, le=64, description="physical cores")
    memory: int | None = Field(default=None, ge=128, le=344064, description="MiB")
    gpu: str | None = Field(default=None, description="a Modal GPU type, optionally ':N'")

    @field_validator("gpu")
    @classmethod
    def _known_gpu(cls, value: str | None) -> str | None:
        if value is None:
            return None
        kind, _, count = value.partition(":")
        known = {g.upper(): g for g in MODAL_GPUS}
        if kind.upper() not in known:
            raise ValueError(f"unknown GPU {kind!r}; Modal offers {', '.join(MODAL_GPUS)}")
        if count and (not count.isdigit() or not 1 <= int(count) <= 8):
            raise ValueError(f"GPU count {count!r} must be 1 to 8")
        return known[kind.upper()] + (f":{count}" if count else "")

    def merged(self, other: Resources | None) -> Resources:
        """Layer the fields `other` sets on top of these."""
        if other is None:
            return self
        return self.model_copy(update=other.model_dump(exclude_unset=True))


class RetryPolicy(_Strict):
    """How Modal retries a failed run; the bounds are Modal's own (modal.Retries)."""

    attempts: int = Field(default=3, ge=1, le=11, description="total tries, the first included")
    initial_delay: RetryDelay = 1
    backoff_coefficient: float = Field(default=2.0, ge=1.0, le=10.0)
    max_delay: RetryMaxDelay = 60


class Defaults(_Strict):
    """Catalog-wide defaults that every job inherits unless it sets the field itself."""

    timezone: str = "UTC"
    timeout: Timeout = 600
    expected_duration: ExpectedDuration | None = None
    retries: RetryPolicy = RetryPolicy()
    resources: Resources = Resources()
    concurrency: Concurrency = "allow"
    secrets: Sequence[str] = ()
    tags: Sequence[str] = ()
    image: Image | ImageRef | None = None
    volumes: Mapping[str, str] = Field(default_factory=dict)


class Job(_Strict):
    """One scheduled job: what runs, when, and with what on Modal."""

    name: str
    description: str = Field(min_length=1)
    handler: Annotated[str | Callable[..., Any], BeforeValidator(handler_path)] | None = None
    target: str | None = Field(
        default=None, description='an already deployed Modal function, "app-name/function-name"'
    )
    target_environment: str | None = Field(
        default=None, description="the target's Modal environment, if not the stack's"
    )
    stand_in: Annotated[str | Callable[..., Any], BeforeValidator(handler_path)] | None = Field(
        default=None, description="what runs in place of the target locally (make demo)"
    )
    estimate_resources: Resources | None = Field(
        default=None, description="the target's resources, for `cronflare cost` only"
    )
    args: Args = Field(default_factory=dict, description="a JSON object, given as ctx.args")
    image: Image | ImageRef | None = None
    volumes: Mapping[str, str] | None = Field(
        default=None, description='mount path -> Modal Volume name, such as {"/data": "cache"}'
    )
    schedule: str | None = Field(default=None, description="Unix cron or a macro such as @daily")
    every: str | None = Field(default=None, description="an interval such as 15m or 2h")
    runtime_schedules: bool = Field(
        default=False, description="the app may create schedules of it through the Worker's API"
    )
    start: Instant | None = Field(default=None, description="no runs before it (inclusive)")
    end: Instant | None = Field(default=None, description="no runs at or after it (exclusive)")
    jitter: Jitter = Field(default=0, description="spread each run up to this late, such as 5m")
    timezone: str | None = None
    timeout: Timeout | None = None
    expected_duration: ExpectedDuration | None = Field(
        default=None, description="how long a run usually takes, such as 30s: for cost estimates"
    )
    retries: RetryPolicy | None = None
    resources: Resources | None = None
    secrets: Sequence[str] = ()
    concurrency: Concurrency | None = None
    enabled: bool = True
    tags: Sequence[str] = ()

    @model_validator(mode="wrap")
    @classmethod
    def _name_the_job(cls, data: Any, handler: ModelWrapValidatorHandler[Job]) -> Job:
        name = data.get("name", "?") if isinstance(data, dict) else "?"
        return _as_catalog_error(handler, data, f"job {name}")

    @property
    def handler_ref(self) -> str | None:
        """The handler's import path, "package.module:function", or None for a target job."""
        return None if self.handler is None else str(self.handler)


class JobOverride(_Strict):
    """What one stack may change about a job: whether it runs, when, where in time, its size, its
    image and volumes, and its arguments.
    """

    enabled: bool | None = None
    schedule: str | None = None
    every: str | None = None
    timezone: str | None = None
    resources: Resources | None = None
    args: Args | None = None
    image: Image | ImageRef | None = None
    volumes: Mapping[str, str] | None = None


class Catalog(_Strict):
    """The whole job catalog: defaults plus jobs. Checked in full by cronflare.catalog.validate."""

    defaults: Defaults = Defaults()
    jobs: Sequence[Job]

    @model_validator(mode="wrap")
    @classmethod
    def _name_the_catalog(cls, data: Any, handler: ModelWrapValidatorHandler[Catalog]) -> Catalog:
        return _as_catalog_error(handler, data, "catalog")


M = TypeVar("M", bound=BaseModel)


def _as_catalog_error(handler: ModelWrapValidatorHandler[M], data: Any, subject: str) -> M:
    """Validate, turning pydantic's error into CatalogError lines about `subject`."""
    try:
        return handler(data)
    except ValidationError as err:
        raise CatalogError(validation_lines(err, subject)) from None


def error_message(error: ErrorDetails) -> str:
    """A pydantic error's message as a user should read it."""
    if error["type"] == "extra_forbidden":
        return "unknown field"
    return error["msg"].removeprefix("Value error, ")


def validation_lines(err: ValidationError, subject: str) -> list[str]:
    """Turn a pydantic error into `<subject>: <field>: <message>` lines."""
    return [
        f"{subject}: {'.'.join(str(p) for p in e['loc']) or '(model)'}: {error_message(e)}"
        for e in err.errors()
    ]
