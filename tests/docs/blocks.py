"""The documents' code blocks, found with pytest-examples, and how a transcript is read.

Python blocks come from `pytest_examples.find_examples`, which yields only blocks fenced as
python. Other blocks (```console, ```bash) are found with the same fence pattern and wrapped in
the same `CodeExample`, so every test names a block the same way: `docs/COST.md:251-…`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pytest_examples import CodeExample, find_examples
from pytest_examples.find_examples import remove_indent

from tests import ROOT

DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))

# pytest-examples' own fence pattern (find_examples._extract_code_chunks), for every language.
FENCE = re.compile(r"(^ *```)( *)(.*?)\n(.+?)\1", re.M | re.S)
MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(.*?)\s*-->\s*$")

# The output placeholders a transcript may use (tests/docs/test_transcripts.py's docstring).
PLACEHOLDERS = {
    "<time>": r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?Z",
    "<id>": r"\S+",
    "<hash>": r"[0-9a-f]+",
}
ELLIPSIS = r"(?:…|\.\.\.)"
# A line that stands for any number of lines: `…` or `...`, after an optional list dash,
# optionally followed by a note in parentheses.
ANY_LINES = re.compile(rf"^\s*(?:- )?{ELLIPSIS}(?:\s+\(.*\))?\s*$")


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def example_id(example: CodeExample) -> str:
    return f"{relative(example.path)}:{example.start_line}"


def python_examples() -> list[CodeExample]:
    """Every python block of the docs, as pytest-examples finds it."""
    return [example for doc in DOCS for example in find_examples(doc)]


def fenced(language: str) -> Iterator[CodeExample]:
    """Every block fenced as `language`, located the way find_examples locates python ones."""
    for doc in DOCS:
        text = doc.read_text("utf-8")
        for m in FENCE.finditer(text):
            fence, space, prefix, source = m.groups()
            if prefix.strip().lower() != language:
                continue
            start_line = text[: m.start()].count("\n") + 1
            dedented, indent = remove_indent(source)
            start_index = m.start() + len(fence) + len(space) + len(prefix) + 1
            yield CodeExample(
                source=dedented,
                path=doc,
                start_line=start_line,
                end_line=start_line + source.count("\n") + 1,
                start_index=start_index,
                end_index=start_index + len(source),
                prefix=prefix,
                indent=indent,
            )


def marker(example: CodeExample) -> str | None:
    """The `<!-- docs-test: ... -->` comment on the line just above the block's fence, if any."""
    head = example.path.read_text("utf-8")[: example.start_index].rstrip("\n")
    before = head[: head.rfind("\n")].rstrip(" ")
    match = MARKER.match(before[before.rfind("\n") + 1 :])
    return match.group(1) if match else None


@dataclass(frozen=True)
class Command:
    """One `$ ...` line of a console block and the output the document shows under it."""

    line: int  # in the document
    text: str
    argv: tuple[str, ...]
    comment: str
    shown: tuple[str, ...]


def split_comment(text: str) -> tuple[str, str]:
    """(command, trailing `# comment`), the way a shell reads it."""
    words = shlex.split(text, comments=True)
    for m in re.finditer(r"\s#", text):
        if shlex.split(text[: m.start()]) == words:
            return text[: m.start()].rstrip(), text[m.end() :].strip()
    return text.rstrip(), ""


def commands(example: CodeExample) -> list[Command]:
    """The block's `$ ` lines, each with the output lines up to the next one."""
    found: list[Command] = []
    lines = example.source.rstrip("\n").split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("$ ")]
    assert starts and starts[0] == 0, f"{example_id(example)}: a transcript starts with `$ `"
    for n, i in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        text, comment = split_comment(lines[i][2:])
        found.append(
            Command(
                line=example.start_line + 1 + i,
                text=text,
                argv=tuple(shlex.split(text)),
                comment=comment,
                shown=tuple(lines[i + 1 : end]),
            )
        )
    return found


def line_pattern(line: str) -> str:
    """A shown line as a regex: placeholders and `…`/`...` match text within the line."""
    tokens = "|".join([ELLIPSIS, *map(re.escape, PLACEHOLDERS)])
    parts = re.split(f"({tokens})", line.rstrip())
    return "".join(
        PLACEHOLDERS.get(part, ".*?" if re.fullmatch(ELLIPSIS, part) else re.escape(part))
        if i % 2
        else re.escape(part)
        for i, part in enumerate(parts)
    )


def output_matches(shown: tuple[str, ...], actual: str, subset: bool) -> bool:
    """Whether the output printed fits the lines shown (trailing spaces and blank lines aside).

    A shown line matches one printed line (see line_pattern); an ANY_LINES line matches any
    number of printed lines; with `subset`, printed lines may be left out anywhere, so the shown
    ones need only appear in order.
    """
    printed = actual.rstrip().split("\n")
    shown = tuple("\n".join(shown).rstrip().split("\n"))
    patterns = [None if ANY_LINES.match(line) else line_pattern(line) for line in shown]
    if subset:  # the earliest match of each shown line in turn: a subsequence test
        wanted = iter(p for p in patterns if p is not None)
        todo = next(wanted, None)
        for line in printed:
            if todo is not None and re.fullmatch(todo, line.rstrip()):
                todo = next(wanted, None)
        return todo is None
    some_lines = r"(?:[^\n]*\n)*?"
    pattern = "".join(some_lines if p is None else p + r"\n" for p in patterns)
    return re.fullmatch(pattern, "".join(line.rstrip() + "\n" for line in printed)) is not None
