"""Translation to Cloudflare's cron dialect, proved over a whole year of fire times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cronflare.catalog.schedule import fires_between, to_cloudflare
from cronflare.catalog.validate import resolve
from jobs.catalog import CATALOG
from tests.cron_oracle import croniter_fires, read_cloudflare

YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2027, 1, 1, tzinfo=UTC)


def unix_year(cron: str) -> list[datetime]:
    """The original read with Unix numbering, by our cronsim path."""
    return fires_between(cron, "UTC", YEAR_START, YEAR_END)


def cloudflare_year(translated: str) -> list[datetime]:
    """The translation read with Cloudflare's numbering (1 = Sunday), by croniter."""
    return croniter_fires(read_cloudflare(translated), YEAR_START, YEAR_END)


def assert_same_year(cron: str) -> str:
    translated, why = to_cloudflare(cron, "UTC")
    assert translated is not None, why
    assert cloudflare_year(translated) == unix_year(cron), f"{cron!r} -> {translated!r}"
    return translated


def test_the_write_ups_monday_cron_would_fire_on_sundays_on_cloudflare():
    naive = cloudflare_year("0 9 * * 1")
    assert {t.strftime("%A") for t in naive} == {"Sunday"}
    assert assert_same_year("0 9 * * 1") == "0 9 * * MON"


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("0 6 * * *", "0 6 * * *"),
        ("0 9 * * 1-5", "0 9 * * MON-FRI"),
        ("0 9 * * 0", "0 9 * * SUN"),
        ("0 9 * * 7", "0 9 * * SUN"),
        ("0 9 * * 5-7", "0 9 * * SUN,FRI,SAT"),
        ("0 9 * * 6,0", "0 9 * * SUN,SAT"),
        ("0 9 * * */2", "0 9 * * SUN,TUE,THU,SAT"),
        ("0 9 * * MON,WED,FRI", "0 9 * * MON,WED,FRI"),
        ("0 0 L * *", "0 0 L * *"),
        ("0 4 1 */3 *", "0 4 1 */3 *"),
        ("*/5 * * * *", "*/5 * * * *"),
        ("5/15 * * * *", "5,20,35,50 * * * *"),
        ("0 0 15 * 0-6", "0 0 * * *"),  # OR with every weekday: daily
        ("0 0 1-31 * MON", "0 0 * * *"),
        ("0 0 * * 0-7", "0 0 * * *"),
        ("0 0 */2 * *", "0 0 */2 * *"),
    ],
)
def test_translations_read_the_same_for_a_whole_year(cron: str, expected: str):
    assert assert_same_year(cron) == expected


def test_every_native_job_of_the_example_catalog_translates_exactly():
    native = [j for j in resolve(CATALOG).jobs if j.cloudflare_cron]
    assert len(native) >= 10
    for job in native:
        assert job.cron is not None
        assert job.cloudflare_cron == assert_same_year(job.cron), job.name


@pytest.mark.parametrize(
    ("cron", "tz", "why"),
    [
        ("0 8 * * *", "Europe/Berlin", "run in UTC only"),
        ("0 0 13 * FRI", "UTC", "both day-of-month and day-of-week are restricted"),
        ("0 0 */2 * MON", "UTC", "both day-of-month and day-of-week are restricted"),
        ("0 0 * * 5L", "UTC", "L or #"),
        ("0 0 * * MON#1", "UTC", "L or #"),
    ],
)
def test_what_cannot_be_translated_exactly_stays_off_cloudflare(cron: str, tz: str, why: str):
    translated, reason = to_cloudflare(cron, tz)
    assert translated is None and reason is not None and why in reason


hours = st.sets(st.integers(0, 23), min_size=1, max_size=3).map(
    lambda s: ",".join(map(str, sorted(s)))
)
days = st.one_of(
    st.just("*"),
    st.just("L"),
    st.sets(st.integers(1, 31), min_size=1, max_size=4).map(
        lambda s: ",".join(map(str, sorted(s)))
    ),
)
weekdays = st.one_of(
    st.just("*"),
    st.sets(
        st.sampled_from(
            [
                "0",
                "1",
                "2",
                "3",
                "4",
                "5",
                "6",
                "7",
                "SUN",
                "MON",
                "TUE",
                "WED",
                "THU",
                "FRI",
                "SAT",
            ]
        ),
        min_size=1,
        max_size=4,
    ).map(",".join),
    st.tuples(st.integers(0, 6), st.integers(0, 7)).map(lambda ab: f"{min(ab)}-{max(ab)}"),
)
months = st.one_of(st.just("*"), st.sampled_from(["1", "2,8", "*/3", "3-5"]))


@settings(max_examples=60, deadline=None)
@given(hour=hours, dom=days, month=months, dow=weekdays)
def test_any_translatable_schedule_reads_the_same_for_a_year(hour, dom, month, dow):
    cron = f"0 {hour} {dom} {month} {dow}"
    translated, _ = to_cloudflare(cron, "UTC")
    if translated is not None:
        assert cloudflare_year(translated) == unix_year(cron), f"{cron!r} -> {translated!r}"
