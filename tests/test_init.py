"""`cronflare init DIR`: the new project's files, its refusals, and that what it writes checks,
runs, tests and deploys (under mocks) as it is.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cronflare import cli, scaffold
from tests import ROOT

runner = CliRunner()

WRITTEN = {
    "jobs/__init__.py",
    "jobs/catalog.py",
    "jobs/handlers/__init__.py",
    "jobs/handlers/hello.py",
    "tests/test_catalog.py",
    "infra/__main__.py",
    "Pulumi.yaml",
    "Pulumi.dev.yaml",
    "pyproject.toml",
    "Makefile",
    ".github/workflows/ci.yml",
    ".github/workflows/drift.yml",
    ".gitignore",
}
# What a user puts in place of Pulumi.dev.yaml's two placeholders.
FILLED = {
    '"<32-hex account id>"': "0123456789abcdef0123456789abcdef",
    '"<subdomain>"': "acme",
}
TARGET_JOB = """
CATALOG = Catalog(jobs=[*CATALOG.jobs, Job(name="invoice-sync", description="Sync invoices.",
                                           schedule="@daily", target="billing/sync_invoices")])
"""


def files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def fill_placeholders(project: Path) -> None:
    stack = project / "Pulumi.dev.yaml"
    text = stack.read_text()
    for placeholder, value in FILLED.items():
        assert placeholder in text, placeholder
        text = text.replace(placeholder, value)
    stack.write_text(text)


def forget_jobs() -> None:
    for name in [m for m in sys.modules if m == "jobs" or m.startswith("jobs.")]:
        del sys.modules[name]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A new project, written by init into an empty folder."""
    folder = tmp_path / "my-jobs"
    scaffold.init(folder)
    return folder


@pytest.fixture
def inside(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI run from the new project's folder: its `jobs` package, not this repository's."""
    monkeypatch.chdir(project)
    monkeypatch.delenv("CRONFLARE_CATALOG", raising=False)
    monkeypatch.setenv("CRONFLARE_OUTPUT_DIR", str(project.parent / "output"))
    monkeypatch.syspath_prepend(str(project))
    for name in [m for m in sys.modules if m == "jobs" or m.startswith("jobs.")]:
        monkeypatch.delitem(sys.modules, name)
    yield project
    forget_jobs()  # then monkeypatch puts this repository's modules back


def clean_env() -> dict[str, str]:
    """PATH and HOME only: no PYTHONPATH, no CRONFLARE_* of the suite's."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}


# -- what init writes, and what it refuses


def test_init_writes_the_listed_files_with_name_and_version_then_the_next_three_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Exactly the listed files, the folder's name and the installed cronflare's version in
    place of the placeholders, then `cd DIR`, `uv sync`, `make demo` as the last lines.
    """
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(cli.app, ["init", "My Jobs"])
    assert r.exit_code == 0, r.output
    project = tmp_path / "My Jobs"
    assert files(project) == WRITTEN
    pyproject = (project / "pyproject.toml").read_text()
    assert 'name = "my-jobs"' in pyproject
    assert f'dependencies = ["cronflare=={version("cronflare")}"]' in pyproject
    assert "Scheduled jobs of my-jobs," in (project / "Pulumi.yaml").read_text()
    for path in WRITTEN:
        text = (project / path).read_text()
        assert scaffold.NAME not in text and scaffold.VERSION not in text, path
    lines = r.stdout.rstrip().splitlines()
    assert lines[0].strip() == "wrote 13 files into My Jobs"
    next_three = ["cd 'My Jobs'", "uv sync", "make demo"]
    assert [line.strip() for line in lines[-4:]] == ["next:", *next_three]
    for path in WRITTEN:
        assert any(path in line for line in lines), path


def test_init_of_the_current_folder_names_the_project_after_it_and_needs_no_cd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """`cronflare init` with no DIR writes here; the next three commands start with `uv sync`."""
    here = tmp_path / "acme_schedules"
    here.mkdir()
    monkeypatch.chdir(here)
    r = runner.invoke(cli.app, ["init"])
    assert r.exit_code == 0, r.output
    assert files(here) == WRITTEN
    assert 'name = "acme-schedules"' in (here / "pyproject.toml").read_text()
    lines = [line.strip() for line in r.stdout.rstrip().splitlines()]
    assert lines[-3:] == ["uv sync", "make test", "make demo"]


def test_init_refuses_when_a_file_exists_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A file it would write exists: exit 1, one line naming it, no file written or changed."""
    project = tmp_path / "my-jobs"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: mine\n")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(cli.app, ["init", "my-jobs"])
    assert r.exit_code == 1
    assert r.stdout == ""
    assert r.stderr.splitlines() == ["init: my-jobs/Pulumi.yaml: exists; nothing was written"]
    assert files(project) == {"Pulumi.yaml"}
    assert (project / "Pulumi.yaml").read_text() == "name: mine\n"


def test_init_names_every_file_in_its_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Each existing file gets its line, and a file where a folder must go gets one for all
    the files under it.
    """
    (tmp_path / "jobs").write_text("not a folder\n")
    (tmp_path / "Makefile").write_text("all:\n")
    (tmp_path / ".gitignore").write_text("*.log\n")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(cli.app, ["init", "."])
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        "init: jobs: is a file where init needs a folder; nothing was written",
        "init: Makefile: exists; nothing was written",
    ]
    assert files(tmp_path) == {"jobs", "Makefile", ".gitignore"}


def test_after_uv_add_cronflare_init_keeps_the_projects_pyproject_and_gitignore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """`uv add cronflare`, then `cronflare init`: a pyproject.toml that depends on cronflare and
    a .gitignore are the user's and stay as they were; the rest is written, and pytest, which
    that pyproject lacks, is the first of the next three commands.
    """
    pyproject = '[project]\nname = "acme"\nversion = "0.1.0"\ndependencies = ["cronflare>=0.1.0"]\n'
    (tmp_path / "pyproject.toml").write_text(pyproject)
    (tmp_path / ".gitignore").write_text("*.log\n")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(cli.app, ["init"])
    assert r.exit_code == 0, r.output
    assert files(tmp_path) == WRITTEN
    assert (tmp_path / "pyproject.toml").read_text() == pyproject
    assert (tmp_path / ".gitignore").read_text() == "*.log\n"
    lines = [line.strip() for line in r.stdout.rstrip().splitlines()]
    assert lines[0] == "wrote 11 files into ."
    assert sum("kept: yours, as it was" in line for line in lines) == 2
    assert lines[-3:] == ["uv add --dev pytest", "make test", "make demo"]


def test_a_pyproject_without_cronflare_is_in_the_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Another project's pyproject.toml is refused, saying to `uv add cronflare` first."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["httpx"]\n')
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(cli.app, ["init"])
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        "init: pyproject.toml: exists and does not depend on cronflare (run `uv add cronflare` "
        "first); nothing was written"
    ]
    assert files(tmp_path) == {"pyproject.toml"}


def test_depends_on_cronflare_reads_the_dependency_names(tmp_path: Path):
    """A name with extras, a version or a marker counts; a name that only starts so does not."""
    path = tmp_path / "pyproject.toml"

    def lists(*dependencies: str) -> bool:
        path.write_text(f"[project]\nname = 'x'\ndependencies = {list(dependencies)!r}\n")
        return scaffold.depends_on_cronflare(path)

    assert lists("cronflare==0.1.0")
    assert lists("httpx", "Cronflare[x] >=0.1 ; python_version>'3'")
    assert not lists("cronflare-extras", "httpx")
    assert not lists()


def test_a_file_that_appears_while_init_writes_undoes_all_it_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """init never overwrites: a file made by someone else mid-way stops it, and it removes every
    file and folder it had made.
    """
    folder = tmp_path / "my-jobs"
    render = scaffold.render

    def racing(relative: str, name: str, pinned: str) -> str:
        if relative == "Makefile":
            (folder / "Makefile").write_text("theirs\n")
        return render(relative, name, pinned)

    monkeypatch.setattr(scaffold, "render", racing)
    with pytest.raises(scaffold.InitRefused) as refused:
        scaffold.init(folder)
    assert refused.value.problems == [f"init: {folder / 'Makefile'}: exists; nothing was written"]
    assert files(folder) == {"Makefile"}
    assert [p.name for p in folder.iterdir()] == ["Makefile"]


def test_the_project_name_is_the_folders_name_made_a_valid_project_name():
    """Lowercase letters, digits and single dashes; a name with none of them gets a default."""
    assert scaffold.project_name(Path("/x/My Jobs!")) == "my-jobs"
    assert scaffold.project_name(Path("/x/acme_schedules.v2")) == "acme-schedules-v2"
    assert scaffold.project_name(Path("/x/___")) == "cronflare-jobs"


def test_the_templates_are_the_listed_files_and_hold_only_the_two_placeholders():
    """Each listed file has its template, no template is left unlisted, and no other
    __PLACEHOLDER__ waits for a substitution that never comes.
    """
    templates = files(scaffold.TEMPLATES)
    assert all(t.endswith(scaffold.SUFFIX) for t in templates)
    assert {t.removesuffix(scaffold.SUFFIX) for t in templates} == set(scaffold.FILES) == WRITTEN
    for path in templates:
        found = set(re.findall(r"__[A-Z][A-Z_]*__", (scaffold.TEMPLATES / path).read_text()))
        assert found <= {scaffold.NAME, scaffold.VERSION}, path


# -- the template and this repository agree


def test_the_new_pulumi_yaml_declares_the_repositorys_config_and_template():
    """Its `config:` and `template:` sections are this repository's Pulumi.yaml's, so they cannot
    drift; its project is named cronflare, the namespace those keys are read from.
    """
    ours = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    theirs = yaml.safe_load((scaffold.TEMPLATES / "Pulumi.yaml.tmpl").read_text())
    assert theirs["config"] == ours["config"]
    assert theirs["template"] == ours["template"]
    assert theirs["name"] == ours["name"] == "cronflare"
    assert {k: theirs[k] for k in ("runtime", "main")} == {
        "runtime": {"name": "python", "options": {"toolchain": "uv"}},
        "main": "infra/",
    }
    prompts = theirs["template"]["config"]
    assert {"cronflare:accountId", "cronflare:workersSubdomain"} <= set(prompts)
    assert all(p.get("description") for p in prompts.values())


def program_statements(path: Path) -> list[str]:
    """A module's statements without its docstring: comments and blank lines aside."""
    body = ast.parse(path.read_text()).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return [ast.dump(node) for node in body]


def test_the_new_program_is_this_repositorys_program():
    """infra/__main__.py is the same program, statement for statement, through cronflare.pulumi."""
    ours = program_statements(ROOT / "infra" / "__main__.py")
    assert program_statements(scaffold.TEMPLATES / "infra" / "__main__.py.tmpl") == ours
    assert "from cronflare.pulumi import" in (ROOT / "infra" / "__main__.py").read_text()


def test_the_new_projects_python_passes_ruff(project: Path):
    """What a user starts from is lint-clean and formatted, under this repository's rules."""
    rules = ["--isolated", "--line-length", "100"]
    lint = ["--select", "E,F,W,I,B,UP,SIM,RUF,D200,D201,D202,D209,D210"]
    for argv in (["check", *rules, *lint, "."], ["format", *rules, "--check", "."]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *argv], cwd=project, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr


# -- what it writes works as written


def test_check_passes_in_the_new_project(inside: Path):
    """`cronflare check` from the new project's folder takes its catalog: one job, hello."""
    r = runner.invoke(cli.app, ["check", "--json"])
    assert r.exit_code == 0, r.output
    assert [j["name"] for j in json.loads(r.stdout)["jobs"]] == ["hello"]
    assert runner.invoke(cli.app, ["check"]).exit_code == 0


def test_the_dev_stack_passes_check_once_its_placeholders_are_filled(inside: Path):
    """Before: one line for each of the two placeholders, exit 1. After: exit 0."""
    r = runner.invoke(cli.app, ["check", "--stack", "dev"])
    assert r.exit_code == 1
    assert [line.split(":")[1] for line in r.stderr.splitlines()] == [
        "accountId",
        "workersSubdomain",
    ]
    fill_placeholders(inside)
    r = runner.invoke(cli.app, ["check", "--stack", "dev"])
    assert r.exit_code == 0, r.output
    assert "stack dev runs in native mode" in r.stdout


def test_exec_runs_the_example_job_here(inside: Path):
    """`cronflare exec hello` runs its handler once and prints the summary it returned."""
    r = runner.invoke(cli.app, ["exec", "hello", "--json"])
    assert r.exit_code == 0, r.output
    outcome = json.loads(r.stdout)
    assert outcome["status"] == "succeeded"
    assert json.loads(outcome["result"])["said"].startswith("hello at ")


def run_its_tests(project: Path) -> subprocess.CompletedProcess[str]:
    """The project's own pytest, in its folder, by the python that has cronflare installed."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-rs", "-p", "no:cacheprovider"],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_new_projects_own_tests_pass(project: Path):
    """tests/test_catalog.py checks the catalog and runs hello once: both pass as written."""
    done = run_its_tests(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_catalog.py::test_the_catalog_passes_cronflare_check PASSED" in done.stdout
    assert "test_catalog.py::test_the_handler_runs_once_here[hello] PASSED" in done.stdout


def test_the_new_projects_tests_skip_a_target_job_and_say_why(project: Path):
    """A job that targets a function deployed on Modal has no handler to run: skipped, with why."""
    with (project / "jobs" / "catalog.py").open("a") as catalog:
        catalog.write(TARGET_JOB)
    done = run_its_tests(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_the_handler_runs_once_here[invoice-sync] SKIPPED" in done.stdout
    assert (
        "job invoice-sync: target: it runs billing/sync_invoices, deployed on Modal outside "
        "cronflare; `cronflare exec` runs handlers only"
    ) in done.stdout
    assert "2 passed, 1 skipped" in done.stdout


# The project's infra/__main__.py under this repository's mocks (tests/infra/program_harness.py),
# with its own Pulumi.yaml defaults and dev stack, in its own folder.
UNDER_MOCKS = f"""
import json, sys
from pathlib import Path

import pytest, yaml

sys.path.insert(0, {str(ROOT)!r})
from tests.infra import program_harness as harness
sys.path.pop(0)

harness.MAIN = Path("infra/__main__.py").resolve()
declared = yaml.safe_load(Path("Pulumi.yaml").read_text())["config"]
config = {{k: d["default"] for k, d in declared.items() if "default" in d}}
stack = yaml.safe_load(Path("Pulumi.dev.yaml").read_text())["config"]
config.update({{k.partition(":")[2]: v for k, v in stack.items()}})
with pytest.MonkeyPatch.context() as mp:
    run = harness.run_program("dev", config, monkeypatch=mp)
files = run.one(harness.SCRIPT).inputs["files"]
print(json.dumps({{
    "types": sorted({{r.typ for r in run.resources}}),
    "exports": sorted(run.exports),
    "plan": __import__("base64").b64decode(files["plan.js"]["contentBase64"]).decode(),
}}))
"""


@pytest.mark.skipif(
    not (ROOT / "cronflare" / "pulumi" / "__init__.py").is_file(),
    reason="cronflare.pulumi has not landed yet: run this test once it has",
)
def test_the_new_projects_pulumi_program_makes_the_schedulers_resources(project: Path):
    """Its infra/__main__.py, under mocks with the dev stack filled in, registers the Scheduler
    and its Worker, triggers, queues, D1 and Modal app, from its own catalog.
    """
    from tests.infra import program_harness as harness

    fill_placeholders(project)
    done = subprocess.run(
        [sys.executable, "-c", UNDER_MOCKS],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    made = json.loads(done.stdout.splitlines()[-1])
    expected = {harness.COMPONENT, harness.SCRIPT, harness.TRIGGERS, harness.QUEUE,
                harness.CONSUMER, harness.D1, harness.SUBDOMAIN, harness.PASSWORD,
                harness.MODAL, harness.MIGRATIONS}  # fmt: skip
    assert expected <= set(made["types"]), made["types"]
    assert {"workerUrl", "dispatcherUrl", "schedulesToken", "adminToken"} <= set(made["exports"])
    assert '"hello"' in made["plan"] and "weekly-report" not in made["plan"]
