"""Time-domain HRV (ecg.processing.hrv): which intervals are NN, the measures against formulas
written out here, the per-period breakdown, and agreement with NeuroKit2's ``hrv_time``."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import ecg
from ecg.labels import symbols_to_aami
from ecg.processing.hrv import (
    TRIANGULAR_BIN_MS,
    HRVTime,
    gap_per_beat,
    hrv_by_period,
    hrv_from_beats,
    hrv_time,
    nn_mask,
    nn_series,
)

FS = 250.0
METRICS = ("mean_nn_ms", "sdnn_ms", "sdann_ms", "sdnn_index_ms", "rmssd_ms", "pnn50_pct", "triangular_index")


def beat_table(
    rr_s: list[float] | np.ndarray,
    classes: list[str] | None = None,
    *,
    fs: float = FS,
    start_s: float = 0.5,
    quality: list[str] | None = None,
    af: list[bool] | None = None,
) -> pd.DataFrame:
    """A beat table whose beat k+1 follows beat k by ``rr_s[k]`` seconds."""
    t = start_s + np.concatenate(([0.0], np.cumsum(rr_s)))
    sample = np.round(t * fs).astype(np.int64)
    n = sample.size
    return pd.DataFrame(
        {
            "sample": sample,
            "time_s": sample / fs,
            "pred_class": classes if classes is not None else ["N"] * n,
            "quality": quality if quality is not None else ["good"] * n,
            "af": af if af is not None else [False] * n,
        }
    )


def synthetic_rr(duration_s: float, seed: int = 0) -> np.ndarray:
    """Sinus-like RR intervals, s: respiratory (4.5 s) and slow (25 min) modulation plus noise."""
    rng = np.random.default_rng(seed)
    out, t = [], 0.0
    while t < duration_s:
        rr = 0.85 + 0.035 * math.sin(2 * math.pi * t / 4.5) + 0.08 * math.sin(2 * math.pi * t / 1500.0)
        rr += rng.normal(0.0, 0.012)
        out.append(rr)
        t += rr
    return np.array(out[:-1])


# --------------------------------------------------------------------------- which intervals are NN


def test_clean_normal_sequence_is_nn_except_the_first_beat():
    beats = beat_table(synthetic_rr(120.0))
    nn = nn_mask(beats, FS)
    assert nn.dtype == bool and nn.shape == (len(beats),)
    assert not nn[0] and nn[1:].all()


def test_intervals_touching_ectopy_af_unreadable_pauses_and_gaps_are_excluded():
    n = 45
    rr = np.full(n - 1, 0.8)
    classes = ["N"] * n
    quality = ["good"] * n
    af = [False] * n
    classes[10] = "V"  # premature, with a compensatory pause
    rr[9], rr[10] = 0.5, 1.1
    classes[15] = "S"
    for k in range(18, 22):
        af[k] = True
    quality[27] = "unreadable"
    classes[27] = "Q"
    quality[30] = "noisy"  # noisy but readable: stays NN
    rr[32] = 2.5  # interval 33 (beat 32 -> 33): a pause
    beats = beat_table(rr, classes, quality=quality, af=af)
    gap = np.zeros(n, bool)
    gap[40] = True  # missing signal between beats 39 and 40
    nn = nn_mask(beats, FS, gap=gap, max_change=None)
    excluded = {0, 10, 11, 15, 16, 18, 19, 20, 21, 22, 27, 28, 33, 40}
    assert set(np.flatnonzero(~nn)) == excluded
    # the reference annotation column can be used instead of the prediction
    beats["ref_class"] = "N"
    assert nn_mask(beats, FS, class_column="ref_class", max_change=None).sum() > nn.sum()


def test_rr_limits_are_inclusive_and_the_pause_threshold_is_the_upper_one():
    beats = beat_table([0.8, 2.0, 0.8, 2.004, 0.8, 0.3, 0.8, 0.296], fs=250.0)
    nn = nn_mask(beats, FS, max_change=None)
    assert nn.tolist() == [False, True, True, True, False, True, True, True, False]


def test_post_ectopic_option_drops_the_interval_after_the_compensatory_pause():
    rr = np.full(20, 0.8)
    rr[7], rr[8] = 0.5, 1.1
    classes = ["N"] * 21
    classes[8] = "V"
    beats = beat_table(rr, classes)
    default = nn_mask(beats, FS)
    assert set(np.flatnonzero(~default)) == {0, 8, 9}  # the Task Force definition
    one = nn_mask(beats, FS, exclude_post_ectopic=1)
    assert set(np.flatnonzero(~one)) == {0, 8, 9, 10}
    two = nn_mask(beats, FS, exclude_post_ectopic=2)
    assert set(np.flatnonzero(~two)) == {0, 8, 9, 10, 11}


def test_artefact_filter_removes_a_premature_beat_labelled_normal():
    rr = 0.8 + 0.01 * np.sin(np.arange(30))  # within 20 % of each other
    rr[14], rr[15] = 0.5, 1.1  # an S beat the classifier called N
    beats = beat_table(rr)
    filtered = nn_mask(beats, FS)
    assert set(np.flatnonzero(~filtered)) == {0, 15, 16}
    assert nn_mask(beats, FS, max_change=None)[1:].all()
    # a looser threshold keeps the 37 % jumps only when it exceeds them
    assert set(np.flatnonzero(~nn_mask(beats, FS, max_change=0.4))) == {0}


def test_rows_out_of_sample_order_get_their_own_flags():
    rr = np.full(12, 0.8)
    classes = ["N"] * 13
    classes[6] = "V"
    beats = beat_table(rr, classes)
    expected = nn_mask(beats, FS)
    order = np.random.default_rng(1).permutation(len(beats))
    shuffled = beats.iloc[order].reset_index(drop=True)
    np.testing.assert_array_equal(nn_mask(shuffled, FS), expected[order])
    s1, s2 = nn_series(beats, FS, expected), nn_series(shuffled, FS, expected[order])
    np.testing.assert_array_equal(s1.nn_ms, s2.nn_ms)


def test_gap_per_beat_maps_sequence_gaps_onto_table_rows():
    # readable beats at rows 0, 1, 3, 4, 5 (row 2 unreadable); gaps: 1 -> 3 (across row 2) and 4 -> 5
    gap = gap_per_beat(6, np.array([0, 1, 3, 4, 5]), np.array([False, True, False, True]))
    assert gap.tolist() == [False, False, False, True, False, True]


# --------------------------------------------------------------------------- the measures


def _reference_measures(nn_ms: np.ndarray, t_end: np.ndarray, adjacent: np.ndarray) -> dict:
    """The Task Force definitions, written out independently of the module."""
    diffs = np.array([nn_ms[i] - nn_ms[i - 1] for i in range(1, nn_ms.size) if adjacent[i]])
    hist, _ = np.histogram(nn_ms, bins=np.arange(0.0, nn_ms.max() + 2 * TRIANGULAR_BIN_MS, TRIANGULAR_BIN_MS))
    segs = pd.DataFrame({"nn": nn_ms, "seg": np.floor(t_end / 300.0)}).groupby("seg")["nn"]
    keep = segs.sum() >= 150_000.0  # NN time covering half the 5-minute segment, ms
    return dict(
        mean_nn_ms=nn_ms.mean(),
        sdnn_ms=np.std(nn_ms, ddof=1),
        rmssd_ms=np.sqrt(np.mean(diffs**2)),
        pnn50_pct=100.0 * np.mean(np.abs(diffs) > 50.0),
        triangular_index=nn_ms.size / hist.max(),
        sdann_ms=np.std(segs.mean()[keep], ddof=1),
        sdnn_index_ms=np.mean(segs.std(ddof=1)[keep]),
    )


def _gappy_table(duration_s: float = 1900.0, seed: int = 3) -> pd.DataFrame:
    rr = synthetic_rr(duration_s, seed)
    n = rr.size + 1
    rng = np.random.default_rng(seed)
    classes = np.array(["N"] * n, dtype=object)
    classes[rng.choice(np.arange(5, n - 5), 40, replace=False)] = "V"
    quality = np.array(["good"] * n, dtype=object)
    quality[600:700] = "unreadable"
    # segment 3 ([900, 1200) s) loses most of its beats to noise and must not count
    t = 0.5 + np.concatenate(([0.0], np.cumsum(rr)))
    quality[(t > 910.0) & (t < 1100.0)] = "unreadable"
    return beat_table(rr, list(classes), quality=list(quality))


def test_measures_follow_the_task_force_definitions():
    beats = _gappy_table()
    nn = nn_mask(beats, FS)
    # the NN series read straight off the table: intervals ending at the nn rows
    sample = beats["sample"].to_numpy()
    rows = np.flatnonzero(nn)
    nn_ms = (sample[rows] - sample[rows - 1]) * 1000.0 / FS
    adjacent = np.isin(rows - 1, rows)
    ref = _reference_measures(nn_ms, beats["time_s"].to_numpy()[rows], adjacent)
    got = hrv_from_beats(beats, FS)
    assert got.n_intervals == rows.size and got.n_pairs == int(adjacent.sum())
    assert got.n_pairs < got.n_intervals - 30  # each ectopic beat and noisy stretch breaks the series
    # 7 segments; the 4th is mostly unreadable and the last covers 100 s: neither counts
    assert got.n_segments == 5
    for key in METRICS:
        assert getattr(got, key) == pytest.approx(ref[key], rel=1e-9), key


def test_hourly_values_are_the_measures_of_each_hours_nn_rows():
    rr = synthetic_rr(2.5 * 3600.0, seed=5)
    classes = np.array(["N"] * (rr.size + 1), dtype=object)
    classes[::97] = "V"
    beats = beat_table(rr, list(classes))
    beats["nn"] = nn_mask(beats, FS)
    hours = hrv_by_period(beats, FS, duration_s=2.5 * 3600.0, nn=beats["nn"].to_numpy())
    assert len(hours) == 3
    sample, t, nn = beats["sample"].to_numpy(), beats["time_s"].to_numpy(), beats["nn"].to_numpy()
    for h, got in enumerate(hours):
        rows = np.flatnonzero(nn & (t // 3600.0 == h))
        nn_ms = (sample[rows] - sample[rows - 1]) * 1000.0 / FS
        adjacent = np.isin(rows - 1, rows)
        adjacent[0] = False  # a pair straddling the hour boundary belongs to neither hour
        ref = _reference_measures(nn_ms, t[rows], adjacent)
        assert got.n_intervals == rows.size
        for key in METRICS:
            assert getattr(got, key) == pytest.approx(ref[key], rel=1e-9), (h, key)
    assert hours[2].n_segments == 6  # the last half hour
    whole = hrv_from_beats(beats, FS, nn=beats["nn"].to_numpy())
    assert whole.n_intervals == sum(h.n_intervals for h in hours)
    assert whole.n_segments == 30


def test_sdann_needs_three_segments():
    short = hrv_time(np.full(700, 800.0) + np.arange(700) % 7)  # 9.4 minutes: two segments count
    assert short.sdann_ms is None and short.sdnn_index_ms is None and short.n_segments == 0
    assert short.sdnn_ms is not None and short.rmssd_ms is not None
    longer = hrv_time(np.full(1400, 800.0) + np.arange(1400) % 7)  # 18.7 minutes
    assert longer.sdann_ms is not None and longer.n_segments == 4


def test_empty_tables_single_beats_and_no_nn_give_none_not_nan():
    empty = beat_table([])[:0]
    assert nn_mask(empty, FS).shape == (0,)
    assert hrv_from_beats(empty, FS) == HRVTime()
    assert hrv_by_period(empty, FS) == []
    assert hrv_by_period(empty, FS, duration_s=7200.0) == [HRVTime(), HRVTime()]
    one = beat_table([])
    assert nn_mask(one, FS).tolist() == [False]
    assert hrv_from_beats(one, FS) == HRVTime()
    all_v = beat_table(np.full(30, 0.8), ["V"] * 31)
    result = hrv_from_beats(all_v, FS)
    assert result.n_intervals == 0 and all(getattr(result, k) is None for k in METRICS)
    d = result.to_dict()
    assert set(METRICS) <= set(d) and all(d[k] is None for k in METRICS)
    json.dumps(d, allow_nan=False)
    two = hrv_time(np.array([800.0]))
    assert two.mean_nn_ms == 800.0 and two.sdnn_ms is None and two.rmssd_ms is None
    json.dumps(two.to_dict(), allow_nan=False)


def test_bad_input_is_refused_with_a_clear_error():
    beats = beat_table(np.full(5, 0.8))
    with pytest.raises(ValueError, match="reviewed_class"):
        nn_mask(beats, FS, class_column="reviewed_class")
    with pytest.raises(ValueError, match="fs"):
        nn_mask(beats, 0.0)
    with pytest.raises(ValueError, match="gap"):
        nn_mask(beats, FS, gap=np.zeros(3, bool))
    with pytest.raises(ValueError, match="positive"):
        hrv_time(np.array([800.0, -1.0]))
    with pytest.raises(ValueError, match="time_s"):
        hrv_time(np.array([800.0, 810.0]), time_s=np.array([1.0]))


# --------------------------------------------------------------------------- NeuroKit2


@pytest.fixture(scope="module")
def nk():
    return pytest.importorskip("neurokit2")


def _agree(ours: HRVTime, theirs: pd.DataFrame, keys: dict[str, str]) -> dict[str, float]:
    """Relative differences |ours - NeuroKit2| / NeuroKit2, asserted below 1 %."""
    out = {}
    for key, nk_key in keys.items():
        ref = float(theirs[nk_key].iloc[0])
        value = getattr(ours, key)
        assert value is not None and math.isfinite(ref), key
        out[key] = abs(value - ref) / abs(ref)
        assert out[key] < 0.01, (key, value, ref)
    return out


NK_KEYS = {
    "mean_nn_ms": "HRV_MeanNN",
    "sdnn_ms": "HRV_SDNN",
    "rmssd_ms": "HRV_RMSSD",
    "pnn50_pct": "HRV_pNN50",
    "sdann_ms": "HRV_SDANN5",
    "sdnn_index_ms": "HRV_SDNNI5",
    "triangular_index": "HRV_HTI",  # NeuroKit2 bins at 1/128 s from 0 too
}


@pytest.mark.slow  # importing neurokit2 alone takes seconds
def test_agrees_with_neurokit2_on_a_contiguous_synthetic_series(nk):
    # A 29.9-minute all-normal series: NeuroKit2 takes R-peak samples and every interval between
    # consecutive peaks, so only a series without excluded intervals can be given this way.
    # Its 5-minute windows start at the first peak; ours at origin_s, set to that peak.
    fs = 1000.0
    rr = synthetic_rr(1794.0, seed=11)
    beats = beat_table(rr, fs=fs, start_s=0.0)
    nn = nn_mask(beats, fs, max_change=None)
    assert nn[1:].all()
    s = nn_series(beats, fs, nn)
    ours = hrv_time(s.nn_ms, s.time_s, s.adjacent, origin_s=float(beats["time_s"].iloc[0]))
    theirs = nk.hrv_time(beats["sample"].to_numpy(), sampling_rate=int(fs))
    diffs = _agree(ours, theirs, NK_KEYS)
    # identical formulas but pNN50's denominator (pairs here, pairs + 1 in NeuroKit2)
    assert max(v for k, v in diffs.items() if k != "pnn50_pct") < 1e-9
    assert ours.n_segments == 6


@pytest.mark.slow
def test_agrees_with_neurokit2_on_a_real_record_with_excluded_intervals(nk, data_dir):
    # MIT-BIH 100 (30 min, 33 A and 1 V beats in the reference labels): its NN series has gaps at
    # every excluded interval. Given RR intervals with their end times (dict RRI / RRI_Time),
    # NeuroKit2 finds the gaps from the times and forms successive differences only between
    # adjacent intervals, so RMSSD and pNN50 compare too; SDANN / SDNN index windows start at the
    # first NN interval's first beat.
    rec = ecg.load_record(data_dir / "100")
    ann = rec.annotations.beats()
    beats = pd.DataFrame(
        {"sample": ann.sample, "time_s": ann.sample / rec.fs, "pred_class": symbols_to_aami(ann.symbol)}
    )
    s = nn_series(beats, rec.fs, nn_mask(beats, rec.fs))
    origin = s.time_s[0] - s.nn_ms[0] / 1000.0
    ours = hrv_time(s.nn_ms, s.time_s, s.adjacent, origin_s=origin)
    assert ours.n_pairs < ours.n_intervals - 30  # the series does have gaps
    theirs = nk.hrv_time({"RRI": s.nn_ms, "RRI_Time": s.time_s - origin}, sampling_rate=int(rec.fs))
    diffs = _agree(ours, theirs, NK_KEYS)
    assert max(v for k, v in diffs.items() if k != "pnn50_pct") < 1e-9
