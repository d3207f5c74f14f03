"""`cronflare demo --chaos` on real processes: dispatcher faults, an outage and a Worker that dies
after its insert, and still every expected run fires once and ends once.
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
    # The dying tick was at 01:00: the hourly job's run of that minute still ran, once.
    hourly = next(j for j in outcome["jobs"] if j["name"] == "hourly-health-check")
    assert hourly["expected"] == hourly["fired"] == hourly["succeeded"] == 2
