"""The program's inputs, all checked before any resource: settings, plan and bundle."""

from __future__ import annotations

import json
import sys
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from cronflare.bundle import Bundle, worker_bundle
from cronflare.catalog.loader import current_directory_importable, load_catalog
from cronflare.catalog.model import CatalogError
from cronflare.plan import DeployPlan, plan
from cronflare.settings import NAMESPACE, SECRET_KEYS, Settings, check_stack_config

# Kept as text even when they look like JSON numbers (an all-digit account id, say).
_TEXT_KEYS = frozenset({"accountId", "workersSubdomain", "modalEnvironment"})


def _config_values() -> dict[str, str]:
    # pulumi.Config has no way to list keys, and an unknown (mistyped) key must be an error.
    values = dict(runtime_config.get_config_env())
    values.update(runtime_config.CONFIG.get())
    return {k.partition(":")[2]: v for k, v in values.items() if k.startswith(f"{NAMESPACE}:")}


def _decode(value: Any) -> Any:
    # Pulumi hands every value over as text; objects, lists and numbers arrive as JSON.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def stack_settings() -> Settings:
    """This stack's Settings from `cronflare:` config, checked by check_stack_config() as
    `cronflare check --stack` checks the stack file. Secret values stay Output[str].
    """
    config = pulumi.Config(NAMESPACE)
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for key, raw in _config_values().items():
        if runtime_config.is_config_secret(f"{NAMESPACE}:{key}"):
            secret.add(key)
            values[key] = config.get_secret(key) if key in SECRET_KEYS else raw
        else:
            values[key] = raw if key in _TEXT_KEYS else _decode(raw)
    return check_stack_config(values, pulumi.get_stack(), secret_keys=frozenset(secret))


def _project_importable() -> None:
    """Put the Pulumi project's root (the folder of Pulumi.yaml) first on sys.path, so the user's
    catalog imports from there whatever folder `main` runs the program in (load_catalog adds
    that folder, so it goes on first, behind the root).
    """
    current_directory_importable()
    try:
        root = pulumi.get_root_directory()
    except Exception:  # mocks, or a runtime that never set it: the working directory will do
        return
    if root:
        if root in sys.path:
            sys.path.remove(root)
        sys.path.insert(0, root)


def program_inputs() -> tuple[Settings, DeployPlan, Bundle]:
    """Settings, plan and bundle, or stop the program with every problem before any resource."""
    _project_importable()
    try:
        settings = stack_settings()
        deploy_plan = plan(load_catalog(), settings)
        bundle = worker_bundle()
    except CatalogError as error:
        raise pulumi.RunError(
            "cronflare: the catalog or the stack config is invalid; nothing was deployed:\n"
            + "\n".join(f"  {line}" for line in error.problems)
        ) from None
    for warning in deploy_plan.warnings:
        pulumi.log.warn(warning)
    return settings, deploy_plan, bundle
