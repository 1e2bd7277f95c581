"""Time axes in clock time (when the recording's start is known) or elapsed h:mm:ss, for the
library's figures, whose x data stay seconds from the record start (clicks on them give
seconds): only the tick labels change.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import plotly.graph_objects as go

from ecg.viz.grid import format_clock

#: Tick steps (s) to choose from: 1 s to 6 h.
_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)


def axis_title(start_time: datetime | None) -> str:
    return "Clock time" if start_time is not None else "Time from start (h:mm:ss)"


def time_ticks(
    t0_s: float, t1_s: float, start_time: datetime | None = None, max_ticks: int = 10
) -> tuple[np.ndarray, list[str]]:
    """Tick positions (s) on a round step (1 s to 6 h; whole clock minutes and hours when
    the start is known) covering ``[t0_s, t1_s]`` with at most ``max_ticks`` ticks, and their
    labels."""
    span = max(float(t1_s) - float(t0_s), 1e-9)
    step = next((s for s in _STEPS if span / s <= max_ticks), _STEPS[-1] * math.ceil(span / (_STEPS[-1] * max_ticks)))
    offset = 0.0
    if start_time is not None:  # ticks on the clock's round times
        sod = start_time.hour * 3600 + start_time.minute * 60 + start_time.second + start_time.microsecond / 1e6
        offset = -(sod % step)
    first = math.ceil((t0_s - offset) / step) * step + offset
    vals = np.arange(first, t1_s + 1e-9, step, dtype=float)
    return vals, [format_clock(v, start_time) for v in vals]


def apply_time_axis(fig: go.Figure, t0_s: float, t1_s: float, start_time: datetime | None, max_ticks: int = 10) -> None:
    """Label every x axis of ``fig`` (in place) in clock time or h:mm:ss over ``[t0_s, t1_s]``;
    an axis the figure titled gets :func:`axis_title`."""
    vals, text = time_ticks(t0_s, t1_s, start_time, max_ticks)
    fig.update_xaxes(tickmode="array", tickvals=vals, ticktext=text)
    fig.update_xaxes(title_text=axis_title(start_time), selector=lambda ax: bool(ax.title.text))


def label_strip_seconds(fig: go.Figure, t0_s: float, t1_s: float, start_time: datetime | None) -> None:
    """The review strip's x labels (whole seconds, on the ECG grid's axis) as clock time or
    h:mm:ss, in place: the grid's ticks stay, only their text changes."""
    seconds = range(math.floor(t0_s), math.ceil(t1_s) + 1)
    fig.update_xaxes(
        tickformat="d",
        labelalias={str(s): format_clock(s, start_time) for s in seconds},
        title_text=axis_title(start_time),
    )
