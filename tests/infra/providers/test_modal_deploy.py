"""ModalDeployment's provider at its seam: each modal command's argv, cwd and env, one rule each."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from cronflare.pulumi.providers import modal_seam
from cronflare.pulumi.providers.modal_deploy import (
    PROVIDER_VERSION,
    ModalDeploymentProvider,
    keys_fingerprint,
    source_hash,
)
from cronflare.pulumi.providers.modal_seam import ModalError

ROOT = modal_seam.ROOT
HASH = "ab" * 20
KEYS = ["current-key-0123456789", "next-key-9876543210"]
URL = "https://acme-dev--cronflare-dev.modal.run"
PROPS = {
    "app_name": "cronflare-dev",
    "environment": "dev",
    "source_hash": HASH,
    "signing_keys": KEYS[:1],
    "job_overrides": '{"nightly": {"enabled": false}}',
    "version": PROVIDER_VERSION,
}
MODAL = [sys.executable, "-m", "modal"]


@dataclass
class Call:
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    files: dict[str, tuple[str, int]] = field(default_factory=dict)


class FakeModal:
    """Stands in for subprocess.run of the modal CLI: records each call, answers from a script."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.apps: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.fail: dict[str, str] = {}

    def __call__(self, argv, *, cwd, env, capture_output, text, check):
        assert capture_output and text and not check
        call = Call(list(argv), Path(cwd), dict(env))
        if "--from-json" in argv:
            path = Path(argv[argv.index("--from-json") + 1])
            call.files[str(path)] = (path.read_text(), stat.S_IMODE(path.stat().st_mode))
        self.calls.append(call)
        command = " ".join(argv[3:5])
        if command in self.fail:
            return subprocess.CompletedProcess(argv, 1, "", f"Traceback...\n{self.fail[command]}")
        out = ""
        if command == "app list":
            out = json.dumps(self.apps)
        elif command.startswith("app history"):
            out = json.dumps(self.history)
        return subprocess.CompletedProcess(argv, 0, out, "")

    def commands(self) -> list[list[str]]:
        return [c.argv[3:] for c in self.calls]


@pytest.fixture
def modal(monkeypatch: pytest.MonkeyPatch) -> FakeModal:
    fake = FakeModal()
    monkeypatch.setattr(subprocess, "run", fake)
    monkeypatch.setattr(modal_seam, "web_url", lambda app, fn, env: f"{URL}#{app}/{fn}/{env}")
    monkeypatch.setenv("MODAL_TOKEN_ID", "ak-test")
    monkeypatch.setenv("MODAL_TOKEN_SECRET", "as-test")
    return fake


def test_create_writes_the_secret_before_it_deploys(modal):
    """The signing secret exists before any function that requires it is deployed."""
    provider = ModalDeploymentProvider()
    provider.create(PROPS)
    assert [c[:2] for c in modal.commands()] == [["secret", "create"], ["deploy", "-m"]]


def test_the_secret_is_upserted_from_a_private_file_never_from_argv(modal):
    """`modal secret create <app>-signing --from-json F --force --env E`: F is 0600, holds both
    keys by name, and is gone afterwards; no key is ever on a command line.
    """
    ModalDeploymentProvider().create({**PROPS, "signing_keys": KEYS})
    secret = modal.calls[0]
    path = secret.argv[secret.argv.index("--from-json") + 1]
    assert secret.argv == [
        *MODAL,
        *["secret", "create", "cronflare-dev-signing", "--from-json", path, "--force"],
        *["--env", "dev"],
    ]
    content, mode = secret.files[path]
    assert json.loads(content) == {
        "CRONFLARE_SIGNING_KEY": KEYS[0],
        "CRONFLARE_SIGNING_KEY_NEXT": KEYS[1],
    }
    assert mode == 0o600
    assert not Path(path).exists()
    assert not any(k in " ".join(c.argv) for c in modal.calls for k in KEYS)


def test_deploy_runs_the_module_with_the_app_name_env_cwd_and_tag(modal, monkeypatch):
    """`modal deploy -m cronflare.runtime.modal_app --env E --tag <hash>` from the project root,
    with CRONFLARE_APP_NAME and MODAL_ENVIRONMENT set on top of the caller's environment.
    """
    monkeypatch.setenv("CRONFLARE_CATALOG", "tests.fixtures.catalog:CATALOG")
    ModalDeploymentProvider().create(PROPS)
    deploy = modal.calls[1]
    assert deploy.argv == [
        *MODAL,
        "deploy",
        "-m",
        "cronflare.runtime.modal_app",
        "--env",
        "dev",
        "--tag",
        HASH,
    ]
    assert deploy.cwd == ROOT
    assert deploy.env["CRONFLARE_APP_NAME"] == "cronflare-dev"
    assert deploy.env["MODAL_ENVIRONMENT"] == "dev"
    assert deploy.env["CRONFLARE_JOB_OVERRIDES"] == '{"nightly": {"enabled": false}}'
    assert deploy.env["CRONFLARE_CATALOG"] == "tests.fixtures.catalog:CATALOG"
    assert deploy.env["PATH"] == os.environ["PATH"]


def test_outputs_name_the_dispatcher_and_the_hash_and_hold_no_secret(modal):
    """Outputs: the SDK's web URL of the dispatcher, the deployed hash and time; no key."""
    result = ModalDeploymentProvider().create({**PROPS, "signing_keys": KEYS})
    outs = result.outs or {}
    assert result.id == "dev/cronflare-dev"
    assert outs["dispatcher_url"] == f"{URL}#cronflare-dev/dispatcher/dev"
    assert outs["deployed_hash"] == HASH
    assert outs["deployed_at"].endswith("Z") and len(outs["deployed_at"]) == 20
    assert outs["keys_sha256"] == keys_fingerprint(KEYS)
    assert not any(k in json.dumps(outs) for k in KEYS)


@pytest.mark.parametrize(
    ("change", "replaces"),
    [
        ({"app_name": "cronflare-other"}, ["app_name"]),
        ({"environment": "main"}, ["environment"]),
        ({"source_hash": "cd" * 20}, []),
        ({"signing_keys": KEYS}, []),
        ({"version": "2"}, []),
    ],
)
def test_a_new_app_or_environment_replaces_and_anything_else_updates(change, replaces):
    """Name or environment: replace (delete first); hash, keys or version: update in place."""
    olds = {
        **PROPS,
        "deployed_hash": HASH,
        "keys_sha256": keys_fingerprint(KEYS[:1]),
    }
    result = ModalDeploymentProvider().diff("dev/cronflare-dev", olds, {**PROPS, **change})
    assert result.changes is True
    assert result.replaces == replaces
    assert result.delete_before_replace is bool(replaces)


def test_no_change_is_no_diff():
    """Same app, hash, keys and version: nothing to do."""
    olds = {**PROPS, "deployed_hash": HASH, "keys_sha256": keys_fingerprint(KEYS[:1])}
    assert ModalDeploymentProvider().diff("id", olds, PROPS).changes is False


@pytest.mark.parametrize("state", [None, "stopped"])
def test_read_of_a_missing_or_stopped_app_is_no_resource(modal, state):
    """Refresh finds the app gone or stopped: an empty id, so Pulumi sees it deleted."""
    if state:
        modal.apps = [{"app_id": "ap-1", "description": "cronflare-dev", "state": state}]
    result = ModalDeploymentProvider().read("dev/cronflare-dev", PROPS)
    assert (result.id, result.outs) == ("", {})
    assert modal.commands() == [["app", "list", "--env", "dev", "--json"]]


def test_read_returns_the_live_tag_so_an_outside_deploy_is_drift(modal):
    """A redeploy from a laptop (another tag) comes back as the live hash."""
    modal.apps = [
        {"app_id": "ap-0", "description": "cronflare-dev", "state": "stopped"},
        {"app_id": "ap-1", "description": "cronflare-dev", "state": "deployed"},
    ]
    modal.history = [
        {"version": "v3", "tag": "laptop-build"},
        {"version": "v10", "tag": "manual"},
        {"version": "v2", "tag": HASH},
    ]
    outs = ModalDeploymentProvider().read("dev/cronflare-dev", PROPS).outs or {}
    assert outs["deployed_hash"] == "manual"
    assert modal.commands()[1] == ["app", "history", "cronflare-dev", "--env", "dev", "--json"]


def test_delete_stops_a_deployed_app(modal):
    """`modal app stop <app> --env E --yes` for a live app."""
    modal.apps = [{"app_id": "ap-1", "description": "cronflare-dev", "state": "deployed"}]
    ModalDeploymentProvider().delete("dev/cronflare-dev", PROPS)
    assert modal.commands()[-1] == ["app", "stop", "cronflare-dev", "--env", "dev", "--yes"]


@pytest.mark.parametrize("state", [None, "stopped"])
def test_delete_of_a_gone_app_succeeds_without_stopping(modal, state):
    """An app already stopped, or never there, counts as deleted."""
    if state:
        modal.apps = [{"app_id": "ap-1", "description": "cronflare-dev", "state": state}]
    ModalDeploymentProvider().delete("dev/cronflare-dev", PROPS)
    assert [c[:2] for c in modal.commands()] == [["app", "list"]]


def test_no_credentials_is_a_clear_error_before_any_command(modal, monkeypatch, tmp_path):
    """Neither token variables nor a Modal config file: say how to get one, run nothing."""
    monkeypatch.delenv("MODAL_TOKEN_ID")
    monkeypatch.delenv("MODAL_TOKEN_SECRET")
    monkeypatch.setenv("MODAL_CONFIG_PATH", str(tmp_path / "absent.toml"))
    with pytest.raises(ModalError, match="MODAL_TOKEN_ID and MODAL_TOKEN_SECRET"):
        ModalDeploymentProvider().create(PROPS)
    assert modal.calls == []


def test_half_a_token_names_the_missing_variable(modal, monkeypatch):
    """MODAL_TOKEN_ID without MODAL_TOKEN_SECRET: the message names MODAL_TOKEN_SECRET."""
    monkeypatch.delenv("MODAL_TOKEN_SECRET")
    with pytest.raises(ModalError, match="MODAL_TOKEN_SECRET is not set"):
        ModalDeploymentProvider().read("id", PROPS)


def test_a_modal_config_file_is_enough(modal, monkeypatch, tmp_path):
    """With no token variables, the profile `modal token new` wrote is used."""
    monkeypatch.delenv("MODAL_TOKEN_ID")
    monkeypatch.delenv("MODAL_TOKEN_SECRET")
    config = tmp_path / ".modal.toml"
    config.write_text('[default]\ntoken_id = "ak-x"\n')
    monkeypatch.setenv("MODAL_CONFIG_PATH", str(config))
    ModalDeploymentProvider().create(PROPS)
    assert len(modal.calls) == 2


def test_a_failed_deploy_says_which_command_and_why(modal):
    """A failing `modal deploy` raises with the command and Modal's last lines, not a trace."""
    modal.fail["deploy -m"] = "modal.exception.InvalidError: Secret 'warehouse' not found"
    with pytest.raises(ModalError) as caught:
        ModalDeploymentProvider().create(PROPS)
    message = str(caught.value)
    assert message.startswith("`modal deploy -m cronflare.runtime.modal_app --env dev --tag")
    assert "Secret 'warehouse' not found" in message


def test_check_names_each_bad_input():
    """check() refuses what could not deploy, one failure per property."""
    bad = {"app_name": "no spaces", "environment": " ", "source_hash": "xyz", "signing_keys": []}
    result = ModalDeploymentProvider().check({}, bad)
    assert sorted(f.property for f in result.failures) == [
        "app_name",
        "environment",
        "job_overrides",
        "signing_keys",
        "source_hash",
        "version",
    ]
    assert ModalDeploymentProvider().check({}, PROPS).failures == []


def test_source_hash_follows_the_job_sources_and_the_plan(tmp_path):
    """Editing a file under jobs/, or any job in the plan, changes the hash (40 hex)."""
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "a.py").write_text("x = 1\n")
    jobs = [{"name": "a", "cron": "0 * * * *"}]
    first = source_hash(jobs, "{}", tmp_path)
    assert len(first) == 40 and first == source_hash(jobs, "{}", tmp_path)
    (tmp_path / "jobs" / "a.py").write_text("x = 2\n")
    second = source_hash(jobs, "{}", tmp_path)
    assert second != first
    assert source_hash([{**jobs[0], "cron": "5 * * * *"}], "{}", tmp_path) != second
    assert source_hash(jobs, '{"a": {"resources": {"memory": 4096}}}', tmp_path) != second


def test_source_hash_follows_the_machinery_too(tmp_path):
    """The image carries cronflare/ as well as jobs/: a newer cronflare redeploys the app."""
    for package in ("cronflare/runtime", "jobs"):
        (tmp_path / package).mkdir(parents=True)
        (tmp_path / package / "m.py").write_text("x = 1\n")
    first = source_hash([], "{}", tmp_path)
    (tmp_path / "cronflare" / "runtime" / "m.py").write_text("x = 2\n")
    assert source_hash([], "{}", tmp_path) != first


def test_the_provider_survives_pulumis_pickling_in_a_fresh_interpreter():
    """Serialized as Pulumi serializes dynamic providers (dill), it loads and works in a new
    Python process that has imported nothing of ours.
    """
    blob = serialize_provider(ModalDeploymentProvider())
    script = textwrap.dedent(
        f"""
        import base64, json, sys, dill
        provider = dill.loads(base64.b64decode(sys.stdin.read()))
        olds = {{**{PROPS!r}, "deployed_hash": "{HASH}", "keys_sha256": "x"}}
        diff = provider.diff("id", olds, {{**{PROPS!r}, "environment": "main"}})
        check = provider.check({{}}, {{"app_name": "bad name"}})
        print(json.dumps([type(provider).__name__, diff.replaces, len(check.failures)]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=blob,
        capture_output=True,
        text=True,
        cwd="/",
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["ModalDeploymentProvider", ["environment"], 6]


@pytest.mark.skipif(
    not (os.environ.get("MODAL_TOKEN_ID") and os.environ.get("MODAL_TOKEN_SECRET")),
    reason="needs MODAL_TOKEN_ID and MODAL_TOKEN_SECRET: lists the apps of a real Modal workspace",
)
def test_the_seam_reads_a_real_workspace():
    """With real credentials, `modal app list --json` through the seam parses to a list."""
    modal_seam.check_credentials()
    apps = modal_seam.modal_json(
        ["app", "list", "--env", os.environ.get("MODAL_ENVIRONMENT", "main")]
    )
    assert isinstance(apps, list)
