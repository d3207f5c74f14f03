"""Stack settings from Pulumi.<stack>.yaml: camelCase keys, one frozen model, errors naming keys."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from cronflare.catalog.model import CatalogError
from cronflare.settings import (
    REQUIRED_KEYS,
    SECRET_KEYS,
    SecretRef,
    Settings,
    check_stack_config,
    load_stack_settings,
    settings_from_config,
)
from tests import ROOT

ACCOUNT = "0123456789abcdef0123456789abcdef"
STACK = {"accountId": ACCOUNT, "workersSubdomain": "acme"}


def stack_file(tmp_path: Path, body: str, stack: str = "test") -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: cronflare\nruntime: python\n")
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(body)
    return tmp_path


def errors(values: dict) -> list[str]:
    """A stack's config problems, as `cronflare check --stack` and the program print them."""
    with pytest.raises(CatalogError) as err:
        check_stack_config(values, "test")
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
  cronflare:workersSubdomain: acme
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
    s = check_stack_config(STACK, "test")
    with pytest.raises(ValidationError):
        s.trigger_mode = "tick"  # type: ignore[misc]


def test_an_unknown_key_is_named_with_a_suggestion():
    assert errors({**STACK, "triggerMod": "tick"}) == [
        "config cronflare:triggerMod: unknown key (did you mean cronflare:triggerMode?)"
    ]


def test_bad_values_name_their_key():
    assert errors(
        {**STACK, "accountId": "nope", "triggerMode": "fast", "catchupWindowMinutes": -1}
    ) == [
        "config cronflare:accountId: must be the 32-character hex Cloudflare account id",
        "config cronflare:triggerMode: Input should be 'auto', 'native' or 'tick'",
        "config cronflare:catchupWindowMinutes: Input should be greater than or equal to 0",
    ]


def test_a_stack_requires_its_account_id_and_workers_subdomain_with_how_to_set_them():
    """Both keys Pulumi.yaml declares with no default: a line each, after any other problem."""
    account = (
        "config cronflare:accountId: required: your Cloudflare account id; set it with "
        "`pulumi config set cronflare:accountId <32-hex account id>`"
    )
    subdomain = (
        "config cronflare:workersSubdomain: required: your account's workers.dev subdomain "
        "(Workers & Pages → Overview → Subdomain); set it with "
        "`pulumi config set cronflare:workersSubdomain <subdomain>`"
    )
    assert errors({}) == [account, subdomain]
    assert errors({"accountId": ACCOUNT}) == [subdomain]
    assert errors({"workersSubdomain": "acme", "accountId": None}) == [account]
    assert errors({"triggerMode": "fast"}) == [
        "config cronflare:triggerMode: Input should be 'auto', 'native' or 'tick'",
        account,
        subdomain,
    ]
    # The model alone requires neither: the local stack has no account.
    assert settings_from_config({}, "local").account_id is None


def test_a_stack_file_without_a_workers_subdomain_is_refused(tmp_path: Path):
    """What `pulumi up` refuses, every `--stack` refuses too."""
    with pytest.raises(CatalogError) as caught:
        load_stack_settings(
            "test", stack_file(tmp_path, f"config:\n  cronflare:accountId: {ACCOUNT}\n")
        )
    assert [line.split(":", 2)[1] for line in caught.value.problems] == ["workersSubdomain"]


def test_a_secret_in_clear_is_refused():
    got = errors({**STACK, "alertWebhookUrl": "https://hooks.example.com/x"})
    assert got == [
        "config cronflare:alertWebhookUrl: is a secret and must not be stored in clear; set it "
        "with `pulumi config set --secret cronflare:alertWebhookUrl <value>`"
    ]


def test_job_override_errors_name_the_job():
    got = errors({**STACK, "jobs": {"weekly-report": {"enabled": "maybe", "color": 1}}})
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
    good = settings_from_config({"runRetentionDays": 30, "alertOn": ["dead", "missed"]}, "dev")
    assert good.run_retention_days == 30 and good.alert_on == ("dead", "missed")
    assert settings_from_config({}, "dev").alert_on == ("dead",)
    with pytest.raises(CatalogError) as caught:
        settings_from_config({"runRetentionDays": 0, "alertOn": ["dead", "sometimes"]}, "dev")
    lines = caught.value.problems
    assert any(line.startswith("config cronflare:runRetentionDays:") for line in lines), lines
    assert any(line.startswith("config cronflare:alertOn.1:") for line in lines), lines
    with pytest.raises(CatalogError, match=r"alertOn: .*twice"):
        settings_from_config({"alertOn": ["dead", "dead"]}, "dev")


# -- Pulumi.yaml declares the keys Settings reads, with the model's types and defaults

# The keys Pulumi.yaml cannot declare, as its comment lists them: `object` ones because Pulumi
# types only string, integer, boolean and array; the others because they are optional with no
# default, and Pulumi requires every declared key that has no default.
UNDECLARED = {
    "jobs": "object",
    "prices": "object",
    "nativeTriggerLimit": "integer",
    "nextSigningKeyGeneration": "integer",
    "alertWebhookUrl": "secret",
}


def pulumi_type(annotation: Any) -> dict[str, Any]:
    """The declaration (`type`, and `items` for an array) that a field's annotation calls for."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):  # X | None: optional, typed as X
        [inner] = [a for a in args if a is not type(None)]
        return pulumi_type(inner)
    if origin is typing.Annotated:
        return pulumi_type(args[0])
    if origin is typing.Literal and all(isinstance(a, str) for a in args):
        return {"type": "string"}
    if origin is tuple:
        return {"type": "array", "items": pulumi_type(args[0])}
    if origin is dict or (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return {"type": "object"}
    return {"type": {str: "string", int: "integer", bool: "boolean"}[annotation]}


FIELDS = {f.alias: (n, f) for n, f in Settings.model_fields.items() if n != "stack"}
PULUMI_YAML = (ROOT / "Pulumi.yaml").read_text()
DECLARED: dict[str, dict[str, Any]] = yaml.safe_load(PULUMI_YAML)["config"]


def test_every_key_the_model_reads_is_declared_or_listed_as_undeclarable():
    """Each config key is declared in Pulumi.yaml or in its comment's list, never both; each
    listed key says why: an object, or an optional key with no default to declare.
    """
    assert set(FIELDS) == set(DECLARED) | set(UNDECLARED)
    assert not set(DECLARED) & set(UNDECLARED)
    for key, kind in UNDECLARED.items():
        assert re.search(rf"^#   {key} +{kind} ", PULUMI_YAML, re.MULTILINE), key
        _, field = FIELDS[key]
        if kind == "object":
            assert pulumi_type(field.annotation) == {"type": "object"}, key
        else:
            assert not field.is_required() and field.default is None, key
    assert {k for k, kind in UNDECLARED.items() if kind == "secret"} == SECRET_KEYS


@pytest.mark.parametrize("key", sorted(DECLARED))
def test_pulumi_yaml_declares_the_models_type_and_default(key: str):
    """A declared key has the model field's type and default; the required ones no default."""
    declaration = DECLARED[key]
    _, field = FIELDS[key]
    typed = {k: v for k, v in declaration.items() if k in ("type", "items")}
    assert typed == pulumi_type(field.annotation)
    assert declaration.get("description")
    if key in REQUIRED_KEYS:
        assert "default" not in declaration and field.default is None
    else:
        default = field.default
        assert declaration["default"] == (list(default) if isinstance(default, tuple) else default)


# What Pulumi's own check of a declared type refuses, for each type Pulumi.yaml uses.
PULUMI_REFUSES: dict[str, list[Any]] = {
    "string": [],  # Pulumi takes any scalar as text; the model is stricter
    "integer": [True, False, 1.5, "ten", [1], {"n": 1}],
    "array": ["dead", {"dead": True}, [1]],
}


@pytest.mark.parametrize("key", sorted(DECLARED))
def test_what_pulumi_refuses_for_a_declared_key_the_check_refuses_too(key: str):
    """So `cronflare check --stack` is never green on a value `pulumi up` would refuse."""
    for value in PULUMI_REFUSES[DECLARED[key]["type"]]:
        with pytest.raises(CatalogError) as caught:
            check_stack_config({**STACK, key: value}, "test")
        assert caught.value.problems[0].startswith(f"config cronflare:{key}"), (key, value)
