"""Model inputs from beats: per-record amplitude normalisation, the record's dominant-beat
template, and RR features normalised per patient.

These functions are the single definition of what the models see; training, evaluation and
scoring all call :func:`model_inputs`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecg.processing.segmentation import RR_FEATURES

#: Every RR input :func:`rr_inputs` can compute (dimensionless or in s).
RR_INPUT_NAMES: tuple[str, ...] = (
    "log_rr_prev_local",
    "log_rr_next_local",
    "log_rr_prev_record",
    "log_rr_next_record",
    "log_rr_local_record",
    "rr_prev_s",
    "rr_next_s",
    "rr_local_cv",
    "rr_irregularity",
)
#: The RR inputs of bundles that do not name theirs (format 1 and early format 2).
RR_INPUTS_V1: tuple[str, ...] = RR_INPUT_NAMES[:8]
#: The RR inputs new models are trained with (a bundle stores the names it was trained with).
RR_INPUTS: tuple[str, ...] = RR_INPUTS_V1

_COL = {n: i for i, n in enumerate(RR_FEATURES)}
MIN_SCALE_MV = 0.05


@dataclass(frozen=True)
class ModelInputs:
    """``waves``: float32 (n, window, 2): the beat divided by the record's QRS amplitude, and the
    same minus the record's median beat. ``rr``: float32 (n, len(RR_INPUTS)). ``scale``: the
    record's QRS amplitude in mV."""

    waves: np.ndarray
    rr: np.ndarray
    scale: float


def qrs_amplitude(waves: np.ndarray, pre: int, half_width: int = 8) -> float:
    """Median peak-to-peak amplitude (mV) of the QRS region (``pre`` +- ``half_width`` samples)
    over a record's beats, floored at 0.05 mV."""
    if waves.shape[0] == 0:
        return 1.0
    lo, hi = max(0, pre - half_width), min(waves.shape[1], pre + half_width + 1)
    seg = waves[:, lo:hi]
    return float(max(MIN_SCALE_MV, np.median(seg.max(axis=1) - seg.min(axis=1))))


def normalise_waves(waves: np.ndarray, pre: int, polarity: bool = False) -> tuple[np.ndarray, float]:
    """Remove each beat's median level and divide by the record's QRS amplitude. With
    ``polarity``, the record's beats are also turned so that the largest deflection of its
    median QRS (``pre`` +- 8 samples) is positive: a lead whose QRS is mainly negative (V1,
    say) looks like one whose QRS is mainly positive (MLII)."""
    w = waves - np.median(waves, axis=1, keepdims=True)
    scale = qrs_amplitude(w, pre)
    w = w / scale
    if polarity and w.shape[0]:
        med = np.median(w[:, max(0, pre - 8) : pre + 9], axis=0)
        if -med.min() > med.max():
            w = -w
    return w.astype(np.float32), scale


def rr_inputs(rr: np.ndarray, names: tuple[str, ...] = RR_INPUTS) -> np.ndarray:
    """Classifier RR inputs, the columns ``names`` (from :data:`RR_INPUT_NAMES`), computed from
    :data:`ecg.processing.segmentation.RR_FEATURES` columns: log ratios of previous/next RR to
    the local and record means (per-patient normalisation), the absolute intervals in s,
    clipped to [0, 3], the local RR coefficient of variation (high in atrial fibrillation,
    where a short RR does not mean an ectopic beat) and the rhythm irregularity that ectopic
    patterns do not explain (:func:`ecg.processing.segmentation.rr_irregularity`), both
    clipped to [0, 1]."""
    unknown = [n for n in names if n not in RR_INPUT_NAMES]
    if unknown:
        raise ValueError(f"unknown RR inputs {unknown}; known: {RR_INPUT_NAMES}")
    eps = 1e-3
    prev, nxt = rr[:, _COL["rr_prev_s"]], rr[:, _COL["rr_next_s"]]
    local, record = rr[:, _COL["rr_local_s"]], rr[:, _COL["rr_record_s"]]
    columns = {
        "log_rr_prev_local": lambda: np.log(np.maximum(prev, eps) / np.maximum(local, eps)),
        "log_rr_next_local": lambda: np.log(np.maximum(nxt, eps) / np.maximum(local, eps)),
        "log_rr_prev_record": lambda: np.log(np.maximum(prev, eps) / np.maximum(record, eps)),
        "log_rr_next_record": lambda: np.log(np.maximum(nxt, eps) / np.maximum(record, eps)),
        "log_rr_local_record": lambda: np.log(np.maximum(local, eps) / np.maximum(record, eps)),
        "rr_prev_s": lambda: np.clip(prev, 0, 3),
        "rr_next_s": lambda: np.clip(nxt, 0, 3),
        "rr_local_cv": lambda: np.clip(rr[:, _COL["rr_local_cv"]], 0, 1),
        "rr_irregularity": lambda: np.clip(rr[:, _COL["rr_irregularity"]], 0, 1),
    }
    if not names:
        return np.zeros((rr.shape[0], 0), np.float32)
    out = np.stack([columns[n]() for n in names], axis=1)
    return np.clip(out, -3, 3).astype(np.float32)


def model_inputs(
    waves: np.ndarray, rr: np.ndarray, pre: int, rr_names: tuple[str, ...] = RR_INPUTS, polarity: bool = False
) -> ModelInputs:
    """Inputs for one record (or one chunk of a long record): beats (n, window) in mV and RR
    features (n, len(RR_FEATURES)) as cut by :func:`ecg.processing.segmentation.segment_beats`;
    ``rr_names`` picks the RR inputs (a bundle's :attr:`~ecg.models.bundle.ModelBundle.rr_inputs`);
    ``polarity`` turns the record's beats upright (:func:`normalise_waves`)."""
    w, scale = normalise_waves(np.asarray(waves, np.float32), pre, polarity)
    template = np.median(w, axis=0, keepdims=True) if w.shape[0] else np.zeros((1, w.shape[1]), np.float32)
    stacked = np.stack([w, w - template], axis=2).astype(np.float32)
    return ModelInputs(stacked, rr_inputs(np.asarray(rr, np.float32), tuple(rr_names)), scale)
