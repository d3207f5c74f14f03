"""Write tests/vectors/cron.json: fire times computed by jobs/schedule.py, for the Worker to match.

Run `uv run python -m tests.vectors.generate` after changing schedule semantics; a test fails
while the committed file and this generator disagree.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from jobs.catalog import CATALOG
from jobs.schedule import next_fires
from jobs.validate import resolve

PATH = Path(__file__).with_name("cron.json")
COUNT = 6
STARTS = [
    "2026-03-27T00:00:00Z",  # Europe's spring-forward weekend
    "2026-10-24T00:00:00Z",  # Europe's fall-back weekend
    "2026-10-31T12:00:00Z",  # America's fall-back
    "2028-02-27T00:00:00Z",  # a leap February
]
EXTRA = [
    ("30 2 * * *", "Europe/Berlin"),
    ("0,15,30,45 2 * * *", "America/New_York"),
    ("*/30 * * * *", "America/New_York"),
    ("*/20 2 * * *", "Australia/Lord_Howe"),
    ("0 0 * * *", "America/Santiago"),
    ("0 0 13 * FRI", "UTC"),
    ("0 0 */2 * MON", "UTC"),
    ("0 0 15 * 0-6", "UTC"),
    ("0 12 * * 5L", "UTC"),
    ("0 12 * * FRI#2", "Europe/Berlin"),
    ("0 0 29 2 *", "UTC"),
    ("0 9 * * 7", "UTC"),
    ("0 9 * * SUN,SAT", "Asia/Kolkata"),
    ("45 23 L * *", "Pacific/Chatham"),
]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def vectors() -> dict:
    """Every (cron, timezone) case with its next fire times after each start instant."""
    cases = sorted({(j.cron, j.timezone) for j in resolve(CATALOG).jobs} | set(EXTRA))
    out = []
    for cron, tz in cases:
        for start in STARTS:
            after = datetime.fromisoformat(start.replace("Z", "+00:00"))
            out.append(
                {
                    "cron": cron,
                    "timezone": tz,
                    "after": start,
                    "next": [_iso(t) for t in next_fires(cron, tz, after, COUNT)],
                }
            )
    return {
        "about": "UTC fire times strictly after `after`, from tests/vectors/generate.py",
        "rule": "skipped wall times run at the first minute after the gap; repeated ones run once, "
        "on their first occurrence; day-of-month and day-of-week are ORed unless either starts "
        "with '*'",
        "cases": out,
    }


def render() -> str:
    """The file's exact text."""
    return json.dumps(vectors(), indent=1) + "\n"


if __name__ == "__main__":
    PATH.write_text(render())
    print(f"wrote {PATH} ({len(vectors()['cases'])} cases)")
