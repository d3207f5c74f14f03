"""cronflare: typed cron schedules for Modal jobs, timed by Cloudflare, provisioned by Pulumi.

User code (a catalog and its handlers) imports only from here; the subpackages are machinery
and may move between releases. Importing this package stays cheap: pydantic, nothing of Modal,
Pulumi or the CLI; the schedules client (and httpx) loads on first use of one of its names.

Subpackages, and what each may import (tests/test_layout.py enforces them):
- `catalog`: the job model, schedules, validation, loading. Imports nothing else of cronflare.
- `runtime`: what runs on Modal (the app, the dispatcher, the job wrapper, executors, the
  idempotency store, signing, the run context). Imports `catalog`.
- `plan`, `settings`: the stack settings and the deploy plan. Import `catalog` and `cost.prices`.
- `cost`: the cost model and its dated prices. Imports `catalog`, `plan`, `settings`.
- `local`: the local stack and the demo. Imports `catalog`, `plan`, `settings`, `bundle`.
- `client`: an app's runtime schedules through the Worker's API. Imports nothing else.
- `bundle`, `drift`, `cli`: the Worker bundle, drift detection, the `cronflare` command.
- `pulumi`: the Scheduler component and its dynamic providers, for a Pulumi program.
- `testing`: what a project's own tests call (check the catalog, run a handler once).
- `scaffold`: `cronflare init`, from the templates under `templates/project/`.

Nothing here imports `jobs` or `infra`: the user's catalog is reached only through
CRONFLARE_CATALOG (default `jobs.catalog:CATALOG`).
"""

from typing import TYPE_CHECKING, Any

from cronflare.catalog.model import Catalog, Defaults, Image, Job, Resources, RetryPolicy
from cronflare.runtime.context import RunContext

if TYPE_CHECKING:
    from cronflare.client import (
        AsyncClient,
        BatchItem,
        Client,
        ClientError,
        Schedule,
        SchedulePage,
        ScheduleSpec,
    )

_CLIENT_NAMES = frozenset(
    {"AsyncClient", "BatchItem", "Client", "ClientError", "Schedule", "SchedulePage",
     "ScheduleSpec"}
)  # fmt: skip

__all__ = ["AsyncClient", "BatchItem", "Catalog", "Client", "ClientError", "Defaults", "Image",
           "Job", "Resources", "RetryPolicy", "RunContext", "Schedule", "SchedulePage",
           "ScheduleSpec"]  # fmt: skip


def __getattr__(name: str) -> Any:
    """The client's names, imported on first use: a catalog's import never waits for httpx."""
    if name in _CLIENT_NAMES:
        from cronflare import client

        return getattr(client, name)
    raise AttributeError(f"module 'cronflare' has no attribute {name!r}")
