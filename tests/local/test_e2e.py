"""End-to-end: the real Worker in workerd, the real dispatcher and worker processes, on loopback.

Every scenario checks, from the D1 run log and from the executor's own record of what it ran,
that every due run ends in exactly one terminal status and no job body ran twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from cronflare.local.stack import TERMINAL, LocalStack, StackError
from cronflare.runtime.signing import signed_headers
from tests import ROOT
from tests.fixtures.e2e_catalog import ON_DEMAND, WITH_GHOST
from tests.signed import dispatch_headers

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def ms(minutes: float = 0) -> int:
    return int(T0.timestamp() * 1000 + minutes * 60_000)


def settle(stack: LocalStack, expected: int, timeout: float = 180) -> list[dict]:
    """Wait for `expected` runs, all terminal. The timeout only bounds a failing test: a busy
    machine makes this slower, never wrong.
    """
    runs = stack.wait_until_settled(timeout, expected=expected)
    assert len(runs) == expected, runs
    return runs


def assert_each_ended_once(stack: LocalStack, runs: list[dict]) -> None:
    """Every run is terminal, and no execution id's body started more than once."""
    assert all(r["status"] in TERMINAL for r in runs), [
        (r["execution_id"], r["status"]) for r in runs
    ]
    starts = Counter(e["execution_id"] for e in stack.executions())
    assert all(n == 1 for n in starts.values()), starts
    ran = {r["execution_id"] for r in runs if r["status"] == "succeeded"}
    assert ran <= set(starts), ran - set(starts)


def wait_for(condition: Any, timeout: float = 180) -> None:
    """Poll until `condition()` holds; the timeout only bounds a failing test."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)


def by_id(runs: list[dict]) -> dict[str, dict]:
    return {r["execution_id"]: r for r in runs}


def test_a_dispatcher_outage_is_retried_until_it_comes_back(make_stack):
    """The outage lasts until two attempts of each run have failed, plus a restart. 100 retries
    (Cloudflare's maximum) at most 1 s apart outlast a restart of any speed this test will see.
    """
    stack = make_stack(settings={"queue_max_retries": 100})
    stack.stop_dispatcher()
    stack.scheduled(ms(0))  # minutely + hourly are due
    wait_for(lambda: len(stack.runs()) == 2 and min(r["attempts"] for r in stack.runs()) >= 2)
    assert all((r["last_error"] or "").startswith("dispatch attempt") for r in stack.runs())
    stack.start_dispatcher()  # returns once the dispatcher answers /healthz
    runs = settle(stack, 2)
    assert {r["status"] for r in runs} == {"succeeded"}
    assert all(r["attempts"] >= 2 for r in runs)
    assert_each_ended_once(stack, runs)


def test_5xx_429_and_timeouts_are_all_retried(make_stack):
    """Three faults, then a working dispatcher: the run succeeds on a later attempt. Retries to
    spare, so a dispatch that a busy machine slows past the timeout costs an attempt, not the run.
    """
    stack = make_stack(faults={"first": ["503", "429", "timeout"], "timeout_s": 6},
                       dispatch_timeout_ms=3000, settings={"queue_max_retries": 10})  # fmt: skip
    stack.scheduled(ms(1))  # minutely only
    [run] = settle(stack, 1)
    assert run["status"] == "succeeded" and run["attempts"] >= 4, run
    assert_each_ended_once(stack, [run])


def test_a_final_4xx_is_failed_without_retry(make_stack):
    stack = make_stack(WITH_GHOST)
    stack.scheduled(ms(45))
    runs = by_id(settle(stack, 2))
    ghost = runs["ghost@2026-11-23T09:45Z"]
    assert (ghost["status"], ghost["attempts"]) == ("failed", 1)
    assert ghost["last_error"].startswith("dispatcher answered 404")
    assert_each_ended_once(stack, list(runs.values()))


def test_a_poison_job_dead_letters_alerts_and_replays(make_stack, callback_server):
    stack = make_stack(faults={"per_job": {"poison": 1000}}, alert_webhook_url=callback_server.url,
                       settings={"queue_max_retries": 2})  # fmt: skip
    stack.scheduled(ms(30))
    runs = by_id(settle(stack, 2))
    poison = runs["poison@2026-11-23T09:30Z"]
    assert poison["status"] == "dead" and poison["last_error"].startswith(
        "dead-lettered after 4"
    )  # the tick's own, then 3
    wait_for(lambda: callback_server.received)  # the alert follows the run's `dead` by a moment
    [alert] = callback_server.received
    assert (
        alert.json()["event"] == "run.dead"
        and alert.json()["execution_id"] == poison["execution_id"]
    )
    assert stack.executions() == [e for e in stack.executions() if e["job"] != "poison"]
    # the dispatcher is fixed; replay the dead run
    stack.stop_dispatcher()
    stack.faults = None
    stack.start_dispatcher()
    assert stack.admin("POST", "/runs/poison%402026-11-23T09%3A30Z/replay").status_code == 202
    runs = by_id(settle(stack, 2))
    assert runs["poison@2026-11-23T09:30Z"]["status"] == "succeeded"
    assert_each_ended_once(stack, list(runs.values()))


def test_the_same_minute_fired_twice_runs_once(make_stack):
    stack = make_stack()
    stack.scheduled(ms(0))
    stack.scheduled(ms(0))
    stack.scheduled(ms(0) + 20_000)  # a late duplicate within the minute
    runs = settle(stack, 2)
    assert {r["status"] for r in runs} == {"succeeded"}
    assert_each_ended_once(stack, runs)


def _crashing_tick(stack: LocalStack, minute: float) -> None:
    """A tick that dies as WORKER_FAULTS asks: scheduled() answers an exception."""
    try:
        stack.scheduled(ms(minute))
    except StackError as err:
        assert '"outcome":"exception"' in str(err)
    else:
        raise AssertionError("the tick did not die")


def test_a_worker_that_dies_after_its_insert_loses_no_run(make_stack):
    """D1 is the outbox: the runs of a tick that died before its POST are queued in the log, and
    the next tick, catching up from the last minute that completed, dispatches them once.
    """
    stack = make_stack(worker_faults={"die": "after-insert", "at": "2026-11-23T10:00:00.000Z"})
    stack.scheduled(ms(59))
    _crashing_tick(stack, 60)
    assert {
        r["status"] for r in stack.runs() if r["scheduled_time"].startswith("2026-11-23T10:00")
    } == {"queued"}
    stack.scheduled(ms(61))
    runs = by_id(settle(stack, 4))  # minutely 09:59, 10:00, 10:01 and hourly 10:00
    assert {r["status"] for r in runs.values()} == {"succeeded"}
    assert runs["hourly@2026-11-23T10:00Z"]["trigger"] == "cron"
    assert_each_ended_once(stack, list(runs.values()))


def test_a_worker_that_dies_after_its_post_starts_nothing_twice(make_stack):
    """The dispatcher spawned the batch, but the tick died before writing a word of the answer:
    the next tick sends the still-queued runs again, the dispatcher answers `duplicate` with the
    first call, and each job body ran once.
    """
    stack = make_stack(worker_faults={"die": "after-post", "at": "2026-11-23T10:00:00.000Z"})
    stack.scheduled(ms(59))
    _crashing_tick(stack, 60)
    stack.scheduled(ms(61))
    runs = by_id(settle(stack, 4))
    assert {r["status"] for r in runs.values()} == {"succeeded"}
    assert_each_ended_once(stack, list(runs.values()))


def test_the_worker_and_the_dispatcher_report_one_catalog_hash(make_stack):
    """The skew check: after a tick, GET /jobs says the Worker and the dispatcher are in sync."""
    stack = make_stack()
    assert stack.admin("GET", "/jobs").json()["skew"]["status"] == "unchecked"
    stack.scheduled(ms(0), wait=10)
    skew = stack.admin("GET", "/jobs").json()["skew"]
    modal = httpx.get(stack.dispatcher_url + "/healthz").json()["catalog_hash"]
    assert skew["status"] == "in sync", skew
    assert skew["worker"] == skew["modal"] == modal


def test_scheduled_counts_the_runs_in_flight_and_waits_for_them(make_stack):
    """scheduled() returns how many runs are still in flight, and with a wait it returns only
    once they have ended: the bench and the demo read the log straight after it.
    """
    stack = make_stack(ON_DEMAND, catalog_ref="tests.fixtures.e2e_catalog:ON_DEMAND")
    gated = stack.admin("POST", "/jobs/gated/run").json()["execution_id"]
    wait_for(lambda: any(r["execution_id"] == gated and r["status"] == "dispatched"
                         for r in stack.runs()))  # fmt: skip
    assert stack.scheduled(ms(3), wait=0) >= 1  # the gated run has not ended
    (stack.state_dir / "output" / "gated" / "open").write_text("")
    assert stack.scheduled(ms(4), wait=60) == 0
    runs = stack.runs()
    assert len(runs) == 3  # gated, and minutely at 09:03 and 09:04
    assert {r["status"] for r in runs} <= TERMINAL, runs


def test_the_same_message_delivered_twice_runs_once(make_stack):
    stack = make_stack()
    stack.scheduled(ms(1), wait=10)
    [run] = settle(stack, 1)
    message = {k: run[k] for k in ("execution_id", "job", "scheduled_time", "trigger")}
    stack.enqueue(message)
    stack.enqueue(message)
    # The queue is FIFO: once a run enqueued after the duplicates has ended, they were consumed.
    stack.scheduled(ms(2))
    runs = by_id(settle(stack, 2))
    again = runs[run["execution_id"]]
    assert again["status"] == "succeeded" and again["updated_at"] == run["updated_at"]
    assert runs["minutely@2026-11-23T09:02Z"]["status"] == "succeeded"
    assert_each_ended_once(stack, list(runs.values()))


def test_a_30_minute_gap_catches_up_inside_the_window_and_skips_outside(make_stack):
    stack = make_stack(settings={"catchup_window_minutes": 10})
    stack.scheduled(ms(0), wait=10)
    stack.scheduled(ms(31))
    runs = settle(stack, 32 + 1 + 1)  # minutely 09:00..09:31, hourly 09:00, poison 09:30
    skipped = [r for r in runs if r["status"] == "skipped"]
    caught = [r for r in runs if r["trigger"] == "catchup" and r["status"] == "succeeded"]
    assert len(skipped) == 20  # 09:01 .. 09:20 are older than the 10-minute window
    assert sorted(r["job"] for r in caught) == ["minutely"] * 10 + ["poison"]  # 09:21 .. 09:30
    assert by_id(runs)["minutely@2026-11-23T09:31Z"]["trigger"] == "cron"
    assert_each_ended_once(stack, runs)
    assert all(
        e["execution_id"] not in {r["execution_id"] for r in skipped} for e in stack.executions()
    )


def test_a_manual_run_takes_its_own_args_and_the_run_log_keeps_them_and_the_result(make_stack):
    """Through the real Worker, queue and dispatcher: the job's args by default, the run's own
    when given; both recorded in D1, with the handler's result summary.
    """
    stack = make_stack(ON_DEMAND, catalog_ref="tests.fixtures.e2e_catalog:ON_DEMAND")
    plain = stack.admin("POST", "/jobs/echo/run")
    own = stack.admin("POST", "/jobs/echo/run", {"args": {"greeting": "hi", "n": 2}})
    bad = stack.admin("POST", "/jobs/echo/run", {"args": [1]})
    assert (plain.status_code, own.status_code, bad.status_code) == (202, 202, 422)
    runs = by_id(settle(stack, 2))
    first, second = runs[plain.json()["execution_id"]], runs[own.json()["execution_id"]]
    assert (first["status"], second["status"]) == ("succeeded", "succeeded")
    assert json.loads(first["args"]) == {"greeting": "hello"}
    assert json.loads(first["result"]) == {"args": {"greeting": "hello"}}
    assert json.loads(second["args"]) == {"greeting": "hi", "n": 2}
    assert json.loads(second["result"]) == {"args": {"greeting": "hi", "n": 2}}
    assert_each_ended_once(stack, list(runs.values()))


def test_a_replayed_skip_reruns_whichever_cause_skipped_it(make_stack):
    """Through the real Worker and dispatcher: a run skipped by a pause and one skipped by
    concurrency forbid each reach their job when replayed, and end succeeded, once.
    """
    stack = make_stack(ON_DEMAND, catalog_ref="tests.fixtures.e2e_catalog:ON_DEMAND")
    run = lambda id_: by_id(stack.runs()).get(id_, {})  # noqa: E731
    assert stack.admin("POST", "/jobs/hourly/pause").status_code == 200
    stack.scheduled(ms(0))
    paused = "hourly@2026-11-23T09:00Z"
    wait_for(lambda: run(paused).get("status") == "skipped")
    assert run(paused)["last_error"].startswith("paused")
    assert stack.admin("POST", f"/runs/{paused.replace('@', '%40')}/replay").status_code == 409
    assert stack.admin("POST", "/jobs/hourly/resume").status_code == 200

    first = stack.admin("POST", "/jobs/gated/run").json()["execution_id"]
    wait_for(lambda: run(first).get("status") == "dispatched")  # spawned, and running
    second = stack.admin("POST", "/jobs/gated/run").json()["execution_id"]
    wait_for(lambda: run(second).get("status") == "skipped")
    assert "concurrency forbid" in run(second)["last_error"]
    (stack.state_dir / "output" / "gated" / "open").write_text("")
    wait_for(lambda: run(first).get("status") == "succeeded")
    for skipped in (paused, second):
        path = f"/runs/{skipped.replace('@', '%40')}/replay"
        assert stack.admin("POST", path).status_code == 202, skipped
    runs = by_id(settle(stack, 4))
    assert {i: runs[i]["status"] for i in (paused, first, second)} == dict.fromkeys(
        (paused, first, second), "succeeded"
    )
    assert runs[second]["trigger"] == runs[paused]["trigger"] == "replay"
    assert_each_ended_once(stack, list(runs.values()))


def test_a_target_job_runs_its_stand_in_locally_and_ends_once(make_stack):
    stack = make_stack(ON_DEMAND, catalog_ref="tests.fixtures.e2e_catalog:ON_DEMAND")
    ok = stack.admin("POST", "/jobs/remote/run", {"args": {"size": 4}})
    failing = stack.admin("POST", "/jobs/remote/run", {"args": {"size": 1, "fail": True}})
    runs = by_id(settle(stack, 2))
    good, bad = runs[ok.json()["execution_id"]], runs[failing.json()["execution_id"]]
    assert (good["status"], json.loads(good["result"])) == ("succeeded", {"made": 4})
    assert bad["status"] == "failed"
    assert bad["last_error"] == "RuntimeError: the stand-in was asked to fail"
    assert_each_ended_once(stack, list(runs.values()))


def test_forged_or_replayed_requests_are_refused_and_nothing_runs(make_stack):
    stack = make_stack()
    body = json.dumps({"execution_id": "minutely@2026-11-23T09:01Z", "job": "minutely",
                       "scheduled_time": "2026-11-23T09:01:00Z", "trigger": "cron", "attempt": 1,
                       "callback_url": f"{stack.worker_url}/runs/x"})  # fmt: skip
    target = f"{stack.dispatcher_url}/dispatch"
    forged = httpx.post(target, content=body, headers=dispatch_headers("not-the-key", body, target))
    old = dispatch_headers(stack.signing_key, body, target, now=time.time() - 600)
    replayed = httpx.post(target, content=body, headers=old)
    assert (forged.status_code, replayed.status_code) == (401, 401)
    stack.scheduled(ms(2), wait=10)
    [run] = settle(stack, 1)
    report = json.dumps({"status": "failed", "error": "forged"})
    url = f"{stack.worker_url}/runs/{run['execution_id'].replace('@', '%40')}"
    forged_report = signed_headers("not-the-key", "report", "POST", url, report)
    assert httpx.post(url, content=report, headers=forged_report).status_code == 401
    # A dispatch signature, however valid, is no report.
    as_dispatch = dispatch_headers(stack.signing_key, report, url)
    assert httpx.post(url, content=report, headers=as_dispatch).status_code == 401
    assert [e["execution_id"] for e in stack.executions()] == [run["execution_id"]]
    assert settle(stack, 1)[0]["status"] == "succeeded"


class FlakyProxy:
    """Forwards callbacks to the Worker, answering 503 to the first `fail` of them."""

    def __init__(self, fail: int):
        self.target = ""
        self.fail = fail
        self.seen = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.seen += 1
                if outer.seen <= outer.fail:
                    self.send_response(503)
                    self.end_headers()
                    return
                res = httpx.post(outer.target + self.path, content=body,
                                 headers=dict(self.headers), timeout=120)  # fmt: skip
                self.send_response(res.status_code)
                self.end_headers()
                self.wfile.write(res.content)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def test_a_completion_callback_that_fails_at_first_is_retried(make_stack):
    proxy = FlakyProxy(fail=2)
    stack = make_stack(public_url=proxy.url)
    proxy.target = stack.worker_url
    stack.scheduled(ms(3))
    [run] = settle(stack, 1)
    assert run["status"] == "succeeded" and proxy.seen >= 3  # 2 refused, then through
    assert_each_ended_once(stack, [run])
    proxy.httpd.shutdown()


def _descendants(pid: int) -> dict[int, str]:
    """The live processes under `pid` (pid -> command line), however deep."""
    out = subprocess.run(["ps", "-eww", "-o", "pid=,ppid=,stat=,args="], capture_output=True,
                         text=True).stdout  # fmt: skip
    children: dict[int, list[tuple[int, str]]] = {}
    for line in out.splitlines():
        child, parent, stat, args = [*line.split(None, 3), ""][:4]
        if not stat.startswith("Z"):
            children.setdefault(int(parent), []).append((int(child), args))
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        for child, args in children.get(todo.pop(), []):
            found[child] = args
            todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,stat="], capture_output=True, text=True).stdout
    live = {int(p) for p, stat in (line.split() for line in out.splitlines()) if stat[0] != "Z"}
    return pids & live


def test_a_bad_catalog_stops_the_demo_before_anything_starts(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from cronflare import Catalog, Job\n"
        "CATALOG = Catalog(jobs=[Job(name='x', description='d', schedule='0 25 * * *', "
        "handler='tests.fixtures.handlers:quick')])\n"
    )
    state = tmp_path / "state"
    env = os.environ | {"CRONFLARE_STATE_DIR": str(state)}
    r = subprocess.run([sys.executable, "-m", "cronflare.cli", "demo", "--catalog", str(bad)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.startswith("job x: schedule: hour field '25' is not valid")
    assert "Traceback" not in r.stderr
    assert not state.exists()  # the stack makes its folder before it starts anything


def test_ctrl_c_stops_the_demo_and_everything_it_started(tmp_path):
    import signal

    cmd = [sys.executable, "-m", "cronflare.cli", "demo", "--hours", "24"]
    env = os.environ | {"CRONFLARE_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )

    def started() -> bool:
        args = " ".join(_descendants(proc.pid).values())
        return ("runner.mjs" in args and "serve-dispatcher" in args) or proc.poll() is not None

    wait_for(started)
    assert proc.poll() is None
    time.sleep(1)  # mid-simulation
    started_pids = set(_descendants(proc.pid))
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 130
    assert "interrupted; everything it started has stopped" in (
        proc.stderr.read() if proc.stderr else ""
    )
    wait_for(lambda: not _alive(started_pids), timeout=30)  # nothing it started is left
