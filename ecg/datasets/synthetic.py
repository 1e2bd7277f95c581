"""Synthetic recordings with known content, for tests and validation scripts."""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt

from ecg.io.records import Record

NOISE_KINDS: tuple[str, ...] = ("white", "brown", "emg")


def noise_record(
    kind: str = "white", seconds: float = 1800.0, fs: float = 360.0, rms_mv: float = 0.5, seed: int = 3
) -> Record:
    """A two-lead recording of pure noise and nothing else (float32 mV at ``fs`` Hz): ``white``
    (Gaussian), ``brown`` (integrated white noise, 2 s moving mean removed) or ``emg``
    (20-150 Hz band, capped below fs/2), scaled to ``rms_mv``; the second lead is the first
    reversed in time."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"kind must be one of {NOISE_KINDS}, got {kind!r}")
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, int(seconds * fs))
    if kind == "brown":
        x = np.cumsum(x)
        w = int(2 * fs) | 1
        x -= np.convolve(x, np.ones(w) / w, mode="same")
    elif kind == "emg":
        x = sosfilt(butter(4, [20.0, min(150.0, 0.45 * fs)], btype="band", fs=fs, output="sos"), x)
    x = (rms_mv * x / x.std()).astype(np.float32)
    return Record(f"noise-{kind}", np.stack([x, x[::-1].copy()], 1), fs, ("MLII", "V1"), ("mV", "mV"))


__all__ = ["NOISE_KINDS", "noise_record"]
