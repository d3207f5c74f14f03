"""Python's cron compiler and the Worker's (worker_src/src/compile.ts) agree on every text: the same
canonical cron and compiled form, or the same refusal word for word. Runtime schedules are
compiled by the Worker, catalog ones by Python, and a user must not be able to tell them apart.

CRONFLARE_COMPILE_EXAMPLES=100000 sizes a one-off long run (2,000 by default).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronflare.catalog.schedule import MACROS
from tests.ts_compile import TsCompiler, py_every, py_schedule

EXAMPLES = int(os.environ.get("CRONFLARE_COMPILE_EXAMPLES", "2000"))
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
LOW, HIGH = (0, 0, 1, 1, 0), (59, 23, 31, 12, 7)
HUGE = ("0" * 4300 + "5", "1" * 4301, "4294967296", "99999999999999999999")


def any_case(words: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(words, st.sampled_from([str.upper, str.lower, str.title])).map(
        lambda t: t[1](t[0])
    )


# Any number: in and out of each field's range, zero-padded, negative-looking, huge.
number = st.one_of(
    st.integers(0, 70).map(str),
    st.integers(0, 9).map(lambda n: f"0{n}"),
    st.sampled_from(["00", "007", "-1", "32", "13", "24", "60", *HUGE]),
)
odd = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
atom = st.one_of(
    number,
    any_case(st.sampled_from([*MONTHS, *DAYS, "JUNE", "SUNDAY", "MO", "XYZ"])),
    st.sampled_from(["*", "L", "W", "LW", "?", "", "#", "/", "-"]),
    odd,
)


def in_field(f: int) -> st.SearchStrategy[str]:
    """Atoms a field takes: its numbers, and names for month and day-of-week."""
    good = st.integers(LOW[f], HIGH[f]).map(str)
    names = {3: MONTHS, 4: DAYS}.get(f)
    return st.one_of(good, good, any_case(st.sampled_from(names))) if names else good


def terms(a: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A comma-free term: a value, range, step, nL, n#k, W, or a one-value range with a step."""
    step = st.one_of(st.integers(0, 40).map(str), number)
    span = st.one_of(a, st.just("*"), st.tuples(a, a).map("-".join))
    return st.one_of(
        a,
        a,
        st.just("*"),
        st.tuples(a, a).map("-".join),
        st.tuples(span, step).map("/".join),
        a.map(lambda x: x + "L"),
        st.tuples(a, st.integers(0, 7).map(str)).map("#".join),
        a.map(lambda x: x + "W"),
        st.tuples(st.integers(0, 60), step).map(lambda t: f"{t[0]}-{t[0]}/{t[1]}"),
        st.tuples(a, odd, a).map("".join),
    )


def valid_terms(f: int) -> st.SearchStrategy[str]:
    """Terms the field takes: values, ranges, steps, and L, nL or n#k where they belong."""
    a = in_field(f)
    low_high = st.tuples(st.integers(LOW[f], HIGH[f]), st.integers(LOW[f], HIGH[f])).map(sorted)
    step = st.integers(1, 40).map(str)
    extra = {
        2: st.sampled_from(["L", "L/3"]),
        4: st.one_of(
            st.tuples(a, st.sampled_from(["L", "#1", "#2", "#5"])).map("".join),
            st.integers(0, 7).map(lambda n: f"{n}L"),
        ),
    }.get(f, a)
    return st.one_of(
        a,
        a,
        st.just("*"),
        low_high.map(lambda t: f"{t[0]}-{t[1]}"),
        st.tuples(st.sampled_from(["*", str(LOW[f]), f"{LOW[f]}-{HIGH[f]}"]), step).map("/".join),
        st.tuples(low_high, step).map(lambda t: f"{t[0][0]}-{t[0][1]}/{t[1]}"),
        st.tuples(a, step).map("/".join),
        extra,
    )


def field(f: int) -> st.SearchStrategy[str]:
    """One to three comma-joined terms: nearly always the field's own, sometimes any atom."""
    good = st.lists(valid_terms(f), min_size=1, max_size=3).map(",".join)
    noisy = st.lists(st.one_of(terms(in_field(f)), terms(atom)), min_size=1, max_size=3)
    return st.integers(0, 11).flatmap(lambda i: noisy.map(",".join) if i == 0 else good)


spaces = st.sampled_from([" ", " ", " ", "  ", "   "])


def _join(t: tuple[list[str], list[str], str, str]) -> str:
    fields, seps, lead, tail = t
    return lead + "".join((seps[i] if i else "") + f for i, f in enumerate(fields)) + tail


def joined(fields: st.SearchStrategy[list[str]]) -> st.SearchStrategy[str]:
    """Fields with one to three spaces between them, and sometimes before or after."""
    ends = st.sampled_from(["", "", "", " ", "  "])
    return st.tuples(fields, st.lists(spaces, min_size=8, max_size=8), ends, ends).map(_join)


five = joined(st.tuples(*(field(f) for f in range(5))).map(list))
odd_crons = st.one_of(
    joined(st.lists(field(0), min_size=0, max_size=7)),
    any_case(st.sampled_from([*MACROS, "@reboot", "@every", "@", "@5m", "@daily x", "@ daily"])),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
    st.tuples(st.sampled_from(["0 9 * * 1", "@daily"]), st.text(max_size=3)).map("".join),
)
# Three in four have five fields; the rest: other counts, macros, any text.
crons = st.integers(0, 3).flatmap(lambda i: odd_crons if i == 0 else five)

unit = st.sampled_from("smhdSMHD" * 3 + "xyw")
good_every = st.one_of(
    st.sampled_from([1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 90, 120, 180, 480, 1440]).map(
        lambda m: f"{m}m"
    ),
    st.integers(1, 25).map(lambda h: f"{h}h"),
    st.integers(0, 3).map(lambda d: f"{d}d"),
    st.integers(0, 200).map(lambda m: f"{m * 60}"),
)
everys = st.one_of(
    good_every,
    good_every,
    st.lists(st.tuples(number, unit, st.sampled_from(["", "", " "])).map("".join), max_size=3).map(
        "".join
    ),
    st.tuples(spaces, good_every, spaces).map("".join),
    st.sampled_from(["9" * 4300 + "d" + "9" * 4300 + "d", "0" * 4301, "0" * 4300 + "60", "1h-5m"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=8),
    st.text(max_size=4),
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=st.one_of(crons.map(lambda t: ("schedule", t)), everys.map(lambda t: ("every", t))))
def test_python_and_the_worker_compile_every_text_alike(
    ts_compiler: TsCompiler, case: tuple[str, str]
):
    kind, text = case
    python = py_schedule(text) if kind == "schedule" else py_every(text)
    assert ts_compiler.ask({kind: text}) == python


def test_the_worker_refuses_what_python_refuses_with_its_words(ts_compiler: TsCompiler):
    for text in [
        "0 9 * * 1\t",
        "0 9 * * ١",
        "5-5/2 * * * *",
        "0 0 LW * *",
        "0 0 L,5 * *",
        "0 0 * * 8",
        "@Reboot",
        "1 2 3",
        "it's",
        'say "x" \\ it\'s',
    ]:
        assert "error" in py_schedule(text), text
        assert ts_compiler.schedule(text) == py_schedule(text), text
    for text in ["7m", "30s", "0m", "soon", "15m\n", "9" * 4300 + "d" + "9" * 4300 + "d"]:
        assert "error" in py_every(text), text
        assert ts_compiler.every(text) == py_every(text), text
