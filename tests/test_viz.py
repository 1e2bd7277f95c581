"""Plotly figures of ecg.viz on synthetic records: grid spacing, square boxes, point budgets,
trace counts and class colours."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plotly.subplots import make_subplots

from ecg.io.records import Annotations, Record
from ecg.scoring.schema import PROB_CLASSES, beat_columns, validate_beat_table
from ecg.viz import (
    CLASS_COLORS,
    SCALE_RATIO,
    apply_ecg_grid,
    beat_detail_figure,
    confusion_matrix_figure,
    ecg_grid_axis_props,
    ecg_grid_lines,
    ecg_grid_shapes,
    hr_trend_figure,
    hr_trend_table,
    overview_figure,
    strip_figure,
    strip_window,
)

FS = 360.0
RR_S = 0.8
SYMBOL = {"N": "N", "S": "A", "V": "V", "F": "F", "Q": "Q"}


def synthetic(
    duration_s: float = 90.0, fs: float = FS, ectopic: dict[int, str] | None = None, flag_every: int = 0, seed: int = 0
) -> tuple[Record, pd.DataFrame]:
    """A 2-lead record (beats every 0.8 s, a PQRST template added per beat) and its beat table:
    V beats are taller; non-N beats are flagged by class, beat 30 by anomaly only."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    samples = np.round(np.arange(0.6, duration_s - 0.6, RR_S) * fs).astype(np.int64)
    m = samples.size
    cls = np.full(m, "N", dtype=object)
    for i, c in (
        ectopic
        if ectopic is not None
        else {10: "V", 20: "V", 21: "V", 22: "V", 23: "V", 40: "S", 50: "S", 51: "S", 52: "S", 60: "F"}
    ).items():
        if i < m:
            cls[i] = c
    tt = np.arange(-0.3, 0.5, 1 / fs)
    tmpl = (
        0.15 * np.exp(-0.5 * ((tt + 0.16) / 0.02) ** 2)
        + 1.2 * np.exp(-0.5 * (tt / 0.01) ** 2)
        - 0.25 * np.exp(-0.5 * ((tt - 0.03) / 0.008) ** 2)
        + 0.3 * np.exp(-0.5 * ((tt - 0.25) / 0.04) ** 2)
    )
    x = np.zeros(n)
    starts = samples - int(round(0.3 * fs))
    amp = np.where(cls == "V", 1.8, 1.0)
    ok = (starts >= 0) & (starts + tt.size <= n)
    idx = starts[ok, None] + np.arange(tt.size)[None, :]
    np.add.at(x, idx, amp[ok, None] * tmpl[None, :])
    sig = np.stack([x, 0.6 * x], axis=1) + rng.normal(0, 0.01, (n, 2))
    ann = Annotations(samples, np.array([SYMBOL[c] for c in cls], dtype=object), np.full(m, "", dtype=object))
    rec = Record(
        name="synth01",
        signal=sig.astype(np.float32),
        fs=fs,
        lead_names=("MLII", "V1"),
        units=("mV", "mV"),
        annotations=ann,
    )
    probs = np.full((m, len(PROB_CLASSES)), 0.02)
    probs[np.arange(m), [PROB_CLASSES.index(c) for c in cls]] = 0.92
    score = rng.uniform(0.1, 0.8, m)
    score[cls != "N"] = 2.0
    score[min(30, m - 1)] = 5.0
    class_flag = cls != "N"
    anomaly_flag = score >= 1.0
    if flag_every:
        class_flag = class_flag | (np.arange(m) % flag_every == 0)
    reason = np.where(
        class_flag & anomaly_flag, "class+anomaly", np.where(class_flag, "class", np.where(anomaly_flag, "anomaly", ""))
    )
    rr = np.diff(samples) / fs
    df = pd.DataFrame(
        {
            "sample": samples,
            "time_s": samples / fs,
            "lead": "MLII",
            "rr_prev_s": np.r_[np.nan, rr],
            "rr_next_s": np.r_[rr, np.nan],
            "pred_class": cls.astype(str),
            **{f"prob_{c}": probs[:, k] for k, c in enumerate(PROB_CLASSES)},
            "anomaly_score": score,
            "flagged": class_flag | anomaly_flag,
            "flag_reason": reason,
            "ref_symbol": ann.symbol.astype(str),
            "ref_class": cls.astype(str),
            "quality": "good",
            "af": False,
            "nn": True,
            "family": 0,
        }
    )[beat_columns()]
    validate_beat_table(df)
    return rec, df


@pytest.fixture(scope="module")
def rec_beats() -> tuple[Record, pd.DataFrame]:
    return synthetic()


def _n_points(fig) -> int:
    return sum(len(tr.y) for tr in fig.data if tr.y is not None)


# --- grid ------------------------------------------------------------------------------------


def test_grid_lines_spacing() -> None:
    g = ecg_grid_lines(10.0, 12.0, -1.0, 1.5)
    np.testing.assert_allclose(np.diff(g["major_x"]), 0.2, atol=1e-9)
    np.testing.assert_allclose(np.diff(g["major_y"]), 0.5, atol=1e-9)
    all_x = np.sort(np.r_[g["minor_x"], g["major_x"]])
    all_y = np.sort(np.r_[g["minor_y"], g["major_y"]])
    np.testing.assert_allclose(np.diff(all_x), 0.04, atol=1e-9)
    np.testing.assert_allclose(np.diff(all_y), 0.1, atol=1e-9)
    assert all_x[0] == pytest.approx(10.0) and all_x[-1] == pytest.approx(12.0)
    assert all_x.size == 51 and all_y.size == 26
    # majors on multiples of 0.2 s / 0.5 mV, and not repeated among the minors
    np.testing.assert_allclose(g["major_x"] / 0.2, np.round(g["major_x"] / 0.2), atol=1e-9)
    np.testing.assert_allclose(g["major_y"] / 0.5, np.round(g["major_y"] / 0.5), atol=1e-9)
    assert not np.isin(np.round(g["minor_x"], 6), np.round(g["major_x"], 6)).any()


def test_grid_lines_do_not_drift_late_in_a_long_record() -> None:
    g = ecg_grid_lines(86390.0, 86400.0, 0.0, 1.0)  # the last 10 s of 24 h
    np.testing.assert_allclose(np.diff(np.sort(np.r_[g["minor_x"], g["major_x"]])), 0.04, atol=1e-6)
    assert g["major_x"].size == 51


def test_grid_shapes_are_two_polyline_traces() -> None:
    traces = ecg_grid_shapes(0.0, 1.0, 0.0, 1.0)
    assert len(traces) == 2
    minor, major = traces
    # each line is 2 points + a None separator
    assert sum(v is None for v in major.x) == 6 + 3  # x: 0..1 by 0.2; y: 0, 0.5, 1
    assert sum(v is None for v in minor.x) == 20 + 8  # the other 0.04 s / 0.1 mV lines
    assert minor.line.color != major.line.color


def test_grid_axis_props_and_square_boxes() -> None:
    xp, yp = ecg_grid_axis_props()
    assert xp["dtick"] == pytest.approx(0.2) and xp["minor"]["dtick"] == pytest.approx(0.04)
    assert yp["dtick"] == pytest.approx(0.5) and yp["minor"]["dtick"] == pytest.approx(0.1)
    # 0.04 s (1 mm at 25 mm/s) spans the same screen length as 0.1 mV (1 mm at 10 mm/mV)
    assert SCALE_RATIO == pytest.approx(0.4)
    assert yp["scaleratio"] * 0.1 == pytest.approx(0.04)


def test_apply_ecg_grid_on_a_subplot_anchors_to_its_own_x_axis() -> None:
    fig = make_subplots(rows=2, cols=1)
    apply_ecg_grid(fig, row=2, col=1)
    assert fig.layout.yaxis2.scaleanchor == "x2"
    assert fig.layout.yaxis2.scaleratio == pytest.approx(0.4)
    assert fig.layout.yaxis.scaleanchor is None


# --- strip -----------------------------------------------------------------------------------


def test_strip_sends_only_its_window(rec_beats) -> None:
    rec, beats = rec_beats
    fig = strip_figure(rec, beats, 12.0, 10.0)
    i0, i1 = strip_window(rec, 12.0, 10.0)
    assert (i0, i1) == (int(12 * FS), int(22 * FS) + 1)
    signal = [tr for tr in fig.data if tr.name in rec.lead_names]
    assert len(signal) == 2
    for tr in signal:
        assert len(tr.y) == i1 - i0 == int(10 * FS) + 1
        assert tr.x0 == pytest.approx(12.0) and tr.dx == pytest.approx(1 / FS)
    for tr in fig.data:
        if tr.x is not None and len(tr.x):
            assert 12.0 <= min(tr.x) and max(tr.x) <= 22.0
    assert list(fig.layout.xaxis.range) == pytest.approx([12.0, 22.0])


def test_strip_window_is_clamped_to_the_record(rec_beats) -> None:
    rec, _ = rec_beats
    assert strip_window(rec, -3.0, 10.0)[0] == 0
    i0, i1 = strip_window(rec, 88.0, 10.0)
    assert i1 == rec.n_samples and (i1 - i0) / FS == pytest.approx(10.0, abs=2 / FS)


def test_strip_grid_and_square_boxes(rec_beats) -> None:
    rec, beats = rec_beats
    lay = strip_figure(rec, beats, 12.0).layout
    assert lay.xaxis.dtick == pytest.approx(0.2) and lay.xaxis.minor.dtick == pytest.approx(0.04)
    assert lay.yaxis.dtick == pytest.approx(0.5) and lay.yaxis.minor.dtick == pytest.approx(0.1)
    assert lay.xaxis.minor.showgrid and lay.yaxis.minor.showgrid
    assert lay.yaxis.scaleanchor == "x" and lay.yaxis.scaleratio == pytest.approx(0.4)


def test_strip_trace_counts(rec_beats) -> None:
    rec, beats = rec_beats
    # 12-22 s holds beats 15..26: the V run (20-23) and nothing else flagged
    fig = strip_figure(rec, beats, 12.0, selected_sample=int(beats["sample"][21]))
    assert [tr.name for tr in fig.data] == ["MLII", "V1", "V", "reference", "selected"]
    # 24-34 s: beat 30 (anomaly, N), 40 (S); no reference, one lead, no selection
    fig = strip_figure(rec, beats, 24.0, leads="V1", show_reference=False)
    assert [tr.name for tr in fig.data] == ["V1", "N", "S"]
    assert fig.layout.yaxis.showticklabels is True  # one lead: true mV labels
    assert len(fig.data[0].y) == int(10 * FS) + 1


def test_strip_markers_coloured_by_class_with_hover(rec_beats) -> None:
    rec, beats = rec_beats
    fig = strip_figure(rec, beats, 24.0)
    markers = {tr.name: tr for tr in fig.data if tr.mode == "markers"}
    assert set(markers) == {"N", "S"}
    for cls, tr in markers.items():
        assert tr.marker.color == CLASS_COLORS[cls]
        assert len(tr.x) == 2  # one marker per lead
    s = beats.iloc[40]
    assert markers["S"].x[0] == pytest.approx(s["time_s"])
    assert "<b>S</b> p=0.92" in markers["S"].hovertext[0] and "anomaly score 2.00" in markers["S"].hovertext[0]
    assert "anomaly score 5.00" in markers["N"].hovertext[0]
    assert len(set(CLASS_COLORS.values())) == len(CLASS_COLORS)


def test_strip_reference_symbols(rec_beats) -> None:
    rec, beats = rec_beats
    fig = strip_figure(rec, beats, 12.0)
    ref = next(tr for tr in fig.data if tr.name == "reference")
    assert ref.mode == "text"
    assert list(ref.text) == ["N"] * 5 + ["V"] * 4 + ["N"] * 3
    np.testing.assert_allclose(ref.x, beats["time_s"][15:27])


def test_strip_leads_stacked_on_major_lines_without_overlap(rec_beats) -> None:
    rec, beats = rec_beats
    fig = strip_figure(rec, beats, 12.0)
    i0, i1 = strip_window(rec, 12.0)
    top, bottom = fig.data[0], fig.data[1]
    off_top = float(np.median(np.asarray(top.y) - rec.signal[i0:i1, 0]))
    off_bottom = float(np.median(np.asarray(bottom.y) - rec.signal[i0:i1, 1]))
    assert off_bottom == pytest.approx(0.0, abs=1e-5)
    assert off_top / 0.5 == pytest.approx(round(off_top / 0.5), abs=1e-5) and off_top > 0
    assert np.min(top.y) > np.max(bottom.y)
    lo, hi = fig.layout.yaxis.range
    assert lo <= np.min(bottom.y) and np.max(top.y) <= hi


# --- overview --------------------------------------------------------------------------------


def test_overview_point_budget_30_min_two_leads() -> None:
    rec, beats = synthetic(duration_s=1800.0, flag_every=4)  # 648,000 samples x 2 leads
    assert rec.n_samples == 648_000 and beats["flagged"].sum() > 500
    fig = overview_figure(rec, beats)
    assert _n_points(fig) < 10_000
    lines = [tr for tr in fig.data if tr.mode == "lines"]
    assert [tr.name for tr in lines] == ["MLII", "V1"] and all(len(tr.y) == 4000 for tr in lines)
    # real samples at their times, in time order; MinMaxLTTB keeps the tallest peak
    for j, tr in enumerate(lines):
        k = np.round(np.asarray(tr.x) * FS).astype(int)
        np.testing.assert_array_equal(tr.y, rec.signal[k, j])
        assert np.all(np.diff(k) > 0) and k[0] == 0 and k[-1] == rec.n_samples - 1
        assert float(np.max(tr.y)) == pytest.approx(float(rec.signal[:, j].max()))

    # every beat flagged: the markers are thinned to stay in budget, every class kept
    all_flagged = beats.assign(flagged=True)
    fig = overview_figure(rec, all_flagged)
    assert _n_points(fig) < 10_000
    marker_names = {tr.name.split()[0] for tr in fig.data if tr.mode == "markers"}
    assert marker_names == set(beats["pred_class"])
    assert "markers shown" in fig.layout.title.text


def test_overview_markers_by_class_and_threshold(rec_beats) -> None:
    rec, beats = rec_beats
    fig = overview_figure(rec, beats, lead="MLII")
    assert [tr.name for tr in fig.data] == ["MLII", "N (1)", "S (4)", "V (5)", "F (1)"]
    assert len(fig.data[0].y) == 4000
    full = overview_figure(rec, beats, lead="MLII", max_points=rec.n_samples)  # nothing to downsample
    np.testing.assert_array_equal(full.data[0].y, rec.signal[:, 0])
    for tr in fig.data[1:]:
        cls = tr.name.split()[0]
        assert tr.marker.color == CLASS_COLORS[cls]
        np.testing.assert_allclose(tr.x, beats.loc[beats["flagged"] & (beats["pred_class"] == cls), "time_s"])
    # a higher threshold drops the anomaly-only beat (score 5.0) only above 5, never class flags
    names = [tr.name for tr in overview_figure(rec, beats, threshold=6.0).data if tr.mode == "markers"]
    assert names == ["S (4)", "V (5)", "F (1)"]


# --- beat detail, HR trend, confusion matrix ---------------------------------------------------


def test_beat_detail_figure() -> None:
    fs, pre_s = 100.0, 0.25
    wave = np.sin(np.linspace(0, 3, 70))
    fig = beat_detail_figure(
        wave,
        wave * 0.9,
        fs,
        pre_s,
        {"N": 0.1, "V": 0.85, "S": 0.05},
        {"rr_prev_s": 0.5, "rr_next_s": 1.1, "rr_local_s": 0.8},
    )
    assert [tr.type for tr in fig.data] == ["scatter", "scatter", "bar"]
    assert fig.data[0].x[0] == pytest.approx(-250.0) and fig.data[0].x[25] == pytest.approx(0.0)
    bar = fig.data[2]
    assert list(bar.x) == ["N", "S", "V"]
    assert list(bar.marker.color) == [CLASS_COLORS[c] for c in ("N", "S", "V")]
    title = fig.layout.title.text
    assert "RR before 500 ms" in title and "RR after 1100 ms" in title and "RR before = 62% of the local mean" in title
    assert "<b>V</b> p=0.85" in title


def test_hr_trend(rec_beats) -> None:
    _, beats = rec_beats
    tab = hr_trend_table(beats, 60.0)
    assert list(tab["t_start_s"]) == [0.0, 60.0]
    np.testing.assert_allclose(tab["hr_mean_bpm"], 60.0 / RR_S, rtol=2e-3)
    assert tab["n_beats"].sum() == len(beats) - 1  # the first beat has no RR
    fig = hr_trend_figure(beats)
    assert len(fig.data) == 3
    np.testing.assert_allclose(fig.data[2].y, tab["hr_mean_bpm"])
    # RR intervals spanning a gap (> 3 s) are ignored
    gap = beats.copy()
    gap.loc[5, "rr_prev_s"] = 10.0
    assert hr_trend_table(gap)["n_beats"].sum() == len(beats) - 2


def test_confusion_matrix_figure() -> None:
    m = np.array([[90, 10, 0], [5, 15, 0], [0, 0, 0]])
    fig = confusion_matrix_figure(m, ["N", "S", "V"], ["N", "S", "V"])
    hm = fig.data[0]
    np.testing.assert_allclose(hm.z, [[0.9, 0.1, 0.0], [0.25, 0.75, 0.0], [0, 0, 0]])
    assert hm.text[0][0] == "90<br>90%" and hm.text[1][1] == "15<br>75%"
    assert fig.layout.yaxis.title.text == "Reference" and fig.layout.xaxis.title.text == "Predicted"
    with pytest.raises(ValueError):
        confusion_matrix_figure(m, ["N", "S"], ["N", "S", "V"])


def test_viz_does_not_import_streamlit() -> None:
    root = Path(__file__).resolve().parents[1] / "ecg" / "viz"
    for py in root.glob("*.py"):
        for node in ast.walk(ast.parse(py.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.split(".")[0] == "streamlit" for n in names), py


def test_af_spans_by_hand() -> None:
    from ecg.viz import af_spans

    t = np.arange(20, dtype=float) * 2.0  # a beat every 2 s
    mark = np.zeros(20, bool)
    mark[2:5] = True  # 4-8 s
    mark[6:8] = True  # 12-14 s: 4 s after the first span, joined with merge_gap_s=10
    mark[15:18] = True  # 30-34 s: 16 s later, separate
    beats = pd.DataFrame({"time_s": t, "af": mark})
    assert af_spans(beats) == [(4.0, 14.0), (30.0, 34.0)]
    assert af_spans(beats, merge_gap_s=1.0) == [(4.0, 8.0), (12.0, 14.0), (30.0, 34.0)]
    # Only the longest spans are kept when there are too many, still in time order.
    assert af_spans(beats, merge_gap_s=1.0, max_spans=2) == [(4.0, 8.0), (30.0, 34.0)]
    assert af_spans(beats.drop(columns=["af"])) == []
    assert af_spans(beats.assign(af=False)) == []


def test_overview_shades_af_episodes(rec_beats) -> None:
    rec, beats = rec_beats
    plain = overview_figure(rec, beats)
    assert not any(tr.name and tr.name.startswith("AF/flutter") for tr in plain.data)
    marked = beats.copy()
    t = marked["time_s"].to_numpy()
    marked["af"] = (t > 20) & (t < 40)
    fig = overview_figure(rec, marked)
    shades = [sh for sh in fig.layout.shapes if sh.type == "rect" and sh.fillcolor == "#b39ddb"]
    assert len(shades) == 3  # one span, drawn on both lead rows and the flag lane
    first, last = t[(t > 20) & (t < 40)][[0, -1]]
    assert {(sh.x0, sh.x1) for sh in shades} == {(first, last)}
    legend = [tr for tr in fig.data if tr.name and tr.name.startswith("AF/flutter")]
    assert len(legend) == 1 and f"{100 * marked['af'].mean():.1f}% of beats" in legend[0].name


def test_time_ticks_clock_and_elapsed() -> None:
    from datetime import datetime

    from ecg.viz.timeaxis import axis_title, time_ticks

    vals, text = time_ticks(0.0, 3600.0)  # an hour elapsed: ticks on round steps, h:mm:ss
    assert len(vals) <= 10 and np.allclose(np.diff(vals), vals[1] - vals[0]) and text[0] == "0:00:00"
    start = datetime(2024, 1, 1, 8, 59, 50)
    vals, text = time_ticks(0.0, 120.0, start)  # clock ticks on whole clock times
    assert text[0] == "09:00:00" and vals[0] == 10.0
    assert axis_title(start) == "Clock time" and axis_title(None).startswith("Time from start")
