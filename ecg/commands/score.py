"""``ecg score INPUT... --out DIR``: score many records, write per-record outputs."""

from __future__ import annotations

import argparse
from pathlib import Path


def _score(args: argparse.Namespace) -> int:
    from ecg.scoring.batch import ALL_FORMATS, score_batch, summary_table

    if args.backend == "onnx":
        from ecg.models.backends import import_onnxruntime

        import_onnxruntime()  # a missing 'edge' extra is one error here, not one per record
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip()) if args.formats else ALL_FORMATS
    lead: int | str | None = args.lead
    if isinstance(lead, str) and lead.isdigit():
        lead = int(lead)
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
        "--threshold",
        type=float,
        default=None,
        help="anomaly-score threshold on the 0-100 scale (default: the bundle's calibrated threshold, 99)",
    )
    p.add_argument(
        "--lead", default=None, help="analyse this lead only (name or index; default: every lead, fused per beat)"
    )
    p.add_argument(
        "--formats", default=None, help="comma-separated subset of csv,parquet,json,wfdb,edf,pdf (default: all)"
    )
    p.add_argument(
        "--bundle",
        default=None,
        help="model bundle: ds1 (evaluation, trained on DS1), production (trained on all 44 non-paced "
        "MIT-BIH records; the default), ds1-int8 / production-int8 (their int8 versions) or a file",
    )
    p.add_argument(
        "--force", action="store_true", help="re-score records already scored with the same bundle and input"
    )
    p.add_argument(
        "--backend",
        choices=("torch", "onnx"),
        default="torch",
        help="run the networks with PyTorch (default) or ONNX Runtime (needs the 'edge' extra)",
    )
    p.add_argument(
        "--full-disclosure",
        action="store_true",
        help="add the whole recording to the PDF in compressed rows (1 minute per row) with beat labels",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_score)
