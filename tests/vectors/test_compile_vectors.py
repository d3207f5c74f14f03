"""The shared cron vectors through both compilers: Python's (the plan) and compile.ts (runtime
schedules) give each cron the same compiled form, the one the vectors record.
"""

from __future__ import annotations

import json

from tests.ts_compile import TsCompiler, py_schedule
from tests.vectors.generate import PATH, RANDOM_PATH


def test_every_vector_cron_compiles_the_same_in_the_worker(ts_compiler: TsCompiler):
    cases = json.loads(PATH.read_text())["cases"] + json.loads(RANDOM_PATH.read_text())["cases"]
    assert len(cases) >= 2000
    for case in cases:
        python = py_schedule(case["cron"])
        assert python["compiled"] == case["compiled"], case
        assert ts_compiler.schedule(case["cron"]) == python, case
