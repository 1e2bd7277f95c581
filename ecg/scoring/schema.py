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
  ``recording`` (``start_time`` ISO, when the file gives it); ``warnings``;
- ``class_column``: the beat-table column the summary counts (``pred_class``: the model's
  labels; ``effective_label``: reviewed labels); ``review``: None for the model's summary; for a
  reviewed one (``ecg report``, :mod:`ecg.review.reviewed`) ``reviewed_beats`` (beats with a
  review decision that counts), ``changed_beats`` (of those, beats whose class the review
  changed, artefacts included), ``artefact_beats`` (detections marked "not a beat", left out of
  every other section), ``reviewers`` (sorted names), ``last_decision_at`` (ISO UTC, None
  without decisions) and ``source`` (the review database and review key).

Reviewed outputs
----------------
``ecg report RECORD --reviews DB --out OUT`` writes the same files as ``ecg score``, with the
reviewers' labels, into ``OUT/<record>_reviewed/``, every file named ``<record>_reviewed...``
(``<record>_reviewed_beats.csv`` / ``.parquet``, ``<record>_reviewed_summary.json``,
``<record>_reviewed.ecg``, ``<record>_reviewed.edf``, ``<record>_reviewed_report.pdf``,
``<record>_reviewed_manifest.json`` with the database, review key and review counts); the
dashboard's downloads are the same files. Their beat table has every column above (``pred_class``
stays the model's class) and five more:

==================  ========  =====================================================
column              dtype     meaning
==================  ========  =====================================================
``effective_label`` str       the beat's class after review: the reviewer's label, else
                              ``pred_class``; Q for a detection marked artefact
``review_decision`` str       "" (not reviewed) | "confirm" | "dismiss" | "relabel" |
                              "artefact" (the detection is not a beat: left out of the
                              reviewed summary, ``nn`` False)
``reviewer``        str       who made the decision that counts ("" if none)
``reviewed_at``     str       when, ISO 8601 UTC ("" if none)
``review_comment``  str       the reviewer's comment ("" if none)
==================  ========  =====================================================

A single-beat decision outranks a bulk (family) decision whatever their times; an undone bulk
decision does not count (:mod:`ecg.review.store`). In a reviewed table ``nn`` follows the
reviewed labels (the RR interval across an artefact joins the beats either side);
``rr_prev_s`` / ``rr_next_s`` keep the values the classifier saw. The summary's
``class_column`` is ``effective_label``; the WFDB annotations, EDF labels and PDF use the
reviewed labels, and the PDF says the labels were reviewed and how many.

Streamed beats
--------------
Streamed beats (``ecg stream``, :class:`ecg.stream.StreamScorer`) carry the beat table's
columns except ``ref_symbol``, ``ref_class``, ``nn`` and ``family`` (they need the whole
record), with the same names, types and meanings, plus:

==================  ========  =====================================================
``emitted_s``       float64   stream time (s) when the beat was scored: samples fed
                              so far / fs; ``emitted_s - time_s`` is its latency
==================  ========  =====================================================

``ecg stream`` prints one JSON object per beat per line with these keys, in this order:
``sample``, ``time_s``, ``lead``, ``rr_prev_s``, ``rr_next_s``, ``pred_class``,
``prob_N`` ... (one per class), ``anomaly_score``, ``flagged``, ``flag_reason``,
``quality``, ``af``, ``emitted_s``; NaN is written as ``null``. ``af`` is the online AF
call (the detector on the last 256 beats, without right context).
:func:`ecg.stream.stream_columns` gives the list for a bundle's classes.
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
