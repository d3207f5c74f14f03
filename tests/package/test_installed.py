"""cronflare outside its repository, as a user meets it: the wheel built, installed into a fresh
virtualenv in a temp folder with no repository around it, then `cronflare init`, `check`,
`exec`, `demo --hours 1`, the new project's own tests and its Pulumi program under mocks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.package.test_wheel import uv

# The project's own Pulumi program (infra/__main__.py) under mocks, as tests/infra runs this
# repository's, with its dev stack's settings.
MOCKS = Path(__file__).with_name("program_under_mocks.py")


class Installed:
    """A fresh virtualenv with the built wheel, and a clean environment to run it in."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / ".venv" / "bin"
        self.env = {
            "PATH": f"{self.bin}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "HOME": os.environ.get("HOME", str(root)),
            # Set once per `make test` run (Makefile); a user's default is ~/.cache/cronflare.
            "CRONFLARE_NODE_CACHE": os.environ.get(
                "CRONFLARE_NODE_CACHE", str(root / "node-cache")
            ),
            "CRONFLARE_STATE_DIR": str(root / "state"),
        }

    def run(self, *argv: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv), cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def cronflare(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.bin / "cronflare"), *args, cwd=cwd)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, built_wheel: Path) -> Installed:
    root = tmp_path_factory.mktemp("user")
    wheel = built_wheel
    venv = [uv(), "venv", "-q", "--python", sys.executable, str(root / ".venv")]
    subprocess.run(venv, check=True, capture_output=True)
    python = str(root / ".venv" / "bin" / "python")
    pins = [f"pytest=={pytest.__version__}"]
    done = subprocess.run(
        [uv(), "pip", "install", "-q", "--python", python, str(wheel), *pins],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return Installed(root)


@pytest.fixture(scope="module")
def project(installed: Installed) -> Path:
    done = installed.cronflare("init", "acme-schedules", cwd=installed.root)
    assert done.returncode == 0, done.stdout + done.stderr
    return installed.root / "acme-schedules"


def jobs(installed: Installed, project: Path) -> list[str]:
    done = installed.cronflare("check", "--json", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    return [j["name"] for j in json.loads(done.stdout)["jobs"] if j["target"] is None]


def test_the_installed_package_is_the_wheel_not_this_checkout(installed: Installed):
    """The venv imports cronflare from its site-packages, with no worker_src beside it."""
    done = installed.run(
        str(installed.bin / "python"),
        "-c",
        "import cronflare.bundle as b; print(b.PACKAGE, b.in_checkout())",
        cwd=installed.root,
    )
    package, checkout = done.stdout.split()
    assert "site-packages" in package and checkout == "False"


def test_check_passes_in_the_new_project(installed: Installed, project: Path):
    """`cronflare check` finds the new project's catalog from its own folder."""
    done = installed.cronflare("check", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert jobs(installed, project)


def test_exec_runs_each_job_once_here(installed: Installed, project: Path):
    """`cronflare exec <job>` runs the example's handler in the wrapper and exits 0."""
    for job in jobs(installed, project):
        done = installed.cronflare("exec", job, "--json", cwd=project)
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["status"] == "succeeded"


def test_an_hour_of_demo_is_exact(installed: Installed, project: Path):
    """`cronflare demo --hours 1` from the wheel: the shipped bundle in workerd, its Node side
    from the cache, and every expected run fired once and ended once.
    """
    done = installed.cronflare("demo", "--hours", "1", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every expected run fired once and ended once" in done.stdout


def test_the_projects_own_tests_pass(installed: Installed, project: Path):
    """The scaffold's tests/test_catalog.py passes in the fresh venv."""
    done = installed.run(str(installed.bin / "python"), "-m", "pytest", "-q", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout


def test_the_projects_pulumi_program_runs_under_mocks(installed: Installed, project: Path):
    """Its infra/__main__.py makes the Scheduler's resources with nothing but the wheel."""
    done = installed.run(str(installed.bin / "python"), str(MOCKS), cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    made = json.loads(done.stdout.splitlines()[-1])
    assert "cloudflare:index/workersScript:WorkersScript" in made["types"], made
    assert {"workerUrl", "schedulesToken"} <= set(made["outputs"]), made
