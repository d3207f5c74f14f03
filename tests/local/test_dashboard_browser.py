"""The dashboard of a live local stack, in a real headless Chromium driven by Playwright."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Dialog, Locator, Page, expect, sync_playwright

from cronflare.local.stack import TERMINAL, LocalStack
from tests import ROOT
from tests.fixtures.e2e_catalog import WITH_GHOST
from tests.local.test_e2e import assert_each_ended_once, ms, settle, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT = ROOT / ".cronflare" / "dashboard.png"
ACTIONS_SCREENSHOT = ROOT / ".cronflare" / "dashboard-actions.png"
JOBS = ("minutely", "hourly", "ghost", "poison")  # WITH_GHOST

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="needs Debian's chromium (apt-get install chromium); .ci/run installs it",
)

# The page shows an action's outcome in #msg, then reloads after a success: keep the last
# outcome in sessionStorage, which outlives the reload, so a test reads it without racing it.
KEEP_MSG = """addEventListener('DOMContentLoaded', () => {
  const msg = document.getElementById('msg');
  if (msg) new MutationObserver(() => sessionStorage.setItem('msg', msg.textContent))
    .observe(msg, {childList: true, characterData: true, subtree: true});
});"""


@contextmanager
def dashboard_page(stack: LocalStack) -> Iterator[Page]:
    """A page of headless Chromium, logged in to the stack's dashboard as the admin."""
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        try:
            yield browser.new_context(
                http_credentials={"username": "admin", "password": stack.admin_token},
                viewport={"width": 1280, "height": 900},
            ).new_page()
        finally:
            browser.close()


def test_the_dashboard_shows_jobs_next_runs_and_the_run_log(make_stack):
    stack = make_stack(WITH_GHOST)
    for minute in range(46):  # 09:00 .. 09:45
        stack.scheduled(ms(minute), wait=10)
    runs = settle(stack, 46 + 3)  # minutely, and hourly 09:00, poison 09:30, ghost 09:45
    api_runs = stack.admin("GET", "/runs").json()["runs"]
    assert {r["status"] for r in api_runs} == {"succeeded", "failed"}

    with dashboard_page(stack) as page:
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text))
        response = page.goto(stack.worker_url + "/")
        assert response is not None and response.status == 200
        # the page lives under its CSP: its hashed inline style applies, and nothing is refused
        assert "script-src 'sha256-" in response.headers["content-security-policy"]
        body_color = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert body_color == "rgb(246, 248, 250)"
        assert not [m for m in console if "Content Security Policy" in m], console
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
    assert SCREENSHOT.stat().st_size > 10_000
    assert len(runs) == 49


def act(page: Page, button: Locator, *, reloads: bool) -> tuple[int, str]:
    """Click one of the dashboard's action buttons; return the HTTP status of its POST and the
    outcome the page showed in #msg. A success reloads the page: this waits for the reload.
    """
    page.locator("#msg").evaluate("m => m.textContent = ''")
    with page.expect_event("load") if reloads else nullcontext():
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            button.click()
        status = answer.value.status  # its body is gone once the page reloads
    if not reloads:
        expect(page.locator("#msg")).not_to_be_empty()
    return status, page.evaluate("sessionStorage.getItem('msg')")


def api_run(stack: LocalStack, execution_id: str) -> dict[str, Any]:
    res = stack.admin("GET", f"/runs/{quote(execution_id, safe='')}")
    assert res.status_code == 200, res.text
    return res.json()


def ended(stack: LocalStack, execution_id: str, trigger: str) -> dict[str, Any]:
    """Poll the admin API until the run, by way of `trigger`, is terminal; return it."""
    seen: dict[str, Any] = {}

    def done() -> bool:
        seen.update(api_run(stack, execution_id))
        return seen["trigger"] == trigger and seen["status"] in TERMINAL

    wait_for(done, timeout=60)
    return seen


def test_the_dashboard_buttons_pause_run_and_replay_through_the_admin_api(make_stack):
    stack = make_stack(WITH_GHOST)
    stack.scheduled(ms(45), wait=10)  # minutely succeeds; ghost fails (the dispatcher: 404)
    settle(stack, 2)
    ghost = "ghost@2026-11-23T09:45Z"
    assert api_run(stack, ghost)["status"] == "failed"
    reason = "maintenance window"
    prompts: list[tuple[str, str]] = []

    def answer(dialog: Dialog) -> None:
        prompts.append((dialog.type, dialog.message))
        dialog.accept(reason)

    with dashboard_page(stack) as page:
        page.add_init_script(KEEP_MSG)
        page.on("dialog", answer)
        page.goto(stack.worker_url + "/")
        msg = page.locator("#msg")
        row = {job: page.locator(f"#jobs tbody tr[data-job={job}]") for job in JOBS}
        # each job's status strip: one cell per run, coloured by its status
        expect(row["minutely"].locator(".strip i.succeeded")).to_have_attribute(
            "title", "minutely@2026-11-23T09:45Z succeeded"
        )
        expect(row["ghost"].locator(".strip i")).to_have_class("s failed")
        expect(row["hourly"].locator(".strip i")).to_have_count(0)
        # the dispatcher serves the catalog without ghost: the header says the two differ
        worker_hash = stack.admin("GET", "/healthz").json()["catalog_hash"]
        expect(page.locator(".skew.out-of-sync")).to_have_text(
            re.compile(rf"^out of sync: Worker {worker_hash[:12]}, Modal \w+$")
        )

        # 1. pause minutely from its row, with a reason asked by a prompt
        pause = row["minutely"].get_by_role("button", name="pause")
        assert act(page, pause, reloads=True) == (200, "pause: minutely")
        assert prompts == [("prompt", "Why pause minutely? (optional)")]
        expect(row["minutely"].locator(".s.paused")).to_have_text(f"paused: {reason}")
        expect(row["minutely"].get_by_role("button", name="resume")).to_be_visible()
        [job] = [j for j in stack.admin("GET", "/jobs").json()["jobs"] if j["name"] == "minutely"]
        assert job["paused"]["reason"] == reason
        # its next due minute is recorded as skipped, with the reason
        stack.scheduled(ms(46), wait=10)
        skipped = stack.admin("GET", "/runs?job=minutely&status=skipped").json()["runs"]
        assert [(r["execution_id"], r["trigger"], r["last_error"]) for r in skipped] == [
            ("minutely@2026-11-23T09:46Z", "cron", f"paused: {reason}")
        ]
        # manual runs and replays of it are refused while it is paused, and the page says so
        page.reload()
        expect(row["minutely"].locator(".strip i")).to_have_class(["s succeeded", "s skipped"])
        skipped_row = page.locator("#runs tbody tr", has_text="minutely@2026-11-23T09:46Z")
        expect(skipped_row.locator(".s")).to_have_text("skipped")
        refused = f"refused: job minutely is paused: {reason} (since "
        status, shown = act(page, skipped_row.get_by_role("button", name="replay"), reloads=False)
        assert status == 409 and shown.startswith(refused), shown
        expect(msg).to_contain_text(refused)
        status, shown = act(page, row["minutely"].get_by_role("button", name="run now"),
                            reloads=False)  # fmt: skip
        assert status == 409 and shown.startswith(refused), shown
        expect(msg).to_contain_text(refused)
        assert stack.admin("POST", "/jobs/minutely/run").status_code == 409
        assert len(stack.admin("GET", "/runs?job=minutely").json()["runs"]) == 2

        # 2. run hourly now: a manual run goes through the queue and succeeds
        status, shown = act(page, row["hourly"].get_by_role("button", name="run now"),
                            reloads=True)  # fmt: skip
        assert status == 202 and shown.startswith("run now: hourly@") and "-manual-" in shown, shown
        manual = shown.removeprefix("run now: ")
        run = ended(stack, manual, "manual")
        assert run["status"] == "succeeded", run

        # 3. replay the failed ghost run: back through the queue, and failed again, once
        failed_row = page.locator("#runs tbody tr", has_text=ghost)
        expect(failed_row.locator(".s")).to_have_text("failed")
        status, shown = act(page, failed_row.get_by_role("button", name="replay"), reloads=True)
        assert (status, shown) == (202, f"replay: {ghost}")
        run = ended(stack, ghost, "replay")
        assert (run["status"], run["attempts"]) == ("failed", 1), run
        assert run["last_error"].startswith("dispatcher answered 404")

        # the filter narrows the run table to one job: by its URL, and by its form
        page.goto(stack.worker_url + "/?job=hourly")
        expect(page.locator("#filter select[name=job]")).to_have_value("hourly")
        expect(page.locator("#runs tbody tr code")).to_have_text([manual])
        expect(page.locator("#runs tbody tr .s")).to_have_text(["succeeded"])
        expect(page.locator("#runs tbody tr td:nth-child(3)")).to_have_text(["manual"])
        page.locator("#filter select[name=job]").select_option("ghost")
        page.locator("#filter select[name=status]").select_option("failed")
        page.locator("#filter").get_by_role("button", name="filter").click()
        page.wait_for_url("**/?job=ghost&status=failed")
        expect(page.locator("#runs tbody tr code")).to_have_text([ghost])
        expect(page.locator("#runs tbody tr td:nth-child(3)")).to_have_text(["replay"])

        page.goto(stack.worker_url + "/")
        expect(page.locator("#runs tbody tr")).to_have_count(4)
        expect(row["hourly"].locator(".strip i")).to_have_class(["s succeeded"])
        expect(row["ghost"].locator(".strip i")).to_have_class(["s failed"])
        expect(row["minutely"].locator(".s.paused")).to_have_text(f"paused: {reason}")
        ACTIONS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ACTIONS_SCREENSHOT), full_page=True)
    assert ACTIONS_SCREENSHOT.stat().st_size > 10_000
    runs = settle(stack, 4)
    assert_each_ended_once(stack, runs)
    assert {e["execution_id"] for e in stack.executions()} == {"minutely@2026-11-23T09:45Z", manual}
