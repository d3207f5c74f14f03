"""The dispatcher with real local worker processes, and `cronflare serve-dispatcher` over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from cronflare.local.stack import free_port
from cronflare.runtime.dispatcher import create_app
from cronflare.runtime.executors import LocalExecutor
from cronflare.runtime.store import SqliteStore
from cronflare.runtime.wrapper import catalog_jobs
from tests import ROOT
from tests.runtime.test_wrapper import payload, wait_for
from tests.signed import dispatch_headers, is_signed_report

KEY = "local-key"


def dispatch(client, data: dict):
    raw = json.dumps(data)
    return client.post("/dispatch", content=raw, headers=dispatch_headers(KEY, raw)).json()


@pytest.fixture
def local(test_catalog, tmp_path) -> Iterator[tuple[LocalExecutor, TestClient]]:
    """The dispatcher with a real LocalExecutor: runs happen in worker processes."""
    executor = LocalExecutor(KEY)
    client = TestClient(create_app(executor, [KEY], SqliteStore(tmp_path / "s.db"), catalog_jobs()))
    yield executor, client
    executor.shutdown()


def test_forbid_skips_while_a_slow_job_runs_for_real(local, callback_server, monkeypatch):
    monkeypatch.setenv("TEST_SLOW_SECONDS", "3")  # still running when the second one arrives
    executor, client = local
    first = dispatch(client, payload("slow-forbid", callback_server.url, "2026-11-23T09:00Z"))
    second = dispatch(client, payload("slow-forbid", callback_server.url, "2026-11-23T09:01Z"))
    assert (first["status"], second["status"]) == ("spawned", "skipped")
    wait_for(lambda: len(callback_server.received) == 1)
    wait_for(lambda: not executor.is_running(first["call_id"]))
    third = dispatch(client, payload("slow-forbid", callback_server.url, "2026-11-23T09:02Z"))
    assert third["status"] == "spawned"


def test_replace_kills_the_running_job_and_runs_the_new_one(local, callback_server, monkeypatch):
    monkeypatch.setenv("TEST_SLOW_SECONDS", "1")
    executor, client = local
    first = dispatch(client, payload("slow-replace", callback_server.url, "2026-11-23T09:00Z"))
    wait_for(lambda: executor.is_running(first["call_id"]))
    second = dispatch(client, payload("slow-replace", callback_server.url, "2026-11-23T09:01Z"))
    assert second["status"] == "spawned" and not executor.is_running(first["call_id"])
    wait_for(lambda: len(callback_server.received) == 2)
    time.sleep(0.3)
    by_path = {r.path: r.json() for r in callback_server.received}
    assert len(callback_server.received) == 2
    # the replaced run still ends once, as failed with the reason; the new one succeeds
    replaced = by_path["/runs/slow-replace%402026-11-23T09:00Z"]
    assert replaced["status"] == "failed"
    assert (
        replaced["error"]
        == "cancelled: replaced by slow-replace@2026-11-23T09:01Z (concurrency replace)"
    )
    assert by_path["/runs/slow-replace%402026-11-23T09:01Z"]["status"] == "succeeded"
    assert all(is_signed_report(r, [KEY]) for r in callback_server.received)


def test_serve_dispatcher_answers_signed_posts_over_http(test_catalog, callback_server, tmp_path):
    port = free_port()
    env = os.environ | {"CRONFLARE_SIGNING_KEY": KEY, "CRONFLARE_CATALOG": test_catalog}
    exe = Path(sys.executable).with_name("cronflare")
    proc = subprocess.Popen(
        [str(exe), "serve-dispatcher", "--port", str(port), "--store", str(tmp_path / "d.db")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _up(url))
        raw = json.dumps(payload("touch", callback_server.url))
        res = httpx.post(
            f"{url}/dispatch", content=raw, headers=dispatch_headers(KEY, raw, f"{url}/dispatch")
        )
        assert res.status_code == 202 and res.json()["status"] == "spawned"
        assert (
            httpx.post(
                f"{url}/dispatch", content=raw, headers=dispatch_headers("x", raw)
            ).status_code
            == 401
        )
        wait_for(lambda: len(callback_server.received) == 1)
        assert is_signed_report(callback_server.received[0], [KEY])
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_dispatcher_refuses_to_start_without_a_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRONFLARE_SIGNING")}
    exe = Path(sys.executable).with_name("cronflare")
    r = subprocess.run(
        [str(exe), "serve-dispatcher"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "set CRONFLARE_SIGNING_KEY" in r.stderr


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
