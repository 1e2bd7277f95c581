"""Full disclosure pages: the whole recording, compressed, as Holter systems print it.

One lead, one minute a row (``ROW_S``), ``ROWS_PER_PAGE`` rows a page (half an hour), A4
landscape: a row is ``ROW_MM`` mm wide (about 4.4 mm/s) and the trace is drawn at
``GAIN_MM_MV`` mm/mV, clipped to its row band and its neighbours' halves. The time at each
row's start is printed at its left (clock time when the recording's start is known, else
``H:MM:SS`` from the start). Each beat whose label (``class_column``) is not N is marked by its
label above the trace, in the class colour; N beats get a small grey tick; beats in AF /
flutter are shaded orange.

Memory does not grow with the recording: a page reads only its own half hour of signal
(``record.signal[a:b, lead]``, which a lazy memory-mapped signal serves from disk) and its own
beats. Each row is reduced to its min/max envelope at ``TRACE_DPI`` (about 3,100 points a row,
whatever the sampling rate), so a page's size and drawing time are bounded. The traces stay
vector paths by default: matplotlib's PDF writer keeps every raster image in memory until the
file is closed (about 3 MB a page here), which would grow with the recording.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ecg.viz.grid import TRACE_COLOR, class_color, format_clock

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ecg.io.records import Record

MM_PER_INCH = 25.4
PAGE_W_MM, PAGE_H_MM = 297.0, 210.0
ROW_S = 60.0
ROWS_PER_PAGE = 30
ROW_MM = 262.0  # trace width of a row, mm (60 s -> 4.37 mm/s)
ROW_PITCH_MM = 5.9  # distance between rows, mm
GAIN_MM_MV = 4.0
LEFT_MM = 26.0  # trace start; the row's time is printed left of it
TOP_MM = 193.0  # centre line of the first row, from the page bottom
TRACE_DPI = 150  # trace resolution: min/max points a row = 2 * ROW_MM / 25.4 * TRACE_DPI
FULL_DISCLOSURE_GID = "full-disclosure"


def full_disclosure_page_count(
    n_samples: int, fs: float, *, row_s: float = ROW_S, rows_per_page: int = ROWS_PER_PAGE
) -> int:
    """Pages needed for ``n_samples`` at ``fs`` Hz: ``ceil(rows / rows_per_page)``, with
    ``rows = ceil(duration / row_s)``."""
    rows = math.ceil(n_samples / fs / row_s - 1e-9) if n_samples > 0 else 0
    return math.ceil(rows / rows_per_page)


def page_sample_range(
    page: int, n_samples: int, fs: float, *, row_s: float = ROW_S, rows_per_page: int = ROWS_PER_PAGE
) -> tuple[int, int]:
    """Samples ``[a, b)`` shown on ``page`` (0-based)."""
    per_page = rows_per_page * row_s * fs
    a = int(round(page * per_page))
    return a, min(int(n_samples), int(round((page + 1) * per_page)))


def rows_envelope(x: np.ndarray, fs: float, row_s: float, rows: int, points: int) -> tuple[np.ndarray, np.ndarray]:
    """``x`` cut into ``rows`` rows of ``row_s`` s (NaN-padded), each reduced to at most
    ``2 * points`` points: the min and max of every bucket of consecutive samples (what a
    printer at ``points`` dots a row shows). Returns (rows, m) float32 arrays of time in the
    row (s) and mV."""
    row_len = int(round(row_s * fs))
    k = -(-row_len // max(points, 1))  # samples a bucket
    if k < 2:
        y = np.full(rows * row_len, np.nan, np.float32)
        y[: min(x.size, y.size)] = x[: y.size]
        t = np.arange(row_len, dtype=np.float32) / np.float32(fs)
        return np.broadcast_to(t, (rows, row_len)), y.reshape(rows, row_len)
    nb = -(-row_len // k)
    y = np.full((rows, nb * k), np.nan, np.float32)
    flat = np.full(rows * row_len, np.nan, np.float32)
    flat[: min(x.size, flat.size)] = x[: flat.size]
    y[:, :row_len] = flat.reshape(rows, row_len)
    b = y.reshape(rows, nb, k)
    lo, hi = np.fmin.reduce(b, axis=2), np.fmax.reduce(b, axis=2)
    first_is_min = np.argmin(np.nan_to_num(b, nan=np.inf), axis=2) < np.argmax(np.nan_to_num(b, nan=-np.inf), axis=2)
    pair = np.where(first_is_min[..., None], np.stack([lo, hi], -1), np.stack([hi, lo], -1)).reshape(rows, 2 * nb)
    t = ((np.arange(nb, dtype=np.float32)[:, None] * k + np.array([0.25, 0.75], np.float32) * k) / fs).ravel()
    t = np.minimum(t, (row_len - 1) / fs).astype(np.float32)  # the last bucket may be padded
    return np.broadcast_to(t, pair.shape), pair


def iter_full_disclosure_pages(
    record: Record,
    beats: pd.DataFrame,
    *,
    lead: int = 0,
    class_column: str = "pred_class",
    start_time: datetime | None = None,
    decorate: Callable[[Figure, int], None] | None = None,
    row_s: float = ROW_S,
    rows_per_page: int = ROWS_PER_PAGE,
    rasterized: bool = False,
) -> Iterator[Figure]:
    """The full disclosure pages of ``record`` (lead index ``lead``), one figure a page, in
    order. ``beats`` (sample order) gives the marks; ``start_time`` the clock times (default
    the record's). ``decorate(fig, k)`` is called on page ``k`` (0-based), e.g. to add a footer.
    The trace axes carry ``gid="full-disclosure"``; data per page: ``rows_per_page * row_s * fs``
    samples of one lead. ``rasterized`` draws the traces as an image (see the module docstring
    for why it is off)."""
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.figure import Figure

    fs = float(record.fs)
    n = record.n_samples
    start = start_time if start_time is not None else record.start_time
    with_day = start is not None and n / fs > 86400.0
    n_pages = full_disclosure_page_count(n, fs, row_s=row_s, rows_per_page=rows_per_page)
    sample = beats["sample"].to_numpy(np.int64)
    labels = beats[class_column]
    lead_name = record.lead_names[lead]
    pitch_mv = ROW_PITCH_MM / GAIN_MM_MV
    for page in range(n_pages):
        a, b = page_sample_range(page, n, fs, row_s=row_s, rows_per_page=rows_per_page)
        rows = math.ceil((b - a) / (row_s * fs) - 1e-9)
        x = np.asarray(record.signal[a:b, lead], dtype=np.float32)
        t, y = rows_envelope(x, fs, row_s, rows, int(ROW_MM / MM_PER_INCH * TRACE_DPI))
        offset = -np.arange(rows, dtype=np.float32)[:, None] * pitch_mv
        # centre each row on its median, clip to the row band and half its neighbours'
        med = np.zeros((rows, 1), np.float32)
        has = np.isfinite(y).any(axis=1)
        med[has, 0] = np.nanmedian(y[has], axis=1)
        yc = np.clip(y - med, -pitch_mv, pitch_mv) + offset

        fig = Figure(figsize=(PAGE_W_MM / MM_PER_INCH, PAGE_H_MM / MM_PER_INCH), dpi=TRACE_DPI)
        top_mv = 1.2 * pitch_mv
        bottom_mv = -(rows_per_page - 1) * pitch_mv - 1.2 * pitch_mv
        height_mm = (top_mv - bottom_mv) * GAIN_MM_MV
        ax = fig.add_axes(
            (
                LEFT_MM / PAGE_W_MM,
                (TOP_MM - (rows_per_page - 1) * ROW_PITCH_MM - 1.2 * ROW_PITCH_MM) / PAGE_H_MM,
                ROW_MM / PAGE_W_MM,
                height_mm / PAGE_H_MM,
            ),
            gid=FULL_DISCLOSURE_GID,
        )
        ax.set_xlim(0.0, row_s)
        ax.set_ylim(bottom_mv, top_mv)
        ax.set_axis_off()
        # minute ticks: every 10 s along the top
        for s in np.arange(0.0, row_s + 1e-9, 10.0):
            ax.text(s, top_mv, f"{s:g} s", fontsize=5, ha="center", va="bottom", color="#777777")

        lo, hi = np.searchsorted(sample, [a, b])
        bs, bc = sample[lo:hi], labels.iloc[lo:hi].astype(str).to_numpy()
        r = (bs - a) // int(round(row_s * fs))
        bt = (bs - a - r * int(round(row_s * fs))) / fs
        by = -r * pitch_mv + 0.55 * pitch_mv
        normal = bc == "N"
        # traces and N-beat ticks: one collection (one image a page with ``rasterized``)
        ticks = np.stack([np.c_[bt[normal], bt[normal]], np.c_[by[normal], by[normal] + 0.12 * pitch_mv]], -1)
        lines = list(np.stack([t, yc], axis=-1)) + list(ticks)
        colors = [TRACE_COLOR] * rows + ["#9e9e9e"] * len(ticks)
        ax.add_collection(LineCollection(lines, colors=colors, linewidths=0.3, rasterized=rasterized))
        if "af" in beats.columns and hi > lo:
            af = beats["af"].to_numpy(bool)[lo:hi]
            pair = af[:-1] & af[1:] & (r[:-1] == r[1:])  # consecutive AF beats on one row
            if pair.any():
                x0, x1 = bt[:-1][pair], bt[1:][pair]
                yr = (-r[:-1][pair] * pitch_mv)[:, None]
                lo_y, hi_y = yr - 0.3 * pitch_mv, yr + 0.7 * pitch_mv
                boxes = np.stack([np.c_[x0, x1, x1, x0], np.c_[lo_y, lo_y, hi_y, hi_y]], -1)
                ax.add_collection(PolyCollection(list(boxes), facecolors="#ff9800", alpha=0.18, linewidths=0))
        for k in np.flatnonzero(~normal):
            ax.text(
                bt[k], by[k], bc[k], fontsize=4.2, ha="center", va="bottom", color=class_color(bc[k]), weight="bold"
            )

        for k in range(rows):
            t0 = (a / fs) + k * row_s
            fig.text(
                (LEFT_MM - 1.5) / PAGE_W_MM,
                (TOP_MM - k * ROW_PITCH_MM) / PAGE_H_MM,
                format_clock(t0, start, with_day=with_day),
                fontsize=5.5 if not with_day else 4.5,
                ha="right",
                va="center",
            )
        first, last = a / fs, b / fs
        fig.text(
            12 / PAGE_W_MM,
            (PAGE_H_MM - 3) / PAGE_H_MM,
            f"Record {record.name}: full disclosure {page + 1}/{n_pages}, "
            f"{format_clock(first, start, with_day=with_day)} - {format_clock(last, start, with_day=with_day)}   "
            f"(lead {lead_name}, {row_s:g} s a row, {ROW_MM / row_s:.2f} mm/s, {GAIN_MM_MV:g} mm/mV; "
            f"labels: beats not N by {class_column}; orange: AF / flutter)",
            fontsize=8.5,
            weight="bold",
            va="top",
        )
        if decorate is not None:
            decorate(fig, page)
        yield fig


__all__ = [
    "FULL_DISCLOSURE_GID",
    "TRACE_DPI",
    "ROWS_PER_PAGE",
    "ROW_S",
    "full_disclosure_page_count",
    "iter_full_disclosure_pages",
    "page_sample_range",
    "rows_envelope",
]
