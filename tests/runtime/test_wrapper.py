"""The job wrapper and the local executor, reporting to a real local HTTP server."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cronflare.runtime import wrapper
from cronflare.runtime.executors import LocalExecutor
from cronflare.runtime.signing import SCHEME, verify_legacy
from cronflare.runtime.wrapper import RetryableFailure, execute, run_with_retries
from tests.conftest import Received
from tests.signed import is_signed_report

KEY = "wrapper-key"


def payload(job: str, server_url: str, minute: str = "2026-11-23T09:00Z") -> dict:
    return {
        "execution_id": f"{job}@{minute}",
        "job": job,
        "scheduled_time": "2026-11-23T09:00:00Z",
        "trigger": "cron",
        "attempt": 1,
        "callback_url": f"{server_url}/runs/{job}%40{minute}",
    }


def wait_for(predicate, timeout: float = 120.0) -> None:
    """Poll until `predicate()` holds; the timeout only bounds a failing test."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_success_is_reported_signed_with_its_times(test_catalog, callback_server):
    outcome = execute(payload("quick", callback_server.url), KEY)
    assert outcome["status"] == "succeeded"
    [got] = callback_server.received
    assert got.path == "/runs/quick%402026-11-23T09:00Z"
    assert is_signed_report(got, [KEY])
    assert got.json() == outcome and outcome["started_at"] <= outcome["finished_at"]


def test_a_failure_reports_its_message_without_the_secret(
    test_catalog, callback_server, monkeypatch
):
    monkeypatch.setenv("TEST_API_TOKEN", "tok-9f8e7d6c5b4a")
    outcome = execute(payload("boom", callback_server.url), KEY)
    assert outcome["status"] == "failed"
    assert outcome["error"] == "RuntimeError: could not connect with token [redacted]"
    assert "tok-9f8e7d6c5b4a" not in callback_server.received[0].body.decode()


def test_a_failure_before_the_final_attempt_reports_nothing(test_catalog, callback_server):
    with pytest.raises(RetryableFailure):
        execute(payload("boom", callback_server.url), KEY, final=False)
    assert callback_server.received == []


def test_retries_follow_the_jobs_policy_and_report_once(test_catalog, callback_server):
    sleeps: list[float] = []
    outcome = run_with_retries(payload("flaky", callback_server.url), KEY, sleep=sleeps.append)
    assert outcome["status"] == "succeeded"
    assert len(callback_server.received) == 1 and sleeps == [0.0, 0.0]


def test_the_callback_is_retried_with_backoff_until_accepted(
    test_catalog, callback_server, monkeypatch
):
    monkeypatch.setattr(wrapper, "REPORT_BACKOFF_S", 0.01)
    callback_server.fail_first = 2
    execute(payload("quick", callback_server.url), KEY)
    assert len(callback_server.received) == 3
    assert all(is_signed_report(r, [KEY]) for r in callback_server.received)


def test_a_final_4xx_stops_the_callback_retries(test_catalog, callback_server, monkeypatch):
    monkeypatch.setattr(wrapper, "REPORT_BACKOFF_S", 0.01)
    callback_server.fail_first, callback_server.fail_status = 5, 409
    assert wrapper.report(f"{callback_server.url}/runs/x", {"status": "succeeded"}, KEY) is False
    assert len(callback_server.received) == 1


def test_an_unreachable_callback_gives_up_after_a_few_tries(monkeypatch):
    monkeypatch.setattr(wrapper, "REPORT_BACKOFF_S", 0.0)
    calls = []
    real = httpx.post

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(httpx, "post", counting)
    assert wrapper.report("http://127.0.0.1:9/runs/x", {"status": "failed"}, KEY) is False
    assert len(calls) == wrapper.REPORT_ATTEMPTS


def test_the_local_executor_runs_the_wrapper_in_another_process(
    test_catalog, callback_server, tmp_path: Path, monkeypatch
):
    ledger = tmp_path / "executions.jsonl"
    monkeypatch.setenv("CRONFLARE_EXECUTION_LOG", str(ledger))
    executor = LocalExecutor(KEY)
    call_id = executor.spawn("touch", payload("touch", callback_server.url))
    assert call_id.startswith("lc-")
    wait_for(lambda: len(callback_server.received) == 1)
    assert is_signed_report(callback_server.received[0], [KEY])
    [record] = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert record["execution_id"] == "touch@2026-11-23T09:00Z" and record["pid"] != os.getpid()
    wait_for(lambda: not executor.is_running(call_id))


def test_the_local_executor_cancels_a_running_call(test_catalog, callback_server, monkeypatch):
    monkeypatch.setenv("TEST_SLOW_SECONDS", "30")
    executor = LocalExecutor(KEY)
    call_id = executor.spawn("slow-allow", payload("slow-allow", callback_server.url))
    wait_for(lambda: executor.is_running(call_id))
    executor.cancel(call_id)
    assert not executor.is_running(call_id)
    assert callback_server.received == []


def test_the_stacks_job_overrides_reach_the_modal_side(test_catalog, monkeypatch):
    """CRONFLARE_JOB_OVERRIDES (set by the ModalDeployment) disables and resizes jobs on Modal
    exactly as the stack config did for the Worker's plan.
    """
    monkeypatch.setenv(
        wrapper.OVERRIDES_ENV,
        json.dumps({"quick": {"enabled": False}, "touch": {"resources": {"memory": 2048}}}),
    )
    wrapper.catalog_jobs.cache_clear()
    jobs = wrapper.catalog_jobs()
    assert "quick" not in jobs
    assert jobs["touch"].resources.memory == 2048


def test_a_handler_gets_the_jobs_args_or_the_runs_own_and_its_result_is_reported(
    test_catalog, callback_server
):
    """ctx.args is the catalog's args unless the run brings its own; the return value is the
    run's result summary, as JSON.
    """
    execute(payload("echo", callback_server.url), KEY)
    execute({**payload("echo", callback_server.url), "args": {"greeting": "hi"}}, KEY)
    first, second = (r.json() for r in callback_server.received)
    assert json.loads(first["result"]) == {"args": {"greeting": "hello", "n": 2}}
    assert json.loads(second["result"]) == {"args": {"greeting": "hi"}}


def test_a_target_runs_its_stand_in_locally_with_the_args_as_keywords(
    test_catalog, callback_server
):
    outcome = execute({**payload("remote", callback_server.url), "args": {"size": 5}}, KEY)
    assert outcome["status"] == "succeeded" and json.loads(outcome["result"]) == {"made": 5}
    failed = execute({**payload("remote", callback_server.url), "args": {"size": 1, "fail": 1}},
                     KEY)  # fmt: skip
    assert failed["status"] == "failed"
    assert failed["error"] == "RuntimeError: the stand-in was asked to fail"


def test_a_target_without_a_stand_in_fails_locally_once_saying_how_to_register_one(
    test_catalog, callback_server
):
    """No retries (they could not help), one report, and the fix in the error."""
    calls = []
    outcome = run_with_retries(payload("remote-bare", callback_server.url), KEY, calls.append)
    assert outcome["status"] == "failed" and calls == []
    assert "targets other-app/Worker.run" in outcome["error"]
    assert "stand_in='package.module:function'" in outcome["error"]
    assert len(callback_server.received) == 1


def test_the_watcher_reports_how_the_targets_call_ended(test_catalog, callback_server):
    """Modal's FunctionCall.get(): a result, an error, or outliving the job's timeout."""
    waited: list[tuple[str, float]] = []

    def returns(call_id: str, timeout: float) -> object:
        waited.append((call_id, timeout))
        return {"rows": 12}

    def raises(call_id: str, timeout: float) -> object:
        raise ValueError(f"bad input, token {KEY}")

    def hangs(call_id: str, timeout: float) -> object:
        raise TimeoutError

    run = payload("remote", callback_server.url)
    ok = wrapper.await_target(run, "fc-1", KEY, returns)
    bad = wrapper.await_target(run, "fc-2", KEY, raises)
    slow = wrapper.await_target(run, "fc-3", KEY, hangs)
    assert waited == [("fc-1", 1200.0)]  # the job's timeout, 20m
    assert (ok["status"], json.loads(ok["result"])) == ("succeeded", {"rows": 12})
    assert bad["status"] == "failed" and bad["error"] == (
        "other-app/work: ValueError: bad input, token [redacted]"
    )
    assert slow["error"] == "other-app/work did not finish within the job's timeout (1200 s)"
    assert [r.json()["status"] for r in callback_server.received] == [
        "succeeded", "failed", "failed"
    ]  # fmt: skip
    assert all(is_signed_report(r, [KEY]) for r in callback_server.received)


def test_persist_runs_before_the_report_whatever_the_outcome(test_catalog, callback_server):
    """On Modal, persist commits the job's volumes: a run reported ended has its files saved."""
    order: list[str] = []

    def persist() -> None:
        order.append(f"persist, {len(callback_server.received)} reports so far")

    execute(payload("quick", callback_server.url), KEY, persist=persist)
    execute(payload("boom", callback_server.url), KEY, persist=persist)
    assert order == ["persist, 0 reports so far", "persist, 1 reports so far"]


def _worker_of_scheme(v2: bool):
    """A callback answer as a Worker that verifies only v2 (and says so), or only v1."""

    def answer(got: Received) -> tuple[int, dict[str, Any]]:
        headers = {k.lower(): v for k, v in got.headers.items()}
        if v2 and is_signed_report(got, [KEY]):
            return 202, {"ok": True}
        if not v2 and verify_legacy([KEY], headers, got.body):
            return 202, {"ok": True}
        return 401, {"error": "bad signature", **({"scheme": SCHEME} if v2 else {})}

    return answer


def test_a_report_to_a_worker_not_yet_upgraded_is_resent_signed_v1(test_catalog, callback_server):
    """Modal deploys before the Worker in one `pulumi up`: a run of the new code reporting to the
    old Worker in that minute still lands, signed the way that Worker verifies.
    """
    callback_server.answer = _worker_of_scheme(v2=False)
    assert execute(payload("quick", callback_server.url), KEY)["status"] == "succeeded"
    first, second = callback_server.received
    assert first.headers["X-Cronflare-Signature"].startswith("v2=")
    assert second.headers["X-Cronflare-Signature"].startswith("v1=") and second.body == first.body


def test_a_worker_that_speaks_v2_never_gets_a_v1_signature(test_catalog, callback_server):
    """A v2 Worker's 401 names its scheme: a refused report is retried signed v2, never v1."""
    callback_server.answer = lambda got: (401, {"error": "bad signature", "scheme": SCHEME})
    execute(payload("quick", callback_server.url), KEY)
    sigs = [r.headers["X-Cronflare-Signature"] for r in callback_server.received]
    assert sigs and all(s.startswith("v2=") for s in sigs)
