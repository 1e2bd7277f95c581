"""Holter summary on synthetic beat sequences with known content."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from ecg.scoring.summary import format_hms, holter_summary

FS = 360.0


def _table(seq: list[tuple[str, float | None]], t0: float = 1.0, fs: float = FS) -> pd.DataFrame:
    """Beat table from ``(class, RR before the beat in s)``; the first RR is ignored."""
    times = [t0]
    for _, rr in seq[1:]:
        times.append(times[-1] + rr)
    sample = np.round(np.asarray(times) * fs).astype(np.int64)
    cls = [c for c, _ in seq]
    return pd.DataFrame({"sample": sample, "time_s": sample / fs, "pred_class": cls,
                         "flagged": [c in ("V", "F") for c in cls],
                         "flag_reason": ["class" if c in ("V", "F") else "" for c in cls]})


def _n(k: int, rr: float = 0.8) -> list[tuple[str, float]]:
    return [("N", rr)] * k


def _holter_sequence() -> tuple[list[tuple[str, float | None]], dict[str, int]]:
    seq: list[tuple[str, float | None]] = [("N", None)] + _n(12)
    marks: dict[str, int] = {"slow": len(seq) - 1}           # beat starting the first 1.2-s window
    seq += _n(20, 1.2) + _n(12)
    marks["fast"] = len(seq) - 1
    seq += _n(20, 0.5) + _n(12)
    seq += [("V", 0.5), ("N", 1.1)] + _n(12)                 # isolated V
    seq += [("V", 0.5), ("V", 0.5), ("N", 1.1)] + _n(12)     # V couplet
    marks["run5"] = len(seq)
    seq += [("V", 0.5)] + [("V", 0.4)] * 4 + [("N", 1.1)] + _n(12)   # V run of 5 at 150 bpm
    marks["run3"] = len(seq)
    seq += [("V", 0.5), ("V", 0.35), ("V", 0.35), ("N", 1.1)] + _n(12)  # V run of 3 at 171.4 bpm
    marks["bigeminy"] = len(seq) - 1
    seq += [("V", 0.5), ("N", 1.1)] * 4 + _n(12)             # N V N V N V N V: 4 cycles
    marks["trigeminy"] = len(seq) - 2
    seq += [("V", 0.5), ("N", 1.1), ("N", 0.8)] * 3 + _n(12)  # N N V x 3
    seq += [("S", 0.6), ("N", 0.9)] + _n(12) + [("S", 0.6), ("N", 0.9)] + _n(12)  # 2 isolated S
    marks["srun"] = len(seq)
    seq += [("S", 0.6), ("S", 0.45), ("S", 0.45), ("N", 1.0)] + _n(12)  # S run of 3
    seq += [("F", 0.8)] + _n(12) + [("Q", 0.8)] + _n(12)
    marks["pause1"] = len(seq) - 1
    seq += [("N", 2.5)] + _n(12)
    marks["pause2"] = len(seq) - 1
    seq += [("N", 3.1)] + _n(12)
    return seq, marks


@pytest.fixture(scope="module")
def synthetic():
    seq, marks = _holter_sequence()
    df = _table(seq)
    duration = float(df["time_s"].iloc[-1] + 1.0)
    return df, marks, duration, holter_summary(df, FS, duration, analysable_s=duration - 10.0)


def test_counts_and_burden(synthetic):
    df, _, duration, s = synthetic
    n = len(df)
    assert s["beats"]["total"] == n
    assert s["beats"]["by_class"] == {"N": n - 25, "S": 5, "V": 18, "F": 1, "Q": 1}
    assert s["beats"]["unclassified"] == 0
    assert s["flagged"] == s["beats"]["flagged"] == 19
    assert s["beats"]["flagged_by_reason"] == {"class": 19}
    assert s["ectopy"]["V"]["burden_pct"] == pytest.approx(100 * 18 / n, abs=1e-3)
    assert s["ectopy"]["V"]["per_hour"] == pytest.approx(18 / ((duration - 10) / 3600), abs=0.01)
    assert s["recording"]["analysable_pct"] == pytest.approx(100 * (duration - 10) / duration, abs=0.01)
    assert s["recording"]["duration_hms"] == format_hms(duration)


def test_ventricular_ectopy(synthetic):
    df, marks, _, s = synthetic
    v = s["ectopy"]["V"]
    assert v["total"] == 18
    assert v["isolated"] == 8          # 1 isolated + 4 in bigeminy + 3 in trigeminy
    assert v["couplets"] == 1
    assert v["runs"]["count"] == 2 and v["runs"]["beats"] == 8
    assert v["isolated"] + 2 * v["couplets"] + v["runs"]["beats"] == v["total"]
    t = df["time_s"].to_numpy()
    assert v["runs"]["longest"]["beats"] == 5
    assert v["runs"]["longest"]["time_s"] == pytest.approx(t[marks["run5"]], abs=1e-3)
    assert v["runs"]["longest"]["bpm"] == pytest.approx(150.0, abs=0.01)
    assert v["runs"]["fastest"]["beats"] == 3
    assert v["runs"]["fastest"]["bpm"] == pytest.approx(60 * 2 / 0.7, abs=0.01)
    assert v["runs"]["fastest"]["time_s"] == pytest.approx(t[marks["run3"]], abs=1e-3)
    assert [r["beats"] for r in v["runs"]["listed"]] == [5, 3]
    assert v["bigeminy"] == {"episodes": 1, "beats": 8, "ectopic_beats": 4,
                             "longest": {"cycles": 4, "time_s": pytest.approx(t[marks["bigeminy"]], abs=1e-3),
                                         "elapsed": format_hms(t[marks["bigeminy"]]), "clock": None}}
    assert v["trigeminy"]["episodes"] == 1
    assert v["trigeminy"]["beats"] == 9 and v["trigeminy"]["ectopic_beats"] == 3
    assert v["trigeminy"]["longest"]["time_s"] == pytest.approx(t[marks["trigeminy"]], abs=1e-3)


def test_supraventricular_ectopy(synthetic):
    df, marks, _, s = synthetic
    sv = s["ectopy"]["S"]
    assert (sv["total"], sv["isolated"], sv["couplets"], sv["runs"]["count"]) == (5, 2, 0, 1)
    assert sv["runs"]["longest"]["beats"] == 3
    assert sv["runs"]["longest"]["time_s"] == pytest.approx(df["time_s"].iloc[marks["srun"]], abs=1e-3)
    assert sv["runs"]["fastest"]["bpm"] == pytest.approx(60 * 2 / 0.9, abs=0.01)
    assert sv["bigeminy"]["episodes"] == 0 and sv["trigeminy"]["episodes"] == 0


def test_heart_rate_and_pauses(synthetic):
    df, marks, _, s = synthetic
    t = df["time_s"].to_numpy()
    hr = s["heart_rate"]
    assert hr["min"]["bpm"] == pytest.approx(50.0, abs=1e-6)
    assert hr["min"]["time_s"] == pytest.approx(t[marks["slow"]], abs=1e-3)
    assert hr["max"]["bpm"] == pytest.approx(120.0, abs=1e-6)
    assert hr["max"]["time_s"] == pytest.approx(t[marks["fast"]], abs=1e-3)
    assert hr["mean_bpm"] == pytest.approx(60 * (len(t) - 1) / (t[-1] - t[0]), abs=0.01)
    assert hr["pause_intervals"] == 2 and hr["gap_intervals"] == 0
    p = s["pauses"]
    assert p["count"] == 2
    assert [x["duration_s"] for x in p["listed"]] == pytest.approx([2.5, 3.1])
    assert [x["time_s"] for x in p["listed"]] == pytest.approx([t[marks["pause1"]], t[marks["pause2"]]], abs=1e-3)
    assert p["longest"]["duration_s"] == pytest.approx(3.1)
    assert p["longest"]["time_s"] == pytest.approx(t[marks["pause2"]], abs=1e-3)
    # RR > 1.15 s: the 20 intervals of the slow segment and the 2 pauses (compensatory 1.1 s are not)
    s2 = holter_summary(df, FS, 600.0, pause_threshold_s=1.15)
    assert s2["pauses"]["count"] == 22
    assert len(holter_summary(df, FS, 600.0, pause_threshold_s=1.15, max_listed=5)["pauses"]["listed"]) == 5


def test_json_serialisable_builtins(synthetic):
    *_, s = synthetic

    def walk(x):
        if isinstance(x, dict):
            assert all(isinstance(k, str) for k in x)
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        else:
            assert x is None or type(x) in (str, int, float, bool), type(x)

    walk(s)
    assert json.loads(json.dumps(s, allow_nan=False)) == s


def test_gap_breaks_patterns_and_is_no_pause():
    seq = [("N", None)] + _n(10) + [("V", 0.8), ("V", 5.0)] + _n(10)
    df = _table(seq)
    duration = float(df["time_s"].iloc[-1] + 1)
    plain = holter_summary(df, FS, duration)
    assert plain["ectopy"]["V"]["couplets"] == 1 and plain["pauses"]["count"] == 1
    assert plain["recording"]["analysable_pct"] is None
    mask = np.zeros(int(duration * FS), bool)
    a, b = df["sample"].iloc[11], df["sample"].iloc[12]
    mask[a + 90:b - 90] = True
    s = holter_summary(df, FS, duration, gap_mask=mask)
    v = s["ectopy"]["V"]
    assert (v["isolated"], v["couplets"], v["runs"]["count"]) == (2, 0, 0)
    assert s["pauses"]["count"] == 0
    assert s["heart_rate"]["gap_intervals"] == 1
    assert s["recording"]["analysable_s"] == pytest.approx((mask.size - mask.sum()) / FS, abs=1e-3)
    # the mean HR leaves out the gap interval
    rr = np.diff(df["sample"].to_numpy()) / FS
    assert s["heart_rate"]["mean_bpm"] == pytest.approx(60 * (rr.size - 1) / (rr.sum() - 5.0), abs=0.01)


def test_hourly_trend_and_clock():
    fs = 100.0
    times = np.concatenate([np.arange(0, 3600, 1.0), np.arange(3600, 7200, 0.75), np.arange(7200, 9000, 1.2)])
    cls = np.full(times.size, "N", dtype=object)
    cls[3600:8400:50] = "V"
    cls[100] = "S"
    sample = np.round(times * fs).astype(np.int64)
    df = pd.DataFrame({"sample": sample, "time_s": sample / fs, "pred_class": cls, "flagged": False})
    s = holter_summary(df, fs, 9000.0, analysable_s=9000.0, start_time=datetime(2024, 1, 1, 22, 30))
    h = s["hourly"]
    assert [x["hour"] for x in h] == [0, 1, 2]
    assert [x["beats"] for x in h] == [3600, 4800, 1500]
    assert [x["V"] for x in h] == [0, 96, 0]
    assert [x["S"] for x in h] == [1, 0, 0]
    assert [x["mean_bpm"] for x in h] == pytest.approx([60.0, 80.0, 50.0], abs=0.01)
    assert h[0]["min_bpm"] == pytest.approx(60.0) and h[0]["max_bpm"] == pytest.approx(60 * 8 / 6.25, abs=0.01)
    assert h[1]["min_bpm"] == pytest.approx(60 * 8 / (0.75 + 7 * 1.2), abs=0.01) and h[1]["max_bpm"] == pytest.approx(80.0)
    assert [x["clock"] for x in h] == ["2024-01-01T22:30:00", "2024-01-01T23:30:00", "2024-01-02T00:30:00"]
    assert [x["duration_s"] for x in h] == [3600.0, 3600.0, 1800.0]
    assert s["ectopy"]["V"]["per_hour"] == pytest.approx(96 / 2.5)
    assert s["ectopy"]["V"]["isolated"] == 96
    assert s["heart_rate"]["min"]["bpm"] == pytest.approx(50.0) and s["heart_rate"]["max"]["bpm"] == pytest.approx(80.0)
    assert s["heart_rate"]["max"]["clock"] == "2024-01-01T23:30:00"


def test_reference_column_and_empty():
    seq, _ = _holter_sequence()
    df = _table(seq)
    df["ref_class"] = np.where(df["pred_class"] == "V", "N", df["pred_class"])
    df.loc[5, "ref_class"] = ""
    s = holter_summary(df, FS, 600.0, class_column="ref_class")
    assert s["class_column"] == "ref_class"
    assert s["ectopy"]["V"]["total"] == 0 and s["beats"]["unclassified"] == 1
    assert s["ectopy"]["S"]["runs"]["count"] == 1
    e = holter_summary(df.iloc[:0], FS, 60.0)
    assert e["beats"]["total"] == 0 and e["heart_rate"]["min"] is None and e["pauses"]["count"] == 0
    assert e["ectopy"]["V"]["burden_pct"] is None
    with pytest.raises(ValueError):
        holter_summary(df, FS, 600.0, class_column="nope")


def test_format_hms():
    assert format_hms(0) == "0:00:00"
    assert format_hms(3661.4) == "1:01:01"
    assert format_hms(90000) == "25:00:00"
    assert format_hms(float("nan")) is None
