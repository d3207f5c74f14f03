"""The job wrapper, the same code on Modal and locally: run the handler, then report the outcome
to the Worker's callback URL, signed, retrying the report with backoff.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import ssl
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

import certifi
import httpx

from cronflare.catalog.loader import import_ref, load_catalog
from cronflare.catalog.model import JobOverride
from cronflare.catalog.validate import ResolvedJob, resolve
from cronflare.runtime.context import RunContext
from cronflare.runtime.signing import SCHEME, SIGNATURE, sign_legacy, signed_headers

OVERRIDES_ENV = "CRONFLARE_JOB_OVERRIDES"

REPORT_ATTEMPTS = 5
REPORT_BACKOFF_S = 0.2
_SECRETISH = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL", re.IGNORECASE)


class RetryableFailure(Exception):
    """The handler failed and attempts remain: the executor runs it again, nothing is reported."""


def job_overrides() -> dict[str, JobOverride]:
    """The stack's per-job overrides ($CRONFLARE_JOB_OVERRIDES, JSON), as the deploy set them."""
    raw = json.loads(os.environ.get(OVERRIDES_ENV) or "{}")
    return {name: JobOverride.model_validate(value) for name, value in raw.items()}


@cache
def catalog_jobs() -> dict[str, ResolvedJob]:
    """The enabled jobs of the catalog in force ($CRONFLARE_CATALOG), with the stack's
    overrides applied, by name: what the Worker's plan was made from.
    """
    return {j.name: j for j in resolve(load_catalog(), job_overrides()).jobs if j.enabled}


def redact(message: str, extra: tuple[str, ...] = ()) -> str:
    """Remove secret values (from secret-looking environment variables) from an error message."""
    secrets = [v for k, v in os.environ.items() if _SECRETISH.search(k) and len(v) >= 6]
    for value in sorted({*secrets, *(e for e in extra if e)}, key=len, reverse=True):
        message = message.replace(value, "[redacted]")
    return message[:2000]


def now_iso() -> str:
    """Now, as the run log writes times: ISO 8601 UTC with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _record_start(payload: Mapping[str, Any], started: str) -> None:
    """Append to $CRONFLARE_EXECUTION_LOG, the executor's own record of what it ran."""
    path = os.environ.get("CRONFLARE_EXECUTION_LOG")
    if path:
        line = json.dumps(
            {
                "execution_id": payload["execution_id"],
                "job": payload["job"],
                "attempt": payload.get("attempt"),
                "pid": os.getpid(),
                "started_at": started,
            }
        )
        with open(path, "a") as f:
            f.write(line + "\n")


# Built once at import (the local forkserver imports this module before forking), because
# loading the CA bundle for every report costs a run tens of milliseconds.
TLS = ssl.create_default_context(cafile=certifi.where())


def report(callback_url: str, outcome: Mapping[str, Any], key: str) -> bool:
    """POST the outcome, signed; retry network errors, 5xx and 429 with backoff; True if taken."""
    body = json.dumps(outcome)
    for attempt in range(1, REPORT_ATTEMPTS + 1):
        try:
            headers = signed_headers(key, "report", "POST", callback_url, body)
            res = httpx.post(callback_url, content=body, headers=headers, timeout=10, verify=TLS)
            if res.status_code == 401 and not _speaks_v2(res):
                res = httpx.post(
                    callback_url, content=body, headers=_legacy(headers, key, body), verify=TLS
                )
            if res.status_code < 300:
                return True
            if res.status_code < 500 and res.status_code != 429:
                print(f"callback refused ({res.status_code}): {res.text[:200]}", file=sys.stderr)
                return False
        except httpx.HTTPError as err:
            print(f"callback attempt {attempt} failed: {type(err).__name__}", file=sys.stderr)
        if attempt < REPORT_ATTEMPTS:
            time.sleep(REPORT_BACKOFF_S * 2 ** (attempt - 1))
    return False


def _speaks_v2(res: httpx.Response) -> bool:
    """Whether a 401 came from a Worker that verifies v2: each of its 401s names the scheme."""
    try:
        data = res.json()
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("scheme") == SCHEME


def _legacy(headers: dict[str, str], key: str, body: str) -> dict[str, str]:
    """The same report signed v1, for the minute of an upgrade when Modal runs the new code and the
    Worker the old one: a v2 Worker never gets it, since its 401s say it speaks v2.
    """
    timestamp = int(headers["X-Cronflare-Timestamp"])
    return {**headers, SIGNATURE: sign_legacy(key, timestamp, body)}


def summary(result: Any) -> str | None:
    """A handler's return value as the run log keeps it: JSON, cut to 2,000 characters."""
    if result is None:
        return None
    try:
        text = json.dumps(result, default=str, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr(result)
    return text[:2000]


def _ended(status: str, started: str, result: Any = None, **extra: str) -> dict[str, Any]:
    """The report of a run that ended now: its status, times, result summary or error."""
    outcome = {"status": status, "started_at": started, "finished_at": now_iso(), **extra}
    if (text := summary(result)) is not None:
        outcome["result"] = text
    return outcome


class NoStandIn(Exception):
    """A target job ran locally with no stand-in registered: it fails at once, with the fix."""


def _call(job: ResolvedJob, ctx: RunContext) -> Any:
    """Run the job's code: its handler with the context, or its target's stand-in with the args
    as keyword arguments (locally; on Modal a target is spawned by the dispatcher instead).
    """
    if job.handler is not None:
        return import_ref(job.handler)(ctx)
    if job.stand_in is None:
        raise NoStandIn(
            f"job {job.name} targets {job.target}, a function deployed on Modal, which the local "
            "stack cannot call; register a local stand-in for it with stand_in='package.module:"
            "function' on the job (it receives the job's args as keyword arguments)"
        )
    return import_ref(job.stand_in)(**ctx.args)


def execute(
    payload: Mapping[str, Any],
    key: str,
    *,
    final: bool = True,
    persist: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run the job once and report how it went; raise RetryableFailure if it failed and this is
    not the final attempt. `persist` runs after the code, before the report, whatever the outcome:
    on Modal it commits the job's volumes, so a run reported ended has its files saved.
    """
    job = catalog_jobs()[payload["job"]]
    args = payload.get("args")
    ctx = RunContext(
        execution_id=payload["execution_id"],
        job=payload["job"],
        scheduled_time=datetime.fromisoformat(payload["scheduled_time"].replace("Z", "+00:00")),
        trigger=payload.get("trigger", "manual"),
        attempt=int(payload.get("attempt", 1)),
        args=dict(job.args if args is None else args),
        volumes=dict(job.volumes),
    )
    started = now_iso()
    _record_start(payload, started)
    outcome = attempt(job, ctx, started, secret=key, final=final, persist=persist)
    report(payload["callback_url"], outcome, key)
    return outcome


def attempt(
    job: ResolvedJob,
    ctx: RunContext,
    started: str,
    *,
    secret: str | None = None,
    final: bool = True,
    persist: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run the job's code once and say how it ended (what a report carries); raise
    RetryableFailure if it failed and this is not the final attempt. `secret` is redacted from
    an error's message.
    """
    try:
        try:
            result = _call(job, ctx)
        finally:
            if persist is not None:
                persist()
        return _ended("succeeded", started, result)
    except NoStandIn as err:
        return _ended("failed", started, error=str(err))
    except Exception as err:
        message = redact(f"{type(err).__name__}: {err}", (secret,) if secret else ())
        if not final:
            raise RetryableFailure(message) from None
        return _ended("failed", started, error=message)


def run_here(job: ResolvedJob, args: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run one job's handler once, in this process, as the wrapper runs it on Modal (a real
    RunContext, the same outcome), for `cronflare exec`: try a handler before deploying it.
    """
    now = datetime.now(UTC)
    ctx = RunContext(
        execution_id=f"{job.name}@{now:%Y-%m-%dT%H:%M:%S}Z-exec-{secrets.token_hex(6)}",
        job=job.name,
        scheduled_time=now,
        trigger="manual",
        args=dict(job.args if args is None else args),
        volumes=dict(job.volumes),
    )
    return attempt(job, ctx, now_iso())


def run_with_retries(
    payload: Mapping[str, Any], key: str, sleep: Callable[[float], None] = time.sleep
) -> dict[str, Any]:
    """Run a payload with its job's retry policy, as Modal's retries would: the local executor."""
    policy = catalog_jobs()[payload["job"]].retries
    delay = float(policy.initial_delay)
    for attempt in range(1, policy.attempts + 1):
        try:
            return execute(payload, key, final=attempt == policy.attempts)
        except RetryableFailure:
            sleep(delay)
            delay = min(delay * policy.backoff_coefficient, float(policy.max_delay))
    raise AssertionError("unreachable: the final attempt reports instead of raising")


def output_volume_name(app_name: str) -> str:
    """The stack's output Volume, where RunContext.output_dir lives on Modal."""
    return f"{app_name}-output"


def run_on_modal(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Body of every job's Modal function: count the attempt, so only the last failure reports;
    read the latest of the job's volumes first, and commit them before reporting.
    """
    import modal

    from cronflare.runtime.store import ModalDictStore

    app_name = os.environ.get("CRONFLARE_APP_NAME", "cronflare")
    job = catalog_jobs()[payload["job"]]
    attempt = ModalDictStore(f"{app_name}-dispatch").next_attempt(payload["execution_id"])
    names = [output_volume_name(app_name), *job.volumes.values()]
    volumes = [modal.Volume.from_name(name) for name in dict.fromkeys(names)]
    for volume in volumes:  # a warm container may hold an older view
        volume.reload()

    def persist() -> None:
        for volume in volumes:
            volume.commit()

    final = attempt >= job.retries.attempts
    return execute(payload, os.environ["CRONFLARE_SIGNING_KEY"], final=final, persist=persist)


def await_target(
    payload: Mapping[str, Any], call_id: str, key: str, get: Callable[[str, float], Any]
) -> dict[str, Any]:
    """The watcher of a target job's call: wait for its end, then report it like any run.
    `get(call_id, timeout)` returns the call's result or raises its error (TimeoutError when it
    outlives the job's timeout).
    """
    job = catalog_jobs()[payload["job"]]
    started = now_iso()
    try:
        outcome = _ended("succeeded", started, get(call_id, float(job.timeout)))
    except TimeoutError:
        error = f"{job.target} did not finish within the job's timeout ({job.timeout} s)"
        outcome = _ended("failed", started, error=error)
    except Exception as err:
        error = redact(f"{job.target}: {type(err).__name__}: {err}", (key,))
        outcome = _ended("failed", started, error=error)
    report(payload["callback_url"], outcome, key)
    return outcome


def watch_on_modal(payload: Mapping[str, Any], call_id: str) -> dict[str, Any]:
    """Body of the watcher function: the target's call, by id, through Modal's FunctionCall."""
    import modal

    def get(call: str, timeout: float) -> Any:
        return modal.FunctionCall.from_id(call).get(timeout=timeout)

    return await_target(payload, call_id, os.environ["CRONFLARE_SIGNING_KEY"], get)
