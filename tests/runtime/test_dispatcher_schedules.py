"""Runtime schedules at the dispatcher: `job@schedule` batch entries, concurrency per schedule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cronflare.runtime.dispatcher import concurrency_key, create_app
from cronflare.runtime.store import SqliteStore
from cronflare.runtime.wrapper import catalog_jobs
from tests.conftest import FakeExecutor
from tests.runtime.test_dispatcher import KEY, NEXT, body, post
from tests.runtime.test_wrapper import wait_for
from tests.signed import dispatch_headers

MINUTE = "2026-11-23T09:00Z"


@pytest.fixture
def client(test_catalog, fake_executor: FakeExecutor, tmp_path: Path) -> TestClient:
    store = SqliteStore(tmp_path / "store.sqlite3")
    return TestClient(create_app(fake_executor, [KEY, NEXT], store, catalog_jobs()))


def run(entry: str, minute: str = MINUTE, **over) -> dict:
    """A lone /dispatch body for a run of `entry` (a job, or `job@schedule`)."""
    return body(job=entry.split("@")[0], execution_id=f"{entry}@{minute}", **over)


def post_minute(client: TestClient, entries: list[str], minute: str = MINUTE, **extra):
    """One minute of a batch, as the Worker sends it: the shared suffix, then the entries."""
    shared = {"scheduled_time": "2026-11-23T09:00:00Z", "trigger": "cron", "attempt": 1}
    data = {"suffix": f"@{minute}", **shared, "jobs": entries, **extra}
    raw = json.dumps({"callback": "http://127.0.0.1:9/runs/", "minutes": [data]})
    headers = dispatch_headers(KEY, raw, url="http://testserver/dispatch/batch")
    return client.post("/dispatch/batch", content=raw, headers=headers)


def statuses(res) -> list[str]:
    assert res.status_code == 200, res.text
    [minute] = res.json()["minutes"]
    return minute["statuses"]


@pytest.mark.parametrize(
    ("execution_id", "key"),
    [
        ("job@2026-11-23T09:00Z", "job"),
        ("job@2026-11-23T09:00:07Z-manual-0123456789ab", "job"),
        ("job@s-0123@2026-11-23T09:00Z", "job@s-0123"),
        ("job@nightly.v2_x@2026-11-23T09:00Z", "job@nightly.v2_x"),
    ],
)
def test_the_concurrency_key_is_the_job_or_the_runtime_schedule(execution_id, key):
    assert concurrency_key(execution_id, "job") == key


def test_a_batch_entry_names_a_runtime_schedules_run(client, fake_executor):
    res = post_minute(client, ["quick@s1", "quick"])
    assert statuses(res) == ["spawned", "spawned"]
    # Different concurrency keys are spawned at once, so in either order.
    spawned = sorted(fake_executor.spawned, key=lambda s: s[1]["execution_id"], reverse=True)
    [(job, payload), (other, plain)] = spawned
    assert (job, other) == ("quick", "quick")
    assert payload["execution_id"] == "quick@s1@2026-11-23T09:00Z" and payload["job"] == "quick"
    assert payload["callback_url"] == "http://127.0.0.1:9/runs/quick%40s1%402026-11-23T09%3A00Z"
    assert plain["execution_id"] == "quick@2026-11-23T09:00Z"


def test_a_batchs_args_are_keyed_by_entry(client, fake_executor):
    res = post_minute(client, ["echo@a", "echo@b", "echo"], args={"echo@a": {"n": 1}})
    assert statuses(res) == ["spawned", "spawned", "spawned"]
    args = {p["execution_id"]: p.get("args") for _, p in fake_executor.spawned}
    assert args == {
        "echo@a@2026-11-23T09:00Z": {"n": 1},
        "echo@b@2026-11-23T09:00Z": None,
        "echo@2026-11-23T09:00Z": None,
    }


@pytest.mark.parametrize("entry", ["Quick@s1", "quick@s/1", "quick@", "quick@-s", "quick@a@b"])
def test_a_batch_entry_outside_the_pattern_is_a_422(client, fake_executor, entry):
    assert post_minute(client, [entry]).status_code == 422
    assert fake_executor.spawned == []


def test_two_schedules_of_a_forbid_job_both_spawn(client, fake_executor):
    assert statuses(post_minute(client, ["slow-forbid@s1", "slow-forbid@s2"])) == [
        "spawned",
        "spawned",
    ]
    assert len(fake_executor.running) == 2


def test_the_same_schedule_again_while_it_runs_is_skipped(client, fake_executor):
    assert post(client, run("slow-forbid@s1")).json()["status"] == "spawned"
    later = run("slow-forbid@s1", minute="2026-11-23T09:01Z")
    assert post(client, later).json()["status"] == "skipped"
    assert post(client, run("slow-forbid@s2", minute="2026-11-23T09:01Z")).json()["status"] == (
        "spawned"
    )
    fake_executor.running.clear()
    again = run("slow-forbid@s1", minute="2026-11-23T09:02Z")
    assert post(client, again).json()["status"] == "spawned"


def test_in_one_batch_a_schedules_minutes_go_in_order_so_forbid_sees_them(client, fake_executor):
    minutes = [
        {"suffix": f"@2026-11-23T09:0{i}Z", "scheduled_time": f"2026-11-23T09:0{i}:00Z",
         "trigger": "catchup", "attempt": 1, "jobs": ["slow-forbid@s1", "slow-forbid@s2"]}
        for i in range(3)
    ]  # fmt: skip
    raw = json.dumps({"callback": "http://127.0.0.1:9/runs/", "minutes": minutes})
    headers = dispatch_headers(KEY, raw, url="http://testserver/dispatch/batch")
    res = client.post("/dispatch/batch", content=raw, headers=headers).json()
    assert [m["statuses"] for m in res["minutes"]] == [
        ["spawned", "spawned"],
        ["skipped", "skipped"],
        ["skipped", "skipped"],
    ]


def test_catalog_and_manual_runs_share_the_job_and_not_its_schedules(client, fake_executor):
    assert post(client, run("slow-forbid")).json()["status"] == "spawned"
    manual_id = "slow-forbid@2026-11-23T09:00:30Z-manual-0123456789ab"
    manual = body(job="slow-forbid", execution_id=manual_id, trigger="manual")
    assert post(client, manual).json()["status"] == "skipped"
    assert post(client, run("slow-forbid@s1")).json()["status"] == "spawned"


def test_replace_cancels_only_the_same_schedules_call(client, fake_executor, callback_server):
    cb = callback_server.url + "/runs/x"
    post(client, run("slow-replace@s1", callback_url=cb))
    post(client, run("slow-replace@s2", callback_url=cb))
    assert fake_executor.cancelled == []
    later = run("slow-replace@s1", minute="2026-11-23T09:01Z", callback_url=cb)
    assert post(client, later).json()["status"] == "spawned"
    assert fake_executor.cancelled == ["fc-1"]
    wait_for(lambda: callback_server.received)
    outcome = json.loads(callback_server.received[0].body)
    assert outcome["error"] == (
        "cancelled: replaced by slow-replace@s1@2026-11-23T09:01Z (concurrency replace)"
    )
