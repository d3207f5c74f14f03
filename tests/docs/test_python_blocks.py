"""Every python block in README.md and docs/*.md is linted, and runs or validates as written.

pytest-examples finds the blocks (```python) and lints them with ruff under the project's
rules (line length 100; E401 and I001 aside, so a paste-ready snippet may import several
standard modules on one line). Then, by what the block is (docs/CONTRIBUTING-DOCS.md says the same):

- **A catalog example** is a block that calls `Catalog(...)` or `Job(...)`. It must pass
  `cronflare check --catalog <the block>` (run in-process), so every handler it names imports
  and every field validates:
  - a whole module (it assigns `CATALOG`) is checked as it is;
  - a fragment (a block that ends with a bare expression, such as `Job(...)`) is checked as
    `CATALOG = Catalog(jobs=[<that expression>])`, after the block's other lines and the
    imports a catalog module has: cronflare's public names and every module of
    `jobs/handlers` by its name (`ops`, `billing`, ...). Only in a fragment may those names go
    undefined (ruff's F821).
- **Any other block** (a handler, a webhook verifier, a FastAPI snippet) is run as a module:
  what a reader pastes must at least import and define. A block that cannot run here (it
  needs a server or a network) is marked `<!-- docs-test: lint-only -->` on the line above
  its fence, and is only compiled.
"""

from __future__ import annotations

import ast
from typing import Any

import pytest
from pytest_examples import CodeExample, EvalExample
from rich.console import Console
from typer.testing import CliRunner

import cronflare
from cronflare import cli
from tests import ROOT
from tests.docs.blocks import example_id, marker, python_examples

HANDLER_MODULES = sorted(
    p.stem for p in (ROOT / "jobs" / "handlers").glob("*.py") if p.stem != "__init__"
)
PRELUDE = (
    f"from cronflare import {', '.join(sorted(cronflare.__all__))}\n"
    f"from jobs.handlers import {', '.join(HANDLER_MODULES)}\n"
)


def examples() -> list[Any]:
    return [pytest.param(e, id=example_id(e)) for e in python_examples()]


def catalog_calls(tree: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("Catalog", "Job")
        for n in ast.walk(tree)
    )


def defines_catalog(tree: ast.Module) -> bool:
    return any(
        isinstance(t, ast.Name) and t.id == "CATALOG"
        for n in tree.body
        if isinstance(n, ast.Assign | ast.AnnAssign)
        for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
    )


def is_fragment(tree: ast.Module) -> bool:
    """Not a catalog module: its last statement is a bare expression, such as `Job(...)`."""
    return not defines_catalog(tree) and bool(tree.body) and isinstance(tree.body[-1], ast.Expr)


def as_catalog(source: str, tree: ast.Module) -> str:
    """The fragment as the one job of a catalog module, below the imports a catalog has."""
    lines = source.rstrip().split("\n")
    last = tree.body[-1].lineno - 1
    head, expression = "\n".join(lines[:last]), "\n".join(lines[last:])
    return f"{PRELUDE}{head}\n\nCATALOG = Catalog(jobs=[\n{expression}\n])\n"


def test_the_docs_have_both_kinds():
    """The rules are exercised: whole catalogs, fragments, and other code."""
    trees = [ast.parse(e.source) for e in python_examples()]
    assert any(catalog_calls(t) and not is_fragment(t) for t in trees)
    assert any(catalog_calls(t) and is_fragment(t) for t in trees)
    assert any(not catalog_calls(t) for t in trees)


@pytest.mark.parametrize("example", examples())
def test_python_block(
    example: CodeExample,
    eval_example: EvalExample,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
):
    tree = ast.parse(example.source, example_id(example))
    fragment = is_fragment(tree)
    eval_example.set_config(
        ruff_line_length=100,
        target_version="py310",
        ruff_ignore=["E401", "I001", *(["F821"] if fragment else [])],
    )
    eval_example.lint_ruff(example)

    if not catalog_calls(tree):
        note = marker(example)
        if note == "lint-only":
            compile(example.source, example_id(example), "exec")
        else:
            assert note is None, f"{example_id(example)}: unknown docs-test marker {note!r}"
            eval_example.run(example)
        return

    source = as_catalog(example.source, tree) if fragment else example.source
    path = tmp_path / "docs_catalog.py"
    path.write_text(source)
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(cli, "out", Console(width=120, force_terminal=False))
    result = CliRunner().invoke(cli.app, ["check", "--catalog", str(path)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, (
        f"{example_id(example)}: `cronflare check` refuses the example"
        f"{' (as the one job of a catalog)' if fragment else ''}:\n{result.output}"
    )
