"""Options shared by the scoring subcommands (``score``, ``report``, ``stream``): one
definition each, so their names, defaults and help read the same everywhere."""

from __future__ import annotations

import argparse

#: Output formats of a scored record, as ``ecg.scoring.batch.ALL_FORMATS`` (kept here as text so
#: that building the parser does not import the library).
FORMATS_HELP = "comma-separated subset of csv,parquet,json,wfdb,edf,pdf (default: all)"
BUNDLE_HELP = (
    "model bundle: ds1 (evaluation, trained on DS1), production (trained on all 44 non-paced MIT-BIH "
    "records; the default), ds1-int8 / production-int8 (their int8 versions) or a file"
)


def add_lead(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lead", default=None, help="analyse this lead only (name or index; default: every lead, fused per beat)"
    )


def lead_value(text: str | None) -> int | str | None:
    """``--lead``'s value: an index when it is all digits, else a lead name."""
    return int(text) if isinstance(text, str) and text.isdigit() else text


def add_threshold(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="anomaly-score threshold on the 0-100 scale (default: the bundle's calibrated threshold, 99)",
    )


def add_bundle(p: argparse.ArgumentParser, note: str = "") -> None:
    p.add_argument("--bundle", default=None, help=BUNDLE_HELP + (f"; {note}" if note else ""))


def add_backend(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        choices=("torch", "onnx"),
        default="torch",
        help="run the networks with PyTorch (default) or ONNX Runtime (needs the 'edge' extra)",
    )


def add_formats(p: argparse.ArgumentParser) -> None:
    p.add_argument("--formats", default=None, help=FORMATS_HELP)


def formats_value(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """``--formats``' value as a tuple (``default`` when not given); unknown names are left for
    the library to refuse with its own message."""
    return tuple(f.strip() for f in text.split(",") if f.strip()) if text else default


def add_full_disclosure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--full-disclosure",
        action="store_true",
        help="add the whole recording to the PDF in compressed rows (1 minute per row) with beat labels",
    )
