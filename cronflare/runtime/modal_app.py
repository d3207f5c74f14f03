"""The Modal app, assembled from the catalog: one function per enabled job, plus the dispatcher.

Deployed with `modal deploy -m cronflare.runtime.modal_app`: CRONFLARE_APP_NAME names the app
per stack, CRONFLARE_CATALOG picks the catalog, and CRONFLARE_JOB_OVERRIDES carries the stack's
overrides.
Importing this module needs no Modal credentials.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import modal

from cronflare.catalog.loader import import_ref
from cronflare.catalog.model import Image
from cronflare.catalog.validate import ResolvedJob
from cronflare.runtime.executors import WATCHER
from cronflare.runtime.image import (
    PYTHON_PACKAGES,
    SOURCE_PACKAGES,
    WATCHER_CPU,
    WATCHER_MEMORY,
    WATCHER_SCALEDOWN,
)
from cronflare.runtime.wrapper import catalog_jobs, output_volume_name

APP_NAME = os.environ.get("CRONFLARE_APP_NAME", "cronflare")
SIGNING_SECRET = f"{APP_NAME}-signing"
OUTPUT_MOUNT = "/cronflare/output"  # RunContext.output_dir lives here, on the stack's Volume

app = modal.App(APP_NAME)
RUNTIME_ENV = {
    "CRONFLARE_APP_NAME": APP_NAME,
    "CRONFLARE_CATALOG": os.environ.get("CRONFLARE_CATALOG", ""),
    "CRONFLARE_JOB_OVERRIDES": os.environ.get("CRONFLARE_JOB_OVERRIDES", ""),
    "CRONFLARE_OUTPUT_DIR": OUTPUT_MOUNT,
    "CRONFLARE_VOLUMES_MOUNTED": "1",  # RunContext.volume() is the mount path itself
}


def with_runtime(base: modal.Image, pip: tuple[str, ...] = (), env: dict[str, str] | None = None):
    """`base` plus what every cronflare function needs: the runtime packages (resolved together
    with the job's own, so a conflict fails the build), its environment, and the sources.
    """
    return (
        base.uv_pip_install(*PYTHON_PACKAGES, *pip)
        .env({**(env or {}), **RUNTIME_ENV})
        .add_local_python_source(*SOURCE_PACKAGES)
    )


def build_image(spec: Image | str | None) -> modal.Image:
    """The modal.Image of a job's image setting: cronflare's default, a spec, or the user's own
    modal.Image named by its import path, each with the runtime added.
    """
    if spec is None:
        return with_runtime(modal.Image.debian_slim(python_version="3.11"))
    if isinstance(spec, str):
        return with_runtime(import_ref(spec))
    base = modal.Image.debian_slim(python_version=spec.python or "3.11")
    if spec.apt:
        base = base.apt_install(*spec.apt)
    if spec.commands:  # after apt, so they may use what it installed
        base = base.run_commands(*spec.commands)
    return with_runtime(base, tuple(spec.pip), dict(spec.env))


_images: dict[str, modal.Image] = {}


def image_for(spec: Image | str | None) -> modal.Image:
    """One modal.Image per distinct spec: jobs with equal specs share it."""
    key = "" if spec is None else spec if isinstance(spec, str) else spec.key()
    if key not in _images:
        _images[key] = build_image(spec)
    return _images[key]


image = image_for(None)
signing = modal.Secret.from_name(SIGNING_SECRET, required_keys=["CRONFLARE_SIGNING_KEY"])


@cache
def volume(name: str) -> modal.Volume:
    """A Modal Volume by name, created on first use: jobs naming the same one share it."""
    return modal.Volume.from_name(name, create_if_missing=True)


def run_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Every job's function body: the shared wrapper, which runs the handler and reports."""
    from cronflare.runtime.wrapper import run_on_modal

    return run_on_modal(payload)


def function_options(job: ResolvedJob) -> dict[str, Any]:
    """The app.function() options of one job, from its resolved catalog entry."""
    policy = job.retries
    retries = None
    if policy.attempts > 1:
        retries = modal.Retries(
            max_retries=policy.attempts - 1,
            backoff_coefficient=policy.backoff_coefficient,
            initial_delay=float(policy.initial_delay),
            max_delay=float(policy.max_delay),
        )
    mounts = {path: volume(name) for path, name in job.volumes.items()}
    return {
        "name": job.name,
        "image": image_for(job.image),
        "cpu": job.resources.cpu,
        "memory": job.resources.memory,
        "gpu": job.resources.gpu,
        "timeout": job.timeout,
        "retries": retries,
        "secrets": [signing, *(modal.Secret.from_name(s) for s in job.secrets)],
        "volumes": {OUTPUT_MOUNT: volume(output_volume_name(APP_NAME)), **mounts},
    }


def watch_target(payload: dict[str, Any], call_id: str) -> dict[str, Any]:
    """The watcher of a target job's call: blocks until it ends, then reports the run."""
    from cronflare.runtime.wrapper import watch_on_modal

    return watch_on_modal(payload, call_id)


def watcher_options(targets: list[ResolvedJob]) -> dict[str, Any]:
    """The watcher outlives the longest target it may wait on, with a margin to report."""
    longest = max(job.timeout for job in targets)
    return {
        "name": WATCHER,
        "image": image,
        "cpu": WATCHER_CPU,
        "memory": WATCHER_MEMORY,
        "timeout": min(longest + 300, 24 * 3600),
        "scaledown_window": WATCHER_SCALEDOWN,
        "secrets": [signing],
    }


_jobs = list(catalog_jobs().values())
for _job in _jobs:
    if _job.target is None:
        app.function(**function_options(_job))(run_job)
if _targets := [j for j in _jobs if j.target is not None]:
    app.function(**watcher_options(_targets))(watch_target)


@app.function(image=image, secrets=[signing])
@modal.asgi_app(label=APP_NAME)
def dispatcher() -> Any:
    """The signed dispatch endpoint the Worker POSTs to."""
    from cronflare.runtime.dispatcher import create_modal_app

    return create_modal_app(APP_NAME)
