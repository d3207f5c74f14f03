"""The dispatcher: verify the Worker's signature, drop duplicates, apply the job's concurrency
policy, and spawn the job's own function (docs/ARCHITECTURE.md, Contracts).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidationError,
    field_validator,
)
from starlette.concurrency import run_in_threadpool

from cronflare.catalog.validate import ResolvedJob, args_problem, catalog_hash
from cronflare.runtime.executors import Executor, TargetNotFound
from cronflare.runtime.signing import verify
from cronflare.runtime.store import LastCall, Store, wait_for_result

MAX_BODY = 64 * 1024
log = logging.getLogger("cronflare.dispatcher")


class DispatchRequest(BaseModel):
    """The body the Worker POSTs for one due run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    execution_id: Annotated[
        str, StringConstraints(min_length=3, max_length=200, pattern=r"^[a-z0-9-]+@\S+$")
    ]
    job: Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z0-9-]+$")]
    scheduled_time: datetime
    trigger: Literal["cron", "catchup", "manual", "replay", "backfill"]
    attempt: int = Field(ge=1, le=1000)
    callback_url: AnyHttpUrl
    args: dict[str, JsonValue] | None = None  # the run's own; absent: the job's catalog args

    @field_validator("args")
    @classmethod
    def _small(cls, value: dict[str, JsonValue] | None) -> dict[str, JsonValue] | None:
        if value is not None and (problem := args_problem(value)):
            raise ValueError(f"args {problem}")
        return value


class FaultPlan:
    """Dispatcher faults injected on purpose, for chaos demos and end-to-end tests.

    `first`: answers for the first requests, in order ("503", "429" or "timeout");
    `per_job`: how many requests for a job answer 503 before it works; `timeout_s`: how long a
    "timeout" hangs before answering 503.
    """

    def __init__(self, spec: Mapping[str, Any]):
        self.first = [str(f) for f in spec.get("first", [])]
        self.per_job = {str(k): int(v) for k, v in dict(spec.get("per_job", {})).items()}
        self.timeout_s = float(spec.get("timeout_s", 5))
        self._lock = threading.Lock()

    def take(self, job: str | None) -> str | None:
        """The fault for this request, if any."""
        with self._lock:
            if self.first:
                return self.first.pop(0)
            if job and self.per_job.get(job, 0) > 0:
                self.per_job[job] -= 1
                return "503"
        return None


def _job_of(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data.get("job") if isinstance(data, dict) else None


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON, though Python's parser takes them: a 422, not a 500."""
    raise ValueError(f"{name} is not JSON")


def _answer(code: int, **body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=code)


def create_app(
    executor: Executor,
    keys: Sequence[str | None],
    store: Store,
    jobs: Mapping[str, ResolvedJob] | None = None,
    faults: FaultPlan | None = None,
) -> FastAPI:
    """The dispatcher as a FastAPI app. `jobs` defaults to the enabled jobs of the catalog."""
    if not any(keys):
        raise ValueError("the dispatcher needs a signing key")
    if jobs is None:
        from cronflare.runtime.wrapper import catalog_jobs

        jobs = catalog_jobs()
    app = FastAPI(title="cronflare dispatcher", docs_url=None, redoc_url=None, openapi_url=None)

    fingerprint = catalog_hash(jobs.values())

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        # The Worker compares catalog_hash with its plan's: a deploy of one side only shows.
        return {"ok": True, "jobs": len(jobs), "catalog_hash": fingerprint}

    @app.post("/dispatch")
    async def dispatch(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_BODY:
            return _answer(413, error="body over 64 KiB")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return _answer(413, error="body over 64 KiB")
        fault = faults.take(_job_of(body)) if faults else None
        if fault == "timeout":
            await asyncio.sleep(faults.timeout_s if faults else 0)
        if fault:
            return _answer(429 if fault == "429" else 503, error=f"injected fault: {fault}")
        if not verify(keys, dict(request.headers), body):
            return _answer(401, error="bad or missing signature, or stale timestamp")
        try:
            req = DispatchRequest.model_validate(json.loads(body, parse_constant=_no_constant))
        except (ValueError, ValidationError) as err:
            detail = err.errors() if isinstance(err, ValidationError) else str(err)
            return _answer(
                422, error="bad body", detail=json.loads(json.dumps(detail, default=str))
            )
        if not req.execution_id.startswith(f"{req.job}@"):
            return _answer(422, error="execution_id must start with '<job>@'")
        job = jobs.get(req.job)
        if job is None:
            return _answer(404, error=f"no enabled job named {req.job!r}")
        return await run_in_threadpool(_spawn, executor, store, job, req, keys)

    return app


def _spawn(
    executor: Executor,
    store: Store,
    job: ResolvedJob,
    req: DispatchRequest,
    keys: Sequence[str | None],
) -> JSONResponse:
    """Spawn a run at most once, honouring the job's concurrency policy."""
    if not store.claim(req.execution_id):
        first, call_id = wait_for_result(store, req.execution_id)
        # A run the first request skipped stays skipped, so the Worker records it so.
        status = "skipped" if first == "skipped" else "duplicate"
        return _answer(202, execution_id=req.execution_id, call_id=call_id, status=status)
    try:
        last = store.last_call(job.name)
        if last and job.concurrency != "allow" and executor.is_running(last.call_id):
            if job.concurrency == "forbid":
                store.set_result(req.execution_id, "skipped", None)
                return _answer(202, execution_id=req.execution_id, call_id=None, status="skipped")
            executor.cancel(last.call_id)
            _report_replaced(last, req.execution_id, next(k for k in keys if k))
        call_id = executor.spawn(job.name, req.model_dump(mode="json"))
    except TargetNotFound as err:  # final: the Worker fails the run instead of retrying
        store.release(req.execution_id)
        return _answer(404, error=f"target not found: {err}")
    except Exception as err:
        store.release(req.execution_id)
        log.error("spawn of %s failed: %s", req.execution_id, type(err).__name__)
        return _answer(503, error="could not start the job; retry later")
    store.set_result(req.execution_id, "spawned", call_id)
    store.set_last_call(job.name, LastCall(call_id, req.execution_id, str(req.callback_url)))
    return _answer(202, execution_id=req.execution_id, call_id=call_id, status="spawned")


def _report_replaced(last: LastCall, by: str, key: str) -> None:
    """A cancelled run still ends once: report it failed, in the background."""
    from cronflare.runtime.wrapper import now_iso, report

    outcome = {
        "status": "failed",
        "finished_at": now_iso(),
        "error": f"cancelled: replaced by {by} (concurrency replace)",
    }
    threading.Thread(target=report, args=(last.callback_url, outcome, key), daemon=True).start()


def keys_from_env() -> list[str | None]:
    """The current and next signing keys, from CRONFLARE_SIGNING_KEY(_NEXT)."""
    return [os.environ.get("CRONFLARE_SIGNING_KEY"), os.environ.get("CRONFLARE_SIGNING_KEY_NEXT")]


def create_modal_app(app_name: str, environment_name: str | None = None) -> FastAPI:
    """The dispatcher as it runs on Modal: ModalExecutor and a modal.Dict store."""
    from cronflare.runtime.executors import ModalExecutor
    from cronflare.runtime.store import ModalDictStore
    from cronflare.runtime.wrapper import catalog_jobs

    return create_app(
        ModalExecutor(app_name, environment_name, catalog_jobs()),
        keys_from_env(),
        ModalDictStore(f"{app_name}-dispatch", environment_name),
    )
