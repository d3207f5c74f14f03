"""Hostile dispatch bodies: args nested past the limit are a 422 everywhere, never a 500."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cronflare.catalog.model import ARGS_MAX_DEPTH, Catalog, JobOverride
from cronflare.catalog.validate import args_problem, resolve
from cronflare.runtime.dispatcher import create_app
from cronflare.runtime.store import SqliteStore
from cronflare.runtime.wrapper import catalog_jobs
from tests.catalog.test_validate import job, problems
from tests.conftest import FakeExecutor
from tests.runtime.test_dispatcher import KEY, NEXT, body, post

DEEP = "args is nested deeper than 32 levels"


def nested(levels: int) -> dict:
    """An args object whose objects and arrays nest `levels` deep, itself included."""
    value: object = []
    for i in range(levels - 2):
        value = [value] if i % 2 else {"b": value}
    return {"a": value} if levels > 1 else {}


def deep_text(levels: int) -> str:
    """A dispatch body whose args nest `levels` deep, built as text: json.dumps would recurse."""
    deep = '{"a": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"
    return json.dumps(body(args={})).replace('"args": {}', f'"args": {deep}')


@pytest.fixture
def client(test_catalog, fake_executor: FakeExecutor, tmp_path: Path) -> TestClient:
    store = SqliteStore(tmp_path / "store.sqlite3")
    return TestClient(create_app(fake_executor, [KEY, NEXT], store, catalog_jobs()))


def test_the_depth_limit_is_32_levels_with_args_itself_the_first():
    assert ARGS_MAX_DEPTH == 32
    assert args_problem(nested(32)) is None
    assert args_problem(nested(33)) == "is nested deeper than 32 levels"
    assert args_problem({"a": [1, "x", None, {"b": 2}]}) is None  # scalars are no level
    assert args_problem(nested(100_000)) == "is nested deeper than 32 levels"  # no recursion


def test_the_catalog_and_a_stack_override_refuse_args_nested_past_the_limit():
    assert problems(job("d", args=nested(33))) == [f"job d: args: {DEEP[5:]}"]
    assert problems(job("o"), overrides={"o": JobOverride(args=nested(33))}) == [
        f"job o: args: {DEEP[5:]}"
    ]
    [j] = resolve(Catalog(jobs=[job("k", args=nested(32))])).jobs
    assert j.args == nested(32)


def test_a_dispatch_with_args_32_deep_is_spawned_and_33_deep_is_422(client, fake_executor):
    refused = post(client, body(args=nested(33)))
    assert refused.status_code == 422, refused.text
    assert DEEP in str(refused.json()["detail"])
    assert fake_executor.spawned == []
    taken = post(client, body(args=nested(32)))
    assert taken.status_code == 202, taken.text
    assert fake_executor.spawned[0][1]["args"] == nested(32)


@pytest.mark.parametrize("levels", [33, 200, 900, 990, 1_000, 1_500, 3_000, 30_000])
def test_a_dispatch_nested_far_past_the_parsers_recursion_limit_is_422(
    client, fake_executor, levels
):
    """json.loads gives up at about 1,000 levels with RecursionError: still a 422, not a 500."""
    res = post(client, deep_text(levels))
    assert res.status_code == 422, res.text[:300]
    assert res.json()["error"] == "bad body"
    assert fake_executor.spawned == []
