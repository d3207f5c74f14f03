"""Cron semantics, intervals, the DST rule on real transitions, and property tests vs an oracle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronflare.catalog.schedule import (
    ScheduleError,
    compile_cron,
    compiled_fires,
    expand_macro,
    fires_between,
    interval_cron,
    is_due,
    never_fires,
    next_fires,
    parse_cron,
)
from tests.cron_oracle import oracle_next


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def fires(cron: str, tz: str, after: datetime, n: int = 3) -> list[datetime]:
    return next_fires(cron, tz, after, n)


# --- Unix/Vixie semantics -------------------------------------------------------------------


def test_day_of_week_1_is_monday_as_in_unix_cron():
    # 2026-11-23 is a Monday.
    assert fires("0 9 * * 1", "UTC", utc(2026, 11, 20)) == [
        utc(2026, 11, 23, 9),
        utc(2026, 11, 30, 9),
        utc(2026, 12, 7, 9),
    ]


@pytest.mark.parametrize("sunday", ["0", "7", "SUN", "sun"])
def test_zero_seven_and_the_name_all_mean_sunday(sunday: str):
    assert fires(f"0 0 * * {sunday}", "UTC", utc(2026, 11, 23), 1) == [utc(2026, 11, 29)]


def test_month_and_day_names():
    assert fires("0 12 * FEB MON-FRI", "UTC", utc(2027, 1, 31), 2) == [
        utc(2027, 2, 1, 12),
        utc(2027, 2, 2, 12),
    ]


@pytest.mark.parametrize(
    ("macro", "cron"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
    ],
)
def test_macros_expand_to_their_cron(macro: str, cron: str):
    assert expand_macro(macro) == cron


def test_unknown_macro_is_an_error():
    with pytest.raises(ScheduleError, match="unknown macro '@reboot'"):
        expand_macro("@reboot")


def test_day_of_month_and_day_of_week_are_ored_when_both_restricted():
    # The 15th, or any Friday: Fri 2026-05-01, Fri 05-08, Fri 05-15 (both), Fri 05-22.
    got = fires("0 0 15 * FRI", "UTC", utc(2026, 4, 30), 5)
    assert got == [utc(2026, 5, d) for d in (1, 8, 15, 22, 29)]
    got = fires("0 0 13 * FRI", "UTC", utc(2026, 5, 9), 2)
    assert got == [utc(2026, 5, 13), utc(2026, 5, 15)]


def test_a_star_step_day_field_keeps_and_semantics_as_vixie_does():
    # Odd days that are also Mondays: 2026-11-23 is not odd... 11-09 and 11-23? 23 is odd.
    got = fires("0 0 */2 * MON", "UTC", utc(2026, 11, 1), 2)
    assert all(t.day % 2 == 1 and t.weekday() == 0 for t in got)


def test_last_day_of_month_including_february_of_a_leap_year():
    got = fires("30 23 L * *", "UTC", utc(2028, 1, 15), 3)
    assert got == [utc(2028, 1, 31, 23, 30), utc(2028, 2, 29, 23, 30), utc(2028, 3, 31, 23, 30)]


def test_last_and_nth_weekday_of_the_month():
    assert fires("0 0 * * 5L", "UTC", utc(2026, 11, 1), 1) == [utc(2026, 11, 27)]
    assert fires("0 0 * * FRI#2", "UTC", utc(2026, 11, 1), 1) == [utc(2026, 11, 13)]


@pytest.mark.parametrize(
    ("cron", "field"),
    [
        ("60 * * * *", "minute field '60'"),
        ("* 24 * * *", "hour field '24'"),
        ("* * 0 * *", "day-of-month field '0'"),
        ("* * * 13 *", "month field '13'"),
        ("* * * * 8", "day-of-week field '8'"),
        ("* * * * MOM", "day-of-week field 'MOM'"),
        ("5-1 * * * *", "minute field '5-1'"),
    ],
)
def test_out_of_range_fields_name_the_field(cron: str, field: str):
    with pytest.raises(ScheduleError, match=f"^{field} is not valid"):
        parse_cron(cron)


def test_wrong_field_count_and_w_are_rejected():
    with pytest.raises(ScheduleError, match="has 6 fields; a cron needs 5"):
        parse_cron("0 0 0 * * *")
    with pytest.raises(ScheduleError, match=r"W \(nearest weekday\) is not supported"):
        parse_cron("0 0 15W * *")


def test_never_fires_detects_impossible_dates_but_not_leap_days():
    assert never_fires("0 0 30 2 *")
    assert never_fires("0 0 31 4,6,9,11 *")
    assert not never_fires("0 0 29 2 *")
    assert fires("0 0 30 2 *", "UTC", utc(2026, 1, 1)) == []
    assert fires("0 0 29 2 *", "UTC", utc(2026, 1, 1), 1) == [utc(2028, 2, 29)]


# --- intervals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("every", "cron"),
    [
        ("1m", "* * * * *"),
        ("5m", "*/5 * * * *"),
        ("15m", "*/15 * * * *"),
        ("30m", "*/30 * * * *"),
        ("60m", "0 * * * *"),
        ("1h", "0 * * * *"),
        ("2h", "0 */2 * * *"),
        ("120m", "0 */2 * * *"),
        ("8h", "0 */8 * * *"),
        ("24h", "0 0 * * *"),
        ("1d", "0 0 * * *"),
    ],
)
def test_intervals_that_divide_an_hour_or_a_day(every: str, cron: str):
    assert interval_cron(every) == cron


@pytest.mark.parametrize(
    ("every", "why"),
    [
        ("7m", "does not divide an hour or a day evenly"),
        ("90m", "does not divide an hour or a day evenly"),
        ("5h", "does not divide an hour or a day evenly"),
        ("2d", "does not divide an hour or a day evenly"),
        ("30s", "finer than a minute"),
        ("0m", "longer than zero"),
        ("soon", "is not a duration"),
    ],
)
def test_intervals_a_minute_tick_cannot_express_say_why(every: str, why: str):
    with pytest.raises(ScheduleError, match=why):
        interval_cron(every)


# --- the DST rule on real transitions ---------------------------------------------------------
# Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
# America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.


def test_a_skipped_wall_time_runs_at_the_first_minute_after_the_gap():
    got = fires("30 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 12), 2)
    assert got == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]  # 03:00 CEST, then 02:30


def test_several_wall_times_in_one_gap_run_once():
    got = fires("0,15,30,45 2 * * *", "America/New_York", utc(2026, 3, 7, 12), 2)
    assert got == [utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 0)]  # 03:00 EDT, then 02:00 EDT


def test_a_repeated_wall_time_runs_once_on_its_first_occurrence():
    got = fires("30 2 * * *", "Europe/Berlin", utc(2026, 10, 24, 12), 2)
    assert got == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]  # 02:30 CEST, then CET


def test_minute_schedules_skip_the_second_pass_through_a_fold():
    got = fires("*/30 * * * *", "America/New_York", utc(2026, 11, 1, 5, 0), 4)
    # 01:00 EDT (05:00Z) is `after`; 01:30 EDT, then the repeated hour 01:00-01:59 EST is skipped.
    assert got == [
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 1, 7, 0),
        utc(2026, 11, 1, 7, 30),
        utc(2026, 11, 1, 8, 0),
    ]


def test_berlin_weekday_digest_keeps_0800_local_across_dst():
    before = fires("0 8 * * MON-FRI", "Europe/Berlin", utc(2026, 3, 26), 1)
    after = fires("0 8 * * MON-FRI", "Europe/Berlin", utc(2026, 3, 29), 1)
    assert before == [utc(2026, 3, 26, 7)] and after == [utc(2026, 3, 30, 6)]


def test_is_due_agrees_with_next_fires():
    assert is_due("30 2 * * *", "Europe/Berlin", utc(2026, 3, 29, 1, 0))
    assert not is_due("30 2 * * *", "Europe/Berlin", utc(2026, 10, 25, 1, 30))
    assert is_due("30 2 * * *", "Europe/Berlin", utc(2026, 10, 25, 0, 30))


# --- property tests against the independent oracle ----------------------------------------

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "America/Santiago",  # DST changes at midnight
    "Asia/Kolkata",  # +05:30, no DST
    "Pacific/Chatham",  # +12:45 / +13:45
]


def _field(values: list[str], lo: int, hi: int) -> st.SearchStrategy[str]:
    single = st.integers(lo, hi).map(str)
    rng = st.tuples(st.integers(lo, hi - 1), st.integers(1, hi - lo)).map(
        lambda ab: f"{ab[0]}-{min(hi, ab[0] + ab[1])}"
    )
    step = st.integers(2, max(2, (hi - lo) // 2)).map(lambda s: f"*/{s}")
    items = st.lists(st.one_of(single, rng), min_size=1, max_size=3).map(",".join)
    return st.one_of(st.just("*"), st.sampled_from(values), items, step)


minutes = _field(["0", "30", "0,15,30,45"], 0, 59)
hours = _field(["2", "1-3", "0"], 0, 23)  # the DST hours are well represented
doms = st.one_of(_field(["1", "L", "29", "31"], 1, 31), st.just("L"))
months = _field(["2", "3,10", "11"], 1, 12)
dows = st.one_of(
    _field(["1-5", "0", "7", "SAT,SUN"], 0, 7),
    st.sampled_from(["5L", "1#1", "0#5", "MON#2"]),
)
crons = st.tuples(minutes, hours, doms, months, dows).map(" ".join)
instants = st.datetimes(
    min_value=datetime(2023, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cron=crons, tz=st.sampled_from(ZONES), after=instants)
def test_next_fires_match_the_oracle(cron: str, tz: str, after: datetime):
    """Our cronsim walk and a minute-by-minute croniter scan agree, DST and leap years too."""
    if never_fires(cron):
        assert fires(cron, tz, after) == []
        return
    ours = fires(cron, tz, after, 3)
    horizon = (ours[-1] - after + timedelta(minutes=2)) if len(ours) == 3 else timedelta(days=800)
    assert oracle_next(cron, tz, after, 3, horizon) == ours


def transitions(tz: str, year: int) -> list[datetime]:
    """The UTC hours of `year` at which `tz` changes its offset."""
    zone = ZoneInfo(tz)
    t, end, out = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC), []
    while t < end:
        if t.astimezone(zone).utcoffset() != (t + timedelta(hours=1)).astimezone(zone).utcoffset():
            out.append(t)
        t += timedelta(hours=1)
    return out


@settings(max_examples=40, deadline=None)
@given(tz=st.sampled_from(ZONES[1:5]), year=st.integers(2023, 2030), hour=st.integers(0, 3))
def test_dst_transition_days_match_the_oracle(tz: str, year: int, hour: int):
    """Start the day before each of the year's transitions, where the rule matters most."""
    for change in transitions(tz, year):
        after = change - timedelta(days=1)
        cron = f"*/20 {hour} * * *"
        ours = fires(cron, tz, after, 9)
        assert oracle_next(cron, tz, after, 9, ours[-1] - after + timedelta(minutes=1)) == ours


def test_fires_between_includes_the_start_and_excludes_the_end():
    """[start, end): a fire at the start minute counts, one at the end does not."""
    fires = fires_between("0 * * * *", "UTC", utc(2026, 11, 23, 9), utc(2026, 11, 23, 12))
    assert fires == [utc(2026, 11, 23, 9), utc(2026, 11, 23, 10), utc(2026, 11, 23, 11)]
    later = fires_between("0 * * * *", "UTC", utc(2026, 11, 23, 9, 0, 30), utc(2026, 11, 23, 11))
    assert later == [utc(2026, 11, 23, 10)]


# --- the compiled form the Worker evaluates ---------------------------------------------------


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cron=crons, tz=st.sampled_from(ZONES), start=instants, days=st.integers(1, 3))
def test_the_compiled_form_fires_exactly_when_cronsim_does(
    cron: str, tz: str, start: datetime, days: int
):
    """Walking UTC minutes with the compiled bits (the Worker's algorithm, in Python) gives the
    very fires of the cronsim walk, DST gaps and folds included, on random windows.
    """
    end = start + timedelta(days=days)
    assert compiled_fires(compile_cron(cron), tz, start, end) == fires_between(cron, tz, start, end)


@settings(max_examples=40, deadline=None)
@given(tz=st.sampled_from(ZONES[1:5]), year=st.integers(2023, 2030), cron=crons)
def test_the_compiled_form_across_each_dst_transition(tz: str, year: int, cron: str):
    """Two days around every transition of the year, where the DST rule decides."""
    compiled = compile_cron(cron)
    for change in transitions(tz, year):
        start, end = change - timedelta(days=1), change + timedelta(days=1)
        assert compiled_fires(compiled, tz, start, end) == fires_between(cron, tz, start, end)


def test_compiled_forms_are_bitmasks_and_day_specs():
    """What the plan carries, readable by eye (docs/SCHEDULES.md)."""
    assert compile_cron("0 9 * * 1") == [1, 0, 1 << 9, 0xFFFFFFFE, 0x1FFE, 1 << 1, 1]
    assert compile_cron("30 23 L * *") == [0, 1, 1 << 23, 0, 0x1FFE, 0x7F, 3]
    assert compile_cron("0 12 1,15 * FRI#2,0L") == [1, 0, 1 << 12, (1 << 1) | (1 << 15), 0x1FFE,
                                                    0, 0, [[0, 0], [5, 2]]]  # fmt: skip
    assert compile_cron("0 0 * * 7") == compile_cron("0 0 * * 0")  # 7 is Sunday too


def test_a_one_value_range_with_a_step_is_refused_as_ambiguous():
    """`5-5/4` is 5 to Vixie cron and 5/4 to cronsim: two engines, two meanings, so neither."""
    with pytest.raises(ScheduleError, match=r"minute '5-5/4': a one-value range with a step"):
        parse_cron("5-5/4 * * * *")
    with pytest.raises(ScheduleError, match=r"hour '1,3-3/2'"):
        parse_cron("0 1,3-3/2 * * *")
    assert parse_cron("5-15/4 * * * *").minutes == frozenset({5, 9, 13})
