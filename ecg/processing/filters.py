"""Zero-phase ECG filters: baseline-wander removal, powerline notch, band-pass.

All filters take float arrays of shape (samples,) or (samples, leads) and a sampling rate in
Hz, and return float32 of the same shape. NaN gaps and flat segments (see
:func:`ecg.processing.quality.gap_mask`) are never filtered through: each stretch of good
signal between gaps is filtered on its own, NaN samples stay NaN and flat segments come
out as 0 mV (a flat line has no baseline-free content). Stretches too short to filter (shorter
than the filter's padding) come out as NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy import ndimage
from scipy import signal as sps

from ecg.errors import SignalError
from ecg.processing.quality import _as_2d, gap_mask, runs


def _check(signal: np.ndarray, fs: float) -> tuple[np.ndarray, bool]:
    if not np.isfinite(fs) or fs <= 0:
        raise SignalError(f"sampling rate must be a positive number of Hz, got {fs!r}")
    x, one_d = _as_2d(signal)
    if x.shape[0] == 0:
        raise SignalError("signal is empty")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    return x, one_d


@lru_cache(maxsize=64)
def _butter_sos(order: int, cutoff: tuple[float, ...], btype: str, fs: float) -> np.ndarray:
    wn = cutoff[0] if len(cutoff) == 1 else list(cutoff)
    return sps.butter(order, wn, btype=btype, fs=fs, output="sos")


@lru_cache(maxsize=16)
def _notch_sos(freq: float, quality: float, fs: float) -> np.ndarray:
    b, a = sps.iirnotch(freq, quality, fs=fs)
    return sps.tf2sos(b, a)


def _padlen(sos: np.ndarray, fs: float, low_hz: float | None) -> int:
    """Edge padding, reflected evenly (no step at a segment edge): scipy's default, or ~3
    periods of the lowest cut-off, so a high-pass start-up transient settles in the padding."""
    default = 3 * (2 * len(sos) + 1 - min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum()))
    if low_hz:
        return max(default, int(3.0 * fs / low_hz))
    return default


def _apply_gapwise(x: np.ndarray, fs: float, func: Callable[[np.ndarray], np.ndarray], min_len: int) -> np.ndarray:
    """Apply ``func`` (axis 0) to each stretch of good samples between gaps, per lead.
    Stretches of ``min_len`` samples or fewer come out NaN."""
    bad = gap_mask(x, fs)
    out = np.empty(x.shape, dtype=np.float32)
    if not bad.any():
        if x.shape[0] <= min_len:
            out[:] = np.nan
        else:
            out[:] = func(x.astype(np.float64, copy=False))
        return out
    for j in range(x.shape[1]):
        col = x[:, j]
        out[:, j] = np.where(np.isnan(col), np.nan, 0.0)
        for s, e in runs(~bad[:, j]):
            if e - s > min_len:
                out[s:e, j] = func(col[s:e].astype(np.float64)[:, None])[:, 0]
            else:
                out[s:e, j] = np.nan
    return out


def _sos_filter(signal: np.ndarray, fs: float, sos: np.ndarray, low_hz: float | None = None) -> np.ndarray:
    x, one_d = _check(signal, fs)
    pad = _padlen(sos, fs, low_hz)
    min_len = 3 * (2 * len(sos) + 1)

    def run(seg: np.ndarray) -> np.ndarray:
        return sps.sosfiltfilt(sos, seg, axis=0, padtype="even", padlen=min(pad, seg.shape[0] - 1))

    y = _apply_gapwise(x, fs, run, min_len)
    return y[:, 0] if one_d else y


def bandpass(signal: np.ndarray, fs: float, low_hz: float = 0.5, high_hz: float = 40.0, order: int = 3) -> np.ndarray:
    """Zero-phase Butterworth band-pass (SOS, forward-backward, so the effective order is
    ``2 * order`` per edge). Cut-offs in Hz; ``high_hz`` is capped just below Nyquist."""
    high = min(high_hz, 0.45 * fs)
    if not 0 < low_hz < high:
        raise SignalError(f"band-pass needs 0 < low ({low_hz} Hz) < high ({high} Hz) at fs={fs} Hz")
    return _sos_filter(signal, fs, _butter_sos(order, (float(low_hz), float(high)), "bandpass", float(fs)), low_hz)


def highpass(signal: np.ndarray, fs: float, cutoff_hz: float = 0.5, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth high-pass (SOS); cut-off in Hz."""
    return _sos_filter(signal, fs, _butter_sos(order, (float(cutoff_hz),), "highpass", float(fs)), cutoff_hz)


def lowpass(signal: np.ndarray, fs: float, cutoff_hz: float = 40.0, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth low-pass (SOS); cut-off in Hz, capped below Nyquist."""
    cutoff = min(cutoff_hz, 0.45 * fs)
    return _sos_filter(signal, fs, _butter_sos(order, (float(cutoff),), "lowpass", float(fs)))


def notch(signal: np.ndarray, fs: float, freq_hz: float = 50.0, quality: float = 30.0) -> np.ndarray:
    """Zero-phase IIR notch at the powerline frequency (50 or 60 Hz) and width ``freq/quality``.
    Frequencies at or above Nyquist are left alone (returns a float32 copy)."""
    if freq_hz >= fs / 2:
        x, one_d = _check(signal, fs)
        return x[:, 0].astype(np.float32) if one_d else x.astype(np.float32)
    return _sos_filter(signal, fs, _notch_sos(float(freq_hz), float(quality), float(fs)), freq_hz / quality)


def remove_baseline(signal: np.ndarray, fs: float, method: str = "butterworth", cutoff_hz: float = 0.5) -> np.ndarray:
    """Remove baseline wander.

    ``method="butterworth"``: zero-phase high-pass at ``cutoff_hz`` (AHA recommendation 0.5 Hz
    for monitoring; van Alste & Schilder 1985 discuss the phase requirement).
    ``method="median"``: subtract a two-stage median filter estimate of the baseline, 200 ms
    then 600 ms windows (de Chazal, O'Dwyer & Reilly 2004), which keeps ST segments intact.
    """
    if method == "butterworth":
        return highpass(signal, fs, cutoff_hz)
    if method == "median":
        x, one_d = _check(signal, fs)
        w1 = int(round(0.2 * fs)) | 1
        w2 = int(round(0.6 * fs)) | 1

        def med(seg: np.ndarray) -> np.ndarray:
            base = ndimage.median_filter(seg, size=(w1, 1), mode="nearest")
            base = ndimage.median_filter(base, size=(w2, 1), mode="nearest")
            return seg - base

        y = _apply_gapwise(x, fs, med, 0)
        return y[:, 0] if one_d else y
    raise ValueError(f"unknown baseline method {method!r}; use 'butterworth' or 'median'")


def ecg_clean(
    signal: np.ndarray,
    fs: float,
    method: str = "bandpass",
    low_hz: float = 0.5,
    high_hz: float = 40.0,
    powerline_hz: float | None = None,
) -> np.ndarray:
    """Clean an ECG for display and beat morphology.

    ``method="bandpass"`` (default): zero-phase 0.5-40 Hz Butterworth band-pass, which removes
    baseline wander and most powerline and EMG noise in one pass. ``method="median"``:
    median-filter baseline removal (de Chazal 2004) followed by a ``high_hz`` low-pass.
    ``powerline_hz`` (50 or 60) adds a notch first, useful when ``high_hz`` is above it.
    Returns float32 in the input's units (mV).
    """
    x = signal
    if powerline_hz:
        x = notch(x, fs, powerline_hz)
    if method == "bandpass":
        return bandpass(x, fs, low_hz, high_hz)
    if method == "median":
        return lowpass(remove_baseline(x, fs, "median"), fs, high_hz)
    raise ValueError(f"unknown clean method {method!r}; use 'bandpass' or 'median'")
