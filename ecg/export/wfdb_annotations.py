"""Beat annotations as a WFDB annotation file (``<record>.<extension>``), via ``wfdb.wrann``.

Class to symbol mapping (:data:`CLASS_TO_SYMBOL`), every one a standard WFDB beat code that
maps back to the same AAMI class through :data:`ecg.labels.SYMBOL_TO_AAMI`:

=====  ======  ===================================================
class  symbol  WFDB meaning
=====  ======  ===================================================
N      ``N``   normal beat (code 1)
S      ``S``   premature or ectopic supraventricular beat (code 9)
V      ``V``   premature ventricular contraction (code 5)
F      ``F``   fusion of ventricular and normal beat (code 6)
Q      ``Q``   unclassifiable beat (code 13)
=====  ======  ===================================================

The class is read from ``class_column`` (default ``pred_class``; reviewed labels when given).
Any other class (e.g. an empty string) is written as ``Q``. The aux note of each beat holds
``p=<probability of the predicted class> a=<anomaly score>`` (2 decimals; a part is left
out when its column is absent or NaN), followed by ``flag`` when the beat is flagged, as
``flag:<reason>`` when the table gives a reason, e.g. ``"p=0.97 a=1.42 flag:anomaly"``, and
``model:<class>`` when the label (``class_column``) differs from the model's class.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import wfdb
from wfdb.io.annotation import ann_label_table

from ecg.io.atomic import atomic_path

CLASS_TO_SYMBOL: dict[str, str] = {"N": "N", "S": "S", "V": "V", "F": "F", "Q": "Q"}

_WFDB_SYMBOLS = frozenset(str(s) for s in ann_label_table["symbol"])


def write_wfdb_annotations(
    record_name: str,
    out_dir: str | os.PathLike,
    samples: Sequence[int] | np.ndarray,
    symbols: Sequence[str],
    fs: float,
    aux: Sequence[str] | None = None,
    extension: str = "ecg",
) -> Path:
    """Write ``out_dir/<record_name>.<extension>`` atomically and return its path.

    ``samples`` are sample indices (int, >= 0, non-decreasing) at ``fs`` Hz, ``symbols``
    standard WFDB annotation symbols, ``aux`` optional aux notes (``""`` = none), one per
    annotation. ``wfdb.wrann`` writes into a temporary folder beside the target; the file is
    then moved into place, so a reader never sees a partial file. ``record_name`` may hold
    any characters a file name allows (wfdb itself only sees a placeholder name).
    """
    if not re.fullmatch(r"[A-Za-z]+", extension):
        raise ValueError(f"WFDB annotation extension must be letters only, got {extension!r}")
    if not record_name or "/" in record_name or record_name in {".", ".."}:
        raise ValueError(f"invalid record name {record_name!r}")
    sample = np.asarray(samples, dtype=np.int64).ravel()
    symbol = [str(s) for s in symbols]
    if len(symbol) != sample.size:
        raise ValueError(f"{sample.size} samples but {len(symbol)} symbols")
    if aux is not None and len(aux) != sample.size:
        raise ValueError(f"{sample.size} samples but {len(aux)} aux notes")
    if sample.size and (sample.min() < 0 or np.any(np.diff(sample) < 0)):
        raise ValueError("annotation samples must be non-negative and in time order")
    unknown = sorted(set(symbol) - _WFDB_SYMBOLS)
    if unknown:
        raise ValueError(f"not WFDB annotation symbols: {unknown}")
    if not (fs > 0 and math.isfinite(fs)):
        raise ValueError(f"invalid sampling frequency {fs!r}")
    aux_list = None if aux is None else [str(a) for a in aux]

    out = Path(out_dir)
    target = out / f"{record_name}.{extension}"
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp, tempfile.TemporaryDirectory(prefix=".wrann-", dir=out) as td:
        if sample.size:
            wfdb.wrann("ann", extension, sample, symbol=symbol, aux_note=aux_list, fs=fs, write_dir=td)
            os.replace(Path(td) / f"ann.{extension}", tmp)
        else:
            tmp.write_bytes(b"\x00\x00")  # an annotation file with no annotations: just the end marker
    return target


def _fmt(x: float) -> str | None:
    return None if x is None or not math.isfinite(x) else f"{x:.2f}"


def beat_table_to_annotations(
    df: pd.DataFrame, class_column: str = "pred_class"
) -> tuple[np.ndarray, list[str], list[str]]:
    """``(samples, symbols, aux notes)`` of a beat table (see the module docstring); the
    symbols are the classes of ``class_column``. With a column other than ``pred_class`` (e.g.
    reviewed labels), ``p=`` is still the model's probability of its own class, and a beat
    whose label differs from the model's class gets ``model:<class>`` in its aux note."""
    if class_column not in df.columns:
        raise ValueError(f"beat table has no column {class_column!r}")
    sample = df["sample"].to_numpy(dtype=np.int64)
    labels = df[class_column].to_numpy(dtype=object)
    symbols = [CLASS_TO_SYMBOL.get(c, "Q") if isinstance(c, str) else "Q" for c in labels]
    classes = df["pred_class"].to_numpy(dtype=object) if "pred_class" in df.columns else labels
    n = sample.size
    prob = np.full(n, np.nan)
    for c in CLASS_TO_SYMBOL:
        col = f"prob_{c}"
        if col in df.columns:
            sel = classes == c
            prob[sel] = df[col].to_numpy(dtype=np.float64)[sel]
    differs = (labels != classes) if class_column != "pred_class" else np.zeros(n, bool)
    score = df["anomaly_score"].to_numpy(dtype=np.float64) if "anomaly_score" in df.columns else np.full(n, np.nan)
    flagged = df["flagged"].to_numpy(dtype=bool) if "flagged" in df.columns else np.zeros(n, bool)
    reason = df["flag_reason"].to_numpy(dtype=object) if "flag_reason" in df.columns else np.full(n, "", object)
    aux = []
    for p, a, f, r, d, m in zip(prob, score, flagged, reason, differs, classes):
        parts = []
        if (ps := _fmt(p)) is not None:
            parts.append(f"p={ps}")
        if (as_ := _fmt(a)) is not None:
            parts.append(f"a={as_}")
        if f:
            parts.append(f"flag:{r}" if isinstance(r, str) and r else "flag")
        if d:
            parts.append(f"model:{m}")
        aux.append(" ".join(parts))
    return sample, symbols, aux


def write_beat_annotations(
    df: pd.DataFrame,
    record_name: str,
    out_dir: str | os.PathLike,
    fs: float,
    extension: str = "ecg",
    *,
    class_column: str = "pred_class",
) -> Path:
    """:func:`beat_table_to_annotations` (labels from ``class_column``) then
    :func:`write_wfdb_annotations`."""
    sample, symbols, aux = beat_table_to_annotations(df, class_column)
    return write_wfdb_annotations(record_name, out_dir, sample, symbols, fs, aux=aux, extension=extension)


__all__ = ["CLASS_TO_SYMBOL", "beat_table_to_annotations", "write_beat_annotations", "write_wfdb_annotations"]
