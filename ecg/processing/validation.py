"""Boundary checks shared by the processing functions (they take arrays and fs, never paths)."""

from __future__ import annotations

import math

import numpy as np

from ecg.errors import SignalError


def check_fs(fs: float, lo: float, hi: float = math.inf) -> float:
    """``fs`` as a float (Hz), or SignalError unless it is a finite number in [lo, hi]."""
    if isinstance(fs, (bool, np.bool_)):
        raise SignalError(f"sampling rate must be a number of Hz, got {fs!r}")
    try:
        fs_f = float(fs)
    except (TypeError, ValueError):
        raise SignalError(f"sampling rate must be a number of Hz, got {fs!r}") from None
    if not math.isfinite(fs_f) or not lo <= fs_f <= hi:
        bound = f"at least {lo:g} Hz" if math.isinf(hi) else f"within [{lo:g}, {hi:g}] Hz"
        raise SignalError(f"sampling rate must be {bound}, got {fs!r}")
    return fs_f


def check_real(x: np.ndarray) -> None:
    """SignalError unless ``x`` holds real numbers (a float or integer dtype)."""
    if x.dtype == object or not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise SignalError(f"signal must hold real numbers, got dtype {x.dtype}")


__all__ = ["check_fs", "check_real"]
