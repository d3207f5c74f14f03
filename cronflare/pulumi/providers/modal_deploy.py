"""ModalDeployment: a dynamic resource deploying cronflare.runtime.modal_app and its signing key."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from cronflare.pulumi.providers import modal_seam
from cronflare.runtime.image import SOURCE_PACKAGES

# Bump when this file's behaviour changes: the version input then forces an update.
# Still 1 after the move from infra.providers: the move adds cronflare/pulumi/ to the sources the
# image carries, so the source hash changes and forces the update that stores the new reference.
PROVIDER_VERSION = "1"
MODULE = "cronflare.runtime.modal_app"
DISPATCHER = "dispatcher"
KEY_NAMES = ("CRONFLARE_SIGNING_KEY", "CRONFLARE_SIGNING_KEY_NEXT")
APP_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$")
HASH = re.compile(r"^[0-9a-f]{40}$")  # fits Modal's 50-character deployment tag
REPLACE_ON = ("app_name", "environment")


def _package_folders(root: Path | None) -> Iterator[tuple[str, Path]]:
    """Each source package's folder: under `root` if given, else where Python imports it from,
    as the image's add_local_python_source finds it (cronflare installed, jobs in the project).
    """
    for package in SOURCE_PACKAGES:
        if root is not None:
            yield package, root / package
            continue
        spec = importlib.util.find_spec(package)
        folders = spec.submodule_search_locations if spec is not None else None
        for folder in folders or [modal_seam.ROOT / package]:
            yield package, Path(folder)


def source_hash(
    plan_jobs: list[dict[str, Any]], job_overrides: str = "{}", root: Path | None = None
) -> str:
    """What the Modal app is built from: the sources its image carries (cronflare/ and jobs/),
    the plan's jobs and the stack's job overrides (resources are not in the plan), as 40 hex.
    Files are named from their package, so the hash is the same wherever the packages live.
    """
    digest = hashlib.sha256()
    files = (
        (PurePosixPath(package, *path.relative_to(folder).parts), path)
        for package, folder in _package_folders(root)
        for path in folder.rglob("*.py")
    )
    for name, path in sorted(files):
        digest.update(name.as_posix().encode() + b"\0" + path.read_bytes())
    digest.update(json.dumps(plan_jobs, sort_keys=True).encode() + b"\0" + job_overrides.encode())
    return digest.hexdigest()[:40]


def keys_fingerprint(keys: list[str]) -> str:
    """A one-way digest of the signing keys, so a key change shows in diff without storing keys."""
    return hashlib.sha256("\0".join(keys).encode()).hexdigest()


def secret_name(app_name: str) -> str:
    """The Modal secret the app's functions read their signing keys from (runtime/modal_app.py)."""
    return f"{app_name}-signing"


class ModalDeploymentProvider(ResourceProvider):
    """create/update deploy, read looks up the live app, delete stops it. Holds no state: it is
    pickled by Pulumi, so every client and credential is made inside the method that needs it.
    """

    # It captures nothing secret, so its serialized form may stay diffable in the state.
    serialize_as_secret_always = False

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Refuse inputs that could not deploy, naming the property."""
        failures: list[CheckFailure] = []
        if not APP_NAME.match(str(news.get("app_name", ""))):
            failures.append(CheckFailure("app_name", "must be a Modal app name: [a-zA-Z0-9._-]"))
        if not str(news.get("environment", "")).strip():
            failures.append(CheckFailure("environment", "must name a Modal environment"))
        if not HASH.match(str(news.get("source_hash", ""))):
            failures.append(CheckFailure("source_hash", "must be 40 lowercase hex characters"))
        keys = news.get("signing_keys")
        if not isinstance(keys, list) or not 1 <= len(keys) <= 2 or not all(keys):
            failures.append(CheckFailure("signing_keys", "must be the current key, then the next"))
        try:
            overrides_ok = isinstance(json.loads(news.get("job_overrides", "")), dict)
        except (TypeError, ValueError):
            overrides_ok = False
        if not overrides_ok:
            failures.append(CheckFailure("job_overrides", "must be a JSON object of overrides"))
        if not news.get("version"):
            failures.append(CheckFailure("version", "must be the provider's version"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """A new app name or environment is another app: replace. New code or keys: update."""
        replaces = [k for k in REPLACE_ON if olds.get(k) != news.get(k)]
        changed = replaces or [
            k
            for k, old, new in (
                ("source_hash", olds.get("deployed_hash"), news.get("source_hash")),
                ("signing_keys", olds.get("keys_sha256"), keys_fingerprint(news["signing_keys"])),
                ("version", olds.get("version"), news.get("version")),
            )
            if old != new
        ]
        return DiffResult(
            changes=bool(changed), replaces=replaces, delete_before_replace=bool(replaces)
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Upsert the signing secret, deploy the app, and resolve the dispatcher's URL."""
        outs = _deploy(props)
        return CreateResult(f"{props['environment']}/{props['app_name']}", outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """The same as create: a redeploy of the same app, with the current secret."""
        return UpdateResult(_deploy(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The live app, for `pulumi refresh`: gone or stopped is no resource; a deploy from
        elsewhere shows as its own tag (the live hash) instead of ours.
        """
        modal_seam.check_credentials()
        app, env = props["app_name"], props["environment"]
        if _live_state(app, env) != "deployed":
            return ReadResult("", {})
        history = modal_seam.modal_json(["app", "history", app, "--env", env])
        latest = max(
            history, key=lambda v: int(str(v.get("version", "v0")).lstrip("v") or 0), default={}
        )
        outs = {
            **props,
            "deployed_hash": latest.get("tag") or "",
            "dispatcher_url": modal_seam.web_url(app, DISPATCHER, env),
        }
        return ReadResult(id_, outs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Stop the app; an app already stopped or gone counts as deleted."""
        modal_seam.check_credentials()
        app, env = props["app_name"], props["environment"]
        if _live_state(app, env) in (None, "stopped", "stopping..."):
            return
        modal_seam.modal_cli(["app", "stop", app, "--env", env, "--yes"])


def _live_state(app: str, env: str) -> str | None:
    apps = modal_seam.modal_json(["app", "list", "--env", env])
    states = [a.get("state") for a in apps if a.get("description") == app]
    if "deployed" in states:
        return "deployed"
    return states[0] if states else None


def _deploy(props: dict[str, Any]) -> dict[str, Any]:
    modal_seam.check_credentials()
    app, env, keys = props["app_name"], props["environment"], list(props["signing_keys"])
    # The keys go through a 0600 file, never argv: a command line is visible to every user.
    with tempfile.TemporaryDirectory(prefix="cronflare-") as folder:
        path = Path(folder) / "signing.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(dict(zip(KEY_NAMES, keys, strict=False)), f)
        modal_seam.modal_cli(
            [
                "secret",
                "create",
                secret_name(app),
                "--from-json",
                str(path),
                "--force",
                "--env",
                env,
            ]
        )
    modal_seam.modal_cli(
        ["deploy", "-m", MODULE, "--env", env, "--tag", props["source_hash"]],
        env={
            "CRONFLARE_APP_NAME": app,
            "MODAL_ENVIRONMENT": env,
            "CRONFLARE_JOB_OVERRIDES": props["job_overrides"],
        },
    )
    return {
        "app_name": app,
        "environment": env,
        "deployed_hash": props["source_hash"],
        "keys_sha256": keys_fingerprint(keys),
        "version": props["version"],
        "dispatcher_url": modal_seam.web_url(app, DISPATCHER, env),
        "deployed_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@dataclass(frozen=True)
class ModalDeploymentArgs:
    """The app to deploy, where, from what sources and stack overrides, with which signing keys
    (secret).
    """

    app_name: pulumi.Input[str]
    environment: pulumi.Input[str]
    source_hash: pulumi.Input[str]
    signing_keys: pulumi.Input[list[str]]
    job_overrides: str = "{}"
    version: str = PROVIDER_VERSION


class ModalDeployment(Resource, module="cronflare", name="ModalDeployment"):
    """cronflare.runtime.modal_app deployed as one Modal app per stack, with its dispatcher URL."""

    dispatcher_url: pulumi.Output[str]
    deployed_hash: pulumi.Output[str]
    deployed_at: pulumi.Output[str]

    def __init__(
        self, name: str, args: ModalDeploymentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            ModalDeploymentProvider(),
            name,
            {
                "app_name": args.app_name,
                "environment": args.environment,
                "source_hash": args.source_hash,
                "signing_keys": pulumi.Output.secret(args.signing_keys),
                "job_overrides": args.job_overrides,
                "version": args.version,
                "dispatcher_url": None,
                "deployed_hash": None,
                "deployed_at": None,
                "keys_sha256": None,
            },
            pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(additional_secret_outputs=["signing_keys"])
            ),
        )
