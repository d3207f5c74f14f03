"""The real Pulumi program under mocks: each resource's real inputs, example stacks and more."""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from typer.testing import CliRunner

from cronflare import cli
from cronflare.bundle import worker_bundle
from cronflare.catalog.loader import load_catalog
from cronflare.plan import plan
from cronflare.runtime.signing import PURPOSES, purpose_key
from cronflare.settings import load_stack_settings
from tests.infra.program_harness import (
    ACCOUNT,
    COMPONENT,
    CONSUMER,
    D1,
    MIGRATIONS,
    MODAL,
    PASSWORD,
    QUEUE,
    ROOT,
    SCHEDULER_RESOURCES,
    SCRIPT,
    SUBDOMAIN,
    TRIGGERS,
    Run,
    mock_dispatcher_url,
    mock_secret,
    run_program,
    stack_config,
)

HOOK = "https://hooks.example.com/services/T0/B0/very-secret-token"
GENERATED = str(ROOT / "tests" / "fixtures" / "generated_catalog.py")
BROKEN = str(ROOT / "tests" / "fixtures" / "broken_catalog.py")
EXPECTED_KINDS = {
    "DB": "d1",
    "JOBS_QUEUE": "queue",
    "DISPATCH_URL": "plain_text",
    "PUBLIC_URL": "plain_text",
    "SIGNING_KEY": "secret_text",
    "ADMIN_TOKEN": "secret_text",
    "SCHEDULES_TOKEN": "secret_text",
}


@pytest.fixture
def deploy(monkeypatch: pytest.MonkeyPatch):
    """Run the program for a stack: the example stack's config unless told otherwise."""

    def run(stack: str, *, catalog: str | None = None, secret_keys=(), check=None, **overrides):
        if catalog:
            monkeypatch.setenv("CRONFLARE_CATALOG", catalog)
        else:
            monkeypatch.delenv("CRONFLARE_CATALOG", raising=False)
        config = stack_config(stack, **overrides)
        return run_program(
            stack, config, secret_keys=secret_keys, check=check, monkeypatch=monkeypatch
        )

    return run


@pytest.fixture(scope="module")
def example_runs() -> dict[str, Run]:
    """dev as committed; prod as committed plus its alert hook set with --secret."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CRONFLARE_CATALOG", raising=False)
        return {
            "dev": run_program("dev", stack_config("dev"), monkeypatch=mp),
            "prod": run_program(
                "prod",
                stack_config("prod", alertWebhookUrl=HOOK),
                secret_keys=("alertWebhookUrl",),
                monkeypatch=mp,
            ),
        }


def expected_plan(stack: str):
    return plan(load_catalog(), load_stack_settings(stack, ROOT))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_one_component_and_the_cloudflare_resources_it_owns(example_runs, stack):
    """Every stack gets one script, two queues, two consumers, triggers, D1, a subdomain, three
    generated secrets (signing key, admin token, schedules token) and the Modal deployment.
    """
    run = example_runs[stack]
    counts = Counter(r.typ for r in run.resources)
    assert counts == SCHEDULER_RESOURCES


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_names_derive_from_the_stack(example_runs, stack):
    """Logical and physical names start with cronflare-<stack>, so two stacks never collide."""
    run = example_runs[stack]
    prefix = f"cronflare-{stack}"
    for r in run.resources:
        assert r.name.startswith(prefix), r.urn
    assert run.one(SCRIPT).inputs["scriptName"] == prefix
    assert run.one(D1).inputs["name"] == f"{prefix}-runs"
    assert {q.inputs["queueName"] for q in run.of(QUEUE)} == {
        f"{prefix}-jobs",
        f"{prefix}-jobs-dlq",
    }
    for r in run.resources:
        if (r.typ != COMPONENT and "accountId" in r.inputs) or r.typ in (SCRIPT, D1, QUEUE):
            assert r.inputs["accountId"] == ACCOUNT, r.urn


def test_two_stacks_share_no_cloud_name(example_runs):
    """dev and prod in one account: no script, queue or database name in common."""

    def cloud_names(run: Run) -> set[str]:
        return {
            r.inputs[key]
            for r in run.resources
            for key in ("scriptName", "queueName", "name")
            if key in r.inputs and r.typ in (SCRIPT, QUEUE, D1)
        }

    assert cloud_names(example_runs["dev"]).isdisjoint(cloud_names(example_runs["prod"]))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_worker_bindings_have_exactly_the_workers_names_and_kinds(example_runs, stack):
    """The Worker issue's bindings; prod also has its secret alert hook. No JSON binding: the
    plan is a module (see test_the_plan_travels_as_a_module).
    """
    run = example_runs[stack]
    kinds = {name: b["type"] for name, b in run.bindings().items()}
    expected = dict(EXPECTED_KINDS)
    if stack == "prod":
        expected["ALERT_WEBHOOK_URL"] = "secret_text"
    assert kinds == expected, run.one(SCRIPT).urn


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_bindings_point_at_this_stacks_resources(example_runs, stack):
    """DB is the D1 database's uuid, JOBS_QUEUE the main queue, the URLs are the stack's."""
    run = example_runs[stack]
    b = run.bindings()
    assert b["DB"]["id"] == f"d1-uuid-of-cronflare-{stack}-db"
    assert b["JOBS_QUEUE"]["queueName"] == f"cronflare-{stack}-jobs"
    env = load_stack_settings(stack, ROOT).modal_environment
    assert b["DISPATCH_URL"]["text"] == mock_dispatcher_url(f"cronflare-{stack}", env) + "/dispatch"
    assert b["PUBLIC_URL"]["text"] == f"https://cronflare-{stack}.acme.workers.dev"
    assert b["SIGNING_KEY"]["text"] == mock_secret(f"cronflare-{stack}-signing-key-1")
    assert b["ADMIN_TOKEN"]["text"] == mock_secret(f"cronflare-{stack}-admin-token")
    assert b["SCHEDULES_TOKEN"]["text"] == mock_secret(f"cronflare-{stack}-schedules-token")


def _strings(value: Any, path: str = ""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_secret_anywhere_but_a_secret_text_binding(example_runs, stack):
    """The signing key, the admin and schedules tokens and the alert hook appear in no input but
    their own secret_text binding: not in a plain binding, not in the plan module, not in a name.
    """
    run = example_runs[stack]
    secrets = {
        mock_secret(f"cronflare-{stack}-signing-key-1"),
        mock_secret(f"cronflare-{stack}-admin-token"),
        mock_secret(f"cronflare-{stack}-schedules-token"),
        HOOK,
    }
    allowed = {
        f".bindings[{i}].text"
        for i, b in enumerate(run.one(SCRIPT).inputs["bindings"])
        if b["type"] == "secret_text"
    }
    for r in run.resources:
        inputs = dict(r.inputs)
        if r.typ == SCRIPT:
            for name, f in inputs.get("files", {}).items():
                inputs.setdefault("decoded", {})[name] = base64.b64decode(
                    f["contentBase64"]
                ).decode()
        for path, text in _strings(inputs):
            leaked = [s for s in secrets if s in text]
            sealed = any(path.startswith(p) for p in r.secret_inputs)
            if leaked and not (sealed and (r.typ != SCRIPT or path in allowed)):
                pytest.fail(f"{r.urn}: a secret sits in {path}")
    plain = [b for b in run.bindings().values() if b["type"] in ("plain_text", "json")]
    assert plain and all(b.get("text", "") not in secrets for b in plain)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_bindings_reach_the_provider_as_a_secret(example_runs, stack):
    """The bindings carry secrets, so Pulumi must seal them: encrypted in state, hidden in diffs.
    Nothing else of the script is sealed (the bundle and the plan stay diffable).
    """
    script = example_runs[stack].one(SCRIPT)
    assert script.secret_inputs == {".bindings"}, script.urn


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_modal_deployment_gets_the_stacks_app_environment_sources_and_keys(example_runs, stack):
    """cronflare-<stack> in the stack's Modal environment, tagged with the source hash, with the
    stack's job overrides and the current signing key, sealed as a secret.
    """
    run = example_runs[stack]
    modal = run.one(MODAL)
    settings = load_stack_settings(stack, ROOT)
    assert modal.inputs["app_name"] == f"cronflare-{stack}"
    assert modal.inputs["environment"] == settings.modal_environment
    assert len(modal.inputs["source_hash"]) == 40
    assert modal.inputs["signing_keys"] == [mock_secret(f"cronflare-{stack}-signing-key-1")]
    assert ".signing_keys" in modal.secret_inputs, modal.urn
    overrides = json.loads(modal.inputs["job_overrides"])
    assert overrides == {
        n: o.model_dump(mode="json", exclude_none=True) for n, o in settings.jobs.items()
    }
    assert modal.inputs["version"] == "1"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_migrations_run_on_this_stacks_database_before_the_worker(example_runs, stack):
    """D1Migrations gets the database's id and every file of worker_src/migrations with its
    sha256; the Worker script depends on it, so the schema is there before the new code.
    """
    from cronflare.pulumi.providers.d1_migrations import migration_files

    run = example_runs[stack]
    migrations = run.one(MIGRATIONS)
    assert migrations.inputs["account_id"] == ACCOUNT
    assert migrations.inputs["database_id"] == f"d1-uuid-of-cronflare-{stack}-db"
    assert migrations.inputs["migrations"] == migration_files()
    assert migrations.name in run.depends_on(run.one(SCRIPT).name), run.one(SCRIPT).urn


def test_dev_and_prod_deploy_to_their_own_modal_environments(example_runs):
    """The committed stacks: dev in Modal's dev environment, prod in main."""
    envs = {s: r.one(MODAL).inputs["environment"] for s, r in example_runs.items()}
    assert envs == {"dev": "dev", "prod": "main"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_trigger_strings_are_the_plans(example_runs, stack):
    """WorkersCronTrigger carries exactly the plan's cron_triggers, in order."""
    run = example_runs[stack]
    schedules = [s["cron"] for s in run.one(TRIGGERS).inputs["schedules"]]
    assert schedules == list(expected_plan(stack).cron_triggers), run.one(TRIGGERS).urn
    assert run.one(TRIGGERS).inputs["scriptName"] == f"cronflare-{stack}"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_consumer_is_wired_to_the_dead_letter_queue_with_the_stacks_settings(example_runs, stack):
    """The main queue's consumer: the Worker, the stack's batch/retry/wait settings, the DLQ.
    The DLQ has a consumer too, with no DLQ of its own: that is where a run becomes dead.
    """
    run = example_runs[stack]
    s = load_stack_settings(stack, ROOT)
    main = run.one(CONSUMER, f"cronflare-{stack}-jobs-consumer")
    assert main.inputs["queueId"] == f"queue-id-of-cronflare-{stack}-jobs", main.urn
    assert main.inputs["deadLetterQueue"] == f"cronflare-{stack}-jobs-dlq", main.urn
    assert main.inputs["scriptName"] == f"cronflare-{stack}"
    assert main.inputs["type"] == "worker"
    assert main.inputs["settings"] == {
        "batchSize": s.queue_batch_size,
        "maxRetries": s.queue_max_retries,
        "maxWaitTimeMs": s.queue_max_wait_time_ms,
    }
    dlq = run.one(CONSUMER, f"cronflare-{stack}-jobs-dlq-consumer")
    assert dlq.inputs["queueId"] == f"queue-id-of-cronflare-{stack}-jobs-dlq", dlq.urn
    assert "deadLetterQueue" not in dlq.inputs
    assert dlq.inputs["scriptName"] == f"cronflare-{stack}"


def test_dev_and_prod_differ_where_their_stack_files_do(example_runs):
    """dev: 3 jobs off and 3 retries; prod: every job and 8 retries."""
    dev, prod = example_runs["dev"], example_runs["prod"]
    assert (dev.exports["jobCount"], dev.exports["enabledJobCount"]) == (15, 12)
    assert (prod.exports["jobCount"], prod.exports["enabledJobCount"]) == (15, 15)
    retries = {
        stack: run.one(CONSUMER, f"cronflare-{stack}-jobs-consumer").inputs["settings"][
            "maxRetries"
        ]
        for stack, run in example_runs.items()
    }
    assert retries == {"dev": 3, "prod": 8}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_script_is_the_built_bundle_with_a_pinned_date_and_observability(example_runs, stack):
    """worker.js is dist/worker.js with its sha256; compatibility date from worker.config.json."""
    script = example_runs[stack].one(SCRIPT).inputs
    bundle = worker_bundle()
    assert script["mainModule"] == "worker.js"
    assert script["content"] == bundle.content
    assert script["contentSha256"] == hashlib.sha256(bundle.content.encode()).hexdigest()
    pinned = json.loads((ROOT / "worker_src" / "worker.config.json").read_text())
    assert script["compatibilityDate"] == pinned["compatibility_date"]
    assert script["observability"] == {"enabled": True}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_plan_travels_as_a_module(example_runs, stack):
    """plan.js beside the bundle is the stack's plan, as an ES module, with its sha256."""
    files = example_runs[stack].one(SCRIPT).inputs["files"]
    assert set(files) == {"plan.js"}
    module = base64.b64decode(files["plan.js"]["contentBase64"])
    assert files["plan.js"]["contentType"] == "application/javascript+module"
    assert files["plan.js"]["contentSha256"] == hashlib.sha256(module).hexdigest()
    assert module.decode() == expected_plan(stack).worker_module()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_workers_dev_is_enabled_and_the_outputs_say_where_things_are(example_runs, stack):
    """workers.dev on (previews off); outputs: URLs, mode, triggers, D1 id, queues, job count."""
    run = example_runs[stack]
    sub = run.one(SUBDOMAIN).inputs
    assert (sub["enabled"], sub["previewsEnabled"], sub["scriptName"]) == (
        True,
        False,
        f"cronflare-{stack}",
    )
    p = expected_plan(stack)
    e = run.exports
    assert e["workerUrl"] == f"https://cronflare-{stack}.acme.workers.dev"
    env = load_stack_settings(stack, ROOT).modal_environment
    assert e["dispatcherUrl"] == mock_dispatcher_url(f"cronflare-{stack}", env)
    assert (e["mode"], e["cronTriggers"]) == (p.mode, list(p.cron_triggers))
    assert e["d1DatabaseId"] == f"d1-uuid-of-cronflare-{stack}-db"
    assert e["queueNames"] == {"jobs": p.queues.jobs, "deadLetter": p.queues.dead_letter}
    assert e["jobCount"] == len(p.jobs)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_secret_outputs_are_secret(example_runs, stack):
    """The admin and schedules tokens, the signing key and the alert key are secret outputs; the
    rest are plain.
    """
    run = example_runs[stack]
    assert run.secret_exports == {"adminToken", "schedulesToken", "signingKey", "alertSigningKey"}
    assert run.exports["adminToken"] == mock_secret(f"cronflare-{stack}-admin-token")
    assert run.exports["schedulesToken"] == mock_secret(f"cronflare-{stack}-schedules-token")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_schedules_token_is_its_own_secret_never_plain(example_runs, stack):
    """An app holds the schedules token, not the admin token: a generated secret of its own,
    bound as secret_text only, exported sealed, and never equal to the admin token.
    """
    run = example_runs[stack]
    token = mock_secret(f"cronflare-{stack}-schedules-token")
    binding = run.bindings()["SCHEDULES_TOKEN"]
    assert binding == {"name": "SCHEDULES_TOKEN", "type": "secret_text", "text": token}
    assert token != run.exports["adminToken"]
    assert "schedulesToken" in run.secret_exports, run.one(COMPONENT).urn
    assert run.one(PASSWORD, f"cronflare-{stack}-schedules-token").inputs["special"] is False
    plain = [b for b in run.bindings().values() if b["type"] != "secret_text"]
    assert all(token not in json.dumps(b) for b in plain)


def _inputs_holding(run: Run, value: str) -> list[str]:
    return [f"{r.urn}{path}" for r in run.resources for path, t in _strings(r.inputs) if value in t]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_alert_key_is_the_signing_keys_alert_purpose_key_and_nothing_else(example_runs, stack):
    """alertSigningKey is what a webhook receiver verifies with: derived from the signing key for
    alerts, so it signs no report or dispatch; computed in the program, so no resource holds it
    (the resource count above is unchanged) and no rotation output exists outside a rotation.
    """
    run = example_runs[stack]
    signing = mock_secret(f"cronflare-{stack}-signing-key-1")
    key = run.exports["alertSigningKey"]
    component = run.one(COMPONENT).urn
    assert key == purpose_key(signing, "alert"), component
    assert key not in {signing, *(purpose_key(signing, p) for p in PURPOSES if p != "alert")}
    assert "alertSigningKey" in run.secret_exports, component
    assert "alertSigningKeyNext" not in run.exports, component
    assert _inputs_holding(run, key) == []


def test_a_rotation_exports_the_next_alert_key_checked_inside_the_program_run(deploy):
    """During a rotation both alert keys are secret outputs, each its generation's alert key, so
    receivers can take the next one before the swap; still no resource holds either.
    """
    component = f"urn:pulumi:{COMPONENT}::cronflare-dev"
    current, upcoming = (mock_secret(f"cronflare-dev-signing-key-{g}") for g in (1, 2))
    seen: list[str] = []

    def check(exports: dict[str, Any]) -> None:
        assert exports["alertSigningKey"] == purpose_key(current, "alert"), component
        assert exports["alertSigningKeyNext"] == purpose_key(upcoming, "alert"), component
        assert exports["alertSigningKeyNext"] not in (upcoming, purpose_key(upcoming, "report"))
        seen.append("checked")

    run = deploy("dev", nextSigningKeyGeneration=2, check=check)
    assert seen == ["checked"]
    assert {"alertSigningKey", "alertSigningKeyNext"} <= run.secret_exports, component
    for name in ("alertSigningKey", "alertSigningKeyNext"):
        assert _inputs_holding(run, run.exports[name]) == [], name
    assert Counter(r.typ for r in run.resources)[PASSWORD] == 4, component


def test_exports_checked_inside_the_program_run(deploy):
    """The same outputs, asserted through Output.all(...).apply as the program resolves them."""
    seen: list[str] = []

    def check(exports: dict[str, Any]) -> None:
        assert exports["workerUrl"] == "https://cronflare-dev.acme.workers.dev", exports
        assert exports["mode"] == "tick"
        seen.append("checked")

    deploy("dev", check=check)
    assert seen == ["checked"]


def test_one_job_and_a_thousand_make_the_same_cloudflare_resources(deploy):
    """Only the plan module grows with the catalog; the free plan's 5 triggers hold 1 job's
    schedule natively, and 1,000 distinct schedules flip the stack to tick mode.
    """
    one = deploy("dev", catalog=f"{GENERATED}:ONE", jobs=None)
    thousand = deploy("dev", catalog=f"{GENERATED}:THOUSAND", jobs=None)
    shape = lambda run: Counter((r.typ, r.name) for r in run.resources)  # noqa: E731
    assert shape(one) == shape(thousand)
    assert (one.exports["mode"], one.exports["cronTriggers"]) == ("native", ["0 0 * * *"])
    assert (thousand.exports["mode"], thousand.exports["cronTriggers"]) == ("tick", ["* * * * *"])
    assert (one.exports["jobCount"], thousand.exports["jobCount"]) == (1, 1000)

    def plan_size(run: Run) -> int:
        return len(base64.b64decode(run.one(SCRIPT).inputs["files"]["plan.js"]["contentBase64"]))

    assert plan_size(one) < 1024 < 5 * 1024 < plan_size(thousand)  # past the 5 KB binding cap
    script_one, script_thousand = dict(one.one(SCRIPT).inputs), dict(thousand.one(SCRIPT).inputs)
    del script_one["files"], script_thousand["files"]
    assert script_one == script_thousand, "only the plan module may differ between the scripts"


def test_the_catalog_comes_from_CRONFLARE_CATALOG(deploy):
    """$CRONFLARE_CATALOG selects the catalog the program deploys."""
    run = deploy("prod", catalog=f"{GENERATED}:ONE")
    assert run.exports["jobCount"] == 1


def test_rotation_adds_the_next_key_beside_the_current(deploy):
    """nextSigningKeyGeneration adds a second generated key as SIGNING_KEY_NEXT; the current one
    keeps its name, so its value does not change.
    """
    run = deploy("dev", nextSigningKeyGeneration=2)
    assert {r.name for r in run.of(PASSWORD)} == {
        "cronflare-dev-signing-key-1",
        "cronflare-dev-signing-key-2",
        "cronflare-dev-admin-token",
        "cronflare-dev-schedules-token",
    }
    b = run.bindings()
    assert run.one(MODAL).inputs["signing_keys"] == [
        mock_secret("cronflare-dev-signing-key-1"),
        mock_secret("cronflare-dev-signing-key-2"),
    ]
    assert b["SIGNING_KEY"]["text"] == mock_secret("cronflare-dev-signing-key-1")
    assert b["SIGNING_KEY_NEXT"] == {
        "name": "SIGNING_KEY_NEXT",
        "type": "secret_text",
        "text": mock_secret("cronflare-dev-signing-key-2"),
    }
    swapped = deploy("dev", signingKeyGeneration=2, nextSigningKeyGeneration=1).bindings()
    assert swapped["SIGNING_KEY"]["text"] == mock_secret("cronflare-dev-signing-key-2")
    assert swapped["SIGNING_KEY_NEXT"]["text"] == mock_secret("cronflare-dev-signing-key-1")


# -- bad input: the program stops before registering anything, with `cronflare check`'s lines


def check_lines(
    tmp_path: Path, stack_yaml: dict[str, Any], catalog: str | None = None
) -> list[str]:
    """What `cronflare check --stack bad` prints for this stack file."""
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(stack_yaml, sort_keys=False))
    args = ["check", "--stack", "bad"] + (["--catalog", catalog] if catalog else [])
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 1, result.output
    return result.stderr.strip().splitlines()


def program_error(deploy, stack: str, **kwargs) -> tuple[list[str], Run | None]:
    with pytest.raises(pulumi.RunError) as caught:
        deploy(stack, **kwargs)
    head, *lines = str(caught.value).splitlines()
    assert head == "cronflare: the catalog or the stack config is invalid; nothing was deployed:"
    return [line.strip() for line in lines], None


def assert_nothing_registered(monkeypatch: pytest.MonkeyPatch, deploy, stack: str, **kwargs):
    from tests.infra import program_harness

    created: list[Any] = []
    original = program_harness.Mocks.new_resource

    def recording(self, args):
        created.append(args)
        return original(self, args)

    monkeypatch.setattr(program_harness.Mocks, "new_resource", recording)
    with pytest.raises(pulumi.RunError):
        deploy(stack, **kwargs)
    assert created == [], [r.urn for r in created]


def test_a_bad_catalog_stops_the_program_with_checks_lines(deploy, monkeypatch, tmp_path):
    """Every catalog problem, as `cronflare check` words it, and not one resource."""
    stack_yaml = {"config": {f"cronflare:{k}": v for k, v in stack_config("dev").items()}}
    expected = check_lines(tmp_path, stack_yaml, catalog=BROKEN)
    lines, _ = program_error(deploy, "dev", catalog=BROKEN)
    assert lines == expected
    assert any(line.startswith("job nightly: schedule:") for line in lines)
    assert_nothing_registered(monkeypatch, deploy, "dev", catalog=BROKEN)


def test_a_bad_stack_config_stops_the_program_with_checks_lines(deploy, monkeypatch, tmp_path):
    """An unknown key, a bad value and a bad job override: all named, nothing registered."""
    bad = {
        "catchupWindowMinutes": -5,
        "triggerMod": "tick",
        "jobs": {"weekly-report": {"timeout": "forever"}},
    }
    values = stack_config("dev", **bad)
    expected = check_lines(tmp_path, {"config": {f"cronflare:{k}": v for k, v in values.items()}})
    lines, _ = program_error(deploy, "dev", **bad)
    assert lines == expected
    assert "config cronflare:triggerMod: unknown key (did you mean cronflare:triggerMode?)" in lines
    assert any(line.startswith("config cronflare:catchupWindowMinutes:") for line in lines)
    assert any(line.startswith("job weekly-report: timeout:") for line in lines)
    assert_nothing_registered(monkeypatch, deploy, "dev", **bad)


def test_an_alert_hook_in_clear_is_refused(deploy, monkeypatch):
    """alertWebhookUrl must be set with --secret; in clear it stops the program."""
    lines, _ = program_error(deploy, "prod", alertWebhookUrl=HOOK)
    assert lines == [
        "config cronflare:alertWebhookUrl: is a secret and must not be stored in clear; set it "
        "with `pulumi config set --secret cronflare:alertWebhookUrl <value>`"
    ]
    assert_nothing_registered(monkeypatch, deploy, "prod", alertWebhookUrl=HOOK)


@pytest.mark.parametrize("missing", [("accountId",), ("workersSubdomain",),
                                     ("accountId", "workersSubdomain")])  # fmt: skip
def test_deploy_keys_are_required_with_how_to_set_them(deploy, tmp_path, missing):
    """A stack with no account id or workers.dev subdomain: a line each, with its fix, and
    `cronflare check --stack` refuses it with the same lines (one function checks both).
    """
    gone = dict.fromkeys(missing)
    lines, _ = program_error(deploy, "dev", **gone)
    assert [line.split(":", 2)[1] for line in lines] == list(missing)
    assert all("pulumi config set cronflare:" in line for line in lines)
    values = stack_config("dev", **gone)
    stack_yaml = {"config": {f"cronflare:{k}": v for k, v in values.items()}}
    assert lines == check_lines(tmp_path, stack_yaml)
