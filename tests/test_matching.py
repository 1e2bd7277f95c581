"""bxb-style beat matching and detection statistics, checked by hand."""

from __future__ import annotations

import numpy as np

from ecg.evaluate import detection_stats, excluded_mask, flutter_intervals, match_beats


def test_match_beats_by_hand() -> None:
    fs = 360.0  # 150 ms = 54 samples
    ref = np.array([100, 200, 300, 400, 1000])
    test = np.array([105, 190, 195, 520, 299, 1054])
    m = match_beats(ref, test, fs)
    pairs = dict(zip(m.ref_idx.tolist(), m.test_idx.tolist()))
    assert pairs == {0: 0, 1: 2, 2: 4, 4: 5}  # 200 takes the closer 195; 1054 is exactly 150 ms away
    assert m.missed_idx.tolist() == [3]
    assert sorted(m.extra_idx.tolist()) == [1, 3]
    assert (m.tp, m.fn, m.fp) == (4, 1, 2)


def test_match_is_one_to_one_and_order_free() -> None:
    fs = 100.0
    ref = np.array([50, 60])
    test = np.array([55])
    m = match_beats(ref, test, fs)
    assert m.tp == 1 and m.fn == 1 and m.fp == 0
    rng = np.random.default_rng(1)
    ref = np.arange(500) * 200 + rng.integers(0, 50, size=500)
    test = ref + rng.integers(-5, 6, size=ref.size)
    perm = rng.permutation(test.size)
    m = match_beats(ref, test[perm], fs)
    assert m.tp == 500 and m.fp == 0 and m.fn == 0
    np.testing.assert_array_equal(test[perm][m.test_idx], test[m.ref_idx])


def test_detection_stats_with_exclusions() -> None:
    fs = 100.0
    ref = np.array([100, 200, 300, 400, 500])
    test = np.array([100, 250, 300, 490])
    s = detection_stats(ref, test, fs)
    assert (s.tp, s.fn, s.fp) == (3, 2, 1)
    assert s.se == 0.6 and s.ppv == 0.75
    # Leave out 180..260 (a flutter episode): ref 200 and test 250 no longer count.
    s2 = detection_stats(ref, test, fs, exclude=np.array([[180, 260]]))
    assert (s2.tp, s2.fn, s2.fp) == (3, 1, 0)
    s3 = detection_stats(ref, test, fs, start_sample=350)
    assert (s3.tp, s3.fn, s3.fp) == (1, 1, 0)
    total = s + s2
    assert (total.tp, total.fn, total.fp) == (6, 3, 1)


def test_flutter_intervals_and_mask() -> None:
    iv = flutter_intervals(np.array([10, 50, 90, 200]), np.array(["N", "[", "]", "["]), 300)
    assert iv.tolist() == [[50, 90], [200, 299]]
    assert excluded_mask(np.array([49, 50, 70, 90, 91, 250]), iv).tolist() == [False, True, True, True, False, True]
