"""What a project's own tests call, so that they import nothing of the machinery, which may move
between releases: the catalog checked as `cronflare check` checks it, and each handler run once
as `cronflare exec` runs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cronflare.catalog.loader import load_catalog
from cronflare.catalog.model import CatalogError
from cronflare.catalog.validate import ResolvedJob, resolve
from cronflare.plan import DeployPlan, plan_resolved
from cronflare.runtime.wrapper import run_here
from cronflare.settings import local_settings

__all__ = ["CatalogError", "ResolvedJob", "check_catalog", "enabled_jobs", "run_once"]


def check_catalog(catalog: str | None = None) -> DeployPlan:
    """The deploy plan `cronflare check` makes of the catalog (its reference, else
    CRONFLARE_CATALOG, else jobs.catalog:CATALOG); CatalogError lists every problem.
    """
    settings = local_settings()
    return plan_resolved(resolve(load_catalog(catalog), settings.jobs), settings)


def enabled_jobs(catalog: str | None = None) -> list[ResolvedJob]:
    """The catalog's enabled jobs, resolved with their defaults; none when it is invalid, which
    check_catalog reports.
    """
    try:
        return [j for j in resolve(load_catalog(catalog), local_settings().jobs).jobs if j.enabled]
    except CatalogError:
        return []


def run_once(job: ResolvedJob, args: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run the job's handler once, here, with a real RunContext and its args (or `args`), as the
    wrapper runs it on Modal: the outcome's `status`, `error`, `result` and times.
    """
    return run_here(job, args)
