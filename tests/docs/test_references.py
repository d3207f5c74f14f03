"""What the documents name exists: repository paths, the Worker's files, plan keys, /healthz.

- **Paths.** Every path in backticks outside code blocks, in README.md and docs/*.md, exists.
  A path is a backticked word with a `/` whose first part is an entry of the repository's root
  (`tests/...`, `worker_src/...`) or, as the docs name the Worker's own files, of `worker_src/`
  (`src/signing.ts`, `test/reads.test.ts`). `*` is a glob and `NNNN` four digits; a word with
  `...` (`tests/...`) names a kind of path, not one. What the build
  or a run creates (`worker_src/dist/`, `.cronflare/`) is not in the repository, so it is not
  checked.
- **docs/WORKER.md's file list** names every file of `worker_src/src` and `worker_src/migrations`,
  and its plan keys are those of `DeployPlan.worker_config()` and `PLAN_JS_JOB_FIELDS`.
- **`/healthz`**: what the documents say it answers is what `worker_src/src/api.ts` returns.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cronflare.catalog.loader import load_catalog
from cronflare.catalog.validate import resolve
from cronflare.plan import PLAN_JS_JOB_FIELDS, DeployPlan, plan_resolved
from cronflare.settings import load_stack_settings
from tests import ROOT
from tests.docs.blocks import DOCS, FENCE, relative

WORKER = ROOT / "worker_src"
GENERATED = ("worker_src/dist/", "dist/", ".cronflare/")
WORKER_DOC = ROOT / "docs" / "WORKER.md"


def prose(text: str) -> str:
    """The document without its fenced code blocks."""
    return FENCE.sub("", text)


def named_paths() -> list[Any]:
    roots = {p.name for p in ROOT.iterdir()} - {".venv", ".git", "node_modules"}
    in_worker = {p.name for p in WORKER.iterdir()} - {"node_modules"}
    found = []
    for doc in DOCS:
        for word in sorted(set(re.findall(r"`([^`\s]+)`", prose(doc.read_text())))):
            first = word.split("/")[0]
            if "/" not in word or "://" in word or (first not in roots and first not in in_worker):
                continue
            if "..." in word or "…" in word:  # `tests/...`: a kind of path, not one
                continue
            found.append(pytest.param(doc, word, id=f"{relative(doc)}:{word}"))
    return found


def exists(word: str) -> bool:
    pattern = word.rstrip("/").replace("NNNN", "[0-9]" * 4)
    for base in (ROOT, WORKER):
        if not (base / word.split("/")[0]).exists():
            continue
        if "*" in pattern or "[" in pattern:
            return any(base.glob(pattern))
        return (base / pattern).exists()
    return False


def test_the_docs_name_paths():
    assert len(named_paths()) > 50


@pytest.mark.parametrize(("doc", "word"), named_paths())
def test_a_path_the_docs_name_exists(doc: Path, word: str):
    if word.startswith(GENERATED):
        pytest.skip("made by the build or a run, not in the repository")
    assert exists(word), f"{relative(doc)} names `{word}`, which is not in the repository"


def worker_file_list() -> str:
    """The first code block of docs/WORKER.md: the Worker's files, one a line."""
    block = next(FENCE.finditer(WORKER_DOC.read_text()))
    assert block.group(3).strip() == "", "the file list is a plain ``` block"
    return block.group(4)


def test_the_worker_file_list_names_every_module_and_migration():
    listed = worker_file_list()
    missing = [f"src/{p.name}" for p in sorted((WORKER / "src").iterdir())
               if not re.search(rf"^src/{re.escape(p.name)}\s", listed, re.M)]  # fmt: skip
    migrations = sorted((WORKER / "migrations").glob("*.sql"))
    missing += [p.name for p in migrations if p.name not in listed]
    assert missing == [], "docs/WORKER.md's file list leaves these out"
    for name in re.findall(r"^(src/\S+)", listed, re.M):
        assert (WORKER / name).is_file(), f"docs/WORKER.md lists {name}, which does not exist"


def plan(stack: str) -> DeployPlan:
    settings = load_stack_settings(stack, ROOT)
    return plan_resolved(resolve(load_catalog("jobs.catalog:CATALOG"), settings.jobs), settings)


def braces(text: str, after: str) -> set[str]:
    """The names of the first `{a, b: value, c?}` list after `after` (`?`: an optional one)."""
    tail = text[text.index(after) :]
    inside = re.search(r"`\{([^}`]*)\}`", tail)
    assert inside, f"no {{...}} after {after!r}"
    return {k.split(":")[0].strip().rstrip("?") for k in inside.group(1).split(",")}


def test_the_plan_keys_are_those_plan_js_carries():
    text = WORKER_DOC.read_text()
    config = plan("prod").worker_config()
    assert braces(text, "(`DeployPlan.worker_config()`") == set(config)
    assert braces(text, "a job is `{") == set(PLAN_JS_JOB_FIELDS)
    assert {k for job in config["jobs"] for k in job} <= set(PLAN_JS_JOB_FIELDS)


def healthz_keys() -> list[str]:
    """The keys of the Worker's healthy `GET /healthz` answer, read from worker_src/src/api.ts."""
    api = (WORKER / "src" / "api.ts").read_text()
    route = api[api.index('path === "/healthz"') :]
    answer = re.search(r"json\(\{ ok: true, (.*?) \}\)", route)
    assert answer, "api.ts: the /healthz answer moved"
    return ["ok", *(part.split(":")[0].strip() for part in answer.group(1).split(", "))]


def test_worker_md_says_what_healthz_answers():
    assert braces(WORKER_DOC.read_text(), "| `GET /healthz` |") == set(healthz_keys())


def test_the_healthz_example_is_what_a_dev_stack_answers():
    """OPERATIONS.md's first check after a deploy (`pulumi up --stack dev`), byte for byte."""
    text = (ROOT / "docs" / "OPERATIONS.md").read_text()
    shown = re.search(r'/healthz"\s+# (\{.*\})$', text, re.M)
    assert shown, "OPERATIONS.md: the /healthz example moved"
    p = plan("dev").worker_config()
    answer = {"ok": True, "mode": p["mode"], "jobs": len(p["jobs"]), "catalog_hash": "<hash>"}
    assert list(answer) == healthz_keys()
    assert shown.group(1) == json.dumps(answer, separators=(",", ":"))
