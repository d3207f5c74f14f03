"""Reporting jobs: weekly report, weekday digest, month-end close, quarterly archive, SLA report,
and each customer's digest.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from cronflare import RunContext


def _analytics(ctx: RunContext) -> list[dict]:
    folder = ctx.output_dir.parent / "daily-analytics-sync"
    if not folder.exists():
        return []
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))[-7:]]


def weekly_report(ctx: RunContext) -> dict:
    """Sum the last seven daily analytics files (the sync job's output, on the stack's output
    Volume) into a report table, rendered by rich: a package this job's image installs.
    """
    from rich.console import Console
    from rich.table import Table

    days = _analytics(ctx)
    totals: Counter[str] = Counter()
    for day in days:
        totals.update(day["views"])
    title = f"Weekly report for the week ending {ctx.scheduled_time:%Y-%m-%d}"
    table = Table(title=title, min_width=len(title))
    table.add_column("page")
    table.add_column("views", justify="right")
    for page, count in totals.most_common():
        table.add_row(page, str(count))
    path = ctx.output_dir / f"week-{ctx.stamp}.txt"
    with path.open("w") as f:
        Console(file=f, width=80, color_system=None).print(table if totals else "no data yet")
    return {"file": str(path), "days": len(days), "views": sum(totals.values())}


def weekday_digest(ctx: RunContext) -> dict:
    """Write the morning digest: what every job wrote since the last digest."""
    root = ctx.output_dir.parent
    recent = sorted(
        (p for p in root.rglob("*") if p.is_file() and p.parent != ctx.output_dir),
        key=lambda p: p.stat().st_mtime,
    )[-10:]
    path = ctx.output_dir / f"digest-{ctx.stamp}.txt"
    path.write_text("".join(f"{p.relative_to(root)}\n" for p in recent) or "nothing new\n")
    return {"file": str(path), "items": len(recent)}


def month_end_close(ctx: RunContext) -> dict:
    """Close the month: count the analytics days on file and write a closing statement."""
    month = ctx.scheduled_time.strftime("%Y-%m")
    days = [d for d in _analytics(ctx) if d["day"].startswith(month)]
    path = ctx.output_dir / f"close-{month}.json"
    path.write_text(json.dumps({"month": month, "days_on_file": len(days)}))
    return {"file": str(path), "month": month}


def quarterly_archive(ctx: RunContext) -> dict:
    """List the quarter's reports into an index file."""
    reports = sorted(Path(ctx.output_dir.parent / "weekly-report").glob("week-*.txt"))
    path = ctx.output_dir / f"q-{ctx.stamp}.txt"
    path.write_text("".join(f"{p.name}\n" for p in reports))
    return {"file": str(path), "reports": len(reports)}


def sla_report(ctx: RunContext) -> dict:
    """Summarise the monitor's latency samples as p50 and max."""
    samples_file = ctx.output_dir.parent / "monitoring" / "samples.csv"
    samples = []
    if samples_file.exists():
        samples = sorted(
            float(line.split(",")[1]) for line in samples_file.read_text().splitlines()
        )
    p50 = samples[len(samples) // 2] if samples else None
    return {"samples": len(samples), "p50_ms": p50, "max_ms": samples[-1] if samples else None}


def customer_digest(ctx: RunContext) -> dict:
    """One customer's digest: which customer comes from the args of the runtime schedule that
    started the run, so one job serves every customer's own schedule.
    """
    customer = str(ctx.args.get("customer", "unknown"))
    path = ctx.output_dir / f"{customer}-{ctx.stamp}.json"
    path.write_text(json.dumps({"customer": customer, "for": ctx.scheduled_time.isoformat()}))
    return {"customer": customer, "file": str(path)}
