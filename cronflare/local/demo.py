"""`cronflare demo`: run the catalog through simulated hours on the real local stack, and account
for every run: expected (from cronflare/catalog/schedule.py), fired, and how each one ended.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from cronflare.catalog.loader import load_catalog
from cronflare.catalog.model import parse_duration
from cronflare.catalog.schedule import (
    catalog_fires,
    expand_macro,
    fires_between,
    interval_cron,
    is_due,
    iso_utc,
    jitter_offset,
)
from cronflare.client import Schedule
from cronflare.local.stack import LocalStack, StackError
from cronflare.plan import DeployPlan, plan
from cronflare.settings import local_settings

MINUTE = timedelta(minutes=1)
CHAOS_FAULTS = {"first": ["503", "429", "timeout", "503", "429", "timeout"], "timeout_s": 3}


def crash_minute(start: datetime, end: datetime) -> datetime:
    """The minute whose tick dies after its insert under --chaos: two thirds in, on the hour, so
    the hourly jobs' runs are among those the next tick must find in D1 and dispatch.
    """
    at = start + (end - start) * 2 / 3
    return at.replace(minute=0, second=0, microsecond=0)


def worker_faults(start: datetime, end: datetime) -> dict[str, str]:
    """WORKER_FAULTS for --chaos: the tick of crash_minute() dies after its insert."""
    at = crash_minute(start, end).strftime("%Y-%m-%dT%H:%M:00.000Z")
    return {"die": "after-insert", "at": at}


@dataclass
class Outcome:
    """What a demo run measured; `ok` decides the exit status."""

    start: datetime
    end: datetime
    mode: str
    jobs: list[dict[str, Any]]
    lost: int
    duplicates: int
    unexpected: int
    latencies_ms: dict[str, float | None]

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicates == 0 and self.unexpected == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "start": iso_utc(self.start),
            "end": iso_utc(self.end),
            "mode": self.mode,
            "jobs": self.jobs,
            "lost": self.lost,
            "duplicates": self.duplicates,
        }


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _execution_id(job: str, moment: datetime) -> str:
    return f"{job}@{moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M')}Z"


def demo_plan(catalog_ref: str | None, chaos: bool) -> DeployPlan:
    """The plan the demo deploys locally, with short retry delays so that faults settle fast."""
    settings = local_settings(
        retry_max_delay_seconds=4, queue_max_retries=6 if chaos else 3, catchup_window_minutes=60
    )
    return plan(load_catalog(catalog_ref), settings)


def expected_runs(p: DeployPlan, start: datetime, end: datetime) -> dict[str, set[str]]:
    """Execution ids each enabled job should get in [start, end), by catalog/schedule.py."""
    out: dict[str, set[str]] = {}
    for job in p.jobs:
        if not job.enabled:
            continue
        fires = catalog_fires(job, start, end)
        out[job.name] = {_execution_id(job.name, t) for t in fires}
    return out


def demo_schedules(p: DeployPlan, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """What an app would create for its customers, on the catalog's first job that takes runtime
    schedules: a daily digest in Paris, every 30 minutes with jitter, a window, and a one-time
    run. Each starts at `start` (none fires before the simulated hours); a one-time run already
    past is left out.
    """
    job = next((j.name for j in p.jobs if j.runtime and j.enabled), None)
    if job is None:
        return []
    middle = start + (end - start) / 2
    at = middle.replace(second=0, microsecond=0)
    made = [
        {"id": "acme", "schedule": "0 9 * * *", "timezone": "Europe/Paris",
         "args": {"customer": "acme"}},
        {"id": "globex", "every": "30m", "jitter": "5m", "args": {"customer": "globex"}},
        {"id": "umbrella", "schedule": "*/20 * * * *", "end": start + (end - start) / 4,
         "args": {"customer": "umbrella"}},
    ]  # fmt: skip
    if at > datetime.now(UTC) + MINUTE:
        made.append({"id": "initech", "at": at, "args": {"customer": "initech"}})
    return [{"job": job, "start": start, **spec} for spec in made]


def runtime_expected(schedules: list[Schedule], start: datetime, end: datetime) -> set[str]:
    """The runs the schedules owe the simulated minutes [start, end), by their own rule: fires at
    or after their creation and start, before their end; a run whose jitter would dispatch it
    after the last simulated minute is not yet owed.
    """
    out = set()
    for s in schedules:
        lo = max(s.created_at + MINUTE - timedelta(microseconds=1), s.start or start, start)
        lo = lo.replace(second=0, microsecond=0)
        hi = min(s.end or end, end)
        if s.at is not None:
            first = s.at + MINUTE - timedelta(microseconds=1)
            fires = [t for t in [first.replace(second=0, microsecond=0)] if lo <= t < hi]
        else:
            cron = interval_cron(s.every) if s.every else expand_macro(s.schedule or "")
            fires = fires_between(cron, s.timezone, lo, hi) if lo < hi else []
        jitter = parse_duration(s.jitter) // 60 if s.jitter else 0
        for t in fires:
            run = f"{s.job}@{s.id}@{t.astimezone(UTC):%Y-%m-%dT%H:%M}Z"
            if t + jitter_offset(run, jitter) * MINUTE < end:
                out.add(run)
    return out


def simulate(
    stack: LocalStack,
    p: DeployPlan,
    start: datetime,
    end: datetime,
    progress: Progress,
    chaos: bool = False,
) -> dict[str, float]:
    """One scheduled() per simulated minute (per due trigger in native mode), in order.

    Returns the real time each minute's scheduled() was sent, by ISO minute.
    """
    minutes = int((end - start) / MINUTE)
    task = progress.add_task("simulating", total=minutes)
    sent: dict[str, float] = {}
    outage = (minutes // 3, minutes // 3 + 20) if chaos else (-1, -1)
    for i in range(minutes):
        minute = start + i * MINUTE
        if i == outage[0]:
            progress.console.log("chaos: dispatcher down (connections refused)")
            stack.stop_dispatcher()
        if outage[0] <= i < outage[1]:
            time.sleep(0.15)  # let the outage last a few real seconds, so retries meet it
        if i == outage[1]:
            stack.start_dispatcher()
            progress.console.log("chaos: dispatcher back")
        sent[minute.strftime("%Y-%m-%dT%H:%M")] = time.time()
        # Simulated time stands still while this minute's runs are in flight, as if each
        # minute lasted as long as its jobs; under chaos, retries may outlast it.
        wait = 0.3 if chaos else 30.0
        if p.mode == "tick" and chaos and minute == crash_minute(start, end):
            try:
                stack.scheduled(_ms(minute), wait=wait)
            except StackError:
                progress.console.log("chaos: the Worker died after recording a minute's runs")
        elif p.mode == "tick":
            stack.scheduled(_ms(minute), wait=wait)
        else:
            for trigger in [t for t in p.cron_triggers if is_due(t, "UTC", minute)]:
                stack.scheduled(_ms(minute), trigger, wait=wait)
        progress.advance(task)
    return sent


def account(
    p: DeployPlan,
    expected: dict[str, set[str]],
    runs: list[dict[str, Any]],
    executions: list[dict[str, Any]],
    sent: dict[str, float],
    start: datetime,
    end: datetime,
) -> Outcome:
    """Compare the run log and the executor's record with what the schedules say."""
    by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        by_job[run["job"]].append(run)
    pids: dict[str, set[int]] = defaultdict(set)
    for e in executions:
        pids[e["execution_id"]].add(e["pid"])
    duplicates = sum(1 for p_ in pids.values() if len(p_) > 1)
    seen = {r["execution_id"] for r in runs}
    terminal = {"succeeded", "failed", "dead", "skipped"}
    lost = sum(len(ids - seen) for ids in expected.values())
    lost += sum(1 for r in runs if r["status"] not in terminal)
    unexpected = len(seen - set().union(*expected.values())) if expected else len(seen)
    jobs, latencies = [], {}
    for name, ids in expected.items():
        mine = by_job.get(name, [])
        status = Counter(r["status"] for r in mine)
        lags = [
            (datetime.fromisoformat(r["started_at"]).timestamp() - sent[r["scheduled_time"][:16]])
            * 1000
            for r in mine
            if r.get("started_at") and r["scheduled_time"][:16] in sent
        ]
        latencies[name] = statistics.median(lags) if lags else None
        jobs.append(
            {
                "name": name,
                "expected": len(ids),
                "fired": len(mine),
                "succeeded": status["succeeded"],
                "failed": status["failed"],
                "dead": status["dead"],
                "skipped": status["skipped"],
            }
        )
    return Outcome(start, end, p.mode, jobs, lost, duplicates, unexpected, latencies)


def render(outcome: Outcome, console: Console) -> None:
    """The per-job table."""
    table = Table(title=f"{iso_utc(outcome.start)} → {iso_utc(outcome.end)}, {outcome.mode} mode",
                  title_justify="left")  # fmt: skip
    for col in ("job", "expected", "fired", "succeeded", "failed", "dead", "skipped", "p50 start"):
        table.add_column(col, justify="left" if col == "job" else "right")
    for j in outcome.jobs:
        lag = outcome.latencies_ms.get(j["name"])
        ok = j["fired"] == j["expected"] and j["succeeded"] == j["expected"]
        table.add_row(
            f"[green]{j['name']}[/]" if ok else f"[yellow]{j['name']}[/]",
            str(j["expected"]),
            str(j["fired"]),
            str(j["succeeded"]),
            str(j["failed"]) if j["failed"] else "",
            str(j["dead"]) if j["dead"] else "",
            str(j["skipped"]) if j["skipped"] else "",
            f"{lag:.0f} ms" if lag is not None else "",
        )
    console.print(table)
    verdict = "[bold green]every expected run fired once and ended once[/]" if outcome.ok else (
        f"[bold red]lost {outcome.lost}, duplicates {outcome.duplicates}, "
        f"unexpected {outcome.unexpected}[/]"
    )  # fmt: skip
    console.print(verdict)


def default_start() -> datetime:
    """The next whole minute: the demo runs the coming hours, so the runtime schedules it creates
    now (which fire from now on) have their runs in them too.
    """
    return datetime.now(UTC).replace(second=0, microsecond=0) + MINUTE
