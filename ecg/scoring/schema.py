"""The per-beat table contract: column names, types and meanings.

Scripts and other tools read these columns from ``OUT/<record>/<record>_beats.csv`` and
``.parquet``; keep them stable.

==================  ========  =====================================================
column              dtype     meaning
==================  ========  =====================================================
``sample``          int64     R-peak sample index in the record (at the record's fs)
``time_s``          float64   ``sample / fs`` in seconds from the record start
``lead``            str       the leads whose classification of the beat was used,
                              joined by "+" (e.g. ``MLII+V1``; ``V1`` where MLII was
                              unreadable; "" for a beat in unreadable signal)
``rr_prev_s``       float64   RR interval before the beat, s
``rr_next_s``       float64   RR interval after the beat, s
``pred_class``      str       predicted AAMI class: N, S, V, F or Q
``prob_N`` ...      float64   class probabilities, one column per class the model knows
``anomaly_score``   float64   0-100: the share (%) of held-out normal beats whose
                              autoencoder score was lower; the calibrated threshold is
                              99 (1 % of normal beats flagged); empty (NaN) for beats in
                              unreadable signal
``flagged``         bool      whether the beat is flagged for review
``flag_reason``     str       "" | "class" | "anomaly" | "class+anomaly"
``ref_symbol``      str       reference MIT-BIH symbol of the matched beat, "" if none
``ref_class``       str       AAMI class of ``ref_symbol``, "" if none
``quality``         str       signal quality at the beat, the best of the analysed
                              leads: "good", "noisy" or "unreadable"
                              (:mod:`ecg.processing.quality`). A beat in unreadable
                              signal is not classified: ``pred_class`` Q, empty
                              probabilities and score, never flagged, and left out of
                              heart rate, ectopy, pauses and AF burden
``af``              bool      the beat lies in an atrial fibrillation / flutter
                              episode (:mod:`ecg.processing.af`); no beat is called S
                              inside an episode
``nn``              bool      the RR interval from the previous beat to this one is an
                              NN interval used for HRV (:mod:`ecg.processing.hrv`):
                              both beats N, readable, outside AF, no gap, 0.3-2.0 s,
                              within 20 % of the local median; False for the first
                              beat. HRV can be recomputed from the rows where it holds
``family``          int64     morphology family (:mod:`ecg.review.families`), 0 = the
                              largest; -1 = in no family (unreadable signal or an
                              isolated odd beat); stable for a record and bundle
==================  ========  =====================================================

The Holter summary (``OUT/<record>/<record>_summary.json``) is the ``to_dict()`` of
:class:`ecg.scoring.summary_types.HolterSummary`; its sections are defined in
:mod:`ecg.scoring.summary`. Keys that scripts read (keep them stable):

- ``signal_quality``: ``analysable_pct``, ``analysable_s``, ``unreadable_s``, ``noisy_s``,
  ``segments`` (each ``start_s``, ``end_s``, ``leads``), ``warning``;
- ``af``: ``beats``, ``burden_pct``, ``duration_s``, ``episodes`` (each ``start_s``,
  ``end_s``, ``duration_s``, ``mean_hr_bpm``, ``beats``), ``longest``;
- ``pauses``: ``threshold_s``, ``count``, ``longest``, ``listed`` (each ``time_s``,
  ``duration_s``);
- ``ectopy``: ``V``, ``S``, ``F``, each with ``total``, ``burden_pct``, ``per_hour``,
  ``isolated``, ``couplets``, ``runs``, ``bigeminy``, ``trigeminy``;
- ``heart_rate``: ``mean_bpm``, ``min`` / ``max`` (``bpm``, ``time_s``);
- ``beats``: ``total``, ``by_class``, ``analysed``, ``in_unreadable_signal``;
- ``hrv``: ``sdnn_ms``, ``sdann_ms``, ``sdnn_index_ms``, ``rmssd_ms``, ``pnn50_pct``,
  ``triangular_index``, ``mean_nn_ms`` (None when not computable), ``n_intervals``,
  ``n_pairs``, ``n_segments``, ``nn_s``, ``definition`` and ``hourly`` (the same per hour,
  with ``hour``, ``time_s``, ``elapsed``, ``clock``);
- ``flags``: ``count``, ``by_reason``, ``anomaly_threshold``; ``hourly`` (each ``hour``)
  and ``daily`` (each ``day``, a 24-hour period from the start): ``time_s``, ``elapsed``,
  ``clock`` (ISO date and time when the recording's start is known), ``duration_s``,
  ``beats``, ``V``, ``S``, ``F``, ``mean_bpm``, ``min_bpm``, ``max_bpm``, ``af_beats``;
  ``recording`` (``start_time`` ISO, when the file gives it); ``warnings``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

PROB_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")

QUALITY_VALUES: tuple[str, ...] = ("good", "noisy", "unreadable")

FLAG_REASONS: tuple[str, ...] = ("", "class", "anomaly", "class+anomaly")


def beat_columns(classes: Sequence[str] = PROB_CLASSES) -> list[str]:
    """The beat table's columns in order, for a model with these class names."""
    return (
        ["sample", "time_s", "lead", "rr_prev_s", "rr_next_s", "pred_class"]
        + [f"prob_{c}" for c in classes]
        + ["anomaly_score", "flagged", "flag_reason", "ref_symbol", "ref_class", "quality", "af", "nn", "family"]
    )


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
    dtypes.update(
        {
            "sample": "int64",
            "lead": "object",
            "pred_class": "object",
            "flagged": "bool",
            "af": "bool",
            "nn": "bool",
            "family": "int64",
            "quality": "object",
            "flag_reason": "object",
            "ref_symbol": "object",
            "ref_class": "object",
        }
    )
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in cols})
