"""What a batch passes around: a record to score and its outcome, and the cores a process
may use. Shared by :mod:`ecg.scoring.batch` and :mod:`ecg.scoring.distributed` (which
:mod:`ecg.scoring.batch` loads only when a cluster is asked for, as Dask is heavy to import)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecordInput:
    """One record to score: a local path (a WFDB base path without extension, or an EDF, BDF or
    ISHNE file) or a PhysioNet name."""

    name: str
    path: str | None = None
    pn_dir: str | None = None

    @property
    def label(self) -> str:
        return f"{self.pn_dir}/{self.name}" if self.pn_dir else str(self.path)


@dataclass
class RecordOutcome:
    name: str
    status: str  # "scored", "skipped", "failed"
    error: str = ""
    row: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a container's share)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


__all__ = ["RecordInput", "RecordOutcome", "available_cores"]
