"""Shared fixtures: the test catalog, a real local HTTP server for callbacks, a fake executor."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cronflare.runtime.executors import TargetNotFound
from cronflare.runtime.wrapper import catalog_jobs
from tests.ts_compile import ts_compiler  # noqa: F401  (a session fixture: compile.ts in Node)

TEST_CATALOG = "tests.fixtures.catalog:CATALOG"


@pytest.fixture
def test_catalog(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[str]:
    """Select tests/fixtures/catalog.py everywhere, with outputs in a temporary folder."""
    monkeypatch.setenv("CRONFLARE_CATALOG", TEST_CATALOG)
    monkeypatch.setenv("CRONFLARE_OUTPUT_DIR", str(tmp_path / "output"))
    catalog_jobs.cache_clear()
    yield TEST_CATALOG
    catalog_jobs.cache_clear()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class CallbackServer:
    """A real HTTP server on 127.0.0.1 that records POSTs and can fail the first few."""

    url: str
    received: list[Received] = field(default_factory=list)
    fail_first: int = 0
    fail_status: int = 503
    # Decides each answer instead, (status, JSON body): a Worker of one signing scheme or another.
    answer: Callable[[Received], tuple[int, dict[str, Any]]] | None = None


@pytest.fixture
def callback_server() -> Iterator[CallbackServer]:
    state: dict[str, CallbackServer] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            server = state["s"]
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            got = Received(self.path, dict(self.headers.items()), body)
            server.received.append(got)
            failing = len(server.received) <= server.fail_first
            status, data = (server.fail_status if failing else 200), {"ok": True}
            if server.answer is not None:
                status, data = server.answer(got)
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(data).encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["s"] = CallbackServer(url=f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state["s"]
    httpd.shutdown()
    httpd.server_close()


@dataclass
class FakeExecutor:
    """Records spawns and cancels; `running` says which call ids are still running."""

    spawned: list[tuple[str, dict]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    running: set[str] = field(default_factory=set)
    spawn_delay: float = 0.0
    fail: bool = False
    missing: bool = False  # raise what the Modal executor raises for a target not deployed
    lock: threading.Lock = field(default_factory=threading.Lock)

    def spawn(self, job: str, payload: Any) -> str:
        if self.spawn_delay:
            threading.Event().wait(self.spawn_delay)
        if self.fail:
            raise ConnectionError("modal unreachable")
        if self.missing:
            raise TargetNotFound(f"{job}: no such function")
        with self.lock:
            self.spawned.append((job, dict(payload)))
            call_id = f"fc-{len(self.spawned)}"
        self.running.add(call_id)
        return call_id

    def is_running(self, call_id: str) -> bool:
        return call_id in self.running

    def cancel(self, call_id: str) -> None:
        self.cancelled.append(call_id)
        self.running.discard(call_id)


@pytest.fixture
def fake_executor() -> FakeExecutor:
    return FakeExecutor()


E2E_CATALOG = "tests.fixtures.e2e_catalog:CATALOG"


@pytest.fixture
def make_stack(tmp_path) -> Iterator[Any]:
    """Start real local stacks (workerd + dispatcher) on the e2e catalog; stop them all."""
    from cronflare.local.stack import LocalStack
    from cronflare.plan import plan
    from cronflare.settings import local_settings
    from tests.fixtures.e2e_catalog import CATALOG

    stacks: list[LocalStack] = []
    base = {"retry_max_delay_seconds": 1, "queue_max_retries": 3, "catchup_window_minutes": 60}

    def start(catalog=CATALOG, **options: Any) -> LocalStack:
        settings = local_settings(**(base | options.pop("settings", {})))
        ref = options.pop("catalog_ref", E2E_CATALOG)  # what the dispatcher knows
        stack = LocalStack(plan(catalog, settings), catalog=ref,
                           state_dir=tmp_path / f"stack{len(stacks)}", **options)  # fmt: skip
        stacks.append(stack)
        return stack.__enter__()

    yield start
    for stack in stacks:
        stack.close()
