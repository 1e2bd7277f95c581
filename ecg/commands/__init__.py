"""Subcommands of the ``ecg`` CLI; each module has ``register(subparsers)``."""

from __future__ import annotations

import argparse


def register_all(sub: "argparse._SubParsersAction") -> None:
    from ecg.commands import data, models, score

    data.register(sub)
    score.register(sub)
    models.register(sub)
