"""A smoke run of `make bench` at tiny sizes: every key, and the table it writes."""

from __future__ import annotations

import json
import shutil

from bench import run

KEYS = {
    "tick_us_per_job",
    "tick_naive_ratio",
    "bundle_bytes",
    "e2e_latency_ms_p50",
    "e2e_latency_ms_p99",
    "direct_post_latency_ms_p50",
    "plan_s_10k_jobs",
    "pulumi_mocks_s_1000_jobs",
    "cloudflare_resources_1_job",
    "cloudflare_resources_1000_jobs",
    "e2e_direct_ratio_p50",
    *run.COST_KEYS,
    *run.SCHEDULE_KEYS,
}


def test_quick_bench_writes_every_key_and_regenerates_only_the_table(tmp_path):
    """--quick measures every figure, writes results.json, and rewrites the doc's table alone."""
    doc = tmp_path / "BENCHMARKS.md"
    shutil.copy(run.DOC, doc)
    prose_before = doc.read_text().split(run.END)[1]
    results = tmp_path / "results.json"
    assert run.main(["--quick", "--results", str(results), "--doc", str(doc)]) == 0
    data = json.loads(results.read_text())
    assert set(data) >= KEYS
    assert data["quick"] is True
    assert data["details"]["latency"]["runs"] == data["details"]["latency"]["direct_runs"] > 0
    assert data["details"]["latency"]["succeeded"] == data["details"]["latency"]["runs"]
    assert data["cloudflare_resources_1_job"] == data["cloudflare_resources_1000_jobs"] > 0
    assert data["details"]["tick"]["mismatches"] == 0
    # What a run costs is measured in a quick run too (a few seconds of workerd).
    assert data["queue_ops_per_run"] == 0 and data["d1_rows_written_per_run"] > 0
    assert data["free_plan_runs_per_day"] > 0
    # A million runtime schedules are not stored in a quick run: their rows say so.
    assert data["details"]["schedules"] is None and data["runtime_schedules_stored"] is None
    text = doc.read_text()
    assert text.split(run.END)[1] == prose_before
    for key in run.TARGETS:
        assert f"| `{key}` |" in text
    assert "(quick run)" in text


def test_percentile_interpolates():
    """p50 of 1..4 is 2.5; p99 of 0..100 is 99."""
    assert run.percentile([4, 1, 3, 2], 50) == 2.5
    assert run.percentile([float(i) for i in range(101)], 99) == 99.0
