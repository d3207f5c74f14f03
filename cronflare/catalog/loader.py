"""Find the catalog to use: --catalog, else $CRONFLARE_CATALOG, else jobs.catalog:CATALOG."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cronflare.catalog.model import Catalog, CatalogError, validation_lines

DEFAULT_CATALOG = "jobs.catalog:CATALOG"
ENV_VAR = "CRONFLARE_CATALOG"


class RefError(Exception):
    """An import path "package.module:attr" that does not lead to an object; says why."""


def current_directory_importable() -> None:
    """Put the current directory first on sys.path, as `python -m`, uvicorn and `modal run` do:
    a project's `myjobs.catalog` imports from where the command runs, with no PYTHONPATH. An
    installed console script's sys.path starts at its own bin folder instead.
    """
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)


def import_ref(ref: str) -> Any:
    """The object an import path "package.module:attr.sub" names: a handler, a stand-in, an
    image. Raises RefError saying what is missing.
    """
    current_directory_importable()
    module_name, _, attr = ref.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as err:
        raise RefError(f"cannot import {module_name!r}: {type(err).__name__}: {err}") from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise RefError(f"{module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    return target


def catalog_ref(explicit: str | None = None) -> str:
    """The catalog reference in force: explicit, then the environment, then the default."""
    return explicit or os.environ.get(ENV_VAR) or DEFAULT_CATALOG


def load_catalog(ref: str | None = None) -> Catalog:
    """Import a catalog from "module:attribute" or "path/to/file.py[:attribute]"."""
    ref = catalog_ref(ref)
    current_directory_importable()
    target, _, attr = ref.partition(":")
    attr = attr or "CATALOG"
    try:
        if target.endswith(".py") or "/" in target or os.sep in target:
            module = _load_file(Path(target))
        else:
            module = importlib.import_module(target)
    except CatalogError:
        raise
    except ValidationError as err:
        raise CatalogError(
            validation_lines(err, subject=f"catalog {_where(err)}{err.title}")
        ) from None
    except FileNotFoundError:
        raise CatalogError([f"catalog: {ref}: no such file"]) from None
    except Exception as err:
        raise CatalogError(
            [f"catalog: {ref}: cannot import: {type(err).__name__}: {err}"]
        ) from None
    catalog = getattr(module, attr, None)
    if not isinstance(catalog, Catalog):
        found = type(catalog).__name__ if catalog is not None else "nothing"
        raise CatalogError([f"catalog: {ref}: {attr} must be a cronflare.Catalog, found {found}"])
    return catalog


def _where(err: BaseException) -> str:
    """Return "file.py:LINE: " of the innermost user frame, to point at the typo."""
    where = ""
    tb = err.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if "site-packages" not in name and not name.endswith(
            ("loader.py", "model.py", "<frozen importlib._bootstrap>")
        ):
            where = f"{Path(name).name}:{tb.tb_lineno}: "
        tb = tb.tb_next
    return where


def _load_file(path: Path):
    if not path.is_file():
        raise FileNotFoundError(path)
    name = f"cronflare_catalog_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
