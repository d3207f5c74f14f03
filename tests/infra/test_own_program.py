"""A team's own Pulumi program under mocks, as docs/PULUMI.md writes it: the Scheduler beside a
resource of the team's own, from `cronflare.pulumi` alone.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pulumi
import pytest

from cronflare.pulumi.providers import project_root
from tests import ROOT
from tests.docs.blocks import FENCE
from tests.infra import program_harness
from tests.infra.program_harness import (
    COMPONENT,
    D1,
    SCHEDULER_RESOURCES,
    SCRIPT,
    RecordingMonitor,
    Run,
    mock_dispatcher_url,
    run_program,
    stack_config,
)

PET = "random:index/randomPet:RandomPet"
STACK = "pulumi:pulumi:Stack"
PET_INPUTS = {"length": 3, "prefix": "team", "separator": "_"}
GUIDE = ROOT / "docs" / "PULUMI.md"


def guide_program() -> str:
    """The program docs/PULUMI.md tells a team to write: its python block that uses the package."""
    blocks = [
        m.group(4)
        for m in FENCE.finditer(GUIDE.read_text())
        if m.group(3).strip() == "python" and "from cronflare.pulumi import" in m.group(4)
    ]
    assert len(blocks) == 1, f"{GUIDE}: expected one program block, found {len(blocks)}"
    return blocks[0]


TEAM_CATALOG = """\
from cronflare import Catalog, Job

CATALOG = Catalog(
    jobs=[
        Job(
            name="team-nightly",
            description="The team's nightly job.",
            schedule="0 3 * * *",
            handler="teamjobs.tasks:nightly",
        )
    ]
)
"""


def parent_type(urn: str) -> str:
    """The type of a resource's parent, as the URN's type chain (parent$type) records it."""
    chain = urn.split("::")[2].split("$")
    return chain[-2] if len(chain) > 1 else ""


@pytest.fixture
def own_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run the guide's program from a project folder of its own (Pulumi.yaml, `main` in deploy/)."""
    (tmp_path / "Pulumi.yaml").write_text("name: team-infra\nruntime: python\nmain: deploy/\n")
    main = tmp_path / "deploy" / "__main__.py"
    main.parent.mkdir()
    main.write_text(guide_program())
    monkeypatch.setattr(program_harness, "MAIN", main)
    monkeypatch.setattr(sys, "path", list(sys.path))  # program_inputs() puts the root on it

    def run(check=None, catalog: str | None = None, **overrides: Any) -> Run:
        if catalog:
            monkeypatch.setenv("CRONFLARE_CATALOG", catalog)
        else:
            monkeypatch.delenv("CRONFLARE_CATALOG", raising=False)
        config = stack_config("dev", **overrides)
        return run_program("dev", config, check=check, monkeypatch=monkeypatch)

    return run


def test_the_scheduler_registers_beside_the_teams_resource_and_leaves_it_alone(own_program):
    """The Worker, the D1 database and the Scheduler's other resources are registered next to
    the team's RandomPet, each parented to the component and named after it; the pet keeps its
    own inputs, its place under the stack and no dependency, and nothing of cronflare's uses it.
    """
    seen: list[str] = []

    def check(exports: dict[str, Any]) -> None:
        monitor = pulumi.runtime.settings.get_monitor()
        assert isinstance(monitor, RecordingMonitor)
        urns = monitor.urns
        pet, component = urns["team-pet"], urns["acme-cron"]
        assert parent_type(pet) == STACK, pet
        assert parent_type(component) == STACK, component
        for name in ("acme-cron-worker", "acme-cron-db", "acme-cron-modal", "acme-cron-migrations"):
            assert name in urns, f"{name} was not registered beside {pet}: {sorted(urns)}"
            assert parent_type(urns[name]) == COMPONENT, urns[name]
        assert exports["petId"] == "team-pet-id", pet
        assert exports["workerUrl"] == "https://cronflare-dev.acme.workers.dev", component
        assert exports["d1DatabaseId"] == "d1-uuid-of-acme-cron-db", urns["acme-cron-db"]
        assert exports["dispatcherUrl"] == mock_dispatcher_url("cronflare-dev", "dev"), component
        seen.append("checked")

    run = own_program(check)
    assert seen == ["checked"]

    counts = Counter(r.typ for r in run.resources)
    assert counts == {PET: 1, **SCHEDULER_RESOURCES}
    urns = run.monitor.urns
    for r in run.resources:
        if r.typ in (PET, COMPONENT):
            continue
        assert parent_type(urns[r.name]) == COMPONENT, urns[r.name]
        assert r.name.startswith("acme-cron-"), urns[r.name]
        assert urns["team-pet"] not in run.monitor.depends_on[r.name], urns[r.name]
        assert "team-pet" not in repr(r.inputs), urns[r.name]

    pet = run.one(PET, "team-pet")
    assert pet.inputs == PET_INPUTS, urns["team-pet"]
    assert pet.secret_inputs == set(), urns["team-pet"]
    assert run.depends_on("team-pet") == set(), urns["team-pet"]
    assert run.one(SCRIPT).inputs["scriptName"] == "cronflare-dev", urns["acme-cron-worker"]
    assert run.one(D1).inputs["name"] == "cronflare-dev-runs", urns["acme-cron-db"]
    assert "adminToken" in run.secret_exports, urns["acme-cron"]


def test_the_catalog_imports_from_the_project_root_whatever_the_working_directory(
    own_program, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The team's catalog sits beside Pulumi.yaml, and the program runs in deploy/ (Pulumi's
    working directory for `main: deploy/`): program_inputs() imports it from the root.
    """
    package = tmp_path / "teamjobs"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tasks.py").write_text("def nightly() -> None:\n    pass\n")
    (package / "catalog.py").write_text(TEAM_CATALOG)
    monkeypatch.chdir(tmp_path / "deploy")
    monkeypatch.setattr(pulumi.runtime.settings, "get_root_directory", lambda: str(tmp_path))
    try:
        run = own_program(catalog="teamjobs.catalog:CATALOG", jobs=None)
        assert run.exports["jobs"] == ["team-nightly"], run.one(COMPONENT).urn
        assert sys.path[0] == str(tmp_path)
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] == "teamjobs"]:
            del sys.modules[name]


def test_the_modal_deploy_runs_from_the_same_root(own_program, tmp_path: Path):
    """A provider runs in its own process, in `main`'s folder, without the program's root
    directory: the nearest folder up with a Pulumi.yaml is where `modal deploy` finds `jobs`.
    """
    assert project_root(tmp_path / "deploy") == tmp_path.resolve()
    assert project_root(ROOT / "infra") == ROOT
