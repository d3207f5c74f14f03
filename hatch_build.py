"""Puts the Worker's built files into the sdist and the wheel: the wheel is the product, so it
carries the bundle, its migrations and the local stack's Node lock as cronflare/_worker/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# Paths under worker_src/ that the wheel ships, as cronflare/_worker/<the same path>.
SHIPPED = (
    "dist/worker.js",
    "worker.config.json",
    "migrations",
    "local/runner.mjs",
    "local/package.json",
    "local/package-lock.json",
)
# What dist/worker.js is built from: cronflare/bundle.py SOURCES, which the isolated build
# environment cannot import (no pydantic). A newer one of these means a stale bundle.
SOURCES = (
    "src",
    "build.mjs",
    "esbuild.options.mjs",
    "package.json",
    "package-lock.json",
    "worker.config.json",
)


class CustomBuildHook(BuildHookInterface):
    """Refuses a missing or stale bundle, rather than ship a wheel whose Worker is not its code."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Map worker_src's shipped files into the target (not for an editable install)."""
        if version == "editable":
            return
        worker_src = Path(self.root) / "worker_src"
        bundle = worker_src / "dist" / "worker.js"
        if not bundle.is_file():
            raise RuntimeError(
                f"{bundle} is missing: build the Worker first (`make wheel` does, then uv build)"
            )
        newest = max(
            (p.stat().st_mtime for s in SOURCES for p in _files(worker_src / s)), default=0.0
        )
        if newest > bundle.stat().st_mtime:
            raise RuntimeError(
                f"{bundle} is older than its sources: rebuild it (`make wheel` does, then uv build)"
            )
        for path in SHIPPED:
            source = worker_src / path
            if self.target_name == "wheel":
                build_data["force_include"][str(source)] = f"cronflare/_worker/{path}"
            else:
                build_data["force_include"][str(source)] = f"worker_src/{path}"


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return [p for p in path.rglob("*") if p.is_file()]
    return [path] if path.is_file() else []
