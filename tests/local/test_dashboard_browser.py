"""The dashboard of a live local stack, in a real headless Chromium driven by Playwright."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests import ROOT
from tests.fixtures.e2e_catalog import WITH_GHOST
from tests.local.test_e2e import ms, settle

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT = ROOT / ".cronflare" / "dashboard.png"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="needs Debian's chromium (apt-get install chromium); .ci/run installs it",
)


def test_the_dashboard_shows_jobs_next_runs_and_the_run_log(make_stack):
    from playwright.sync_api import sync_playwright

    stack = make_stack(WITH_GHOST)
    for minute in range(46):  # 09:00 .. 09:45
        stack.scheduled(ms(minute), wait=10)
    runs = settle(stack, 46 + 3)  # minutely, and hourly 09:00, poison 09:30, ghost 09:45
    api_runs = stack.admin("GET", "/runs").json()["runs"]
    assert {r["status"] for r in api_runs} == {"succeeded", "failed"}

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_context(
            http_credentials={"username": "admin", "password": stack.admin_token},
            viewport={"width": 1280, "height": 900},
        ).new_page()
        response = page.goto(stack.worker_url + "/")
        assert response is not None and response.status == 200
        jobs = page.locator("#jobs tbody tr")
        assert jobs.count() == 4
        assert sorted(jobs.locator("b").all_inner_texts()) == [
            "ghost",
            "hourly",
            "minutely",
            "poison",
        ]
        # every job shows a next run as a relative time, with the instant in its title
        nexts = page.locator("#jobs tbody tr td:nth-child(4) time")
        assert nexts.count() == 4 and all(t.startswith("in ") for t in nexts.all_inner_texts())
        rows = page.locator("#runs tbody tr")
        shown = {
            rows.nth(i).locator("code").inner_text(): rows.nth(i).locator(".s").inner_text()
            for i in range(rows.count())
        }
        assert shown == {r["execution_id"]: r["status"] for r in api_runs}
        assert page.locator(".card.failed b").inner_text() == "1"
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        browser.close()
    assert SCREENSHOT.stat().st_size > 10_000
    assert len(runs) == 49
