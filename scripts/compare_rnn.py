"""GRU versus LSTM versus GRU + attention: the same architecture, data, seed and epoch budget;
only the recurrent cell differs, or a self-attention layer is added over the classifier's
beat-sequence states.

Trains the bundles on DS1 (validation on DS1 held-out patients) with the shipped recipe
(``--set`` adds TrainConfig overrides for all), then reports parameter counts, training
seconds per epoch, inference beats/s and the DS2 VEB / SVEB F1 of the evaluation protocols
(reference R positions, end to end on every lead, cross-lead, cross-device). DS2 is only
measured, never used for a choice.

    python scripts/compare_rnn.py [--data-dir DIR] [--out reports/compare_rnn] [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, default_mitdb_dir, write_json  # noqa: E402

from ecg.datasets import DS2  # noqa: E402
from ecg.models.networks import n_parameters  # noqa: E402
from ecg.models.train_bundle import train_bundle  # noqa: E402
from ecg.models.training import TrainConfig  # noqa: E402
from ecg.reports.evaluation import evaluate_records  # noqa: E402

#: The architectures compared: name -> (recurrent cell, self-attention over the beat sequence).
ARCHITECTURES: dict[str, tuple[str, bool]] = {
    "gru": ("gru", False),
    "lstm": ("lstm", False),
    "gru_attention": ("gru", True),
}


def inference_rate(bundle, data_dir: Path, record: str = "208", repeats: int = 3) -> float:
    """Beats per second of both models on one record's beats (median of ``repeats`` runs)."""
    import torch

    from ecg.io.records import load_record
    from ecg.models.inference import ae_errors, predict_proba
    from ecg.processing.pipeline import beats_from_signal

    rec = load_record(record, data_dir)
    b = beats_from_signal(rec.lead(0), rec.fs, rec.annotations.beats().sample, bundle.config)
    inp = bundle.inputs(b.waves, b.rr)
    times = []
    torch.set_num_threads(2)
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict_proba(bundle.classifier, inp, bundle.seq_len, channels=bundle.clf_channels)
        ae_errors(bundle.autoencoder, inp.waves)
        times.append(time.perf_counter() - t0)
    return len(b) / float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("reports/compare_rnn"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clf-epochs", type=int, default=None, help="override the epoch budget (both cells)")
    ap.add_argument("--ae-epochs", type=int, default=None)
    ap.add_argument("--modes", nargs="+", default=["reference", "end_to_end", "cross_lead", "cross_device"])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    data_dir = args.data_dir or default_mitdb_dir()
    print(f"# {command_line()}\n# data: {data_dir}")
    rows = {}
    for name, (cell, attention) in ARCHITECTURES.items():
        # Same budget for all: fixed epochs, early stopping off (patience = budget).
        cfg = TrainConfig(seed=args.seed, cell=cell, attention=attention)
        if args.clf_epochs:
            cfg.clf_epochs = args.clf_epochs
        if args.ae_epochs:
            cfg.ae_epochs = args.ae_epochs
        cfg.patience = cfg.clf_epochs
        path = args.out / f"{name}.pt"
        print(f"\n== training {name} ==", flush=True)
        bundle = train_bundle(data_dir, path, cfg, progress=True, echo=None)
        log = [ln for ln in _read_log(Path(str(path) + ".log.jsonl"))]
        clf_epochs = [ln["seconds"] for ln in log if ln.get("model") == "classifier" and "epoch" in ln]
        ae_epochs = [ln["seconds"] for ln in log if ln.get("model") == "autoencoder" and "epoch" in ln]
        res = evaluate_records(bundle, DS2, data_dir, modes=tuple(args.modes), progress=False)
        rows[name] = {
            "params_classifier": n_parameters(bundle.classifier),
            "params_autoencoder": n_parameters(bundle.autoencoder),
            "clf_seconds_per_epoch": float(np.mean(clf_epochs)),
            "ae_seconds_per_epoch": float(np.mean(ae_epochs)),
            "train_seconds_total": bundle.metadata["train_seconds"]["total"],
            "inference_beats_per_s": inference_rate(bundle, data_dir),
            **{f"ds2_{m}_{k}": res[m]["headline"][k] for m in args.modes for k in ("veb_f1", "sveb_f1")},
            "ds2_reference_ae_roc_auc": res[args.modes[0]]["headline"]["ae_roc_auc"],
        }
    names = list(rows)
    print("\n| metric | " + " | ".join(names) + " |\n|---" * 1 + "|---" * len(names) + "|")
    for k in rows[names[0]]:
        fmt = (lambda v: f"{v:,.0f}") if (k.startswith("params") or "beats_per_s" in k) else (lambda v: f"{v:.3f}")
        print(f"| {k} | " + " | ".join(fmt(rows[n][k]) for n in names) + " |")
    if args.json:
        write_json(args.json, {"command": command_line(), "results": rows})
    return 0


def _read_log(path: Path) -> list[dict]:
    import json

    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


if __name__ == "__main__":
    raise SystemExit(main())
