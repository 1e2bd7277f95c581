"""A record and its beats as an EDF+ file (``edfio``).

Layout
------
- one EDF signal per lead, labelled with the lead name (first 16 ASCII characters),
  physical dimension from :attr:`Record.units` (``mV``), 16-bit digital range
  -32768..32767, physical range = the lead's min / max plus a margin of 5 % of the span
  (at least 0.01 mV), rounded outwards to fit EDF's 8-character fields. The quantisation
  step is ``(physical max - physical min) / 65535``.
- data records of 1 s when ``fs`` is a whole number (``fs`` samples per record); when the
  sample count is not a multiple of ``fs``, a shorter record (0.5, 0.25, 0.2 or 0.1 s)
  that divides it is used if there is one, else the signal is padded at the end with each
  lead's last value to a whole number of 1-s records, and an annotation ``padding`` (onset
  = original end, duration = padded time) says so. A non-integer ``fs`` uses the shortest
  whole-second record with a whole number of samples.
- NaN samples (invalid signal) are replaced by 0 mV; every NaN run becomes an annotation
  ``NaN->0 <lead>`` with its onset and duration, and a warning is logged.
- one EDF+ annotation per beat: onset = ``time_s`` (rounded to the microsecond), no
  duration, text = the class (``class_column``, default ``pred_class``) followed by
  ``flag`` / ``flag:<reason>`` when the beat is flagged, e.g. ``"V flag:class"``.
"""

from __future__ import annotations

import logging
import math
import os
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
from edfio import Edf, EdfAnnotation, EdfSignal, Recording

from ecg.io.atomic import atomic_write_with
from ecg.io.records import Record

log = logging.getLogger(__name__)

NAN_FILL_MV = 0.0
_SHORT_RECORDS_S = (0.5, 0.25, 0.2, 0.1)


def _fit8(x: float, up: bool) -> float:
    """``x`` rounded outwards (up or down) to a value whose decimal text fits 8 characters."""
    for d in range(6, -1, -1):
        q = 10.0**d
        v = (math.ceil(x * q) if up else math.floor(x * q)) / q
        text = f"{v:.{d}f}".rstrip("0").rstrip(".") if d else f"{v:.0f}"
        if len(text) <= 8:
            return float(text)
    raise ValueError(f"physical value {x} does not fit an EDF header field")


def physical_range(data: np.ndarray) -> tuple[float, float]:
    """EDF physical (min, max) of one lead, mV: data range plus 5 % (>= 0.01 mV) margin."""
    lo, hi = float(np.min(data)), float(np.max(data))
    margin = max(0.05 * (hi - lo), 0.01)
    return _fit8(lo - margin, up=False), _fit8(hi + margin, up=True)


def data_record_layout(n_samples: int, fs: float) -> tuple[float, int, int]:
    """``(data record duration s, samples per record, padded sample count)`` for a signal
    of ``n_samples`` at ``fs`` Hz (see the module docstring)."""
    if float(fs).is_integer():
        spr = int(fs)
        if n_samples % spr == 0:
            return 1.0, spr, n_samples
        for d in _SHORT_RECORDS_S:
            s = fs * d
            if s.is_integer() and s >= 1 and n_samples % int(s) == 0:
                return d, int(s), n_samples
        return 1.0, spr, -(-n_samples // spr) * spr
    frac = Fraction(float(fs)).limit_denominator(1000)
    if abs(float(frac) - fs) > 1e-9 * fs:
        raise ValueError(f"cannot lay out EDF data records for a sampling frequency of {fs} Hz")
    d, spr = frac.denominator, frac.numerator
    return float(d), spr, -(-n_samples // spr) * spr


def _ascii(text: str, width: int) -> str:
    return text.encode("ascii", "replace").decode("ascii")[:width]


def _nan_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def beat_annotation_texts(beats: pd.DataFrame, class_column: str = "pred_class") -> list[str]:
    """EDF+ annotation texts of the beats: class plus ``flag`` / ``flag:<reason>``."""
    cls = beats[class_column].to_numpy(dtype=object)
    flagged = beats["flagged"].to_numpy(dtype=bool) if "flagged" in beats.columns else np.zeros(len(beats), bool)
    reason = (
        beats["flag_reason"].to_numpy(dtype=object)
        if "flag_reason" in beats.columns
        else np.full(len(beats), "", object)
    )
    out = []
    for c, f, r in zip(cls, flagged, reason):
        c = str(c) if isinstance(c, str) and c else "?"
        out.append(f"{c} flag:{r}" if f and isinstance(r, str) and r else (f"{c} flag" if f else c))
    return out


def write_edf(
    record: Record,
    beats: pd.DataFrame,
    path: str | os.PathLike,
    *,
    start_time: datetime | None = None,
    class_column: str = "pred_class",
) -> Path:
    """Write ``record``'s signal (all leads, mV) and ``beats`` as EDF+ annotations to
    ``path`` atomically; see the module docstring for the layout. ``start_time`` sets the
    EDF start date and time (else 00:00:00 and an unknown date)."""
    fs = float(record.fs)
    sig = np.asarray(record.signal, dtype=np.float64)
    if sig.ndim == 1:
        sig = sig[:, None]
    n, n_leads = sig.shape
    if n == 0:
        raise ValueError(f"record {record.name!r} has no samples")
    duration_rec, spr, n_padded = data_record_layout(n, fs)
    annotations: list[EdfAnnotation] = []

    nan = np.isnan(sig)
    if nan.any():
        sig = np.where(nan, NAN_FILL_MV, sig)
        for j in range(n_leads):
            runs = _nan_runs(nan[:, j])
            if runs:
                log.warning(
                    "%s: lead %s: %d NaN samples in %d runs written as %g mV in the EDF file",
                    record.name,
                    record.lead_names[j],
                    int(nan[:, j].sum()),
                    len(runs),
                    NAN_FILL_MV,
                )
            for a, b in runs:
                annotations.append(
                    EdfAnnotation(
                        round(a / fs, 6),
                        round((b - a) / fs, 6),
                        f"NaN->{NAN_FILL_MV:g} {_ascii(record.lead_names[j], 16)}",
                    )
                )
    if n_padded > n:
        sig = np.concatenate([sig, np.repeat(sig[-1:], n_padded - n, axis=0)])
        annotations.append(EdfAnnotation(round(n / fs, 6), round((n_padded - n) / fs, 6), "padding"))
        log.info(
            "%s: EDF signal padded from %d to %d samples (whole %g-s data records)",
            record.name,
            n,
            n_padded,
            duration_rec,
        )

    texts = beat_annotation_texts(beats, class_column)
    onsets = (
        beats["time_s"].to_numpy(dtype=np.float64)
        if "time_s" in beats.columns
        else beats["sample"].to_numpy(dtype=np.float64) / fs
    )
    annotations.extend(EdfAnnotation(round(float(o), 6), None, txt) for o, txt in zip(onsets, texts))

    signals = []
    for j in range(n_leads):
        unit = record.units[j] if j < len(record.units) and record.units[j] else "mV"
        signals.append(
            EdfSignal(
                sig[:, j],
                sampling_frequency=fs,
                label=_ascii(record.lead_names[j], 16),
                physical_dimension=_ascii(unit, 8),
                physical_range=physical_range(sig[:, j]),
            )
        )
    kwargs = {}
    if start_time is not None:
        kwargs = {
            "recording": Recording(startdate=start_time.date()),
            "starttime": start_time.time().replace(microsecond=0),
        }
    edf = Edf(signals, data_record_duration=duration_rec, annotations=annotations, **kwargs)
    return atomic_write_with(path, lambda tmp: edf.write(tmp))


__all__ = ["NAN_FILL_MV", "beat_annotation_texts", "data_record_layout", "physical_range", "write_edf"]
