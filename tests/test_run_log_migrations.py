"""The run log's migrations on real SQLite (D1's engine): 0008 upgrades a log and loses no run."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

MIGRATIONS = Path(__file__).resolve().parents[1] / "worker_src" / "migrations"
# The columns every reader of the log selects (worker_src/src/runs.ts RUN).
RUN = (
    "execution_id, job, scheduled_time, trigger, status, attempts, call_id, last_error,"
    " updated_at, started_at, finished_at, args, result"
)


def migrated(upto: str | None = None) -> sqlite3.Connection:
    """An in-memory database with the migrations up to `upto` (inclusive), or all of them."""
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    apply(db, upto=upto)
    return db


def apply(db: sqlite3.Connection, *, upto: str | None = None, start: str = "") -> None:
    """Run the migration files named from `start` to `upto`, in order."""
    for path in sorted(MIGRATIONS.glob("*.sql")):
        if path.name >= start and (upto is None or path.name[:4] <= upto):
            db.executescript(path.read_text())


OLD_RUNS = [
    # id, status, trigger, scheduled, updated, started, finished, call id, error, args, result
    (
        "nightly@2026-11-23T09:00Z",
        "succeeded",
        "cron",
        "2026-11-23T09:00:00.000Z",
        "2026-11-23T09:00:04.567Z",
        "2026-11-23T09:00:01.250Z",
        "2026-11-23T09:00:04.567Z",
        "fc-1",
        None,
        None,
        "ok",
    ),
    (
        "nightly@2026-11-23T09:01Z",
        "failed",
        "cron",
        "2026-11-23T09:01:00.000Z",
        "2026-11-23T09:01:09.001Z",
        "2026-11-23T09:01:02.999Z",
        "2026-11-23T09:01:09.001Z",
        "fc-2",
        "exit code 1",
        '{"day":"mon"}',
        None,
    ),
    (
        "report@schedule-7@2026-11-23T09:02Z",
        "running",
        "cron",
        "2026-11-23T09:02:00.000Z",
        "2026-11-23T09:02:03.100Z",
        "2026-11-23T09:02:03.100Z",
        None,
        "fc-3",
        None,
        None,
        None,
    ),
    (
        "nightly@2026-11-23T09:03:17Z-manual-0123456789ab",
        "queued",
        "manual",
        "2026-11-23T09:03:17.000Z",
        "2026-11-23T09:03:17.004Z",
        None,
        None,
        None,
        None,
        None,
        None,
    ),
    (
        "nightly@2026-08-01T00:00Z",
        "dispatched",
        "replay",
        "2026-08-01T00:00:00.000Z",
        "2026-11-23T09:04:00.321Z",
        None,
        None,
        None,
        None,
        None,
        None,
    ),
    (
        "nightly@2026-11-23T09:05Z",
        "skipped",
        "catchup",
        "2026-11-23T09:05:00.000Z",
        "2026-11-23T09:06:00.000Z",
        None,
        "2026-11-23T09:06:00.000Z",
        None,
        "missed",
        None,
        None,
    ),
    (
        "nightly@2026-11-23T09:06Z",
        "dead",
        "cron",
        "2026-11-23T09:06:00.000Z",
        "2026-11-23T09:16:00.999Z",
        None,
        "2026-11-23T09:16:00.999Z",
        None,
        "503",
        None,
        None,
    ),
]


def old_log() -> sqlite3.Connection:
    """A log at migration 0007 holding runs of every status, as the Worker wrote them then."""
    db = migrated("0007")
    for run in OLD_RUNS:
        db.execute(
            "INSERT INTO runs (execution_id, status, trigger, scheduled_time, updated_at,"
            " started_at, finished_at, call_id, last_error, args, result, job)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*run, run[0].split("@")[0]),
        )
    db.execute(
        "INSERT OR REPLACE INTO counters (name, n) VALUES ('runs:created', 7), ('runs:failed', 1)"
    )
    return db


def test_0008_moves_runs_in_flight_and_in_trouble_with_every_field_as_it_was():
    """Every run but the succeeded ones moves, and reads back field for field, to the ms."""
    db = old_log()
    before = {r["execution_id"]: dict(r) for r in db.execute(f"SELECT {RUN} FROM runs")}
    apply(db, start="0008")
    after = {r["execution_id"]: dict(r) for r in db.execute(f"SELECT {RUN} FROM runs")}
    moved = {i: r for i, r in before.items() if r["status"] != "succeeded"}
    assert after == moved
    assert after["report@schedule-7@2026-11-23T09:02Z"]["job"] == "report"


def test_0008_leaves_succeeded_runs_aside_for_pruning_and_keeps_the_counts():
    """Succeeded runs stay in runs_before_0008, with its time index; counters are untouched."""
    db = old_log()
    counters = db.execute("SELECT name, n FROM counters ORDER BY name").fetchall()
    apply(db, start="0008")
    aside = db.execute("SELECT execution_id FROM runs_before_0008 INDEXED BY runs_by_time")
    assert [r[0] for r in aside] == ["nightly@2026-11-23T09:00Z"]
    assert db.execute("SELECT name, n FROM counters ORDER BY name").fetchall() == counters


def test_0008_keeps_counting_ends_and_queueing_alerts():
    """The runs_end trigger is back on the new table: an end is counted and its alert queued."""
    db = old_log()
    apply(db, start="0008")
    db.execute(
        "UPDATE runs SET status = 'failed', last_error = 'x', updated_after = 60000"
        " WHERE execution_id = 'report@schedule-7@2026-11-23T09:02Z'"
    )
    outbox = db.execute("SELECT job, execution_id, status, error, at FROM alert_outbox")
    assert [tuple(r) for r in outbox] == [
        ("report", "report@schedule-7@2026-11-23T09:02Z", "failed", "x", "2026-11-23T09:03:00.000Z")
    ]
    counts = dict(db.execute("SELECT name, n FROM counters").fetchall())
    assert counts["runs:failed"] == 2


@given(
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 30)),
    st.integers(min_value=0, max_value=400 * 86_400_000),
)
def test_computed_times_are_iso_utc_to_the_millisecond(when: datetime, after: int):
    """scheduled_time and updated_at read back as toISOString() would write them."""
    ms = (when.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    if ms + after >= 253402300800000:  # past 9999-12-31: toISOString() writes +010000
        return
    db = migrated()
    db.execute(
        "INSERT INTO runs (execution_id, scheduled_ms, trigger, status, updated_after)"
        " VALUES ('j@x', ?, 'cron', 'queued', ?)",
        (ms, after),
    )
    row = db.execute("SELECT scheduled_time, updated_at, started_at FROM runs").fetchone()

    def iso(t: int) -> str:
        return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=t)).strftime(
            "%Y-%m-%dT%H:%M:%S.%f"
        )[:-3] + "Z"

    assert tuple(row) == (iso(ms), iso(ms + after), None)
