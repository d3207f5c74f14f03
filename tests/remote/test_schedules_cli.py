"""`cronflare schedules ...` and the runtime schedules in `cronflare status`, against a fake Worker:
what they send, what they print, how they exit.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from cronflare import cli, remote
from tests.remote import test_cli as day_two
from tests.remote.test_cli import ENV, JOBS, TOKEN, URL, FakePulumi, FakeWorker, run, runner

worker = day_two.worker
pulumi = day_two.pulumi

SCHEDULE = {
    "id": "acme-digest", "job": "digest", "schedule": "0 9 * * 1", "timezone": "Europe/Berlin",
    "args": {"customer": "acme"}, "start": None, "end": None, "jitter": "5m", "paused": False,
    "external_id": "cust_42", "created_at": "2026-11-23T09:00:00.000Z",
    "updated_at": "2026-11-23T09:00:00.000Z",
    "next": ["2026-11-30T08:00:00.000Z", "2026-12-07T08:00:00.000Z"],
}  # fmt: skip
PAUSED = {**SCHEDULE, "paused": True, "next": []}


def rows(stdout: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.split("│")[1:-1]] for line in stdout.splitlines() if "│" in line
    ]


# --- create ------------------------------------------------------------------------------------


def test_create_sends_the_options_given_and_says_it_created_it(worker: FakeWorker):
    """Each option becomes its field; instants go in UTC (a bare time is UTC, as for backfill)."""
    worker.answer("POST", "/jobs/digest/schedules", 201, SCHEDULE)
    r = run("schedules", "create", "digest", "--id", "acme-digest", "--schedule", "0 9 * * 1",
            "--timezone", "Europe/Berlin", "--args", '{"customer": "acme"}',
            "--start", "2026-12-01T01:00+01:00", "--end", "2027-01-01", "--jitter", "5m",
            "--paused", "--external-id", "cust_42", "--url", URL)  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert worker.body() == {
        "id": "acme-digest", "schedule": "0 9 * * 1", "timezone": "Europe/Berlin",
        "args": {"customer": "acme"}, "start": "2026-12-01T00:00:00.000Z",
        "end": "2027-01-01T00:00:00.000Z", "jitter": "5m", "paused": True,
        "external_id": "cust_42",
    }  # fmt: skip
    assert worker.last.headers["authorization"] == f"Bearer {TOKEN}"
    assert r.stdout.strip() == (
        "digest: schedule acme-digest created: cron 0 9 * * 1 (Europe/Berlin), next "
        "2026-11-30T08:00Z"
    )


def test_create_sends_nothing_it_was_not_given(worker: FakeWorker):
    """Without options the Worker's defaults hold: no id (it makes one), no timezone, no paused."""
    made = {**SCHEDULE, "id": "s-0123456789abcdef01234567", "schedule": None, "every": "15m",
            "timezone": "UTC"}  # fmt: skip
    worker.answer("POST", "/jobs/digest/schedules", 201, made)
    r = run("schedules", "create", "digest", "--every", "15m", "--url", URL)
    assert r.exit_code == 0, r.stderr
    assert worker.body() == {"every": "15m"}
    assert "schedule s-0123456789abcdef01234567 created: every 15m (UTC)" in r.stdout


def test_create_of_an_id_that_exists_says_it_is_unchanged(worker: FakeWorker):
    """The Worker answers 200 and the stored schedule: the options given were not applied."""
    worker.answer("POST", "/jobs/digest/schedules", 200, SCHEDULE)
    r = run("schedules", "create", "digest", "--id", "acme-digest", "--every", "5m", "--url", URL)
    assert r.exit_code == 0 and "schedule acme-digest exists, unchanged: cron 0 9" in r.stdout


@pytest.mark.parametrize("when", [[], ["--every", "15m", "--schedule", "@daily"],
                                  ["--at", "2026-12-24T09:00Z", "--every", "1h"]])  # fmt: skip
def test_create_needs_exactly_one_of_schedule_every_at(worker: FakeWorker, when: list[str]):
    """A usage error (exit 2), before any request."""
    r = run("schedules", "create", "digest", *when, "--url", URL)
    assert r.exit_code == 2 and "exactly one of --schedule, --every and --at" in r.output
    assert worker.requests == []


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--args", "[1]", "--args: must be a JSON object, such as '{\"limit\": 10}'"),
     ("--start", "soon", "--start: 'soon' is not an ISO 8601 time")],
)  # fmt: skip
def test_create_refuses_bad_options_before_sending(
    worker: FakeWorker, option: str, value: str, message: str
):
    """A bad --args or instant is refused here (exit 1), never sent."""
    r = run("schedules", "create", "digest", "--every", "15m", option, value, "--url", URL)
    assert (r.exit_code, r.stderr.strip()) == (1, message)
    assert worker.requests == []


def test_create_prints_each_problem_the_worker_lists(worker: FakeWorker):
    """A 422 names every field that is wrong: one line each, exit 1."""
    problems = ["every: '45m' does not divide an hour", "jitter: must be whole minutes, such as 5m"]
    worker.answer("POST", "/jobs/digest/schedules", 422,
                  {"error": problems[0], "problems": problems})  # fmt: skip
    r = run("schedules", "create", "digest", "--every", "45m", "--jitter", "30s", "--url", URL)
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr.splitlines() == [f"cronflare: {p}" for p in problems]


def test_create_for_a_job_without_the_opt_in_exits_1(worker: FakeWorker):
    """The Worker's 409 is printed as it says it."""
    error = "job hourly does not take runtime schedules (runtime_schedules=True in the catalog)"
    worker.answer("POST", "/jobs/hourly/schedules", 409, {"error": error})
    r = run("schedules", "create", "hourly", "--every", "15m", "--url", URL)
    assert (r.exit_code, r.stderr.strip()) == (1, f"cronflare: {error}")


# --- list, get -----------------------------------------------------------------------------------


def test_list_shows_one_page_and_says_when_there_are_more(worker: FakeWorker):
    """One page (the Worker's default size); a row per schedule; a hint to --all for the rest."""
    at = {**SCHEDULE, "id": "once", "schedule": None, "at": "2026-12-24T09:00:00.000Z",
          "timezone": "UTC", "external_id": None}  # fmt: skip
    page = {"schedules": [SCHEDULE, at, {**PAUSED, "id": "zz"}], "next_cursor": "zz"}
    worker.answer("GET", "/jobs/digest/schedules", 200, page)
    r = run("schedules", "list", "digest", "--external-id", "cust_42", "--url", URL)
    assert r.exit_code == 0, r.stderr
    assert dict(worker.last.url.params) == {"external_id": "cust_42"}
    table = {cells[0]: cells for cells in rows(r.stdout) if cells[0] not in ("", "id")}
    assert table["acme-digest"] == ["acme-digest", "cron 0 9 * * 1", "Europe/Berlin", "active",
                                    "2026-11-30T08:00Z", "cust_42"]  # fmt: skip
    assert table["once"][1] == "once at 2026-12-24T09:00Z"
    assert table["zz"][3:5] == ["paused", "none"]
    assert r.stdout.splitlines()[-1] == "more after these: `cronflare schedules list digest --all`"


def test_list_all_follows_the_cursors(worker: FakeWorker):
    """--all: the largest pages, each with the cursor the last one gave, until there is none;
    --json then prints them all as one page.
    """
    pages = {
        None: {"schedules": [{**SCHEDULE, "id": "a"}], "next_cursor": "a"},
        "a": {"schedules": [{**SCHEDULE, "id": "b"}], "next_cursor": "b"},
        "b": {"schedules": [{**SCHEDULE, "id": "c"}], "next_cursor": None},
    }

    def page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    worker.answer("GET", "/jobs/digest/schedules", 200, page)
    r = run("schedules", "list", "digest", "--all", "--json", "--url", URL)
    assert r.exit_code == 0, r.stderr
    assert [dict(q.url.params) for q in worker.requests] == [
        {"limit": "500"}, {"cursor": "a", "limit": "500"}, {"cursor": "b", "limit": "500"}
    ]  # fmt: skip
    data = json.loads(r.stdout)
    assert [s["id"] for s in data["schedules"]] == ["a", "b", "c"] and data["next_cursor"] is None
    worker.requests.clear()
    r = run("schedules", "list", "digest", "--all", "--url", URL)
    assert r.exit_code == 0 and "3 runtime schedules of digest" in r.stdout
    assert "more after these" not in r.stdout


def test_list_of_a_job_with_none_exits_0(worker: FakeWorker):
    """An empty list is an answer."""
    worker.answer("GET", "/jobs/digest/schedules", 200, {"schedules": [], "next_cursor": None})
    r = run("schedules", "list", "digest", "--url", URL)
    assert (r.exit_code, r.stdout) == (0, "digest has no runtime schedules\n")


def test_get_shows_every_field(worker: FakeWorker):
    """One schedule: when, state, next runs, args, window, jitter, external id, times."""
    worker.answer("GET", "/schedules/acme-digest", 200, SCHEDULE)
    r = run("schedules", "get", "acme-digest", "--url", URL)
    assert r.exit_code == 0, r.stderr
    lines = [" ".join(line.split()) for line in r.stdout.splitlines()]
    assert lines == [
        "id acme-digest",
        "job digest",
        "when cron 0 9 * * 1 (Europe/Berlin)",
        "state active",
        "next runs 2026-11-30T08:00Z, 2026-12-07T08:00Z",
        'args {"customer": "acme"}',
        "start -",
        "end -",
        "jitter 5m",
        "external id cust_42",
        "created 2026-11-23T09:00:00Z",
        "updated 2026-11-23T09:00:00Z",
    ]


# --- delete, pause, resume -------------------------------------------------------------------


def test_delete_asks_first_and_does_nothing_without_a_yes(worker: FakeWorker):
    """No (or no answer at all: stdin is not a terminal) is exit 1, and nothing is sent."""
    for answer in ("n\n", ""):
        r = runner.invoke(cli.app, ["schedules", "delete", "acme-digest", "--url", URL],
                          input=answer, env=ENV)  # fmt: skip
        # The runner echoes what was typed to stdout, as a terminal would show it.
        assert r.exit_code == 1 and r.stdout.strip() == answer.strip()
        assert "Delete runtime schedule acme-digest?" in r.stderr
        assert "cronflare: schedule acme-digest not deleted" in r.stderr
    assert worker.requests == []


def test_delete_after_a_yes_or_with_yes(worker: FakeWorker):
    """y at the question, or --yes without one: DELETE /schedules/<id>."""
    worker.answer("DELETE", "/schedules/acme-digest", 200, {"id": "acme-digest", "deleted": True})
    r = runner.invoke(cli.app, ["schedules", "delete", "acme-digest", "--url", URL], input="y\n",
                      env=ENV)  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "schedule acme-digest deleted; its runs stay in the run log"
    r = run("schedules", "delete", "acme-digest", "--yes", "--url", URL)
    assert r.exit_code == 0 and "Delete" not in r.stderr
    assert [(q.method, q.url.path) for q in worker.requests] == [
        ("DELETE", "/schedules/acme-digest")
    ] * 2


def test_pause_and_resume_print_the_schedules_state(worker: FakeWorker):
    """POST /schedules/<id>/pause and /resume, no body; each says what now holds."""
    worker.answer("POST", "/schedules/acme-digest/pause", 200, PAUSED)
    worker.answer("POST", "/schedules/acme-digest/resume", 200, SCHEDULE)
    r = run("schedules", "pause", "acme-digest", "--url", URL)
    assert r.stdout.strip() == (
        "schedule acme-digest paused: cron 0 9 * * 1 (Europe/Berlin), paused, no next run"
    )
    assert worker.last.content == b""
    r = run("schedules", "resume", "acme-digest", "--url", URL)
    assert r.stdout.strip() == (
        "schedule acme-digest resumed: cron 0 9 * * 1 (Europe/Berlin), next 2026-11-30T08:00Z"
    )


@pytest.mark.parametrize(
    ("args", "method", "path", "answer"),
    [
        (["create", "digest", "--every", "15m"], "POST", "/jobs/digest/schedules", SCHEDULE),
        (["list", "digest"], "GET", "/jobs/digest/schedules",
         {"schedules": [SCHEDULE], "next_cursor": "acme-digest"}),
        (["get", "acme-digest"], "GET", "/schedules/acme-digest", SCHEDULE),
        (["delete", "acme-digest", "--yes"], "DELETE", "/schedules/acme-digest",
         {"id": "acme-digest", "deleted": True}),
        (["pause", "acme-digest"], "POST", "/schedules/acme-digest/pause", PAUSED),
        (["resume", "acme-digest"], "POST", "/schedules/acme-digest/resume", SCHEDULE),
    ],
)  # fmt: skip
def test_json_prints_the_workers_answer_and_nothing_else(
    worker: FakeWorker, args: list[str], method: str, path: str, answer: Any
):
    """--json: stdout is exactly the Worker's JSON, for scripts."""
    worker.answer(method, path, 200, answer)
    r = run("schedules", *args, "--json", "--url", URL)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == json.dumps(answer, indent=2, ensure_ascii=False) + "\n"


# --- refusals, old Workers, unreachable ones ----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "method", "path"),
    [(["get", "nope"], "GET", "/schedules/nope"),
     (["pause", "nope"], "POST", "/schedules/nope/pause"),
     (["delete", "nope", "--yes"], "DELETE", "/schedules/nope")],
)  # fmt: skip
def test_an_unknown_schedule_exits_1(worker: FakeWorker, args: list[str], method: str, path: str):
    """The Worker's 404 says which schedule."""
    worker.answer(method, path, 404, {"error": "no such schedule: nope"})
    r = run("schedules", *args, "--url", URL)
    assert (r.exit_code, r.stderr.strip()) == (1, "cronflare: no such schedule: nope")


def test_a_worker_without_the_routes_says_it_is_older(worker: FakeWorker):
    """A Worker deployed before runtime schedules answers "no such route": deploy it again."""
    r = run("schedules", "list", "digest", "--url", URL)
    assert r.exit_code == 1
    assert r.stderr.strip() == (
        f"cronflare: the Worker at {URL} has no route GET /jobs/digest/schedules: it is older "
        "than this CLI; deploy it again (pulumi up)"
    )


def test_an_unreachable_worker_exits_2(worker: FakeWorker):
    """Connection refused: exit 2, naming the URL."""
    worker.fail = httpx.ConnectError("[Errno 111] Connection refused")
    r = run("schedules", "get", "acme-digest", "--url", URL)
    assert r.exit_code == 2
    assert r.stderr.strip() == f"cronflare: cannot reach the Worker at {URL}: Connection refused"


@pytest.mark.parametrize("command", ["create", "list", "get", "delete", "pause", "resume"])
def test_every_schedules_command_takes_stack_url_and_json(command: str):
    """Each finds its Worker as the other day-two commands do, and has --json for scripts."""
    r = runner.invoke(cli.app, ["schedules", command, "--help"])
    assert r.exit_code == 0
    assert all(option in r.stdout for option in ("--stack", "--url", "--json")), r.stdout


# --- status: runtime schedules per job, and orphans ---------------------------------------------

COUNTED = {
    **JOBS,
    "jobs": [
        {**JOBS["jobs"][0], "schedules": 0},
        {"name": "digest", "description": "d", "schedule": "", "timezone": "UTC",
         "enabled": True, "runtime": True, "next": [], "last": None, "paused": None,
         "schedules": 1250},
    ],
}  # fmt: skip
STATS = {
    "counts": {"in_flight": 0},
    "schedules": {"total": 1257, "by_job": {"digest": 1250, "old-digest": 7},
                  "orphaned": {"old-digest": 5, "lapsed": 2, "fine": 0}},
}  # fmt: skip


def test_status_counts_each_jobs_runtime_schedules(worker: FakeWorker):
    """Under a job's schedule, its runtime schedules (from the /jobs entries) when it takes them
    or has any; a job without a catalog schedule shows only those.
    """
    jobs = {**COUNTED, "jobs": [*COUNTED["jobs"],
                                {**JOBS["jobs"][0], "name": "mixed", "schedules": 3}]}  # fmt: skip
    worker.answer("GET", "/jobs", 200, jobs)
    worker.answer("GET", "/stats", 200, {"counts": {}, "schedules": {"total": 1253}})
    r = run("status", "--url", URL)
    assert r.exit_code == 0, r.stderr
    schedule_cells = [cells[1] for cells in rows(r.stdout)]
    assert schedule_cells == ["0 * * * *", "runtime: 1250", "0 * * * *", "runtime: 3"]
    assert r.stderr == ""


def test_status_warns_of_the_schedules_of_jobs_gone_from_the_catalog(worker: FakeWorker):
    """/stats schedules.orphaned: one warning line naming each job and its count; --json is the
    /jobs answer alone, as before.
    """
    worker.answer("GET", "/jobs", 200, COUNTED)
    worker.answer("GET", "/stats", 200, STATS)
    r = run("status", "--url", URL)
    assert r.exit_code == 0, r.stderr
    assert r.stderr.strip() == (
        "warning: 7 runtime schedules of jobs no longer in the catalog or no longer taking "
        "runtime schedules: lapsed (2), old-digest (5); each of their fires is recorded as "
        "skipped (`cronflare schedules list JOB`, then `delete`)"
    )
    worker.requests.clear()
    r = run("status", "--json", "--url", URL)
    assert json.loads(r.stdout) == COUNTED and r.stderr == ""
    assert [q.url.path for q in worker.requests] == ["/jobs"]


def test_status_of_a_worker_older_than_runtime_schedules_is_unchanged(worker: FakeWorker):
    """No `schedules` in the /jobs entries: no column, no /stats request, no warning."""
    worker.answer("GET", "/jobs", 200, JOBS)
    r = run("status", "--url", URL)
    assert r.exit_code == 0 and r.stderr == ""
    assert "schedules" not in r.stdout
    assert [q.url.path for q in worker.requests] == ["/jobs"]


# --- the app's token from a stack ----------------------------------------------------------------


def test_schedules_target_reads_the_apps_token_from_the_stack(pulumi: FakePulumi):
    """workerUrl and schedulesToken: what an app hands cronflare.Client, not the admin token."""
    pulumi.stdout = json.dumps({"workerUrl": URL, "adminToken": TOKEN, "schedulesToken": "app"})
    target = remote.schedules_target("dev")
    assert (target.url, target.token) == (URL, "app")
    assert "schedulesToken" in target.hint
    assert pulumi.calls[0][0][-2:] == ["--stack", "dev"]


def test_a_stack_deployed_before_the_schedules_token_says_to_deploy(pulumi: FakePulumi):
    """No schedulesToken output yet: exit 2's error, naming the output and the fix."""
    with pytest.raises(remote.Unreachable) as caught:
        remote.schedules_target("dev")
    assert str(caught.value) == (
        "stack dev has no schedulesToken output: deploy it first (pulumi up --stack dev)"
    )
