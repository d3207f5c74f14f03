"""Drift: where the cloud, Pulumi's state and the program disagree, from `pulumi preview --json`."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from rich.table import Table
from rich.text import Text

from cronflare.settings import find_project_root

PULUMI_INSTALL = "https://www.pulumi.com/docs/install/"
# Pulumi's own ResourceChanges.HasChanges() ignores exactly these ops; so do we.
NO_CHANGE_OPS = frozenset({"same", "read", "read-replacement", "discard"})
# One replacement shows as up to three steps (with --show-replacement-steps); they are one change.
REPLACE_OPS = frozenset({"replace", "create-replacement", "delete-replaced"})
REFRESH_ONLY = "refresh-only"
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER_TYPE_PREFIX = "pulumi:providers:"
FIX_HINT = (
    "`pulumi up` puts the cloud back to the program, `pulumi refresh` accepts the cloud's state"
)
REFRESH_ONLY_HINT = (
    "the program does not set what changed, so `pulumi up` would leave it; `pulumi refresh` "
    "accepts it into Pulumi's state"
)
FIX_DOC = "docs/OPERATIONS.md, Drift"
# Known causes in pulumi's stderr, checked in order (lowercased substrings).
LOGIN = "not logged in to Pulumi: run `pulumi login`, or set PULUMI_ACCESS_TOKEN"
FAILURE_CAUSES = (
    ("pulumi_access_token", LOGIN),
    ("no stack named", "no such stack in this Pulumi backend (see `pulumi stack ls`)"),
    ("pulumi login", LOGIN),
    ("unauthorized", "Pulumi refused the credentials: check PULUMI_ACCESS_TOKEN"),
    ("passphrase", "the stack's secrets need PULUMI_CONFIG_PASSPHRASE"),
)
STDERR_LINES = 5


class DriftCheckError(Exception):
    """Drift could not be checked (exit 2); the message names the cause."""


class PreviewFailed(DriftCheckError):
    """The preview ran but reported errors (say, the program failed): its JSON proves nothing."""


# --- the `pulumi preview --json` document (pkg/display PreviewDigest), read tolerantly ---------


class _Lenient(BaseModel):
    # Pulumi adds fields across versions: ignore what we do not read, never refuse it.
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)


class ResourceState(_Lenient):
    """A step's oldState or newState (apitype.ResourceV3); secrets arrive as "[secret]"."""

    urn: str = ""
    type: str = ""
    id: str | None = None
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None


class PropertyDiff(_Lenient):
    """One entry of a step's detailedDiff: add, delete, update, or *-replace."""

    kind: str = ""
    input_diff: bool = False


class PreviewStep(_Lenient):
    """One step the engine would take (or, for op "refresh", a refresh it made)."""

    op: str
    urn: str
    provider: str | None = None
    old_state: ResourceState | None = None
    new_state: ResourceState | None = None
    diff_reasons: list[str] | None = None
    replace_reasons: list[str] | None = None
    detailed_diff: dict[str, PropertyDiff] | None = None


class PreviewDiagnostic(_Lenient):
    """A message from the preview; severity "error" means the preview itself failed."""

    urn: str | None = None
    message: str = ""
    severity: str = ""


class PreviewDigest(_Lenient):
    """The whole document `pulumi preview --json` prints."""

    steps: list[PreviewStep] | None = None
    diagnostics: list[PreviewDiagnostic] | None = None
    change_summary: dict[str, int] | None = None


# --- the summary we print -------------------------------------------------------------------


class DriftedResource(BaseModel):
    """One resource that differs, however many steps Pulumi used to say so."""

    urn: str
    type: str
    name: str
    op: str  # the Pulumi op that `pulumi up` would take, or "refresh-only"
    properties: list[str] = Field(default_factory=list)
    changed_outside: list[str] = Field(default_factory=list)  # what the refresh saw change
    deleted_outside: bool = False  # the refresh found the resource gone


class DriftReport(BaseModel):
    """The drifted resources of one preview, and how many resources it covered."""

    resources: list[DriftedResource]
    checked: int

    @property
    def drifted(self) -> bool:
        """Whether anything differs."""
        return bool(self.resources)

    @property
    def exit_code(self) -> int:
        """0 when there is no drift, 1 when there is."""
        return 1 if self.drifted else 0

    def verdict(self, target: str) -> str:
        """The one-line conclusion for `target` (such as "stack prod")."""
        if not self.drifted:
            return (
                f"no drift: {target} matches its program and the cloud "
                f"({self.checked} resources in the preview)"
            )
        counts = Counter(r.op for r in self.resources)
        ops = ", ".join(f"{n} {op}" for op, n in sorted(counts.items()))
        n = len(self.resources)
        hint = REFRESH_ONLY_HINT if set(counts) == {REFRESH_ONLY} else FIX_HINT
        differ = "resource differs" if n == 1 else "resources differ"
        return f"drift in {target}: {n} {differ} ({ops}); {hint} ({FIX_DOC})"


@dataclass(frozen=True)
class PulumiRun:
    """What one pulumi command printed and how it exited."""

    returncode: int
    stdout: str
    stderr: str


def preview_argv(stack: str) -> list[str]:
    """The one command drift runs: a refreshing preview that expects no changes, as JSON."""
    return ["pulumi", "preview", "--refresh", "--expect-no-changes", "--json", "--stack", stack]


def run_pulumi(argv: list[str], cwd: Path) -> PulumiRun:
    """Run pulumi with this process's environment; FileNotFoundError when it is not installed."""
    # No stdin: a prompt (a passphrase, a login) must fail fast instead of waiting forever.
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    return PulumiRun(done.returncode, done.stdout, done.stderr)


def check_stack(stack: str, root: Path | None = None) -> DriftReport:
    """Preview `stack` from the project root and summarise its drift."""
    try:
        run = run_pulumi(preview_argv(stack), find_project_root(root))
    except FileNotFoundError:
        raise DriftCheckError(f"the pulumi CLI is not installed ({PULUMI_INSTALL})") from None
    return interpret_run(run)


def interpret_run(run: PulumiRun) -> DriftReport:
    """Tell drift from failure: with --expect-no-changes pulumi exits non-zero on drift too."""
    try:
        digest = parse_preview(run.stdout)
    except PreviewFailed:
        raise
    except DriftCheckError as error:
        if run.returncode != 0:
            raise DriftCheckError(_failure(run)) from None
        raise DriftCheckError(f"pulumi preview succeeded but printed no preview: {error}") from None
    report = summarise(digest)
    if run.returncode != 0 and not report.drifted:
        raise DriftCheckError(
            f"`pulumi preview` exited {run.returncode} although its JSON shows no drift"
            + _excerpt(run.stderr)
        )
    return report


def read_preview_file(path: str, stdin_text: str | None = None) -> DriftReport:
    """Summarise a saved preview JSON file ("-" reads `stdin_text`)."""
    if path == "-":
        text = stdin_text or ""
    else:
        try:
            text = Path(path).read_text()
        except OSError as error:
            raise DriftCheckError(f"cannot read {path}: {error.strerror or error}") from None
    return summarise(parse_preview(text))


def parse_preview(text: str) -> PreviewDigest:
    """Parse `pulumi preview --json` output; DriftCheckError when it is not a preview."""
    if not text.strip():
        raise DriftCheckError("the preview JSON is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        data = _json_after_noise(text)
        if data is None:
            raise DriftCheckError(f"the preview is not valid JSON ({error})") from None
    if not isinstance(data, dict) or not {"steps", "changeSummary"} & data.keys():
        raise DriftCheckError(
            "the JSON is not a `pulumi preview --json` document (no steps, no changeSummary)"
        )
    try:
        digest = PreviewDigest.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DriftCheckError(
            f"the JSON is not shaped like a pulumi preview: {where}: {first['msg']}"
        ) from None
    failures = [d.message.strip() for d in digest.diagnostics or [] if d.severity == "error"]
    if failures:
        lines = [line for f in failures for line in f.splitlines() if line.strip()]
        raise PreviewFailed(
            "the preview failed, so it says nothing about drift" + _excerpt("\n".join(lines))
        )
    return digest


def _json_after_noise(text: str) -> Any:
    # A language host or plugin may print a line before the document; start at the first "{".
    start = text.find("\n{")
    if start < 0:
        return None
    try:
        return json.JSONDecoder().raw_decode(text[start + 1 :])[0]
    except json.JSONDecodeError:
        return None


def summarise(digest: PreviewDigest) -> DriftReport:
    """Group the steps by URN and keep the resources that differ, in preview order."""
    by_urn: dict[str, list[PreviewStep]] = {}
    for step in digest.steps or []:
        by_urn.setdefault(step.urn, []).append(step)
    resources = [r for urn, steps in by_urn.items() if (r := _resource(urn, steps))]
    checked = sum(1 for urn in by_urn if not _is_plumbing(urn_type(urn)))
    counted = {
        op: n
        for op, n in (digest.change_summary or {}).items()
        if n and op not in NO_CHANGE_OPS and op != "refresh"
    }
    if counted and not resources:
        # Never call a preview clean when Pulumi itself counted changes we could not place.
        raise DriftCheckError(
            f"the preview counts changes ({_counts(counted)}) but lists no step for them"
        )
    return DriftReport(resources=resources, checked=checked)


def _resource(urn: str, steps: list[PreviewStep]) -> DriftedResource | None:
    kind = next((s.type for st in steps for s in (st.new_state, st.old_state) if s and s.type), "")
    kind = kind or urn_type(urn)
    refresh, plan = _phases(steps)
    changes = [s for s in plan if s.op not in NO_CHANGE_OPS]
    changed_outside: list[str] = []
    deleted_outside = False
    # The root stack and providers have no cloud counterpart for a refresh to read.
    if not _is_plumbing(kind):
        for step in refresh:
            if step.op == "delete":
                deleted_outside = True
            else:
                changed_outside += changed_properties(step)
    changed_outside = sorted(set(changed_outside))
    if changes:
        ops = [s.op for s in changes]
        op = "replace" if REPLACE_OPS & set(ops) else ops[0]
        properties = sorted({p for s in changes for p in changed_properties(s)})
    elif changed_outside or deleted_outside:
        op, properties = REFRESH_ONLY, changed_outside
    else:
        return None
    return DriftedResource(
        urn=urn,
        type=kind,
        name=urn_name(urn),
        op=op,
        properties=properties,
        changed_outside=changed_outside,
        deleted_outside=deleted_outside,
    )


def _phases(steps: list[PreviewStep]) -> tuple[list[PreviewStep], list[PreviewStep]]:
    """Split one URN's steps into what the refresh saw and what `pulumi up` would do.

    A refresh reports op "refresh"; recent Pulumi rewrites a refresh that found a change into
    "update" or "delete", which then comes before the URN's own preview step.
    """
    refresh: list[PreviewStep] = []
    plan: list[PreviewStep] = []
    for i, step in enumerate(steps):
        rewritten = i == 0 and len(steps) > 1 and step.op in ("update", "delete")
        (refresh if step.op == "refresh" or rewritten else plan).append(step)
    return refresh, plan


def changed_properties(step: PreviewStep) -> list[str]:
    """What a step changes: detailedDiff keys, else diffReasons, else old vs new inputs."""
    if step.detailed_diff:
        return sorted(step.detailed_diff)
    if step.diff_reasons:
        return sorted(set(step.diff_reasons))
    if step.replace_reasons:
        return sorted(set(step.replace_reasons))
    old = step.old_state.inputs if step.old_state else None
    new = step.new_state.inputs if step.new_state else None
    if old is None or new is None:  # a create or a delete: every property, so none in particular
        return []
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def _is_plumbing(kind: str) -> bool:
    return kind == ROOT_STACK_TYPE or kind.startswith(PROVIDER_TYPE_PREFIX)


def urn_type(urn: str) -> str:
    """The resource type in a URN (the last of a parent$child type chain)."""
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


def urn_name(urn: str) -> str:
    """The resource's logical name: everything after the URN's type."""
    parts = urn.split("::")
    return "::".join(parts[3:]) if len(parts) >= 4 else urn


def _counts(ops: dict[str, int]) -> str:
    return ", ".join(f"{n} {op}" for op, n in sorted(ops.items()))


def _failure(run: PulumiRun) -> str:
    lowered = run.stderr.lower()
    cause = next((why for needle, why in FAILURE_CAUSES if needle in lowered), None)
    head = f"`pulumi preview` exited {run.returncode} with no preview JSON"
    return head + (f": {cause}" if cause else "") + _excerpt(run.stderr)


def _excerpt(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines() if line.strip()][:STDERR_LINES]
    return "".join(f"\n  {line}" for line in lines)


# --- rendering ------------------------------------------------------------------------------


def table_rows(report: DriftReport) -> list[tuple[str, str, str, str]]:
    """One (URN, type, operation, properties) row per drifted resource."""
    return [(r.urn, r.type, r.op, _properties_cell(r)) for r in report.resources]


def _properties_cell(resource: DriftedResource) -> str:
    cell = ", ".join(resource.properties)
    note = ""
    if resource.deleted_outside:
        note = "deleted outside Pulumi"
    elif resource.changed_outside and resource.op != REFRESH_ONLY:
        note = f"changed outside Pulumi: {', '.join(resource.changed_outside)}"
    elif resource.op == REFRESH_ONLY:
        note = "changed outside Pulumi"
    return f"{cell}; {note}" if cell and note else cell or note


def rich_table(report: DriftReport, title: str) -> Table:
    """The drifted resources as a rich table."""
    table = Table(title=title, title_justify="left", expand=True, show_lines=True)
    # URNs are long and have no spaces: give them most of the width and fold them, never cut.
    table.add_column("URN", overflow="fold", ratio=5)
    table.add_column("type", overflow="fold", ratio=3)
    table.add_column("operation", no_wrap=True)
    table.add_column("properties", overflow="fold", ratio=3)
    for row in table_rows(report):
        table.add_row(*(Text(cell) for cell in row))  # URNs and paths as they are, never markup
    return table


def as_json(report: DriftReport | None, target: str, error: str | None = None) -> str:
    """The summary for machines: status, exit code, verdict and the drifted resources."""
    if report is None:
        data: dict[str, Any] = {"status": "error", "exit_code": 2, "target": target}
        data["error"] = error
    else:
        data = {
            "status": "drift" if report.drifted else "clean",
            "exit_code": report.exit_code,
            "target": target,
            "verdict": report.verdict(target),
            "checked": report.checked,
            "resources": [r.model_dump() for r in report.resources],
        }
    return json.dumps(data, indent=2)


def as_markdown(report: DriftReport | None, target: str, error: str | None = None) -> str:
    """The summary as Markdown, for a CI step summary."""
    if report is None:
        head, _, rest = (error or "").partition("\n")
        text = f"**cannot check drift** of {target}: {_md(head)}\n"
        return text + (f"\n```text\n{rest.strip()}\n```\n" if rest.strip() else "")
    if not report.drifted:
        return f"{_md(report.verdict(target))}\n"
    lines = ["| URN | type | operation | properties |", "|---|---|---|---|"]
    for urn, kind, op, cell in table_rows(report):
        lines.append(f"| `{_md(urn)}` | `{_md(kind)}` | {op} | {_md(cell)} |")
    return "\n".join(lines) + f"\n\n**{_md(report.verdict(target))}**\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")
