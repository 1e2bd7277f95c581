"""Holter summary on synthetic beat sequences with known content."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from ecg.scoring.summary import format_hms
from ecg.scoring.summary import holter_summary as _holter_summary
from ecg.scoring.summary_types import HolterSummary


def holter_summary(*args, **kwargs) -> dict:
    """The typed summary's JSON form (what scripts read)."""
    return _holter_summary(*args, **kwargs).to_dict()


FS = 360.0


def _table(seq: list[tuple[str, float | None]], t0: float = 1.0, fs: float = FS) -> pd.DataFrame:
    """Beat table from ``(class, RR before the beat in s)``; the first RR is ignored."""
    times = [t0]
    for _, rr in seq[1:]:
        times.append(times[-1] + rr)
    sample = np.round(np.asarray(times) * fs).astype(np.int64)
    cls = [c for c, _ in seq]
    return pd.DataFrame(
        {
            "sample": sample,
            "time_s": sample / fs,
            "pred_class": cls,
            "flagged": [c in ("V", "F") for c in cls],
            "flag_reason": ["class" if c in ("V", "F") else "" for c in cls],
        }
    )


def _n(k: int, rr: float = 0.8) -> list[tuple[str, float]]:
    return [("N", rr)] * k


def _holter_sequence() -> tuple[list[tuple[str, float | None]], dict[str, int]]:
    seq: list[tuple[str, float | None]] = [("N", None)] + _n(12)
    marks: dict[str, int] = {"slow": len(seq) - 1}  # beat starting the first 1.2-s window
    seq += _n(20, 1.2) + _n(12)
    marks["fast"] = len(seq) - 1
    seq += _n(20, 0.5) + _n(12)
    seq += [("V", 0.5), ("N", 1.1)] + _n(12)  # isolated V
    seq += [("V", 0.5), ("V", 0.5), ("N", 1.1)] + _n(12)  # V couplet
    marks["run5"] = len(seq)
    seq += [("V", 0.5)] + [("V", 0.4)] * 4 + [("N", 1.1)] + _n(12)  # V run of 5 at 150 bpm
    marks["run3"] = len(seq)
    seq += [("V", 0.5), ("V", 0.35), ("V", 0.35), ("N", 1.1)] + _n(12)  # V run of 3 at 171.4 bpm
    marks["bigeminy"] = len(seq) - 1
    seq += [("V", 0.5), ("N", 1.1)] * 4 + _n(12)  # N V N V N V N V: 4 cycles
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
    assert s["flags"]["count"] == 19
    assert s["flags"]["by_reason"] == {"class": 19}
    assert s["beats"]["analysed"] == n and s["beats"]["in_unreadable_signal"] == 0
    assert s["ectopy"]["V"]["burden_pct"] == pytest.approx(100 * 18 / n, abs=1e-3)
    assert s["ectopy"]["V"]["per_hour"] == pytest.approx(18 / ((duration - 10) / 3600), abs=0.01)
    assert s["signal_quality"]["analysable_pct"] == pytest.approx(100 * (duration - 10) / duration, abs=0.01)
    assert s["recording"]["duration_hms"] == format_hms(duration)


def test_ventricular_ectopy(synthetic):
    df, marks, _, s = synthetic
    v = s["ectopy"]["V"]
    assert v["total"] == 18
    assert v["isolated"] == 8  # 1 isolated + 4 in bigeminy + 3 in trigeminy
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
    assert v["bigeminy"] == {
        "episodes": 1,
        "beats": 8,
        "ectopic_beats": 4,
        "longest": {
            "cycles": 4,
            "time_s": pytest.approx(t[marks["bigeminy"]], abs=1e-3),
            "elapsed": format_hms(t[marks["bigeminy"]]),
            "clock": None,
        },
    }
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
    assert plain["signal_quality"]["analysable_pct"] is None
    mask = np.zeros(int(duration * FS), bool)
    a, b = df["sample"].iloc[11], df["sample"].iloc[12]
    mask[a + 90 : b - 90] = True
    s = holter_summary(df, FS, duration, gap_mask=mask)
    v = s["ectopy"]["V"]
    assert (v["isolated"], v["couplets"], v["runs"]["count"]) == (2, 0, 0)
    assert s["pauses"]["count"] == 0
    assert s["heart_rate"]["gap_intervals"] == 1
    assert s["signal_quality"]["analysable_s"] == pytest.approx((mask.size - mask.sum()) / FS, abs=1e-3)
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
    assert h[1]["min_bpm"] == pytest.approx(60 * 8 / (0.75 + 7 * 1.2), abs=0.01) and h[1]["max_bpm"] == pytest.approx(
        80.0
    )
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


# ------------------------------------------------------------------ quality, AF, fusion, typed form


def _quality(n_samples: int, window: int, unreadable_windows: list[int], fs: float = FS):
    from ecg.processing.quality import GOOD, UNREADABLE, SignalQuality

    n_w = -(-n_samples // window)
    labels = np.full((n_w, 1), GOOD, np.int8)
    labels[unreadable_windows, 0] = UNREADABLE
    return SignalQuality(fs=fs, n_samples=n_samples, window=window, labels=labels, leads=("MLII",), method="test")


def test_pause_inside_unreadable_signal_is_not_reported():
    seq = [("N", None)] + _n(20) + [("N", 4.2)] + _n(20) + [("N", 3.0)] + _n(20)
    df = _table(seq)
    duration = float(df["time_s"].iloc[-1] + 1)
    n_samples = int(duration * FS)
    window = int(2 * FS)
    a = int(df["sample"].iloc[20])  # the 4.2 s interval starts here
    q = _quality(n_samples, window, [a // window + 1])
    plain = holter_summary(df, FS, duration)
    assert plain["pauses"]["count"] == 2
    s = holter_summary(df, FS, duration, quality=q)
    assert s["pauses"]["count"] == 1 and s["pauses"]["listed"][0]["duration_s"] == pytest.approx(3.0)
    assert s["pauses"]["longest"]["duration_s"] == pytest.approx(3.0)
    assert s["heart_rate"]["gap_intervals"] == 1
    sq = s["signal_quality"]
    assert sq["unreadable_s"] == pytest.approx(2.0, abs=1e-3) and sq["analysable_pct"] < 100
    assert len(sq["segments"]) == 1 and sq["segments"][0]["leads"] == ["MLII"]
    assert sq["segments"][0]["start_s"] == pytest.approx((a // window + 1) * 2.0)


def test_unreadable_beats_are_left_out_of_rates_and_ectopy():
    seq = [("N", None)] + _n(10) + [("V", 0.5), ("V", 0.5), ("V", 0.5)] + _n(10)
    df = _table(seq)
    df["quality"] = "good"
    df.loc[11, "quality"] = "unreadable"  # the first V of the run
    df.loc[11, "pred_class"] = "Q"
    duration = float(df["time_s"].iloc[-1] + 1)
    s = holter_summary(df, FS, duration)
    assert s["beats"]["total"] == len(df) and s["beats"]["analysed"] == len(df) - 1
    assert s["beats"]["in_unreadable_signal"] == 1
    v = s["ectopy"]["V"]
    # the unreadable beat breaks the sequence: the 2 V after it are a couplet, not a run
    assert (v["total"], v["couplets"], v["runs"]["count"]) == (2, 1, 0)
    assert v["burden_pct"] == pytest.approx(100 * 2 / (len(df) - 1), abs=1e-3)
    assert s["heart_rate"]["gap_intervals"] == 1


def test_fusion_beats_have_their_own_ectopy_section(synthetic):
    *_, s = synthetic
    f = s["ectopy"]["F"]
    assert f["total"] == 1 and f["isolated"] == 1 and f["burden_pct"] > 0
    assert s["hourly"][0]["F"] == 1


def test_af_episodes_from_the_af_column():
    seq = [("N", None)] + _n(50) + [("N", 0.6)] * 80 + _n(50) + [("N", 0.5)] * 60 + _n(20)
    df = _table(seq)
    af = np.zeros(len(df), bool)
    af[51:131] = True
    af[181:241] = True
    df["af"] = af
    duration = float(df["time_s"].iloc[-1] + 1)
    s = holter_summary(df, FS, duration)
    a = s["af"]
    t = df["time_s"].to_numpy()
    assert a["beats"] == 140 and a["burden_pct"] == pytest.approx(100 * 140 / len(df), abs=0.01)
    assert len(a["episodes"]) == 2
    e0 = a["episodes"][0]
    assert e0["start_s"] == pytest.approx(t[51], abs=1e-3) and e0["end_s"] == pytest.approx(t[130], abs=1e-3)
    assert e0["duration_s"] == pytest.approx(t[130] - t[51], abs=1e-3)
    assert e0["mean_hr_bpm"] == pytest.approx(100.0, abs=0.01) and e0["beats"] == 80
    assert a["longest"] == e0
    assert a["duration_s"] == pytest.approx(e0["duration_s"] + a["episodes"][1]["duration_s"], abs=1e-3)
    none = holter_summary(df.drop(columns=["af"]), FS, duration)["af"]
    assert none["beats"] == 0 and none["episodes"] == [] and none["longest"] is None


def test_typed_summary_round_trips_through_json(synthetic):
    df, _, duration, _ = synthetic
    typed = _holter_summary(
        df.assign(af=False, quality="good"),
        FS,
        duration,
        analysable_s=duration,
        start_time=datetime(2024, 5, 1, 8, 0),
        record="x",
        analysed_leads=("MLII",),
    )
    text = json.dumps(typed.to_dict(), allow_nan=False)
    back = HolterSummary.from_dict(json.loads(text))
    assert back == typed
    assert back.ectopy.V.runs.longest.beats == 5 and back.pauses.listed[0].duration_s == pytest.approx(2.5)
    assert back.heart_rate.min.clock.startswith("2024-05-01T")


def test_no_analysable_signal_warns():
    df = _table([("N", None)] + _n(5)).iloc[:0]
    q = _quality(int(60 * FS), int(2 * FS), list(range(30)))
    s = holter_summary(df, FS, 60.0, quality=q)
    assert s["signal_quality"]["analysable_pct"] == 0.0 and s["signal_quality"]["warning"]
    assert s["warnings"] == [s["signal_quality"]["warning"]] and "No analysable ECG" in s["warnings"][0]
    assert all(s["ectopy"][x]["total"] == 0 for x in ("V", "S", "F"))


def test_daily_breakdown_of_a_multi_day_recording():
    """Three days at known rates: one entry per 24 h from the start, with clock dates, and the
    days add up to the hours and to the whole."""
    fs = 100.0
    day = 86400.0
    times = np.concatenate([np.arange(0, day, 1.0), np.arange(day, 2 * day, 0.75), np.arange(2 * day, 2.5 * day, 1.2)])
    cls = np.full(times.size, "N", dtype=object)
    cls[::1000] = "V"
    sample = np.round(times * fs).astype(np.int64)
    df = pd.DataFrame({"sample": sample, "time_s": sample / fs, "pred_class": cls, "flagged": False})
    s = holter_summary(df, fs, 2.5 * day, analysable_s=2.5 * day, start_time=datetime(2024, 3, 1, 9, 0))
    d = s["daily"]
    assert [x["day"] for x in d] == [0, 1, 2]
    assert [x["duration_s"] for x in d] == [day, day, day / 2]
    assert [x["clock"] for x in d] == ["2024-03-01T09:00:00", "2024-03-02T09:00:00", "2024-03-03T09:00:00"]
    assert [x["mean_bpm"] for x in d] == pytest.approx([60.0, 80.0, 50.0], abs=0.01)
    assert sum(x["beats"] for x in d) == len(df) == sum(x["beats"] for x in s["hourly"])
    assert sum(x["V"] for x in d) == int((cls == "V").sum())
    assert len(s["hourly"]) == 60
    assert HolterSummary.from_dict(json.loads(json.dumps(s))).daily[2].day == 2


def test_summary_json_without_daily_still_loads():
    """Summaries written before the daily breakdown existed read back with an empty one."""
    df = _table(_n(20))
    s = holter_summary(df, FS, 30.0, analysable_s=30.0)
    del s["daily"]
    assert HolterSummary.from_dict(s).daily == []
