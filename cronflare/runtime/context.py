"""What a handler is told about the run it is doing."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunContext:
    """One run of one job: handlers receive this as their only argument."""

    execution_id: str
    job: str
    scheduled_time: datetime
    trigger: str = "manual"
    attempt: int = 1
    args: Mapping[str, Any] = field(default_factory=dict)  # the job's args, or a manual run's
    volumes: Mapping[str, str] = field(default_factory=dict)  # mount path -> Modal Volume name

    @property
    def output_dir(self) -> Path:
        """Where this job may write files: $CRONFLARE_OUTPUT_DIR/<job>, created on first use.

        On Modal that folder is on the stack's output Volume, committed when the handler
        returns, so later runs and other jobs read what this one wrote; locally it is under
        .cronflare/.
        """
        root = Path(os.environ.get("CRONFLARE_OUTPUT_DIR", ".cronflare/output"))
        path = root / self.job
        path.mkdir(parents=True, exist_ok=True)
        return path

    def volume(self, mount_path: str) -> Path:
        """The folder of one of the job's volumes, by the mount path the catalog gives it.

        On Modal that is the mount path itself. Locally (no Modal) it is
        $CRONFLARE_VOLUME_ROOT/<volume name>, by default under .cronflare/volumes/, so jobs
        naming the same volume share it there too. Created on first use.
        """
        if mount_path not in self.volumes:
            known = ", ".join(sorted(self.volumes)) or "none"
            raise KeyError(f"job {self.job} mounts no volume at {mount_path!r} (it has: {known})")
        if os.environ.get("CRONFLARE_VOLUMES_MOUNTED"):
            path = Path(mount_path)
        else:
            root = Path(os.environ.get("CRONFLARE_VOLUME_ROOT", ".cronflare/volumes"))
            path = root / self.volumes[mount_path]
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def stamp(self) -> str:
        """The scheduled minute as a file-name-safe UTC stamp, such as 20261123T0900Z."""
        return self.scheduled_time.strftime("%Y%m%dT%H%MZ")
