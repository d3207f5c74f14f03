"""The job wrapper, the same code on Modal and locally: run the handler, then report the outcome
to the Worker's callback URL, signed, retrying the report with backoff.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import ssl
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

import certifi
import httpx

from cronflare.catalog.loader import load_catalog
from cronflare.catalog.model import JobOverride
from cronflare.catalog.validate import ResolvedJob, resolve
from cronflare.runtime.context import RunContext
from cronflare.runtime.signing import signed_headers

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


def _handler(ref: str) -> Callable[[RunContext], Any]:
    module, _, name = ref.partition(":")
    target: Any = importlib.import_module(module)
    for part in name.split("."):
        target = getattr(target, part)
    return target


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
            res = httpx.post(
                callback_url,
                content=body,
                headers=signed_headers(key, body),
                timeout=10,
                verify=TLS,
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


def execute(payload: Mapping[str, Any], key: str, *, final: bool = True) -> dict[str, Any]:
    """Run the handler once and report how it went; raise RetryableFailure if it failed and
    this is not the final attempt.
    """
    job = catalog_jobs()[payload["job"]]
    ctx = RunContext(
        execution_id=payload["execution_id"],
        job=payload["job"],
        scheduled_time=datetime.fromisoformat(payload["scheduled_time"].replace("Z", "+00:00")),
        trigger=payload.get("trigger", "manual"),
        attempt=int(payload.get("attempt", 1)),
    )
    started = now_iso()
    _record_start(payload, started)
    try:
        _handler(job.handler)(ctx)
        outcome: dict[str, Any] = {
            "status": "succeeded",
            "started_at": started,
            "finished_at": now_iso(),
        }
    except Exception as err:
        message = redact(f"{type(err).__name__}: {err}", (key,))
        if not final:
            raise RetryableFailure(message) from None
        outcome = {
            "status": "failed",
            "started_at": started,
            "finished_at": now_iso(),
            "error": message,
        }
    report(payload["callback_url"], outcome, key)
    return outcome


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


def run_on_modal(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Body of every job's Modal function: count the attempt, so only the last failure reports."""
    from cronflare.runtime.store import ModalDictStore

    app_name = os.environ.get("CRONFLARE_APP_NAME", "cronflare")
    attempt = ModalDictStore(f"{app_name}-dispatch").next_attempt(payload["execution_id"])
    final = attempt >= catalog_jobs()[payload["job"]].retries.attempts
    return execute(payload, os.environ["CRONFLARE_SIGNING_KEY"], final=final)
