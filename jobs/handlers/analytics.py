"""Analytics jobs: aggregate a day of (deterministic, synthetic) page views."""

from __future__ import annotations

import json
import random
from collections import Counter

from cronflare import RunContext

PAGES = ("/", "/pricing", "/docs", "/blog", "/signup", "/login")


def daily_sync(ctx: RunContext) -> dict:
    """Aggregate the day's page views per page and write them as JSON for the weekly report."""
    rng = random.Random(ctx.scheduled_time.date().isoformat())
    views = Counter(rng.choice(PAGES) for _ in range(5000))
    summary = {"day": ctx.scheduled_time.date().isoformat(), "views": dict(sorted(views.items()))}
    path = ctx.output_dir / f"{summary['day']}.json"
    path.write_text(json.dumps(summary, indent=2))
    return {"file": str(path), "total_views": sum(views.values())}


def bi_hourly_sync(ctx: RunContext) -> dict:
    """Merge the latest synthetic CRM changes into a local JSON-lines ledger, idempotently."""
    rng = random.Random(ctx.execution_id)
    changes = [{"id": rng.randrange(1000), "plan": rng.choice(("free", "pro"))} for _ in range(20)]
    ledger = ctx.output_dir / "ledger.jsonl"
    seen = set()
    if ledger.exists():
        seen = {json.loads(line)["run"] for line in ledger.read_text().splitlines() if line}
    if ctx.execution_id not in seen:
        with ledger.open("a") as f:
            f.write(json.dumps({"run": ctx.execution_id, "changes": changes}) + "\n")
    return {"ledger": str(ledger), "merged": len(changes), "replayed": ctx.execution_id in seen}
