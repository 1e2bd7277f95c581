"""Printable PDF review report (A4 landscape): a Holter summary page, then ECG strips of the
flagged beats on a true ECG paper grid (25 mm/s, 10 mm/mV when printed at actual size).

Every figure on page 1 is read from the record's typed Holter summary
(:class:`~ecg.scoring.summary_types.HolterSummary`); nothing is recomputed here. A figure the
summary does not have (None) prints as "-".
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

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
    format_hms,
    grid_segments,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ecg.io.records import Record

MM_PER_INCH = 25.4
PAGE_W_MM, PAGE_H_MM = 297.0, 210.0  # A4 landscape
STRIP_S = 10.0  # seconds per strip -> 250 mm
STRIP_MV = 4.0  # millivolts per strip -> 40 mm
STRIPS_PER_PAGE = 3
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


@dataclass(frozen=True)
class StripSelection:
    """The beats given a strip. ``beats``: rows of the beat table sorted by time with a
    ``why`` column ("score" or "run of 4 V"); ``sentence`` says what is shown."""

    beats: pd.DataFrame
    n_flagged: int
    n_top: int
    n_run_firsts: int
    n_runs: int
    sentence: str


def ectopic_runs(
    beats: pd.DataFrame, classes: tuple[str, ...] = ECTOPIC_RUN_CLASSES, min_len: int = MIN_RUN
) -> pd.DataFrame:
    """Runs of ``>= min_len`` consecutive beats of the same predicted class in ``classes``:
    columns ``first`` (row position), ``length``, ``cls``, ``time_s`` (s)."""
    cls = beats["pred_class"].astype(str).to_numpy() if len(beats) else np.empty(0, object)
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


def _strip_candidates(beats: pd.DataFrame, pause_s: float = PAUSE_S) -> np.ndarray:
    """Row positions of flagged beats that may be shown as "top anomaly score", best first:
    readable beats (good before noisy), not next to a pause (an RR over ``pause_s``: the
    score's RR term is large there, and the pause is not the beat's anomaly), ordered by
    score (ties by time)."""
    if len(beats) == 0:
        return np.empty(0, np.int64)
    flagged = beats["flagged"].to_numpy(bool)
    score = beats["anomaly_score"].to_numpy(float)
    quality = beats["quality"].astype(str).to_numpy() if "quality" in beats.columns else np.full(len(beats), "good")
    rr_prev = np.nan_to_num(beats["rr_prev_s"].to_numpy(float), nan=0.0)
    rr_next = np.nan_to_num(beats["rr_next_s"].to_numpy(float), nan=0.0)
    ok = flagged & np.isfinite(score) & (quality != "unreadable") & (rr_prev <= pause_s) & (rr_next <= pause_s)
    pos = np.flatnonzero(ok)
    noisy = (quality[pos] == "noisy").astype(np.int8)
    return pos[np.lexsort((pos, -score[pos], noisy))]


def select_strip_beats(beats: pd.DataFrame, max_strips: int = 30) -> StripSelection:
    """Choose at most ``max_strips`` beats for strips, none two showing the same seconds
    (beats closer than ``STRIP_S`` are never both chosen): the first beat of each V/S run
    (>= 3 consecutive beats, longest runs first, at most half of ``max_strips`` unless
    fewer other beats are flagged), then the flagged beats with the highest anomaly score
    among readable beats not next to a pause (:func:`_strip_candidates`); sorted by time."""
    max_strips = max(0, int(max_strips))
    flagged_pos = np.flatnonzero(beats["flagged"].to_numpy(bool)) if len(beats) else np.empty(0, np.int64)
    n_flagged = int(flagged_pos.size)
    runs = ectopic_runs(beats)
    if len(runs) and "quality" in beats.columns:
        runs = runs[beats["quality"].astype(str).to_numpy()[runs["first"].to_numpy()] != "unreadable"]
    n_runs = len(runs)
    t = beats["time_s"].to_numpy(float) if len(beats) else np.empty(0)
    candidates = _strip_candidates(beats)
    run_first = set(runs["first"].tolist())
    others = [int(p) for p in candidates if int(p) not in run_first]
    run_quota = min(n_runs, max(max_strips // 2, max_strips - len(others)))
    chosen: dict[int, str] = {}
    times: list[float] = []

    def take(p: int, why: str) -> bool:
        if len(chosen) >= max_strips or any(abs(t[p] - u) < STRIP_S for u in times):
            return False
        chosen[p] = why
        times.append(float(t[p]))
        return True

    n_run_firsts = 0
    for r in runs.sort_values(["length", "first"], ascending=[False, True], kind="stable").itertuples():
        if n_run_firsts >= run_quota:
            break
        n_run_firsts += take(int(r.first), f"first beat of a run of {int(r.length)} {r.cls}")
    n_top = 0
    for p in others:
        if len(chosen) >= max_strips:
            break
        n_top += take(p, "top anomaly score")
    pos = sorted(chosen)
    sel = beats.iloc[pos].copy()
    sel["why"] = [chosen[p] for p in pos]

    flagged_set = set(flagged_pos.tolist())
    shown_flagged = sum(1 for p in pos if p in flagged_set)
    unflagged = len(pos) - shown_flagged
    run_text = ""
    if n_run_firsts:
        run_text = (
            f"the first beat of each of the {n_runs} V/S runs (>= {MIN_RUN} consecutive beats)"
            if n_run_firsts == n_runs
            else f"the first beat of {n_run_firsts} of the {n_runs} V/S runs (>= {MIN_RUN} consecutive beats, "
            "longest first)"
        )
    if not pos:
        sentence = (
            "No flagged beats: no strips."
            if n_flagged == 0
            else f"{n_flagged} flagged beats, none in readable signal away from a pause: no strips."
        )
    elif shown_flagged == n_flagged:
        sentence = f"Showing all {n_flagged} flagged beats" + (f", including {run_text}" if run_text else "") + "."
    else:
        parts = (
            [f"top {n_top} by anomaly score (readable signal, not next to a pause, no two strips overlapping)"]
            if n_top
            else []
        ) + ([run_text] if run_text else [])
        sentence = f"Showing {shown_flagged} of {n_flagged} flagged beats: " + " and ".join(parts) + "."
    if unflagged:
        sentence = sentence[:-1] + f" ({unflagged} of these run onsets not flagged)."
    return StripSelection(sel, n_flagged, n_top, n_run_firsts, n_runs, sentence)


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


def _event_time(ev: Any, with_clock: bool = True) -> str:
    """ " at h:mm:ss (clock)" for a summary event, "" when it has no time."""
    t = getattr(ev, "time_s", None)
    if t is None:
        t = getattr(ev, "start_s", None)
    if t is None:
        return ""
    clock = getattr(ev, "clock", None)
    clock_txt = f" ({str(clock)[11:19]})" if with_clock and isinstance(clock, str) and len(clock) >= 19 else ""
    return f" at {format_hms(float(t), 0)}{clock_txt}"


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
        ("Fastest run", lambda e: e.runs.fastest, "run"),
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
            else:
                row.append(
                    f"{_fmt_count(v.beats)} @ {_fmt_num(v.bpm, 0, ' bpm')},{_event_time(v, False).replace(' at', '')}"
                    if v is not None
                    else _DASH
                )
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
        [
            "AF / flutter burden",
            f"{_fmt_num(af.burden_pct, 1, '%')} of {analysed:,} beats" if af.burden_pct is not None else _DASH,
        ],
        ["Episodes", f"{len(af.episodes):,}" + (f", {format_hms(af.duration_s, 0)} in all" if af.episodes else "")],
    ]
    for k, e in enumerate(af.episodes[:AF_EPISODES_LISTED]):
        af_rows.append(
            [
                f"  {k + 1}. {format_hms(e.start_s, 0)} - {format_hms(e.end_s, 0)}",
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


def _draw_grid(ax: Axes, t0: float, t1: float, v0: float, v1: float) -> None:
    from matplotlib.collections import LineCollection

    seg = grid_segments(t0, t1, v0, v1)
    ax.add_collection(LineCollection(seg["minor"], colors=GRID_MINOR_COLOR, linewidths=0.25, zorder=0))
    ax.add_collection(LineCollection(seg["major"], colors=GRID_MAJOR_COLOR, linewidths=0.6, zorder=0.5))
    ax.set_xlim(t0, t1)
    ax.set_ylim(v0, v1)
    ax.set_xticks([])
    ax.set_yticks([])
    for sp in ax.spines.values():
        sp.set_color(GRID_MAJOR_COLOR)
        sp.set_linewidth(0.6)


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
    """A simple ruled table drawn with text; returns the y (mm) below it."""
    _text(fig, left_mm, top_mm, title, fontsize=10.5, weight="bold", va="top")
    y = top_mm - 6.5
    xs = np.cumsum([0.0] + list(col_widths[:-1])) * width_mm + left_mm
    fig.add_artist(_hline(fig, left_mm, left_mm + width_mm, y + 1.6, 0.8))
    if header:
        for x, h in zip(xs, header):
            _text(fig, x, y, h, fontsize=8, weight="bold", va="top")
        y -= row_mm
        fig.add_artist(_hline(fig, left_mm, left_mm + width_mm, y + 1.2, 0.4))
    for row in rows:
        for k, (x, cell) in enumerate(zip(xs, row)):
            _text(
                fig,
                x,
                y,
                cell,
                fontsize=8,
                va="top",
                weight="bold" if (k == 0 and not cell.startswith(" ") and header is None) else "normal",
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


def _summary_page(
    record: Record,
    beats: pd.DataFrame,
    summary: HolterSummary,
    selection: StripSelection,
    bundle_version: str,
    generated: str,
    n_pages: int,
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
    for k, line in enumerate(meta):
        _text(fig, 12, 191 - 4.8 * k, line, fontsize=9, va="top", color="#222222")
    top = 178.0
    for k, warning in enumerate(summary.warnings):
        _text(
            fig,
            12,
            181.5 - 4.5 * k,
            f"Warning: {warning}",
            fontsize=9,
            va="top",
            color="#b71c1c",
            weight="bold",
            gid="warning",
        )
        top = 173.5 - 4.5 * k

    rows = summary_rows(summary)
    _table(fig, 12, top, 84, rows["beats"], "Beats and heart rate", [0.5, 0.5])
    _table(
        fig,
        102,
        top,
        120,
        rows["ectopy"],
        "Ectopy (predicted classes)",
        [0.28, 0.24, 0.24, 0.24],
        header=["", "Ventricular (V)", "Supraventr. (S)", "Fusion (F)"],
    )
    y = _table(fig, 228, top, 61, rows["pauses"], "Pauses and review", [0.45, 0.55])
    _table(fig, 228, y - 5.0, 61, rows["af"], "Atrial fibrillation / flutter", [0.5, 0.5])

    lines = textwrap.wrap(selection.sentence, 150) or [""]
    for k, line in enumerate(lines):
        _text(fig, 12, 66 - 4.5 * k, line, fontsize=9.5, weight="bold", va="top")
    _text(
        fig,
        12,
        66 - 4.5 * len(lines),
        f"Strips: {STRIP_S:g} s centred on the beat, lead "
        f"{{lead}}, 25 mm/s and 10 mm/mV when printed at actual size (100%).",
        fontsize=8,
        va="top",
        color="#444444",
        gid="strip-note",
    )

    ax = _axes_mm(fig, 22, 17, 263, 34)
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
    ax.set_xlabel(f"time ({unit})", fontsize=8)
    ax.set_ylabel("heart rate (bpm)", fontsize=8)
    ax.set_title("Heart-rate trend", fontsize=9.5, loc="left", weight="bold")
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


def _draw_strip(
    fig: Figure,
    record: Record,
    beats: pd.DataFrame,
    beat: pd.Series,
    lead_idx: int,
    bottom_mm: float,
    number: int,
    n_strips: int,
) -> Axes:
    fs = float(record.fs)
    width_mm = STRIP_S * PAPER_SPEED_MM_S
    height_mm = STRIP_MV * PAPER_GAIN_MM_MV
    left_mm = (PAGE_W_MM - width_mm) / 2
    center = float(beat["time_s"])
    t0 = min(max(0.0, center - STRIP_S / 2), max(0.0, record.duration_s - STRIP_S))
    t1 = t0 + STRIP_S
    i0 = int(math.ceil(t0 * fs - 1e-9))
    i1 = min(record.n_samples, int(math.floor(t1 * fs + 1e-9)) + 1)
    seg = record.signal[i0:i1, lead_idx]
    v0 = _strip_ylim(seg)
    v1 = v0 + STRIP_MV

    ax = _axes_mm(fig, left_mm, bottom_mm, width_mm, height_mm, gid=STRIP_GID)
    _draw_grid(ax, t0, t1, v0, v1)
    ax.plot(np.arange(i0, i1) / fs, seg, color=TRACE_COLOR, lw=0.6, zorder=2)

    # calibration pulse (1 mV, 0.2 s) left of the strip, on the same scale
    cal = _axes_mm(fig, left_mm - 9.0, bottom_mm, 8.0, height_mm)
    _draw_grid(cal, 0.0, 8.0 / PAPER_SPEED_MM_S, v0, v1)
    base = math.ceil((v0 + 0.5) / MAJOR_MV) * MAJOR_MV
    cal.plot(
        [0.0, 0.04, 0.04, 0.24, 0.24, 0.32], [base, base, base + 1, base + 1, base, base], color=TRACE_COLOR, lw=0.8
    )

    # beat labels: the predicted class of every beat of the window, above the trace
    win = beats[(beats["sample"] >= i0) & (beats["sample"] < i1)]
    for b in win.itertuples(index=False):
        is_focus = int(b.sample) == int(beat["sample"])
        ax.text(
            b.time_s,
            v1 - 0.12,
            str(b.pred_class),
            ha="center",
            va="top",
            zorder=3,
            fontsize=8.5 if is_focus else 6.5,
            weight="bold" if (is_focus or b.flagged) else "normal",
            color=class_color(str(b.pred_class)) if (b.flagged or is_focus) else "#777777",
        )
    ax.plot([center], [v1 - 0.62], marker="v", ms=6, color=class_color(str(beat["pred_class"])), zorder=4)
    ax.axvspan(center - 0.3, center + 0.45, color="#ffd54f", alpha=0.25, lw=0, zorder=1)

    prob_col = f"prob_{beat['pred_class']}"
    prob = float(beat[prob_col]) if prob_col in beat.index else float("nan")
    ref = str(beat.get("ref_symbol", "") or "")
    head = (
        f"{number}/{n_strips}   {format_hms(center)} ({center:,.1f} s)   lead {record.lead_names[lead_idx]}   "
        f"predicted {beat['pred_class']}  p={prob:.2f}   anomaly score {_fmt_num(beat['anomaly_score'], 2)} / 100   "
        f"flag: {beat.get('flag_reason', '') or 'none'}"
        + (f"   reference: {ref}" if ref else "")
        + f"   [{beat.get('why', '')}]"
    )
    _text(fig, left_mm, bottom_mm + height_mm + 1.5, head, fontsize=8, va="bottom")
    _text(fig, left_mm, bottom_mm - 1.5, format_hms(t0), fontsize=6.5, va="top", color="#555555")
    _text(fig, left_mm + width_mm, bottom_mm - 1.5, format_hms(t1), fontsize=6.5, va="top", ha="right", color="#555555")
    _text(
        fig,
        left_mm + 30,
        bottom_mm - 2.0,
        "Reviewer: ______________________     Decision: ______________________"
        "     Comment: ____________________________________",
        fontsize=8,
        va="top",
    )
    return ax


def _default_lead(record: Record, beats: pd.DataFrame, lead: int | str | None) -> int:
    if lead is not None:
        return record.lead_index(lead)
    if len(beats) and "lead" in beats.columns:
        common = beats["lead"].astype(str).mode()
        names = [n.lower() for n in record.lead_names]
        if len(common) and str(common.iloc[0]).lower() in names:
            return names.index(str(common.iloc[0]).lower())
    return 0


def iter_report_pages(
    record: Record,
    beats: pd.DataFrame,
    summary: HolterSummary,
    *,
    max_strips: int = 30,
    lead: int | str | None = None,
    bundle_version: str = "",
    generated: str | None = None,
) -> Iterator[Figure]:
    """The report's pages as matplotlib figures (A4 landscape), in order: the summary page,
    then ``STRIPS_PER_PAGE`` strips a page. Strip axes carry ``gid="ecg-strip"``."""
    generated = generated or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    beats = beats.reset_index(drop=True)
    selection = select_strip_beats(beats, max_strips)
    lead_idx = _default_lead(record, beats, lead)
    n_strips = len(selection.beats)
    daily = len(summary.daily) > 1
    n_pages = 1 + int(daily) + math.ceil(n_strips / STRIPS_PER_PAGE)
    page1 = _summary_page(record, beats, summary, selection, bundle_version, generated, n_pages)
    for t in page1.texts:
        if t.get_gid() == "strip-note":
            t.set_text(t.get_text().replace("{lead}", record.lead_names[lead_idx]))
    yield page1
    if daily:
        yield _daily_page(record, summary, generated, n_pages)
    slot_mm = (PAGE_H_MM - 22.0) / STRIPS_PER_PAGE
    rows = list(selection.beats.iterrows())
    first_strip_page = 2 + int(daily)
    for p in range(n_pages - first_strip_page + 1):
        fig = _new_page()
        _text(
            fig,
            12,
            PAGE_H_MM - 6,
            f"Record {record.name}: flagged beats   (25 mm/s, 10 mm/mV; print at actual size)",
            fontsize=10,
            weight="bold",
            va="top",
        )
        for k, (_, beat) in enumerate(rows[p * STRIPS_PER_PAGE : (p + 1) * STRIPS_PER_PAGE]):
            bottom = PAGE_H_MM - 14.0 - (k + 1) * slot_mm + 12.0
            _draw_strip(fig, record, beats, beat, lead_idx, bottom, p * STRIPS_PER_PAGE + k + 1, n_strips)
        _footer(fig, record, p + first_strip_page, n_pages, generated)
        yield fig


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
) -> Path:
    """Write the review report of one scored record to ``path`` (PDF, A4 landscape) atomically.

    Page 1: recording details, the Holter summary tables and the heart-rate trend; for a
    recording longer than a day, page 2 is the daily breakdown. Then the strips: 10 s of
    ``lead`` (default: the lead the beats were analysed on) around each selected beat (see
    :func:`select_strip_beats`, capped at ``max_strips``), on a true
    ECG grid (250 mm x 40 mm per strip, 1 mm = 0.04 s / 0.1 mV), with a reviewer field.
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
                record, beats, summary, max_strips=max_strips, lead=lead, bundle_version=bundle_version
            ):
                pdf.savefig(fig)
    return path


__all__ = [
    "STRIPS_PER_PAGE",
    "StripSelection",
    "axes_size_mm",
    "ectopic_runs",
    "iter_report_pages",
    "daily_rows",
    "select_strip_beats",
    "summary_rows",
    "write_pdf_report",
]
