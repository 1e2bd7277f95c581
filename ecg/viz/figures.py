"""Plotly figures for the review dashboard. Pure functions: data in, ``go.Figure`` out.

Times are seconds from the start of the loaded record (the beat table's ``time_s``),
amplitudes millivolts. The ECG strip is drawn on a true paper grid (25 mm/s, 10 mm/mV, square
boxes); see :mod:`ecg.viz.grid`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ecg.viz.grid import (
    CLASS_COLORS,
    MAJOR_MV,
    SCALE_RATIO,
    TRACE_COLOR,
    apply_ecg_grid,
    class_color,
    format_hms,
)

if TYPE_CHECKING:
    from ecg.io.records import Record

#: Order in which classes are listed (legend, bars).
CLASS_ORDER: tuple[str, ...] = tuple(CLASS_COLORS)

#: Physiological RR range (s) used for heart rate; intervals outside it (gaps, missed beats)
#: are ignored.
RR_MIN_S: float = 0.2
RR_MAX_S: float = 3.0


#: Shading of atrial fibrillation / flutter episodes (the beat table's ``af``) on the overview.
AF_COLOR: str = "#b39ddb"
#: The anomaly score's range (0-100, see :class:`ecg.models.bundle.AnomalyScorer`).
SCORE_RANGE: tuple[float, float] = (0.0, 100.0)
#: The calibrated threshold of the shipped bundles on that scale (1 % of normal beats above).
DEFAULT_THRESHOLD: float = 99.0


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _lead_indices(record: Record, leads: int | str | Sequence[int | str] | None) -> list[int]:
    if leads is None:
        return list(range(record.n_leads))
    if isinstance(leads, (str, int, np.integer)):
        leads = [leads]
    out = [record.lead_index(x) for x in leads]
    if not out:
        raise ValueError("no leads selected")
    return out


def _classes_in(values: pd.Series) -> list[str]:
    present = [str(c) for c in pd.unique(values)]
    return [c for c in CLASS_ORDER if c in present] + sorted(c for c in present if c not in CLASS_ORDER)


def flagged_mask(beats: pd.DataFrame, threshold: float | None = None) -> np.ndarray:
    """Which beats are flagged: the ``flagged`` column, or, with ``threshold``, beats flagged
    for their class (``flag_reason`` contains "class") or with ``anomaly_score >= threshold``."""
    if len(beats) == 0:
        return np.zeros(0, bool)
    if threshold is None:
        return beats["flagged"].to_numpy(bool)
    by_class = beats["flag_reason"].astype(str).str.contains("class").to_numpy(bool)
    return by_class | (beats["anomaly_score"].to_numpy(float) >= float(threshold))


def beat_prob(beats: pd.DataFrame) -> np.ndarray:
    """Probability of each beat's predicted class (``prob_<pred_class>``), NaN when absent."""
    out = np.full(len(beats), np.nan)
    pred = beats["pred_class"].astype(str).to_numpy()
    for cls in np.unique(pred):
        col = f"prob_{cls}"
        if col in beats.columns:
            m = pred == cls
            out[m] = beats[col].to_numpy(float)[m]
    return out


def beat_hover_text(beats: pd.DataFrame) -> list[str]:
    """Hover text per beat: class, its probability, anomaly score, time, flag reason, reference."""
    probs = beat_prob(beats)
    out = []
    for (_, b), p in zip(beats.iterrows(), probs):
        ref = str(b.get("ref_symbol", "") or "")
        reason = str(b.get("flag_reason", "") or "")
        out.append(
            f"<b>{b['pred_class']}</b> p={p:.2f}<br>anomaly score {float(b['anomaly_score']):.2f}"
            f"<br>t {format_hms(float(b['time_s']), 2)} ({float(b['time_s']):.2f} s)"
            + (f"<br>flag: {reason}" if reason else "")
            + (f"<br>reference: {ref}" if ref else "")
        )
    return out


def downsample_indices(y: np.ndarray, max_points: int) -> np.ndarray:
    """Indices (int64, sorted) of at most ``max_points`` samples of ``y`` chosen by MinMaxLTTB
    (keeps peaks and the visual shape); all indices when ``y`` is short enough."""
    n = int(y.size)
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    from tsdownsample import MinMaxLTTBDownsampler, NaNMinMaxLTTBDownsampler

    y = np.ascontiguousarray(y)
    ds = NaNMinMaxLTTBDownsampler() if np.isnan(y).any() else MinMaxLTTBDownsampler()
    idx = ds.downsample(y, n_out=max(3, int(max_points)))
    return np.asarray(idx, dtype=np.int64)


def _thin_markers(beats: pd.DataFrame, duration_s: float, max_markers: int) -> pd.DataFrame:
    """At most ``max_markers`` beats, keeping in every time bin the highest-scoring beat of each
    class, so that clusters stay visible."""
    if len(beats) <= max_markers:
        return beats
    classes = beats["pred_class"].astype(str)
    n_bins = max(1, max_markers // max(1, classes.nunique()))
    bins = np.minimum((beats["time_s"].to_numpy(float) / max(duration_s, 1e-9) * n_bins).astype(np.int64), n_bins - 1)
    keep = (
        beats.assign(_bin=bins, _cls=classes.to_numpy()).groupby(["_bin", "_cls"], sort=False)["anomaly_score"].idxmax()
    )
    return beats.loc[np.sort(keep.to_numpy())]


# --------------------------------------------------------------------------------------------
# overview
# --------------------------------------------------------------------------------------------


def af_spans(beats: pd.DataFrame, merge_gap_s: float = 10.0, max_spans: int = 200) -> list[tuple[float, float]]:
    """Time spans ``(start_s, end_s)`` of consecutive beats marked ``af`` (AF/flutter
    episodes), from the first to the last such beat; spans less than ``merge_gap_s`` apart are
    joined. At most ``max_spans`` are returned (the longest ones, in time order). Empty
    without the column."""
    if "af" not in beats.columns or len(beats) == 0:
        return []
    mark = beats["af"].to_numpy(dtype=bool)
    if not mark.any():
        return []
    t = beats["time_s"].to_numpy(dtype=float)
    edges = np.diff(np.concatenate(([0], mark.astype(np.int8), [0])))
    first, last = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    start, end = t[first], t[last]
    keep = np.concatenate(([True], start[1:] - end[:-1] >= merge_gap_s))  # a span that starts a group
    start = start[keep]
    end = np.maximum.reduceat(end, np.flatnonzero(keep))
    if start.size > max_spans:
        longest = np.sort(np.argsort(end - start, kind="stable")[::-1][:max_spans])
        start, end = start[longest], end[longest]
    return [(float(a), float(b)) for a, b in zip(start, end)]


def overview_figure(
    record: Record,
    beats: pd.DataFrame,
    lead: int | str | Sequence[int | str] | None = None,
    max_points: int = 4000,
    threshold: float | None = None,
    max_markers: int = 1500,
    threshold_line: float | None = None,
) -> go.Figure:
    """The whole record, one row per lead, downsampled server-side (MinMaxLTTB) to at most
    ``max_points`` points per lead, and below it a lane of flagged beats (x = ``time_s`` in s,
    y = anomaly score, 0-100) coloured by predicted class so clusters stand out. AF/flutter
    episodes (``af``, where the model calls no beat S) are shaded.

    ``threshold`` (anomaly score, 0-100): when given, beats are flagged by class or by
    ``anomaly_score >= threshold`` and the line is drawn at it. ``threshold_line`` draws the
    dashed line elsewhere (default: ``threshold``, else 99) without changing which beats are
    flagged. At most ``max_markers`` markers are sent (per time bin the worst beat of each
    class). Beats flagged for their class alone may score low; beats in unreadable signal
    have no score and are never flagged.
    """
    idx = _lead_indices(record, lead)
    n_rows = len(idx) + 1
    fig = make_subplots(
        rows=n_rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.03,
        row_heights=[1.0] * len(idx) + [0.9],
        subplot_titles=[f"{record.lead_names[j]}" for j in idx] + ["Flagged beats"],
    )
    fs = float(record.fs)
    for r, j in enumerate(idx, start=1):
        y = record.lead(j)
        keep = downsample_indices(y, max_points)
        fig.add_trace(
            go.Scatter(
                x=keep / fs,
                y=y[keep],
                mode="lines",
                name=record.lead_names[j],
                line=dict(color=TRACE_COLOR, width=0.8),
                showlegend=False,
                hovertemplate="%{x:.1f} s, %{y:.2f} mV<extra>" + record.lead_names[j] + "</extra>",
            ),
            row=r,
            col=1,
        )
        fig.update_yaxes(title_text="mV", row=r, col=1)

    mask = flagged_mask(beats, threshold)
    flagged = beats.loc[mask]
    shown = _thin_markers(flagged, record.duration_s, max_markers)
    for cls in _classes_in(shown["pred_class"].astype(str)) if len(shown) else []:
        sub = shown[shown["pred_class"].astype(str) == cls]
        n_cls = int((flagged["pred_class"].astype(str) == cls).sum())
        y = sub["anomaly_score"].to_numpy(float)
        fig.add_trace(
            go.Scatter(
                x=sub["time_s"].to_numpy(float),
                y=y,
                mode="markers",
                name=f"{cls} ({n_cls})",
                legendgroup=cls,
                marker=dict(color=class_color(cls), size=6, opacity=0.8, line=dict(width=0.5, color="white")),
                hovertext=beat_hover_text(sub),
                hoverinfo="text",
                customdata=sub["sample"].to_numpy(np.int64),
            ),
            row=n_rows,
            col=1,
        )
    spans = af_spans(beats)
    for a, b in spans:
        fig.add_vrect(x0=a, x1=b, fillcolor=AF_COLOR, opacity=0.25, line_width=0, layer="below", row="all", col=1)
    if spans:
        pct = 100.0 * float(beats["af"].to_numpy(dtype=bool).mean())
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=f"AF/flutter ({pct:.1f}% of beats)",
                marker=dict(color=AF_COLOR, size=10, symbol="square"),
                hoverinfo="skip",
            ),
            row=n_rows,
            col=1,
        )
    if threshold_line is not None:
        thr = float(threshold_line)
    else:
        thr = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    fig.add_hline(
        y=thr,
        line=dict(color="#555555", dash="dash", width=1),
        row=n_rows,
        col=1,
        annotation_text=f"threshold {thr:g}",
        annotation_position="bottom left",
    )
    fig.update_yaxes(title_text="anomaly score", range=[SCORE_RANGE[0], SCORE_RANGE[1] + 4], row=n_rows, col=1)
    fig.update_xaxes(title_text="Time (s)", row=n_rows, col=1)
    thinned = f", {len(shown)} markers shown" if len(shown) < len(flagged) else ""
    fig.update_layout(
        title=dict(
            text=f"{record.name}: {format_hms(record.duration_s, 0)} recorded, "
            f"{len(flagged)} of {len(beats)} beats flagged{thinned}",
            x=0.01,
        ),
        height=140 * len(idx) + 200,
        margin=dict(l=60, r=20, t=60, b=40),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1, title_text="Predicted class"),
        hovermode="closest",
        plot_bgcolor="white",
    )
    return fig


# --------------------------------------------------------------------------------------------
# strip
# --------------------------------------------------------------------------------------------


def _band(seg: np.ndarray) -> tuple[float, float]:
    """Vertical extent (mV, multiples of 0.5) to reserve for one lead's segment."""
    finite = seg[np.isfinite(seg)]
    if finite.size == 0:
        return -MAJOR_MV, MAJOR_MV
    med = float(np.median(finite))
    lo = max(float(finite.min()), med - 3.0)
    hi = min(float(finite.max()), med + 4.0)
    return math.floor((lo - 0.2) / MAJOR_MV) * MAJOR_MV, math.ceil((hi + 0.2) / MAJOR_MV) * MAJOR_MV


def strip_window(record: Record, t0_s: float, duration_s: float = 10.0) -> tuple[int, int]:
    """Sample range ``[i0, i1)`` of the strip starting at ``t0_s`` (s) lasting ``duration_s``
    (s), shifted to stay inside the record."""
    fs = float(record.fs)
    t0 = min(max(0.0, float(t0_s)), max(0.0, record.duration_s - float(duration_s)))
    i0 = int(math.ceil(t0 * fs - 1e-9))
    i1 = min(record.n_samples, int(math.floor((t0 + duration_s) * fs + 1e-9)) + 1)
    return i0, max(i0, i1)


def strip_figure(
    record: Record,
    beats: pd.DataFrame,
    t0_s: float,
    duration_s: float = 10.0,
    leads: int | str | Sequence[int | str] | None = None,
    show_reference: bool = True,
    selected_sample: int | None = None,
    threshold: float | None = None,
    plot_width_px: int = 1100,
) -> go.Figure:
    """A full-resolution strip of ``duration_s`` s from ``t0_s`` s on the ECG paper grid.

    Only the samples of the window are sent (x via ``x0``/``dx``). Several leads are stacked
    on one axes (lead 1 on top), each shifted by a multiple of 0.5 mV so that the grid stays
    true; the y tick labels are then hidden. Flagged beats are markers coloured by predicted
    class (hover: class, probability, anomaly score); reference annotation symbols are text
    above the traces; ``selected_sample`` is highlighted. ``plot_width_px`` only sizes the
    default height (square boxes are kept by ``scaleanchor`` at any size).
    """
    idx = _lead_indices(record, leads)
    fs = float(record.fs)
    i0, i1 = strip_window(record, t0_s, duration_s)
    t0 = i0 / fs
    t1 = t0 + float(duration_s)
    segs = [record.signal[i0:i1, j] for j in idx]

    # Stack the leads from the bottom up; every band edge and offset is a multiple of 0.5 mV.
    bands = [_band(s) for s in segs]
    offsets = [0.0] * len(idx)
    top = None
    for k in range(len(idx) - 1, -1, -1):
        lo, hi = bands[k]
        offsets[k] = 0.0 if top is None else top - lo
        top = offsets[k] + hi
    bottom = bands[-1][0] + offsets[-1]
    has_ref = bool(show_reference and record.annotations is not None and len(record.annotations))
    y_top = top + (MAJOR_MV if has_ref else 0.0)

    fig = go.Figure()
    for k, (j, seg) in enumerate(zip(idx, segs)):
        fig.add_trace(
            go.Scatter(
                y=seg + np.float32(offsets[k]),
                x0=t0,
                dx=1.0 / fs,
                mode="lines",
                name=record.lead_names[j],
                line=dict(color=TRACE_COLOR, width=1.1),
                showlegend=False,
                hovertemplate="%{x:.3f} s<extra>" + record.lead_names[j] + "</extra>",
            )
        )
        fig.add_annotation(
            x=t0,
            y=offsets[k] + bands[k][1],
            text=f"<b>{record.lead_names[j]}</b>",
            xanchor="left",
            yanchor="top",
            showarrow=False,
            xshift=4,
            font=dict(size=12),
        )

    def marker_y(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each beat and lead: (x, y) of a marker just above the local maximum."""
        xs, ys = [], []
        half = max(1, int(0.06 * fs))
        for k, seg in enumerate(segs):
            for s in samples:
                a, b = max(0, s - i0 - half), min(seg.size, s - i0 + half + 1)
                local = seg[a:b]
                peak = float(np.nanmax(local)) if local.size and np.isfinite(local).any() else 0.0
                ys.append(min(peak + 0.3, bands[k][1] - 0.1) + offsets[k])
                xs.append(s / fs)
        return np.asarray(xs), np.asarray(ys)

    in_win = beats[(beats["sample"] >= i0) & (beats["sample"] < i1)] if len(beats) else beats
    flagged = in_win.loc[flagged_mask(in_win, threshold)] if len(in_win) else in_win
    for cls in _classes_in(flagged["pred_class"].astype(str)) if len(flagged) else []:
        sub = flagged[flagged["pred_class"].astype(str) == cls]
        xs, ys = marker_y(sub["sample"].to_numpy(np.int64))
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                name=cls,
                legendgroup=cls,
                marker=dict(
                    symbol="triangle-down", size=11, color=class_color(cls), line=dict(width=0.5, color="white")
                ),
                hovertext=beat_hover_text(sub) * len(idx),
                hoverinfo="text",
                customdata=np.tile(sub["sample"].to_numpy(np.int64), len(idx)),
            )
        )

    if has_ref:
        ann = record.annotations
        m = (ann.sample >= i0) & (ann.sample < i1)
        syms = [str(s) for s in ann.symbol[m]]
        aux = (
            [str(a) for a in ann.aux[m]]
            if ann.aux is not None and len(ann.aux) == len(ann.sample)
            else [""] * len(syms)
        )
        text = [a if (s == "+" and a) else s for s, a in zip(syms, aux)]
        xs = ann.sample[m] / fs
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=np.full(xs.size, top + MAJOR_MV / 2),
                mode="text",
                text=text,
                name="reference",
                textfont=dict(color="#333333", size=12),
                hovertemplate="reference %{text}<br>%{x:.2f} s<extra></extra>",
            )
        )

    if selected_sample is not None and i0 <= int(selected_sample) < i1:
        s = int(selected_sample)
        fig.add_vrect(x0=s / fs - 0.3, x1=s / fs + 0.45, fillcolor="#ffd54f", opacity=0.35, line_width=0, layer="below")
        xs, ys = marker_y(np.asarray([s]))
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                name="selected",
                showlegend=False,
                marker=dict(symbol="circle-open", size=20, color="#ff8f00", line=dict(width=3)),
                hoverinfo="skip",
            )
        )

    apply_ecg_grid(fig, show_y_labels=len(idx) == 1)
    px_per_mv = plot_width_px / float(duration_s) * SCALE_RATIO
    height = int(min(1000, max(220, (y_top - bottom) * px_per_mv + 90)))
    fig.update_xaxes(range=[t0, t1], title_text="Time (s)")
    fig.update_yaxes(range=[bottom, y_top], title_text="mV" if len(idx) == 1 else None)
    fig.update_layout(
        title=dict(text=f"{record.name}  {format_hms(t0)} to {format_hms(t1)}  (25 mm/s, 10 mm/mV)", x=0.01),
        height=height,
        margin=dict(l=50, r=20, t=50, b=40),
        hovermode="closest",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1, title_text="Flagged"),
    )
    return fig


# --------------------------------------------------------------------------------------------
# beat detail
# --------------------------------------------------------------------------------------------


def _rr_value(rr: Mapping[str, float], *keys: str) -> float | None:
    for k in keys:
        v = rr.get(k)
        if v is not None and np.isfinite(float(v)):
            return float(v)
    return None


def beat_detail_figure(
    beat_wave: np.ndarray,
    reconstruction: np.ndarray,
    fs: float,
    pre_s: float,
    probs: Mapping[str, float],
    rr: Mapping[str, float],
    y_label: str = "amplitude",
) -> go.Figure:
    """One beat (1-D, sampled at ``fs`` Hz, R peak ``pre_s`` s after its first sample) overlaid
    with its autoencoder reconstruction, beside a bar chart of class probabilities; the RR
    context (``rr_prev_s``/``rr_next_s``/``rr_local_s`` in s, or ``prev``/``next``/``local``)
    is in the title. x is milliseconds from the R peak."""
    beat_wave = np.asarray(beat_wave, dtype=float).ravel()
    reconstruction = np.asarray(reconstruction, dtype=float).ravel()
    t_ms = (np.arange(beat_wave.size) / float(fs) - float(pre_s)) * 1000.0
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.7, 0.3],
        horizontal_spacing=0.1,
        subplot_titles=["Beat and reconstruction", "Class probability"],
    )
    fig.add_trace(
        go.Scatter(x=t_ms, y=beat_wave, mode="lines", name="beat", line=dict(color=TRACE_COLOR, width=2)), row=1, col=1
    )
    fig.add_trace(
        go.Scatter(
            x=t_ms[: reconstruction.size],
            y=reconstruction,
            mode="lines",
            name="reconstruction",
            line=dict(color="#ff7f0e", width=2, dash="dash"),
        ),
        row=1,
        col=1,
    )
    fig.add_vline(x=0.0, line=dict(color="#999999", width=1, dash="dot"), row=1, col=1)
    classes = [c for c in CLASS_ORDER if c in probs] + [c for c in probs if c not in CLASS_ORDER]
    values = [float(probs[c]) for c in classes]
    fig.add_trace(
        go.Bar(
            x=classes,
            y=values,
            marker_color=[class_color(c) for c in classes],
            name="probability",
            text=[f"{v:.2f}" for v in values],
            textposition="outside",
            showlegend=False,
        ),
        row=1,
        col=2,
    )
    fig.update_yaxes(range=[0, 1.15], row=1, col=2)
    fig.update_xaxes(title_text="ms from R peak", row=1, col=1)
    fig.update_yaxes(title_text=y_label, row=1, col=1)

    prev = _rr_value(rr, "rr_prev_s", "prev", "rr_prev")
    nxt = _rr_value(rr, "rr_next_s", "next", "rr_next")
    local = _rr_value(rr, "rr_local_s", "local", "rr_local")
    parts = []
    if prev is not None:
        parts.append(f"RR before {prev * 1000:.0f} ms")
    if nxt is not None:
        parts.append(f"RR after {nxt * 1000:.0f} ms")
    if local is not None:
        parts.append(f"local mean RR {local * 1000:.0f} ms")
        if prev is not None and local > 0:
            parts.append(f"RR before = {prev / local:.0%} of the local mean")
    if values:
        best = classes[int(np.argmax(values))]
        parts.insert(0, f"<b>{best}</b> p={max(values):.2f}")
    fig.update_layout(
        title=dict(text=" · ".join(parts) or "Beat", x=0.01),
        height=340,
        margin=dict(l=50, r=20, t=70, b=40),
        plot_bgcolor="white",
        legend=dict(orientation="h", yanchor="bottom", y=1.08, xanchor="left", x=0),
    )
    return fig


# --------------------------------------------------------------------------------------------
# heart-rate trend
# --------------------------------------------------------------------------------------------


def hr_trend_table(beats: pd.DataFrame, bin_s: float = 60.0) -> pd.DataFrame:
    """Heart rate per time bin from the beats' RR intervals (``rr_prev_s``, s).

    Columns: ``t_start_s``, ``t_mid_s`` (s), ``hr_mean_bpm`` (60 / mean RR of the bin),
    ``hr_min_bpm``, ``hr_max_bpm`` (beat-to-beat extremes), ``n_beats``. RR intervals outside
    [0.2, 3.0] s, and those touching a beat in unreadable signal, are ignored; bins without a
    valid RR are left out.
    """
    cols = ["t_start_s", "t_mid_s", "hr_mean_bpm", "hr_min_bpm", "hr_max_bpm", "n_beats"]
    if len(beats) == 0:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    t = beats["time_s"].to_numpy(float)
    rr = beats["rr_prev_s"].to_numpy(float)
    ok = np.isfinite(rr) & (rr >= RR_MIN_S) & (rr <= RR_MAX_S) & np.isfinite(t)
    if "quality" in beats.columns:  # no RR touching a beat in unreadable signal
        unreadable = beats["quality"].astype(str).to_numpy() == "unreadable"
        ok &= ~unreadable & ~np.concatenate(([False], unreadable[:-1]))
    if not ok.any():
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    b = np.floor(t[ok] / bin_s).astype(np.int64)
    df = pd.DataFrame({"bin": b, "rr": rr[ok], "hr": 60.0 / rr[ok]})
    g = df.groupby("bin")
    out = pd.DataFrame({"t_start_s": g.size().index.to_numpy() * bin_s})
    out["t_mid_s"] = out["t_start_s"] + bin_s / 2
    out["hr_mean_bpm"] = 60.0 / g["rr"].mean().to_numpy()
    out["hr_min_bpm"] = g["hr"].min().to_numpy()
    out["hr_max_bpm"] = g["hr"].max().to_numpy()
    out["n_beats"] = g.size().to_numpy()
    return out[cols]


def hr_trend_figure(beats: pd.DataFrame, bin_s: float = 60.0) -> go.Figure:
    """Heart rate over time: the per-bin mean HR (bpm, default 1-min bins) as a line over the
    band of beat-to-beat minimum to maximum. x is the bin centre in s."""
    tab = hr_trend_table(beats, bin_s)
    x = tab["t_mid_s"].to_numpy(float)
    hover = [format_hms(v, 0) for v in tab["t_start_s"]]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x,
            y=tab["hr_max_bpm"].to_numpy(float),
            mode="lines",
            line=dict(width=0),
            name="max",
            showlegend=False,
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=tab["hr_min_bpm"].to_numpy(float),
            mode="lines",
            line=dict(width=0),
            fill="tonexty",
            fillcolor="rgba(214,39,40,0.15)",
            name="beat-to-beat range",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=tab["hr_mean_bpm"].to_numpy(float),
            mode="lines+markers",
            line=dict(color="#b71c1c", width=2),
            marker=dict(size=4),
            name=f"mean HR per {bin_s:g} s",
            customdata=np.c_[hover, tab["n_beats"].to_numpy()],
            hovertemplate="%{customdata[0]}: %{y:.0f} bpm (%{customdata[1]} beats)<extra></extra>",
        )
    )
    fig.update_layout(
        title=dict(text="Heart rate", x=0.01),
        height=300,
        plot_bgcolor="white",
        margin=dict(l=50, r=20, t=50, b=40),
        hovermode="x unified",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
    )
    fig.update_xaxes(title_text="Time (s)", showgrid=True, gridcolor="#eeeeee")
    fig.update_yaxes(title_text="bpm", showgrid=True, gridcolor="#eeeeee")
    return fig


# --------------------------------------------------------------------------------------------
# confusion matrix
# --------------------------------------------------------------------------------------------


def confusion_matrix_figure(
    matrix: np.ndarray | Sequence[Sequence[float]], labels_true: Sequence[str], labels_pred: Sequence[str]
) -> go.Figure:
    """Annotated heatmap of a confusion matrix (rows = reference, columns = predicted).
    Cells are coloured by the row fraction (recall per reference class) and show the count
    and that fraction."""
    m = np.asarray(matrix, dtype=float)
    if m.shape != (len(labels_true), len(labels_pred)):
        raise ValueError(f"matrix shape {m.shape} does not match labels {len(labels_true)} x {len(labels_pred)}")
    rows = m.sum(axis=1, keepdims=True)
    frac = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    text = [
        [
            f"{int(v) if float(v).is_integer() else v:,}<br>{f:.0%}" if rows[i, 0] > 0 else "0"
            for v, f in zip(m[i], frac[i])
        ]
        for i in range(m.shape[0])
    ]
    fig = go.Figure(
        go.Heatmap(
            z=frac,
            x=list(labels_pred),
            y=list(labels_true),
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            customdata=m,
            colorbar=dict(title=dict(text="row fraction"), tickformat=".0%"),
            hovertemplate="reference %{y}, predicted %{x}: %{customdata:,} beats (%{z:.1%})<extra></extra>",
        )
    )
    fig.update_yaxes(title_text="Reference", autorange="reversed", type="category")
    fig.update_xaxes(title_text="Predicted", side="top", type="category")
    fig.update_layout(
        height=120 + 60 * len(labels_true), width=None, margin=dict(l=70, r=20, t=70, b=20), plot_bgcolor="white"
    )
    return fig
