"""Every console transcript in README.md and docs/*.md runs, and prints what the document shows.

A transcript is a ```console block: `$ ` lines, each followed by the output shown for it. The
rules (docs/CONTRIBUTING-DOCS.md says the same for writers):

- **What runs.** A `$ uv run cronflare <command> ...` line runs in-process, through typer's
  CliRunner, from the repository's root, with `CRONFLARE_CATALOG` unset and the output as the
  CLI prints it to a pipe: 120 columns, no colour, stdout and stderr interleaved.
- **What is skipped, and why.** A line that is not `uv run cronflare` (pulumi, modal, curl) runs
  another program, and a cronflare command in `LIVE` talks to a deployed stack (`--stack`
  reads `pulumi stack output`, `--url` needs a running Worker), runs pulumi, or starts
  long-lived processes. Such a line is not run, but a cronflare one must still parse: its
  command and options exist. `test_every_command_is_classified` keeps `LIVE` and `HERE`
  naming every command of the CLI.
- **Where.** A block under `<!-- docs-test: in tests/docs/fixtures/<folder> -->` runs in a
  temporary project holding a copy of that folder (and an empty `Pulumi.yaml`, which makes it
  the project root): a broken catalog or a stack file that the document describes but does not
  show. A command in `WRITES` (`init`) that has no such folder runs in an empty temporary
  folder: never in the repository, whose files it would write beside.
- **No output shown**: the command must exit 0. Its output is not compared.
- **Output shown**: compared line by line, trailing spaces and trailing blank lines aside. The
  exit status is not compared, so a transcript may show a command's errors.
  - `…` or `...` inside a line matches any text within that line;
  - a line that is only `…` or `...` (after an optional `- `, and optionally followed by a
    note in parentheses, such as `… (seven more)`) matches any number of lines, none included;
  - placeholders match what changes from run to run: `<time>` an ISO 8601 UTC time such as
    `2026-11-30T09:00:00Z`, `<id>` any word, `<hash>` a hex digest;
  - **partial output**: when the `$` line's comment says `shown` (`# three of the table's
    14 rows shown`), the lines shown need only appear in the output, in order: the others are
    left out.
"""

from __future__ import annotations

import difflib
import itertools
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.core import TyperGroup
from typer.testing import CliRunner

from cronflare import cli
from tests import ROOT
from tests.docs.blocks import (
    Command,
    commands,
    example_id,
    fenced,
    marker,
    output_matches,
    split_comment,
)

# Commands that need what this machine does not have: a deployed stack, pulumi, or minutes.
LIVE = {"status", "runs", "run", "replay", "pause", "resume", "backfill", "drift", "demo",
        "serve-dispatcher", "schedules"}  # fmt: skip
# Commands that read only this repository: catalog, stack files and price table; `exec`, which
# runs one handler here; and `init`, which writes a new project (into a temporary folder).
HERE = {"check", "next", "plan", "cost", "exec", "init"}
WRITES = {"init"}
CRONFLARE = ("uv", "run", "cronflare")


def transcripts() -> list[Any]:
    return [
        pytest.param(example, command, id=f"{example_id(example)}:{command.line}")
        for example in fenced("console")
        for command in commands(example)
    ]


def fixture_dir(note: str | None) -> Path | None:
    if note is None:
        return None
    assert note.startswith("in "), f"unknown docs-test marker for a transcript: {note!r}"
    folder = ROOT / note.removeprefix("in ").strip()
    assert folder.is_dir() and folder.is_relative_to(ROOT / "tests" / "docs" / "fixtures"), note
    return folder


def cli_parses(args: list[str]) -> None:
    """The command and every option on the line exist: with `--help` appended, click parses
    the whole line (an unknown command or option is a usage error) and stops before running it.
    """
    result = CliRunner().invoke(cli.app, [*args, "--help"])
    assert result.exit_code == 0, result.output


def test_every_command_is_classified():
    """A new command must be put in HERE (its transcripts run) or LIVE (they are skipped)."""
    group = typer.main.get_command(cli.app)
    assert isinstance(group, TyperGroup)
    assert set(group.commands) == HERE | LIVE
    assert not HERE & LIVE


def test_the_docs_have_transcripts():
    """The rules below are exercised: a transcript of each kind exists."""
    found = [c for e in fenced("console") for c in commands(e)]
    assert len([c for c in found if c.argv[3:4] and c.argv[3] in HERE]) >= 8
    assert any("shown" in c.comment for c in found)
    assert any(c.argv[3:4] and c.argv[3] in LIVE for c in found)


@pytest.mark.parametrize(("example", "command"), transcripts())
def test_transcript(example: Any, command: Command, monkeypatch: pytest.MonkeyPatch, tmp_path):
    where = f"{example_id(example)}: line {command.line}: {command.text}"
    if command.argv[:3] != CRONFLARE:
        pytest.skip(f"{where}: not cronflare, cannot run here")
    args = list(command.argv[3:])
    cli_parses(args)
    if args[0] in LIVE:
        pytest.skip(f"{where}: needs a deployed stack, pulumi or a long run; it parses")
    assert args[0] in HERE, where

    folder = fixture_dir(marker(example))
    cwd = ROOT
    if folder is not None:
        cwd = tmp_path / "project"
        shutil.copytree(folder, cwd)
        (cwd / "Pulumi.yaml").write_text("name: cronflare-docs-test\n")
    elif args[0] in WRITES:
        cwd = tmp_path / "empty"
        cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("CRONFLARE_CATALOG", raising=False)
    # As printed to a pipe: cronflare.cli's own width for a non-terminal, and no colour.
    monkeypatch.setattr(cli, "out", Console(width=120, force_terminal=False))
    monkeypatch.setattr(
        cli, "err", Console(stderr=True, soft_wrap=True, highlight=False, force_terminal=False)
    )
    result = CliRunner().invoke(cli.app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception

    if not command.shown:
        assert result.exit_code == 0, f"{where}: exit {result.exit_code}\n{result.output}"
        return
    subset = "shown" in command.comment
    if not output_matches(command.shown, result.output, subset):
        diff = difflib.unified_diff(
            list(command.shown), result.output.rstrip().split("\n"), "shown", "printed", lineterm=""
        )
        pytest.fail(
            f"{where}: the output differs from the document's"
            f"{' (as a subset)' if subset else ''}:\n" + "\n".join(diff),
            pytrace=False,
        )


def command_lines() -> list[Any]:
    """Each `uv run cronflare ...` of the ```bash blocks (continuations joined, up to a pipe)."""
    found = []
    for example in fenced("bash"):
        text = example.source.replace("\\\n", " ")
        for n, line in enumerate(text.split("\n")):
            words = shlex.split(split_comment(line)[0]) if line.strip() else []
            starts = [i for i in range(len(words)) if tuple(words[i : i + 3]) == CRONFLARE]
            for i in starts:
                rest = words[i + 3 :]
                args = list(itertools.takewhile(lambda w: w not in ("|", "&&", ";"), rest))
                found.append(pytest.param(args, id=f"{example_id(example)}+{n}:{' '.join(args)}"))
    return found


@pytest.mark.parametrize("args", command_lines())
def test_every_cronflare_command_in_a_bash_block_parses(args: list[str]):
    """Commands shown without output (```bash) are not run, but their options must exist."""
    assert args and args[0] in HERE | LIVE, args
    cli_parses(args)
