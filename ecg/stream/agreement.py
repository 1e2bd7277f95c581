"""How far streamed beats agree with the batch scorer's beat table (:class:`StreamAgreement`).

A batch beat agrees when a streamed beat lies within 150 ms of it (the bxb matching window,
:func:`ecg.evaluate.matching.match_beats`) and has the same ``pred_class``. Only beats inside
``[start_s, end_s]`` count: the stream's first seconds (detector start-up, online estimates
with little history) and its last ones are left out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ecg.evaluate.matching import MATCH_WINDOW_S, match_beats


@dataclass
class StreamAgreement:
    """Streamed vs batch beats of one record inside ``[start_s, end_s]`` (s).

    ``agreement`` = agreeing beats / batch beats; ``agreement_union`` = agreeing beats / (batch
    beats + streamed beats no batch beat matched), which also counts extra streamed beats
    against the stream. ``class_changes`` counts batch -> streamed class pairs of matched beats
    that differ ("V->N"). ``where_s`` lists the times (s) of up to 50 disagreements with their
    kind ("missed", "extra", "class"). ``score_abs_diff`` is the median and 95th percentile of
    |anomaly score difference| over matched beats (0-100 scale); ``flag_agreement`` and
    ``quality_agreement`` the share of matched beats with the same flag / quality label."""

    start_s: float
    end_s: float
    n_batch: int
    n_stream: int
    matched: int
    agreeing: int
    missed: int
    extra: int
    agreement: float
    agreement_union: float
    class_changes: dict[str, int] = field(default_factory=dict)
    flag_agreement: float = float("nan")
    quality_agreement: float = float("nan")
    af_agreement: float = float("nan")
    score_abs_diff: dict[str, float] = field(default_factory=dict)
    where_s: list[tuple[float, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def compare_beats(
    batch: pd.DataFrame,
    stream: pd.DataFrame,
    fs: float,
    start_s: float,
    end_s: float,
    tolerance_s: float = MATCH_WINDOW_S,
) -> StreamAgreement:
    """Compare streamed beats with batch beats (both with ``sample`` and ``pred_class``;
    ``flagged``, ``quality``, ``af`` and ``anomaly_score`` are compared when present) inside
    ``[start_s, end_s]`` seconds."""
    b = batch[(batch["time_s"] >= start_s) & (batch["time_s"] <= end_s)].reset_index(drop=True)
    s = stream[(stream["time_s"] >= start_s) & (stream["time_s"] <= end_s)].reset_index(drop=True)
    m = match_beats(b["sample"].to_numpy(np.int64), s["sample"].to_numpy(np.int64), fs, tolerance_s)
    bc = b["pred_class"].to_numpy(object)[m.ref_idx]
    sc = s["pred_class"].to_numpy(object)[m.test_idx]
    same = bc == sc
    changes = Counter(f"{x}->{y}" for x, y in zip(bc[~same], sc[~same]))
    n_b, n_s, agreeing = len(b), len(s), int(same.sum())
    where = [(float(b["time_s"].iloc[i]), "missed") for i in m.missed_idx]
    where += [(float(s["time_s"].iloc[i]), "extra") for i in m.extra_idx]
    where += [(float(b["time_s"].iloc[i]), "class") for i in m.ref_idx[~same]]
    where.sort()

    def share(col: str) -> float:
        if col not in b.columns or col not in s.columns or not m.ref_idx.size:
            return float("nan")
        return float(np.mean(b[col].to_numpy()[m.ref_idx] == s[col].to_numpy()[m.test_idx]))

    diff = np.abs(b["anomaly_score"].to_numpy(float)[m.ref_idx] - s["anomaly_score"].to_numpy(float)[m.test_idx])
    diff = diff[np.isfinite(diff)]
    score = {"median": float(np.median(diff)), "p95": float(np.percentile(diff, 95))} if diff.size else {}
    return StreamAgreement(
        start_s=float(start_s),
        end_s=float(end_s),
        n_batch=n_b,
        n_stream=n_s,
        matched=int(m.ref_idx.size),
        agreeing=agreeing,
        missed=int(m.missed_idx.size),
        extra=int(m.extra_idx.size),
        agreement=agreeing / n_b if n_b else float("nan"),
        agreement_union=agreeing / (n_b + m.extra_idx.size) if n_b + m.extra_idx.size else float("nan"),
        class_changes=dict(sorted(changes.items())),
        flag_agreement=share("flagged"),
        quality_agreement=share("quality"),
        af_agreement=share("af"),
        score_abs_diff=score,
        where_s=where[:50],
    )


__all__ = ["StreamAgreement", "compare_beats"]
