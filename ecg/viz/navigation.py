"""Moving around a scored record: parsing a typed time, placing the strip window, stepping
between flagged beats, reading which beat a click on a Plotly figure selected, and the beat
filter of the review view. Pure functions (no Streamlit, no plotting).

Times are seconds from the start of the loaded record (the beat table's ``time_s``); samples
are the beat table's ``sample`` (at the record's fs).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ecg.scoring.schema import FLAG_REASONS as _SCHEMA_FLAG_REASONS

#: Flag reasons of flagged beats, which a user can filter on (the schema's, less "").
FILTERABLE_FLAG_REASONS: tuple[str, ...] = tuple(r for r in _SCHEMA_FLAG_REASONS if r)
#: Beats over which the local mean RR is taken (the segmentation's ``rr_local_s`` uses 10).
LOCAL_RR_BEATS: int = 10
#: RR intervals (s) outside this range are not used for the local mean.
RR_RANGE_S: tuple[float, float] = (0.2, 3.0)

_TIME = re.compile(r"^\s*(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?)\s*$")


# ---------------------------------------------------------------------------------------------
# time and the strip window
# ---------------------------------------------------------------------------------------------


def parse_time(text: str) -> float:
    """Seconds from ``"754"``, ``"754.5"``, ``"12:34"`` (m:ss) or ``"0:12:34.5"`` (h:mm:ss).
    Raises ValueError for anything else (minutes and seconds after a colon must be below 60)."""
    m = _TIME.match(str(text))
    if not m:
        raise ValueError(f"not a time: {text!r} (use seconds, m:ss or h:mm:ss)")
    a, b, s = m.groups()
    if a is not None and b is not None:
        h, mnt = int(a), int(b)
    elif a is not None:
        h, mnt = 0, int(a)
    else:
        h, mnt = 0, 0
    sec = float(s)
    if (a is not None and sec >= 60) or (b is not None and mnt >= 60):
        raise ValueError(f"not a time: {text!r} (minutes and seconds must be below 60)")
    return h * 3600.0 + mnt * 60.0 + sec


def strip_start_for(t_s: float, duration_s: float, record_s: float) -> float:
    """Strip start (s, rounded to 0.1 s) that puts ``t_s`` (s) in the middle of a
    ``duration_s`` (s) strip, kept inside a record of ``record_s`` (s)."""
    hi = max(0.0, record_s - duration_s)
    return float(round(min(max(0.0, t_s - duration_s / 2), hi), 1))


# ---------------------------------------------------------------------------------------------
# stepping between beats
# ---------------------------------------------------------------------------------------------


def neighbour(samples: np.ndarray, current: int | None, direction: int) -> int | None:
    """The first of the sorted ``samples`` after (direction +1) or before (-1) ``current``;
    ``None`` when there is none. With ``current`` None: the first (or last) sample."""
    samples = np.asarray(samples, dtype=np.int64)
    if samples.size == 0:
        return None
    if current is None:
        return int(samples[0] if direction > 0 else samples[-1])
    if direction > 0:
        i = int(np.searchsorted(samples, current, side="right"))
        return int(samples[i]) if i < samples.size else None
    i = int(np.searchsorted(samples, current, side="left")) - 1
    return int(samples[i]) if i >= 0 else None


def nearest(samples: np.ndarray, target: float) -> int | None:
    """Position (index) in the sorted ``samples`` of the value nearest ``target`` (same unit);
    the earlier one on a tie; None if ``samples`` is empty."""
    samples = np.asarray(samples)
    if samples.size == 0:
        return None
    i = int(np.searchsorted(samples, target))
    cand = [j for j in (i - 1, i) if 0 <= j < samples.size]
    return min(cand, key=lambda j: abs(float(samples[j]) - float(target)))


def local_mean_rr(beats: pd.DataFrame, i: int, n: int = LOCAL_RR_BEATS) -> float | None:
    """Mean (s) of the previous-RR intervals (``rr_prev_s``) of beat ``i`` (row position) and
    the ``n - 1`` beats before it, intervals outside :data:`RR_RANGE_S` left out, like the
    models' ``rr_local_s``; None if no interval is left."""
    lo = max(0, i - n + 1)
    rr = beats["rr_prev_s"].to_numpy(float)[lo : i + 1]
    rr = rr[np.isfinite(rr) & (rr >= RR_RANGE_S[0]) & (rr <= RR_RANGE_S[1])]
    return float(rr.mean()) if rr.size else None


# ---------------------------------------------------------------------------------------------
# clicks on figures
# ---------------------------------------------------------------------------------------------


def selection_point(event: Any) -> dict[str, Any] | None:
    """The first selected point of a Plotly selection state (a mapping
    ``{"selection": {"points": [...]}}`` or an object with ``.selection.points``, as
    ``st.plotly_chart(on_select=...)`` returns), or None."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError, IndexError):
        try:
            points = event.selection.points
        except AttributeError:
            return None
    return dict(points[0]) if points else None


def point_sample(point: Mapping[str, Any] | None) -> int | None:
    """The beat sample stored as ``customdata`` on a marker point (a number or a one-element
    list), or None for a point without one (a click on a signal trace)."""
    if not point:
        return None
    cd = point.get("customdata")
    if isinstance(cd, (list, tuple)):
        cd = cd[0] if cd else None
    if cd is None:
        return None
    try:
        v = float(cd)
    except (TypeError, ValueError):
        return None
    return int(v) if math.isfinite(v) and v >= 0 else None


# ---------------------------------------------------------------------------------------------
# the beat filter of the review view
# ---------------------------------------------------------------------------------------------


def filter_mask(beats: pd.DataFrame, classes: Sequence[str], reasons: Sequence[str]) -> np.ndarray:
    """Boolean mask of the flagged beats whose predicted class is in ``classes`` and flag
    reason in ``reasons``."""
    if len(beats) == 0:
        return np.zeros(0, bool)
    return (
        beats["flagged"].to_numpy(bool)
        & beats["pred_class"].astype(str).isin(list(classes)).to_numpy()
        & beats["flag_reason"].astype(str).isin(list(reasons)).to_numpy()
    )


def view_table(beats: pd.DataFrame, shown: np.ndarray) -> pd.DataFrame:
    """A copy of the beat table in which only the ``shown`` flagged beats stay flagged (the
    others get ``flagged`` False and ``flag_reason`` ""), for the figures."""
    out = beats.copy()
    hide = out["flagged"].to_numpy(bool) & ~np.asarray(shown, bool)
    out.loc[hide, "flagged"] = False
    out.loc[hide, "flag_reason"] = ""
    return out
