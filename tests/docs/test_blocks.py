"""The transcript rules themselves (tests/docs/test_transcripts.py's docstring), on small cases."""

from __future__ import annotations

from pytest_examples import CodeExample

from tests import ROOT
from tests.docs.blocks import commands, output_matches, split_comment

PRINTED = """ok: 3 jobs
┃ job    ┃
│ one    │
│ two    │
│ three  │
next: 2026-11-30T09:00:00Z (hash 8705bc77b6bf)
"""


def test_exact_output_matches_trailing_spaces_and_blank_lines_aside():
    shown = ("ok: 3 jobs   ", "┃ job    ┃", "│ one    │", "│ two    │", "│ three  │",
             "next: 2026-11-30T09:00:00Z (hash 8705bc77b6bf)", "")  # fmt: skip
    assert output_matches(shown, PRINTED + "\n\n", subset=False)
    assert not output_matches(shown[:-2], PRINTED, subset=False), "a line left out"
    assert not output_matches(("ok: 4 jobs", *shown[1:]), PRINTED, subset=False)


def test_placeholders_and_ellipses_match_within_a_line():
    for last in ("next: <time> (hash <hash>)", "next: … (hash …)", "next: ...", "next: <id> …"):
        assert output_matches(("ok: 3 jobs", "…", last), PRINTED, subset=False), last
    assert not output_matches(("…", "next: <hash> (hash <hash>)"), PRINTED, subset=False)


def test_an_ellipsis_line_stands_for_any_number_of_lines():
    for gap in ("…", "...", "  - … (three more)", "... (the table)"):
        assert output_matches(("ok: 3 jobs", gap, "│ three  │", "next: …"), PRINTED, False), gap
        assert output_matches(("ok: 3 jobs", gap, "┃ job    ┃", "│ one    │", "│ two    │",
                               "│ three  │", "next: …"), PRINTED, False), "none"  # fmt: skip
    assert not output_matches(("ok: 3 jobs", "…", "│ four   │", "next: …"), PRINTED, False)


def test_a_subset_needs_the_lines_shown_in_order_only():
    assert output_matches(("ok: 3 jobs", "│ two    │"), PRINTED, subset=True)
    assert output_matches(("│ three  │",), PRINTED, subset=True)
    assert not output_matches(("│ two    │", "│ one    │"), PRINTED, subset=True), "order"
    assert not output_matches(("│ four   │",), PRINTED, subset=True)


def test_a_command_line_splits_like_a_shell_and_keeps_its_comment():
    assert split_comment("uv run cronflare check   # three of 14 rows shown") == (
        "uv run cronflare check",
        "three of 14 rows shown",
    )
    assert split_comment("uv run cronflare next '5#2' --json") == (
        "uv run cronflare next '5#2' --json",
        "",
    )
    example = CodeExample.create(
        "$ uv run cronflare check  # all shown\nok\n$ uv run cronflare plan --json\n",
        path=ROOT / "README.md",
        start_line=10,
    )
    first, second = commands(example)
    assert first.argv == ("uv", "run", "cronflare", "check") and first.comment == "all shown"
    assert first.shown == ("ok",) and first.line == 11
    assert second.argv[3:] == ("plan", "--json") and second.shown == ()
