"""The program's dynamic providers (the Modal deployment, the D1 migrations) and the one seam
each crosses to reach Modal or the Cloudflare API, which the tests replace with local fakes.
"""

from __future__ import annotations

from pathlib import Path

from cronflare import bundle

PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")


def project_root(start: Path | None = None) -> Path:
    """The project being deployed, where `jobs` imports from: a provider runs in its own process,
    inside the project but without the program's root directory, so the nearest folder up from
    the working directory with a Pulumi.yaml; else the checkout cronflare runs from; else here.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if any((folder / name).is_file() for name in PROJECT_FILES):
            return folder
    return bundle.ROOT if bundle.in_checkout() else here
