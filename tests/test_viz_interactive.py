"""Tests of the dashboard's clickable figures (ecg.viz.interactive) and of the overview's
bounded (0-100) score lane, on synthetic records."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
from plotly.subplots import make_subplots

from ecg.viz import overview_figure
from ecg.viz.interactive import (
    CLICK_POINTS_OVERVIEW,
    CLICK_POINTS_STRIP,
    OVERVIEW_MARKERS,
    clickable_traces,
    mark_window,
    review_overview_figure,
    review_strip_figure,
)
from ecg.viz.navigation import point_sample
from tests.test_viz import synthetic


@pytest.fixture(scope="module")
def rec_beats():
    return synthetic(duration_s=60.0)


def _markers(fig: go.Figure) -> list:
    return [tr for tr in fig.data if tr.mode == "markers" and tr.name != "click"]


def _click_targets(fig: go.Figure) -> list:
    return [tr for tr in fig.data if tr.name == "click"]


def _threshold_line(fig: go.Figure):
    lines = [s for s in fig.layout.shapes if s.type == "line" and s.line.dash == "dash"]
    assert len(lines) == 1
    return lines[0]


def _threshold_label(fig: go.Figure):
    labels = [a for a in fig.layout.annotations if str(a.text).startswith("threshold ")]
    assert len(labels) == 1
    return labels[0]


# --- clickable_traces / mark_window -------------------------------------------------------------


def test_clickable_traces_adds_an_invisible_marker_trace_per_line() -> None:
    y = np.sin(np.arange(1000) / 50.0)
    y[7] = np.nan
    fig = go.Figure(
        [
            go.Scatter(y=y, x0=2.0, dx=0.5, mode="lines", hovertemplate="%{x:.3f} s<extra>MLII</extra>"),
            go.Scatter(x=[0.0, 1.0, 2.0], y=[1.0, 2.0, 3.0], mode="lines", yaxis="y2"),
            go.Scatter(x=[0.0, 1.0], y=[1.0, 2.0], mode="lines", fill="tonexty"),  # a band: not clickable
            go.Scatter(x=[0.5], y=[1.0], mode="markers"),  # already selectable
        ]
    )
    clickable_traces(fig, max_points=100)
    targets = _click_targets(fig)
    assert len(fig.data) == 6 and len(targets) == 2
    a, b = targets
    assert len(a.x) == 100 and a.marker.opacity == 0 and a.showlegend is False
    np.testing.assert_allclose(np.diff(a.x) % 0.5, 0.0)  # on the line's own samples
    assert a.x[0] == pytest.approx(2.0) and a.x[-1] == pytest.approx(2.0 + 0.5 * 999)
    assert np.isfinite(a.y).all()
    assert a.hovertemplate == "%{x:.3f} s<extra>MLII</extra>"  # the target takes over the hover
    assert fig.data[0].hoverinfo == "skip" and fig.data[0].hovertemplate is None
    assert list(b.x) == [0.0, 1.0, 2.0] and b.yaxis == "y2" and b.hovertemplate == "%{x:.2f} s"
    assert fig.data[2].hoverinfo is None  # the band is left alone


def test_clickable_traces_keeps_nan_points_out() -> None:
    fig = go.Figure(go.Scatter(x=np.arange(5.0), y=[0.0, np.nan, 2.0, np.nan, 4.0], mode="lines"))
    clickable_traces(fig, max_points=600)
    assert list(_click_targets(fig)[0].x) == [0.0, 2.0, 4.0]


def test_mark_window_shades_every_row() -> None:
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True)
    fig.add_trace(go.Scatter(x=[0, 10], y=[0, 1]), row=1, col=1)
    fig.add_trace(go.Scatter(x=[0, 10], y=[0, 1]), row=2, col=1)
    mark_window(fig, 3.0, 5.5)
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(rects) == 2 and {r.xref for r in rects} == {"x", "x2"}
    assert all((r.x0, r.x1, r.layer) == (3.0, 5.5, "below") for r in rects)


# --- the overview's bounded score lane ------------------------------------------------------------


def test_score_lane_is_bounded_0_to_100(rec_beats) -> None:
    rec, beats = rec_beats
    fig = overview_figure(rec, beats, lead="MLII", threshold_line=99.0)
    ax = fig.layout.yaxis2
    assert ax.type is None and ax.title.text == "anomaly score" and tuple(ax.range) == (0.0, 104.0)
    line = _threshold_line(fig)
    assert line.y0 == line.y1 == 99.0 and line.yref == "y2"
    assert _threshold_label(fig).text == "threshold 99"


def test_threshold_line_moves_the_line_not_the_flags(rec_beats) -> None:
    rec, beats = rec_beats
    base = overview_figure(rec, beats, lead="MLII")
    moved = overview_figure(rec, beats, lead="MLII", threshold_line=6.0)
    refl = overview_figure(rec, beats, lead="MLII", threshold=6.0)
    n = [sum(len(tr.x) for tr in _markers(f)) for f in (base, moved, refl)]
    # only `threshold` reflags: beat 30 (anomaly only, score 5) drops out
    assert n[0] == n[1] == int(beats["flagged"].sum()) and n[2] == n[0] - 1
    assert _threshold_line(base).y0 == 99.0 and _threshold_line(moved).y0 == 6.0
    assert _threshold_label(moved).text == "threshold 6" and _threshold_label(moved).y == 6.0


def test_empty_lane(rec_beats) -> None:
    rec, beats = rec_beats
    fig = overview_figure(rec, beats.assign(flagged=False, flag_reason=""), lead="MLII")
    assert not _markers(fig)
    assert fig.layout.yaxis2.title.text == "anomaly score"


# --- the dashboard's overview and strip ------------------------------------------------------------


def test_review_overview_figure(rec_beats) -> None:
    rec, beats = rec_beats
    fig = review_overview_figure(rec, beats, "V1", threshold=0.5, t0=20.0, strip_s=10.0)
    assert _threshold_line(fig).y0 == 0.5
    assert fig.layout.clickmode == "event+select" and fig.layout.dragmode == "zoom"
    assert [s.name for s in fig.data if s.mode == "lines"] == ["V1"]
    markers = _markers(fig)
    assert markers and all(tr.unselected.marker.opacity == 0.8 for tr in markers)
    assert sum(len(tr.x) for tr in markers) == int(beats["flagged"].sum()) <= OVERVIEW_MARKERS
    # a click on a marker gives its beat sample
    flagged = set(beats.loc[beats["flagged"], "sample"].tolist())
    assert {point_sample({"customdata": cd}) for tr in markers for cd in tr.customdata} == flagged
    (target,) = _click_targets(fig)
    assert len(target.x) == CLICK_POINTS_OVERVIEW and target.yaxis == "y"
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(rects) == 2 and all((r.x0, r.x1) == (20.0, 30.0) for r in rects)


def test_review_strip_figure(rec_beats) -> None:
    rec, beats = rec_beats
    sel = int(beats["sample"].iloc[20])  # a flagged V beat at 16.6 s
    fig = review_strip_figure(rec, beats, 12.0, 10.0, ["MLII", "V1"], True, sel)
    targets = _click_targets(fig)
    assert len(targets) == 2 and all(len(t.x) == CLICK_POINTS_STRIP for t in targets)
    assert all(12.0 - 1e-9 <= x <= 22.0 + 1e-9 for t in targets for x in (t.x[0], t.x[-1]))
    markers = [tr for tr in _markers(fig) if tr.name != "selected"]
    assert markers and all(tr.unselected.marker.opacity == 1 for tr in markers)
    assert sel in {int(c) for tr in markers for c in tr.customdata}
    assert any(tr.name == "selected" for tr in fig.data)
    assert any(tr.name == "reference" for tr in fig.data)
    plain = review_strip_figure(rec, beats, 12.0, 10.0, ["MLII"], False, None)
    assert not any(tr.name in ("selected", "reference") for tr in plain.data) and len(_click_targets(plain)) == 1
