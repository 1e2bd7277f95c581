"""Inter-patient evaluation of a model bundle on whole records, through :func:`score_record`.

Two modes:

* ``reference``: beats at the reference annotation positions (comparable with the literature);
* ``end_to_end``: the project's own R-peak detector and bxb matching within 150 ms, as a
  real recording is scored. Missed reference beats count as false negatives of their class
  (bxb's ``O`` column) and extra detections as false positives of the class they were given
  (the ``O`` row).

All beats of every record are used (no 5-minute learning period is skipped). Reference beats
of class Q are kept in the confusion matrix; EC57 does not count Q against VEB/SVEB +P.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ecg.datasets.variants import holter_variant
from ecg.evaluate.metrics import CLASSES_5, confusion_matrix, ec57_statistics, pr_auc, roc_auc
from ecg.io.records import Record, load_record
from ecg.models.bundle import ModelBundle
from ecg.processing.pipeline import SECOND_LEAD, choose_lead
from ecg.scoring.score import ScoredRecord, score_record

#: Evaluation modes. ``reference``: the annotated beat positions (literature-comparable);
#: ``end_to_end``: our detector on every lead, fused, as real use; ``primary_lead``: end to end
#: on the preferred lead (MLII) alone; ``cross_lead``: end to end on the second lead
#: only (V1, V2, V4 or V5 in MIT-BIH), which a model must not need MLII for; ``cross_device``:
#: end to end on the record as a 128 Hz, 0.05-40 Hz Holter would record it
#: (:func:`ecg.datasets.variants.holter_variant`).
MODES = ("reference", "end_to_end", "cross_lead", "cross_device", "primary_lead")


def second_lead(record: Record) -> int:
    """Index of the record's lead other than the one analysed by default (the first other one)."""
    try:
        return choose_lead(record.lead_names, SECOND_LEAD)
    except ValueError:
        raise ValueError(f"record {record.name} has one lead: no cross-lead evaluation") from None


def score_for_mode(record: Record, bundle: ModelBundle, mode: str, backend: str = "torch") -> ScoredRecord:
    """``score_record`` of ``record`` as evaluation ``mode`` (:data:`MODES`) prescribes, the
    networks run on ``backend`` (``"torch"`` or ``"onnx"``)."""
    if mode == "reference":
        return score_record(record, bundle, peaks="reference", summary=False, backend=backend)
    if mode == "end_to_end":
        return score_record(record, bundle, summary=False, backend=backend)
    if mode == "primary_lead":
        return score_record(record, bundle, lead=choose_lead(record.lead_names), summary=False, backend=backend)
    if mode == "cross_lead":
        return score_record(record, bundle, lead=second_lead(record), summary=False, backend=backend)
    if mode == "cross_device":
        return score_record(holter_variant(record), bundle, summary=False, backend=backend)
    raise ValueError(f"unknown mode {mode!r}; use {MODES}")


def _record_counts(beats: pd.DataFrame, missed: pd.DataFrame) -> dict[str, Any]:
    matched = beats[beats["ref_class"] != ""]
    extra = beats[beats["ref_class"] == ""]
    cm = confusion_matrix(matched["ref_class"].to_numpy(), matched["pred_class"].to_numpy(), CLASSES_5)
    missed_counts = np.array([int((missed["ref_class"] == c).sum()) for c in CLASSES_5])
    extra_counts = np.array([int((extra["pred_class"] == c).sum()) for c in CLASSES_5])
    return {"cm": cm, "missed": missed_counts, "extra": extra_counts}


def evaluate_records(
    bundle: ModelBundle,
    records: Sequence[str],
    data_dir: str | os.PathLike | None,
    *,
    modes: Iterable[str] = MODES,
    progress: bool = True,
    backend: str = "torch",
) -> dict[str, Any]:
    """Score ``records`` in each mode (networks on ``backend``) and compute EC57 statistics and
    autoencoder metrics."""
    modes = tuple(modes)
    for m in modes:
        if m not in MODES:
            raise ValueError(f"unknown mode {m!r}; use {MODES}")
    acc = {
        m: {
            "cm": np.zeros((5, 5), np.int64),
            "missed": np.zeros(5, np.int64),
            "extra": np.zeros(5, np.int64),
            "rows": [],
            "scores": [],
            "labels": [],
            "anomaly_flags": [],
            "flags": [],
        }
        for m in modes
    }
    for name in tqdm(list(records), desc="evaluating", unit="record", disable=not progress):
        rec = load_record(name, data_dir, require_annotations=True)
        for m in modes:
            sr = score_for_mode(rec, bundle, m, backend)
            c = _record_counts(sr.beats, sr.missed_reference)
            a = acc[m]
            a["cm"] += c["cm"]
            a["missed"] += c["missed"]
            a["extra"] += c["extra"]
            st = ec57_statistics(c["cm"], c["missed"], c["extra"])
            a["rows"].append(
                {
                    "record": name,
                    "beats": st["beats"],
                    "missed": int(c["missed"].sum()),
                    "extra": int(c["extra"].sum()),
                    "veb_se": st["veb"]["se"],
                    "veb_ppv": st["veb"]["ppv"],
                    "sveb_se": st["sveb"]["se"],
                    "sveb_ppv": st["sveb"]["ppv"],
                    **{f"{c}_{k}": st[c][k] for c in ("veb", "sveb") for k in ("tp", "fn", "fp")},
                    "seconds": sr.seconds,
                }
            )
            matched = sr.beats[sr.beats["ref_class"] != ""]
            a["scores"].append(matched["anomaly_score"].to_numpy())
            a["labels"].append(matched["ref_class"].to_numpy())
            a["anomaly_flags"].append(matched["flag_reason"].str.contains("anomaly").to_numpy())
            a["flags"].append(matched["flagged"].to_numpy())

    out: dict[str, Any] = {
        "records": list(records),
        "bundle_version": bundle.version,
        "threshold": bundle.scorer.threshold,
        "modes": {},
    }
    for m in modes:
        a = acc[m]
        st = ec57_statistics(a["cm"], a["missed"], a["extra"])
        scores = np.concatenate(a["scores"])
        labels = np.concatenate(a["labels"])
        an_flag = np.concatenate(a["anomaly_flags"])
        flags = np.concatenate(a["flags"])
        normal = labels == "N"
        abnormal = np.isin(labels, ["S", "V", "F"])
        keep = (normal | abnormal) & np.isfinite(scores)  # beats in unreadable signal have no score
        ae = {
            "roc_auc": roc_auc(abnormal[keep], scores[keep]),
            "pr_auc": pr_auc(abnormal[keep], scores[keep]),
            "positives": "reference S, V, F beats; negatives: reference N beats",
            "caught_at_threshold": {
                c: float(an_flag[labels == c].mean()) if (labels == c).any() else None for c in ("S", "V", "F", "Q")
            },
            "false_alarm_rate_normal": float(an_flag[normal].mean()) if normal.any() else None,
            "flagged_any_reason": {
                c: float(flags[labels == c].mean()) if (labels == c).any() else None for c in ("N", "S", "V", "F", "Q")
            },
        }
        res = {
            "confusion_matrix": {
                "rows_reference": list(CLASSES_5) + ["O"],
                "cols_predicted": list(CLASSES_5) + ["O"],
                "matrix": _full_matrix(a["cm"], a["missed"], a["extra"]).tolist(),
            },
            "statistics": st,
            "autoencoder": ae,
            "per_record": a["rows"],
        }
        res["headline"] = headline(res)
        out["modes"][m] = res
        out[m] = res
    return out


def _full_matrix(cm: np.ndarray, missed: np.ndarray, extra: np.ndarray) -> np.ndarray:
    full = np.zeros((6, 6), np.int64)
    full[:5, :5] = cm
    full[:5, 5] = missed
    full[5, :5] = extra
    return full


def headline(res: dict[str, Any]) -> dict[str, float]:
    st, ae = res["statistics"], res["autoencoder"]
    return {
        "veb_f1": st["veb"]["f1"],
        "veb_se": st["veb"]["se"],
        "veb_ppv": st["veb"]["ppv"],
        "sveb_f1": st["sveb"]["f1"],
        "sveb_se": st["sveb"]["se"],
        "sveb_ppv": st["sveb"]["ppv"],
        "macro_f1": st["macro_f1"],
        "j_kappa": st["j_kappa"],
        "ae_roc_auc": ae["roc_auc"],
        "ae_pr_auc": ae["pr_auc"],
    }


def _pct(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{100 * x:.1f}"


def to_markdown(result: dict[str, Any], command: str, title: str = "DS2 evaluation (inter-patient)") -> str:
    """A Markdown report of :func:`evaluate_records` output."""
    lines = [
        f"# {title}",
        "",
        f"Command: `{command}`",
        "",
        f"Bundle: `{result['bundle_version']}`; records: {', '.join(result['records'])}",
        "",
        "Statistics follow ANSI/AAMI EC57 as bxb computes them: beats match within 150 ms; VEB FP = Nv+Sv(+Ov), "
        "SVEB FP = Ns+Vs+Fs(+Os); F or Q beats labelled V, and Q labelled S, are not counted against the "
        "algorithm. Symbol mapping (de Chazal 2004): N = N L R e j; S = A a J S; V = V E; F = F; Q = / f Q. "
        "All values in %.",
        "",
    ]
    for mode, res in result["modes"].items():
        st, ae = res["statistics"], res["autoencoder"]
        lines += [f"## Mode: {mode.replace('_', ' ')}", ""]
        cm = res["confusion_matrix"]
        lines += [
            "Confusion matrix (rows: reference, columns: predicted; O = missed / no reference):",
            "",
            "| ref \\ pred | " + " | ".join(cm["cols_predicted"]) + " |",
            "|---" * (len(cm["cols_predicted"]) + 1) + "|",
        ]
        for name, row in zip(cm["rows_reference"], cm["matrix"]):
            lines.append(f"| **{name}** | " + " | ".join(str(v) for v in row) + " |")
        lines += ["", "| Class | Se | +P | FPR | F1 |", "|---|---|---|---|---|"]
        for c in ("N", "S", "V", "F"):
            s = st["per_class"][c]
            lines.append(f"| {c} | {_pct(s['se'])} | {_pct(s['ppv'])} | {_pct(s['fpr'])} | {_pct(s['f1'])} |")
        for key, label in (("veb", "VEB (gross, EC57)"), ("sveb", "SVEB (gross, EC57)")):
            s = st[key]
            lines.append(f"| {label} | {_pct(s['se'])} | {_pct(s['ppv'])} | {_pct(s['fpr'])} | {_pct(s['f1'])} |")
        lines += [
            "",
            f"Macro-F1 (N,S,V,F): {_pct(st['macro_f1'])}; Cohen's kappa: {st['kappa']:.3f}; "
            f"jκ: {st['j_kappa']:.3f}; accuracy: {_pct(st['accuracy'])}",
            "",
            "Autoencoder (normal vs S/V/F beats): "
            f"ROC-AUC {ae['roc_auc']:.3f}, PR-AUC {ae['pr_auc']:.3f}; at the calibrated threshold it flags "
            + ", ".join(f"{c} {_pct(v)}%" for c, v in ae["caught_at_threshold"].items())
            + f" with {_pct(ae['false_alarm_rate_normal'])}% of normal beats flagged.",
            "",
            "Per record:",
            "",
            "| record | beats | missed | extra | VEB Se | VEB +P | SVEB Se | SVEB +P | s |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in res["per_record"]:
            lines.append(
                f"| {r['record']} | {r['beats']} | {r['missed']} | {r['extra']} | {_pct(r['veb_se'])} | "
                f"{_pct(r['veb_ppv'])} | {_pct(r['sveb_se'])} | {_pct(r['sveb_ppv'])} | {r['seconds']:.2f} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_report(
    result: dict[str, Any], out_dir: str | os.PathLike, command: str, name: str = "ds2_evaluation"
) -> tuple[Path, Path]:
    """Write ``<name>.md`` and ``<name>.json`` under ``out_dir`` atomically."""
    from ecg.io.atomic import atomic_write_text

    out = Path(out_dir)
    payload = {k: v for k, v in result.items() if k not in MODES}
    payload["command"] = command
    md = atomic_write_text(out / f"{name}.md", to_markdown(result, command))
    js = atomic_write_text(out / f"{name}.json", json.dumps(payload, indent=2, default=_json) + "\n")
    return md, js


def _json(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)
