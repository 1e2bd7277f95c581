"""The review dashboard's clickable figures: :func:`ecg.viz.overview_figure` and
:func:`ecg.viz.strip_figure` set up for ``st.plotly_chart(on_select=...)`` (click targets along
the signal, markers that a selection does not dim, the strip's window shaded on the overview).
Pure functions: data in, ``go.Figure`` out; no Streamlit.

Times are seconds from the start of the loaded record, amplitudes millivolts, anomaly scores
on the 0-100 scale (99 = the shipped bundles' calibrated threshold).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ecg.viz.figures import overview_figure, strip_figure

if TYPE_CHECKING:
    from ecg.io.records import Record

#: Overview: signal points per lead (MinMaxLTTB) and flagged-beat markers sent at most.
OVERVIEW_POINTS: int = 4000
OVERVIEW_MARKERS: int = 1500
#: Invisible click targets added along the signal of the overview / of each strip lead.
CLICK_POINTS_OVERVIEW: int = 600
CLICK_POINTS_STRIP: int = 250
#: Colour of the strip's window shaded on the overview.
WINDOW_COLOR: str = "#ffd54f"


def clickable_traces(fig: go.Figure, max_points: int = 600) -> None:
    """Make the signal (line) traces of ``fig`` clickable for ``st.plotly_chart(on_select=...)``
    (in place).

    Plotly selects only marker points, so for every line trace (not a filled band) an invisible
    marker trace of at most ``max_points`` points along it is added (same axes, taking over the
    line's hover); a click on the signal selects the nearest of them, whose x is the time
    clicked (s)."""
    for tr in list(fig.data):
        if getattr(tr, "mode", None) != "lines" or getattr(tr, "fill", None) not in (None, "none") or tr.y is None:
            continue
        y = np.asarray(tr.y, dtype=float)
        if tr.x is not None:
            x = np.asarray(tr.x, dtype=float)
        else:
            x = float(tr.x0 or 0.0) + float(tr.dx or 1.0) * np.arange(y.size)
        if y.size == 0 or x.size != y.size:
            continue
        k = np.unique(np.linspace(0, y.size - 1, min(max_points, y.size)).round().astype(np.int64))
        ok = np.isfinite(y[k])
        hover = tr.hovertemplate or "%{x:.2f} s"
        tr.hoverinfo = "skip"  # the click target takes the hover (and so the click)
        tr.hovertemplate = None
        fig.add_trace(
            go.Scatter(
                x=x[k][ok],
                y=y[k][ok],
                xaxis=tr.xaxis,
                yaxis=tr.yaxis,
                mode="markers",
                marker=dict(size=10, opacity=0),
                showlegend=False,
                name="click",
                hovertemplate=hover,
                selected=dict(marker=dict(opacity=0)),
                unselected=dict(marker=dict(opacity=0)),
            )
        )


def mark_window(fig: go.Figure, t0: float, t1: float) -> None:
    """Shade the time window ``[t0, t1]`` (s) on every row of a one-column figure (in place)."""
    fig.add_vrect(x0=t0, x1=t1, fillcolor=WINDOW_COLOR, opacity=0.3, line_width=0, layer="below", row="all", col=1)


def review_overview_figure(
    record: Record, view: pd.DataFrame, lead: str, threshold: float, t0: float, strip_s: float
) -> go.Figure:
    """The dashboard's overview of one ``lead``: :func:`ecg.viz.overview_figure` (at most
    :data:`OVERVIEW_POINTS` signal points and :data:`OVERVIEW_MARKERS` markers) of the beats
    flagged in ``view``, the flag lane (0-100) with the dashed line at ``threshold``,
    clickable, the strip's window ``[t0, t0 + strip_s]`` (s) shaded."""
    fig = overview_figure(
        record,
        view,
        lead=lead,
        max_points=OVERVIEW_POINTS,
        threshold=None,
        max_markers=OVERVIEW_MARKERS,
        threshold_line=threshold,
    )
    fig.update_traces(unselected=dict(marker=dict(opacity=0.8)), selector=dict(mode="markers"))
    clickable_traces(fig, max_points=CLICK_POINTS_OVERVIEW)
    mark_window(fig, t0, t0 + strip_s)
    fig.update_layout(clickmode="event+select", dragmode="zoom")
    return fig


def review_strip_figure(
    record: Record,
    view: pd.DataFrame,
    t0: float,
    strip_s: float,
    leads: Sequence[str],
    show_reference: bool,
    selected_sample: int | None,
) -> go.Figure:
    """The dashboard's strip of ``strip_s`` s from ``t0`` s: :func:`ecg.viz.strip_figure`
    (full resolution, ECG grid) of the beats flagged in ``view``, clickable, markers not dimmed
    by a selection."""
    fig = strip_figure(
        record,
        view,
        t0,
        strip_s,
        leads=list(leads),
        show_reference=show_reference,
        selected_sample=selected_sample,
        threshold=None,
    )
    fig.update_traces(unselected=dict(marker=dict(opacity=1)), selector=dict(mode="markers"))
    clickable_traces(fig, max_points=CLICK_POINTS_STRIP)
    return fig
