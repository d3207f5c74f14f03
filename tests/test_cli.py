"""The `cronflare` CLI through typer's runner, plus one run of the installed console script."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cronflare import cli
from cronflare.catalog.model import Image
from cronflare.plan import DeployPlan
from tests import ROOT

runner = CliRunner()

BAD_CATALOG = """
from cronflare import Catalog, Job
H = "jobs.handlers.ops:monitor"
CATALOG = Catalog(jobs=[
    Job(name="weekly", description="d", handler=H, schedule="0 9 * * 8"),
    Job(name="berlin", description="d", handler=H, schedule="@daily", timezone="Europe/Berln"),
    Job(name="weekly", description="d", handler=H, every="45m"),
])
"""
UTC_CATALOG = """
from cronflare import Catalog, Job
H = "jobs.handlers.ops:monitor"
CATALOG = Catalog(jobs=[
    Job(name=f"j{h}", description="d", handler=H, schedule=f"0 {h} * * 1") for h in range(7)
])
"""

CODE_CATALOG = """
from cronflare import Catalog, Image, Job
H = "jobs.handlers.ops:monitor"
CATALOG = Catalog(jobs=[
    Job(name="plain", description="d", handler=H, schedule="@hourly"),
    Job(name="spec", description="d", handler=H, schedule="@daily",
        image=Image(pip=["pandas==2.2.3"], apt=["ffmpeg"]), volumes={"/data": "warehouse-cache"}),
    Job(name="ref", description="d", handler=H, schedule="@daily",
        image="tests.fixtures.cli_images:IMAGE"),
    Job(name="remote", description="d", target="etl/run", schedule="0 2 * * *"),
])
"""

# Brackets rich would read as markup, in each user string check and plan print.
MARKUP_CATALOG = """
from cronflare import Catalog, Image, Job
H = "jobs.handlers.ops:monitor"
CATALOG = Catalog(jobs=[
    Job(name="pg", description="loads [bold]rows[/] with psycopg[binary]", handler=H,
        schedule="@daily", image=Image(pip=["psycopg[binary]==3.2.10", "rich[bold]"]),
        volumes={"/data/[bold]/[/]": "cache"}),
    Job(name="bad", description="[/]", handler=H, schedule="@daily",
        image=Image(pip=["psycopg[/]"])),
])
"""


def run(*args: str, env: dict | None = None):
    return runner.invoke(cli.app, list(args), env=env)


@pytest.fixture
def bad_catalog(tmp_path: Path) -> str:
    path = tmp_path / "bad_catalog.py"
    path.write_text(BAD_CATALOG)
    return str(path)


def test_check_accepts_the_example_catalog():
    r = run("check")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("ok: 15 jobs (15 enabled) in jobs.catalog:CATALOG; stack local")


def test_check_reads_a_stack_file():
    r = run("check", "--stack", "dev")
    assert r.exit_code == 0 and "(12 enabled)" in r.stdout and "stack dev" in r.stdout


def test_check_reports_every_problem_one_line_each_without_traceback(bad_catalog: str):
    r = run("check", "--catalog", bad_catalog)
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        "job weekly: name: is used by 2 jobs; job names must be unique",
        "job weekly: schedule: day-of-week field '8' is not valid; it takes 0-7 (0 and 7 are "
        "Sunday) or SUN-SAT, with nL (last) or n#k (k-th), and * , - / as usual",
        "job berlin: timezone: unknown IANA timezone 'Europe/Berln' (did you mean Europe/Berlin?)",
        "job weekly: every: every='45m' (45m) does not divide an hour or a day evenly, so it could "
        "not land on the same minutes every hour or day; use 1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or "
        "30 minutes, or 1, 2, 3, 4, 6, 8, 12 or 24 hours, or write a cron schedule",
    ]
    assert "Traceback" not in r.output


def test_the_environment_variable_selects_the_catalog(bad_catalog: str):
    r = run("check", env={"CRONFLARE_CATALOG": bad_catalog})
    assert r.exit_code == 1 and "job weekly:" in r.stderr


def test_a_catalog_that_cannot_be_imported_is_one_line(tmp_path: Path):
    r = run("check", "--catalog", "no_such_module:CATALOG")
    assert r.exit_code == 1
    assert r.stderr.strip() == (
        "catalog: no_such_module:CATALOG: cannot import: ModuleNotFoundError: "
        "No module named 'no_such_module'"
    )
    typo = tmp_path / "typo.py"
    typo.write_text(
        "from cronflare import Resources\nR = Resources(cpu=1)\nBIG = Resources(gpu='T5')\n"
    )
    r = run("check", "--catalog", str(typo))
    assert r.exit_code == 1
    assert r.stderr.startswith("catalog typo.py:3: Resources: gpu: unknown GPU 'T5'")


def test_next_json_prints_utc_instants():
    r = run("next", "weekly-report", "--json", "--after", "2026-11-20T00:00:00Z", "--count", "2")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == ["2026-11-23T09:00:00Z", "2026-11-30T09:00:00Z"]


def test_next_table_shows_local_and_utc_times():
    r = run("next", "berlin-digest", "--after", "2026-07-01T00:00:00Z", "-n", "1")
    assert r.exit_code == 0
    assert "Wed 2026-07-01 08:00 CEST" in r.stdout and "2026-07-01T06:00:00Z" in r.stdout


def test_next_without_a_job_lists_every_enabled_job():
    r = run("next", "--json", "-n", "1", "--stack", "dev")
    data = json.loads(r.stdout)
    assert "embeddings-refresh" not in data and len(data) == 12


def test_next_unknown_job_and_bad_time():
    assert (
        run("next", "nope").stderr.strip() == "job nope: name: no such job in jobs.catalog:CATALOG"
    )
    r = run("next", "monitoring", "--after", "yesterday")
    assert r.exit_code == 1 and r.stderr.strip() == "--after: 'yesterday' is not an ISO 8601 time"


def test_plan_json_is_the_deploy_plan():
    r = run("plan", "--json")
    data = json.loads(r.stdout)
    assert data["version"] == 2 and data["mode"] == "tick"
    assert data["cron_triggers"] == ["* * * * *"] and len(data["jobs"]) == 15


def test_plan_flags_override_the_stack(tmp_path: Path):
    path = tmp_path / "utc.py"
    path.write_text(UTC_CATALOG)
    free = json.loads(run("plan", "--json", "--catalog", str(path)).stdout)
    paid = json.loads(
        run("plan", "--json", "--catalog", str(path), "--cloudflare-plan", "paid").stdout
    )
    assert (free["mode"], paid["mode"]) == ("tick", "native")
    assert paid["cron_triggers"] == [f"0 {h} * * MON" for h in range(7)]
    table = run("plan", "--catalog", str(path), "--cloudflare-plan", "paid").stdout
    assert "0 3 * * MON" in table and "j3" in table


def rows(output: str) -> dict[str, list[str]]:
    """The cells of each row of the jobs' code table, by job name (rows that fit one line)."""
    table = output[output.index("What each job runs") :]
    cells = [[c.strip() for c in re.split("[│┃]", line)[1:-1]] for line in table.splitlines()]
    return {row[0]: row[1:] for row in cells if row and row[0]}


@pytest.mark.parametrize("command", ["check", "plan"])
def test_check_and_plan_show_each_jobs_code_image_and_volumes(tmp_path: Path, command: str):
    """Both commands list each job's handler or target, its image (a spec summarised, a
    reference, or the default) and its volumes.
    """
    path = tmp_path / "code.py"
    path.write_text(CODE_CATALOG)
    r = run(command, "--catalog", str(path))
    assert r.exit_code == 0, r.output
    assert rows(r.stdout) == {
        "job": ["handler or target", "image", "volumes"],
        "plain": ["jobs.handlers.ops:monitor", "default", ""],
        "spec": ["jobs.handlers.ops:monitor", "pip: pandas==2.2.3; apt: ffmpeg",
                 "/data=warehouse-cache"],
        "ref": ["jobs.handlers.ops:monitor", "ref: tests.fixtures.cli_images:IMAGE", ""],
        "remote": ["target etl/run", "the target's own", ""],
    }  # fmt: skip


def test_check_and_plan_name_a_targets_environment_and_a_disabled_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A target in another Modal environment says so; a job the stack disables is marked."""
    path = tmp_path / "env.py"
    path.write_text(
        CODE_CATALOG.replace('target="etl/run",', 'target="etl/run", target_environment="data",')
    )
    (tmp_path / "Pulumi.yaml").write_text("name: cronflare\n")
    (tmp_path / "Pulumi.t.yaml").write_text(
        json.dumps({"config": {"cronflare:accountId": "0" * 32, "cronflare:workersSubdomain": "a",
                               "cronflare:jobs": {"plain": {"enabled": False}}}})
    )  # fmt: skip
    monkeypatch.chdir(tmp_path)
    for command in ("check", "plan"):
        r = run(command, "--catalog", str(path), "--stack", "t")
        assert r.exit_code == 0, r.output
        got = rows(r.stdout)
        assert got["remote"][0] == "target etl/run (environment data)", command
        assert got["plain (disabled)"] == ["jobs.handlers.ops:monitor", "default", ""], command


@pytest.mark.parametrize("command", ["check", "plan"])
def test_check_and_plan_print_pip_specs_paths_and_problems_as_they_are(
    tmp_path: Path, command: str
):
    """`psycopg[binary]==3.2.10` stays whole (it used to print as `psycopg==3.2.10`), `[bold]`
    and `[/]` too, in the table and in a problem's line.
    """
    path = tmp_path / "markup.py"
    path.write_text(MARKUP_CATALOG)
    r = run(command, "--catalog", str(path))
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        "job bad: image: pip requirement 'psycopg[/]' is not valid: Expected matching "
        "RIGHT_BRACKET for LEFT_BRACKET, after extras"
    ]
    path.write_text(MARKUP_CATALOG.replace('"psycopg[/]"', '"psycopg[pool]"'))
    r = run(command, "--catalog", str(path))
    assert r.exit_code == 0, r.output
    got = rows(r.stdout)
    assert got["pg"] == ["jobs.handlers.ops:monitor", "pip: psycopg[binary]==3.2.10, rich[bold]",
                         "/data/[bold]/[/]=cache"]  # fmt: skip
    assert got["bad"][1] == "pip: psycopg[pool]"


def test_check_stack_refuses_what_pulumi_up_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A stack file without workersSubdomain passed `check --stack`, and then `pulumi up`
    refused it; now both refuse it, with the same line. Plain `check` needs no account.
    """
    (tmp_path / "Pulumi.yaml").write_text("name: cronflare\n")
    (tmp_path / "Pulumi.t.yaml").write_text(
        json.dumps({"config": {"cronflare:accountId": "0" * 32}})
    )
    monkeypatch.chdir(tmp_path)
    r = run("check", "--stack", "t", "--catalog", str(ROOT / "jobs" / "catalog.py"))
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr.splitlines() == [
        "config cronflare:workersSubdomain: required: your account's workers.dev subdomain "
        "(Workers & Pages → Overview → Subdomain); set it with "
        "`pulumi config set cronflare:workersSubdomain <subdomain>`"
    ]
    r = run("check", "--catalog", str(ROOT / "jobs" / "catalog.py"))
    assert r.exit_code == 0 and "stack local" in r.stdout, r.output


@pytest.mark.parametrize("command", ["check", "plan"])
def test_check_and_plan_json_carry_each_jobs_code_image_and_volumes(tmp_path: Path, command: str):
    """`--json` says what the table says, for machines: `plan --json` in the DeployPlan's
    modal_jobs (not in the Worker's view, plan.js), `check --json` in its jobs.
    """
    path = tmp_path / "code.py"
    path.write_text(CODE_CATALOG)
    data = json.loads(run(command, "--json", "--catalog", str(path)).stdout)
    jobs = {j["name"]: j for j in data["modal_jobs" if command == "plan" else "jobs"]}
    assert jobs["spec"]["image"] == {"python": None, "pip": ["pandas==2.2.3"], "apt": ["ffmpeg"],
                                     "commands": [], "env": {}}  # fmt: skip
    assert jobs["spec"]["volumes"] == {"/data": "warehouse-cache"}
    assert jobs["ref"]["image"] == "tests.fixtures.cli_images:IMAGE"
    assert (jobs["remote"]["target"], jobs["remote"]["handler"]) == ("etl/run", None)
    assert (
        jobs["plain"]["image"] is None and jobs["plain"]["handler"] == "jobs.handlers.ops:monitor"
    )
    if command == "plan":
        plan_ = DeployPlan.model_validate(data)  # refuses unknown keys
        assert "modal_jobs" not in plan_.worker_config()
        assert "image" not in data["jobs"][1] and "volumes" not in data["jobs"][1]
    else:
        assert all(j["enabled"] for j in jobs.values()) and data["stack"] == "local"


@pytest.mark.parametrize(
    ("image", "summary"),
    [
        (None, "default"),
        ("pkg.images:gpu", "ref: pkg.images:gpu"),
        (Image(), "spec: debian_slim only"),
        (Image(pip=["pandas==2.2.3", "pyarrow"]), "pip: pandas==2.2.3, pyarrow"),
        (
            Image(python="3.12", apt=["ffmpeg"], commands=["a", "b"], env={"TZ": "UTC", "X": "1"}),
            "python 3.12; apt: ffmpeg; 2 command(s); env: TZ, X",
        ),
    ],
)
def test_an_image_is_summarised_in_one_line(image: Image | str | None, summary: str):
    assert cli.image_summary(image) == summary


def test_plan_native_that_cannot_be_exits_1():
    r = run("plan", "--mode", "native")
    assert r.exit_code == 1
    assert r.stderr.splitlines()[-1].startswith(
        "config cronflare:triggerMode: native mode is impossible"
    )


def test_an_internal_error_is_one_line_with_exit_2(monkeypatch, capsys):
    def boom(*args, **kwargs):
        raise RuntimeError("kaput")

    monkeypatch.setattr(cli, "load_catalog", boom)
    monkeypatch.setattr(sys, "argv", ["cronflare", "check"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == "cronflare: internal error: RuntimeError: kaput"


def test_the_installed_console_script_runs():
    exe = Path(sys.executable).with_name("cronflare")
    r = subprocess.run([str(exe), "check"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("ok: 15 jobs"), r.stderr


EXEC_CATALOG = """
from cronflare import Catalog, Job, RetryPolicy

CATALOG = Catalog(jobs=[
    Job(name="ok", description="d", schedule="@daily", handler="tests.fixtures.handlers:echo",
        args={"greeting": "hello"}),
    Job(name="bad", description="d", schedule="@daily", handler="tests.fixtures.handlers:boom",
        retries=RetryPolicy(attempts=3)),
])
"""


def test_exec_runs_a_handler_once_here_with_its_args_or_the_given_ones(tmp_path: Path):
    """exec prints the handler's result summary and how long it took; --args replaces args."""
    path = tmp_path / "catalog.py"
    path.write_text(EXEC_CATALOG)
    r = run("exec", "ok", "--catalog", str(path))
    assert r.exit_code == 0, r.output
    assert re.fullmatch(
        r'succeeded in [\d.]+ (ms|s): \{"args":\{"greeting":"hello"\}\}\n', r.stdout
    )
    data = json.loads(
        run("exec", "ok", "--catalog", str(path), "--args", '{"n": 1}', "--json").stdout
    )
    assert data["status"] == "succeeded" and data["result"] == '{"args":{"n":1}}'
    assert data["seconds"] >= 0 and data["started_at"] <= data["finished_at"]


def test_exec_exits_1_with_the_error_of_a_failing_handler_tried_once(tmp_path: Path):
    """A failing handler runs once (no retries: this is a try), and its error is the output."""
    path = tmp_path / "catalog.py"
    path.write_text(EXEC_CATALOG)
    r = run("exec", "bad", "--catalog", str(path))
    assert r.exit_code == 1
    failed = r"failed in [\d.]+ (ms|s): RuntimeError: could not connect with token \S*\n"
    assert re.fullmatch(failed, r.stderr)


def test_exec_refuses_a_target_job_and_an_unknown_one_in_one_line():
    """A target runs on Modal, outside cronflare: exec says so and runs nothing."""
    r = run("exec", "invoice-sync")
    assert r.exit_code == 1 and r.stderr.splitlines() == [
        "job invoice-sync: target: it runs billing/sync_invoices, deployed on Modal outside "
        "cronflare; `cronflare exec` runs handlers only (call the deployed function with "
        "`modal run`)"
    ]
    assert (
        run("exec", "nope").stderr.strip() == "job nope: name: no such job in jobs.catalog:CATALOG"
    )


def test_a_catalog_imports_from_the_current_directory_without_pythonpath(tmp_path: Path):
    """As with uvicorn and `modal run`: the installed script, run in a project's folder, imports
    the project's package by module path or by file, and its handlers with it.
    """
    pkg = tmp_path / "myjobs"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "handlers.py").write_text(
        "def hello(ctx):\n    return {'job': ctx.job, 'args': dict(ctx.args)}\n"
    )
    (pkg / "catalog.py").write_text(
        "from cronflare import Catalog, Job\nfrom myjobs import handlers\n\n"
        "CATALOG = Catalog(jobs=[Job(name='hello', description='d', schedule='@hourly', "
        "handler=handlers.hello, args={'who': 'me'})])\n"
    )
    exe = Path(sys.executable).with_name("cronflare")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CRONFLARE_CATALOG")}

    def cli(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(exe), *args], cwd=tmp_path, env=env | extra,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    by_module = cli("check", CRONFLARE_CATALOG="myjobs.catalog:CATALOG")
    assert by_module.returncode == 0 and by_module.stdout.startswith("ok: 1 jobs"), by_module.stderr
    by_file = cli("check", "--catalog", "myjobs/catalog.py")
    assert by_file.returncode == 0, by_file.stderr
    ran = cli("exec", "hello", "--catalog", "myjobs/catalog.py")
    assert ran.returncode == 0 and '{"job":"hello","args":{"who":"me"}}' in ran.stdout, ran.stderr
