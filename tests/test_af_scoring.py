"""AF/flutter episodes in scoring: reference rhythm per beat, the rule that no beat is called S
inside an episode, and real records (an AF record, ventricular bigeminy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecg.labels import AF_RHYTHMS, rhythm_at


def test_rhythm_at_follows_rhythm_annotations() -> None:
    sample = np.array([10, 50, 100, 150, 300])
    symbol = np.array(["+", "N", "+", "V", "+"])
    aux = np.array(["(N", "", "(AFIB", "", "(N"])
    got = rhythm_at(sample, symbol, aux, np.array([0, 10, 60, 100, 299, 300, 400]))
    assert got.tolist() == ["", "(N", "(N", "(AFIB", "(AFIB", "(N", "(N"]
    none = rhythm_at(np.array([5]), np.array(["N"]), np.array([""]), np.array([1, 9]))
    assert none.tolist() == ["", ""]
    assert {"(AFIB", "(AFL"} == set(AF_RHYTHMS)


def test_merge_class_by_hand() -> None:
    from ecg.models.bundle import merge_class

    classes = ("N", "S", "V", "F")
    probs = np.array(
        [
            [0.3, 0.3, 0.4, 0.0],  # N + S = 0.6 now beats V
            [0.0, 1.0, 0.0, 0.0],
            [0.1, 0.8, 0.1, 0.0],
        ],
        np.float32,
    )
    got = merge_class(probs, classes, np.array([True, True, False]), "S", "N")
    np.testing.assert_allclose(got, [[0.6, 0, 0.4, 0], [1, 0, 0, 0], [0.1, 0.8, 0.1, 0]], rtol=1e-6)
    assert probs[1, 1] == 1.0  # the input is not modified
    np.testing.assert_array_equal(merge_class(probs, ("N", "V", "F", "Q"), np.ones(3, bool)), probs)


def test_beat_table_calls_no_s_inside_af_and_does_not_classify_unreadable_beats() -> None:
    from ecg.processing.quality import GOOD, NOISY, UNREADABLE
    from ecg.scoring.score import ModelOutputs, beat_table

    classes = ("N", "S", "V", "F")
    probs = np.array([[0.1, 0.8, 0.05, 0.05]] * 4 + [[0.1, 0.1, 0.7, 0.1]] * 2, np.float32)
    out = ModelOutputs(
        sample=np.arange(6, dtype=np.int64) * 300 + 100,
        rr=np.full((6, 10), 0.8, np.float32),
        probs=probs,
        score=np.array([10.0, 99.5, 50.0, 100.0, 20.0, 99.9]),
        waves=np.zeros((6, 70), np.float32),
    )
    af = np.array([False, True, True, False, True, False])
    quality = np.array([GOOD, GOOD, NOISY, UNREADABLE, GOOD, GOOD])
    df = beat_table(out, 360.0, "MLII", classes, quality, af, threshold=99.0)
    assert df["pred_class"].tolist() == ["S", "N", "N", "Q", "V", "V"]
    # S probability moves to N inside AF only; V and F are unchanged
    np.testing.assert_allclose(df["prob_N"].iloc[[1, 2]], 0.9, rtol=1e-6)
    assert (df["prob_S"].iloc[[1, 2, 4]] == 0).all() and df["prob_S"].iloc[0] == pytest.approx(0.8)
    assert df["prob_V"].iloc[4] == pytest.approx(0.7)
    # the unreadable beat: class Q, no probabilities, no score, never flagged
    row = df.iloc[3]
    assert np.isnan(row["prob_N"]) and np.isnan(row["anomaly_score"]) and not row["flagged"]
    assert df["quality"].tolist() == ["good", "good", "noisy", "unreadable", "good", "good"]
    assert df["af"].tolist() == af.tolist()
    assert df["flag_reason"].tolist() == ["class", "anomaly", "", "", "class", "class+anomaly"]


@pytest.mark.slow
@pytest.mark.realdata
def test_real_af_record_has_af_episodes_and_no_s_calls_there(data_dir: Path) -> None:
    from ecg.io import load_record
    from ecg.scoring.score import score_record
    from tests.conftest import has_full_mitdb

    if not has_full_mitdb():
        pytest.skip("needs record 203 (AF) from the full MIT-BIH database")
    rec = load_record("203", data_dir)
    sr = score_record(rec)
    beats = sr.beats
    ann = rec.annotations
    truth = np.isin(rhythm_at(ann.sample, ann.symbol, ann.aux, beats["sample"].to_numpy()), list(AF_RHYTHMS))
    assert truth.mean() > 0.5
    assert beats.loc[truth, "af"].mean() > 0.9
    assert (beats.loc[beats["af"], "pred_class"] != "S").all()
    s = sr.summary
    assert s.af.episodes and s.af.burden_pct > 50 and s.af.longest.duration_s >= 30.0
    assert all(e.duration_s >= 30.0 for e in s.af.episodes)


@pytest.mark.slow
@pytest.mark.realdata
def test_ventricular_bigeminy_is_not_af(demo_dir: Path) -> None:
    from ecg.io import load_record
    from ecg.scoring.score import score_record

    sr = score_record(load_record("119", demo_dir))
    assert sr.beats["af"].mean() < 0.01
