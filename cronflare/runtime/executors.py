"""Executors start a job's run and answer for it later: Modal's spawn() on Modal, and local worker
processes that run the very same job wrapper for the local stack and the tests.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cronflare.catalog.validate import ResolvedJob


class Executor(Protocol):
    """Start runs, tell whether one is still running, cancel one."""

    def spawn(self, job: str, payload: Mapping[str, Any]) -> str:
        """Start the job's function with `payload`; return its call id."""
        ...

    def is_running(self, call_id: str) -> bool: ...

    def cancel(self, call_id: str) -> None: ...


# What a local run inherits from the dispatcher's environment at spawn time (the forkserver
# itself was started earlier, possibly with another environment).
PASSED_ENV = (
    "CRONFLARE_CATALOG",
    "CRONFLARE_EXECUTION_LOG",
    "CRONFLARE_OUTPUT_DIR",
    "CRONFLARE_VOLUME_ROOT",
)


def _run_local(payload: dict[str, Any], key: str, env: dict[str, str]) -> None:
    from cronflare.runtime.wrapper import catalog_jobs, run_with_retries

    if any(os.environ.get(name) != env.get(name) for name in PASSED_ENV):
        for name in PASSED_ENV:
            os.environ.pop(name, None)
        os.environ.update(env)
        catalog_jobs.cache_clear()
    run_with_retries(payload, key)


@contextlib.contextmanager
def _main_not_reimported() -> Iterator[None]:
    """Start a child without re-running __main__ in it.

    multiprocessing re-imports the parent's main module in every forkserver child, for targets
    defined there. Ours lives in this module, and the main module here is the CLI (typer, rich,
    uvicorn): re-importing it cost each run about 100 ms before its body started.
    """
    main = sys.modules["__main__"]
    saved = {k: main.__dict__[k] for k in ("__spec__", "__file__") if k in main.__dict__}
    main.__dict__["__spec__"] = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__dict__.update(saved)


class LocalExecutor:
    """One worker process per run (forkserver: fast to start, and killable for `replace`)."""

    def __init__(self, key: str):
        self._key = key
        self._ctx = multiprocessing.get_context("forkserver")
        # The forkserver starts with this process's environment and warms the catalog once.
        self._ctx.set_forkserver_preload(["cronflare.runtime.preload"])
        self._procs: dict[str, BaseProcess] = {}
        self._lock = threading.Lock()
        # Start the forkserver now: its first start costs about half a second, which would
        # otherwise land on the first dispatch and could outlast the Worker's timeout.
        with _main_not_reimported():
            multiprocessing.forkserver.ensure_running()

    def spawn(self, job: str, payload: Mapping[str, Any]) -> str:
        call_id = f"lc-{uuid.uuid4().hex[:16]}"
        env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
        proc = self._ctx.Process(
            target=_run_local, args=(dict(payload), self._key, env), daemon=True
        )
        with self._lock, _main_not_reimported():
            proc.start()
        with self._lock:
            for old, p in list(self._procs.items()):  # reap what has finished
                if not p.is_alive():
                    p.join(0)
                    del self._procs[old]
            self._procs[call_id] = proc
        return call_id

    def is_running(self, call_id: str) -> bool:
        with self._lock:
            proc = self._procs.get(call_id)
        return bool(proc and proc.is_alive())

    def cancel(self, call_id: str) -> None:
        with self._lock:
            proc = self._procs.get(call_id)
        if proc and proc.is_alive():
            proc.terminate()
            proc.join(5)

    def shutdown(self) -> None:
        """Stop every run still going (the local stack is shutting down)."""
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(5)


class TargetNotFound(Exception):
    """A target job's function is not deployed where the job says: no retry will find it."""


WATCHER = "watch-target"  # the function of cronflare's app that waits on a target's call


class ModalExecutor:
    """spawn() on the deployed Modal app; FunctionCall for status and cancel.

    A target job's function is another app's: it is looked up by name (in the job's Modal
    environment, else the stack's), spawned with the run's args as keyword arguments, and the
    app's watcher function is spawned beside it to report how the call ends.
    """

    def __init__(
        self,
        app_name: str,
        environment_name: str | None = None,
        jobs: Mapping[str, ResolvedJob] | None = None,
    ):
        self.app_name = app_name
        self.environment_name = environment_name
        self.jobs = dict(jobs or {})

    def spawn(self, job: str, payload: Mapping[str, Any]) -> str:
        import modal

        resolved = self.jobs.get(job)
        if resolved is None or resolved.target is None:
            fn = modal.Function.from_name(
                self.app_name, job, environment_name=self.environment_name
            )
            return fn.spawn(dict(payload)).object_id
        args = payload.get("args")
        kwargs = dict(resolved.args if args is None else args)
        try:
            call_id = target_function(resolved, self.environment_name).spawn(**kwargs).object_id
        except modal.exception.NotFoundError as err:
            raise TargetNotFound(f"{resolved.target}: {err}") from None
        watcher = modal.Function.from_name(
            self.app_name, WATCHER, environment_name=self.environment_name
        )
        watcher.spawn(dict(payload), call_id)
        return call_id

    def is_running(self, call_id: str) -> bool:
        import modal

        try:
            modal.FunctionCall.from_id(call_id).get(timeout=0)
        except TimeoutError:
            return True
        except Exception:  # finished with an error, expired, or unknown: not running
            return False
        return False

    def cancel(self, call_id: str) -> None:
        import modal

        modal.FunctionCall.from_id(call_id).cancel()


def target_function(job: ResolvedJob, stack_environment: str | None) -> Any:
    """The deployed function a target job names, "app/function" or "app/Class.method", looked
    up in the job's Modal environment, else the stack's.
    """
    import modal

    assert job.target is not None
    app, _, name = job.target.partition("/")
    environment = job.target_environment or stack_environment
    if "." in name:
        cls_name, method = name.split(".", 1)
        return getattr(modal.Cls.from_name(app, cls_name, environment_name=environment)(), method)
    return modal.Function.from_name(app, name, environment_name=environment)
