"""Every handler of the example catalog does its small real work when run with a RunContext."""

from __future__ import annotations

import hashlib
import importlib
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cronflare.catalog.validate import resolve
from cronflare.runtime.context import RunContext
from jobs.catalog import CATALOG

JOBS = resolve(CATALOG).jobs
BY_NAME = {j.name: j for j in JOBS}


def call(handler: str, ctx: RunContext) -> dict:
    module, _, name = handler.partition(":")
    return getattr(importlib.import_module(module), name)(ctx)


def context(name: str, when: datetime, **args: object) -> RunContext:
    """The context the wrapper gives a run of the catalog job `name`: its args and volumes."""
    job = BY_NAME[name]
    return RunContext(execution_id=f"{name}@{when:%Y-%m-%dT%H:%MZ}", job=name,
                      scheduled_time=when, args={**job.args, **args},
                      volumes=job.volumes)  # fmt: skip


@pytest.fixture(autouse=True)
def output_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRONFLARE_OUTPUT_DIR", str(tmp_path / "output"))
    monkeypatch.setenv("CRONFLARE_VOLUME_ROOT", str(tmp_path / "volumes"))
    return tmp_path / "output"


@pytest.mark.parametrize("job", JOBS, ids=lambda j: j.name)
def test_each_handler_runs_and_returns_a_json_summary(job):
    ctx = context(job.name, datetime(2026, 11, 30, 9, tzinfo=UTC))
    if job.handler:
        summary = call(job.handler, ctx)
    else:  # a target job: its local stand-in takes the args as keyword arguments
        assert job.stand_in, job.name
        module, _, name = job.stand_in.partition(":")
        summary = getattr(importlib.import_module(module), name)(**ctx.args)
    json.dumps(summary)  # JSON-able, as the completion callback will carry it
    assert isinstance(summary, dict) and summary


def test_the_weekly_report_sums_the_daily_analytics(output_dir: Path):
    for day in range(23, 30):
        when = datetime(2026, 11, day, 6, tzinfo=UTC)
        call(
            "jobs.handlers.analytics:daily_sync",
            RunContext(execution_id=f"d@{day}", job="daily-analytics-sync", scheduled_time=when),
        )
    ctx = context("weekly-report", datetime(2026, 11, 30, 9, tzinfo=UTC))
    summary = call("jobs.handlers.reports:weekly_report", ctx)
    assert summary["days"] == 7 and summary["views"] == 7 * 5000
    text = Path(summary["file"]).read_text()
    assert text.splitlines()[0].strip() == "Weekly report for the week ending 2026-11-30"
    rows = {line.split("│")[1].strip(): int(line.split("│")[2]) for line in text.splitlines()
            if line.startswith("│")}  # fmt: skip
    assert sum(rows.values()) == 7 * 5000 and "/" in rows


def test_the_cache_warms_up_to_the_limit_in_its_args():
    when = datetime(2026, 11, 30, 9, tzinfo=UTC)
    assert call("jobs.handlers.ops:warm_cache", context("cache-warm", when))["primes"] == 2262
    small = call("jobs.handlers.ops:warm_cache", context("cache-warm", when, limit=100))
    assert small["primes"] == 25


def test_the_backup_checksum_matches_the_archive(output_dir: Path):
    call(
        "jobs.handlers.ops:monitor",
        RunContext(
            execution_id="m", job="monitoring", scheduled_time=datetime(2026, 1, 1, tzinfo=UTC)
        ),
    )
    summary = call(
        "jobs.handlers.ops:backup", context("nightly-backup", datetime(2026, 1, 1, 1, tzinfo=UTC))
    )

    archive = output_dir.parent / "volumes" / "cronflare-backups" / summary["archive"]
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == summary["sha256"]
    assert Path(f"{archive}.sha256").read_text().split()[0] == summary["sha256"]
    with tarfile.open(archive) as tar:
        assert tar.getnames() == ["monitoring", "monitoring/samples.csv"]


def test_the_backup_keeps_only_the_last_archives_on_its_volume(output_dir: Path):
    runs = [
        call("jobs.handlers.ops:backup",
             context("nightly-backup", datetime(2026, 1, day, 1, tzinfo=UTC), keep=2))
        for day in range(1, 5)
    ]  # fmt: skip
    kept = sorted(p.name for p in (output_dir.parent / "volumes" / "cronflare-backups").iterdir())
    assert kept == [
        "backup-20260103T0100Z.tar.gz",
        "backup-20260103T0100Z.tar.gz.sha256",
        "backup-20260104T0100Z.tar.gz",
        "backup-20260104T0100Z.tar.gz.sha256",
    ]
    assert [r["pruned"] for r in runs] == [0, 0, 1, 1]


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
