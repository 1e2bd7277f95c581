"""ECG paper grid and the class colours shared by every figure (Plotly and the PDF report).

Standard ECG paper runs at 25 mm/s and 10 mm/mV: a minor 1 mm square is 0.04 s by 0.1 mV and a
major 5 mm square is 0.2 s by 0.5 mV. On screen the squares stay square when the y axis (mV)
is scaled to the x axis (s) with ``scaleratio = 10 / 25 = 0.4`` (1 mV spans the screen length
of 0.4 s).

Line positions are computed from integer multiples of the minor step, so they do not drift
over long records. This module imports no plotting library at import time.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: Paper speed (mm/s) and gain (mm/mV).
PAPER_SPEED_MM_S: float = 25.0
PAPER_GAIN_MM_MV: float = 10.0
#: Grid steps: minor 1 mm, major 5 mm.
MINOR_S: float = 0.04
MAJOR_S: float = 0.2
MINOR_MV: float = 0.1
MAJOR_MV: float = 0.5
MINORS_PER_MAJOR: int = 5
#: Screen length of 1 mV over that of 1 s (Plotly ``yaxis.scaleratio`` with ``scaleanchor="x"``).
SCALE_RATIO: float = PAPER_GAIN_MM_MV / PAPER_SPEED_MM_S  # 0.4

#: Paper colours (pink/red ECG paper).
GRID_MINOR_COLOR: str = "#f7c9c9"
GRID_MAJOR_COLOR: str = "#e58a8a"
PAPER_COLOR: str = "#fffafa"
TRACE_COLOR: str = "#111111"

#: One colour per AAMI class, used by every figure and the PDF report.
CLASS_COLORS: dict[str, str] = {
    "N": "#6b7b8c",  # slate grey: normal, de-emphasised
    "S": "#1f77b4",  # blue: supraventricular ectopic
    "V": "#d62728",  # red: ventricular ectopic
    "F": "#9467bd",  # purple: fusion
    "Q": "#111111",  # black: paced / unclassifiable
}
UNKNOWN_CLASS_COLOR: str = "#8c564b"


def class_color(cls: str) -> str:
    """The colour of an AAMI class (a brown fallback for unknown labels)."""
    return CLASS_COLORS.get(str(cls), UNKNOWN_CLASS_COLOR)


def _grid_positions(lo: float, hi: float, minor: float) -> tuple[np.ndarray, np.ndarray]:
    """(minor, major) line positions in [lo, hi]; major lines are every 5th minor line and are
    not repeated among the minor ones."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
        raise ValueError(f"invalid grid range [{lo}, {hi}]")
    k0 = math.ceil(lo / minor - 1e-9)
    k1 = math.floor(hi / minor + 1e-9)
    k = np.arange(k0, k1 + 1, dtype=np.int64)
    is_major = (k % MINORS_PER_MAJOR) == 0
    return k[~is_major] * minor, k[is_major] * minor


def ecg_grid_lines(t0_s: float, t1_s: float, v0_mv: float, v1_mv: float) -> dict[str, np.ndarray]:
    """Positions of the ECG paper grid lines covering [t0_s, t1_s] x [v0_mv, v1_mv].

    Returns a dict of float64 arrays: ``minor_x`` / ``major_x`` (s, vertical lines) and
    ``minor_y`` / ``major_y`` (mV, horizontal lines); minor every 0.04 s / 0.1 mV, major every
    0.2 s / 0.5 mV, aligned on multiples of the step (0 s, 0 mV).
    """
    minor_x, major_x = _grid_positions(t0_s, t1_s, MINOR_S)
    minor_y, major_y = _grid_positions(v0_mv, v1_mv, MINOR_MV)
    return {"minor_x": minor_x, "major_x": major_x, "minor_y": minor_y, "major_y": major_y}


def grid_segments(t0_s: float, t1_s: float, v0_mv: float, v1_mv: float) -> dict[str, np.ndarray]:
    """The grid as line segments for a ``matplotlib.collections.LineCollection``:
    ``{"minor": (n, 2, 2), "major": (m, 2, 2)}`` arrays of ((x0, y0), (x1, y1)) in s and mV."""
    g = ecg_grid_lines(t0_s, t1_s, v0_mv, v1_mv)
    out = {}
    for kind in ("minor", "major"):
        xs, ys = g[f"{kind}_x"], g[f"{kind}_y"]
        vert = np.stack([np.stack([xs, np.full_like(xs, v0_mv)], 1), np.stack([xs, np.full_like(xs, v1_mv)], 1)], 1)
        horiz = np.stack([np.stack([np.full_like(ys, t0_s), ys], 1), np.stack([np.full_like(ys, t1_s), ys], 1)], 1)
        out[kind] = np.concatenate([vert.reshape(-1, 2, 2), horiz.reshape(-1, 2, 2)], axis=0)
    return out


def grid_polylines(t0_s: float, t1_s: float, v0_mv: float, v1_mv: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The grid as two polylines (``"minor"``, ``"major"``), each ``(x, y)`` float64 arrays in
    s and mV with NaN between lines: one path per kind, which a PDF draws far faster than
    one path per line (:func:`grid_segments`)."""
    g = ecg_grid_lines(t0_s, t1_s, v0_mv, v1_mv)
    out = {}
    for kind in ("minor", "major"):
        xs, ys = g[f"{kind}_x"], g[f"{kind}_y"]
        nan_x, nan_y = np.full(xs.size, np.nan), np.full(ys.size, np.nan)
        vx = np.stack([xs, xs, nan_x], 1).ravel()
        vy = np.stack([np.full(xs.size, v0_mv), np.full(xs.size, v1_mv), nan_x], 1).ravel()
        hx = np.stack([np.full(ys.size, t0_s), np.full(ys.size, t1_s), nan_y], 1).ravel()
        hy = np.stack([ys, ys, nan_y], 1).ravel()
        out[kind] = (np.r_[vx, hx], np.r_[vy, hy])
    return out


def _polyline(xs: np.ndarray, ys: np.ndarray, t0: float, t1: float, v0: float, v1: float) -> tuple[list, list]:
    """One polyline with None separators drawing vertical lines at ``xs`` and horizontal at ``ys``."""
    px: list[Any] = []
    py: list[Any] = []
    for x in xs:
        px += [float(x), float(x), None]
        py += [v0, v1, None]
    for y in ys:
        px += [t0, t1, None]
        py += [float(y), float(y), None]
    return px, py


def ecg_grid_shapes(t0_s: float, t1_s: float, v0_mv: float, v1_mv: float) -> list[go.Scatter]:
    """The ECG paper grid over [t0_s, t1_s] x [v0_mv, v1_mv] as two Plotly line traces
    (minor, then major), each one polyline with None separators: 2 traces, not thousands of
    shapes. Use this for static exports; interactive figures use :func:`apply_ecg_grid`,
    whose gridlines follow zoom and pan."""
    import plotly.graph_objects as go

    g = ecg_grid_lines(t0_s, t1_s, v0_mv, v1_mv)
    traces = []
    for kind, color, width in (("minor", GRID_MINOR_COLOR, 0.5), ("major", GRID_MAJOR_COLOR, 1.0)):
        px, py = _polyline(g[f"{kind}_x"], g[f"{kind}_y"], t0_s, t1_s, v0_mv, v1_mv)
        traces.append(
            go.Scatter(
                x=px,
                y=py,
                mode="lines",
                line=dict(color=color, width=width),
                hoverinfo="skip",
                showlegend=False,
                name=f"grid ({kind})",
            )
        )
    return traces


def ecg_grid_axis_props(show_y_labels: bool = True) -> tuple[dict, dict]:
    """Layout properties ``(xaxis, yaxis)`` drawing the ECG grid as axis gridlines (major
    0.2 s / 0.5 mV, minor 0.04 s / 0.1 mV) with square boxes (``yaxis.scaleanchor`` must be set
    to the matching x axis by the caller; :func:`apply_ecg_grid` does it). Tick labels every
    1 s and every 1 mV."""
    common = dict(
        showgrid=True, gridcolor=GRID_MAJOR_COLOR, gridwidth=1, zeroline=False, showline=False, ticks="", tick0=0.0
    )
    xaxis = dict(
        common,
        dtick=MAJOR_S,
        ticklabelstep=5,
        constrain="domain",
        minor=dict(dtick=MINOR_S, tick0=0.0, showgrid=True, gridcolor=GRID_MINOR_COLOR, gridwidth=0.5),
    )
    yaxis = dict(
        common,
        dtick=MAJOR_MV,
        ticklabelstep=2,
        scaleratio=SCALE_RATIO,
        constrain="domain",
        showticklabels=show_y_labels,
        minor=dict(dtick=MINOR_MV, tick0=0.0, showgrid=True, gridcolor=GRID_MINOR_COLOR, gridwidth=0.5),
    )
    return xaxis, yaxis


def apply_ecg_grid(
    fig: go.Figure, row: int | None = None, col: int | None = None, show_y_labels: bool = True
) -> go.Figure:
    """Draw the ECG paper grid on one subplot (or the only axes) of ``fig`` as axis gridlines,
    and lock its y axis (mV) to its x axis (s) at ``scaleratio`` 0.4 so boxes are square."""
    xprops, yprops = ecg_grid_axis_props(show_y_labels)
    if row is None:
        fig.update_xaxes(**xprops)
        fig.update_yaxes(**yprops, scaleanchor="x")
    else:
        fig.update_xaxes(**xprops, row=row, col=col or 1)
        # The y axis of this subplot is anchored to the x axis of the same subplot.
        ref = fig.get_subplot(row, col or 1)
        xname = ref.xaxis.plotly_name.replace("axis", "")  # "xaxis2" -> "x2"
        fig.update_yaxes(**yprops, scaleanchor=xname, row=row, col=col or 1)
    fig.update_layout(plot_bgcolor=PAPER_COLOR)
    return fig


def format_hms(t_s: float, decimals: int = 1) -> str:
    """Elapsed seconds as ``H:MM:SS.s`` (hours not wrapped at 24)."""
    if t_s is None or not math.isfinite(float(t_s)):
        return "--:--:--"
    t_s = float(t_s)
    sign = "-" if t_s < 0 else ""
    t_s = abs(t_s)
    scale = 10**decimals
    total = round(t_s * scale)
    h, rem = divmod(total, 3600 * scale)
    m, rem = divmod(rem, 60 * scale)
    s = rem / scale
    sec = f"{s:0{3 + decimals if decimals else 2}.{decimals}f}"
    return f"{sign}{int(h)}:{int(m):02d}:{sec}"


def format_clock(t_s: float, start_time: datetime | None, *, with_day: bool = False) -> str:
    """A time ``t_s`` seconds from the recording's start as the clock shows it, ``HH:MM:SS``
    (with ``with_day``, prefixed ``day N`` counting calendar days from the start day, 1 = the
    first), or as elapsed ``H:MM:SS`` (:func:`format_hms`) when ``start_time`` is None."""
    if start_time is None or t_s is None or not math.isfinite(float(t_s)):
        return format_hms(t_s, 0)
    at = start_time + timedelta(seconds=float(t_s))
    clock = at.strftime("%H:%M:%S")
    if with_day:
        return f"day {(at.date() - start_time.date()).days + 1} {clock}"
    return clock


def parse_start_time(value: datetime | str | None) -> datetime | None:
    """A recording's start time from a datetime or an ISO string (the summary's
    ``recording.start_time``); None when absent or unreadable."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
