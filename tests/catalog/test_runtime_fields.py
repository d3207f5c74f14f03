"""Runtime schedules in the catalog: opt-in, start/end, jitter, and the helpers honouring them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cronflare.catalog.model import Catalog, CatalogError, Job
from cronflare.catalog.schedule import catalog_fires, catalog_next_fires, jitter_offset
from cronflare.catalog.validate import JITTER_BLOCKER, RUNTIME_BLOCKER, catalog_hash, resolve

H = "jobs.handlers.ops:monitor"


def job(name: str = "a", **kw) -> Job:
    if not kw.get("runtime_schedules") or "every" in kw:
        kw.setdefault("schedule", None if "every" in kw else "0 * * * *")
    return Job(name=name, description="d", handler=H, **kw)


def resolved(*jobs: Job):
    return resolve(Catalog(jobs=list(jobs)))


def problems(*jobs: Job) -> list[str]:
    with pytest.raises(CatalogError) as err:
        resolve(Catalog(jobs=list(jobs)))
    return err.value.problems


def construction_problems(**kw) -> list[str]:
    with pytest.raises(CatalogError) as err:
        job("a", **kw)
    return err.value.problems


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_runtime_only_job_resolves_without_a_cron_or_a_native_trigger():
    r = resolved(job("rt", runtime_schedules=True))
    [j] = r.jobs
    assert (j.schedule, j.cron, j.cloudflare_cron) == ("", None, None)
    assert (j.runtime_schedules, j.never_fires, j.native_blocker) == (True, False, RUNTIME_BLOCKER)
    assert (j.start, j.end, j.jitter) == (None, None, 0)
    assert r.warnings == ()


def test_a_job_with_neither_schedule_nor_opt_in_keeps_the_old_error():
    assert problems(job("a", schedule=None)) == [
        "job a: schedule: give exactly one of schedule= (a cron or @macro) or every= (such as 15m)"
    ]


def test_a_runtime_job_may_also_have_its_own_schedule_and_then_needs_the_tick():
    [j] = resolved(job("both", runtime_schedules=True, schedule="0 6 * * *")).jobs
    assert (j.cron, j.cloudflare_cron, j.native_blocker) == ("0 6 * * *", None, RUNTIME_BLOCKER)
    [e] = resolved(job("every", runtime_schedules=True, every="15m")).jobs
    assert e.cron == "*/15 * * * *" and e.schedule == "every 15m"


def test_start_and_end_are_instants_with_an_offset_kept_in_utc():
    [j] = resolved(
        job("a", start="2026-12-01T01:00:00+01:00", end=datetime(2027, 1, 1, tzinfo=UTC))
    ).jobs
    assert (j.start, j.end) == (utc(2026, 12, 1), utc(2027, 1, 1))
    assert j.start is not None and j.start.utcoffset() == timedelta(0)
    [z] = resolved(job("z", start="2026-12-01T00:00:00Z")).jobs
    assert z.start == utc(2026, 12, 1) and z.native_blocker is None


@pytest.mark.parametrize("naive", ["2026-12-01T00:00:00", datetime(2026, 12, 1)])
def test_a_naive_start_or_end_is_refused_naming_the_field(naive):
    message = "must have a UTC offset, such as 2026-12-01T00:00:00Z"
    assert construction_problems(start=naive) == [f"job a: start: {message}"]
    assert construction_problems(end=naive) == [f"job a: end: {message}"]


def test_an_end_at_or_before_the_start_is_an_error_on_end_with_the_rest():
    at = "2026-12-01T00:00:00Z"
    assert problems(
        job("same", start=at, end=at),
        job("before", start=at, end="2026-11-30T23:00:00-00:30"),
        job("fine", start=at, end="2026-12-01T00:01:00Z"),
        job("bad-tz", timezone="Mars/Olympus"),
    ) == [
        "job same: end: must be after start",
        "job before: end: must be after start",
        "job bad-tz: timezone: unknown IANA timezone 'Mars/Olympus'",
    ]


@pytest.mark.parametrize(
    ("given", "minutes"), [(None, 0), ("0s", 0), ("5m", 5), (300, 5), ("1h", 60), ("60m", 60)]
)
def test_jitter_is_whole_minutes_up_to_an_hour(given, minutes):
    [j] = resolved(job("a") if given is None else job("a", jitter=given)).jobs
    assert j.jitter == minutes


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("90s", "must be whole minutes, such as 5m"),
        (30, "must be whole minutes, such as 5m"),
        ("61m", "must be between 0s and 1h"),
        ("2h", "must be between 0s and 1h"),
    ],
)
def test_a_bad_jitter_names_the_field(given, message):
    assert construction_problems(jitter=given) == [f"job a: jitter: {message}"]


def test_a_jobs_own_bad_fields_come_back_together():
    assert construction_problems(start="2026-12-01T00:00:00", jitter="90s") == [
        "job a: start: must have a UTC offset, such as 2026-12-01T00:00:00Z",
        "job a: jitter: must be whole minutes, such as 5m",
    ]


def test_jitter_keeps_a_job_off_native_triggers_but_start_and_end_do_not():
    [j] = resolved(job("a", jitter="5m")).jobs
    assert (j.cloudflare_cron, j.native_blocker) == (None, JITTER_BLOCKER)
    [w] = resolved(job("w", start="2026-12-01T00:00:00Z", end="2027-01-01T00:00:00Z")).jobs
    assert (w.cloudflare_cron, w.native_blocker) == ("0 * * * *", None)


def test_the_catalog_hash_follows_the_new_fields():
    base = catalog_hash(resolved(job("a")).jobs)
    for changed in (
        job("a", runtime_schedules=True),
        job("a", jitter="5m"),
        job("a", start="2026-12-01T00:00:00Z"),
        job("a", end="2026-12-01T00:00:00Z"),
    ):
        assert catalog_hash(resolved(changed).jobs) != base
    assert catalog_hash(resolved(job("a", jitter=0)).jobs) == base


# --- catalog fires within start/end ------------------------------------------------------------


def test_catalog_fires_are_nominal_and_kept_to_start_and_end():
    [j] = resolved(
        job("a", start="2026-11-23T10:30:00Z", end="2026-11-23T13:00:00Z", jitter="30m")
    ).jobs
    fires = catalog_fires(j, utc(2026, 11, 23, 9), utc(2026, 11, 23, 15))
    assert fires == [utc(2026, 11, 23, 11), utc(2026, 11, 23, 12)]
    # start inclusive, end exclusive
    [k] = resolved(job("k", start="2026-11-23T11:00:00Z", end="2026-11-23T12:00:00Z")).jobs
    assert catalog_fires(k, utc(2026, 11, 23), utc(2026, 11, 24)) == [utc(2026, 11, 23, 11)]
    assert catalog_fires(k, utc(2026, 11, 24), utc(2026, 11, 25)) == []


def test_a_runtime_only_job_has_no_catalog_fires():
    [j] = resolved(job("rt", runtime_schedules=True)).jobs
    assert catalog_fires(j, utc(2026, 1, 1), utc(2027, 1, 1)) == []
    assert catalog_next_fires(j, utc(2026, 1, 1), 5) == []


def test_next_fires_start_at_the_start_and_stop_at_the_end():
    [j] = resolved(job("a", start="2026-12-01T00:00:00Z", end="2026-12-01T03:00:00Z")).jobs
    assert catalog_next_fires(j, utc(2026, 11, 1), 5) == [
        utc(2026, 12, 1, 0),
        utc(2026, 12, 1, 1),
        utc(2026, 12, 1, 2),
    ]
    assert catalog_next_fires(j, utc(2026, 12, 1, 1), 1) == [utc(2026, 12, 1, 2)]
    assert catalog_next_fires(j, utc(2026, 12, 1, 3), 5) == []


# --- jitter offsets ------------------------------------------------------------------------------


def fnv1a32(data: bytes) -> int:
    """FNV-1a, 32 bits, from its definition (an independent reading, for comparison)."""
    h = 2166136261
    for b in data:
        h = (h ^ b) * 16777619 % 2**32
    return h


def test_the_reference_fnv1a_gives_the_published_vectors():
    assert fnv1a32(b"") == 0x811C9DC5
    assert fnv1a32(b"a") == 0xE40C292C
    assert fnv1a32(b"foobar") == 0xBF9CF968


def test_the_jitter_offset_is_the_fnv1a_hash_of_the_id_modulo_the_minutes():
    # A modulus of 2^32 shows the whole hash.
    assert jitter_offset("", 2**32) == 0x811C9DC5
    assert jitter_offset("a", 2**32) == 0xE40C292C
    assert jitter_offset("foobar", 2**32) == 0xBF9CF968
    ids = [
        "nightly-cleanup@2026-11-23T03:00Z",
        "sync@s-0123456789abcdef01234567@2026-12-24T09:00Z",
        "report@2026-11-23T09:00:07Z-manual-0123456789ab",
        "é-utf8@x",
    ]
    for execution_id in ids:
        for minutes in (1, 5, 7, 60):
            expected = fnv1a32(execution_id.encode()) % minutes
            assert jitter_offset(execution_id, minutes) == expected
    # The same as worker_src's jitterOffset gives for these ids.
    assert jitter_offset("nightly-cleanup@2026-11-23T03:00Z", 60) == 25
    assert jitter_offset("sync@s-0123456789abcdef01234567@2026-12-24T09:00Z", 60) == 48


def test_no_jitter_no_offset_and_offsets_spread_within_the_jitter():
    assert jitter_offset("anything@2026-11-23T03:00Z", 0) == 0
    offsets = {jitter_offset(f"j@2026-11-23T{h:02d}:00Z", 10) for h in range(24)}
    assert offsets <= set(range(10)) and len(offsets) > 3
