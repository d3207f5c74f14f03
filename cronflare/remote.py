"""A live stack's admin API for the day-two commands, so each failure says whose side it is on.

Every failure is a RemoteError: exit 1 when the Worker answered and refused (a 4xx), exit 2 when
it could not be asked (no pulumi, no token, no answer, a redirect, a 5xx).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlsplit

import httpx

from cronflare.settings import find_project_root

TOKEN_ENV = "CRONFLARE_ADMIN_TOKEN"
TIMEOUT_S = 10.0
# The Worker's answer to a path it does not serve: a Worker older than this CLI.
NO_ROUTE = "no such route"


class RemoteError(Exception):
    """A day-two command failed; the message names the cause, exit_code whose side it is on, and
    `problems` every problem the Worker listed (a 422 names each field that is wrong).
    """

    exit_code = 2

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class Refused(RemoteError):
    """The Worker answered and refused (a 4xx): the request, not the stack, needs fixing."""

    exit_code = 1


class Unreachable(RemoteError):
    """The Worker could not be asked, or failed (a 5xx): the stack, not the request, is wrong."""

    exit_code = 2


@dataclass(frozen=True)
class Target:
    """Where the Worker is and how to prove we are its admin; `hint` says where the token came
    from, so a refused token points at what to fix.
    """

    url: str
    token: str = field(repr=False)
    hint: str = ""


def segment(text: str) -> str:
    """One path segment, percent-encoded whole: run ids hold '@' and ':', job names anything."""
    return quote(text, safe="")


def _check_url(url: str, source: str = "--url") -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Unreachable(f"{source} {url!r} is not an http:// or https:// URL")
    return url.rstrip("/")


def url_target(url: str, environ: Mapping[str, str]) -> Target:
    """--url: any Worker, the local stack's or `cronflare demo --keep-running`'s included."""
    token = environ.get(TOKEN_ENV, "")
    if not token:
        raise Unreachable(f"--url needs the admin token in the environment variable {TOKEN_ENV}")
    return Target(_check_url(url), token, f"check {TOKEN_ENV}")


def stack_argv(pulumi: str, stack: str) -> list[str]:
    """The one pulumi command the CLI runs to find a stack's Worker and admin token."""
    return [pulumi, "stack", "output", "--json", "--show-secrets", "--stack", stack]


def _stack_outputs(stack: str, keys: tuple[str, ...], root: Path | None) -> dict[str, str]:
    """The stack's text outputs `keys` (infra/__main__.py), from `pulumi stack output`."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise Unreachable(f"the pulumi CLI is not installed; use --url with {TOKEN_ENV}")
    # No stdin: a prompt (a passphrase, a login) must fail fast instead of waiting forever.
    done = subprocess.run(
        stack_argv(pulumi, stack),
        cwd=find_project_root(root),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or "").splitlines() if line.strip()]
        cause = lines[0] if lines else f"`pulumi stack output` exited {done.returncode}"
        raise Unreachable(f"cannot read the outputs of stack {stack}: {cause}")
    try:
        outputs = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise Unreachable(
            f"cannot read the outputs of stack {stack}: `pulumi stack output` printed no JSON"
        ) from None
    if not isinstance(outputs, dict):
        outputs = {}
    missing = [k for k in keys if not isinstance(outputs.get(k), str)]
    if missing:
        raise Unreachable(
            f"stack {stack} has no {' or '.join(missing)} output: deploy it first "
            f"(pulumi up --stack {stack})"
        )
    return {k: outputs[k] for k in keys}


def stack_target(stack: str, root: Path | None = None) -> Target:
    """--stack: read `workerUrl` and `adminToken` from the stack's outputs (infra/__main__.py)."""
    outputs = _stack_outputs(stack, ("workerUrl", "adminToken"), root)
    hint = f"check the adminToken output of stack {stack}"
    url = _check_url(outputs["workerUrl"], f"the workerUrl output of stack {stack},")
    return Target(url, outputs["adminToken"], hint)


def schedules_target(stack: str, root: Path | None = None) -> Target:
    """The stack's Worker with `schedulesToken`, the token an app gives cronflare.Client: it
    opens the schedules routes only, so an app never holds the admin token.
    """
    outputs = _stack_outputs(stack, ("workerUrl", "schedulesToken"), root)
    hint = f"check the schedulesToken output of stack {stack}"
    url = _check_url(outputs["workerUrl"], f"the workerUrl output of stack {stack},")
    return Target(url, outputs["schedulesToken"], hint)


def find_target(stack: str | None, url: str | None, environ: Mapping[str, str]) -> Target:
    """Exactly one of --stack and --url says which Worker a command talks to."""
    if stack is None and url is None:
        raise Unreachable(
            f"which Worker? give --stack STACK (needs the pulumi CLI), or --url URL with the "
            f"token in {TOKEN_ENV}"
        )
    if stack is not None and url is not None:
        raise Unreachable("give one of --stack or --url, not both")
    return stack_target(stack) if stack is not None else url_target(str(url), environ)


def _cause(error: httpx.TransportError) -> str:
    """What the OS said, without the errno: "Connection refused", "Name or service not known"."""
    text = str(error) or type(error).__name__
    return re.sub(r"^\[Errno -?\d+\]\s*", "", text)


class Remote:
    """One Worker's admin API over a sync httpx client, Bearer token on every request."""

    def __init__(
        self,
        target: Target,
        transport: httpx.BaseTransport | None = None,
        timeout: float = TIMEOUT_S,
    ) -> None:
        self.url = target.url
        self.hint = target.hint
        self.timeout = timeout
        self.status = 0  # the last answer's, where 200 and 201 mean different things
        self._client = httpx.Client(
            base_url=target.url,
            headers={"Authorization": f"Bearer {target.token}"},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        missing: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """One request; the answer's JSON object, or a RemoteError that names the cause.

        `missing` is what a 404 means here ("no such job: hourly").
        """
        wait = timeout or self.timeout
        try:
            res = self._client.request(method, path, params=params, json=body, timeout=wait)
        except httpx.TimeoutException:
            raise Unreachable(
                f"cannot reach the Worker at {self.url}: no answer within {wait:g} s"
            ) from None
        except httpx.TransportError as error:
            raise Unreachable(f"cannot reach the Worker at {self.url}: {_cause(error)}") from None
        self.status = res.status_code
        try:
            data: Any = res.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
        if res.is_success:
            if not isinstance(data, dict):
                raise Unreachable(
                    f"the Worker at {self.url} answered {method} {path} with something that is "
                    f"not a JSON object: {res.text[:200]!r}"
                )
            return data
        error = data.get("error") if isinstance(data, dict) else None
        detail = str(error) if error else (res.text.strip()[:200] or res.reason_phrase)
        listed = data.get("problems") if isinstance(data, dict) else None
        problems = [str(p) for p in listed] if isinstance(listed, list) else []
        status = res.status_code
        if res.is_redirect:
            where = res.headers.get("location", "elsewhere")
            raise Unreachable(f"the Worker at {self.url} redirects to {where}: use that --url")
        if status == 401:
            raise Refused(f"the Worker refused the admin token (401); {self.hint}")
        if status == 404 and detail == NO_ROUTE:
            raise Refused(
                f"the Worker at {self.url} has no route {method} {path}: it is older than this "
                f"CLI; deploy it again (pulumi up)"
            )
        if status == 404 and missing:
            raise Refused(missing)
        if 400 <= status < 500:
            raise Refused(detail, problems)
        raise Unreachable(f"the Worker at {self.url} failed: {status} {detail}")

    # -- the admin API (docs/WORKER.md, HTTP API) --------------------------------------------

    def jobs(self) -> dict[str, Any]:
        """GET /jobs: every job with its next runs, last run and pause, and the skew check."""
        return self.call("GET", "/jobs")

    def stats(self) -> dict[str, Any]:
        """GET /stats: counters, alerts and, on a Worker with runtime schedules, their counts."""
        return self.call("GET", "/stats")

    def runs(self, job: str | None, status: str | None, limit: int) -> dict[str, Any]:
        """GET /runs: the run log, newest first; a 404 for a job the Worker does not know."""
        params: dict[str, str | int] = {"limit": limit}
        if job is not None:
            params["job"] = job
        if status is not None:
            params["status"] = status
        missing = None if job is None else f"no such job: {job}"
        return self.call("GET", "/runs", params=params, missing=missing)

    def run_job(self, job: str, args: dict[str, Any] | None) -> dict[str, Any]:
        """POST /jobs/<name>/run: no body runs it with the plan's args."""
        body = None if args is None else {"args": args}
        return self.call(
            "POST", f"/jobs/{segment(job)}/run", body=body, missing=f"no such job: {job}"
        )

    def replay(self, run_id: str) -> dict[str, Any]:
        """POST /runs/<id>/replay: queue a failed, dead or skipped run again, same id."""
        return self.call(
            "POST", f"/runs/{segment(run_id)}/replay", missing=f"no such run: {run_id}"
        )

    def pause(self, job: str, reason: str | None) -> dict[str, Any]:
        """POST /jobs/<name>/pause: stop a job firing without a deploy, with a reason for others."""
        body = None if reason is None else {"reason": reason}
        return self.call(
            "POST", f"/jobs/{segment(job)}/pause", body=body, missing=f"no such job: {job}"
        )

    def resume(self, job: str) -> dict[str, Any]:
        """POST /jobs/<name>/resume: let a paused job fire again."""
        return self.call("POST", f"/jobs/{segment(job)}/resume", missing=f"no such job: {job}")

    def backfill(self, job: str, start: str, end: str, timeout: float) -> dict[str, Any]:
        """POST /jobs/<name>/backfill: every run of the window, once (existing ids are kept)."""
        return self.call(
            "POST",
            f"/jobs/{segment(job)}/backfill",
            body={"from": start, "to": end},
            missing=f"no such job: {job}",
            timeout=timeout,
        )
