"""A record and its beats as an EDF+ file, written a block of data records at a time.

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

from ecg.io.atomic import atomic_write_with
from ecg.io.records import Record

log = logging.getLogger(__name__)

NAN_FILL_MV = 0.0
_SHORT_RECORDS_S = (0.5, 0.25, 0.2, 0.1)
_DIGITAL_MIN, _DIGITAL_MAX = -32768, 32767


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


def _signal_rows(record: Record, a: int, b: int) -> np.ndarray:
    """Rows ``a:b`` of the record's signal as (samples, leads) float64 (a lazy signal reads
    only those rows)."""
    x = np.asarray(record.signal[a:b], dtype=np.float64)
    return x[:, None] if x.ndim == 1 else x


def _scan(record: Record, n: int, block: int) -> tuple[list[tuple[float, float]], list[list[tuple[int, int]]]]:
    """:func:`physical_range` and the NaN runs ``(start, end)`` of each lead, read a block at
    a time; NaN samples count as :data:`NAN_FILL_MV` (what the file holds for them)."""
    n_leads = int(record.n_leads)
    lo = np.full(n_leads, np.inf)
    hi = np.full(n_leads, -np.inf)
    runs: list[list[tuple[int, int]]] = [[] for _ in range(n_leads)]
    open_at: list[int | None] = [None] * n_leads
    for a in range(0, n, block):
        x = _signal_rows(record, a, min(a + block, n))
        nan = np.isnan(x)
        for j in range(n_leads):
            if open_at[j] is not None or nan[:, j].any():
                closed, open_at[j] = _nan_runs(nan[:, j], a, open_at[j])
                runs[j].extend(closed)
        x = np.where(nan, NAN_FILL_MV, x)
        lo = np.minimum(lo, x.min(axis=0))
        hi = np.maximum(hi, x.max(axis=0))
    for j, s0 in enumerate(open_at):
        if s0 is not None:
            runs[j].append((s0, n))
    return [physical_range(np.array([lo[j], hi[j]])) for j in range(n_leads)], runs


def _digital(x: np.ndarray, p_min: float, p_max: float) -> np.ndarray:
    """Physical values to EDF digital values (little-endian int16), rounded to the nearest step."""
    step = (p_max - p_min) / (_DIGITAL_MAX - _DIGITAL_MIN)
    d = np.rint((x - p_min) / step) + _DIGITAL_MIN
    return np.clip(d, _DIGITAL_MIN, _DIGITAL_MAX).astype("<i2")


def _nan_runs(nan: np.ndarray, offset: int, open_at: int | None) -> tuple[list[tuple[int, int]], int | None]:
    """Closed NaN runs ``(start, end)`` of one lead's block starting at sample ``offset``,
    given a run still open at ``open_at`` from the previous block; returns the runs and the
    start of a run still open at the block's end."""
    d = np.diff(np.concatenate(([open_at is not None], nan, [False])).astype(np.int8))
    starts = np.flatnonzero(d == 1).tolist()
    ends = np.flatnonzero(d == -1).tolist()
    if open_at is not None:
        starts = [open_at - offset, *starts]
    runs = [(s0 + offset, e0 + offset) for s0, e0 in zip(starts, ends)]
    if runs and runs[-1][1] == offset + nan.size:
        return runs[:-1], runs[-1][0]
    return runs, None


def _number(x: float) -> str:
    """A decimal without trailing zeros, as EDF+ onsets and durations are written."""
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _tal(onset: float, duration: float | None, text: str) -> bytes:
    """One EDF+ time-stamped annotation list entry."""
    head = ("+" if onset >= 0 else "") + _number(onset)
    if duration is not None:
        head += "\x15" + _number(duration)
    return (head + "\x14" + text.replace("\x14", " ").replace("\x15", " ") + "\x14\x00").encode("utf-8")


class _AnnotationRecords:
    """The ``EDF Annotations`` bytes of each data record: its time-keeping entry, then the
    annotations whose onset falls in it (before the first record: the first; after the last:
    the last), zero-padded to one size for every record."""

    def __init__(self, annotations: list[tuple[float, float | None, str]], n_records: int, duration_rec: float) -> None:
        self.duration_rec = duration_rec
        onsets = np.array([a[0] for a in annotations], dtype=np.float64)
        idx = np.clip(np.floor(onsets / duration_rec), 0, n_records - 1).astype(np.int64)
        order = np.argsort(idx, kind="stable")
        self.index = idx[order]
        self.entries = [_tal(*annotations[i]) for i in order.tolist()]
        sizes = np.bincount(self.index, weights=[len(e) for e in self.entries], minlength=n_records)
        keeping = np.array([len(self._keeping(k)) for k in (0, n_records - 1)]).max()  # the longest onset text
        self.size = int(sizes.max() + keeping) if n_records else int(keeping)
        self.size += self.size % 2

    def _keeping(self, k: int) -> bytes:
        return b"+" + _number(k * self.duration_rec).encode() + b"\x14\x14\x00"

    def block(self, k0: int, k1: int) -> np.ndarray:
        """``(k1 - k0, size)`` uint8 annotation bytes of records ``k0 .. k1 - 1``."""
        out = np.zeros((k1 - k0, self.size), np.uint8)
        lo, hi = np.searchsorted(self.index, [k0, k1])
        parts: list[list[bytes]] = [[self._keeping(k)] for k in range(k0, k1)]
        for i in range(lo, hi):
            parts[self.index[i] - k0].append(self.entries[i])
        for r, p in enumerate(parts):
            data = b"".join(p)
            out[r, : len(data)] = np.frombuffer(data, np.uint8)
        return out


def _field(value: object, width: int) -> str:
    text = str(value)
    if len(text) > width:
        raise ValueError(f"EDF header value {text!r} does not fit {width} characters")
    return text.ljust(width)


def _header(
    record: Record,
    start_time: datetime | None,
    n_records: int,
    duration_rec: float,
    spr: int,
    ranges: list[tuple[float, float]],
    annotation_bytes: int,
) -> bytes:
    """The EDF+ header (general part and one entry per signal, the last ``EDF Annotations``)."""
    n_leads = int(record.n_leads)
    ns = n_leads + 1
    if start_time is not None:
        rec_id = f"Startdate {start_time.strftime('%d-%b-%Y').upper()} X X X"
        date, clock = start_time.strftime("%d.%m.%y"), start_time.strftime("%H.%M.%S")
    else:  # EDF+: an unknown date is "Startdate X" here and 01.01.85 in the date field
        rec_id, date, clock = "Startdate X X X X", "01.01.85", "00.00.00"
    units = [record.units[j] if j < len(record.units) and record.units[j] else "mV" for j in range(n_leads)]
    columns: list[tuple[list[object], int]] = [
        ([_ascii(name, 16) for name in record.lead_names[:n_leads]] + ["EDF Annotations"], 16),
        ([""] * ns, 80),
        ([_ascii(u, 8) for u in units] + [""], 8),
        ([_number(lo) for lo, _ in ranges] + ["-1"], 8),
        ([_number(hi) for _, hi in ranges] + ["1"], 8),
        ([_DIGITAL_MIN] * ns, 8),
        ([_DIGITAL_MAX] * ns, 8),
        ([""] * ns, 80),
        ([spr] * n_leads + [annotation_bytes // 2], 8),
        ([""] * ns, 32),
    ]
    general = (
        _field("0", 8)
        + _field("X X X X", 80)
        + _field(rec_id, 80)
        + _field(date, 8)
        + _field(clock, 8)
        + _field(256 * (ns + 1), 8)
        + _field("EDF+C", 44)
        + _field(n_records, 8)
        + _field(_number(duration_rec), 8)
        + _field(ns, 4)
    )
    signals = "".join(_field(v, width) for values, width in columns for v in values)
    return (general + signals).encode("ascii")


def write_edf(
    record: Record,
    beats: pd.DataFrame,
    path: str | os.PathLike,
    *,
    start_time: datetime | None = None,
    class_column: str = "pred_class",
    block_s: float = 600.0,
) -> Path:
    """Write ``record``'s signal (all leads, mV) and ``beats`` as EDF+ annotations to
    ``path`` atomically; see the module docstring for the layout. ``start_time`` sets the
    EDF start date and time (default: ``record.start_time``; else 00:00:00 and an unknown
    date).

    The signal is read and written ``block_s`` seconds at a time (two passes: the physical
    ranges, then the data records), so a multi-day record whose signal is read from disk
    (:class:`~ecg.io.source.LazySignal`) is exported in constant memory."""
    fs = float(record.fs)
    n, n_leads = int(record.n_samples), int(record.n_leads)
    if n == 0:
        raise ValueError(f"record {record.name!r} has no samples")
    start_time = start_time if start_time is not None else getattr(record, "start_time", None)
    duration_rec, spr, n_padded = data_record_layout(n, fs)
    n_records = n_padded // spr
    rec_block = max(1, int(block_s / duration_rec))
    block = rec_block * spr
    ranges, nan_runs = _scan(record, n, block)
    tals = _AnnotationRecords(
        _annotations(record, beats, fs, class_column, nan_runs, n, n_padded, duration_rec), n_records, duration_rec
    )

    def write(tmp: Path) -> None:
        last = np.zeros(n_leads)
        with open(tmp, "wb") as f:
            f.write(_header(record, start_time, n_records, duration_rec, spr, ranges, tals.size))
            for a in range(0, n_padded, block):
                b = min(a + block, n_padded)
                x = _signal_rows(record, a, min(b, n))
                x = np.where(np.isnan(x), NAN_FILL_MV, x)
                if len(x):
                    last = x[-1]
                if b > n:  # pad with each lead's last value to whole data records
                    x = np.concatenate([x, np.repeat(last[None, :], b - max(a, n), axis=0)])
                k0, k1 = a // spr, b // spr
                digital = np.stack([_digital(x[:, j], *ranges[j]) for j in range(n_leads)])
                # each data record: every lead's samples, then its annotation bytes
                signal_bytes = digital.reshape(n_leads, k1 - k0, spr).transpose(1, 0, 2).reshape(k1 - k0, -1)
                f.write(np.hstack([signal_bytes.view(np.uint8), tals.block(k0, k1)]).tobytes())

    return atomic_write_with(path, write)


def _annotations(
    record: Record,
    beats: pd.DataFrame,
    fs: float,
    class_column: str,
    nan_runs: list[list[tuple[int, int]]],
    n: int,
    n_padded: int,
    duration_rec: float,
) -> list[tuple[float, float | None, str]]:
    """(onset s, duration s or None, text) of every annotation: NaN runs, padding, beats."""
    out: list[tuple[float, float | None, str]] = []
    for j, runs in enumerate(nan_runs):
        if runs:
            log.warning(
                "%s: lead %s: %d NaN samples in %d runs written as %g mV in the EDF file",
                record.name,
                record.lead_names[j],
                sum(b - a for a, b in runs),
                len(runs),
                NAN_FILL_MV,
            )
        label = f"NaN->{NAN_FILL_MV:g} {_ascii(record.lead_names[j], 16)}"
        out.extend((round(a / fs, 6), round((b - a) / fs, 6), label) for a, b in runs)
    if n_padded > n:
        out.append((round(n / fs, 6), round((n_padded - n) / fs, 6), "padding"))
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
    out.extend((round(float(o), 6), None, txt) for o, txt in zip(onsets, texts))
    return out


__all__ = ["NAN_FILL_MV", "beat_annotation_texts", "data_record_layout", "physical_range", "write_edf"]
