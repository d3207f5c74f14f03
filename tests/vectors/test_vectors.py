"""The shared cron vectors: committed, current, and in agreement with the independent oracle."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from tests.cron_oracle import oracle_next
from tests.vectors.generate import (
    PATH,
    RANDOM_PATH,
    SIGNING_PATH,
    render,
    render_random,
    render_signing,
)


def test_the_committed_vectors_are_current():
    assert PATH.read_text() == render(), "run: uv run python -m tests.vectors.generate"
    assert RANDOM_PATH.read_text() == render_random(), (
        "run: uv run python -m tests.vectors.generate"
    )
    assert SIGNING_PATH.read_text() == render_signing(), (
        "run: uv run python -m tests.vectors.generate"
    )


def test_the_vectors_agree_with_the_oracle():
    cases = json.loads(PATH.read_text())["cases"]
    assert len(cases) >= 80
    for case in cases:
        after = datetime.fromisoformat(case["after"].replace("Z", "+00:00"))
        expected = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in case["next"]]
        horizon = expected[-1] - after + timedelta(minutes=1) if expected else timedelta(days=1)
        if horizon > timedelta(days=400):
            continue  # the property tests cover rare dates; scanning decades here is slow
        got = oracle_next(case["cron"], case["timezone"], after, len(expected), horizon)
        assert got == expected, case
