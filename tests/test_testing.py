"""cronflare.testing: what a project's own tests call, with the answers `check` and `exec` give."""

from __future__ import annotations

from pathlib import Path

import pytest

from cronflare.testing import CatalogError, check_catalog, enabled_jobs, run_once

BROKEN = "tests.fixtures.broken_catalog:CATALOG"


def test_check_catalog_gives_the_plan_check_makes():
    """The example catalog's plan: every job of it, as `cronflare check --json` lists them."""
    plan = check_catalog()
    assert {j.name for j in plan.jobs} >= {"weekly-report", "customer-digest"}


def test_check_catalog_names_each_job_and_field_at_fault():
    """A broken catalog raises CatalogError with every problem, naming the job and the field."""
    with pytest.raises(CatalogError) as caught:
        check_catalog(BROKEN)
    text = "\n".join(caught.value.problems)
    assert "nightly" in text and "schedule" in text and "Mars/Olympus" in text


def test_enabled_jobs_of_a_broken_catalog_is_empty_for_check_catalog_to_report():
    """No job to parametrize over rather than an import-time error in a project's tests."""
    assert enabled_jobs(BROKEN) == []
    assert all(j.enabled for j in enabled_jobs())


def test_run_once_runs_a_handler_with_a_real_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The job's handler runs here and its outcome says succeeded, with its times."""
    monkeypatch.setenv("CRONFLARE_OUTPUT_DIR", str(tmp_path))
    [job] = [j for j in enabled_jobs() if j.name == "weekly-report"]
    outcome = run_once(job)
    assert outcome["status"] == "succeeded", outcome
    assert outcome["started_at"] <= outcome["finished_at"]
