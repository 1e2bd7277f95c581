"""``ecg train``, ``ecg evaluate``, ``ecg quantize-model`` and ``ecg export-model``."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

# Training and evaluation need torch, scipy and pandas (seconds to import): imported inside
# each command so that `ecg --help` starts fast.


def _command_line() -> str:
    return "ecg " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _train(args: argparse.Namespace) -> int:
    from ecg.models.bundle import EVALUATION_BUNDLE, bundle_path
    from ecg.models.train_bundle import train_bundle
    from ecg.models.training import TrainConfig

    cfg = TrainConfig(seed=args.seed, threads=args.threads, cell=args.cell)
    if args.clf_epochs is not None:
        cfg.clf_epochs = args.clf_epochs
    if args.ae_epochs is not None:
        cfg.ae_epochs = args.ae_epochs
    if args.val_records:
        cfg.val_records = tuple(args.val_records)
    if args.n_classifiers is not None:
        cfg.n_classifiers = args.n_classifiers
    records = tuple(args.records) if args.records else None
    kwargs = {"records": records} if records else {}
    out = args.out or bundle_path("production" if args.production else EVALUATION_BUNDLE)
    if args.production and args.evaluate_ds2:
        print("--evaluate-ds2 does not apply to the production bundle: DS2 is in its training set")
        return 2
    bundle = train_bundle(args.data_dir, out, cfg, progress=not args.quiet, production=args.production, **kwargs)
    if args.evaluate_ds2:  # stored for the record; never used to choose anything
        from ecg.datasets import DS2
        from ecg.reports.evaluation import evaluate_records

        res = evaluate_records(bundle, DS2, args.data_dir, modes=("reference",), progress=not args.quiet)
        bundle.metadata["ds2_reference"] = res["reference"]["headline"]
        bundle.save(out)
    secs = bundle.metadata["train_seconds"]["total"]
    print(f"wrote {out} (version {bundle.version}) in {secs:.0f} s; log: {out}.log.jsonl")
    v = bundle.metadata["validation"]
    print(
        f"validation (DS1 held-out patients {', '.join(bundle.metadata['val_records'])}): "
        f"autoencoder ROC-AUC {v['val_roc_auc']:.3f}, rr_weight {v['chosen_rr_weight']}"
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from ecg.datasets import split_records
    from ecg.models.bundle import load_bundle
    from ecg.reports.evaluation import evaluate_records, to_markdown, write_report

    bundle = load_bundle(args.bundle)
    records = args.records or list(split_records(args.split))
    modes = {"both": ("reference", "end_to_end"), "all": ("reference", "end_to_end", "cross_lead", "cross_device")}.get(
        args.mode, (args.mode,)
    )
    result = evaluate_records(bundle, records, args.data_dir, modes=modes, progress=not args.quiet)
    cmd = _command_line()
    md, js = write_report(result, args.out, cmd, name=args.name)
    print(to_markdown(result, cmd))
    print(f"wrote {md} and {js}")
    return 0


def _quantize_model(args: argparse.Namespace) -> int:
    from ecg.models.bundle import BUNDLE_NAMES, int8_bundle_name, load_bundle, quantize_bundle

    if args.out is None and args.bundle not in BUNDLE_NAMES:
        print("--out is needed for a bundle given by path", file=sys.stderr)
        return 2
    out = args.out or BUNDLE_NAMES[int8_bundle_name(args.bundle)]
    src = load_bundle(args.bundle)
    int8 = quantize_bundle(src)
    int8.save(out)
    before, after = BUNDLE_NAMES.get(args.bundle, Path(args.bundle)).stat().st_size, Path(out).stat().st_size
    print(
        f"wrote {out} ({int8.version}, sha256 {int8.digest[:12]}): "
        f"{after / 1024:.1f} KiB, {after / before:.2f} x the float file"
    )
    return 0


def _export_model(args: argparse.Namespace) -> int:
    from ecg.models.backends import import_onnxruntime
    from ecg.models.bundle import DEFAULT_BUNDLE, load_bundle
    from ecg.models.onnx_export import write_onnx_bundle

    import_onnxruntime()  # the edge extra: a clear error before any work when it is missing
    name = args.bundle or DEFAULT_BUNDLE
    bundle = load_bundle(name)
    for path in write_onnx_bundle(bundle, args.out, name=str(name)):
        print(f"wrote {path} ({path.stat().st_size / 1024:.1f} KiB)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:

    p = sub.add_parser("train", help="train both GRU models on DS1 and write a bundle")
    p.add_argument("--data-dir", required=True, help="WFDB directory holding the MIT-BIH DS1 records")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="bundle file to write (default: the shipped evaluation bundle, or with --production the "
        "production bundle)",
    )
    p.add_argument(
        "--production",
        action="store_true",
        help="train the production bundle: the same recipe on all 44 non-paced MIT-BIH records",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cell", choices=["gru", "lstm"], default="gru")
    p.add_argument("--clf-epochs", type=int, default=None)
    p.add_argument("--ae-epochs", type=int, default=None)
    p.add_argument("--n-classifiers", type=int, default=None, help="classifier ensemble members (default 1)")
    p.add_argument("--records", nargs="*", default=None, help="training records (default: DS1)")
    p.add_argument("--val-records", nargs="*", default=None, help="held-out validation patients (within DS1)")
    p.add_argument(
        "--evaluate-ds2",
        action="store_true",
        help="after training, store DS2 results in the bundle's metadata (never used for choices)",
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="EC57 evaluation of a bundle on DS2 (inter-patient)")
    p.add_argument("--data-dir", required=True, help="WFDB directory holding the MIT-BIH records")
    p.add_argument(
        "--bundle", default="ds1", help="bundle name (ds1, production) or file (default: ds1, the evaluation bundle)"
    )
    p.add_argument("--split", default="DS2")
    p.add_argument("--records", nargs="*", default=None)
    p.add_argument(
        "--mode",
        choices=["reference", "end_to_end", "cross_lead", "cross_device", "primary_lead", "both", "all"],
        default="all",
        help="reference beat positions, end to end (every lead as real use), the "
        "second lead only (cross-lead), resampled to a 128 Hz Holter (cross-device); both = the first "
        "two; all (default) = the four",
    )
    p.add_argument("--out", type=Path, default=Path("reports"))
    p.add_argument("--name", default="ds2_evaluation")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser(
        "quantize-model",
        help="write the int8 version of a bundle (PyTorch dynamic quantisation of the GRU and Linear layers)",
    )
    p.add_argument("--bundle", default="ds1", help="float bundle name (ds1, production) or file (default: ds1)")
    p.add_argument(
        "--out", type=Path, default=None, help="file to write (default for a named bundle: its shipped NAME-int8 file)"
    )
    p.set_defaults(func=_quantize_model)

    p = sub.add_parser(
        "export-model", help="write a bundle's two networks as ONNX with a JSON sidecar (the bundle's contract)"
    )
    p.add_argument(
        "--bundle", default=None, help="bundle name (ds1, production, ...-int8) or file (default: production)"
    )
    p.add_argument("--format", choices=["onnx"], default="onnx", help="export format (onnx)")
    p.add_argument(
        "--out", type=Path, required=True, help="directory for autoencoder.onnx, classifier.onnx, bundle.json"
    )
    p.set_defaults(func=_export_model)
