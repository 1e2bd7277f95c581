"""Recordings made to look like other devices, for the cross-device evaluation protocol.

:func:`holter_variant` turns a record into what a Holter or patch recorder at another rate and
with a narrower band would have written: band-limited (zero-phase Butterworth), resampled
(polyphase), and its annotations moved to the new sample grid.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ecg.io.records import Annotations, Record
from ecg.processing.filters import bandpass
from ecg.processing.segmentation import resample

#: A typical ambulatory (Holter) recorder: 128 Hz, 0.05-40 Hz.
HOLTER_FS_HZ = 128.0
HOLTER_BAND_HZ = (0.05, 40.0)


def holter_variant(
    record: Record, fs_out: float = HOLTER_FS_HZ, band_hz: tuple[float, float] = HOLTER_BAND_HZ
) -> Record:
    """``record`` as a recorder at ``fs_out`` Hz with a ``band_hz`` (low, high) pass band would
    have recorded it. Every lead is band-passed then resampled; NaN gaps stay gaps. Annotation
    samples are rescaled to ``fs_out`` (rounded). The name gains ``@<fs>Hz``."""
    low, high = band_hz
    if not 0 < low < high < fs_out / 2:
        raise ValueError(f"band {band_hz} Hz must lie inside (0, {fs_out / 2:g}) Hz")
    x = np.stack([bandpass(record.signal[:, j], record.fs, low, high) for j in range(record.n_leads)], axis=1)
    y = resample(x, record.fs, fs_out)
    ann = record.annotations
    if ann is not None:
        samples = np.clip(np.round(ann.sample * (fs_out / record.fs)).astype(np.int64), 0, max(y.shape[0] - 1, 0))
        ann = Annotations(samples, ann.symbol, ann.aux, ann.extension)
    return dataclasses.replace(
        record, name=f"{record.name}@{fs_out:g}Hz", signal=y.astype(np.float32), fs=float(fs_out), annotations=ann
    )


__all__ = ["HOLTER_BAND_HZ", "HOLTER_FS_HZ", "holter_variant"]
