"""Tests of ecg.viz.navigation: typed times, the strip window, stepping between beats, clicks on
figures and the review view's beat filter."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ecg.viz.navigation import (
    FILTERABLE_FLAG_REASONS,
    LOCAL_RR_BEATS,
    filter_mask,
    local_mean_rr,
    nearest,
    neighbour,
    parse_time,
    point_sample,
    selection_point,
    strip_start_for,
    view_table,
)

# --- typed times -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("754", 754.0),
        ("754.5", 754.5),
        (" 12 ", 12.0),
        ("7.", 7.0),
        ("12:34", 754.0),
        ("0:05", 5.0),
        ("90:00", 5400.0),  # m:ss (minutes may exceed 59)
        ("0:12:34.5", 754.5),
        ("1:00:00", 3600.0),
        ("25:59:59", 93599.0),
    ],
)
def test_parse_time_accepts_seconds_m_ss_and_h_mm_ss(text: str, seconds: float) -> None:
    assert parse_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "-5", "1:2:3:4", "12:60", "1:60:00", "1:00:60", "1,5", ":30", "5 s"])
def test_parse_time_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="not a time"):
        parse_time(text)


@pytest.mark.parametrize(
    "t_s, duration_s, record_s, start",
    [
        (100.0, 10.0, 1000.0, 95.0),  # centred
        (12.34, 10.0, 1000.0, 7.3),  # rounded to 0.1 s
        (2.0, 10.0, 1000.0, 0.0),  # not before the record start
        (998.0, 10.0, 1000.0, 990.0),  # not past the record end
        (3.0, 10.0, 6.0, 0.0),  # record shorter than a strip
    ],
)
def test_strip_start_for_centres_the_time_inside_the_record(
    t_s: float, duration_s: float, record_s: float, start: float
) -> None:
    assert strip_start_for(t_s, duration_s, record_s) == pytest.approx(start)


# --- stepping between beats ----------------------------------------------------------------------


def test_neighbour_steps_forward_and_back() -> None:
    s = np.array([10, 20, 30])
    assert neighbour(s, 20, +1) == 30 and neighbour(s, 20, -1) == 10
    assert neighbour(s, 25, +1) == 30 and neighbour(s, 25, -1) == 20  # from between two beats
    assert neighbour(s, 5, +1) == 10 and neighbour(s, 35, -1) == 30
    assert neighbour(s, 30, +1) is None and neighbour(s, 10, -1) is None
    assert neighbour(s, None, +1) == 10 and neighbour(s, None, -1) == 30
    assert neighbour(np.array([], np.int64), 5, +1) is None
    assert isinstance(neighbour(s, 10, +1), int)


def test_nearest_gives_the_position_of_the_closest_value() -> None:
    s = np.array([10, 20, 30])
    assert nearest(s, 14) == 0 and nearest(s, 16) == 1 and nearest(s, 26.0) == 2
    assert nearest(s, 15) == 0  # a tie goes to the earlier beat
    assert nearest(s, -100) == 0 and nearest(s, 1e9) == 2
    assert nearest(np.array([]), 3.0) is None


def test_local_mean_rr_averages_valid_intervals_of_the_last_n_beats() -> None:
    beats = pd.DataFrame({"rr_prev_s": [np.nan, 0.8, 0.9, 5.0, 0.1, 1.0]})
    # beats 0..5: NaN, 5.0 s and 0.1 s are left out -> mean(0.8, 0.9, 1.0)
    assert local_mean_rr(beats, 5) == pytest.approx(0.9)
    assert local_mean_rr(beats, 5, n=2) == pytest.approx(1.0)  # beats 4, 5: only 1.0 is valid
    assert local_mean_rr(beats, 4, n=2) is None  # 5.0 and 0.1 are both out of range
    assert local_mean_rr(beats, 0) is None


def test_local_mean_rr_uses_ten_beats_by_default() -> None:
    rr = 0.5 + 0.01 * np.arange(15)
    beats = pd.DataFrame({"rr_prev_s": rr})
    assert LOCAL_RR_BEATS == 10
    assert local_mean_rr(beats, 14) == pytest.approx(rr[5:15].mean())
    assert local_mean_rr(beats, 3) == pytest.approx(rr[:4].mean())


# --- clicks on figures ----------------------------------------------------------------------------


def test_selection_point_reads_a_mapping_or_an_object() -> None:
    pt = {"x": 12.5, "y": 0.3, "customdata": 4500}
    assert selection_point({"selection": {"points": [pt, {"x": 1}]}}) == pt
    assert selection_point(SimpleNamespace(selection=SimpleNamespace(points=[pt]))) == pt
    assert selection_point({"selection": {"points": []}}) is None
    assert selection_point(None) is None
    assert selection_point({}) is None
    assert selection_point(SimpleNamespace()) is None


@pytest.mark.parametrize(
    "point, sample",
    [
        ({"customdata": 4500}, 4500),
        ({"customdata": 4500.0}, 4500),
        ({"customdata": [4500]}, 4500),
        ({"customdata": (7, 9)}, 7),
        ({"customdata": "12"}, 12),
        ({"x": 1.0}, None),
        ({"customdata": None}, None),
        ({"customdata": []}, None),
        ({"customdata": "abc"}, None),
        ({"customdata": float("nan")}, None),
        ({"customdata": -1}, None),
        ({}, None),
        (None, None),
    ],
)
def test_point_sample_reads_the_beat_sample_of_a_marker(point, sample) -> None:
    assert point_sample(point) == sample


# --- the beat filter ------------------------------------------------------------------------------


def _beats() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sample": [100, 200, 300, 400, 500],
            "pred_class": ["N", "V", "V", "S", "N"],
            "flagged": [False, True, True, True, True],
            "flag_reason": ["", "class", "class+anomaly", "class", "anomaly"],
        }
    )


def test_filterable_flag_reasons_are_the_schema_reasons_of_flagged_beats() -> None:
    assert FILTERABLE_FLAG_REASONS == ("class", "anomaly", "class+anomaly")


def test_filter_mask_keeps_flagged_beats_of_the_chosen_classes_and_reasons() -> None:
    b = _beats()
    every = ("N", "S", "V", "F", "Q")
    assert filter_mask(b, every, FILTERABLE_FLAG_REASONS).tolist() == [False, True, True, True, True]
    assert filter_mask(b, ("V",), FILTERABLE_FLAG_REASONS).tolist() == [False, True, True, False, False]
    assert filter_mask(b, ("N", "V"), ("class",)).tolist() == [False, True, False, False, False]
    assert filter_mask(b, ("N",), ("",)).tolist() == [False] * 5  # unflagged beats never pass
    assert filter_mask(b, (), FILTERABLE_FLAG_REASONS).tolist() == [False] * 5
    assert filter_mask(b.iloc[:0], ("N",), ("class",)).shape == (0,)


def test_view_table_unflags_the_hidden_beats_only() -> None:
    b = _beats()
    shown = filter_mask(b, ("V",), FILTERABLE_FLAG_REASONS)
    v = view_table(b, shown)
    assert v["flagged"].tolist() == [False, True, True, False, False]
    assert v["flag_reason"].tolist() == ["", "class", "class+anomaly", "", ""]
    assert v["pred_class"].tolist() == b["pred_class"].tolist()
    assert b["flagged"].tolist() == [False, True, True, True, True]  # the input is not changed
