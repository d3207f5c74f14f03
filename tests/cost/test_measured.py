"""The cost model's per-run figures are those `make bench` measured, so that they cannot drift.

worker_src/test/cost.test.ts counts what a run costs Cloudflare with D1's own meta in workerd;
bench/run.py (bench_cost) records its figures in bench/results.json. Each constant of
cronflare/cost/model.py is its figure rounded up. A Worker change that moves a figure fails here
after the next `make bench`, naming the constant to update. Nothing heavy runs: results.json is
read as it is.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from typing import Any

import pytest

from bench import run
from cronflare.cost import model
from cronflare.cost.prices import Prices
from tests import ROOT


@cache
def results() -> dict[str, Any]:
    return json.loads(run.RESULTS.read_text())


def measured() -> dict[str, Any]:
    """Everything test/cost.test.ts printed, and what bench_cost made of it."""
    return results()["details"]["cost"]


@pytest.mark.parametrize(("constant", "key"), model.MEASURED.items())
def test_a_constant_is_its_measured_figure_rounded_up(constant: str, key: str):
    figure = measured()[key]
    assert getattr(model, constant) == math.ceil(figure), (
        f"bench/results.json measured {key} = {figure}: set model.{constant} to {math.ceil(figure)}"
    )
    if key in results():  # a figure of the table: the same value
        assert results()[key] == figure


def test_the_run_cost_of_the_measured_figures_is_the_models():
    assert model.RunCost.measured(measured()) == model.RunCost()
    assert measured()["model"] == model.RunCost().model_dump()


def test_the_bench_figures_of_the_cost_model_are_the_models():
    """free_plan_runs_per_day and paid_usd_per_million_runs are computed by the model, at the
    dated prices, from the constants.
    """
    r, prices = results(), Prices()
    cost = measured()
    runs, first = model.free_plan_capacity(prices)
    assert (r["free_plan_runs_per_day"], cost["free_plan_limit"]) == (
        runs,
        model.METER_NAMES[first],
    )
    assert r["paid_usd_per_million_runs"] == pytest.approx(model.paid_usd_per_million_runs(prices))
    assert cost["free_plan_storage_runs_per_day_90d"] == model.storage_runs_per_day(prices, 90)
    assert cost["prices_as_of"] == prices.as_of.isoformat()


def test_the_ticks_dispatch_limits_are_the_workers():
    """The model queues a minute's runs past the tick's own POSTs as worker_src/src/direct.ts
    does: BATCH_RUNS a POST, MAX_POSTS a tick.
    """
    source = (ROOT / "worker_src" / "src" / "direct.ts").read_text()
    const = dict(re.findall(r"export const (BATCH_RUNS|MAX_POSTS) = (\d+);", source))
    assert int(const["BATCH_RUNS"]) == model.TICK_BATCH_RUNS
    assert int(const["BATCH_RUNS"]) * int(const["MAX_POSTS"]) == model.TICK_DISPATCH_MAX_RUNS
