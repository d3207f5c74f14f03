"""What a handler is told about the run it is doing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class RunContext:
    """One run of one job: handlers receive this as their only argument."""

    execution_id: str
    job: str
    scheduled_time: datetime
    trigger: str = "manual"
    attempt: int = 1

    @property
    def output_dir(self) -> Path:
        """Where this job may write files: $CRONFLARE_OUTPUT_DIR/<job>, created on first use."""
        root = Path(os.environ.get("CRONFLARE_OUTPUT_DIR", ".cronflare/output"))
        path = root / self.job
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def stamp(self) -> str:
        """The scheduled minute as a file-name-safe UTC stamp, such as 20261123T0900Z."""
        return self.scheduled_time.strftime("%Y%m%dT%H%MZ")
