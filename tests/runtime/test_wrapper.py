"""The job wrapper and the local executor, reporting to a real local HTTP server."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest

from cronflare.runtime import wrapper
from cronflare.runtime.executors import LocalExecutor
from cronflare.runtime.signing import verify
from cronflare.runtime.wrapper import RetryableFailure, execute, run_with_retries

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
    assert verify([KEY], got.headers, got.body)
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
    assert all(verify([KEY], r.headers, r.body) for r in callback_server.received)


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
    assert verify([KEY], callback_server.received[0].headers, callback_server.received[0].body)
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
