"""Cron schedules: next fire times under one DST rule, translation to Cloudflare.

The DST rule (docs/SCHEDULES.md): a schedule is read against the job's wall clock. A wall time
that a spring-forward gap skips runs at the first minute after the gap; a wall time that a
fall-back fold repeats runs once, on its first occurrence.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import takewhile
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from cronsim import CronSim
from cronsim.cronsim import CronSimError, Field

from cronflare.catalog.model import format_duration, parse_duration

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_FIELDS = (Field.MINUTE, Field.HOUR, Field.DAY, Field.MONTH, Field.DOW)
_ALLOWED = {
    "minute": "0-59",
    "hour": "0-23",
    "day-of-month": "1-31 or L (last day)",
    "month": "1-12 or JAN-DEC",
    "day-of-week": "0-7 (0 and 7 are Sunday) or SUN-SAT, with nL (last) or n#k (k-th)",
}
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
LAST = CronSim.LAST
_MINUTE = timedelta(minutes=1)
_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February may have 29


# "5-5/4": Vixie cron reads 5, cronsim reads 5/4 (5 to the field's end, every 4th).
_ONE_VALUE_STEP = re.compile(r"(?<![\d-])(\d+)-\1/\d+")


class ScheduleError(ValueError):
    """A schedule that cannot be used, with the reason in words a user can act on."""


@dataclass(frozen=True)
class CronFields:
    """The parsed value sets of a 5-field cron, as cronsim reads them."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int | tuple[int, int]]
    day_and: bool  # Vixie: a day field that starts with "*" makes the two day fields AND, else OR


def _printable_ascii(text: str, example: str) -> None:
    """Schedule text is printable ASCII only, so the Worker's port of this parser (worker_src/src/
    compile.ts) reads it exactly as Python does: no Unicode digits, spaces or case rules to match.
    """
    if not all(" " <= c <= "~" for c in text):
        raise ScheduleError(f'must be printable ASCII text, such as "{example}"')


def expand_macro(expr: str) -> str:
    """Canonical Unix text for a cron or macro: macros expanded, upper case, single spaces."""
    _printable_ascii(expr, "0 9 * * 1")
    text = " ".join(expr.split())
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise ScheduleError(f"unknown macro {text!r}; use one of {', '.join(MACROS)}")
        return MACROS[text.lower()]
    return text.upper()


@lru_cache(maxsize=4096)
def parse_cron(expr: str) -> CronFields:
    """Parse 5-field cron text, naming the field at fault on error."""
    parts = expr.upper().split()
    if len(parts) != 5:
        raise ScheduleError(
            f"{expr!r} has {len(parts)} fields; a cron needs 5: minute hour day-of-month month "
            "day-of-week"
        )
    sets = []
    for name, field, part in zip(FIELD_NAMES, _FIELDS, parts, strict=True):
        if "W" in part and field is Field.DAY:
            raise ScheduleError(f"day-of-month {part!r}: W (nearest weekday) is not supported")
        if same := _ONE_VALUE_STEP.search(part):
            raise ScheduleError(
                f"{name} {part!r}: a one-value range with a step ({same.group(0)}) is just "
                f"{same.group(1)} to Vixie cron but runs on to the field's end in others; write "
                f"{same.group(1)}, or {same.group(1)}-<last>/<step>"
            )
        try:
            sets.append(frozenset(field.parse(part)))
        except (CronSimError, ValueError):
            raise ScheduleError(
                f"{name} field {part!r} is not valid; it takes {_ALLOWED[name]}, "
                "and * , - / as usual"
            ) from None
    if LAST in sets[2] and len(sets[2]) > 1:
        raise ScheduleError(f"day-of-month {parts[2]!r}: L cannot be combined with other days")
    return CronFields(*sets, day_and=parts[2].startswith("*") or parts[4].startswith("*"))


# A compiled schedule, as the plan carries it and the Worker evaluates it (docs/SCHEDULES.md):
# [minutes 0-29, minutes 30-59, hours, days of month (bit d), months (bit m), weekdays (bit 0 =
# Sunday), flags] and, only when the day-of-week field has them, a list of [weekday, k]: the
# k-th such weekday of the month (k = 1..5), or the last one (k = 0).
Compiled = list[Any]
DAY_AND, LAST_DAY = 1, 2  # flags: AND the two day fields (else OR); day-of-month has L


def _bits(values: Iterable[int]) -> int:
    return sum(1 << v for v in set(values))


@lru_cache(maxsize=4096)
def _compiled(cron: str) -> tuple[Any, ...]:
    f = parse_cron(cron)
    weekdays = {w % 7 for w in f.weekdays if isinstance(w, int)}
    nth = sorted(
        (x[0] % 7, 0 if x[1] == LAST else x[1]) for x in f.weekdays if isinstance(x, tuple)
    )
    flags = (DAY_AND if f.day_and else 0) | (LAST_DAY if LAST in f.days else 0)
    masks = (
        _bits(m for m in f.minutes if m < 30),
        _bits(m - 30 for m in f.minutes if m >= 30),
        _bits(f.hours),
        _bits(d for d in f.days if d != LAST),
        _bits(f.months),
        _bits(weekdays),
        flags,
    )
    return (*masks, tuple(nth)) if nth else masks


def compile_cron(cron: str) -> Compiled:
    """The cron as bitmasks and day specs, from the same parse that validated it: what the Worker
    tests against each wall-clock minute, without ever reading cron text.
    """
    return [
        [list(x) for x in part] if isinstance(part, tuple) else part for part in _compiled(cron)
    ]


def compiled_matches(c: Compiled, wall: datetime) -> bool:
    """Whether a wall-clock minute matches a compiled schedule: the Worker's test, in Python."""
    minute = c[0] >> wall.minute & 1 if wall.minute < 30 else c[1] >> (wall.minute - 30) & 1
    if not (minute and c[2] >> wall.hour & 1 and c[4] >> wall.month & 1):
        return False
    day, weekday = wall.day, (wall.weekday() + 1) % 7
    days_in_month = calendar.monthrange(wall.year, wall.month)[1]
    dom = bool(c[3] >> day & 1) or bool(c[6] & LAST_DAY and day == days_in_month)
    dow = bool(c[5] >> weekday & 1) or any(
        w == weekday and (day + 7 > days_in_month if k == 0 else (day + 6) // 7 == k)
        for w, k in (c[7] if len(c) > 7 else ())
    )
    return (dom and dow) if c[6] & DAY_AND else (dom or dow)


def compiled_fires(c: Compiled, timezone: str, start: datetime, end: datetime) -> list[datetime]:
    """Due instants in [start, end) by walking UTC minutes as the Worker does: each minute's
    wall clock is tested; a minute right after a DST gap also runs what the gap skipped; a wall
    minute that a fold repeats runs only the first time.
    """
    zone = _zone(timezone)
    t = start.astimezone(UTC).replace(second=0, microsecond=0)
    if t < start:
        t += _MINUTE
    out = []
    while t < end:
        wall = t.replace(tzinfo=None) if zone is None else t.astimezone(zone).replace(tzinfo=None)
        before = wall if zone is None else (t - _MINUTE).astimezone(zone).replace(tzinfo=None)
        if zone is not None and wall - before > _MINUTE:  # a gap ends here
            skipped = before + _MINUTE
            due = compiled_matches(c, wall)
            while not due and skipped < wall:
                due, skipped = compiled_matches(c, skipped), skipped + _MINUTE
        else:
            due = compiled_matches(c, wall) and not _repeated(t, zone)
        if due:
            out.append(t)
        t += _MINUTE
    return out


def _repeated(t: datetime, zone: ZoneInfo | None) -> bool:
    """Whether the wall minute shown at `t` was already shown earlier (the second pass of a fold):
    the offset dropped by D within the last D, so the minute D before shows the same wall time.
    """
    if zone is None:
        return False
    offset = t.astimezone(zone).utcoffset()
    earlier = (t - timedelta(hours=3)).astimezone(zone).utcoffset()
    assert offset is not None and earlier is not None
    drop = earlier - offset
    if drop <= timedelta(0):
        return False
    return (t - drop).astimezone(zone).replace(tzinfo=None) == t.astimezone(zone).replace(
        tzinfo=None
    )


def interval_cron(every: str) -> str:
    """The cron that fires every `every` (such as "15m" or "2h"), anchored at 00:00 UTC."""
    _printable_ascii(every, "15m")
    try:
        seconds = parse_duration(every)
    except ValueError as err:
        raise ScheduleError(str(err)) from None
    if seconds <= 0:
        raise ScheduleError("an interval must be longer than zero")
    if seconds % 60:
        raise ScheduleError(f"{every!r} is finer than a minute; the scheduler ticks once a minute")
    minutes = seconds // 60
    if minutes < 60 and 60 % minutes == 0:
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    hours, rest = divmod(minutes, 60)
    if rest == 0 and 24 % hours == 0:
        return {1: "0 * * * *", 24: "0 0 * * *"}.get(hours, f"0 */{hours} * * *")
    raise ScheduleError(
        f"every={every!r} ({format_duration(seconds)}) does not divide an hour or a day evenly, so "
        "it could not land on the same minutes every hour or day; use 1, 2, 3, 4, 5, 6, 10, 12, "
        "15, 20 or 30 minutes, or 1, 2, 3, 4, 6, 8, 12 or 24 hours, or write a cron schedule"
    )


@lru_cache(maxsize=4096)
def never_fires(cron: str) -> bool:
    """True when no date can ever match, such as February 30."""
    f = parse_cron(cron)
    if (
        f.day_and
        and LAST not in f.days
        and not any(day <= _DAYS_IN_MONTH[m] for m in f.months for day in f.days)
    ):
        return True
    try:
        next(CronSim(cron, datetime(2000, 1, 1)))
    except (StopIteration, CronSimError):
        return True
    return False


def _zone(timezone: str) -> ZoneInfo | None:
    return None if timezone == "UTC" else ZoneInfo(timezone)


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall time: a skipped time moves to the end of its gap, a repeated one
    takes its first occurrence (fold=0).
    """
    probe = wall
    while True:
        instant = probe.replace(tzinfo=zone, fold=0).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == probe:
            return instant
        probe += _MINUTE


def iter_fires(cron: str, timezone: str, after: datetime) -> Iterator[datetime]:
    """Fire instants (UTC, aware) strictly after `after`, for a cron read in `timezone`."""
    if never_fires(cron):
        return
    start = after.astimezone(UTC).replace(second=0, microsecond=0)
    zone = _zone(timezone)
    if zone is None:
        yield from CronSim(cron, start)
        return
    last = after.astimezone(UTC)
    # Walk the naive wall clock, so that every wall time is visited exactly once.
    for wall in CronSim(cron, start.astimezone(zone).replace(tzinfo=None)):
        instant = _instant(wall, zone)
        if instant > last:
            last = instant
            yield instant


def fires_between(cron: str, timezone: str, start: datetime, end: datetime) -> list[datetime]:
    """Fire instants (UTC) in [start, end), for a cron read in `timezone`."""
    fires = iter_fires(cron, timezone, start - timedelta(microseconds=1))
    return list(takewhile(lambda instant: instant < end, fires))


def iso_utc(moment: datetime) -> str:
    """An instant as the CLI, the demo and the shared vectors print it: 2026-11-23T09:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_fires(cron: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    """The next `count` fire instants after `after`, in UTC."""
    out: list[datetime] = []
    for instant in iter_fires(cron, timezone, after):
        out.append(instant)
        if len(out) >= count:
            break
    return out


def is_due(cron: str, timezone: str, minute: datetime) -> bool:
    """Whether a run is due at this UTC minute."""
    minute = minute.astimezone(UTC).replace(second=0, microsecond=0)
    return next_fires(cron, timezone, minute - _MINUTE, 1) == [minute]


class Windowed(Protocol):
    """A job as the catalog-fire helpers read it: a resolved job, or a plan's WorkerJob."""

    @property
    def cron(self) -> str | None: ...
    @property
    def timezone(self) -> str: ...
    @property
    def start(self) -> datetime | None: ...
    @property
    def end(self) -> datetime | None: ...


def in_window(job: Windowed, instant: datetime) -> bool:
    """Whether an instant falls in the job's [start, end): a catalog fire outside makes no run."""
    return (job.start is None or instant >= job.start) and (job.end is None or instant < job.end)


def catalog_fires(job: Windowed, start: datetime, end: datetime) -> list[datetime]:
    """The nominal fire instants (UTC) of a job's own catalog schedule in [start, end), within
    its start/end window: what the Worker records as runs. None without a catalog schedule.
    """
    if job.cron is None:
        return []
    low = start if job.start is None else max(start, job.start)
    high = end if job.end is None else min(end, job.end)
    return fires_between(job.cron, job.timezone, low, high) if low < high else []


def catalog_next_fires(job: Windowed, after: datetime, count: int) -> list[datetime]:
    """The next `count` nominal fires of a job's catalog schedule after `after`, within its
    start/end window: `cronflare next` shows no fire that will not happen.
    """
    if job.cron is None or (job.end is not None and after >= job.end):
        return []
    if job.start is not None and after < job.start:
        after = job.start - timedelta(microseconds=1)
    out: list[datetime] = []
    for instant in iter_fires(job.cron, job.timezone, after):
        if len(out) >= count or not in_window(job, instant):
            break
        out.append(instant)
    return out


FNV_OFFSET, FNV_PRIME = 0x811C9DC5, 0x01000193


def jitter_offset(execution_id: str, jitter_minutes: int) -> int:
    """Minutes past its nominal minute that a run is dispatched: FNV-1a 32 of its id's UTF-8,
    modulo the jitter, so that the Worker (jitterOffset in cron.ts) and Python agree on every run.
    """
    if jitter_minutes <= 0:
        return 0
    h = FNV_OFFSET
    for byte in execution_id.encode():
        h = ((h ^ byte) * FNV_PRIME) & 0xFFFFFFFF
    return h % jitter_minutes


def _render(values: frozenset[int], low: int, high: int) -> str:
    """Render a value set as cron text that means the same in Unix and Cloudflare dialects."""
    full = range(low, high + 1)
    if values == frozenset(full):
        return "*"
    for step in range(2, high - low + 1):
        if values == frozenset(full[::step]) and len(values) > 1:
            return f"*/{step}"
    return _runs([str(v) for v in sorted(values)], sorted(values))


def _runs(names: list[str], numbers: list[int]) -> str:
    """Join sorted values as a list, folding runs of three or more into a range."""
    parts, i = [], 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{names[i]}-{names[j]}")
        else:
            parts.extend(names[i : j + 1])
        i = j + 1
    return ",".join(parts)


@lru_cache(maxsize=4096)
def to_cloudflare(cron: str, timezone: str) -> tuple[str | None, str | None]:
    """Translate a Unix cron to Cloudflare's dialect: (translation, None) or (None, why not).

    Cloudflare triggers run in UTC and number weekdays 1-7 from Sunday, where Unix uses 0-6.
    Weekdays are therefore always written as names, which both dialects read the same way.
    """
    if timezone != "UTC":
        return None, f"{timezone} is not UTC, and Cloudflare cron triggers run in UTC only"
    f = parse_cron(cron)
    plain_days = {d % 7 for d in f.weekdays if isinstance(d, int)}
    if any(isinstance(d, tuple) for d in f.weekdays):
        return None, "day-of-week with L or #: Cloudflare's reading of these is not documented"
    dom_all = f.days == frozenset(range(1, 32))
    dow_all = plain_days == set(range(7))
    if dom_all or dow_all:
        # One day field matches every day: with OR the schedule runs daily, with AND the other
        # field alone decides.
        if not f.day_and or (dom_all and dow_all):
            dom, dow = "*", "*"
        elif dom_all:
            dom, dow = "*", None
        else:
            dom, dow = None, "*"
    else:
        return None, (
            "both day-of-month and day-of-week are restricted; Unix cron runs when either "
            "matches, and Cloudflare does not document how it combines them"
        )
    if dom is None:
        dom = "L" if f.days == {LAST} else _render(f.days, 1, 31)
    if dow is None:
        days = sorted(plain_days)
        dow = _runs([DAY_NAMES[d] for d in days], days)
    return (
        f"{_render(f.minutes, 0, 59)} {_render(f.hours, 0, 23)} {dom} "
        f"{_render(f.months, 1, 12)} {dow}"
    ), None
