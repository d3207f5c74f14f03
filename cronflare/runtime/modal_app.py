"""The Modal app, assembled from the catalog: one function per enabled job, plus the dispatcher.

Deployed with `modal deploy -m cronflare.runtime.modal_app`: CRONFLARE_APP_NAME names the app
per stack, CRONFLARE_CATALOG picks the catalog, and CRONFLARE_JOB_OVERRIDES carries the stack's
overrides.
Importing this module needs no Modal credentials.
"""

from __future__ import annotations

import os
from typing import Any

import modal

from cronflare.catalog.validate import ResolvedJob
from cronflare.runtime.image import PYTHON_PACKAGES, SOURCE_PACKAGES
from cronflare.runtime.wrapper import catalog_jobs

APP_NAME = os.environ.get("CRONFLARE_APP_NAME", "cronflare")
SIGNING_SECRET = f"{APP_NAME}-signing"

app = modal.App(APP_NAME)
image = (
    modal.Image.debian_slim(python_version="3.11")
    .uv_pip_install(*PYTHON_PACKAGES)
    .env(
        {
            "CRONFLARE_APP_NAME": APP_NAME,
            "CRONFLARE_CATALOG": os.environ.get("CRONFLARE_CATALOG", ""),
            "CRONFLARE_JOB_OVERRIDES": os.environ.get("CRONFLARE_JOB_OVERRIDES", ""),
        }
    )
    .add_local_python_source(*SOURCE_PACKAGES)
)
signing = modal.Secret.from_name(SIGNING_SECRET, required_keys=["CRONFLARE_SIGNING_KEY"])


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
    return {
        "name": job.name,
        "image": image,
        "cpu": job.resources.cpu,
        "memory": job.resources.memory,
        "gpu": job.resources.gpu,
        "timeout": job.timeout,
        "retries": retries,
        "secrets": [signing, *(modal.Secret.from_name(s) for s in job.secrets)],
    }


for _job in catalog_jobs().values():
    app.function(**function_options(_job))(run_job)


@app.function(image=image, secrets=[signing])
@modal.asgi_app(label=APP_NAME)
def dispatcher() -> Any:
    """The signed dispatch endpoint the Worker POSTs to."""
    from cronflare.runtime.dispatcher import create_modal_app

    return create_modal_app(APP_NAME)
