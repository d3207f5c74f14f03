"""Stack settings from Pulumi.<stack>.yaml: camelCase keys, one frozen model, errors naming keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cronflare.catalog.model import CatalogError
from cronflare.settings import SecretRef, Settings, load_stack_settings, settings_from_config
from tests import ROOT

ACCOUNT = "0123456789abcdef0123456789abcdef"


def stack_file(tmp_path: Path, body: str, stack: str = "test") -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: cronflare\nruntime: python\n")
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(body)
    return tmp_path


def errors(values: dict, require_account: bool = True) -> list[str]:
    with pytest.raises(CatalogError) as err:
        settings_from_config(values, "test", require_account=require_account)
    return err.value.problems


def test_the_committed_example_stacks_load_and_differ():
    dev, prod = load_stack_settings("dev", ROOT), load_stack_settings("prod", ROOT)
    assert (dev.cloudflare_plan, dev.trigger_limit, dev.modal_environment) == ("free", 5, "dev")
    assert (prod.cloudflare_plan, prod.trigger_limit, prod.jobs) == ("paid", 250, {})
    assert dev.jobs["embeddings-refresh"].enabled is False
    assert dev.name_prefix == "cronflare-dev" and prod.name_prefix == "cronflare-prod"


def test_keys_are_camel_case_in_the_cronflare_namespace_and_others_are_ignored(tmp_path: Path):
    root = stack_file(
        tmp_path,
        f"""
config:
  cloudflare:apiToken:
    secure: v1:abc
  cronflare:accountId: {ACCOUNT}
  cronflare:catchupWindowMinutes: "45"
  cronflare:nativeTriggerLimit: 3
  cronflare:alertWebhookUrl:
    secure: v1:xyz
  cronflare:jobs:
    weekly-report:
      enabled: false
      resources: {{memory: 2048}}
""",
    )
    s = load_stack_settings("test", root)
    assert (s.catchup_window_minutes, s.trigger_limit) == (45, 3)
    assert isinstance(s.alert_webhook_url, SecretRef) and "xyz" not in repr(s)
    assert "xyz" not in s.model_dump_json()
    assert s.jobs["weekly-report"].resources is not None
    assert s.jobs["weekly-report"].resources.memory == 2048


def test_settings_are_frozen():
    s = settings_from_config({"accountId": ACCOUNT}, "test", require_account=True)
    with pytest.raises(ValidationError):
        s.trigger_mode = "tick"  # type: ignore[misc]


def test_an_unknown_key_is_named_with_a_suggestion():
    assert errors({"accountId": ACCOUNT, "triggerMod": "tick"}) == [
        "config cronflare:triggerMod: unknown key (did you mean cronflare:triggerMode?)"
    ]


def test_bad_values_name_their_key():
    assert errors({"accountId": "nope", "triggerMode": "fast", "catchupWindowMinutes": -1}) == [
        "config cronflare:accountId: must be the 32-character hex Cloudflare account id",
        "config cronflare:triggerMode: Input should be 'auto', 'native' or 'tick'",
        "config cronflare:catchupWindowMinutes: Input should be greater than or equal to 0",
    ]


def test_account_id_is_required_for_a_stack():
    assert errors({}) == [
        "config cronflare:accountId: required; set it with "
        "`pulumi config set cronflare:accountId <32-hex account id>`"
    ]


def test_a_secret_in_clear_is_refused():
    got = errors({"accountId": ACCOUNT, "alertWebhookUrl": "https://hooks.example.com/x"})
    assert got == [
        "config cronflare:alertWebhookUrl: is a secret and must not be stored in clear; set it "
        "with `pulumi config set --secret cronflare:alertWebhookUrl <value>`"
    ]


def test_job_override_errors_name_the_job():
    got = errors(
        {"accountId": ACCOUNT, "jobs": {"weekly-report": {"enabled": "maybe", "color": 1}}}
    )
    assert got == [
        "job weekly-report: enabled: Input should be a valid boolean, unable to interpret input "
        "(config cronflare:jobs)",
        "job weekly-report: color: unknown field (config cronflare:jobs)",
    ]


def test_a_missing_stack_file_and_bad_yaml_are_clear(tmp_path: Path):
    with pytest.raises(CatalogError, match=r"stack nope: no Pulumi\.nope\.yaml in"):
        load_stack_settings("nope", stack_file(tmp_path, "config: {}"))
    with pytest.raises(CatalogError, match="is not valid YAML"):
        load_stack_settings("test", stack_file(tmp_path, "config: [unclosed"))


def test_defaults_without_a_stack():
    s = Settings()
    assert (s.stack, s.trigger_mode, s.cloudflare_plan, s.trigger_limit) == (
        "local",
        "auto",
        "free",
        5,
    )


def test_retention_and_alert_keys_are_checked_and_their_errors_name_the_key():
    """runRetentionDays is at least 1; alertOn holds known statuses, each once."""
    good = settings_from_config(
        {"runRetentionDays": 30, "alertOn": ["dead", "missed"]}, "dev", require_account=False
    )
    assert good.run_retention_days == 30 and good.alert_on == ("dead", "missed")
    assert settings_from_config({}, "dev", require_account=False).alert_on == ("dead",)
    with pytest.raises(CatalogError) as caught:
        settings_from_config(
            {"runRetentionDays": 0, "alertOn": ["dead", "sometimes"]}, "dev", require_account=False
        )
    lines = caught.value.problems
    assert any(line.startswith("config cronflare:runRetentionDays:") for line in lines), lines
    assert any(line.startswith("config cronflare:alertOn.1:") for line in lines), lines
    with pytest.raises(CatalogError, match=r"alertOn: .*twice"):
        settings_from_config({"alertOn": ["dead", "dead"]}, "dev", require_account=False)
