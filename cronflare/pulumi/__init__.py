"""cronflare's Pulumi component, for any Pulumi program: `program_inputs()` reads the stack's
`cronflare:` config and the catalog, and `Scheduler` provisions the Modal app and the Worker
beside the program's other resources (docs/PULUMI.md).

Imports `cronflare.catalog`, `cronflare.settings`, `cronflare.plan`, `cronflare.bundle`, and of
`cronflare.runtime` only `signing` (the alert key) and `image` (what the Modal image carries).
`import cronflare` does not import it: only a program needs pulumi.
"""

from cronflare.pulumi.inputs import program_inputs, stack_settings
from cronflare.pulumi.scheduler import Scheduler, SchedulerArgs

__all__ = ["Scheduler", "SchedulerArgs", "program_inputs", "stack_settings"]
