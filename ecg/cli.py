"""The ``ecg`` command line. Subcommands live in small modules under ``ecg.commands``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ecg import __version__
from ecg.commands import register_all
from ecg.errors import ECGError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecg", description="ECG anomaly detection on WFDB records.")
    parser.add_argument("--version", action="version", version=f"ecg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    register_all(sub)
    return parser


def _configure_threads() -> None:
    """``ECG_TORCH_THREADS`` caps PyTorch's threads (e.g. 1 on a machine busy with other work,
    where oversubscribed threads slow inference down many times)."""
    n = os.environ.get("ECG_TORCH_THREADS")
    if n and n.strip().isdigit() and int(n) > 0:
        import torch  # only when asked: torch takes seconds to import and `ecg --help` must not wait

        torch.set_num_threads(int(n))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_threads()
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except ECGError as exc:
        print(f"ecg: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("ecg: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
