"""Every handler of the example catalog does its small real work when run with a RunContext."""

from __future__ import annotations

import hashlib
import importlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cronflare.catalog.validate import resolve
from cronflare.runtime.context import RunContext
from jobs.catalog import CATALOG

JOBS = resolve(CATALOG).jobs


def call(handler: str, ctx: RunContext) -> dict:
    module, _, name = handler.partition(":")
    return getattr(importlib.import_module(module), name)(ctx)


@pytest.fixture(autouse=True)
def output_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRONFLARE_OUTPUT_DIR", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("job", JOBS, ids=lambda j: j.name)
def test_each_handler_runs_and_returns_a_json_summary(job):
    when = datetime(2026, 11, 30, 9, tzinfo=UTC)
    ctx = RunContext(
        execution_id=f"{job.name}@2026-11-30T09:00Z", job=job.name, scheduled_time=when
    )
    summary = call(job.handler, ctx)
    json.dumps(summary)  # JSON-able, as the completion callback will carry it
    assert isinstance(summary, dict) and summary


def test_the_weekly_report_sums_the_daily_analytics(output_dir: Path):
    for day in range(23, 30):
        when = datetime(2026, 11, day, 6, tzinfo=UTC)
        call(
            "jobs.handlers.analytics:daily_sync",
            RunContext(execution_id=f"d@{day}", job="daily-analytics-sync", scheduled_time=when),
        )
    ctx = RunContext(
        execution_id="w", job="weekly-report", scheduled_time=datetime(2026, 11, 30, 9, tzinfo=UTC)
    )
    summary = call("jobs.handlers.reports:weekly_report", ctx)
    assert summary["days"] == 7 and summary["views"] == 7 * 5000
    assert (
        Path(summary["file"])
        .read_text()
        .startswith("# Weekly report for the week ending 2026-11-30")
    )


def test_the_backup_checksum_matches_the_archive(output_dir: Path):
    call(
        "jobs.handlers.ops:monitor",
        RunContext(
            execution_id="m", job="monitoring", scheduled_time=datetime(2026, 1, 1, tzinfo=UTC)
        ),
    )
    summary = call(
        "jobs.handlers.ops:backup",
        RunContext(
            execution_id="b",
            job="nightly-backup",
            scheduled_time=datetime(2026, 1, 1, 1, tzinfo=UTC),
        ),
    )

    archive = Path(summary["archive"])
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == summary["sha256"]
    assert Path(f"{archive}.sha256").read_text().split()[0] == summary["sha256"]


def test_a_replayed_sync_does_not_merge_twice(output_dir: Path):
    ctx = RunContext(
        execution_id="bi-hourly-sync@2026-11-30T10:00Z",
        job="bi-hourly-sync",
        scheduled_time=datetime(2026, 11, 30, 10, tzinfo=UTC),
    )
    first = call("jobs.handlers.analytics:bi_hourly_sync", ctx)
    second = call("jobs.handlers.analytics:bi_hourly_sync", ctx)
    assert (first["replayed"], second["replayed"]) == (False, True)
    assert len(Path(first["ledger"]).read_text().splitlines()) == 1
