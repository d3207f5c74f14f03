"""Every day-two command against the real local stack (workerd + dispatcher), one stack for all.

Each test makes the runs it looks at and waits for those runs only, so the tests share the stack
in any order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from cronflare import cli, remote
from cronflare.local.stack import TERMINAL, LocalStack
from cronflare.plan import plan
from cronflare.settings import local_settings
from tests.fixtures.e2e_catalog import ON_DEMAND

runner = CliRunner()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    settings = local_settings(retry_max_delay_seconds=1, queue_max_retries=3)
    p = plan(ON_DEMAND, settings)
    with LocalStack(p, catalog="tests.fixtures.e2e_catalog:ON_DEMAND",
                    state_dir=tmp_path_factory.mktemp("stack")) as s:  # fmt: skip
        yield s


def cronflare(stack: LocalStack, *args: str, token: str | None = None):
    """Run the CLI against the stack's Worker with --url and the token in the environment."""
    env = {remote.TOKEN_ENV: token or stack.admin_token}
    r = runner.invoke(cli.app, [*args, "--url", stack.worker_url], env=env)
    assert stack.admin_token not in r.output + r.stderr
    return r


def json_of(stack: LocalStack, *args: str) -> dict:
    r = cronflare(stack, *args, "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def wait_for(condition: Callable[[], bool], timeout: float = 120) -> None:
    """Poll until `condition()` holds; the timeout only bounds a failing test."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)


def ended(stack: LocalStack, *ids: str) -> dict[str, dict]:
    """Wait until each of these runs is in a terminal status; return them by id."""

    def rows() -> dict[str, dict]:
        return {r["execution_id"]: r for r in stack.runs() if r["execution_id"] in ids}

    wait_for(lambda: len(got := rows()) == len(ids) and all(
        r["status"] in TERMINAL for r in got.values()))  # fmt: skip
    return rows()


def test_status_lists_every_job_with_next_runs_and_the_skew_check(stack: LocalStack):
    """`status` shows the plan's jobs in order, each with its next runs, and the skew verdict."""
    data = json_of(stack, "status")
    assert [j["name"] for j in data["jobs"]] == [j.name for j in ON_DEMAND.jobs]
    assert all(len(j["next"]) == 3 for j in data["jobs"])
    assert data["skew"]["status"] in ("in sync", "out of sync", "unchecked", "check failed")
    r = cronflare(stack, "status")
    assert r.exit_code == 0, r.stderr
    assert f"{len(ON_DEMAND.jobs)} jobs at {stack.worker_url}" in r.stdout
    assert "Worker and Modal catalogs: " in r.stdout


def test_run_with_args_then_runs_finds_it_succeeded(stack: LocalStack):
    """A run's own --args reach the job, and `runs` filters by job, status and limit."""
    queued = json_of(stack, "run", "echo", "--args", '{"greeting": "hi"}')
    run_id = queued["execution_id"]
    assert queued["status"] == "queued" and run_id.startswith("echo@") and "Z-manual-" in run_id
    assert ended(stack, run_id)[run_id]["status"] == "succeeded"
    found = json_of(stack, "runs", "--job", "echo", "--status", "succeeded", "--limit", "500")
    [run] = [r for r in found["runs"] if r["execution_id"] == run_id]
    assert json.loads(run["args"]) == {"greeting": "hi"}
    assert json.loads(run["result"]) == {"args": {"greeting": "hi"}}
    assert {r["job"] for r in found["runs"]} == {"echo"}
    assert {r["status"] for r in found["runs"]} == {"succeeded"}
    assert len(json_of(stack, "runs", "--limit", "1")["runs"]) == 1
    table = cronflare(stack, "runs", "--job", "echo")
    assert table.exit_code == 0 and run_id[:20] in table.stdout


def test_pause_refuses_runs_until_resume(stack: LocalStack):
    """A paused job shows its reason and refuses a manual run (exit 1) until it is resumed."""
    r = cronflare(stack, "pause", "minutely", "--reason", "db migration")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("minutely paused since ") and r.stdout.strip().endswith(
        ": db migration"
    )
    try:
        jobs = {j["name"]: j for j in json_of(stack, "status")["jobs"]}
        assert jobs["minutely"]["paused"]["reason"] == "db migration"
        assert jobs["hourly"]["paused"] is None
        refused = cronflare(stack, "run", "minutely")
        assert refused.exit_code == 1 and "paused" in refused.stderr and refused.stdout == ""
        again = cronflare(stack, "pause", "minutely")
        assert again.exit_code == 0 and "minutely was already paused since" in again.stdout
    finally:
        resumed = cronflare(stack, "resume", "minutely")
    assert (resumed.exit_code, resumed.stdout.strip()) == (0, "minutely resumed")
    assert cronflare(stack, "resume", "minutely").stdout.strip() == "minutely was not paused"
    assert json_of(stack, "run", "minutely")["status"] == "queued"


def test_replay_runs_what_a_pause_skipped_and_refuses_the_rest(stack: LocalStack):
    """A skipped run replays under its id once its job is resumed; a paused job's, a succeeded
    or an unknown run is refused with exit 1.
    """
    assert cronflare(stack, "pause", "hourly", "--reason", "replay test").exit_code == 0
    try:
        stack.scheduled(int(datetime(2026, 11, 23, 9, 0, tzinfo=UTC).timestamp() * 1000))
        skipped, ran = "hourly@2026-11-23T09:00Z", "minutely@2026-11-23T09:00Z"
        runs = ended(stack, skipped, ran)
        assert (runs[skipped]["status"], runs[skipped]["last_error"]) == (
            "skipped", "paused: replay test")  # fmt: skip
        assert runs[ran]["status"] == "succeeded"
        r = cronflare(stack, "replay", skipped)
        assert r.exit_code == 1 and "paused: replay test" in r.stderr
    finally:
        assert cronflare(stack, "resume", "hourly").exit_code == 0
    r = cronflare(stack, "replay", skipped)
    assert (r.exit_code, r.stdout.strip()) == (0, f"queued again: {skipped}")
    replayed = ended(stack, skipped)[skipped]
    assert (replayed["trigger"], replayed["status"]) == ("replay", "succeeded")
    r = cronflare(stack, "replay", ran)
    assert r.exit_code == 1 and "this one is succeeded" in r.stderr and r.stdout == ""
    r = cronflare(stack, "replay", "echo@2026-11-23T09:00Z")
    assert (r.exit_code, r.stderr.strip()) == (1, "cronflare: no such run: echo@2026-11-23T09:00Z")


def test_backfill_creates_each_missed_run_once(stack: LocalStack):
    """Each scheduled minute of a past window runs once; a repeat queues nothing new."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start, end = hour - timedelta(hours=3), hour - timedelta(hours=1)
    window = ["--from", start.isoformat(), "--to", end.isoformat()]
    ids = [f"hourly@{(start + timedelta(hours=h)).strftime('%Y-%m-%dT%H:%MZ')}" for h in (0, 1)]
    assert json_of(stack, "backfill", "hourly", *window) == {
        "enqueued": 2, "existing": 0, "ids": ids}  # fmt: skip
    runs = ended(stack, *ids)
    assert {(r["trigger"], r["status"]) for r in runs.values()} == {("backfill", "succeeded")}
    again = cronflare(stack, "backfill", "hourly", *window)
    assert again.exit_code == 0, again.stderr
    assert "2 runs from" in again.stdout and "0 queued, 2 already in the run log" in again.stdout
    future = ["--from", start.isoformat(), "--to", (hour + timedelta(days=1)).isoformat()]
    r = cronflare(stack, "backfill", "hourly", *future)
    assert r.exit_code == 1 and "in the future" in r.stderr and r.stdout == ""


def test_a_wrong_token_or_an_unknown_job_is_refused_with_exit_1(stack: LocalStack):
    """The real Worker's 401 and 404 read as the CLI promises."""
    r = cronflare(stack, "status", token="not-the-token")
    assert r.exit_code == 1 and "the Worker refused the admin token (401)" in r.stderr
    for command in ("run", "pause", "resume"):
        r = cronflare(stack, command, "nope")
        assert (r.exit_code, r.stderr.strip()) == (1, "cronflare: no such job: nope"), command
    r = cronflare(stack, "backfill", "nope", "--from", "2026-11-01", "--to", "2026-11-02")
    assert (r.exit_code, r.stderr.strip()) == (1, "cronflare: no such job: nope")
    r = cronflare(stack, "runs", "--job", "nope")
    assert (r.exit_code, r.stderr.strip(), r.stdout) == (1, "cronflare: no such job: nope", "")
