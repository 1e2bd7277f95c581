"""Beat-by-beat agreement of one scored record with its reference annotations, counted as the
evaluation counts it (:func:`ecg.evaluate.metrics.ec57_statistics`): for the dashboard's
"compare with the reference" view, with the model's or the reviewed labels.

Input is the scored beat table (:mod:`ecg.scoring.schema`; ``ref_class`` is "" for a
detection that matched no reference beat) and the table of reference beats no detection
matched (``ScoredRecord.missed_reference``, with a ``ref_class`` column).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ecg.evaluate.metrics import CLASSES_5, confusion_matrix, ec57_statistics


@dataclass
class Comparison:
    """Beat-by-beat agreement with the reference annotations (counts of beats)."""

    cm: np.ndarray  # 5x5 N,S,V,F,Q reference (rows) x predicted (columns), matched beats
    missed: np.ndarray  # reference beats per class with no detection
    extra: np.ndarray  # detections per predicted class with no reference beat
    stats: dict[str, Any]  # ec57_statistics(cm, missed, extra)

    @property
    def matched(self) -> int:
        """Detections matched to a reference beat."""
        return int(self.cm.sum())

    def full_matrix(self) -> tuple[np.ndarray, list[str], list[str]]:
        """6x6 matrix with a ``missed`` column and an ``extra`` row, with its row (reference)
        and column (predicted) labels."""
        m = np.zeros((6, 6), np.int64)
        m[:5, :5] = self.cm
        m[:5, 5] = self.missed
        m[5, :5] = self.extra
        return m, list(CLASSES_5) + ["extra"], list(CLASSES_5) + ["missed"]

    def detection(self) -> dict[str, float]:
        """Beat detection sensitivity ``se`` and positive predictivity ``ppv`` (fractions in
        [0, 1], NaN without beats) with their ``tp``, ``fn``, ``fp`` counts; a detection is
        matched within 150 ms by the scoring."""
        tp, fn, fp = self.matched, int(self.missed.sum()), int(self.extra.sum())
        return {
            "se": tp / (tp + fn) if tp + fn else float("nan"),
            "ppv": tp / (tp + fp) if tp + fp else float("nan"),
            "tp": tp,
            "fn": fn,
            "fp": fp,
        }

    def table(self) -> pd.DataFrame:
        """TP, FN, FP and Se / +P (text, in %, "-" when undefined) for beat detection, per
        class N, S, V, F, and for VEB and SVEB (EC57)."""
        rows = []
        det = self.detection()
        rows.append(("beat detection", det["tp"], det["fn"], det["fp"], det["se"], det["ppv"]))
        for c, s in self.stats["per_class"].items():
            rows.append((f"class {c}", s["tp"], s["fn"], s["fp"], s["se"], s["ppv"]))
        for name, key in (("VEB (EC57)", "veb"), ("SVEB (EC57)", "sveb")):
            s = self.stats[key]
            rows.append((name, s["tp"], s["fn"], s["fp"], s["se"], s["ppv"]))
        df = pd.DataFrame(rows, columns=["", "TP", "FN", "FP", "Se %", "+P %"])
        for c in ("Se %", "+P %"):
            df[c] = [f"{v * 100:.1f}" if v is not None and math.isfinite(float(v)) else "-" for v in df[c]]
        return df.set_index("")


def compare_reference(beats: pd.DataFrame, missed: pd.DataFrame, label_column: str = "pred_class") -> Comparison:
    """Agreement of the labels in ``label_column`` (e.g. ``pred_class`` or a reviewed
    ``effective_label``) with ``ref_class``: beats with a ``ref_class`` are matched, the others
    extra detections; ``missed`` holds the reference beats no detection matched."""
    ref = beats["ref_class"].astype(str)
    matched = beats[ref != ""]
    extra = beats[ref == ""]
    cm = confusion_matrix(
        matched["ref_class"].astype(str).to_numpy(), matched[label_column].astype(str).to_numpy(), CLASSES_5
    )
    miss = np.array([int((missed["ref_class"].astype(str) == c).sum()) for c in CLASSES_5])
    ext = np.array([int((extra[label_column].astype(str) == c).sum()) for c in CLASSES_5])
    return Comparison(cm=cm, missed=miss, extra=ext, stats=ec57_statistics(cm, miss, ext))
