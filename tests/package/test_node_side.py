"""The local stack's Node side from an installed wheel: installed once into the cache, reused,
and refused in one clear line when npm cannot reach its registry (npm behind a fake seam).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from cronflare import bundle
from cronflare.local import node


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A wheel's layout (cronflare/_worker/local/...) and an empty cache; no checkout around."""
    shipped = tmp_path / "_worker"
    (shipped / "local").mkdir(parents=True)
    for name in ("runner.mjs", "package.json", "package-lock.json"):
        (shipped / "local" / name).write_text(f"{name} v1\n")
    monkeypatch.setattr(bundle, "SHIPPED", shipped)
    monkeypatch.setattr(node, "in_checkout", lambda: False)
    monkeypatch.setattr(bundle, "in_checkout", lambda: False)
    monkeypatch.setenv(node.CACHE_ENV, str(tmp_path / "cache"))
    return shipped


class FakeNpm:
    """`npm ci` as a seam: records each call and answers as told."""

    def __init__(self, code: int = 0, output: str = "") -> None:
        self.calls: list[tuple[list[str], Path]] = []
        self.code, self.output = code, output

    def __call__(self, argv: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        self.calls.append((list(argv), cwd))
        if self.code == 0:
            (cwd / "node_modules" / "miniflare").mkdir(parents=True)
        return subprocess.CompletedProcess(list(argv), self.code, "", self.output)


def test_a_checkout_uses_worker_src_and_installs_nothing():
    """In this repository the runner is worker_src's own, beside worker_src/node_modules."""
    fake = FakeNpm()
    runner = node.local_runner(run=fake)
    assert runner.script == bundle.WORKER_SRC / "local" / "runner.mjs"
    assert runner.root == bundle.WORKER_SRC and fake.calls == []


def test_the_first_demo_installs_the_shipped_lock_once_and_says_so(installed: Path):
    """npm ci runs once, on a copy of the shipped package.json and lock, with a progress line."""
    fake, said = FakeNpm(), []
    runner = node.local_runner(progress=said.append, run=fake)
    [(argv, cwd)] = fake.calls
    assert argv[1:3] == ["ci", "--omit=dev"] and "--prefer-offline" in argv
    folder = node.cache_root() / node.lock_digest(installed / "local")
    assert cwd.parent == folder.parent  # installed aside, then moved into place
    assert (folder / "package-lock.json").read_text() == "package-lock.json v1\n"
    assert runner.script == folder / "runner.mjs" and runner.root == installed
    assert (folder / "node_modules" / "miniflare").is_dir()
    assert len(said) == 1 and str(folder) in said[0] and "once" in said[0]


def test_later_demos_reuse_the_cache(installed: Path):
    """A second start installs nothing and says nothing; it refreshes runner.mjs only."""
    node.local_runner(run=FakeNpm())
    (installed / "local" / "runner.mjs").write_text("runner.mjs v2\n")
    fake, said = FakeNpm(), []
    runner = node.local_runner(progress=said.append, run=fake)
    assert fake.calls == [] and said == []
    assert runner.script.read_text() == "runner.mjs v2\n"


def test_a_new_lock_installs_beside_the_old(installed: Path):
    """An upgrade that changes the lock gets its own folder, keyed by the lock's digest."""
    first = node.local_runner(run=FakeNpm()).script.parent
    (installed / "local" / "package-lock.json").write_text("package-lock.json v2\n")
    fake = FakeNpm()
    second = node.local_runner(run=fake).script.parent
    assert len(fake.calls) == 1 and first != second and first.is_dir()


def test_no_registry_is_one_line_that_says_what_to_do(installed: Path):
    """Offline (npm's ENOTFOUND and the like), the error names the cache and the fix, and no
    half-installed folder is left to be taken for a good one.
    """
    fake = FakeNpm(1, "npm error code ENOTFOUND\nnpm error network request failed\n")
    with pytest.raises(node.NodeSetupError) as caught:
        node.local_runner(run=fake)
    message = str(caught.value)
    assert "\n" not in message and "network access" in message and node.CACHE_ENV in message
    assert list(node.cache_root().iterdir()) == []


def test_another_npm_failure_gives_its_last_line(installed: Path):
    """A failure that is not the network shows npm's own last line."""
    fake = FakeNpm(1, "npm error code EBADENGINE\nnpm error engine: wanted node >=22\n")
    with pytest.raises(node.NodeSetupError, match="wanted node >=22"):
        node.local_runner(run=fake)


def test_demo_without_its_node_side_exits_1_with_one_line(monkeypatch: pytest.MonkeyPatch):
    """`cronflare demo` that cannot install its Node side says why in one line, starts nothing
    and exits 1.
    """
    from typer.testing import CliRunner

    from cronflare import cli
    from cronflare.local import stack

    def offline(**_: object) -> node.LocalRunner:
        raise node.NodeSetupError("cronflare demo: the npm registry cannot be reached")

    started: list[object] = []
    monkeypatch.setattr(node, "local_runner", offline)
    monkeypatch.setattr(stack.LocalStack, "__enter__", lambda self: started.append(self))
    result = CliRunner().invoke(cli.app, ["demo", "--hours", "1"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "cronflare demo: the npm registry cannot be reached"
    assert started == []
