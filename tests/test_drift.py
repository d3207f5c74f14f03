"""`cronflare drift`: preview JSON in, drifted resources and exit 0/1/2 out; the CI workflows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cronflare import cli, drift
from tests import ROOT

runner = CliRunner()
FIXTURES = ROOT / "tests" / "fixtures" / "preview"
WORKFLOWS = ROOT / ".github" / "workflows"
URN = "urn:pulumi:prod::cronflare::"
CHILD = URN + "cronflare:index:Scheduler$"
LOGIN_ERROR = "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions"
ARGV = ["pulumi", "preview", "--refresh", "--expect-no-changes", "--json", "--stack", "prod"]

MIX_ROWS = [
    (
        CHILD + "random:index/randomPassword:RandomPassword::cronflare-prod-signing-key-1",
        "random:index/randomPassword:RandomPassword",
        "delete",
        "",
    ),
    (
        CHILD + "cloudflare:index/d1Database:D1Database::cronflare-prod-db",
        "cloudflare:index/d1Database:D1Database",
        "replace",
        "name",
    ),
    (
        CHILD + "cloudflare:index/workersScript:WorkersScript::cronflare-prod-worker",
        "cloudflare:index/workersScript:WorkersScript",
        "update",
        "bindings; changed outside Pulumi: bindings[2].text",
    ),
    (
        CHILD + "cloudflare:index/queueConsumer:QueueConsumer::cronflare-prod-jobs-dlq-consumer",
        "cloudflare:index/queueConsumer:QueueConsumer",
        "update",
        "settings",
    ),
    (
        CHILD + "cloudflare:index/workersCronTrigger:WorkersCronTrigger::cronflare-prod-triggers",
        "cloudflare:index/workersCronTrigger:WorkersCronTrigger",
        "update",
        "schedules[3]",
    ),
    (
        CHILD + "pulumi-python:dynamic/cronflare:ModalDeployment::cronflare-prod-modal",
        "pulumi-python:dynamic/cronflare:ModalDeployment",
        "create",
        "deleted outside Pulumi",
    ),
]


def fixture(name: str) -> str:
    return str(FIXTURES / name)


def run(*args: str):
    return runner.invoke(cli.app, ["drift", *args])


def report(name: str) -> drift.DriftReport:
    return drift.read_preview_file(fixture(name))


@pytest.fixture
def pulumi(monkeypatch: pytest.MonkeyPatch):
    """Replace the pulumi subprocess: set `result` (a PulumiRun or an exception); calls recorded."""

    class Fake:
        def __init__(self) -> None:
            self.result: drift.PulumiRun | Exception = drift.PulumiRun(0, "", "")
            self.calls: list[tuple[list[str], Path]] = []

        def __call__(self, argv: list[str], cwd: Path) -> drift.PulumiRun:
            self.calls.append((argv, cwd))
            if isinstance(self.result, Exception):
                raise self.result
            return self.result

    fake = Fake()
    monkeypatch.setattr(drift, "run_pulumi", fake)
    return fake


# --- what counts as drift ---------------------------------------------------------------------


def test_all_same_with_stack_and_providers_is_no_drift():
    """Only same steps and unchanged refreshes, root stack and providers included: no drift."""
    r = report("no_drift.json")
    assert not r.drifted and r.exit_code == 0 and r.resources == []
    assert r.checked == 13  # 12 resources and the component; the stack and providers are plumbing


def test_mix_rows_are_urn_type_op_and_properties_in_preview_order():
    """The mix fixture gives one row per drifted resource: URN, type, op and properties."""
    assert drift.table_rows(report("drift_mix.json")) == MIX_ROWS


def test_replace_steps_collapse_to_one_replace_row():
    """create-replacement, replace and delete-replaced for one URN are one "replace" row."""
    steps = json.loads(Path(fixture("drift_mix.json")).read_text())["steps"]
    db = MIX_ROWS[1][0]
    assert [s["op"] for s in steps if s["urn"] == db] == [
        "refresh", "create-replacement", "replace", "delete-replaced"
    ]  # fmt: skip
    rows = [row for row in drift.table_rows(report("drift_mix.json")) if row[0] == db]
    assert rows == [(db, "cloudflare:index/d1Database:D1Database", "replace", "name")]


def test_a_refresh_change_with_a_final_same_is_refresh_only_drift():
    """A refresh that changed inputs, with nothing for `pulumi up` to do, is refresh-only drift."""
    r = report("refresh_only.json")
    assert r.exit_code == 1
    assert [(x.name, x.op, x.properties) for x in r.resources] == [
        ("cronflare-prod-worker", "refresh-only", ["logpush"]),
        ("cronflare-prod-jobs-consumer", "refresh-only", ["settings.maxConcurrency"]),
    ]
    assert "pulumi up` would leave it" in r.verdict("stack prod")


def test_an_output_only_refresh_change_is_not_drift():
    """The D1 file size growing changes outputs only: not drift (the D1 is not in the rows)."""
    assert all("d1Database" not in x.type for x in report("refresh_only.json").resources)


def test_properties_come_from_detailed_diff_then_diff_reasons_then_inputs():
    """detailedDiff keys win over diffReasons, which win over comparing old and new inputs."""
    old = {"inputs": {"a": 1, "b": 2, "c": 3}}
    new = {"inputs": {"a": 1, "b": 5, "c": 4}}
    step: dict[str, Any] = {"op": "update", "urn": "u", "oldState": old, "newState": new}
    assert drift.changed_properties(drift.PreviewStep.model_validate(step)) == ["b", "c"]
    step["diffReasons"] = ["b"]
    assert drift.changed_properties(drift.PreviewStep.model_validate(step)) == ["b"]
    step["detailedDiff"] = {"b.x": {"kind": "update", "inputDiff": True}}
    assert drift.changed_properties(drift.PreviewStep.model_validate(step)) == ["b.x"]


def test_stack_and_provider_changes_still_count():
    """The root stack and providers are ignored only while same: a provider update is drift."""
    provider = URN + "pulumi:providers:cloudflare::default_6_23_1"
    doc = {"steps": [{"op": "same", "urn": URN + "pulumi:pulumi:Stack::cronflare-prod"},
                     {"op": "update", "urn": provider, "diffReasons": ["version"]}]}  # fmt: skip
    r = drift.summarise(drift.parse_preview(json.dumps(doc)))
    assert [(x.type, x.op, x.properties) for x in r.resources] == [
        ("pulumi:providers:cloudflare", "update", ["version"])
    ]


def test_unknown_fields_are_tolerated():
    """Fields a newer Pulumi adds, at any level, are ignored rather than refused."""
    doc = {"version": 9, "steps": [{"op": "same", "urn": "u", "new": True, "oldState": {"x": 1}}]}
    assert not drift.summarise(drift.parse_preview(json.dumps(doc))).drifted


def test_counted_changes_without_steps_cannot_be_called_clean():
    """A changeSummary with changes but no step to explain them is "cannot check", not clean."""
    with pytest.raises(drift.DriftCheckError, match=r"counts changes \(2 update\)"):
        drift.summarise(drift.parse_preview('{"changeSummary": {"same": 3, "update": 2}}'))


# --- --from-json: exit codes ------------------------------------------------------------------


def test_from_json_without_drift_exits_0_with_the_verdict():
    """No drift: exit 0 and a one-line verdict, no table."""
    r = run("--from-json", fixture("no_drift.json"))
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("no drift: ") and "┃" not in r.stdout


def test_from_json_with_drift_exits_1_with_the_table_and_verdict():
    """Drift: exit 1, the table of drifted resources, then the verdict."""
    r = run("--from-json", fixture("drift_mix.json"))
    assert r.exit_code == 1, r.output
    assert "cronflare-prod-worker" in r.stdout and "schedules[3]" in r.stdout
    verdict = " ".join(r.stdout.split())  # the verdict wraps at the console's width
    assert "6 resources differ (1 create, 1 delete, 1 replace, 3 update)" in verdict


def test_from_json_json_output_is_the_summary_for_machines():
    """--json prints status, exit code and the drifted resources as JSON."""
    r = run("--from-json", fixture("drift_mix.json"), "--json")
    data = json.loads(r.stdout)
    assert r.exit_code == 1 and data["status"] == "drift" and data["exit_code"] == 1
    assert [(x["urn"], x["type"], x["op"]) for x in data["resources"]] == [
        row[:3] for row in MIX_ROWS
    ]
    assert data["resources"][5]["deleted_outside"] is True


def test_from_json_markdown_is_a_table_for_the_step_summary():
    """--markdown prints a Markdown table and the verdict in bold."""
    r = run("--from-json", fixture("drift_mix.json"), "--markdown")
    lines = r.stdout.splitlines()
    assert r.exit_code == 1 and lines[0] == "| URN | type | operation | properties |"
    assert lines[2] == f"| `{MIX_ROWS[0][0]}` | `{MIX_ROWS[0][1]}` | delete |  |"
    assert lines[-1].startswith("**drift in ")


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (None, "not valid JSON"),  # the malformed fixture: a preview cut off mid-document
        ("", "the preview JSON is empty"),
        ("[]", "not a `pulumi preview --json` document"),
        ('{"stack": "prod"}', "not a `pulumi preview --json` document"),
        ('{"steps": [{"urn": "u"}]}', "not shaped like a pulumi preview: steps.0.op"),
    ],
)
def test_from_json_that_is_not_a_preview_exits_2_naming_the_cause(
    tmp_path: Path, content: str | None, cause: str
):
    """Invalid, empty or wrongly shaped JSON: exit 2, "cannot check drift: <cause>"."""
    path = fixture("malformed.json")
    if content is not None:
        path = str(tmp_path / "preview.json")
        Path(path).write_text(content)
    r = run("--from-json", path)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith("cannot check drift: ") and cause in r.stderr


def test_a_failed_preview_exits_2_with_its_error_diagnostics(tmp_path: Path):
    """A preview that failed (error diagnostics) says nothing about drift: exit 2."""
    doc = {"steps": [], "diagnostics": [
        {"message": "job weekly: schedule: bad cron\n", "severity": "error"},
        {"message": "a warning", "severity": "warning"},
    ], "changeSummary": {}}  # fmt: skip
    path = tmp_path / "failed.json"
    path.write_text(json.dumps(doc))
    r = run("--from-json", str(path), "--json")
    assert r.exit_code == 2 and json.loads(r.stdout)["status"] == "error"
    assert "job weekly: schedule: bad cron" in r.stderr and "a warning" not in r.stderr


def test_a_missing_file_exits_2():
    """A --from-json path that does not exist: exit 2 naming the file."""
    r = run("--from-json", "no/such/preview.json")
    assert r.exit_code == 2 and "cannot read no/such/preview.json" in r.stderr


def test_from_json_reads_stdin_for_a_dash():
    """--from-json - reads the preview from stdin."""
    text = Path(fixture("no_drift.json")).read_text()
    r = runner.invoke(cli.app, ["drift", "--from-json", "-"], input=text)
    assert r.exit_code == 0 and r.stdout.startswith("no drift: ")


def test_exactly_one_source_is_required():
    """Neither or both of --stack and --from-json is a usage error (exit 2)."""
    assert run().exit_code == 2
    assert run("--stack", "prod", "--from-json", fixture("no_drift.json")).exit_code == 2


# --- --stack: the pulumi subprocess -----------------------------------------------------------


def test_stack_runs_the_refreshing_preview_from_the_project_root(pulumi, monkeypatch):
    """--stack runs exactly `pulumi preview --refresh --expect-no-changes --json --stack S` in
    the folder holding Pulumi.yaml, even from a subfolder.
    """
    monkeypatch.chdir(ROOT / "infra")
    pulumi.result = drift.PulumiRun(0, Path(fixture("no_drift.json")).read_text(), "")
    r = run("--stack", "prod")
    assert r.exit_code == 0, r.output
    assert pulumi.calls == [(ARGV, ROOT)]
    assert r.stdout.startswith("no drift: stack prod matches")


def test_stack_without_the_pulumi_cli_exits_2(pulumi):
    """No pulumi on PATH: exit 2 and where to install it."""
    pulumi.result = FileNotFoundError(2, "No such file or directory", "pulumi")
    r = run("--stack", "prod")
    assert r.exit_code == 2
    assert r.stderr.strip() == (
        "cannot check drift: the pulumi CLI is not installed (https://www.pulumi.com/docs/install/)"
    )


def test_stack_login_failure_exits_2_with_pulumis_stderr(pulumi):
    """A login failure (non-zero exit, no JSON) is exit 2, with the cause and pulumi's stderr."""
    pulumi.result = drift.PulumiRun(255, "", LOGIN_ERROR + "\n")
    r = run("--stack", "prod")
    assert r.exit_code == 2
    assert r.stderr.splitlines() == [
        "cannot check drift: `pulumi preview` exited 255 with no preview JSON: not logged in to "
        "Pulumi: run `pulumi login`, or set PULUMI_ACCESS_TOKEN",
        "  " + LOGIN_ERROR,
    ]


def test_stack_login_failure_in_markdown_names_the_cause(pulumi):
    """With --markdown, a failure is also written as Markdown on stdout for the step summary."""
    pulumi.result = drift.PulumiRun(255, "", LOGIN_ERROR + "\n")
    r = run("--stack", "prod", "--markdown")
    assert r.exit_code == 2 and r.stdout.startswith("**cannot check drift** of stack prod: ")
    assert LOGIN_ERROR in r.stdout


def test_stack_not_found_exits_2(pulumi):
    """An unknown stack: exit 2 naming it as the cause."""
    pulumi.result = drift.PulumiRun(255, "", "error: no stack named 'prod' found\n")
    r = run("--stack", "prod")
    assert r.exit_code == 2 and "no such stack in this Pulumi backend" in r.stderr


def test_stack_drift_with_a_non_zero_exit_is_drift_not_failure(pulumi):
    """--expect-no-changes makes pulumi exit non-zero on drift, with the JSON: that is exit 1."""
    stderr = "error: no changes were expected but changes were proposed\n"
    pulumi.result = drift.PulumiRun(255, Path(fixture("drift_mix.json")).read_text(), stderr)
    r = run("--stack", "prod", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["status"] == "drift"


def test_stack_refresh_only_drift_with_exit_0_is_still_drift(pulumi):
    """pulumi may exit 0 when only the refresh changed: the JSON, not the exit code, decides."""
    pulumi.result = drift.PulumiRun(0, Path(fixture("refresh_only.json")).read_text(), "")
    assert run("--stack", "prod").exit_code == 1


def test_stack_program_failure_exits_2_with_the_programs_error(pulumi):
    """A program that fails prints JSON with error diagnostics: exit 2 quoting them."""
    doc = {"steps": [], "diagnostics": [{"severity": "error", "message":
           "job weekly: schedule: day-of-week field '8' is not valid\n"}]}  # fmt: skip
    pulumi.result = drift.PulumiRun(255, json.dumps(doc), "")
    r = run("--stack", "prod")
    assert r.exit_code == 2
    assert r.stderr.splitlines() == [
        "cannot check drift: the preview failed, so it says nothing about drift",
        "  job weekly: schedule: day-of-week field '8' is not valid",
    ]


def test_stack_clean_json_with_a_non_zero_exit_cannot_be_trusted(pulumi):
    """A non-zero exit whose JSON shows no drift is exit 2, not a clean bill."""
    pulumi.result = drift.PulumiRun(1, Path(fixture("no_drift.json")).read_text(), "boom\n")
    r = run("--stack", "prod")
    assert r.exit_code == 2 and "boom" in r.stderr


# --- the GitHub workflows ---------------------------------------------------------------------


def workflow(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def committed_stacks() -> list[str]:
    return sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))


def steps_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in doc["jobs"].values() for step in job["steps"]]


def test_ci_workflow_runs_the_ci_script_on_push_and_pull_requests():
    """ci.yml: push and pull_request, Python 3.11, then `bash .ci/run`."""
    doc = workflow("ci.yml")
    assert {"push", "pull_request"} <= set(doc["on"])
    steps = steps_of(doc)
    python = [s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python@")]
    assert python and str(python[0]["with"]["python-version"]) == "3.11"
    assert any(s.get("run", "").strip() == "bash .ci/run" for s in steps)


def test_preview_workflow_previews_every_committed_stack_on_pull_requests():
    """preview.yml: pull_request, a matrix of the committed stacks, pulumi/actions preview."""
    doc = workflow("preview.yml")
    assert "pull_request" in doc["on"]
    (job,) = doc["jobs"].values()
    assert job["strategy"]["matrix"]["stack"] == committed_stacks()
    (action,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@")]
    assert action["with"]["command"] == "preview"
    assert action["with"]["stack-name"] == "${{ matrix.stack }}"
    assert action["with"]["comment-on-pr"] is True and action["with"]["diff"] is True
    env = {**job.get("env", {}), **action.get("env", {})}
    for secret in ("CLOUDFLARE_API_TOKEN", "MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET",
                   "PULUMI_ACCESS_TOKEN"):  # fmt: skip
        assert env[secret] == f"${{{{ secrets.{secret} }}}}"


def test_drift_workflow_runs_cronflare_drift_on_a_schedule_for_every_stack():
    """drift.yml: scheduled and manual, every committed stack, `cronflare drift --stack`."""
    doc = workflow("drift.yml")
    assert doc["on"]["schedule"][0]["cron"] and "workflow_dispatch" in doc["on"]
    assert doc["permissions"] == {"contents": "read"} and doc["concurrency"]
    (job,) = doc["jobs"].values()
    assert job["strategy"]["matrix"]["stack"] == committed_stacks()
    runs = "\n".join(s.get("run", "") for s in job["steps"])
    assert 'cronflare drift --stack "$STACK"' in runs and "GITHUB_STEP_SUMMARY" in runs
    assert any(str(s.get("uses", "")).startswith("pulumi/actions@") for s in job["steps"])
