"""runtime/modal_app.py registers one Modal function per enabled job, with the job's options."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from typing import Any

import modal
import pytest

from cronflare.runtime.wrapper import catalog_jobs
from tests import ROOT


@pytest.fixture
def registered(
    monkeypatch: pytest.MonkeyPatch, test_catalog
) -> Iterator[dict[str, dict[str, Any]]]:
    """Import cronflare.runtime.modal_app afresh, recording every app.function() call's options."""
    monkeypatch.setenv("CRONFLARE_APP_NAME", "cronflare-test")
    for var in ("MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET"):
        monkeypatch.delenv(var, raising=False)
    calls: dict[str, dict[str, Any]] = {}
    real = modal.App.function

    def recording(self, *args: Any, **kwargs: Any):
        calls[kwargs.get("name") or "<decorated>"] = kwargs
        return real(self, *args, **kwargs)

    monkeypatch.setattr(modal.App, "function", recording)
    calls["__sources__"] = {"modules": []}
    calls["__pip__"] = {"calls": []}
    calls["__volumes__"] = {"names": []}
    real_source, real_pip = modal.Image.add_local_python_source, modal.Image.uv_pip_install
    real_volume = modal.Volume.from_name

    def recording_source(self, *modules: str, **kwargs: Any):
        calls["__sources__"]["modules"].append(modules)
        return real_source(self, *modules, **kwargs)

    def recording_pip(self, *packages: str, **kwargs: Any):
        calls["__pip__"]["calls"].append((self, packages))
        return real_pip(self, *packages, **kwargs)

    def recording_volume(name: str, **kwargs: Any):
        calls["__volumes__"]["names"].append((name, kwargs))
        return real_volume(name, **kwargs)

    monkeypatch.setattr(modal.Image, "add_local_python_source", recording_source)
    monkeypatch.setattr(modal.Image, "uv_pip_install", recording_pip)
    monkeypatch.setattr(modal.Volume, "from_name", recording_volume)
    sys.modules.pop("cronflare.runtime.modal_app", None)
    module = importlib.import_module("cronflare.runtime.modal_app")
    calls["__module__"] = {"module": module}
    yield calls
    sys.modules.pop("cronflare.runtime.modal_app", None)


def test_one_function_per_enabled_job_and_the_dispatcher(registered):
    """Every enabled job of the catalog is a function, and so is the dispatcher."""
    module = registered["__module__"]["module"]
    assert module.app.name == "cronflare-test"
    names = {n for n in registered if not n.startswith("__")} - {"<decorated>"}
    handlers = {n for n, j in catalog_jobs().items() if j.target is None}
    assert names == handlers | {"watch-target"} and "disabled" not in names
    assert isinstance(module.dispatcher, modal.Function)  # the asgi dispatcher, registered too


def test_each_function_takes_the_jobs_resources_timeout_retries_and_secrets(registered):
    for name, job in catalog_jobs().items():
        if job.target is not None:
            continue
        opts = registered[name]
        assert (opts["cpu"], opts["memory"], opts["gpu"]) == (
            job.resources.cpu, job.resources.memory, job.resources.gpu
        ), name  # fmt: skip
        assert opts["timeout"] == job.timeout, name
        retries = opts["retries"]
        if job.retries.attempts == 1:
            assert retries is None, name
        else:
            assert isinstance(retries, modal.Retries), name
        assert len(opts["secrets"]) == 1 + len(job.secrets), name
    assert registered["touch"]["timeout"] == 120


def test_the_dispatcher_is_an_asgi_endpoint_with_the_signing_secret(registered):
    module = registered["__module__"]["module"]
    assert module.SIGNING_SECRET == "cronflare-test-signing"
    assert module.dispatcher._is_web_endpoint()
    opts = registered["<decorated>"]
    assert [s for s in opts["secrets"]] == [module.signing]


def test_the_image_carries_the_machinery_and_the_jobs(registered):
    """Every image goes out with both packages: the app imports cronflare, the catalog jobs."""
    assert registered["__sources__"]["modules"]
    assert set(registered["__sources__"]["modules"]) == {("cronflare", "jobs")}


def test_equal_image_specs_share_one_image_and_a_users_image_is_built_upon(registered):
    """A spec's packages install together with cronflare's; a referenced modal.Image gets
    cronflare's packages on top; a job with no image setting gets the default.
    """
    from cronflare.runtime.image import PYTHON_PACKAGES
    from tests.fixtures import images

    module = registered["__module__"]["module"]
    assert registered["echo"]["image"] is registered["report"]["image"]
    assert registered["echo"]["image"] is not module.image
    assert registered["quick"]["image"] is module.image
    installs = registered["__pip__"]["calls"]
    assert [p for _, p in installs].count((*PYTHON_PACKAGES, "rich==15.0.0")) == 1
    [packages] = [p for b, p in installs if b is images.GPU]
    assert packages == PYTHON_PACKAGES
    assert registered["own-image"]["image"] is not module.image


def test_volumes_are_mounted_by_path_and_created_if_missing(registered):
    """Each job mounts the stack's output Volume and its own; a name shared is one Volume."""
    echo, report, quick = registered["echo"], registered["report"], registered["quick"]
    assert set(echo["volumes"]) == {"/cronflare/output", "/data"}
    assert echo["volumes"]["/data"] is report["volumes"]["/data"]
    assert set(quick["volumes"]) == {"/cronflare/output"}
    assert quick["volumes"]["/cronflare/output"] is echo["volumes"]["/cronflare/output"]
    names = registered["__volumes__"]["names"]
    assert sorted(n for n, _ in names) == ["cronflare-test-output", "echo-data"]
    assert all(kw == {"create_if_missing": True} for _, kw in names)


def test_target_jobs_get_no_function_but_one_small_watcher(registered):
    """The target is someone else's function; the watcher outlives the longest target."""
    assert "remote" not in registered and "remote-bare" not in registered
    watcher = registered["watch-target"]
    assert (watcher["cpu"], watcher["memory"]) == (0.125, 128)
    assert watcher["timeout"] == 20 * 60 + 300 and watcher["scaledown_window"] == 2


def test_the_image_pins_the_runtime_packages_as_the_project_does():
    """A package the runtime imports is installed on Modal at the version tested here."""
    import tomllib

    from cronflare.runtime.image import PYTHON_PACKAGES

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert set(PYTHON_PACKAGES) <= set(project), set(PYTHON_PACKAGES) - set(project)


@pytest.mark.skipif(
    not __import__("os").environ.get("MODAL_TOKEN_ID"),
    reason="needs MODAL_TOKEN_ID and MODAL_TOKEN_SECRET: claims an id in a real modal.Dict",
)
def test_the_modal_dict_store_claims_an_id_once():
    import uuid

    from cronflare.runtime.store import ModalDictStore

    store = ModalDictStore("cronflare-test-dispatch")
    run = f"quick@test-{uuid.uuid4()}"
    assert store.claim(run) and not store.claim(run)
    store.set_result(run, "spawned", "fc-x")
    assert store.result(run) == ("spawned", "fc-x")
    store.release(run)


class FakeCall:
    def __init__(self, object_id: str):
        self.object_id = object_id


class FakeFunction:
    """Stands in for a looked-up modal.Function: records how it was found and spawned."""

    def __init__(self, found: tuple, spawns: list):
        self.found, self.spawns = found, spawns

    def spawn(self, *args: Any, **kwargs: Any) -> FakeCall:
        self.spawns.append((self.found, args, kwargs))
        return FakeCall(f"fc-{len(self.spawns)}")


def test_a_target_is_looked_up_by_name_spawned_with_its_args_and_watched(test_catalog, monkeypatch):
    """The target's app and function (or Class.method), in the job's environment else the
    stack's; its args as keyword arguments; then the watcher with the run and the call id.
    """
    from cronflare.runtime.executors import ModalExecutor

    spawns: list = []

    def function_from_name(app: str, name: str, environment_name: str | None = None):
        return FakeFunction(("fn", app, name, environment_name), spawns)

    class FakeCls:
        def __init__(self, found: tuple):
            self.found = found

        def __call__(self) -> Any:
            return self

        def __getattr__(self, method: str) -> FakeFunction:
            return FakeFunction((*self.found, method), spawns)

    def cls_from_name(app: str, name: str, environment_name: str | None = None):
        return FakeCls(("cls", app, name, environment_name))

    monkeypatch.setattr(modal.Function, "from_name", function_from_name)
    monkeypatch.setattr(modal.Cls, "from_name", cls_from_name)
    executor = ModalExecutor("cronflare-dev", "dev", catalog_jobs())
    run = {"execution_id": "remote@2026-11-23T09:00Z", "job": "remote", "args": None}
    assert executor.spawn("remote", run) == "fc-1"
    bare = {"execution_id": "remote-bare@x", "job": "remote-bare", "args": {"day": "mon"}}
    assert executor.spawn("remote-bare", bare) == "fc-3"
    assert executor.spawn("quick", {"job": "quick"}) == "fc-5"
    assert spawns == [
        (("fn", "other-app", "work", "dev"), (), {"size": 3}),
        (("fn", "cronflare-dev", "watch-target", "dev"), (run, "fc-1"), {}),
        (("cls", "other-app", "Worker", "other-env", "run"), (), {"day": "mon"}),
        (("fn", "cronflare-dev", "watch-target", "dev"), (bare, "fc-3"), {}),
        (("fn", "cronflare-dev", "quick", "dev"), ({"job": "quick"},), {}),
    ]


def test_a_target_not_deployed_is_reported_as_not_found(test_catalog, monkeypatch):
    """Modal's NotFoundError becomes TargetNotFound, which the dispatcher answers 404."""
    from cronflare.runtime.executors import ModalExecutor, TargetNotFound

    class Missing:
        def spawn(self, **kwargs: Any) -> Any:
            raise modal.exception.NotFoundError("Function 'work' not found")

    monkeypatch.setattr(modal.Function, "from_name", lambda *a, **k: Missing())
    with pytest.raises(TargetNotFound, match="other-app/work: Function 'work' not found"):
        ModalExecutor("cronflare-dev", "dev", catalog_jobs()).spawn("remote", {"args": None})
