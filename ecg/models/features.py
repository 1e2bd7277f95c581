"""Model inputs from beats: per-record amplitude normalisation, the record's dominant-beat
template, and RR features normalised per patient.

These functions are the single definition of what the models see; training, evaluation and
scoring all call :func:`model_inputs`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecg.processing.segmentation import RR_FEATURES

#: RR inputs of the classifier (all dimensionless or in s, see :func:`rr_inputs`).
RR_INPUTS: tuple[str, ...] = (
    "log_rr_prev_local", "log_rr_next_local", "log_rr_prev_record", "log_rr_next_record",
    "log_rr_local_record", "rr_prev_s", "rr_next_s", "rr_local_cv",
)

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


def normalise_waves(waves: np.ndarray, pre: int) -> tuple[np.ndarray, float]:
    """Remove each beat's median level and divide by the record's QRS amplitude."""
    w = waves - np.median(waves, axis=1, keepdims=True)
    scale = qrs_amplitude(w, pre)
    return (w / scale).astype(np.float32), scale


def rr_inputs(rr: np.ndarray) -> np.ndarray:
    """Classifier RR inputs from :data:`ecg.processing.segmentation.RR_FEATURES` columns:
    log ratios of previous/next RR to the local and record means (per-patient normalisation)
    the absolute intervals in s, clipped to [0, 3], and the local RR coefficient of variation
    (high in atrial fibrillation, where a short RR does not mean an ectopic beat)."""
    eps = 1e-3
    prev, nxt = rr[:, _COL["rr_prev_s"]], rr[:, _COL["rr_next_s"]]
    local, record = rr[:, _COL["rr_local_s"]], rr[:, _COL["rr_record_s"]]
    out = np.stack([
        np.log(np.maximum(prev, eps) / np.maximum(local, eps)),
        np.log(np.maximum(nxt, eps) / np.maximum(local, eps)),
        np.log(np.maximum(prev, eps) / np.maximum(record, eps)),
        np.log(np.maximum(nxt, eps) / np.maximum(record, eps)),
        np.log(np.maximum(local, eps) / np.maximum(record, eps)),
        np.clip(prev, 0, 3),
        np.clip(nxt, 0, 3),
        np.clip(rr[:, _COL["rr_local_cv"]], 0, 1),
    ], axis=1)
    return np.clip(out, -3, 3).astype(np.float32)


def model_inputs(waves: np.ndarray, rr: np.ndarray, pre: int) -> ModelInputs:
    """Inputs for one record (or one chunk of a long record): beats (n, window) in mV and RR
    features (n, 8) as cut by :func:`ecg.processing.segmentation.segment_beats`."""
    w, scale = normalise_waves(np.asarray(waves, np.float32), pre)
    template = np.median(w, axis=0, keepdims=True) if w.shape[0] else np.zeros((1, w.shape[1]), np.float32)
    stacked = np.stack([w, w - template], axis=2).astype(np.float32)
    return ModelInputs(stacked, rr_inputs(np.asarray(rr, np.float32)), scale)
