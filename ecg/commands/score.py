"""``ecg score INPUT... --out DIR``: score many records, write per-record outputs."""

from __future__ import annotations

import argparse
from pathlib import Path

from ecg.commands.options import (
    add_backend,
    add_bundle,
    add_formats,
    add_full_disclosure,
    add_lead,
    add_threshold,
    formats_value,
    lead_value,
)


def _score(args: argparse.Namespace) -> int:
    from ecg.scoring.batch import ALL_FORMATS, score_batch, summary_table

    if args.backend == "onnx":
        from ecg.models.backends import import_onnxruntime

        import_onnxruntime()  # a missing 'edge' extra is one error here, not one per record
    formats = formats_value(args.formats, ALL_FORMATS)
    lead = lead_value(args.lead)
    outcomes = score_batch(
        args.inputs,
        args.out,
        bundle_path=args.bundle,
        jobs=args.jobs,
        threshold=args.threshold,
        lead=lead,
        formats=formats,
        force=args.force,
        progress=not args.quiet,
        wait=args.wait,
        scheduler=args.scheduler,
        workers=args.workers,
        backend=args.backend,
        full_disclosure=args.full_disclosure,
    )
    print(summary_table(outcomes))
    print(f"outputs in {args.out}/ (index: {Path(args.out) / 'index.csv'})")
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="score records (directories, record paths or PhysioNet names such as mitdb/100)")
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="a directory of WFDB records, a record path (with or without .hea), or a PhysioNet name",
    )
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="records scored in parallel (processes on this machine; each gets cores/JOBS PyTorch "
        "threads, and they end with this command however it ends)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="score on a Dask cluster: 'local' starts one on this machine, else a scheduler address "
        "such as tcp://host:8786 (inputs, --out and --bundle must then be on a filesystem "
        "shared by every worker, at the same paths)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes of --scheduler local (default: one per core)",
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="if another `ecg score` is writing into --out, wait for it to end instead of refusing",
    )
    p.add_argument(
        "--force", action="store_true", help="re-score records already scored with the same bundle and input"
    )
    add_threshold(p)
    add_lead(p)
    add_formats(p)
    add_bundle(p)
    add_backend(p)
    add_full_disclosure(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_score)
