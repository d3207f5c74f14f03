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
    real_source = modal.Image.add_local_python_source

    def recording_source(self, *modules: str, **kwargs: Any):
        calls["__sources__"] = {"modules": modules}
        return real_source(self, *modules, **kwargs)

    monkeypatch.setattr(modal.Image, "add_local_python_source", recording_source)
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
    assert names == set(catalog_jobs()) and "disabled" not in names
    assert isinstance(module.dispatcher, modal.Function)  # the asgi dispatcher, registered too


def test_each_function_takes_the_jobs_resources_timeout_retries_and_secrets(registered):
    for name, job in catalog_jobs().items():
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
    """Both packages go into the image: the app imports cronflare, the catalog imports jobs."""
    module = registered["__module__"]["module"]
    assert registered["__sources__"]["modules"] == ("cronflare", "jobs")
    for name in catalog_jobs():
        assert registered[name]["image"] is module.image, name


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
