"""`cronflare init`: a team starts from shipped files that already check, test and deploy."""

from __future__ import annotations

import re
import shlex
import tomllib
from importlib.metadata import version
from pathlib import Path

from cronflare.catalog.model import CatalogError

# Each file of a new project is here as its path plus ".tmpl", so that no tool (ruff, pyright,
# pytest, Pulumi, git, GitHub) takes the templates for this repository's own files.
TEMPLATES = Path(__file__).resolve().parent / "templates" / "project"
SUFFIX = ".tmpl"
# What init writes, in this order, and what each file is for.
FILES: dict[str, str] = {
    "jobs/__init__.py": "your jobs, imported as `jobs`",
    "jobs/catalog.py": "the catalog: one job, hello, every 15 minutes",
    "jobs/handlers/__init__.py": "the handlers' package",
    "jobs/handlers/hello.py": "hello's handler: returns a short summary",
    "tests/test_catalog.py": "the catalog passes `cronflare check`; each handler runs once",
    "infra/__main__.py": "the Pulumi program: cronflare.pulumi's Scheduler",
    "Pulumi.yaml": "the Pulumi project: the cronflare: keys, their types and defaults",
    "Pulumi.dev.yaml": "the dev stack: replace its two placeholders",
    "pyproject.toml": "cronflare, pinned, and pytest, for uv",
    "Makefile": "`make demo` and `make test`",
    ".github/workflows/ci.yml": "CI: `make test`, then `cronflare check --stack dev`",
    ".github/workflows/drift.yml": "a drift check of each stack every 6 hours",
    ".gitignore": "what not to commit: .venv, .cronflare, a local Pulumi state",
}
# A project that `uv add cronflare` already made keeps these two: they are the user's, and init
# writes only what is missing around them.
KEPT = ("pyproject.toml", ".gitignore")
# The words a template holds in place of the project's name and the cronflare it pins.
NAME = "__PROJECT_NAME__"
VERSION = "__CRONFLARE_VERSION__"


class InitRefused(CatalogError):
    """init wrote nothing: one line per file in its way, or the one it could not write."""


def project_name(directory: Path) -> str:
    """The folder's name, made one that pyproject.toml takes: lowercase, digits, single dashes."""
    name = re.sub(r"[^a-z0-9]+", "-", directory.resolve().name.lower()).strip("-")
    return name or "cronflare-jobs"


def render(relative: str, name: str, pinned: str) -> str:
    """A file of the new project: its template, with the project's name and the pinned version."""
    text = (TEMPLATES / f"{relative}{SUFFIX}").read_text(encoding="utf-8")
    return text.replace(NAME, name).replace(VERSION, pinned)


def depends_on_cronflare(pyproject: Path) -> bool:
    """Whether a project's pyproject.toml lists cronflare among its dependencies."""
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project") or {}
    except (OSError, tomllib.TOMLDecodeError):
        return False
    names = (
        re.split(r"[\s\[<>=!~;@]", str(d), maxsplit=1)[0] for d in project.get("dependencies", [])
    )
    return any(name.lower() == "cronflare" for name in names)


def kept(directory: Path) -> list[str]:
    """The files of KEPT that the folder already has, and that init leaves as they are."""
    return [relative for relative in KEPT if (directory / relative).is_file()]


def in_the_way(directory: Path) -> list[str]:
    """One line per path that stops init: a file it would write that exists, or a file where it
    needs a folder. Empty when init can write every file. A pyproject.toml that depends on
    cronflare, and a .gitignore, are kept instead (`uv add cronflare`, then `cronflare init`).
    """
    found: dict[Path, str] = {}
    for relative in kept(directory):
        if relative == "pyproject.toml" and not depends_on_cronflare(directory / relative):
            found[directory / relative] = (
                "exists and does not depend on cronflare (run `uv add cronflare` first)"
            )
    for relative in FILES:
        if relative in kept(directory):
            continue
        target = directory / relative
        folders = [directory / p for p in reversed(Path(relative).parents)]
        blocking = next((f for f in folders if f.exists() and not f.is_dir()), None)
        if blocking is not None:
            found.setdefault(blocking, "is a file where init needs a folder")
        elif target.exists() or target.is_symlink():
            found[target] = "exists"
    return [f"init: {path}: {why}; nothing was written" for path, why in found.items()]


def init(directory: Path) -> list[Path]:
    """Write a new project into `directory` (made if missing), or nothing at all when any of its
    files is there already: a user's file is never overwritten, nor half a project left behind.
    """
    problems = in_the_way(directory)
    if problems:
        raise InitRefused(problems)
    name, pinned = project_name(directory), version("cronflare")
    keep = kept(directory)
    targets = [directory / relative for relative in FILES if relative not in keep]
    made = {p for target in targets for p in (target, *target.parents) if not p.exists()}
    written: list[Path] = []
    try:
        for relative, target in zip([f for f in FILES if f not in keep], targets, strict=True):
            text = render(relative, name, pinned)
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("x", encoding="utf-8", newline="\n") as file:
                file.write(text)
            written.append(target)
    except OSError as error:
        for path in sorted(made, key=lambda p: len(p.parts), reverse=True):
            if path.is_file() and path in written:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        why = "exists" if isinstance(error, FileExistsError) else f"cannot write: {error.strerror}"
        where = error.filename or directory
        raise InitRefused([f"init: {where}: {why}; nothing was written"]) from None
    return written


def next_commands(directory: Path, kept_files: list[str] | None = None) -> list[str]:
    """The three commands that take the new project to its first demo, in order. A kept
    pyproject.toml lacks the tests' pytest: `uv add --dev pytest` takes the place of `uv sync`.
    """
    sync = "uv add --dev pytest" if "pyproject.toml" in (kept_files or []) else "uv sync"
    if directory.resolve() == Path.cwd().resolve():
        return [sync, "make test", "make demo"]
    return [f"cd {shlex.quote(str(directory))}", sync, "make demo"]
