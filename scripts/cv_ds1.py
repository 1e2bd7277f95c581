"""Patient-wise cross-validation inside DS1: the honest way to compare model variants.

DS1's 22 patients are split into 5 fixed folds, balanced by hand so that every fold holds
S and V beats. For fold k the models are trained on three folds, early-stopped and
calibrated on the next fold (k+1), and measured on fold k, whose patients they never saw.
DS2 is never read. Report the mean and spread over folds, and the pooled statistics (the
folds' confusion matrices summed, which weighs every DS1 beat once and is steadier than a
per-fold mean when a fold holds few S beats), before choosing a variant; then evaluate the
chosen one once on DS2.

    python scripts/cv_ds1.py [--data-dir DIR] [--set key=value ...] [--modes reference cross_lead] [--keep DIR] [--json PATH]

``--set`` overrides TrainConfig fields, e.g. ``--set class_weight_power=1.0 --set seed=1`` or
``--set "train_leads=('primary','second')"``. ``--modes`` adds evaluation protocols of
``ecg.reports.evaluation.MODES`` (the first is the headline; each is reported and pooled);
``--keep`` keeps the fold bundles (``fold<k>.pt``) for later comparisons on the same folds.
"""

from __future__ import annotations

import argparse
import ast
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, default_mitdb_dir, write_json  # noqa: E402

from ecg.datasets import DS1  # noqa: E402
from ecg.models.bundle import load_bundle  # noqa: E402
from ecg.models.train_bundle import train_bundle  # noqa: E402
from ecg.models.training import TrainConfig  # noqa: E402
from ecg.reports.evaluation import MODES, evaluate_records  # noqa: E402

#: Five DS1 folds; each holds supraventricular and ventricular ectopic beats.
FOLDS: tuple[tuple[str, ...], ...] = (
    ("209", "106", "101", "112", "122"),
    ("201", "208", "109", "115"),
    ("207", "119", "114", "116", "230"),
    ("118", "203", "205", "108"),
    ("220", "223", "124", "215"),
)
METRICS = ("veb_f1", "veb_se", "veb_ppv", "sveb_f1", "sveb_se", "sveb_ppv", "macro_f1", "j_kappa", "ae_roc_auc")


def pooled_statistics(matrices: list) -> dict[str, float]:
    """EC57 headline statistics of the summed 6x6 (N S V F Q O) fold confusion matrices."""
    from ecg.evaluate.metrics import ec57_statistics

    full = np.sum(np.asarray(matrices, dtype=np.int64), axis=0)
    st = ec57_statistics(full[:5, :5], full[:5, 5], full[5, :5])
    out = {f"{c}_{k}": st[c][k] for c in ("veb", "sveb") for k in ("f1", "se", "ppv")}
    out.update(macro_f1=st["macro_f1"], j_kappa=st["j_kappa"])
    return {k: float(v) for k, v in out.items()}


def parse_overrides(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        if not hasattr(TrainConfig(), key):
            raise SystemExit(f"unknown TrainConfig field {key!r}")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="TrainConfig override")
    ap.add_argument("--modes", nargs="+", default=["reference"], choices=list(MODES))
    ap.add_argument("--keep", type=Path, default=None, help="keep the fold bundles in this folder")
    ap.add_argument(
        "--reuse",
        type=Path,
        default=None,
        help="evaluate the fold bundles kept by an earlier --keep run instead of training",
    )
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    assert sorted(r for f in FOLDS for r in f) == sorted(DS1), "folds must partition DS1"
    data_dir = args.data_dir or default_mitdb_dir()
    overrides = parse_overrides(args.set)
    print(f"# {command_line()}\n# data: {data_dir}; overrides: {overrides or 'none'}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = args.keep or Path(tmp_dir)
        tmp.mkdir(parents=True, exist_ok=True)
        for k, test in enumerate(FOLDS):
            val = FOLDS[(k + 1) % len(FOLDS)]
            train = [r for i, f in enumerate(FOLDS) if i not in (k, (k + 1) % len(FOLDS)) for r in f]
            cfg = TrainConfig(val_records=tuple(val), **overrides)
            t0 = time.perf_counter()
            if args.reuse:
                bundle = load_bundle(args.reuse / f"fold{k}.pt")
            else:
                bundle = train_bundle(
                    data_dir,
                    Path(tmp) / f"fold{k}.pt",
                    cfg,
                    records=tuple(train) + tuple(val),
                    progress=False,
                    echo=None,
                )
            allres = evaluate_records(bundle, test, data_dir, modes=tuple(args.modes), progress=False)
            res = allres[args.modes[0]]
            row = {
                "fold": k,
                "test": list(test),
                "val": list(val),
                "seconds": time.perf_counter() - t0,
                **{m: res["headline"][m] for m in METRICS},
                "confusion_matrix": res["confusion_matrix"]["matrix"],
                "per_record": [{k: v for k, v in r.items() if k != "seconds"} for r in res["per_record"]],
                "modes": {
                    mode: {
                        "headline": allres[mode]["headline"],
                        "confusion_matrix": allres[mode]["confusion_matrix"]["matrix"],
                    }
                    for mode in args.modes
                },
            }
            rows.append(row)
            print(
                f"fold {k} test {' '.join(test):24} "
                + " ".join(f"{m}={row[m]:.3f}" for m in METRICS)
                + f"  ({row['seconds']:.0f} s)",
                flush=True,
            )
    summary = {}
    for m in METRICS:
        v = np.array([r[m] for r in rows], dtype=float)
        summary[m] = {
            "mean": float(np.nanmean(v)),
            "std": float(np.nanstd(v)),
            "min": float(np.nanmin(v)),
            "max": float(np.nanmax(v)),
        }
    pooled = pooled_statistics([r["confusion_matrix"] for r in rows])
    pooled_modes = {
        mode: pooled_statistics([r["modes"][mode]["confusion_matrix"] for r in rows]) for mode in args.modes
    }
    for mode, p in pooled_modes.items():
        print(f"pooled {mode:12} " + " ".join(f"{m}={v:.3f}" for m, v in p.items()))
    print("\nmean +- sd over folds (patient-wise, DS1 only):")
    for m, s in summary.items():
        print(
            f"  {m:11} {s['mean']:.3f} +- {s['std']:.3f}   [{s['min']:.3f}, {s['max']:.3f}]   pooled {pooled.get(m, float('nan')):.3f}"
        )
    if args.json:
        write_json(
            args.json,
            {
                "command": command_line(),
                "overrides": overrides,
                "folds": rows,
                "summary": summary,
                "pooled": pooled,
                "modes": list(args.modes),
                "pooled_modes": pooled_modes,
            },
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
