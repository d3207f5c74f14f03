"""`cronflare demo --chaos` on real processes: dispatcher faults, an outage and a Worker that dies
after its insert, and still every expected run fires once and ends once, the runtime schedules'
runs among them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests import ROOT


def test_chaos_demo_stays_exact(tmp_path):
    env = os.environ | {"CRONFLARE_STATE_DIR": str(tmp_path / "state")}
    cmd = [sys.executable, "-m", "cronflare.cli", "demo", "--chaos", "--hours", "2", "--json"]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "chaos: the Worker died after recording a minute's runs" in r.stderr
    outcome = json.loads(r.stdout)
    assert (outcome["lost"], outcome["duplicates"]) == (0, 0)
    # The dying tick was on the hour: the hourly job's run of that minute still ran, once.
    hourly = next(j for j in outcome["jobs"] if j["name"] == "hourly-health-check")
    assert hourly["expected"] == hourly["fired"] == hourly["succeeded"] == 2
    # The schedules the demo made through cronflare.Client: every 30 minutes (jittered), every
    # 20 for the first half hour, and once at the middle.
    assert "4 runtime schedules of customer-digest, made through cronflare.Client" in r.stderr
    digest = next(j for j in outcome["jobs"] if j["name"] == "customer-digest")
    assert digest["expected"] >= 5
    assert digest["expected"] == digest["fired"] == digest["succeeded"]
