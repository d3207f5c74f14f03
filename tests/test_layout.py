"""The layout is the architecture: what a user writes, the machinery, and what provisions it.

These tests read every import statement (module level or inside a function) with `ast`, so a
rule broken anywhere in a file fails here, naming the file, the line and the import.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import cronflare
from tests import ROOT

# What each part of cronflare may import from the rest of cronflare (prefixes; itself is free).
ALLOWED = {
    "cronflare.catalog": (),
    "cronflare.runtime": ("cronflare.catalog",),
    "cronflare.cost.prices": (),
    "cronflare.settings": ("cronflare.catalog", "cronflare.cost.prices"),
    "cronflare.plan": ("cronflare.catalog", "cronflare.settings"),
    "cronflare.bundle": ("cronflare.catalog",),
    "cronflare.drift": ("cronflare.settings",),
    "cronflare.remote": ("cronflare.settings",),
    "cronflare.client": (),
    "cronflare.cost": (
        "cronflare.catalog",
        "cronflare.plan",
        "cronflare.settings",
        "cronflare.runtime.image",  # the watcher's request, priced as deployed
    ),
    "cronflare.local": (
        "cronflare.catalog",
        "cronflare.plan",
        "cronflare.settings",
        "cronflare.bundle",
        "cronflare.client",  # the demo creates runtime schedules as a user's app would
    ),
    "cronflare.pulumi": (
        "cronflare.catalog",
        "cronflare.settings",
        "cronflare.plan",
        "cronflare.bundle",
        "cronflare.runtime.signing",  # the alert key, derived as the Worker derives it
        "cronflare.runtime.image",  # what the Modal image carries, hashed to redeploy on change
    ),
    "cronflare.scaffold": ("cronflare.catalog",),  # init's refusal, reported as a problem
    # A project's own tests: check and exec, as the CLI runs them.
    "cronflare.testing": (
        "cronflare.catalog",
        "cronflare.plan",
        "cronflare.runtime.wrapper",
        "cronflare.settings",
    ),
    "cronflare.cli": ("cronflare",),
}
# The Modal image installs only these (cronflare/runtime/image.py) and their dependencies.
IMAGE_IMPORTS = {"certifi", "cronsim", "fastapi", "httpx", "modal", "pydantic", "pydantic_core",
                 "starlette", "yaml"}  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module) for every import in the file, names of `from x import y` too."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import"
            base = node.module or ""
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_jobs_holds_only_the_catalog_and_handlers():
    """A user replaces jobs/ with their own: nothing of cronflare's machinery lives there."""
    stray = [
        p.relative_to(ROOT).as_posix()
        for p in sources("jobs")
        if p.name not in ("catalog.py", "__init__.py") and "handlers" not in p.parts
    ]
    assert stray == []


def test_user_code_imports_only_the_top_level_package():
    """jobs/ uses `from cronflare import ...`, never a submodule, and never infra."""
    bad = []
    for path in sources("jobs"):
        for line, name in imports(path):
            top = name.split(".")[0]
            if top == "infra" or (top == "cronflare" and name.count(".") > 1):
                bad.append(f"{path.relative_to(ROOT)}:{line}: {name}")
            elif top == "cronflare" and name.count(".") == 1:
                assert hasattr(cronflare, name.split(".")[1]), f"{path}:{line}: {name}"
    assert bad == []


def test_the_machinery_never_imports_the_users_jobs_or_the_program():
    """cronflare (cronflare.pulumi too) reaches the catalog only through CRONFLARE_CATALOG; infra
    is only the example program.
    """
    bad = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in sources("cronflare")
        for line, name in imports(path)
        if name.split(".")[0] in ("jobs", "infra")
    ]
    assert bad == []


def test_the_program_is_one_file_that_uses_only_cronflare_pulumi():
    """infra/ holds the example program alone, written as a team writes its own: everything it
    deploys comes from cronflare.pulumi, so a wheel without infra/ deploys the same.
    """
    assert [p.relative_to(ROOT).as_posix() for p in sources("infra")] == ["infra/__main__.py"]
    bad = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in sources("infra")
        for line, name in imports(path)
        if not (within(name, "pulumi") or within(name, "cronflare.pulumi"))
    ]
    assert bad == []


def test_importing_the_package_does_not_import_pulumi():
    """A catalog or an app imports cronflare without pulumi: only a program imports its part."""
    code = (
        "import sys, cronflare; print('pulumi' in sys.modules, 'cronflare.pulumi' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "False"]


def test_cronflare_pulumi_imports_the_real_pulumi():
    """`import pulumi` inside cronflare/pulumi/ is absolute: the SDK, never the package itself."""
    import cronflare.pulumi as ours
    from cronflare.pulumi import inputs, scheduler
    from cronflare.pulumi.providers import d1_migrations, modal_deploy

    for module in (inputs, scheduler, d1_migrations, modal_deploy):
        sdk = module.pulumi
        assert sdk is not ours and sdk.__name__ == "pulumi", module.__name__
        assert Path(sdk.__file__ or "").parent.parent.name == "site-packages", sdk.__file__


def rule_for(module: str) -> tuple[str, tuple[str, ...]] | None:
    matches = [prefix for prefix in ALLOWED if within(module, prefix)]
    if not matches:
        return None
    prefix = max(matches, key=len)
    return prefix, ALLOWED[prefix]


def test_each_part_of_cronflare_imports_only_what_its_docstring_allows():
    """The subpackages depend one way: catalog at the bottom, the CLI at the top."""
    bad = []
    unruled = []
    for path in sources("cronflare"):
        me = module_name(path)
        if me == "cronflare":
            continue
        rule = rule_for(me)
        if rule is None:
            unruled.append(me)
            continue
        own, allowed = rule
        for line, name in imports(path):
            if name.split(".")[0] != "cronflare" or name == "cronflare":
                continue
            if not any(within(name, p) for p in (own, *allowed)):
                bad.append(f"{path.relative_to(ROOT)}:{line}: {me} imports {name}")
    assert unruled == [], "add these modules to ALLOWED"
    assert bad == []


def test_the_runtime_imports_only_what_the_modal_image_installs():
    """cronflare.runtime ships in the Modal image: rich, typer or pulumi would fail there."""
    stdlib = sys.stdlib_module_names
    bad = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in sources("cronflare/runtime")
        for line, name in imports(path)
        if (top := name.split(".")[0]) not in stdlib
        and top not in IMAGE_IMPORTS
        and top != "cronflare"
        and top != "__future__"
    ]
    assert bad == []


def test_the_public_surface():
    """What a catalog and an app's schedules need is importable from the package itself."""
    from cronflare import Catalog, Client, Defaults, Image, Job, Resources, RetryPolicy, RunContext

    assert set(cronflare.__all__) == {"Catalog", "Defaults", "Image", "Job", "Resources",
                                      "RetryPolicy", "RunContext", "Client", "AsyncClient",
                                      "ClientError", "Schedule", "SchedulePage", "BatchItem",
                                      "ScheduleSpec"}  # fmt: skip
    assert all((Catalog, Client, Defaults, Image, Job, Resources, RetryPolicy, RunContext))
    assert all(getattr(cronflare, name) for name in cronflare.__all__)


def test_importing_the_package_does_not_import_httpx():
    """A catalog imports cronflare on every deploy and run: the client loads only when used."""
    code = "import sys, cronflare; print('httpx' in sys.modules, 'cronflare.client' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "False"]


@pytest.mark.parametrize(
    "name", ["README.md", *sorted(p.name for p in (ROOT / "docs").glob("*.md"))]
)
def test_the_docs_stand_alone(name: str):
    """No document of the project sends a reader to a file outside the repository."""
    path = ROOT / name if name == "README.md" else ROOT / "docs" / name
    text = path.read_text()
    assert not re.search(r"\.\./shared|DESIGN\.md|\]\(\.\./\.\./", text), name
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        resolved = (path.parent / target).resolve()
        assert resolved.is_relative_to(ROOT) and resolved.exists(), f"{name}: {target}"


def test_nothing_in_the_repository_points_outside_it():
    """Code comments and configs, like the docs, never send a reader to a file we do not ship."""
    skip = {"node_modules", ".venv", "dist", ".git", ".cronflare"}
    suffixes = {".py", ".ts", ".mjs", ".md", ".yaml", ".yml", ".toml", ".json", ".sql", ""}
    found = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if skip & set(rel.parts) or not path.is_file() or path.suffix not in suffixes:
            continue
        if path == Path(__file__) or path.stat().st_size > 2_000_000:
            continue
        text = path.read_text(errors="replace")
        if re.search(r"\.\./shared/|DESIGN\.md", text):
            found.append(rel.as_posix())
    assert found == []


def test_the_readme_job_example_imports_only_from_cronflare():
    """README's "Write a job" is code a user copies: it compiles and uses the public surface."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Write a job") :]
    code = section[section.index("```python") + len("```python") : section.index("```\n", 10)]
    tree = ast.parse(code)
    froms = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "cronflare" in froms
    assert all(m == "cronflare" or within(m or "", "jobs.handlers") for m in froms), froms
