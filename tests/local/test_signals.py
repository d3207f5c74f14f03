"""Ctrl-C, SIGTERM and SIGKILL stop everything `cronflare demo --keep-running` started.

Each test runs the demo as a terminal does, in a process group of its own, and signals the whole
group, as a terminal's Ctrl-C does. It waits for the dashboard's password line (an event, never a
sleep), notes every descendant process (node and workerd, the dispatcher and its forkserver),
signals, and then checks that each of them is gone and that the dashboard no longer answers.
The stack's children run in sessions of their own, so the signal reaches only the CLI (and uv):
whatever stops them is the CLI's doing, or, after a SIGKILL, their own.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests import ROOT

DEMO = ["demo", "--hours", "0.02"]  # the smallest demo: one simulated minute
BOUND = 60.0  # seconds; only bounds a failing test


@dataclass
class Demo:
    """A demo started in its own process group, its output read as it comes."""

    proc: subprocess.Popen[str]
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    up: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def read(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            self.stdout.append(line.rstrip("\n"))
            if line.startswith("password: "):
                self.up.set()
        self.up.set()  # ended without it: the test then says why

    def wait_until_up(self) -> str:
        """The dashboard's URL, once the stack stays up."""
        assert self.up.wait(180), "the demo never came up"
        assert self.proc.poll() is None, self.output()
        return next(line for line in self.stdout if line.startswith("dashboard: ")).split()[1]

    def finish(self) -> int:
        """The exit status, once the CLI has exited and all its output is read."""
        code = self.proc.wait(BOUND)
        for thread in self.threads:
            thread.join(BOUND)
        return code

    def output(self) -> str:
        return "\n".join([*self.stdout, "--- stderr", *self.stderr])


def uv_command() -> list[str]:
    """uv as users have it: on PATH, else `python3 -m uv` (the Makefile's fallback)."""
    if found := shutil.which("uv"):
        return [found]
    for python in filter(None, [shutil.which("python3"), sys.executable]):
        probe = subprocess.run([python, "-m", "uv", "--version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [python, "-m", "uv"]
    pytest.skip("uv is not installed")


def start_demo(tmp_path: Path, via_uv: bool = False) -> Demo:
    args = [*DEMO, "--keep-running"]
    # --no-sync: this environment is the project's already; a test must not re-sync it.
    cmd = (
        [*uv_command(), "run", "--no-sync", "cronflare", *args]
        if via_uv
        else [sys.executable, "-m", "cronflare.cli", *args]
    )
    env = os.environ | {"CRONFLARE_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    demo = Demo(proc)

    def read_stderr() -> None:
        assert proc.stderr
        demo.stderr.extend(line.rstrip("\n") for line in proc.stderr)

    demo.threads = [threading.Thread(target=f, daemon=True) for f in (demo.read, read_stderr)]
    for thread in demo.threads:
        thread.start()
    return demo


def _stat(pid: int) -> tuple[str, int, str] | None:
    """(state, ppid, start time) from /proc/<pid>/stat, or None if there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), fields[19]


def descendants(root: int) -> dict[int, tuple[str, str]]:
    """Every live descendant of `root`: pid -> (start time, command line)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[0] != "Z":
            children.setdefault(stat[1], []).append(int(entry.name))
    found: dict[int, tuple[str, str]] = {}
    todo = [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            stat = _stat(pid)
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
            except OSError:
                continue
            if stat:
                found[pid] = (stat[2], cmdline)
                todo.append(pid)
    return found


def running(procs: dict[int, tuple[str, str]]) -> dict[int, str]:
    """Those still running: same pid and start time, not a zombie (exited, not yet reaped)."""
    out = {}
    for pid, (start, cmdline) in procs.items():
        stat = _stat(pid)
        if stat and stat[0] != "Z" and stat[2] == start:
            out[pid] = cmdline
    return out


def stack_processes(demo: Demo) -> dict[int, tuple[str, str]]:
    procs = descendants(demo.proc.pid)
    cmdlines = " ".join(cmdline for _, cmdline in procs.values())
    for part in ("runner.mjs", "workerd", "serve-dispatcher", "forkserver"):
        assert part in cmdlines, (part, procs)
    return procs


def assert_all_gone(procs: dict[int, tuple[str, str]], url: str) -> None:
    deadline = time.monotonic() + BOUND
    while running(procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(procs), running(procs)
    with pytest.raises(httpx.TransportError):
        httpx.get(url, timeout=5)


def test_ctrl_c_to_the_process_group_stops_everything_and_the_last_lines_were_url_and_password(
    tmp_path,
):
    demo = start_demo(tmp_path)
    url = demo.wait_until_up()
    assert httpx.get(url, timeout=10).status_code == 401  # it answers, and asks for the password
    procs = stack_processes(demo)
    password = demo.stdout[-1].removeprefix("password: ")
    assert httpx.get(url, auth=("anyone", password), timeout=10).status_code == 200
    assert demo.stdout[-2:] == [f"dashboard: {url}", f"password: {password}"]

    os.killpg(demo.proc.pid, signal.SIGINT)
    assert demo.finish() == 0, demo.output()
    assert_all_gone(procs, url)
    assert demo.stdout[-1] == f"password: {password}"  # nothing after them on stdout
    assert demo.stderr[-1] == "cronflare: stopped the local stack and everything it started"


def test_ctrl_c_pressed_again_and_again_while_it_stops_still_stops_everything(tmp_path):
    """The second Ctrl-C used to cut the stop short: workerd and node were left running."""
    demo = start_demo(tmp_path)
    url = demo.wait_until_up()
    procs = stack_processes(demo)
    while demo.proc.poll() is None:
        os.killpg(demo.proc.pid, signal.SIGINT)
        time.sleep(0.02)
    assert demo.finish() == 0, demo.output()
    assert_all_gone(procs, url)


def test_ctrl_c_twice_under_uv_run_stops_everything(tmp_path):
    """Outside a terminal, `uv run` also forwards the group's SIGINT to the CLI, 200 ms later."""
    demo = start_demo(tmp_path, via_uv=True)
    url = demo.wait_until_up()
    procs = stack_processes(demo)
    os.killpg(demo.proc.pid, signal.SIGINT)
    time.sleep(0.05)  # a second Ctrl-C, while the stack stops
    if demo.proc.poll() is None:
        os.killpg(demo.proc.pid, signal.SIGINT)
    assert demo.finish() == 0, demo.output()
    assert_all_gone(procs, url)


@pytest.mark.parametrize(
    ("sig", "exit_code"),
    [(signal.SIGTERM, 0), (signal.SIGKILL, -signal.SIGKILL)],
    ids=["sigterm-stops-everything", "sigkill-children-stop-by-themselves"],
)
def test_sigterm_or_sigkill_to_the_process_group_leaves_nothing_running(tmp_path, sig, exit_code):
    """SIGTERM stops the stack as Ctrl-C does. SIGKILL gives the CLI no chance to stop anything:
    the pipe on each child's stdin ends, and each child stops by itself.
    """
    demo = start_demo(tmp_path)
    url = demo.wait_until_up()
    procs = stack_processes(demo)
    os.killpg(demo.proc.pid, sig)
    assert demo.finish() == exit_code, demo.output()
    assert_all_gone(procs, url)


def test_a_demo_that_does_not_stay_up_prints_no_dashboard_url_or_password(tmp_path):
    env = os.environ | {"CRONFLARE_STATE_DIR": str(tmp_path / "state")}
    r = subprocess.run([sys.executable, "-m", "cronflare.cli", *DEMO], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=180)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    printed = r.stdout + r.stderr
    assert "http" not in printed and "password" not in printed and "dashboard" not in printed
    assert '"execution_id"' not in printed  # no unlabeled sample of /runs either
    assert r.stdout.splitlines()[-1] == "every expected run fired once and ended once"
