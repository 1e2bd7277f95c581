"""Helpers shared by the scripts in this folder (not part of the library)."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def default_mitdb_dir() -> Path:
    """The full MIT-BIH database: $ECG_DATA_DIR, else ../shared/data/mitdb beside the
    repository (development machines and CI), else data/mitdb, else the demo records in data/."""
    env = os.environ.get("ECG_DATA_DIR")
    if env:
        return Path(env)
    for cand in (REPO.parent / "shared" / "data" / "mitdb", REPO / "data" / "mitdb"):
        if (cand / "100.hea").is_file():
            return cand
    return REPO / "data"


def command_line() -> str:
    """The command that reproduces this run."""
    return "python " + " ".join(shlex.quote(a) for a in sys.argv)


def write_json(path: str | os.PathLike, payload: dict) -> None:
    from ecg.io.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(payload, indent=2, default=float) + "\n")
