"""Runtime schedules end to end: an app's cronflare.Client, holding the stack's schedules token,
against the real Worker in workerd.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from cronflare import Client, ClientError
from tests.fixtures.e2e_catalog import RUNTIME


def test_a_schedule_round_trips_through_the_workers_api(make_stack):
    """Created with the schedules token, it reads back the same through get, list and iterate;
    creating its id again answers it unchanged; after delete it is gone. The token opens no
    admin route.
    """
    stack = make_stack(RUNTIME, catalog_ref="tests.fixtures.e2e_catalog:RUNTIME")
    with Client(stack.worker_url, stack.schedules_token) as client:
        made = client.schedules.create(
            "digest",
            id="acme-digest",
            schedule="0 9 * * 1",
            timezone="Europe/Berlin",
            args={"customer": "acme"},
            external_id="cust_42",
        )
        assert (made.id, made.job, made.schedule, made.timezone) == (
            "acme-digest", "digest", "0 9 * * 1", "Europe/Berlin"
        )  # fmt: skip
        assert made.args == {"customer": "acme"} and not made.paused and len(made.next) == 3
        assert client.schedules.get("acme-digest") == made
        page = client.schedules.list("digest")
        assert (page.schedules, page.next_cursor) == ([made], None)
        assert list(client.schedules.iterate("digest", external_id="cust_42")) == [made]
        assert list(client.schedules.iterate("digest", external_id="someone-else")) == []
        assert client.schedules.create("digest", id="acme-digest", every="15m") == made

        client.schedules.delete("acme-digest")
        with pytest.raises(ClientError) as caught:
            client.schedules.get("acme-digest")
        assert (caught.value.status, caught.value.message) == (
            404, "no such schedule: acme-digest"
        )  # fmt: skip
        assert client.schedules.list("digest").schedules == []
    app = {"Authorization": f"Bearer {stack.schedules_token}"}
    assert httpx.get(f"{stack.worker_url}/jobs", headers=app, timeout=30).status_code in (401, 403)


def _next_minute(after_s: float = 0) -> datetime:
    """The first whole minute after now + after_s: runtime schedules fire from the real now on."""
    now = datetime.now(UTC) + timedelta(seconds=after_s)
    return now.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _wait(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_runtime_schedules_fire_each_its_own_stream_and_a_delete_leaves_a_run_in_flight(make_stack):
    """Two schedules of one forbid job run side by side (concurrency is per schedule); the next
    minute, each skips while its own run is still going; a schedule deleted while its run is in
    flight leaves that run to end as usual; a schedule's args reach the job.
    """
    stack = make_stack(RUNTIME, catalog_ref="tests.fixtures.e2e_catalog:RUNTIME")
    # All three start at one minute ahead, whichever second of a minute they are created in.
    first = _next_minute(60)
    with Client(stack.worker_url, stack.schedules_token) as client:
        for sid in ("a", "b"):
            client.schedules.create("held", id=sid, schedule="* * * * *", start=first)
        client.schedules.create("digest", id="acme", schedule="* * * * *", args={"who": "acme"},
                                start=first)  # fmt: skip
    minute = first.strftime("%Y-%m-%dT%H:%MZ")

    def run(rid: str) -> dict:
        return next((r for r in stack.runs() if r["execution_id"] == rid), {})

    stack.scheduled(int(first.timestamp() * 1000))
    _wait(lambda: all(run(f"held@{s}@{minute}").get("status") == "dispatched" for s in "ab"))
    _wait(lambda: run(f"digest@acme@{minute}").get("status") == "succeeded")
    assert '"who":"acme"' in run(f"digest@acme@{minute}")["result"]
    later = first + timedelta(minutes=1)
    stack.scheduled(int(later.timestamp() * 1000))
    nxt = later.strftime("%Y-%m-%dT%H:%MZ")
    _wait(lambda: all(run(f"held@{s}@{nxt}").get("status") == "skipped" for s in "ab"))
    assert "concurrency forbid" in run(f"held@a@{nxt}")["last_error"]
    with Client(stack.worker_url, stack.schedules_token) as client:
        client.schedules.delete("a")
    (stack.state_dir / "output" / "held" / "open").write_text("")
    _wait(lambda: all(run(f"held@{s}@{minute}").get("status") == "succeeded" for s in "ab"))
    listed = stack.admin("GET", "/runs?job=held&schedule=a").json()["runs"]
    assert [(r["execution_id"], r["schedule"]) for r in listed] == [
        (f"held@a@{nxt}", "a"), (f"held@a@{minute}", "a")
    ]  # fmt: skip
