"""The `cronflare` command: check the catalog, next runs, the deploy plan, cost, drift, and a live
stack's jobs, runs and runtime schedules.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from functools import wraps
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cronflare import client as schedules_api
from cronflare import drift as drift_check
from cronflare import remote
from cronflare.catalog.loader import catalog_ref, load_catalog
from cronflare.catalog.model import CatalogError, Image
from cronflare.catalog.schedule import catalog_next_fires, iso_utc
from cronflare.catalog.validate import RUNTIME_ONLY, Resolved, ResolvedJob, resolve
from cronflare.cost import model as cost_model
from cronflare.plan import DeployPlan, plan_resolved
from cronflare.settings import Settings, load_stack_settings, local_settings

app = typer.Typer(
    name="cronflare",
    help="Unlimited, typed cron schedules for Modal jobs, timed by Cloudflare.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# No emoji codes: a ":fire:" in a job's args or a Worker's error is printed as it is.
out = Console(width=None if sys.stdout.isatty() else 120, emoji=False)
err = Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)

CatalogOpt = Annotated[
    str | None,
    typer.Option("--catalog", help="module:attribute or path.py (default: $CRONFLARE_CATALOG)"),
]
StackOpt = Annotated[
    str | None, typer.Option("--stack", help="read settings from Pulumi.<stack>.yaml")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]

F = TypeVar("F", bound=Callable[..., Any])


class TriggerMode(StrEnum):
    """How the Worker is woken: --mode."""

    auto = "auto"
    native = "native"
    tick = "tick"


class CloudflarePlan(StrEnum):
    """Which Cloudflare plan sets the native trigger limit: --cloudflare-plan."""

    free = "free"
    paid = "paid"


def reports_problems(fn: F) -> F:
    """Print CatalogError lines (exit 1) or a live stack's failure (exit 1 or 2) on stderr, with
    no traceback.
    """

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CatalogError as error:
            for line in error.problems:
                err.print(line, markup=False)
            raise typer.Exit(1) from None
        except remote.RemoteError as error:
            for line in error.problems or (str(error),):
                err.print(f"cronflare: {line}", markup=False)
            raise typer.Exit(error.exit_code) from None

    return wrapper  # type: ignore[return-value]


def plain(value: object, style: str = "") -> Text:
    """A value of the user's or the Worker's, printed as it is: never read as rich markup, so
    `psycopg[binary]==3.2.10`, `[bold]` and `[/]` stay. Every such table cell and value goes
    through here; markup is only ever cronflare's own styling around it.
    """
    return Text(str(value), style=style)


def _settings(stack: str | None, **overrides: Any) -> Settings:
    settings = load_stack_settings(stack) if stack else local_settings()
    return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})


def _resolved_plan(
    catalog: str | None, stack: str | None, **overrides: Any
) -> tuple[Resolved, DeployPlan]:
    """The resolved jobs (what the plan leaves out: code, image, volumes) and the deploy plan."""
    settings = _settings(stack, **overrides)
    resolved = resolve(load_catalog(catalog), settings.jobs)
    return resolved, plan_resolved(resolved, settings)


def image_summary(image: Image | str | None) -> str:
    """A job's image in one line: "default", "ref: pkg.mod:img", or the spec's parts."""
    if image is None:
        return "default"
    if isinstance(image, str):
        return f"ref: {image}"
    parts = [f"python {image.python}"] if image.python else []
    parts += [f"{kind}: {', '.join(items)}" for kind, items in
              (("pip", image.pip), ("apt", image.apt)) if items]  # fmt: skip
    if image.commands:
        parts.append(f"{len(image.commands)} command(s)")
    if image.env:
        parts.append(f"env: {', '.join(image.env)}")
    return "; ".join(parts) or "spec: debian_slim only"


def volumes_summary(volumes: dict[str, str]) -> str:
    """Mounts as "/data=warehouse-cache, /models=weights"."""
    return ", ".join(f"{path}={name}" for path, name in volumes.items())


def runs_summary(job: ResolvedJob) -> str:
    """What a run calls: the handler's import path, or "target app/function" (and environment)."""
    if job.target is None:
        return str(job.handler)
    env = f" (environment {job.target_environment})" if job.target_environment else ""
    return f"target {job.target}{env}"


def code_table(jobs: Sequence[ResolvedJob], title: str) -> Table:
    """Per job: the handler or target it runs, its image and its volumes."""
    table = Table(title=title, title_justify="left")
    for column in ("job", "handler or target", "image", "volumes"):
        table.add_column(column, overflow="fold")
    for j in jobs:
        table.add_row(
            plain(j.name) if j.enabled else Text.assemble(plain(j.name), (" (disabled)", "dim")),
            plain(runs_summary(j)),
            plain("the target's own", "dim") if j.target else plain(image_summary(j.image)),
            plain(volumes_summary(j.volumes)),
            end_section=False,
        )
    return table


def _utc(text: str, option: str = "--after") -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CatalogError([f"{option}: {text!r} is not an ISO 8601 time"]) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@app.command()
@reports_problems
def check(catalog: CatalogOpt = None, stack: StackOpt = None, as_json: JsonOpt = False) -> None:
    """Validate the catalog (and a stack's settings): exit 1 with one line per problem.

    Then list each job's handler or target, image and volumes.
    """
    resolved, p = _resolved_plan(catalog, stack)
    for warning in p.warnings:
        err.print(f"warning: {warning}", markup=False)
    if as_json:
        data = p.model_dump(mode="json", include={"stack", "mode", "cron_triggers", "warnings"})
        enabled_by_name = {j.name: j.enabled for j in p.jobs}
        data["catalog"] = catalog_ref(catalog)
        data["jobs"] = [
            {**m.model_dump(mode="json"), "enabled": enabled_by_name[m.name]} for m in p.modal_jobs
        ]
        typer.echo(json.dumps(data, indent=2))
        return
    enabled = sum(j.enabled for j in p.jobs)
    out.print(
        f"ok: {len(p.jobs)} jobs ({enabled} enabled) in {catalog_ref(catalog)}; stack {p.stack} "
        f"runs in {p.mode} mode on {len(p.cron_triggers)} Cloudflare cron trigger(s)",
        markup=False,
    )
    out.print(code_table(resolved.jobs, "What each job runs, on which image, with which volumes"))


@app.command("next")
@reports_problems
def next_(
    job: Annotated[str | None, typer.Argument(help="job name (default: every enabled job)")] = None,
    count: Annotated[int, typer.Option("--count", "-n", min=1, max=1000)] = 5,
    after: Annotated[str | None, typer.Option("--after", help="ISO 8601; default now")] = None,
    catalog: CatalogOpt = None,
    stack: StackOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the next fire times of one job, or of every enabled job."""
    settings = _settings(stack)
    jobs = resolve(load_catalog(catalog), settings.jobs).jobs
    start = _utc(after) if after else datetime.now(UTC)
    if job is not None:
        by_name = {j.name: j for j in jobs}
        if job not in by_name:
            raise CatalogError([f"job {job}: name: no such job in {catalog_ref(catalog)}"])
        jobs = (by_name[job],)
    else:
        jobs = tuple(j for j in jobs if j.enabled)
    fires = {j.name: catalog_next_fires(j, start, count) for j in jobs}
    if as_json:
        data: Any = {k: [iso_utc(t) for t in v] for k, v in fires.items()}
        typer.echo(json.dumps(data[job] if job else data, indent=2))
        return
    table = Table(title=f"Next runs after {iso_utc(start)}", title_justify="left")
    for column in ("job", "schedule", "local time", "UTC"):
        table.add_column(column)
    for j in jobs:
        zone = ZoneInfo(j.timezone)
        times = fires[j.name] or [None]
        for i, t in enumerate(times):
            local = t.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z") if t else "never"
            table.add_row(
                plain(j.name) if i == 0 else "",
                plain(f"{j.schedule} ({j.timezone})" if j.schedule else RUNTIME_ONLY)
                if i == 0
                else "",
                local,
                iso_utc(t) if t else "",
            )
        table.add_section()
    out.print(table)


@app.command("exec")
@reports_problems
def exec_(
    job: Annotated[str, typer.Argument(help="the job whose handler to run once, here")],
    args: Annotated[
        str | None,
        typer.Option("--args", help="a JSON object that replaces the job's args for this run"),
    ] = None,
    catalog: CatalogOpt = None,
    stack: StackOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run one job's handler once, in this process, with a real RunContext, as `modal run` does:
    try a handler before deploying it. Prints its summary and how long it took.

    Exit 0 when it succeeded, 1 when it failed or cannot run here (a target job, a bad catalog).
    """
    from time import perf_counter

    from cronflare.runtime.wrapper import run_here

    jobs = {j.name: j for j in resolve(load_catalog(catalog), _settings(stack).jobs).jobs}
    if job not in jobs:
        raise CatalogError([f"job {job}: name: no such job in {catalog_ref(catalog)}"])
    found = jobs[job]
    if found.target is not None:
        raise CatalogError([
            f"job {job}: target: it runs {found.target}, deployed on Modal outside cronflare; "
            "`cronflare exec` runs handlers only (call the deployed function with `modal run`)"
        ])  # fmt: skip
    began = perf_counter()
    outcome = run_here(found, _args(args))
    took = perf_counter() - began
    spent = f"{took:.2f} s" if took >= 1 else f"{took * 1000:.1f} ms"
    if as_json:
        typer.echo(json.dumps({**outcome, "seconds": round(took, 3)}, indent=2))
    elif outcome["status"] == "succeeded":
        out.print(f"succeeded in {spent}: {outcome.get('result', 'no result')}", markup=False)
    else:
        err.print(f"failed in {spent}: {outcome.get('error')}", markup=False)
    if outcome["status"] != "succeeded":
        raise typer.Exit(1)


@app.command()
@reports_problems
def init(
    directory: Annotated[
        str, typer.Argument(metavar="DIR", help="the new project's folder, made if missing")
    ] = ".",
) -> None:
    """Write a new project into DIR: a catalog with one job, its test, the Pulumi program, a dev
    stack and CI. Then print the three commands that take it to its first demo.

    Exit 0 when written, 1 when refused: it writes nothing if any of its files is there already.
    """
    from pathlib import Path

    from cronflare import scaffold

    kept = scaffold.kept(Path(directory))
    written = scaffold.init(Path(directory))
    table = Table(title=plain(f"wrote {len(written)} files into {directory}"), title_justify="left")
    for column in ("file", "what it is for"):
        table.add_column(column, overflow="fold")
    for relative, purpose in scaffold.FILES.items():
        table.add_row(
            plain(relative), plain("kept: yours, as it was" if relative in kept else purpose)
        )
    out.print(table)
    out.print("next:", markup=False, highlight=False)
    for command in scaffold.next_commands(Path(directory), kept):
        out.print(f"  {command}", markup=False, highlight=False)


@app.command("plan")
@reports_problems
def plan_(
    stack: StackOpt = None,
    mode: Annotated[
        TriggerMode | None, typer.Option("--mode", help="default: the stack's triggerMode")
    ] = None,
    cloudflare_plan: Annotated[
        CloudflarePlan | None,
        typer.Option("--cloudflare-plan", help="default: the stack's cloudflarePlan"),
    ] = None,
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the deploy plan: the mode, the Cloudflare triggers, and which jobs share them.

    Then what each job runs, its image and volumes (in the table only: --json is the DeployPlan).
    """
    resolved, p = _resolved_plan(
        catalog,
        stack,
        trigger_mode=mode.value if mode else None,
        cloudflare_plan=cloudflare_plan.value if cloudflare_plan else None,
    )
    if as_json:
        typer.echo(p.model_dump_json(indent=2))
        return
    for warning in p.warnings:
        err.print(f"warning: {warning}", markup=False)
    out.print(
        Text.assemble(("stack", "bold"), f" {p.stack}   ", ("mode", "bold"),
                      f" {p.mode} (asked: {p.requested_mode})")
    )  # fmt: skip
    out.print(f"why: {p.mode_reason}", markup=False)
    table = Table(title_justify="left", title="Cloudflare cron triggers and the jobs they wake")
    for column in ("trigger (UTC)", "job", "schedule", "timezone", "as a native trigger"):
        table.add_column(column)
    for trigger in p.cron_triggers:
        members = [
            j for j in p.jobs if j.enabled and (p.mode == "tick" or j.cloudflare_cron == trigger)
        ]
        for i, j in enumerate(members):
            table.add_row(
                plain(trigger) if i == 0 else "",
                plain(j.name),
                plain(j.schedule or RUNTIME_ONLY),
                plain(j.timezone),
                plain(j.cloudflare_cron) if j.cloudflare_cron else plain("tick only", "yellow"),
            )
        table.add_section()
    out.print(table)
    out.print(code_table(resolved.jobs, "What each job runs, on which image, with which volumes"))
    disabled = [j.name for j in p.jobs if not j.enabled]
    if disabled:
        out.print(f"disabled in this stack: {', '.join(disabled)}", markup=False)


@app.command()
@reports_problems
def cost(
    stack: StackOpt = None,
    catalog: CatalogOpt = None,
    start: Annotated[
        str | None, typer.Option("--start", help="ISO 8601 start of the 30 days; default now")
    ] = None,
    cloudflare_plan: Annotated[
        CloudflarePlan | None,
        typer.Option("--cloudflare-plan", help="default: the stack's cloudflarePlan"),
    ] = None,
    retries_per_run: Annotated[
        float,
        typer.Option("--retries-per-run", min=0, max=100, help="expected dispatch retries per run"),
    ] = 0.0,
    as_json: JsonOpt = False,
) -> None:
    """Estimate a month of the catalog: runs, compute, Cloudflare use, hybrid vs Modal-only.

    Counts each job's runs in the 30 days from --start, their Modal compute, the Worker's use of
    the free plan's daily allowances, and compares the monthly total with one Modal scheduled
    function per job (docs/COST.md).
    """
    settings = _settings(stack, cloudflare_plan=cloudflare_plan.value if cloudflare_plan else None)
    resolved = resolve(load_catalog(catalog), settings.jobs)
    p = plan_resolved(resolved, settings)
    report = cost_model.estimate(
        p,
        resolved.jobs,
        settings.prices,
        _utc(start, "--start") if start else datetime.now(UTC),
        retries_per_run=retries_per_run,
    )
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    for warning in p.warnings:
        err.print(f"warning: {warning}", markup=False)
    cost_model.render(report, settings.prices, out)


@app.command()
def drift(
    stack: Annotated[
        str | None, typer.Option("--stack", help="run `pulumi preview --refresh` on this stack")
    ] = None,
    from_json: Annotated[
        str | None,
        typer.Option("--from-json", help="summarise a saved `pulumi preview --json` ('-': stdin)"),
    ] = None,
    as_json: JsonOpt = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="print Markdown, for a CI step summary")
    ] = False,
) -> None:
    """Find drift between the program, Pulumi's state and the cloud.

    Exit 0: no drift. 1: drift. 2: cannot check (no pulumi CLI, no login, no stack, bad JSON).
    """
    if (stack is None) == (from_json is None):
        raise typer.BadParameter("give exactly one of --stack or --from-json")
    if as_json and markdown:
        raise typer.BadParameter("give at most one of --json or --markdown")
    target = f"stack {stack}" if stack else str(from_json)
    try:
        if stack:
            report = drift_check.check_stack(stack)
        else:
            stdin = sys.stdin.read() if from_json == "-" else None
            report = drift_check.read_preview_file(str(from_json), stdin)
    except drift_check.DriftCheckError as error:
        err.print(f"cannot check drift: {error}", markup=False)
        if as_json:
            typer.echo(drift_check.as_json(None, target, str(error)))
        elif markdown:
            typer.echo(drift_check.as_markdown(None, target, str(error)), nl=False)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(drift_check.as_json(report, target))
    elif markdown:
        typer.echo(drift_check.as_markdown(report, target), nl=False)
    else:
        if report.drifted:
            out.print(drift_check.rich_table(report, f"Drift in {target}"))
        out.print(report.verdict(target), markup=False, soft_wrap=True)
    raise typer.Exit(report.exit_code)


# -- a live stack: the Worker's admin API (docs/OPERATIONS.md, Day two) -----------------------

LiveStackOpt = Annotated[
    str | None,
    typer.Option(
        "--stack", help="a deployed stack: its workerUrl and adminToken from `pulumi stack output`"
    ),
]
UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help=f"the Worker's URL, with the admin token in ${remote.TOKEN_ENV}"),
]
WORKER_JSON = "print the Worker's JSON instead of a table"
WorkerJsonOpt = Annotated[bool, typer.Option("--json", help=WORKER_JSON)]
BACKFILL_TIMEOUT_S = 60.0  # up to 1,000 runs go into D1 in one request


class RunStatus(StrEnum):
    """A run's status in the run log: --status."""

    queued = "queued"
    dispatched = "dispatched"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    dead = "dead"
    skipped = "skipped"


STATUS_STYLE = {"succeeded": "green", "failed": "red", "dead": "bold red", "skipped": "yellow"}
SKEW_STYLE = {"in sync": "green", "out of sync": "bold red"}


def _worker(stack: str | None, url: str | None) -> remote.Remote:
    """The Worker a day-two command talks to, from exactly one of --stack and --url."""
    return remote.Remote(remote.find_target(stack, url, os.environ))


def _ask(
    stack: str | None, url: str | None, as_json: bool, request: Callable[[remote.Remote], Any]
) -> Any:
    """One request to the Worker: its answer, or None once printed as JSON for --json."""
    with _worker(stack, url) as worker:
        data = request(worker)
    if as_json:
        _print_json(data)
        return None
    return data


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _when(text: Any, seconds: bool = True) -> str:
    """A Worker timestamp as the rest of the CLI prints instants (2026-11-23T09:00:00Z), or to
    the minute, as run ids do, where a table is short of room.
    """
    if not isinstance(text, str) or not text:
        return ""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return iso_utc(moment) if seconds else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _status(status: Any) -> Text:
    return plain(status, STATUS_STYLE.get(str(status), ""))


def _state(job: dict[str, Any]) -> Text:
    paused = job.get("paused")
    if isinstance(paused, dict):
        reason = paused.get("reason")
        since = _when(paused.get("since"), seconds=False)
        return Text.assemble(("paused", "yellow"), " since ", plain(since),
                             *((": ", plain(reason)) if reason else ()))  # fmt: skip
    return plain("enabled") if job.get("enabled", True) else plain("disabled", "dim")


def _last(run: Any) -> tuple[Text, Text]:
    """A job's last run as (status, when it ended or last changed)."""
    if not isinstance(run, dict):
        return plain("never", "dim"), plain("")
    at = run.get("finished_at") or run.get("updated_at") or run.get("scheduled_time")
    return _status(run.get("status")), plain(_when(at, seconds=False))


@app.command()
@reports_problems
def status(stack: LiveStackOpt = None, url: UrlOpt = None, as_json: WorkerJsonOpt = False) -> None:
    """Show a live stack's jobs: schedule, pause, next run, last outcome, runtime schedules; and
    catalog skew.

    The last line says whether the Worker and the Modal dispatcher run the same catalog; a
    warning names the runtime schedules of jobs gone from the catalog.

    Exit 1 when the Worker refuses (a wrong token), 2 when it cannot be reached.
    """
    with _worker(stack, url) as worker:
        data = worker.jobs()
        jobs = data.get("jobs") or []
        # Only a Worker that counts runtime schedules per job has them in /stats too.
        counted = any(isinstance(j, dict) and "schedules" in j for j in jobs)
        stats = worker.stats() if counted and not as_json else {}
    if as_json:
        _print_json(data)
        return
    paused = sum(isinstance(j.get("paused"), dict) for j in jobs)
    title = plain(f"{_count(len(jobs), 'job')} at {worker.url}, {paused} paused")
    table = Table(title=title, title_justify="left")
    for column in ("job", "schedule", "timezone"):
        table.add_column(column, overflow="fold")
    table.add_column("state", overflow="fold", min_width=20)
    for column in ("next run", "last run", "at"):
        table.add_column(column, no_wrap=True)
    for j in jobs:
        upcoming = j.get("next") or []
        table.add_row(
            plain(j.get("name")),
            _schedule_cell(j),
            plain(j.get("timezone")),
            _state(j),
            plain(_when(upcoming[0], seconds=False)) if upcoming else plain("none", "dim"),
            *_last(j.get("last")),
        )
    out.print(table)
    skew = data.get("skew")
    if isinstance(skew, dict):
        # The skew check compares the catalog the Worker was deployed with and the dispatcher's.
        style = SKEW_STYLE.get(str(skew.get("status")), "yellow")
        checked = f" (checked {_when(skew['checked_at'])})" if skew.get("checked_at") else ""
        message = plain(skew.get("message") or skew.get("status"), style)
        out.print(Text.assemble("Worker and Modal catalogs: ", message, plain(checked)))
    else:
        out.print(Text.assemble("Worker and Modal catalogs: ",
                                ("not reported by this Worker", "yellow")))  # fmt: skip
    orphaned = _orphaned(stats)
    if orphaned:
        listed = ", ".join(f"{job} ({n})" for job, n in sorted(orphaned.items()))
        err.print(
            f"warning: {_count(sum(orphaned.values()), 'runtime schedule')} of jobs no longer in "
            f"the catalog or no longer taking runtime schedules: {listed}; each of their fires is "
            f"recorded as skipped (`cronflare schedules list JOB`, then `delete`)",
            markup=False,
        )


def _schedule_cell(job: dict[str, Any]) -> Text:
    """The job's catalog schedule, and under it how many runtime schedules it has (if it takes
    them or has any): a column of its own would not fit 120 columns.
    """
    catalog = plain(job.get("schedule") or "")
    n = job.get("schedules")
    if not isinstance(n, int) or not (n or job.get("runtime")):
        return catalog
    runtime = plain(f"runtime: {n}", "cyan")
    return Text.assemble(catalog, "\n", runtime) if job.get("schedule") else runtime


def _orphaned(stats: Any) -> dict[str, int]:
    """GET /stats `schedules.orphaned` (job -> count), the jobs with any; {} when not reported."""
    schedules = stats.get("schedules") if isinstance(stats, dict) else None
    found = schedules.get("orphaned") if isinstance(schedules, dict) else None
    if not isinstance(found, dict):
        return {}
    return {str(job): n for job, n in found.items() if isinstance(n, int) and n > 0}


@app.command()
@reports_problems
def runs(
    job: Annotated[str | None, typer.Option("--job", help="only this job's runs")] = None,
    status: Annotated[
        RunStatus | None, typer.Option("--status", help="only runs in this status")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=500)] = 50,
    stack: LiveStackOpt = None,
    url: UrlOpt = None,
    as_json: WorkerJsonOpt = False,
) -> None:
    """List a live stack's run log, newest first.

    Exit 1 when the Worker refuses (no such job), 2 when it cannot be reached.
    """
    with _worker(stack, url) as worker:
        data = worker.runs(job, status.value if status else None, limit)
    if as_json:
        _print_json(data)
        return
    rows = data.get("runs") or []
    if not rows:
        out.print("no runs match", markup=False)
        return
    title = plain(f"{_count(len(rows), 'run')} at {worker.url}, newest first")
    table = Table(title=title, title_justify="left")
    table.add_column("run", overflow="fold")
    for column in ("trigger", "status", "attempts", "ended"):
        table.add_column(column, no_wrap=True)
    table.add_column("error or result", overflow="fold", min_width=24)
    for r in rows:
        detail = r.get("last_error") or r.get("result") or ""
        table.add_row(
            plain(r.get("execution_id")),
            plain(r.get("trigger")),
            _status(r.get("status")),
            plain(r.get("attempts", "")),
            plain(_when(r.get("finished_at"))),
            plain(str(detail)[:120]),
        )
    out.print(table)


def _args(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise CatalogError([f"--args: not JSON: {error}"]) from None
    if not isinstance(value, dict):
        raise CatalogError(["--args: must be a JSON object, such as '{\"limit\": 10}'"])
    return value


@app.command("run")
@reports_problems
def run_(
    job: Annotated[str, typer.Argument(help="the job to run now")],
    args: Annotated[
        str | None,
        typer.Option("--args", help="a JSON object that replaces the job's args for this run"),
    ] = None,
    stack: LiveStackOpt = None,
    url: UrlOpt = None,
    as_json: WorkerJsonOpt = False,
) -> None:
    """Run a job now, outside its schedule, with its own args or --args.

    Exit 1 when the Worker refuses (no such job, paused, bad args), 2 when it cannot be reached.
    """
    body = _args(args)
    data = _ask(stack, url, as_json, lambda worker: worker.run_job(job, body))
    if data is None:
        return
    out.print(
        f"{data.get('status')}: {data.get('execution_id')}; follow it with "
        f"`cronflare runs --job {job}`",
        markup=False,
    )


@app.command()
@reports_problems
def replay(
    run_id: Annotated[str, typer.Argument(metavar="ID", help="a failed, dead or skipped run's id")],
    stack: LiveStackOpt = None,
    url: UrlOpt = None,
    as_json: WorkerJsonOpt = False,
) -> None:
    """Queue a failed, dead or skipped run again, under the same id.

    Exit 1 when the Worker refuses (no such run, not replayable, job paused), 2 when it cannot be
    reached.
    """
    data = _ask(stack, url, as_json, lambda worker: worker.replay(run_id))
    if data is None:
        return
    out.print(f"{data.get('status')} again: {data.get('execution_id')}", markup=False)


@app.command()
@reports_problems
def pause(
    job: Annotated[str, typer.Argument(help="the job to pause")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="why, shown by `status` and the dashboard")
    ] = None,
    stack: LiveStackOpt = None,
    url: UrlOpt = None,
    as_json: WorkerJsonOpt = False,
) -> None:
    """Stop a job from firing until `resume`, without a deploy.

    Exit 1 when the Worker refuses (no such job), 2 when it cannot be reached.
    """
    data = _ask(stack, url, as_json, lambda worker: worker.pause(job, reason))
    if data is None:
        return
    why = f": {data['reason']}" if data.get("reason") else ""
    was = "paused" if data.get("changed", True) else "was already paused"
    out.print(f"{job} {was} since {_when(data.get('since'))}{why}", markup=False)


@app.command()
@reports_problems
def resume(
    job: Annotated[str, typer.Argument(help="the paused job")],
    stack: LiveStackOpt = None,
    url: UrlOpt = None,
    as_json: WorkerJsonOpt = False,
) -> None:
    """Let a paused job fire again; the runs it missed stay `skipped` (replay them).

    Exit 1 when the Worker refuses (no such job), 2 when it cannot be reached.
    """
    data = _ask(stack, url, as_json, lambda worker: worker.resume(job))
    if data is None:
        return
    out.print(f"{job} {'resumed' if data.get('changed', True) else 'was not paused'}", markup=False)


@app.command()
@reports_problems
def backfill(
    job: Annotated[str, typer.Argument(help="the job whose missed runs to create")],
    start: Annotated[str, typer.Option("--from", help="ISO 8601, UTC unless it says otherwise")],
    end: Annotated[
        str, typer.Option("--to", help="ISO 8601, in the past; the window ends just before it")
    ],
    stack: LiveStackOpt = None,
    url: UrlOpt = None,
    as_json: WorkerJsonOpt = False,
) -> None:
    """Create and queue every run of a job's schedule in a past window (at most 1,000).

    Runs already in the log are kept, not queued again, so a backfill can be repeated. Exit 1
    when the Worker refuses (no such job, paused, a bad window), 2 when it cannot be reached.
    """
    window = (iso_utc(_utc(start, "--from")), iso_utc(_utc(end, "--to")))
    with (
        _worker(stack, url) as worker,
        err.status(plain(f"backfilling {job} from {window[0]} to {window[1]}")),
    ):
        data = worker.backfill(job, *window, timeout=BACKFILL_TIMEOUT_S)
    if as_json:
        _print_json(data)
        return
    ids = data.get("ids") or []
    out.print(
        f"{job}: {_count(len(ids), 'run')} from {window[0]} to {window[1]}: {data.get('enqueued')} "
        f"queued, {data.get('existing')} already in the run log",
        markup=False,
    )
    if ids:
        out.print(f"first {ids[0]}, last {ids[-1]}", markup=False)


# -- a live stack's runtime schedules (the API an app uses through cronflare.Client) ----------

schedules_app = typer.Typer(
    name="schedules",
    help="A live stack's runtime schedules: the ones apps create for jobs that take them.",
    no_args_is_help=True,
)
app.add_typer(schedules_app)
ScheduleIdArg = Annotated[str, typer.Argument(metavar="ID", help="the schedule's id")]
SCHEDULES_PAGE_MAX = 500  # --all reads the Worker's largest pages


def _send(worker: remote.Remote, call: schedules_api.Call[Any]) -> dict[str, Any]:
    """A request the client library builds, sent the CLI's way: its errors and exit codes."""
    return worker.call(
        call.method, call.path, params=call.params or None, body=call.body, timeout=call.timeout
    )


def _when_of(s: dict[str, Any]) -> str:
    """When a schedule fires, as it was given: "cron 0 9 * * 1", "every 15m", "once at ..."."""
    if s.get("schedule") is not None:
        return f"cron {s['schedule']}"
    if s.get("every") is not None:
        return f"every {s['every']}"
    return f"once at {_when(s.get('at'), seconds=False)}"


def _schedule_state(s: dict[str, Any]) -> Text:
    if s.get("paused"):
        return plain("paused", "yellow")
    return plain("active") if s.get("next") else plain("done", "dim")


def _schedule_line(s: dict[str, Any]) -> str:
    upcoming = s.get("next") or []
    after = f"next {_when(upcoming[0], seconds=False)}" if upcoming else "no next run"
    state = "paused, " if s.get("paused") else ""
    return f"{_when_of(s)} ({s.get('timezone')}), {state}{after}"


@schedules_app.command("create")
@reports_problems
def schedules_create(
    job: Annotated[str, typer.Argument(help="a job that takes runtime schedules")],
    schedule_id: Annotated[
        str | None,
        typer.Option("--id", help="your id for it; creating it again answers the existing one"),
    ] = None,
    cron: Annotated[
        str | None, typer.Option("--schedule", help="Unix cron or a macro such as @daily")
    ] = None,
    every: Annotated[str | None, typer.Option("--every", help="an interval such as 15m")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="ISO 8601, once (UTC unless it says otherwise)")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="IANA timezone of --schedule; default UTC")
    ] = None,
    args: Annotated[
        str | None,
        typer.Option("--args", help="a JSON object given to its runs instead of the job's args"),
    ] = None,
    start: Annotated[str | None, typer.Option("--start", help="ISO 8601: no run before it")] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="ISO 8601: no run at or after it")
    ] = None,
    jitter: Annotated[
        str | None, typer.Option("--jitter", help="spread its runs over up to this, such as 5m")
    ] = None,
    paused: Annotated[bool, typer.Option("--paused", help="create it paused")] = False,
    external_id: Annotated[
        str | None, typer.Option("--external-id", help="your key for it, such as a customer id")
    ] = None,
    stack: LiveStackOpt = None,
    url: UrlOpt = None,
    as_json: WorkerJsonOpt = False,
) -> None:
    """Create a runtime schedule for a job: exactly one of --schedule, --every and --at.

    Exit 1 when the Worker refuses (no such job, the job takes no runtime schedules, an invalid
    field, an id of another job's), 2 when it cannot be reached.
    """
    if sum(x is not None for x in (cron, every, at)) != 1:
        raise typer.BadParameter("give exactly one of --schedule, --every and --at")
    spec = schedules_api.ScheduleSpec(
        id=schedule_id,
        schedule=cron,
        every=every,
        at=_utc(at, "--at") if at else None,
        timezone=timezone,
        args=_args(args),
        start=_utc(start, "--start") if start else None,
        end=_utc(end, "--end") if end else None,
        jitter=jitter,
        paused=True if paused else None,
        external_id=external_id,
    )
    with _worker(stack, url) as worker:
        data = _send(worker, schedules_api.create_call(job, spec))
    if as_json:
        _print_json(data)
        return
    did = "created" if worker.status == 201 else "exists, unchanged"
    out.print(f"{job}: schedule {data.get('id')} {did}: {_schedule_line(data)}", markup=False)


@schedules_app.command("list")
@reports_problems
def schedules_list(
    job: Annotated[str, typer.Argument(help="the job whose runtime schedules to list")],
    external_id: Annotated[
        str | None, typer.Option("--external-id", help="only the schedules with this external id")
    ] = None,
    every_page: Annotated[
        bool, typer.Option("--all", help="every page, not only the first")
    ] = False,
    stack: LiveStackOpt = None,
    url: UrlOpt = None,
    as_json: WorkerJsonOpt = False,
) -> None:
    """List a job's runtime schedules, by id: the first 100, or --all of them.

    Exit 1 when the Worker refuses (no such job), 2 when it cannot be reached.
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn

    limit = SCHEDULES_PAGE_MAX if every_page else None
    with _worker(stack, url) as worker:
        data = _send(worker, schedules_api.list_call(job, external_id, limit=limit))
        rows: list[dict[str, Any]] = list(data.get("schedules") or [])
        if every_page and data.get("next_cursor"):
            columns = (SpinnerColumn(), TextColumn("{task.description}"))
            with Progress(*columns, console=err, transient=True) as progress:
                task = progress.add_task(f"{_count(len(rows), 'schedule')} so far")
                while data.get("next_cursor"):
                    call = schedules_api.list_call(
                        job, external_id, str(data["next_cursor"]), limit
                    )
                    data = _send(worker, call)
                    rows += data.get("schedules") or []
                    progress.update(task, description=f"{_count(len(rows), 'schedule')} so far")
    more = data.get("next_cursor")
    if as_json:
        _print_json({"schedules": rows, "next_cursor": more} if every_page else data)
        return
    if not rows:
        which = " with that external id" if external_id else ""
        out.print(f"{job} has no runtime schedules{which}", markup=False)
        return
    title = plain(f"{_count(len(rows), 'runtime schedule')} of {job} at {worker.url}, by id")
    table = Table(title=title, title_justify="left")
    for column in ("id", "when", "timezone", "state", "next run", "external id"):
        table.add_column(column, overflow="fold", no_wrap=column == "next run")
    for r in rows:
        upcoming = r.get("next") or []
        table.add_row(
            plain(r.get("id")),
            plain(_when_of(r)),
            plain(r.get("timezone")),
            _schedule_state(r),
            plain(_when(upcoming[0], seconds=False)) if upcoming else plain("none", "dim"),
            plain(r.get("external_id") or ""),
        )
    out.print(table)
    if more:
        out.print(f"more after these: `cronflare schedules list {job} --all`", markup=False)


@schedules_app.command("get")
@reports_problems
def schedules_get(
    schedule_id: ScheduleIdArg,
    stack: LiveStackOpt = None,
    url: UrlOpt = None,
    as_json: WorkerJsonOpt = False,
) -> None:
    """Show one runtime schedule: when it fires, its args, window, jitter and next runs.

    Exit 1 when the Worker refuses (no such schedule), 2 when it cannot be reached.
    """
    data = _ask(stack, url, as_json, lambda w: _send(w, schedules_api.get_call(schedule_id)))
    if data is None:
        return
    upcoming = ", ".join(_when(t, seconds=False) for t in data.get("next") or []) or "none"
    args = data.get("args")
    fields = [
        ("id", data.get("id")),
        ("job", data.get("job")),
        ("when", f"{_when_of(data)} ({data.get('timezone')})"),
        ("state", "paused" if data.get("paused") else "active"),
        ("next runs", upcoming),
        ("args", "the job's own" if args is None else json.dumps(args, ensure_ascii=False)),
        ("start", _when(data.get("start")) or "-"),
        ("end", _when(data.get("end")) or "-"),
        ("jitter", data.get("jitter") or "-"),
        ("external id", data.get("external_id") or "-"),
        ("created", _when(data.get("created_at"))),
        ("updated", _when(data.get("updated_at"))),
    ]
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in fields:
        table.add_row(name, plain(value))
    out.print(table)


@schedules_app.command("delete")
@reports_problems
def schedules_delete(
    schedule_id: ScheduleIdArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
    stack: LiveStackOpt = None,
    url: UrlOpt = None,
    as_json: WorkerJsonOpt = False,
) -> None:
    """Delete a runtime schedule; its runs stay in the run log, one in flight ends as usual.

    Asks first, unless --yes. Exit 1 when not confirmed or the Worker refuses (no such
    schedule), 2 when it cannot be reached.
    """
    if not yes:
        question = f"Delete runtime schedule {schedule_id}? It cannot be undone"
        try:
            sure = typer.confirm(question, default=False, err=True)
        except typer.Abort:  # no answer to read: stdin is not a terminal
            sure = False
        if not sure:
            err.print(f"cronflare: schedule {schedule_id} not deleted (--yes to skip the question)",
                      markup=False)  # fmt: skip
            raise typer.Exit(1)
    data = _ask(stack, url, as_json, lambda w: _send(w, schedules_api.delete_call(schedule_id)))
    if data is None:
        return
    out.print(f"schedule {schedule_id} deleted; its runs stay in the run log", markup=False)


def _switch(
    schedule_id: str,
    stack: str | None,
    url: str | None,
    as_json: bool,
    call: Callable[[str], Any],
    done: str,
) -> None:
    """Pause or resume one schedule, and say what it is now."""
    data = _ask(stack, url, as_json, lambda w: _send(w, call(schedule_id)))
    if data is not None:
        out.print(f"schedule {schedule_id} {done}: {_schedule_line(data)}", markup=False)


@schedules_app.command("pause")
@reports_problems
def schedules_pause(
    schedule_id: ScheduleIdArg,
    stack: LiveStackOpt = None,
    url: UrlOpt = None,
    as_json: WorkerJsonOpt = False,
) -> None:
    """Stop a runtime schedule firing until `schedules resume`.

    Exit 1 when the Worker refuses (no such schedule), 2 when it cannot be reached.
    """
    _switch(schedule_id, stack, url, as_json, schedules_api.pause_call, "paused")


@schedules_app.command("resume")
@reports_problems
def schedules_resume(
    schedule_id: ScheduleIdArg,
    stack: LiveStackOpt = None,
    url: UrlOpt = None,
    as_json: WorkerJsonOpt = False,
) -> None:
    """Let a paused runtime schedule fire again, from now on: missed fires are not made up.

    Exit 1 when the Worker refuses (no such schedule), 2 when it cannot be reached.
    """
    _switch(schedule_id, stack, url, as_json, schedules_api.resume_call, "resumed")


@app.command()
@reports_problems
def demo(
    hours: Annotated[float, typer.Option("--hours", min=0.02, max=24 * 7)] = 24,
    start: Annotated[
        str | None, typer.Option("--start", help="ISO 8601; default the next minute")
    ] = None,
    catalog: CatalogOpt = None,
    chaos: Annotated[bool, typer.Option("--chaos", help="inject dispatcher faults")] = False,
    as_json: JsonOpt = False,
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="stay up for the dashboard")
    ] = False,
) -> None:
    """Run the catalog through simulated hours on the real local stack (workerd + dispatcher).

    Exits 0 only when every expected run fired exactly once and ended in one terminal status.
    """
    from datetime import timedelta

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cronflare.client import Client
    from cronflare.local import demo as d
    from cronflare.local.stack import LocalStack

    # Ctrl-C, and a SIGTERM from a supervisor, both unwind through the stack's `with`, which
    # stops the Worker and the dispatcher (even when SIGINT was ignored by a parent shell).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    begin = _utc(start) if start else d.default_start()
    end = begin + timedelta(minutes=round(hours * 60))
    p = d.demo_plan(catalog, chaos)
    expected = d.expected_runs(p, begin, end)
    shown = err if as_json else out
    faults = d.CHAOS_FAULTS if chaos else None
    runner = _node_side()
    try:
        crash = d.worker_faults(begin, end) if chaos else None
        with LocalStack(p, catalog=catalog, faults=faults, worker_faults=crash,
                        dispatch_timeout_ms=1500, runner=runner) as stack:  # fmt: skip
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn())  # fmt: skip
            # The app's part: one schedule per customer, made through the client as a user's
            # app would, with the token it would hold; their runs are owed like the catalog's.
            with Client(stack.worker_url, stack.schedules_token) as client:
                made = [client.schedules.create(**spec) for spec in d.demo_schedules(p, begin, end)]
            if made:
                expected.setdefault(made[0].job, set()).update(d.runtime_expected(made, begin, end))
                shown.print(f"{len(made)} runtime schedules of {made[0].job}, made through "
                            "cronflare.Client", markup=False, highlight=False)  # fmt: skip
            with Progress(*columns, console=shown, transient=True) as progress:
                sent = d.simulate(stack, p, begin, end, progress, chaos=chaos)
                task = progress.add_task("waiting for every run to end", total=None)
                runs = stack.wait_until_settled(90, expected=sum(map(len, expected.values())))
                progress.update(task, completed=1, total=1)
            outcome = d.account(p, expected, runs, stack.executions(), sent, begin, end)
            if as_json:
                typer.echo(json.dumps(outcome.as_json(), indent=2))
            else:
                d.render(outcome, out)
            if keep_running:
                # Only a stack that stays up has a dashboard to show: its URL and password last.
                try:
                    for line in (
                        "the stack stays up until Ctrl-C; the dashboard takes any user name",
                        f"dashboard: {stack.worker_url}/",
                        f"password: {stack.admin_token}",
                    ):
                        shown.print(line, markup=False, highlight=False, soft_wrap=True)
                    while True:
                        signal.pause()
                except KeyboardInterrupt:  # the way to stop it, from here on
                    pass
    except KeyboardInterrupt:
        err.print("cronflare: interrupted; everything it started has stopped", markup=False)
        raise typer.Exit(130) from None
    if keep_running:
        err.print("cronflare: stopped the local stack and everything it started", markup=False)
    if not outcome.ok:
        raise typer.Exit(1)


def _node_side() -> Any:
    """The local stack's runner, its Node side installed first when this is a wheel's first demo
    (a progress line, then a spinner); one line and exit 1 when that cannot be done.
    """
    from cronflare.local.node import NodeSetupError, local_runner

    try:
        with err.status(plain("preparing the local stack's Node side")):
            return local_runner(progress=lambda line: err.print(plain(line)))
    except NodeSetupError as error:
        err.print(plain(str(error)))
        raise typer.Exit(1) from None


def _interrupt(signum: int, frame: object) -> None:
    """The first SIGINT or SIGTERM unwinds; later ones are ignored from then on, so that they
    cannot cut the stack's stop short, which used to leave node and workerd running. Users press
    Ctrl-C twice, and `uv run` outside a terminal's foreground forwards a copy of the group's
    SIGINT 200 ms later.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


@app.command("serve-dispatcher")
def serve_dispatcher(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8787,
    store: Annotated[
        str, typer.Option("--store", help="SQLite file that remembers spawned execution ids")
    ] = ".cronflare/dispatcher.sqlite3",
    catalog: CatalogOpt = None,
    faults: Annotated[
        str | None, typer.Option("--faults", help="JSON fault plan, for chaos runs and tests")
    ] = None,
    stop_on_stdin_eof: Annotated[
        bool,
        typer.Option(
            "--stop-on-stdin-eof",
            hidden=True,
            help="stop, with the worker processes, when stdin ends (the local stack's lifeline)",
        ),
    ] = False,
) -> None:
    """Serve the dispatcher locally (POST /dispatch), running jobs in local worker processes.

    Keys come from CRONFLARE_SIGNING_KEY and, during a rotation, CRONFLARE_SIGNING_KEY_NEXT.
    """
    import os

    import uvicorn

    from cronflare.runtime.dispatcher import FaultPlan, create_app, keys_from_env
    from cronflare.runtime.executors import LocalExecutor
    from cronflare.runtime.store import SqliteStore
    from cronflare.runtime.wrapper import catalog_jobs

    if stop_on_stdin_eof:
        from cronflare.local.stack import stop_with_parent

        stop_with_parent()
    keys = keys_from_env()
    if not keys[0]:
        err.print("cronflare: set CRONFLARE_SIGNING_KEY to serve the dispatcher", markup=False)
        raise typer.Exit(2)
    if catalog:
        os.environ["CRONFLARE_CATALOG"] = catalog
    try:
        jobs = catalog_jobs()
    except CatalogError as error:
        for line in error.problems:
            err.print(line, markup=False)
        raise typer.Exit(1) from None
    executor = LocalExecutor(keys[0])
    try:
        plan = FaultPlan(json.loads(faults)) if faults else None
        app_ = create_app(executor, keys, SqliteStore(store), jobs, faults=plan)
        uvicorn.run(app_, host=host, port=port, log_level="warning")
    finally:
        executor.shutdown()


def main() -> None:
    """Console-script entry point: run the CLI and never show a traceback."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("cronflare: interrupted; everything it started has stopped", markup=False)
        sys.exit(130)
    except Exception as error:  # a bug: say what, not where
        err.print(f"cronflare: internal error: {type(error).__name__}: {error}", markup=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
