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
from urllib.parse import quote

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

from cronflare.catalog.model import ARGS_MAX_DEPTH
from cronflare.catalog.validate import ResolvedJob, args_problem, catalog_hash
from cronflare.runtime.executors import Executor, TargetNotFound
from cronflare.runtime.signing import SCHEME, verify, verify_legacy
from cronflare.runtime.store import LastCall, Store, wait_for_result

MAX_BODY = 64 * 1024
# A batch: 500 runs of a few minutes, names and shared fields once; the Worker keeps their args
# under about 900 KB.
MAX_BATCH_BODY = 1024 * 1024
MAX_BATCH_RUNS = 500
# Set in the store at the first v2-signed dispatch: from then on a v1 signature is refused.
V2_SEEN = "signing-v2-seen"
# A batch entry: a job, or a runtime schedule of it ("job@schedule"), whose runs share a suffix.
BATCH_ENTRY = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:@[A-Za-z0-9][A-Za-z0-9._-]{0,99})?$"
log = logging.getLogger("cronflare.dispatcher")


def concurrency_key(execution_id: str, job: str) -> str:
    """Whose runs a concurrency policy weighs against each other: each runtime schedule's
    (`job@schedule@minute`: the id up to its last '@') are a stream of their own; catalog and
    manual runs share the job's.
    """
    return execution_id.rpartition("@")[0] if execution_id.count("@") == 2 else job


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


class BatchMinute(BaseModel):
    """The runs of one minute in a batch: what they share once, then each run's id prefix (its
    job, or `job@schedule` for a runtime schedule's). A new isolate's first tick builds this for
    thousands of runs, so nothing is repeated per run.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    suffix: Annotated[str, StringConstraints(min_length=2, max_length=120, pattern=r"^@\S+$")]
    scheduled_time: Annotated[str, StringConstraints(max_length=40)]
    trigger: str
    attempt: int
    jobs: list[Annotated[str, StringConstraints(max_length=164, pattern=BATCH_ENTRY)]]
    args: dict[str, Any] = {}  # by entry, for the runs that have their own

    def run(self, entry: str, callback: str) -> dict[str, Any]:
        """One run's request, as a lone POST /dispatch would carry it."""
        execution_id = entry + self.suffix
        data: dict[str, Any] = {
            "execution_id": execution_id,
            "job": entry.split("@")[0],
            "scheduled_time": self.scheduled_time,
            "trigger": self.trigger,
            "attempt": self.attempt,
            "callback_url": callback + quote(execution_id, safe="-_.!~*'()"),
        }
        if entry in self.args:
            data["args"] = self.args[entry]
        return data


class DispatchBatch(BaseModel):
    """POST /dispatch/batch: `callback` is the Worker's `<origin>/runs/`; runs come by minute."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    callback: AnyHttpUrl
    minutes: list[BatchMinute]


def _columns(answers: list[tuple[int, dict[str, Any]]]) -> dict[str, list[Any]]:
    """A minute's answers as columns, in its jobs' order: cheap for the Worker to read back."""
    return {
        "codes": [code for code, _ in answers],
        "statuses": [a.get("status") for _, a in answers],
        "call_ids": [a.get("call_id") for _, a in answers],
        "errors": [_error_text(a) for _, a in answers],
    }


def _error_text(answer: dict[str, Any]) -> str | None:
    if "error" not in answer:
        return None
    detail = answer.get("detail")
    return f"{answer['error']}: {json.dumps(detail)}" if detail else str(answer["error"])


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
        return "503" if job and self.take_job(job) else None

    def take_job(self, job: str) -> bool:
        """Whether this run of `job` fails with a 503 (in a batch, that run alone)."""
        with self._lock:
            if self.per_job.get(job, 0) > 0:
                self.per_job[job] -= 1
                return True
        return False


def _job_of(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data.get("job") if isinstance(data, dict) else None


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON, though Python's parser takes them: a 422, not a 500."""
    raise ValueError(f"{name} is not JSON")


def _answer(code: int, /, body: dict[str, Any] | None = None, **fields: Any) -> JSONResponse:
    return JSONResponse({**(body or {}), **fields}, status_code=code)


async def _read(request: Request, limit: int) -> bytes | JSONResponse:
    """The body, refused with 413 as soon as it passes `limit`, whatever Content-Length says."""
    too_big = _answer(413, error=f"body over {limit // 1024} KiB")
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > limit:
        return too_big
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return too_big
    return body


def _json(body: bytes) -> Any:
    """The body as JSON, or the 422 it gets (never a 500, however deep or odd)."""
    try:
        return json.loads(body, parse_constant=_no_constant)
    except ValueError as err:
        return _answer(422, error="bad body", detail=str(err))
    except RecursionError:  # json.loads gives up at about 1,000 levels: a 422, not a 500
        return _answer(
            422,
            error="bad body",
            detail=f"nested too deeply; args may nest {ARGS_MAX_DEPTH} levels",
        )


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

    v2_seen = False

    def signed(request: Request, body: bytes, legacy: bool = True) -> bool:
        """A v2 dispatch signature for this path; or, during an upgrade, a v1 one from the Worker
        not yet deployed, until the first v2 dispatch shows that it is (docs/SECURITY.md).
        """
        nonlocal v2_seen
        headers = dict(request.headers)
        if verify(keys, "dispatch", request.method, request.url.path, headers, body):
            if not v2_seen:
                store.mark(V2_SEEN)
                v2_seen = True
            return True
        if v2_seen or not legacy or not verify_legacy(keys, headers, body):
            return False
        v2_seen = store.marked(V2_SEEN)
        return not v2_seen

    def decide(data: Any) -> DispatchRequest | tuple[int, dict[str, Any]]:
        """A run's request, or the 4xx it gets: the same checks for a lone run and a batch's."""
        try:
            req = DispatchRequest.model_validate(data)
        except ValidationError as err:
            detail = json.loads(json.dumps(err.errors(), default=str))
            return 422, {"error": "bad body", "detail": detail}
        if not req.execution_id.startswith(f"{req.job}@"):
            return 422, {"error": "execution_id must start with '<job>@'"}
        if req.job not in jobs:
            return 404, {"error": f"no enabled job named {req.job!r}"}
        return req

    def spawn(req: DispatchRequest) -> tuple[int, dict[str, Any]]:
        return _spawn(executor, store, jobs[req.job], req, keys)

    async def injected(fault: str | None) -> JSONResponse | None:
        if fault == "timeout":
            await asyncio.sleep(faults.timeout_s if faults else 0)
        if fault:
            return _answer(429 if fault == "429" else 503, error=f"injected fault: {fault}")
        return None

    @app.post("/dispatch")
    async def dispatch(request: Request) -> JSONResponse:
        body = await _read(request, MAX_BODY)
        if isinstance(body, JSONResponse):
            return body
        if refused := await injected(faults.take(_job_of(body)) if faults else None):
            return refused
        if not signed(request, body):
            return _answer(401, error="bad or missing signature, or stale timestamp", scheme=SCHEME)
        data = _json(body)
        if isinstance(data, JSONResponse):
            return data
        decided = decide(data)
        if isinstance(decided, tuple):
            return _answer(decided[0], **decided[1])
        return _answer(*await run_in_threadpool(spawn, decided))

    @app.post("/dispatch/batch")
    async def dispatch_batch(request: Request) -> JSONResponse:
        """Up to 500 runs in one signed POST, by minute (DispatchBatch), each answered on its
        own: one run's 4xx or 5xx is that run's, never the batch's. Runs under one concurrency
        key go in order (the policy sees each of them), different keys at once.
        """
        body = await _read(request, MAX_BATCH_BODY)
        if isinstance(body, JSONResponse):
            return body
        if refused := await injected(faults.take(None) if faults else None):
            return refused
        if not signed(request, body, legacy=False):
            return _answer(401, error="bad or missing signature, or stale timestamp", scheme=SCHEME)
        data = _json(body)
        if isinstance(data, JSONResponse):
            return data
        try:
            batch = DispatchBatch.model_validate(data)
        except ValidationError as err:
            detail = json.loads(json.dumps(err.errors(), default=str))
            return _answer(422, error="bad body", detail=detail)
        total = sum(len(m.jobs) for m in batch.minutes)
        if total > MAX_BATCH_RUNS:
            return _answer(413, error=f"batch over {MAX_BATCH_RUNS} runs ({total})")
        answers = [[(0, {}) for _ in m.jobs] for m in batch.minutes]
        by_key: dict[str, list[tuple[int, int, DispatchRequest]]] = {}
        for mi, minute in enumerate(batch.minutes):
            for ji, entry in enumerate(minute.jobs):
                decided = decide(minute.run(entry, str(batch.callback)))
                if isinstance(decided, tuple):
                    answers[mi][ji] = decided
                elif faults and faults.take_job(decided.job):
                    answers[mi][ji] = (503, {"error": "injected fault: 503"})
                else:
                    key = concurrency_key(decided.execution_id, decided.job)
                    by_key.setdefault(key, []).append((mi, ji, decided))

        def one_stream(items: list[tuple[int, int, DispatchRequest]]) -> None:
            for mi, ji, req in items:
                answers[mi][ji] = spawn(req)

        await asyncio.gather(*(run_in_threadpool(one_stream, items) for items in by_key.values()))
        return _answer(200, minutes=[_columns(m) for m in answers])

    return app


def _spawn(
    executor: Executor,
    store: Store,
    job: ResolvedJob,
    req: DispatchRequest,
    keys: Sequence[str | None],
) -> tuple[int, dict[str, Any]]:
    """Spawn a run at most once, honouring the job's concurrency policy among the runs of its
    concurrency key: (HTTP status, body).
    """
    if not store.claim(req.execution_id) and not _replays_a_skip(store, req):
        first, call_id = wait_for_result(store, req.execution_id)
        # A run the first request skipped stays skipped, so the Worker records it so.
        status = "skipped" if first == "skipped" else "duplicate"
        return 202, {"execution_id": req.execution_id, "call_id": call_id, "status": status}
    key = concurrency_key(req.execution_id, job.name)
    try:
        last = store.last_call(key)
        if last and job.concurrency != "allow" and executor.is_running(last.call_id):
            if job.concurrency == "forbid":
                store.set_result(req.execution_id, "skipped", None)
                return 202, {"execution_id": req.execution_id, "call_id": None, "status": "skipped"}
            executor.cancel(last.call_id)
            _report_replaced(last, req.execution_id, next(k for k in keys if k))
        call_id = executor.spawn(job.name, req.model_dump(mode="json"))
    except TargetNotFound as err:  # final: the Worker fails the run instead of retrying
        store.release(req.execution_id)
        return 404, {"error": f"target not found: {err}"}
    except Exception as err:
        store.release(req.execution_id)
        log.error("spawn of %s failed: %s", req.execution_id, type(err).__name__)
        return 503, {"error": "could not start the job; retry later"}
    store.set_result(req.execution_id, "spawned", call_id)
    store.set_last_call(key, LastCall(call_id, req.execution_id, str(req.callback_url)))
    return 202, {"execution_id": req.execution_id, "call_id": call_id, "status": "spawned"}


def _replays_a_skip(store: Store, req: DispatchRequest) -> bool:
    """A replay of a run that was skipped asks again, and claims the id anew: nothing ran, so the
    job's policy decides again. Any other repeat (a retried or duplicated dispatch) does not.
    """
    return (
        req.trigger == "replay"
        and wait_for_result(store, req.execution_id)[0] == "skipped"
        and store.reclaim_skipped(req.execution_id)
    )


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
