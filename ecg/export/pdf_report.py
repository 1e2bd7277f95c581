"""Printable PDF review report (A4 landscape): a Holter summary page, then ECG strips of the
record's events, chosen by clinical rule (:mod:`ecg.export.event_strips`), on a true ECG paper
grid (25 mm/s, 10 mm/mV when printed at actual size), two leads when the recording has them;
optionally the whole recording as full disclosure pages (:mod:`ecg.export.full_disclosure`).

Every figure on page 1 is read from the record's typed Holter summary
(:class:`~ecg.scoring.summary_types.HolterSummary`); nothing is recomputed here. A figure the
summary does not have (None) prints as "-". Beat labels come from ``class_column`` (the
model's ``pred_class`` by default, or reviewed labels); page 1 says which. Times are clock
times when the recording's start is known, else h:mm:ss from the start.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ecg.export.event_strips import EventStrip, choose_event_strips, strip_kinds_sentence
from ecg.export.full_disclosure import full_disclosure_page_count, iter_full_disclosure_pages
from ecg.io.atomic import atomic_path
from ecg.scoring.summary_types import ECTOPY_CLASSES, HolterSummary
from ecg.viz.grid import (
    CLASS_COLORS,
    GRID_MAJOR_COLOR,
    GRID_MINOR_COLOR,
    MAJOR_MV,
    PAPER_GAIN_MM_MV,
    PAPER_SPEED_MM_S,
    TRACE_COLOR,
    class_color,
    format_clock,
    format_hms,
    grid_polylines,
    parse_start_time,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ecg.io.records import Record

MM_PER_INCH = 25.4
PAGE_W_MM, PAGE_H_MM = 297.0, 210.0  # A4 landscape
STRIP_S = 10.0  # seconds per strip -> 250 mm
STRIP_MV = 4.0  # millivolts per strip -> 40 mm
STRIPS_PER_PAGE = 3  # strips of one lead a page
STRIPS_PER_PAGE_TWO_LEADS = 2
ECTOPIC_RUN_CLASSES = ("V", "S")
MIN_RUN = 3
PAUSE_S = 2.0  # RR (s) beyond which a beat is next to a pause
AF_EPISODES_LISTED = 6
STRIP_GID = "ecg-strip"
_DASH = "-"
_CLASS_NAMES = {"N": "normal", "S": "supraventricular", "V": "ventricular", "F": "fusion", "Q": "paced / unclass."}


# --------------------------------------------------------------------------------------------
# strip selection
# --------------------------------------------------------------------------------------------


def ectopic_runs(
    beats: pd.DataFrame,
    classes: tuple[str, ...] = ECTOPIC_RUN_CLASSES,
    min_len: int = MIN_RUN,
    class_column: str = "pred_class",
) -> pd.DataFrame:
    """Runs of ``>= min_len`` consecutive beats of the same class (``class_column``) in
    ``classes``: columns ``first`` (row position), ``length``, ``cls``, ``time_s`` (s)."""
    cls = beats[class_column].astype(str).to_numpy() if len(beats) else np.empty(0, object)
    if cls.size == 0:
        return pd.DataFrame(
            {
                "first": pd.Series(dtype=int),
                "length": pd.Series(dtype=int),
                "cls": pd.Series(dtype=object),
                "time_s": pd.Series(dtype=float),
            }
        )
    change = np.flatnonzero(cls[1:] != cls[:-1]) + 1
    starts = np.r_[0, change]
    lengths = np.diff(np.r_[starts, cls.size])
    keep = np.isin(cls[starts], list(classes)) & (lengths >= min_len)
    starts, lengths = starts[keep], lengths[keep]
    return pd.DataFrame(
        {"first": starts, "length": lengths, "cls": cls[starts], "time_s": beats["time_s"].to_numpy(float)[starts]}
    )


# --------------------------------------------------------------------------------------------
# the summary as table rows (read from HolterSummary; nothing recomputed here)
# --------------------------------------------------------------------------------------------


def _fmt_num(v: Any, nd: int = 0, unit: str = "") -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return _DASH
    if not math.isfinite(f):
        return _DASH
    return f"{f:,.{nd}f}{unit}"


def _fmt_count(v: Any) -> str:
    try:
        return f"{int(v):,}"
    except (TypeError, ValueError):
        return _DASH


def _event_time(ev: Any) -> str:
    """ " at HH:MM:SS" (clock time, when the summary has it) or " at h:mm:ss" (from the
    start) for a summary event; "" when it has no time."""
    t = getattr(ev, "time_s", None)
    if t is None:
        t = getattr(ev, "start_s", None)
    if t is None:
        return ""
    clock = getattr(ev, "clock", None)
    if isinstance(clock, str) and len(clock) >= 19:
        return f" at {clock[11:19]}"
    return f" at {format_hms(float(t), 0)}"


def _when(summary: HolterSummary, t_s: float | None) -> str:
    """A time from the recording's start as clock time when the start is known, else h:mm:ss."""
    start = parse_start_time(summary.recording.start_time)
    long_rec = (summary.recording.duration_s or 0.0) > 86400.0
    return format_clock(t_s, start, with_day=long_rec and start is not None)


def summary_rows(summary: HolterSummary) -> dict[str, list[list[str]]]:
    """The summary tables as rows of strings: ``{"beats": [[label, value]], "ectopy":
    [[measure, V, S, F]], "pauses": [[label, value]], "af": [[label, value]]}``."""
    b = summary.beats
    analysed = b.analysed
    beat_rows = [["Total beats", _fmt_count(b.total)]]
    for c in CLASS_COLORS:
        n = b.by_class.get(c, 0)
        pct = f" ({100.0 * n / b.total:.1f}%)" if b.total else ""
        beat_rows.append([f"  {c}: {_CLASS_NAMES[c]}", f"{_fmt_count(n)}{pct}"])
    if b.in_unreadable_signal:
        beat_rows.append(["  in unreadable signal (Q)", _fmt_count(b.in_unreadable_signal)])
    hr = summary.heart_rate
    hr_rows = [["Mean heart rate", _fmt_num(hr.mean_bpm, 0, " bpm")]]
    for ev, label in ((hr.min, "Minimum heart rate"), (hr.max, "Maximum heart rate")):
        hr_rows.append([label, _fmt_num(ev.bpm, 0, " bpm") + _event_time(ev) if ev is not None else _DASH])
    hr_rows.append(["  min / max over", f"{hr.window_intervals} consecutive RR intervals"])
    hrv = summary.hrv
    if hrv is not None and hrv.n_intervals:
        hr_rows.append(["HRV: SDNN / RMSSD", f"{_fmt_num(hrv.sdnn_ms, 0, ' ms')} / {_fmt_num(hrv.rmssd_ms, 0, ' ms')}"])
        hr_rows.append(["  SDANN / pNN50", f"{_fmt_num(hrv.sdann_ms, 0, ' ms')} / {_fmt_num(hrv.pnn50_pct, 1, ' %')}"])
        hr_rows.append(["  NN intervals", _fmt_count(hrv.n_intervals)])

    ectopy_rows = []
    for label, get, kind in (
        ("Total", lambda e: e.total, "count"),
        ("Burden", lambda e: e.burden_pct, "pct"),
        ("Per hour", lambda e: e.per_hour, "rate"),
        ("Isolated", lambda e: e.isolated, "count"),
        ("Couplets", lambda e: e.couplets, "count"),
        ("Runs (>= 3 beats)", lambda e: e.runs.count, "count"),
        ("Longest run", lambda e: e.runs.longest, "run"),
        ("  at", lambda e: e.runs.longest, "time"),
        ("Fastest run", lambda e: e.runs.fastest, "run"),
        ("  at", lambda e: e.runs.fastest, "time"),
        ("Bigeminy episodes", lambda e: e.bigeminy.episodes, "count"),
        ("Trigeminy episodes", lambda e: e.trigeminy.episodes, "count"),
    ):
        row = [label]
        for x in ECTOPY_CLASSES:
            v = get(summary.ectopy.of(x))
            if kind == "count":
                row.append(_fmt_count(v))
            elif kind == "pct":
                row.append(_fmt_num(v, 2, " %"))
            elif kind == "rate":
                row.append(_fmt_num(v, 1, " /h"))
            elif kind == "run":
                row.append(f"{_fmt_count(v.beats)} @ {_fmt_num(v.bpm, 0, ' bpm')}" if v is not None else _DASH)
            else:
                row.append(_event_time(v).replace(" at ", "") or _DASH if v is not None else _DASH)
        ectopy_rows.append(row)

    p = summary.pauses
    longest_txt = (_fmt_num(p.longest.duration_s, 2, " s") + _event_time(p.longest)) if p.longest else "none"
    f = summary.flags
    pause_rows = [
        [f"Pauses > {p.threshold_s:g} s", _fmt_count(p.count)],
        ["Longest pause", longest_txt],
        ["Flagged beats", f"{f.count:,}" + (f" ({100.0 * f.count / b.total:.1f}%)" if b.total else "")],
    ]
    for r, label in (("class", "by class only"), ("anomaly", "by anomaly only"), ("class+anomaly", "by both")):
        pause_rows.append([f"  {label}", _fmt_count(f.by_reason.get(r, 0))])

    af = summary.af
    af_rows = [
        ["Burden", f"{_fmt_num(af.burden_pct, 1, '%')} of {analysed:,} beats" if af.burden_pct is not None else _DASH],
        ["Episodes", f"{len(af.episodes):,}" + (f", {format_hms(af.duration_s, 0)} in all" if af.episodes else "")],
    ]
    for k, e in enumerate(af.episodes[:AF_EPISODES_LISTED]):
        af_rows.append(
            [
                f"  {k + 1}. {_when(summary, e.start_s)}-{_when(summary, e.end_s)}",
                f"{format_hms(e.duration_s, 0)}, {_fmt_num(e.mean_hr_bpm, 0, ' bpm')}",
            ]
        )
    if len(af.episodes) > AF_EPISODES_LISTED:
        af_rows.append([f"  ... and {len(af.episodes) - AF_EPISODES_LISTED} more", ""])
    return {"beats": beat_rows + hr_rows, "ectopy": ectopy_rows, "pauses": pause_rows, "af": af_rows}


# --------------------------------------------------------------------------------------------
# drawing
# --------------------------------------------------------------------------------------------


def _new_page() -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(PAGE_W_MM / MM_PER_INCH, PAGE_H_MM / MM_PER_INCH))


def _axes_mm(fig: Figure, left_mm: float, bottom_mm: float, width_mm: float, height_mm: float, **kw: Any) -> Axes:
    """Axes placed and sized in millimetres on the page."""
    return fig.add_axes((left_mm / PAGE_W_MM, bottom_mm / PAGE_H_MM, width_mm / PAGE_W_MM, height_mm / PAGE_H_MM), **kw)


def axes_size_mm(ax: Axes) -> tuple[float, float]:
    """Physical (width, height) of an axes on its page, millimetres."""
    pos = ax.get_position()
    w_in, h_in = ax.figure.get_size_inches()
    return pos.width * w_in * MM_PER_INCH, pos.height * h_in * MM_PER_INCH


def _text(fig: Figure, x_mm: float, y_mm: float, s: str, **kw: Any) -> None:
    fig.text(x_mm / PAGE_W_MM, y_mm / PAGE_H_MM, s, **kw)


def _draw_grid(ax: Axes, t0: float, t1: float, v0: float, v1: float, *, dx: float = 0.0) -> None:
    """The ECG paper grid over [t0, t1] x [v0, v1] (s, mV), drawn ``dx`` s to the right (for
    the calibration box left of a strip), as two paths (gid ``grid-minor`` / ``grid-major``)."""
    for kind, color, lw, z in (("minor", GRID_MINOR_COLOR, 0.25, 0), ("major", GRID_MAJOR_COLOR, 0.6, 0.5)):
        x, y = grid_polylines(t0, t1, v0, v1)[kind]
        ax.plot(x + dx, y, color=color, lw=lw, zorder=z, clip_on=False, gid=f"grid-{kind}")


def _frame(ax: Axes, t0: float, t1: float, v0: float, v1: float) -> None:
    ax.set_xlim(t0, t1)
    ax.set_ylim(v0, v1)
    ax.set_xticks([])
    ax.set_yticks([])
    for sp in ax.spines.values():
        sp.set_color(GRID_MAJOR_COLOR)
        sp.set_linewidth(0.6)


@lru_cache(maxsize=2)
def _font_file(bold: bool) -> str:
    from matplotlib.font_manager import FontProperties, findfont

    return findfont(FontProperties(weight="bold" if bold else "normal"))


@lru_cache(maxsize=4096)
def _text_width_mm(s: str, fontsize: float, bold: bool = False) -> float:
    """The printed width of ``s`` (mm) in matplotlib's default font."""
    from matplotlib.font_manager import get_font

    if not s:
        return 0.0
    font = get_font(_font_file(bold))
    font.set_size(fontsize, 72)  # 1 pixel = 1 point
    font.set_text(s, 0.0)
    return font.get_width_height()[0] / 64.0 * MM_PER_INCH / 72.0


def _fit_fontsize(s: str, width_mm: float, fontsize: float, bold: bool = False, smallest: float = 5.5) -> float:
    """``fontsize``, reduced (down to ``smallest``) so that ``s`` fits ``width_mm``."""
    need = _text_width_mm(s, fontsize, bold)
    return fontsize if need <= width_mm or not s else max(smallest, fontsize * width_mm / need)


def _table(
    fig: Figure,
    left_mm: float,
    top_mm: float,
    width_mm: float,
    rows: list[list[str]],
    title: str,
    col_widths: list[float],
    header: list[str] | None = None,
    row_mm: float = 4.6,
) -> float:
    """A simple ruled table drawn with text; returns the y (mm) below it. A cell too wide for
    its column is printed smaller, so that it never runs into the next one."""
    _text(fig, left_mm, top_mm, title, fontsize=_fit_fontsize(title, width_mm, 10.5, True), weight="bold", va="top")
    y = top_mm - 6.5
    widths = np.asarray(col_widths, float) * width_mm
    xs = np.cumsum(np.r_[0.0, widths[:-1]]) + left_mm
    fig.add_artist(_hline(fig, left_mm, left_mm + width_mm, y + 1.6, 0.8))
    if header:
        for x, w, h in zip(xs, widths, header):
            _text(fig, x, y, h, fontsize=_fit_fontsize(h, w - 1.0, 8, True), weight="bold", va="top")
        y -= row_mm
        fig.add_artist(_hline(fig, left_mm, left_mm + width_mm, y + 1.2, 0.4))
    for row in rows:
        for k, (x, w, cell) in enumerate(zip(xs, widths, row)):
            bold = k == 0 and not cell.startswith(" ") and header is None
            _text(
                fig,
                x,
                y,
                cell,
                fontsize=_fit_fontsize(cell, w - 1.0, 8, bold),
                va="top",
                weight="bold" if bold else "normal",
            )
        y -= row_mm
    fig.add_artist(_hline(fig, left_mm, left_mm + width_mm, y + 1.2, 0.8))
    return y


def _hline(fig: Figure, x0_mm: float, x1_mm: float, y_mm: float, lw: float) -> Any:
    from matplotlib.lines import Line2D

    return Line2D(
        [x0_mm / PAGE_W_MM, x1_mm / PAGE_W_MM],
        [y_mm / PAGE_H_MM] * 2,
        transform=fig.transFigure,
        color="#444444",
        linewidth=lw,
    )


def _footer(fig: Figure, record: Record, page: int, n_pages: int, generated: str) -> None:
    _text(
        fig,
        12,
        6,
        f"Record {record.name}  |  generated {generated}  |  automated analysis: every finding must be "
        "confirmed by a qualified reviewer",
        fontsize=7,
        color="#555555",
    )
    _text(fig, PAGE_W_MM - 12, 6, f"page {page} of {n_pages}", fontsize=7, color="#555555", ha="right")


def labels_statement(summary: HolterSummary, class_column: str = "pred_class") -> str:
    """Which beat labels the report uses: the model's, or reviewed ones (with how many beats
    reviewers decided and changed, from ``summary.review``)."""
    rv = summary.review
    if rv is not None:
        who = f" by {', '.join(rv.reviewers)}" if rv.reviewers else ""
        when = f", last decision {rv.last_decision_at}" if rv.last_decision_at else ""
        return (
            f"This report uses reviewed labels: {rv.reviewed_beats:,} beats reviewed{who}, "
            f"{rv.changed_beats:,} changed from the model's class, {rv.artefact_beats:,} marked artefact{when}."
        )
    if class_column != "pred_class":
        return f"Beat labels: column {class_column!r}."
    return "Beat labels: the model's predicted classes (not reviewed)."


def _summary_page(
    record: Record,
    beats: pd.DataFrame,
    summary: HolterSummary,
    strips: Sequence[EventStrip],
    strip_leads: Sequence[str],
    bundle_version: str,
    generated: str,
    n_pages: int,
    class_column: str,
) -> Figure:
    from ecg.viz.figures import hr_trend_table

    fig = _new_page()
    _text(fig, 12, 200, f"Holter ECG analysis report: record {record.name}", fontsize=16, weight="bold", va="top")
    sq = summary.signal_quality
    start = summary.recording.start_time
    meta = [
        f"Duration {format_hms(record.duration_s, 0)} ({record.duration_s:,.1f} s)"
        + (f", analysable {sq.analysable_pct:.1f}%" if sq.analysable_pct is not None else "")
        + (f" (unreadable {format_hms(sq.unreadable_s, 0)})" if sq.unreadable_s else "")
        + (f", start {str(start).replace('T', ' ')}" if start else ""),
        f"Leads {', '.join(record.lead_names)} at {record.fs:g} Hz, analysed "
        f"{', '.join(summary.recording.analysed_leads) or '-'}  |  generated {generated}  |  "
        f"model bundle {bundle_version or 'not given'}",
    ]
    y = 191.0
    for line in meta:
        _text(fig, 12, y, line, fontsize=9, va="top", color="#222222")
        y -= 4.8
    reviewed = summary.review is not None
    _text(
        fig,
        12,
        y,
        labels_statement(summary, class_column),
        fontsize=9,
        va="top",
        weight="bold" if reviewed else "normal",
        color="#0d47a1" if reviewed else "#222222",
        gid="labels-statement",
    )
    y -= 4.8
    for warning in summary.warnings:
        _text(fig, 12, y, f"Warning: {warning}", fontsize=9, va="top", color="#b71c1c", weight="bold", gid="warning")
        y -= 4.5
    top = y - 2.5

    rows = summary_rows(summary)
    ectopy_title = (
        "Ectopy (reviewed labels)"
        if reviewed
        else (
            "Ectopy (predicted classes)" if summary.class_column == "pred_class" else f"Ectopy ({summary.class_column})"
        )
    )
    bottoms = [
        _table(fig, 12, top, 80, rows["beats"], "Beats and heart rate", [0.46, 0.54]),
        _table(
            fig,
            98,
            top,
            112,
            rows["ectopy"],
            ectopy_title,
            [0.28, 0.24, 0.24, 0.24],
            header=["", "Ventricular (V)", "Supraventr. (S)", "Fusion (F)"],
        ),
    ]
    y_right = _table(fig, 216, top, 73, rows["pauses"], "Pauses and review", [0.44, 0.56])
    bottoms.append(_table(fig, 216, y_right - 4.0, 73, rows["af"], "Atrial fibrillation / flutter", [0.52, 0.48]))

    y = min(bottoms) - 1.5
    for line in textwrap.wrap(strip_kinds_sentence(strips), 125) or [""]:
        _text(fig, 12, y, line, fontsize=9.5, weight="bold", va="top")
        y -= 4.5
    _text(
        fig,
        12,
        y,
        f"Strips: {STRIP_S:g} s, lead{'s' if len(strip_leads) > 1 else ''} {', '.join(strip_leads)}, 25 mm/s and "
        "10 mm/mV when printed at actual size (100%); "
        + ("times are clock times." if start else "times are h:mm:ss from the start (start time unknown)."),
        fontsize=8,
        va="top",
        color="#444444",
        gid="strip-note",
    )
    trend_top = y - 11.0  # room for the trend's title
    ax = _axes_mm(fig, 22, 17, 263, max(trend_top - 17.0, 24.0))
    tab = hr_trend_table(beats, 60.0)
    long_rec = record.duration_s > 3 * 3600
    scale, unit = (3600.0, "h") if long_rec else (60.0, "min")
    if len(tab):
        x = tab["t_mid_s"].to_numpy(float) / scale
        ax.fill_between(
            x, tab["hr_min_bpm"], tab["hr_max_bpm"], color="#d62728", alpha=0.15, lw=0, label="beat-to-beat range"
        )
        ax.plot(x, tab["hr_mean_bpm"], color="#b71c1c", lw=1.2, label="1-min mean HR")
        ax.legend(loc="upper right", fontsize=7, frameon=False, ncol=2)
    else:
        ax.text(0.5, 0.5, "no valid RR intervals", transform=ax.transAxes, ha="center", va="center", fontsize=9)
    ax.set_xlim(0, max(record.duration_s / scale, 1e-9))
    start_dt = parse_start_time(start)
    if start_dt is not None:
        from matplotlib.ticker import FuncFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_clock(v * scale, start_dt)[:-3]))
        ax.set_xlabel("clock time (HH:MM)", fontsize=8)
    else:
        ax.set_xlabel(f"time from the start ({unit})", fontsize=8)
    ax.set_ylabel("heart rate (bpm)", fontsize=8)
    ax.set_title("Heart-rate trend", fontsize=9.5, loc="left", weight="bold", pad=4)
    ax.tick_params(labelsize=7)
    ax.grid(True, color="#e6e6e6", lw=0.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    _footer(fig, record, 1, n_pages, generated)
    return fig


def _strip_ylim(seg: np.ndarray, label_mv: float = 0.8) -> float:
    """Bottom (mV) of the 4 mV strip window: the segment centred below the top ``label_mv``
    (kept for the beat labels), or, when it is taller, its peaks kept and its bottom clipped.
    A multiple of 0.5 mV (a major grid line) when that still holds the segment."""
    finite = seg[np.isfinite(seg)]
    if finite.size == 0:
        return -STRIP_MV / 2
    lo, hi = float(np.percentile(finite, 0.5)), float(finite.max())
    avail = STRIP_MV - label_mv
    v0 = (lo + hi) / 2 - avail / 2 if hi - lo <= avail else hi - avail
    for step in (MAJOR_MV, 0.1):
        for cand in (math.floor(v0 / step) * step, math.ceil(v0 / step) * step):
            if cand <= lo and cand + avail >= hi:
                return round(cand, 6)
    return round(v0, 1)


def strip_height_mm(n_leads: int) -> float:
    """Height of a strip of ``n_leads`` leads, mm (40 mm a lead)."""
    return n_leads * STRIP_MV * PAPER_GAIN_MM_MV


def strips_per_page(n_leads: int) -> int:
    """Strips on a page: 3 of one lead, 2 of two leads."""
    return STRIPS_PER_PAGE if n_leads <= 1 else STRIPS_PER_PAGE_TWO_LEADS


def _focus_text(beats: pd.DataFrame, row: int | None, class_column: str) -> str:
    if row is None or not 0 <= row < len(beats):
        return ""
    b = beats.iloc[row]
    label = str(b[class_column])
    pred = str(b["pred_class"]) if "pred_class" in b.index else label
    prob_col = f"prob_{pred}"
    prob = float(b[prob_col]) if prob_col in b.index else float("nan")
    ref = str(b.get("ref_symbol", "") or "")
    model = f"label {label} (model {pred} p={prob:.2f})" if label != pred else f"predicted {pred} p={prob:.2f}"
    return (
        f"marked beat: {model}   anomaly score {_fmt_num(b.get('anomaly_score'), 2)} / 100   "
        f"flag: {b.get('flag_reason', '') or 'none'}" + (f"   reference: {ref}" if ref else "")
    )


def _draw_strip(
    fig: Figure,
    record: Record,
    beats: pd.DataFrame,
    strip: EventStrip,
    lead_idxs: Sequence[int],
    bottom_mm: float,
    number: int,
    n_strips: int,
    class_column: str,
    start: datetime | None,
) -> list[Axes]:
    """One strip, ``lead_idxs`` stacked (40 mm each, the first on top), its bottom at
    ``bottom_mm``; returns the trace axes (``gid="ecg-strip"``), top first."""
    fs = float(record.fs)
    width_mm = STRIP_S * PAPER_SPEED_MM_S
    lead_mm = STRIP_MV * PAPER_GAIN_MM_MV
    left_mm = (PAGE_W_MM - width_mm) / 2
    i0, i1 = int(strip.start_sample), min(record.n_samples, int(strip.end_sample) + 1)
    t0 = i0 / fs
    t1 = t0 + STRIP_S
    block = np.asarray(record.signal[i0:i1], dtype=np.float32)  # one read for every lead
    win = beats.iloc[np.searchsorted(beats["sample"].to_numpy(np.int64), [i0, i1])[0] :]
    win = win[win["sample"].to_numpy(np.int64) < i1]
    focus = int(strip.centre_sample)
    focus_cls = str(beats[class_column].iat[strip.beat_row]) if strip.beat_row is not None else "N"
    axes = []
    with_day = start is not None and record.duration_s > 86400.0
    for k, li in enumerate(lead_idxs):
        seg = block[:, li]
        v0 = _strip_ylim(seg)
        v1 = v0 + STRIP_MV
        b_mm = bottom_mm + (len(lead_idxs) - 1 - k) * lead_mm
        ax = _axes_mm(fig, left_mm, b_mm, width_mm, lead_mm, gid=STRIP_GID)
        _frame(ax, t0, t1, v0, v1)
        ax.plot(np.arange(i0, i1) / fs, seg, color=TRACE_COLOR, lw=0.6, zorder=2, gid="trace")
        _draw_grid(ax, t0, t1, v0, v1)
        ax.text(t0 + 0.05, v0 + 0.1, record.lead_names[li], fontsize=7, weight="bold", va="bottom", zorder=3)
        # calibration pulse (1 mV, 0.2 s) in a box left of the strip (1 mm gap), on the same scale
        cal_s = 8.0 / PAPER_SPEED_MM_S
        cal_x = t0 - cal_s - 1.0 / PAPER_SPEED_MM_S
        _draw_grid(ax, 0.0, cal_s, v0, v1, dx=cal_x)
        base = math.ceil((v0 + 0.5) / MAJOR_MV) * MAJOR_MV
        ax.plot(
            cal_x + np.array([0.0, 0.04, 0.04, 0.24, 0.24, 0.32]),
            [base, base, base + 1, base + 1, base, base],
            color=TRACE_COLOR,
            lw=0.8,
            clip_on=False,
            gid="calibration",
        )
        ax.axvspan(focus / fs - 0.3, focus / fs + 0.45, color="#ffd54f", alpha=0.25, lw=0, zorder=1)
        if k == 0:
            # beat labels (``class_column``) of every beat of the window, above the trace
            for s, c, fl in zip(
                win["sample"].to_numpy(np.int64),
                win[class_column].astype(str).to_numpy(),
                win["flagged"].to_numpy(bool) if "flagged" in win else np.zeros(len(win), bool),
            ):
                is_focus = int(s) == focus
                ax.text(
                    s / fs,
                    v1 - 0.12,
                    c,
                    ha="center",
                    va="top",
                    zorder=3,
                    fontsize=8.5 if is_focus else 6.5,
                    weight="bold" if (is_focus or fl or c != "N") else "normal",
                    color=class_color(c) if (fl or is_focus or c != "N") else "#777777",
                )
            ax.plot([focus / fs], [v1 - 0.62], marker="v", ms=6, color=class_color(focus_cls), zorder=4)
            if "af" in win.columns and win["af"].to_numpy(bool).any():
                af_s = win["sample"].to_numpy(np.int64)[win["af"].to_numpy(bool)] / fs
                a, b = max(float(af_s.min()) - 0.2, t0), min(float(af_s.max()) + 0.2, t1)
                ax.plot([a, b], [v1 - 0.85] * 2, color="#e65100", lw=2.0, solid_capstyle="butt", zorder=3)
                ax.text(a, v1 - 0.95, "AF / flutter", fontsize=6.5, color="#e65100", va="top", zorder=3)
        axes.append(ax)

    top_mm = bottom_mm + len(lead_idxs) * lead_mm
    names = ", ".join(record.lead_names[i] for i in lead_idxs)
    span = f"{format_clock(t0, start, with_day=with_day)} - {format_clock(t1, start, with_day=with_day)}"
    head = f"{number}/{n_strips}   {strip.label}"
    _text(
        fig, left_mm, top_mm + 5.2, head, fontsize=_fit_fontsize(head, width_mm, 8.5, True), weight="bold", va="bottom"
    )
    sub = f"{span}   lead{'s' if len(lead_idxs) > 1 else ''} {names}   " + _focus_text(
        beats, strip.beat_row, class_column
    )
    _text(fig, left_mm, top_mm + 1.3, sub, fontsize=_fit_fontsize(sub, width_mm, 7.5), va="bottom", color="#333333")
    _text(
        fig,
        left_mm,
        bottom_mm - 1.5,
        format_clock(t0, start, with_day=with_day),
        fontsize=6.5,
        va="top",
        color="#555555",
    )
    _text(
        fig,
        left_mm + width_mm,
        bottom_mm - 1.5,
        format_clock(t1, start, with_day=with_day),
        fontsize=6.5,
        va="top",
        ha="right",
        color="#555555",
    )
    _text(
        fig,
        left_mm + 30,
        bottom_mm - 2.0,
        "Reviewer: ______________________     Decision: ______________________"
        "     Comment: ____________________________________",
        fontsize=8,
        va="top",
    )
    return axes


def _default_lead(record: Record, beats: pd.DataFrame, lead: int | str | None) -> int:
    if lead is not None:
        return record.lead_index(lead)
    if len(beats) and "lead" in beats.columns:
        common = beats["lead"].astype(str).mode()
        names = [n.lower() for n in record.lead_names]
        if len(common):
            first = str(common.iloc[0]).split("+")[0].lower()
            if first in names:
                return names.index(first)
    return 0


def strip_leads(
    record: Record,
    beats: pd.DataFrame,
    summary: HolterSummary,
    lead: int | str | None = None,
    leads: Sequence[int | str] | None = None,
) -> list[int]:
    """Lead indices the strips show: ``leads`` when given (at most two), else ``lead`` (or
    the lead the beats were analysed on) then the other analysed leads (the summary's
    ``recording.analysed_leads``, the beat table's ``lead`` column), then any other lead of
    the recording: two leads when the recording has them."""
    if leads:
        out = []
        for x in leads:
            i = record.lead_index(x)
            if i not in out:
                out.append(i)
        return out[:2]
    names = [n.lower() for n in record.lead_names]
    order = [_default_lead(record, beats, lead)]
    wanted = list(summary.recording.analysed_leads)
    if len(beats) and "lead" in beats.columns:
        wanted += [x for v in beats["lead"].astype(str).unique()[:20] for x in v.split("+")]
    wanted += list(record.lead_names)
    for name in wanted:
        i = names.index(name.lower()) if name and name.lower() in names else None
        if i is not None and i not in order:
            order.append(i)
    return order[:2]


def iter_report_pages(
    record: Record,
    beats: pd.DataFrame,
    summary: HolterSummary,
    *,
    max_strips: int = 30,
    lead: int | str | None = None,
    leads: Sequence[int | str] | None = None,
    bundle_version: str = "",
    generated: str | None = None,
    class_column: str = "pred_class",
    full_disclosure: bool = False,
) -> Iterator[Figure]:
    """The report's pages as matplotlib figures (A4 landscape), in order: the summary page,
    the daily page (recordings over a day), the event strips (:func:`choose_event_strips`;
    3 a page of one lead, 2 a page of two leads), then, with ``full_disclosure``, the whole
    recording (:mod:`ecg.export.full_disclosure`). Strip axes carry ``gid="ecg-strip"``."""
    if class_column not in beats.columns:
        raise ValueError(f"beat table has no column {class_column!r}")
    generated = generated or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    beats = beats.reset_index(drop=True)
    start = record.start_time or parse_start_time(summary.recording.start_time)
    strips = choose_event_strips(
        summary,
        beats,
        float(record.fs),
        n_samples=record.n_samples,
        max_strips=max_strips,
        strip_s=STRIP_S,
        class_column=class_column,
        start_time=start,
    )
    lead_idxs = strip_leads(record, beats, summary, lead, leads)
    per_page = strips_per_page(len(lead_idxs))
    n_strips = len(strips)
    daily = len(summary.daily) > 1
    n_strip_pages = math.ceil(n_strips / per_page)
    n_fd = full_disclosure_page_count(record.n_samples, float(record.fs)) if full_disclosure else 0
    n_pages = 1 + int(daily) + n_strip_pages + n_fd
    yield _summary_page(
        record,
        beats,
        summary,
        strips,
        [record.lead_names[i] for i in lead_idxs],
        bundle_version,
        generated,
        n_pages,
        class_column,
    )
    if daily:
        yield _daily_page(record, summary, generated, n_pages)
    top_mm, bottom_mm = PAGE_H_MM - 7.0, 13.0  # strips between the page title and the footer
    slot_mm = (top_mm - bottom_mm) / per_page
    first_strip_page = 2 + int(daily)
    h_mm = len(lead_idxs) * STRIP_MV * PAPER_GAIN_MM_MV
    for p in range(n_strip_pages):
        fig = _new_page()
        _text(
            fig,
            12,
            PAGE_H_MM - 3.0,
            f"Record {record.name}: event strips   (25 mm/s, 10 mm/mV; print at actual size)",
            fontsize=8.5,
            weight="bold",
            va="top",
        )
        for k, strip in enumerate(strips[p * per_page : (p + 1) * per_page]):
            bottom = top_mm - k * slot_mm - 9.5 - h_mm
            _draw_strip(
                fig, record, beats, strip, lead_idxs, bottom, p * per_page + k + 1, n_strips, class_column, start
            )
        _footer(fig, record, p + first_strip_page, n_pages, generated)
        yield fig
    if full_disclosure:
        first_fd = first_strip_page + n_strip_pages
        yield from iter_full_disclosure_pages(
            record,
            beats,
            lead=lead_idxs[0],
            class_column=class_column,
            start_time=start,
            decorate=lambda fig, k: _footer(fig, record, first_fd + k, n_pages, generated),
        )


def daily_rows(summary: HolterSummary) -> list[list[str]]:
    """The daily breakdown (:attr:`HolterSummary.daily`) as table rows for the report."""
    rows = []
    for d in summary.daily:
        start = f"{format_hms(d.time_s, 0)}" + (f" ({str(d.clock).replace('T', ' ')})" if d.clock else "")
        rows.append(
            [
                f"Day {d.day + 1}",
                start,
                format_hms(d.duration_s, 0) or _DASH,
                _fmt_count(d.beats),
                _fmt_count(d.V),
                _fmt_count(d.S),
                _fmt_count(d.F),
                _fmt_count(d.af_beats),
                _fmt_num(d.mean_bpm, 0),
                _fmt_num(d.min_bpm, 0),
                _fmt_num(d.max_bpm, 0),
            ]
        )
    return rows


def _daily_page(record: Record, summary: HolterSummary, generated: str, n_pages: int) -> Figure:
    fig = _new_page()
    _text(fig, 12, 200, f"Record {record.name}: day by day", fontsize=14, weight="bold", va="top")
    _table(
        fig,
        12,
        188,
        273,
        daily_rows(summary),
        "Daily breakdown (24-hour periods from the recording's start)",
        [0.07, 0.2, 0.09, 0.09, 0.08, 0.08, 0.08, 0.08, 0.08, 0.075, 0.075],
        header=["", "from (clock)", "duration", "beats", "V", "S", "F", "AF beats", "mean bpm", "min bpm", "max bpm"],
    )
    _footer(fig, record, 2, n_pages, generated)
    return fig


def write_pdf_report(
    record: Record,
    beats: pd.DataFrame,
    summary: HolterSummary,
    path: str | os.PathLike,
    *,
    max_strips: int = 30,
    lead: int | str | None = None,
    bundle_version: str = "",
    leads: Sequence[int | str] | None = None,
    class_column: str = "pred_class",
    full_disclosure: bool = False,
) -> Path:
    """Write the review report of one scored record to ``path`` (PDF, A4 landscape) atomically.

    Page 1: recording details, which labels the report uses, the Holter summary tables and the
    heart-rate trend; for a recording longer than a day, page 2 is the daily breakdown. Then
    the event strips (:func:`~ecg.export.event_strips.choose_event_strips`, at most
    ``max_strips``): 10 s of ``leads`` (default: ``lead`` or the lead the beats were analysed
    on, then a second lead when the recording has one) on a true ECG grid (250 mm x 40 mm a
    lead, 1 mm = 0.04 s / 0.1 mV), each with its event, times and a reviewer field. Beat labels
    are read from ``class_column``. With ``full_disclosure``, the whole recording follows,
    one minute a row (:mod:`ecg.export.full_disclosure`).
    """
    from matplotlib.backends.backend_pdf import PdfPages

    path = Path(path)
    with atomic_path(path) as tmp:
        with PdfPages(
            tmp,
            metadata={
                "Title": f"ECG review report: {record.name}",
                "Creator": "ecg-anomaly",
                "Subject": f"model bundle {bundle_version}" if bundle_version else "",
            },
        ) as pdf:
            for fig in iter_report_pages(
                record,
                beats,
                summary,
                max_strips=max_strips,
                lead=lead,
                leads=leads,
                bundle_version=bundle_version,
                class_column=class_column,
                full_disclosure=full_disclosure,
            ):
                pdf.savefig(fig)
                fig.clear()  # free the page's arrays now (figures hold reference cycles)
    return path


__all__ = [
    "STRIPS_PER_PAGE",
    "STRIPS_PER_PAGE_TWO_LEADS",
    "axes_size_mm",
    "daily_rows",
    "ectopic_runs",
    "iter_report_pages",
    "labels_statement",
    "strip_height_mm",
    "strip_leads",
    "strips_per_page",
    "summary_rows",
    "write_pdf_report",
]
