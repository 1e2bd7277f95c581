"""Subcommands of the ``ecg`` CLI; each module has ``register(subparsers)``."""

from __future__ import annotations

import argparse

from ecg.commands import data, models, report, score, stream


def register_all(sub: argparse._SubParsersAction) -> None:
    data.register(sub)
    score.register(sub)
    models.register(sub)
    report.register(sub)
    stream.register(sub)
