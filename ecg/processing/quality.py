"""Signal-quality masks: NaN gaps and flat segments (lead off, saturation)."""

from __future__ import annotations

import numpy as np

from ecg.errors import SignalError


def _as_2d(signal: np.ndarray) -> tuple[np.ndarray, bool]:
    x = np.asarray(signal)
    if x.ndim == 1:
        return x[:, None], True
    if x.ndim == 2:
        return x, False
    raise SignalError(f"signal must be 1-D (samples) or 2-D (samples x leads), got shape {x.shape}")


def runs(mask: np.ndarray) -> np.ndarray:
    """Start/stop (exclusive) sample indices of the True runs of a 1-D boolean mask, shape (k, 2)."""
    m = np.asarray(mask, dtype=bool).ravel()
    if m.size == 0:
        return np.empty((0, 2), np.int64)
    d = np.diff(np.concatenate(([0], m.view(np.int8), [0])))
    return np.stack([np.flatnonzero(d == 1), np.flatnonzero(d == -1)], axis=1).astype(np.int64)


def flat_mask(signal: np.ndarray, fs: float, min_duration_s: float = 0.5, tolerance_mv: float = 1e-6) -> np.ndarray:
    """True where a lead stays constant (within ``tolerance_mv``) for at least ``min_duration_s``
    seconds. Same shape as ``signal`` (1-D or samples x leads)."""
    x, one_d = _as_2d(signal)
    min_len = max(2, int(round(min_duration_s * fs)))
    out = np.zeros(x.shape, dtype=bool)
    for j in range(x.shape[1]):
        same = np.abs(np.diff(x[:, j])) <= tolerance_mv  # NaN compares False: a NaN breaks a run
        r = runs(same)
        r = r[r[:, 1] - r[:, 0] + 1 >= min_len]
        if r.size:
            edges = np.zeros(x.shape[0] + 1, np.int32)
            np.add.at(edges, r[:, 0], 1)
            np.add.at(edges, r[:, 1] + 1, -1)
            out[:, j] = np.cumsum(edges[:-1]) > 0
    return out[:, 0] if one_d else out


def gap_mask(signal: np.ndarray, fs: float, min_flat_s: float = 0.5) -> np.ndarray:
    """True where a sample is unusable: NaN, or inside a flat run of at least ``min_flat_s`` s."""
    x = np.asarray(signal)
    return np.isnan(x) | flat_mask(x, fs, min_flat_s)
