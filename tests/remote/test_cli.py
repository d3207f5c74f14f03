"""The day-two commands against a fake Worker: what they send, what they print, how they exit."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from cronflare import cli, remote
from cronflare.local.stack import free_port
from tests import ROOT

runner = CliRunner()
URL = "https://cronflare-dev.example.workers.dev"
TOKEN = "s3cret-admin-token"
ENV = {remote.TOKEN_ENV: TOKEN}

JOBS = {
    "jobs": [
        {"name": "hourly", "description": "d", "schedule": "0 * * * *", "timezone": "UTC",
         "enabled": True, "s": 0, "next": ["2026-11-23T10:00:00.000Z"],
         "last": {"execution_id": "hourly@2026-11-23T09:00Z", "status": "succeeded",
                  "finished_at": "2026-11-23T09:00:04.250Z", "updated_at": "x"},
         "paused": None},
        {"name": "berlin-digest", "description": "d", "schedule": "0 8 * * *",
         "timezone": "Europe/Berlin", "enabled": True, "s": 1,
         "next": ["2026-11-24T07:00:00.000Z"], "last": None,
         "paused": {"reason": "db migration", "since": "2026-11-23T08:30:00.000Z"}},
        {"name": "old-report", "description": "d", "schedule": "@monthly", "timezone": "UTC",
         "enabled": False, "s": 2, "next": [], "last": None, "paused": None},
    ],
    "skew": {"status": "out of sync", "message": "out of sync: Worker 3f2a9c, Modal 77b0e1",
             "worker": "3f2a9c", "modal": "77b0e1", "checked_at": "2026-11-23T09:05:00.000Z"},
}  # fmt: skip
RUN = {
    "execution_id": "hourly@2026-11-23T09:00Z", "job": "hourly",
    "scheduled_time": "2026-11-23T09:00:00.000Z", "trigger": "cron", "status": "failed",
    "attempts": 1, "call_id": "fc-1", "last_error": "RuntimeError: boom",
    "created_at": "2026-11-23T09:00:00.100Z", "updated_at": "2026-11-23T09:00:03.000Z",
    "started_at": "2026-11-23T09:00:01.000Z", "finished_at": "2026-11-23T09:00:03.000Z",
    "args": None, "result": None,
}  # fmt: skip


@dataclass
class FakeWorker:
    """Answers from `routes` ((method, raw path) -> (status, JSON, or a function of the request))
    and records every request.
    """

    routes: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    fail: Exception | None = None

    def answer(self, method: str, path: str, status: int, body: Any) -> None:
        self.routes[(method, path)] = (status, body)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail is not None:
            raise self.fail
        key = (request.method, request.url.raw_path.decode().split("?")[0])
        status, body = self.routes.get(key, (404, {"error": "no such route"}))
        if callable(body):  # an answer that depends on the query (a cursor, say)
            body = body(request)
        if isinstance(body, httpx.Response):
            return body
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self) -> Any:
        return json.loads(self.last.content) if self.last.content else None


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWorker]:
    """Every Remote the CLI builds talks to this fake through httpx.MockTransport."""
    fake = FakeWorker()
    real = remote.Remote
    transport = httpx.MockTransport(fake.handle)
    monkeypatch.setattr(remote, "Remote", lambda target: real(target, transport=transport))
    monkeypatch.delenv(remote.TOKEN_ENV, raising=False)
    yield fake


def run(*args: str, env: dict[str, str] | None = ENV):
    result = runner.invoke(cli.app, list(args), env=env)
    assert TOKEN not in result.output + result.stderr
    return result


# --- finding the Worker -----------------------------------------------------------------------


def test_every_request_carries_the_bearer_token(worker: FakeWorker):
    """The admin token goes in `Authorization: Bearer`, on every command, and is never printed."""
    worker.answer("GET", "/jobs", 200, JOBS)
    worker.answer("POST", "/jobs/hourly/resume", 200, {"job": "hourly", "paused": False,
                                                        "changed": True})  # fmt: skip
    assert run("status", "--url", URL).exit_code == 0
    assert run("resume", "hourly", "--url", URL + "/").exit_code == 0
    assert [str(r.url) for r in worker.requests] == [f"{URL}/jobs", f"{URL}/jobs/hourly/resume"]
    assert {r.headers["authorization"] for r in worker.requests} == {f"Bearer {TOKEN}"}


def test_url_without_the_token_exits_2_naming_the_variable(worker: FakeWorker):
    """--url reads the token only from CRONFLARE_ADMIN_TOKEN; without it nothing is sent."""
    r = run("status", "--url", URL, env={})
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.strip() == (
        "cronflare: --url needs the admin token in the environment variable CRONFLARE_ADMIN_TOKEN"
    )
    assert worker.requests == []


@pytest.mark.parametrize("options", [[], ["--url", URL, "--stack", "dev"]])
def test_exactly_one_of_stack_and_url_is_required(worker: FakeWorker, options: list[str]):
    """Neither or both of --stack and --url: exit 2, saying what to give, before any request."""
    r = run("runs", *options)
    assert r.exit_code == 2 and "--stack" in r.stderr and "--url" in r.stderr
    assert worker.requests == []


def test_a_url_that_is_not_http_exits_2(worker: FakeWorker):
    """A --url without http:// or https:// is refused before any request."""
    r = run("status", "--url", "cronflare-dev.example.workers.dev")
    assert r.exit_code == 2 and "is not an http:// or https:// URL" in r.stderr
    assert worker.requests == []


@dataclass
class FakePulumi:
    """Stands in for shutil.which("pulumi") and subprocess.run; records each call's argv and cwd."""

    path: str | None = "/opt/pulumi/bin/pulumi"
    returncode: int = 0
    stdout: str = json.dumps({"workerUrl": URL, "adminToken": TOKEN, "jobCount": 3})
    stderr: str = ""
    calls: list[tuple[list[str], Any]] = field(default_factory=list)

    def which(self, name: str) -> str | None:
        return self.path if name == "pulumi" else None

    def run(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append((argv, kwargs.get("cwd")))
        return subprocess.CompletedProcess(argv, self.returncode, self.stdout, self.stderr)


@pytest.fixture
def pulumi(monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    fake = FakePulumi()
    monkeypatch.setattr(remote.shutil, "which", fake.which)
    monkeypatch.setattr(remote.subprocess, "run", fake.run)
    return fake


def test_stack_reads_url_and_token_from_pulumi_stack_output(
    worker: FakeWorker, pulumi: FakePulumi, monkeypatch: pytest.MonkeyPatch
):
    """--stack S runs `pulumi stack output --json --show-secrets --stack S` from the project
    root, then calls the stack's workerUrl with its adminToken.
    """
    monkeypatch.chdir(ROOT / "infra")
    worker.answer("GET", "/jobs", 200, JOBS)
    r = run("status", "--stack", "dev", env={})
    assert r.exit_code == 0, r.stderr
    argv = ["/opt/pulumi/bin/pulumi", "stack", "output", "--json", "--show-secrets", "--stack",
            "dev"]  # fmt: skip
    assert pulumi.calls == [(argv, ROOT)]
    assert str(worker.last.url) == f"{URL}/jobs"
    assert worker.last.headers["authorization"] == f"Bearer {TOKEN}"


def test_stack_without_the_pulumi_cli_exits_2(worker: FakeWorker, pulumi: FakePulumi):
    """No pulumi on PATH: exit 2, pointing at --url and the token variable; nothing runs."""
    pulumi.path = None
    r = run("status", "--stack", "dev")
    assert r.exit_code == 2 and pulumi.calls == [] and worker.requests == []
    assert r.stderr.strip() == (
        "cronflare: the pulumi CLI is not installed; use --url with CRONFLARE_ADMIN_TOKEN"
    )


def test_an_unknown_stack_exits_2_with_pulumis_first_line(worker: FakeWorker, pulumi: FakePulumi):
    """pulumi's non-zero exit is exit 2, naming the stack and the first line of its stderr."""
    pulumi.returncode, pulumi.stdout = 255, ""
    pulumi.stderr = "\nerror: no stack named 'staging' found\nmore detail\n"
    r = run("runs", "--stack", "staging")
    assert r.exit_code == 2 and worker.requests == []
    assert r.stderr.strip() == (
        "cronflare: cannot read the outputs of stack staging: error: no stack named 'staging' found"
    )


def test_a_stack_never_deployed_exits_2_naming_the_missing_output(
    worker: FakeWorker, pulumi: FakePulumi
):
    """A stack with no workerUrl/adminToken outputs has not been deployed: exit 2, saying so."""
    pulumi.stdout = "{}"
    r = run("status", "--stack", "dev")
    assert r.exit_code == 2 and worker.requests == []
    assert "stack dev has no workerUrl or adminToken output" in r.stderr
    assert "pulumi up --stack dev" in r.stderr


# --- what each command sends and prints -------------------------------------------------------


def test_status_shows_schedule_pause_next_last_and_the_skew_line(worker: FakeWorker):
    """One row per job (paused with its reason, disabled, never run), then the skew check."""
    worker.answer("GET", "/jobs", 200, JOBS)
    r = run("status", "--url", URL)
    assert r.exit_code == 0, r.stderr
    lines = [line.split("│")[1:-1] for line in r.stdout.splitlines() if "│" in line]
    rows = {cells[0].strip(): "│".join(cells) + "│" for cells in lines if cells[0].strip()}
    states = " ".join(cells[3].strip() for cells in lines)
    assert "0 * * * *" in rows["hourly"] and "2026-11-23T10:00Z" in rows["hourly"]
    assert "│ succeeded │ 2026-11-23T09:00Z │" in rows["hourly"]
    assert "Europe/Berlin" in rows["berlin-digest"] and "paused since" in rows["berlin-digest"]
    assert "paused since 2026-11-23T08:30Z: db migration" in states
    assert "disabled" in rows["old-report"] and "never" in rows["old-report"]
    assert r.stdout.splitlines()[-1] == (
        "Worker and Modal catalogs: out of sync: Worker 3f2a9c, Modal 77b0e1 (checked "
        "2026-11-23T09:05:00Z)"
    )


@pytest.mark.parametrize(
    ("args", "method", "path", "answer"),
    [
        (["status"], "GET", "/jobs", JOBS),
        (["runs"], "GET", "/runs", {"runs": [RUN]}),
        (["run", "hourly"], "POST", "/jobs/hourly/run",
         {"execution_id": "hourly@manual-1", "status": "queued"}),
        (["replay", RUN["execution_id"]], "POST", "/runs/hourly%402026-11-23T09%3A00Z/replay",
         {"execution_id": RUN["execution_id"], "status": "queued"}),
        (["pause", "hourly"], "POST", "/jobs/hourly/pause",
         {"job": "hourly", "paused": True, "reason": None, "since": "2026-11-23T09:00:00Z",
          "changed": True}),
        (["resume", "hourly"], "POST", "/jobs/hourly/resume",
         {"job": "hourly", "paused": False, "changed": False}),
        (["backfill", "hourly", "--from", "2026-11-23T00:00Z", "--to", "2026-11-23T02:00Z"],
         "POST", "/jobs/hourly/backfill",
         {"enqueued": 1, "existing": 1,
          "ids": ["hourly@2026-11-23T00:00Z", "hourly@2026-11-23T01:00Z"]}),
    ],
)  # fmt: skip
def test_json_prints_the_workers_answer_and_nothing_else(
    worker: FakeWorker, args: list[str], method: str, path: str, answer: Any
):
    """--json: stdout is exactly the Worker's JSON (pretty), for scripts."""
    worker.answer(method, path, 200, answer)
    r = run(*args, "--json", "--url", URL)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == answer
    assert r.stdout == json.dumps(answer, indent=2, ensure_ascii=False) + "\n"


def test_runs_passes_its_filters_as_query_parameters(worker: FakeWorker):
    """--job, --status and --limit become job, status and limit; the table shows each run."""
    worker.answer("GET", "/runs", 200, {"runs": [RUN]})
    r = run("runs", "--job", "hourly", "--status", "failed", "--limit", "7", "--url", URL)
    assert r.exit_code == 0, r.stderr
    assert dict(worker.last.url.params) == {"job": "hourly", "status": "failed", "limit": "7"}
    assert "hourly@2026-11-23T09:00Z" in r.stdout and "RuntimeError: boom" in r.stdout
    assert run("runs", "--url", URL).exit_code == 0
    assert dict(worker.last.url.params) == {"limit": "50"}


def test_runs_of_a_known_job_with_none_to_show_exits_0(worker: FakeWorker):
    """An empty page is an answer, not a refusal: the Worker 404s only jobs it does not know."""
    worker.answer("GET", "/runs", 200, {"runs": []})
    r = run("runs", "--job", "hourly", "--status", "dead", "--url", URL)
    assert (r.exit_code, r.stdout, r.stderr) == (0, "no runs match\n", "")


def test_runs_refuses_an_unknown_status_before_sending(worker: FakeWorker):
    """--status takes only the run log's statuses (a usage error, exit 2)."""
    r = run("runs", "--status", "done", "--url", URL)
    assert r.exit_code == 2 and worker.requests == []


def test_run_sends_args_only_when_given(worker: FakeWorker):
    """`run JOB` posts no body (the job's own args); --args posts {"args": {...}}."""
    worker.answer("POST", "/jobs/echo/run", 202, {"execution_id": "echo@manual-7",
                                                  "status": "queued"})  # fmt: skip
    r = run("run", "echo", "--url", URL)
    assert r.exit_code == 0 and "queued: echo@manual-7" in r.stdout
    assert worker.last.content == b""
    assert run("run", "echo", "--args", '{"limit": 3}', "--url", URL).exit_code == 0
    assert worker.body() == {"args": {"limit": 3}}


@pytest.mark.parametrize("text", ["{limit: 3}", "[1, 2]"])
def test_run_refuses_args_that_are_not_a_json_object_before_sending(worker: FakeWorker, text: str):
    """--args must be a JSON object; anything else is refused here (exit 1), never sent."""
    r = run("run", "echo", "--args", text, "--url", URL)
    assert r.exit_code == 1 and r.stderr.startswith("--args: ")
    assert worker.requests == []


def test_path_segments_are_percent_encoded(worker: FakeWorker):
    """A run id's '@' and ':' (and a '/' in any name) cannot change the route."""
    worker.answer("POST", "/runs/a%2Fb%40x%3Ay/replay", 202, {"execution_id": "a/b@x:y",
                                                               "status": "queued"})  # fmt: skip
    worker.answer("POST", "/jobs/a%2Fb/pause", 200, {"job": "a/b", "paused": True, "reason": "r",
                                                      "since": "2026-11-23T09:00:00Z",
                                                      "changed": True})  # fmt: skip
    assert run("replay", "a/b@x:y", "--url", URL).exit_code == 0
    r = run("pause", "a/b", "--reason", "r", "--url", URL)
    assert r.exit_code == 0 and worker.body() == {"reason": "r"}
    assert r.stdout.strip() == "a/b paused since 2026-11-23T09:00:00Z: r"


def test_pause_and_resume_say_whether_anything_changed(worker: FakeWorker):
    """A repeated pause or resume is no error: it says the job already was so."""
    worker.answer(
        "POST",
        "/jobs/hourly/pause",
        200,
        {
            "job": "hourly",
            "paused": True,
            "reason": None,
            "changed": False,
            "since": "2026-11-23T08:00:00.000Z",
        },
    )
    worker.answer("POST", "/jobs/hourly/resume", 200, {"job": "hourly", "paused": False,
                                                        "changed": False})  # fmt: skip
    r = run("pause", "hourly", "--url", URL)
    assert r.stdout.strip() == "hourly was already paused since 2026-11-23T08:00:00Z"
    assert worker.last.content == b""
    assert run("resume", "hourly", "--url", URL).stdout.strip() == "hourly was not paused"


def test_backfill_sends_the_window_in_utc_and_counts_what_it_queued(worker: FakeWorker):
    """--from/--to go as UTC instants (a bare time is UTC); the answer's counts are printed."""
    worker.answer("POST", "/jobs/hourly/backfill", 200, {
        "enqueued": 1, "existing": 1,
        "ids": ["hourly@2026-11-23T00:00Z", "hourly@2026-11-23T01:00Z"]})  # fmt: skip
    r = run("backfill", "hourly", "--from", "2026-11-23T01:00+01:00", "--to", "2026-11-23T02:00",
            "--url", URL)  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert worker.body() == {"from": "2026-11-23T00:00:00Z", "to": "2026-11-23T02:00:00Z"}
    assert r.stdout.splitlines() == [
        "hourly: 2 runs from 2026-11-23T00:00:00Z to 2026-11-23T02:00:00Z: 1 queued, 1 already "
        "in the run log",
        "first hourly@2026-11-23T00:00Z, last hourly@2026-11-23T01:00Z",
    ]


def test_backfill_refuses_a_time_that_is_not_iso_before_sending(worker: FakeWorker):
    """A --from that is not ISO 8601 is refused here (exit 1), naming the option."""
    r = run("backfill", "hourly", "--from", "yesterday", "--to", "2026-11-23T02:00", "--url", URL)
    assert r.exit_code == 1 and worker.requests == []
    assert r.stderr.strip() == "--from: 'yesterday' is not an ISO 8601 time"


# --- how a refusal or an unreachable Worker exits ---------------------------------------------


@pytest.mark.parametrize(
    ("args", "method", "path", "status", "error", "code", "message"),
    [
        (["status"], "GET", "/jobs", 401, "missing or wrong admin token", 1,
         "cronflare: the Worker refused the admin token (401); check CRONFLARE_ADMIN_TOKEN"),
        (["run", "nope"], "POST", "/jobs/nope/run", 404, "no such job: nope", 1,
         "cronflare: no such job: nope"),
        (["replay", "nope@x"], "POST", "/runs/nope%40x/replay", 404, "no such run", 1,
         "cronflare: no such run: nope@x"),
        (["pause", "nope"], "POST", "/jobs/nope/pause", 404, "no such job: nope", 1,
         "cronflare: no such job: nope"),
        (["runs", "--job", "nope"], "GET", "/runs", 404, "no such job: nope", 1,
         "cronflare: no such job: nope"),
        (["run", "hourly"], "POST", "/jobs/hourly/run", 409,
         "job hourly is paused (since 2026-11-23T09:00:00.000Z); resume it first", 1,
         "cronflare: job hourly is paused (since 2026-11-23T09:00:00.000Z); resume it first"),
        (["replay", "h@1"], "POST", "/runs/h%401/replay", 409,
         "only failed, dead, skipped runs can be replayed; this one is succeeded", 1,
         "cronflare: only failed, dead, skipped runs can be replayed; this one is succeeded"),
        (["run", "hourly", "--args", "{}"], "POST", "/jobs/hourly/run", 422,
         "args is over 8 KiB (9000 bytes)", 1, "cronflare: args is over 8 KiB (9000 bytes)"),
        (["backfill", "hourly", "--from", "2026-01-01", "--to", "2026-12-01"], "POST",
         "/jobs/hourly/backfill", 422,
         "the window holds more than 1000 runs of hourly; backfill it in smaller windows", 1,
         "cronflare: the window holds more than 1000 runs of hourly; backfill it in smaller "
         "windows"),
        (["status"], "GET", "/jobs", 500, "internal error", 2,
         f"cronflare: the Worker at {URL} failed: 500 internal error"),
        (["runs"], "GET", "/runs", 503, "plan version 3 is not supported", 2,
         f"cronflare: the Worker at {URL} failed: 503 plan version 3 is not supported"),
    ],
)  # fmt: skip
def test_a_refusal_exits_1_and_a_failing_worker_exits_2_naming_the_cause(
    worker: FakeWorker,
    args: list[str],
    method: str,
    path: str,
    status: int,
    error: str,
    code: int,
    message: str,
):
    """4xx: exit 1 with the Worker's reason (401 and 404 said plainly); 5xx: exit 2 with the URL."""
    worker.answer(method, path, status, {"error": error})
    r = run(*args, "--url", URL)
    assert (r.exit_code, r.stderr.strip(), r.stdout) == (code, message, "")


def test_a_worker_older_than_the_cli_says_so(worker: FakeWorker):
    """A 404 for the route itself is not "no such job": the Worker needs a deploy."""
    r = run("pause", "hourly", "--url", URL)
    assert r.exit_code == 1
    assert r.stderr.strip() == (
        f"cronflare: the Worker at {URL} has no route POST /jobs/hourly/pause: it is older than "
        "this CLI; deploy it again (pulumi up)"
    )


def test_an_answer_that_is_not_json_exits_2(worker: FakeWorker):
    """A 200 that is not the API (say, a captive portal's page) is not success."""
    worker.answer("GET", "/jobs", 200, "<html>sign in</html>")
    r = run("status", "--url", URL)
    assert r.exit_code == 2 and "not a JSON object" in r.stderr and r.stdout == ""


def test_a_redirect_exits_2_naming_where_to(worker: FakeWorker):
    """A redirect is not followed (a POST would turn into a GET): use the URL it names."""
    worker.answer("GET", "/jobs", 301, httpx.Response(301, headers={"location": URL + "/jobs"}))
    r = run("status", "--url", URL)
    assert r.exit_code == 2 and len(worker.requests) == 1
    assert r.stderr.strip() == (
        f"cronflare: the Worker at {URL} redirects to {URL}/jobs: use that --url"
    )


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), "Connection refused"),
        (httpx.ConnectError("[Errno -2] Name or service not known"), "Name or service not known"),
        (httpx.ReadTimeout("timed out"), "no answer within 10 s"),
    ],
)
def test_an_unreachable_worker_exits_2_naming_the_url_and_cause(
    worker: FakeWorker, error: Exception, cause: str
):
    """Connection refused, DNS and timeouts: exit 2, with the URL and what went wrong."""
    worker.fail = error
    r = run("runs", "--url", URL)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.strip() == f"cronflare: cannot reach the Worker at {URL}: {cause}"


def test_backfill_waits_longer_than_other_commands(worker: FakeWorker):
    """Up to 1,000 runs go into D1 in one request: backfill's timeout is longer than 10 s."""
    worker.fail = httpx.ReadTimeout("timed out")
    r = run("backfill", "h", "--from", "2026-11-23", "--to", "2026-11-24", "--url", URL)
    assert r.exit_code == 2 and "no answer within 60 s" in r.stderr
    assert worker.last.extensions["timeout"]["read"] == cli.BACKFILL_TIMEOUT_S


def test_a_closed_port_is_refused_for_real():
    """Through httpx's real transport, a port nobody listens on is exit 2, naming the URL."""
    url = f"http://127.0.0.1:{free_port()}"
    r = run("status", "--url", url)
    assert r.exit_code == 2
    assert r.stderr.startswith(f"cronflare: cannot reach the Worker at {url}: ")


def remote_commands() -> list[str]:
    return ["status", "runs", "run", "replay", "pause", "resume", "backfill"]


@pytest.mark.parametrize("command", remote_commands())
def test_every_day_two_command_takes_stack_url_and_json(command: str):
    """Each command finds its Worker the same way and has --json for scripts."""
    r = runner.invoke(cli.app, [command, "--help"])
    assert r.exit_code == 0
    assert all(option in r.stdout for option in ("--stack", "--url", "--json")), r.stdout


# --- what the Worker says is printed as it is, never as rich markup ----------------------------


def test_status_prints_the_workers_text_as_it_is(worker: FakeWorker):
    """Job names, schedules, pause reasons, last runs and the skew message keep their brackets
    (`[/]` used to crash the table) and emoji codes stay codes.
    """
    jobs = {
        "jobs": [
            {"name": "etl[x]", "description": "[bold]d[/]", "schedule": "[/]", "timezone": "UTC",
             "enabled": True, "s": 0, "next": ["soon [/]"],
             "last": {"execution_id": "etl[x]@1", "status": "[red]odd[/]", "finished_at": "[i]"},
             "paused": {"reason": "pg[binary] [/]", "since": "2026-11-23T08:30:00.000Z"}},
        ],
        "skew": {"status": "in sync", "message": "in sync [bold]:fire:[/]"},
    }  # fmt: skip
    worker.answer("GET", "/jobs", 200, jobs)
    r = run("status", "--url", URL)
    assert r.exit_code == 0, r.stderr
    lines = [line.split("│")[1:-1] for line in r.stdout.splitlines() if "│" in line]
    cells = [" ".join(c[i].strip() for c in lines if c[i].strip()) for i in range(7)]
    assert cells == [
        "etl[x]",
        "[/]",
        "UTC",
        "paused since 2026-11-23T08:30Z: pg[binary] [/]",
        "soon [/]",
        "[red]odd[/]",
        "[i]",
    ]
    assert r.stdout.splitlines()[-1] == "Worker and Modal catalogs: in sync [bold]:fire:[/]"


def test_runs_and_backfill_print_the_workers_and_the_users_text_as_it_is(worker: FakeWorker):
    """Run ids, triggers, errors (a Python error quoting `psycopg[binary]`, say) and job names."""
    error = "ValueError: [bold]x[/] psycopg[binary] :fire:"
    row = {**RUN, "execution_id": "etl[x]@2026-11-23T09:00Z", "trigger": "[i]cron", "attempts": 2,
           "finished_at": "[/]", "last_error": error}  # fmt: skip
    worker.answer("GET", "/runs", 200, {"runs": [row]})
    r = run("runs", "--url", URL)
    assert r.exit_code == 0, r.stderr
    assert "etl[x]@2026-11-23T09:00Z" in r.stdout and "│ [i]cron │" in r.stdout
    assert "│ [/]   │" in r.stdout and error in r.stdout
    worker.answer("POST", "/jobs/etl%5B%2F%5D/backfill", 404, {"error": "no such job: etl[/]"})
    r = run("backfill", "etl[/]", "--from", "2026-11-23T00:00Z", "--to", "2026-11-23T02:00Z",
            "--url", URL)  # fmt: skip
    assert (r.exit_code, r.stderr.strip()) == (1, "cronflare: no such job: etl[/]")
