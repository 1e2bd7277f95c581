"""The per-beat table contract: column names, types and meanings.

Scripts and other tools read these columns from ``OUT/<record>/<record>_beats.csv`` and
``.parquet``; keep them stable.

==================  ========  =====================================================
column              dtype     meaning
==================  ========  =====================================================
``sample``          int64     R-peak sample index in the record (at the record's fs)
``time_s``          float64   ``sample / fs`` in seconds from the record start
``lead``            str       the lead the beat was analysed on (e.g. ``MLII``)
``rr_prev_s``       float64   RR interval before the beat, s
``rr_next_s``       float64   RR interval after the beat, s
``pred_class``      str       predicted AAMI class: N, S, V, F or Q
``prob_N`` ...      float64   class probabilities, one column per class the model knows
``anomaly_score``   float64   normalised autoencoder reconstruction error (1.0 = threshold)
``flagged``         bool      whether the beat is flagged for review
``flag_reason``     str       "" | "class" | "anomaly" | "class+anomaly"
``ref_symbol``      str       reference MIT-BIH symbol of the matched beat, "" if none
``ref_class``       str       AAMI class of ``ref_symbol``, "" if none
``rr_irregularity`` float64   RR irregularity over 65 beats that ectopic patterns do
                              not explain (dimensionless; high in AF)
``irregular_rhythm`` bool     AF-like irregular rhythm by the bundle's threshold; no
                              beat is called S there (see ``class_probabilities``)
==================  ========  =====================================================
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

PROB_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")

FLAG_REASONS: tuple[str, ...] = ("", "class", "anomaly", "class+anomaly")


def beat_columns(classes: Sequence[str] = PROB_CLASSES) -> list[str]:
    """The beat table's columns in order, for a model with these class names."""
    return (["sample", "time_s", "lead", "rr_prev_s", "rr_next_s", "pred_class"]
            + [f"prob_{c}" for c in classes]
            + ["anomaly_score", "flagged", "flag_reason", "ref_symbol", "ref_class", "rr_irregularity",
               "irregular_rhythm"])


def flag_reason(class_flag: np.ndarray, anomaly_flag: np.ndarray) -> np.ndarray:
    """Flag reason strings from the two boolean flags."""
    class_flag = np.asarray(class_flag, bool)
    anomaly_flag = np.asarray(anomaly_flag, bool)
    out = np.full(class_flag.shape, "", dtype=object)
    out[class_flag & ~anomaly_flag] = "class"
    out[~class_flag & anomaly_flag] = "anomaly"
    out[class_flag & anomaly_flag] = "class+anomaly"
    return out


def validate_beat_table(df: pd.DataFrame, classes: Sequence[str] = PROB_CLASSES) -> None:
    """Raise ValueError when ``df`` lacks a column of the contract or is out of sample order."""
    missing = [c for c in beat_columns(classes) if c not in df.columns]
    if missing:
        raise ValueError(f"beat table lacks columns {missing}")
    if len(df) and not np.all(np.diff(df["sample"].to_numpy()) > 0):
        raise ValueError("beat table is not strictly ordered by sample")


def empty_beat_table(classes: Sequence[str] = PROB_CLASSES) -> pd.DataFrame:
    """A beat table with no rows and the right dtypes."""
    cols = beat_columns(classes)
    dtypes = {c: "float64" for c in cols}
    dtypes.update({"sample": "int64", "lead": "object", "pred_class": "object", "flagged": "bool", "irregular_rhythm": "bool",
                   "flag_reason": "object", "ref_symbol": "object", "ref_class": "object"})
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in cols})
