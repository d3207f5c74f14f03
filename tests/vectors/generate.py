"""Write the vectors the Worker's tests share with Python: cron.json (from catalog/schedule.py,
each case with the compiled form the plan carries), cron_random.json (random crons and their
compiled forms, for the Worker's property test against croner) and signing.json (HMAC-SHA256
over `timestamp + "." + body`, the contract of docs/ARCHITECTURE.md).

Run `uv run python -m tests.vectors.generate` after changing either; a test fails while the
committed files and this generator disagree.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from datetime import datetime
from pathlib import Path

from cronflare.catalog.schedule import (
    ScheduleError,
    compile_cron,
    iso_utc,
    never_fires,
    next_fires,
    parse_cron,
)
from cronflare.catalog.validate import resolve
from jobs.catalog import CATALOG

PATH = Path(__file__).with_name("cron.json")
RANDOM_PATH = Path(__file__).with_name("cron_random.json")
RANDOM_COUNT = 2000
SIGNING_PATH = Path(__file__).with_name("signing.json")
SIGNING_CASES = [  # key, purpose, method, path, timestamp, body
    ("test-signing-key", "dispatch", "POST", "/dispatch", 1795424400,
     '{"execution_id":"weekly-report@2026-11-23T09:00Z"}'),
    ("test-signing-key-next", "dispatch", "POST", "/dispatch", 1795424400,
     '{"execution_id":"weekly-report@2026-11-23T09:00Z"}'),
    ("test-signing-key", "report", "POST", "/runs/weekly-report@2026-11-23T09:00Z", 1795424400,
     '{"status":"succeeded"}'),
    ("test-signing-key", "report", "POST", "/runs/weekly-report@2026-11-23T09:01Z", 1795424400,
     '{"status":"succeeded"}'),
    ("test-signing-key", "alert", "POST", "/hook", 1795424400, '{"status":"succeeded"}'),
    ("k", "report", "post", "", 0, ""),
    ("ключ-🔑", "report", "POST", "/runs/naïve@manual-✓", 1700000000,
     '{"error":"naïve — ünïcode ✓"}'),
    ("a" * 64, "dispatch", "POST", "/", 9999999999,
     '{"status":"succeeded","started_at":"2026-11-23T09:00:01Z"}'),
]  # fmt: skip
COUNT = 6
STARTS = [
    "2026-03-27T00:00:00Z",  # Europe's spring-forward weekend
    "2026-10-24T00:00:00Z",  # Europe's fall-back weekend
    "2026-10-31T12:00:00Z",  # America's fall-back
    "2028-02-27T00:00:00Z",  # a leap February
]
EXTRA = [
    ("30 2 * * *", "Europe/Berlin"),
    ("0,15,30,45 2 * * *", "America/New_York"),
    ("*/30 * * * *", "America/New_York"),
    ("*/20 2 * * *", "Australia/Lord_Howe"),
    ("0 0 * * *", "America/Santiago"),
    ("0 0 13 * FRI", "UTC"),
    ("0 0 */2 * MON", "UTC"),
    ("0 0 15 * 0-6", "UTC"),
    ("0 12 * * 5L", "UTC"),
    ("0 12 * * FRI#2", "Europe/Berlin"),
    ("0 0 29 2 *", "UTC"),
    ("0 9 * * 7", "UTC"),
    ("0 9 * * SUN,SAT", "Asia/Kolkata"),
    ("45 23 L * *", "Pacific/Chatham"),
]


def vectors() -> dict:
    """Every (cron, timezone) case with its next fire times after each start instant."""
    catalog = {(j.cron, j.timezone) for j in resolve(CATALOG).jobs if j.cron is not None}
    cases = sorted(catalog | set(EXTRA))
    out = []
    for cron, tz in cases:
        for start in STARTS:
            after = datetime.fromisoformat(start.replace("Z", "+00:00"))
            out.append(
                {
                    "cron": cron,
                    "compiled": compile_cron(cron),
                    "timezone": tz,
                    "after": start,
                    "next": [iso_utc(t) for t in next_fires(cron, tz, after, COUNT)],
                }
            )
    return {
        "about": "UTC fire times strictly after `after`, from tests/vectors/generate.py",
        "rule": "skipped wall times run at the first minute after the gap; repeated ones run once, "
        "on their first occurrence; day-of-month and day-of-week are ORed unless either starts "
        "with '*'",
        "cases": out,
    }


NAMES = {4: ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
         5: ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")}  # fmt: skip
BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _field(rng: random.Random, i: int) -> str:
    """One random field: *, a value, a range, a step, a list, names; L, nL and n#k for days."""
    low, high = BOUNDS[i]
    kind = rng.choice(["*", "value", "range", "step", "list", "special"])
    if kind == "*":
        return "*"
    if kind == "special" and i == 2:
        return "L"
    if kind == "special" and i == 4:
        day = rng.randint(0, 7)
        return f"{day}L" if rng.random() < 0.5 else f"{day}#{rng.randint(1, 5)}"
    if kind == "special" and i in NAMES:
        names = NAMES[i + 1] if i == 3 else NAMES[5]
        return ",".join(rng.sample(names, rng.randint(1, 3)))
    a = rng.randint(low, high)
    b = rng.randint(a, high)
    if kind == "range":
        return f"{a}-{b}"
    if kind == "step":
        return f"{'*' if rng.random() < 0.5 else f'{a}-{b}'}/{rng.randint(1, max(1, high // 2))}"
    if kind == "list":
        return ",".join(str(v) for v in sorted(rng.sample(range(low, high + 1), rng.randint(2, 4))))
    return str(a)


def random_vectors() -> dict:
    """RANDOM_COUNT valid crons that can fire, each with its compiled form (seeded: stable)."""
    rng = random.Random(14)
    cases: list[dict] = []
    seen: set[str] = set()
    while len(cases) < RANDOM_COUNT:
        cron = " ".join(_field(rng, i) for i in range(5))
        try:
            parse_cron(cron)
        except ScheduleError:
            continue
        if cron in seen or never_fires(cron):
            continue
        seen.add(cron)
        cases.append({"cron": cron, "compiled": compile_cron(cron)})
    return {"about": "random crons and their compiled forms, from tests/vectors/generate.py",
            "cases": cases}  # fmt: skip


def signing_vectors() -> dict:
    """v2 signatures spelled out with hmac alone, as docs/SECURITY.md states the scheme: the
    Worker and cronflare/runtime/signing.py must both reproduce them.
    """
    cases = []
    for key, purpose, method, path, timestamp, body in SIGNING_CASES:
        derived = hmac.new(key.encode(), f"cronflare-v2 purpose {purpose}".encode(), hashlib.sha256)
        text = f"cronflare-v2\n{purpose}\n{method.upper()}\n{path}\n{timestamp}\n{body}"
        mac = hmac.new(derived.hexdigest().encode(), text.encode(), hashlib.sha256)
        cases.append({"key": key, "purpose": purpose, "method": method, "path": path,
                      "timestamp": timestamp, "body": body, "purpose_key": derived.hexdigest(),
                      "signature": f"v2={mac.hexdigest()}"})  # fmt: skip
    return {
        "about": "X-Cronflare-Signature = v2=hex(HMAC-SHA256(purpose_key, 'cronflare-v2' LF "
        "purpose LF METHOD LF path LF ts LF body)); purpose_key = hex(HMAC-SHA256(signing key, "
        "'cronflare-v2 purpose ' + purpose))",
        "cases": cases,
    }


def render() -> str:
    """cron.json's exact text."""
    return json.dumps(vectors(), indent=1) + "\n"


def render_random() -> str:
    """cron_random.json's exact text: one case a line, to keep the file small and diffable."""
    data = random_vectors()
    lines = ",\n".join(json.dumps(c, separators=(",", ":")) for c in data["cases"])
    return f'{{"about": {json.dumps(data["about"])},\n"cases": [\n{lines}\n]}}\n'


def render_signing() -> str:
    """signing.json's exact text."""
    return json.dumps(signing_vectors(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    PATH.write_text(render())
    RANDOM_PATH.write_text(render_random())
    SIGNING_PATH.write_text(render_signing())
    print(f"wrote {PATH} ({len(vectors()['cases'])} cases) and {SIGNING_PATH}")
