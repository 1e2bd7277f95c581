"""Classification statistics following ANSI/AAMI EC57 as PhysioNet's ``bxb`` reports them.

The confusion matrix has reference classes in rows and predicted classes in columns, in the
order N, S, V, F, Q, plus, for end-to-end evaluation, a column ``O`` for reference beats the
detector missed and a row ``O`` for detections with no reference beat (bxb's notation).

EC57 conventions used for the gross ectopic-beat statistics (as in bxb and de Chazal 2004):

* **VEB**: TP = Vv; FN = V beats labelled anything else, or missed (Vn+Vs+Vf+Vq+Vo);
  FP = Nv + Sv + Ov. Fusion (Fv) and unclassifiable (Qv) beats labelled V are not
  counted against the algorithm.
* **SVEB**: TP = Ss; FN = Sn+Sv+Sf+Sq+So; FP = Ns + Vs + Fs + Os (Qs is not counted).
* **FPR** = FP / (FP + TN), TN being every other beat of the same rows/columns.
* Per-class Se = diagonal / row total, +P = diagonal / column total (rows/columns N..F;
  the ``O`` row and column included), used for N and F.

jκ (Mar et al. 2011) = κ/2 + (Se_S + +P_S + Se_V + +P_V)/8, with Cohen's κ over N, S, V, F.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CLASSES_5: tuple[str, ...] = ("N", "S", "V", "F", "Q")


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] = CLASSES_5) -> np.ndarray:
    """Counts (len(labels), len(labels)) of reference (rows) vs predicted (columns) labels.
    Pairs whose label is not in ``labels`` are ignored."""
    idx = {c: i for i, c in enumerate(labels)}
    k = len(labels)
    t = np.array([idx.get(c, -1) for c in y_true], dtype=np.int64)
    p = np.array([idx.get(c, -1) for c in y_pred], dtype=np.int64)
    ok = (t >= 0) & (p >= 0)
    return np.bincount(t[ok] * k + p[ok], minlength=k * k).reshape(k, k)


def _safe(num: float, den: float) -> float:
    return float(num / den) if den else float("nan")


def per_class_stats(cm: np.ndarray, labels: Sequence[str]) -> dict[str, dict[str, float]]:
    """Se, +P, FPR and F1 per class from a square confusion matrix (rows = reference)."""
    total = cm.sum()
    out = {}
    for i, c in enumerate(labels):
        tp = cm[i, i]
        fn = cm[i, :].sum() - tp
        fp = cm[:, i].sum() - tp
        tn = total - tp - fn - fp
        se, ppv = _safe(tp, tp + fn), _safe(tp, tp + fp)
        out[c] = {
            "tp": int(tp),
            "fn": int(fn),
            "fp": int(fp),
            "tn": int(tn),
            "se": se,
            "ppv": ppv,
            "fpr": _safe(fp, fp + tn),
            "f1": _safe(2 * tp, 2 * tp + fp + fn),
        }
    return out


def macro_f1(cm: np.ndarray) -> float:
    """Mean F1 over the classes of a square confusion matrix (a class with no reference and
    no prediction is skipped)."""
    f1 = []
    for i in range(cm.shape[0]):
        tp, fn, fp = cm[i, i], cm[i, :].sum() - cm[i, i], cm[:, i].sum() - cm[i, i]
        if tp + fn + fp:
            f1.append(2 * tp / (2 * tp + fn + fp))
    return float(np.mean(f1)) if f1 else float("nan")


def cohen_kappa(cm: np.ndarray) -> float:
    n = cm.sum()
    if n == 0:
        return float("nan")
    po = np.trace(cm) / n
    pe = float((cm.sum(0) * cm.sum(1)).sum()) / n**2
    return float((po - pe) / (1 - pe)) if pe < 1 else float("nan")


def ec57_statistics(cm: np.ndarray, missed: Sequence[int] | None = None, extra: Sequence[int] | None = None) -> dict:
    """EC57 gross statistics from a 5x5 N,S,V,F,Q matrix (rows reference, columns predicted).

    ``missed[i]``: reference beats of class i that no detection matched (bxb's ``O`` column);
    ``extra[j]``: detections labelled class j with no reference beat (the ``O`` row).
    Returns per-class Se/+P/FPR/F1 for N, S, V, F, the VEB and SVEB statistics with F1, the
    macro-F1 over N, S, V, F, Cohen's κ and jκ. Proportions are in [0, 1].
    """
    cm = np.asarray(cm, dtype=np.int64)
    assert cm.shape == (5, 5), "expects a 5x5 N,S,V,F,Q matrix"
    missed = np.zeros(5, np.int64) if missed is None else np.asarray(missed, np.int64)
    extra = np.zeros(5, np.int64) if extra is None else np.asarray(extra, np.int64)
    N, S, V, F, Q = range(5)
    full = np.zeros((6, 6), np.int64)
    full[:5, :5] = cm
    full[:5, 5] = missed
    full[5, :5] = extra
    total = full.sum()

    def gross(cls: int, fp_rows: Sequence[int]) -> dict:
        tp = cm[cls, cls]
        fn = cm[cls, :].sum() - tp + missed[cls]
        fp = sum(cm[r, cls] for r in fp_rows) + extra[cls]
        # TN: every beat that is neither TP, FN nor FP for this class.
        tn = total - tp - fn - fp - sum(cm[r, cls] for r in range(5) if r != cls and r not in fp_rows)
        se, ppv = _safe(tp, tp + fn), _safe(tp, tp + fp)
        return {
            "tp": int(tp),
            "fn": int(fn),
            "fp": int(fp),
            "tn": int(tn),
            "se": se,
            "ppv": ppv,
            "fpr": _safe(fp, fp + tn),
            "f1": _safe(2 * tp, 2 * tp + fn + fp),
        }

    veb = gross(V, fp_rows=[N, S])
    sveb = gross(S, fp_rows=[N, V, F])
    classes = per_class_stats(full, ("N", "S", "V", "F", "Q", "O"))
    per_class = {c: classes[c] for c in ("N", "S", "V", "F")}
    cm4 = cm[:4, :4]
    kappa = cohen_kappa(cm4)
    j_index = sum(x for x in (sveb["se"], sveb["ppv"], veb["se"], veb["ppv"]) if np.isfinite(x))
    return {
        "per_class": per_class,
        "veb": veb,
        "sveb": sveb,
        "macro_f1": macro_f1(cm4),
        "kappa": kappa,
        "j_kappa": 0.5 * kappa + j_index / 8.0,
        "accuracy": _safe(np.trace(cm4), cm4.sum()),
        "beats": int(cm.sum() + missed.sum()),
    }


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (ties counted half), via the rank-sum statistic."""
    from scipy.stats import rankdata

    y = np.asarray(y_true, bool)
    s = np.asarray(score, np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pr_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve, step-wise)."""
    y = np.asarray(y_true, bool)
    s = np.asarray(score, np.float64)
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    y_sorted, s_sorted = y[order], s[order]
    # Evaluate at distinct thresholds only.
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), y_sorted.size - 1]
    tp = np.cumsum(y_sorted)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
