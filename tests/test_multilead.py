"""Scoring every lead: beats detected once across leads, classes fused per beat, a lead that is
unreadable at a beat does not vote there, and --lead restricts the analysis."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecg.io.records import load_record
from ecg.processing.quality import GOOD, NOISY, UNREADABLE, SignalQuality
from ecg.scoring.score import ModelOutputs, fuse_leads, fuse_peaks, lead_rank, score_record


def _quality(labels: list[list[int]], window: int = 100) -> SignalQuality:
    lab = np.asarray(labels, np.int8)
    return SignalQuality(
        fs=100.0, n_samples=lab.shape[0] * window, window=window, labels=lab, leads=("A", "B"), method="test"
    )


def test_lead_rank_and_fuse_peaks_by_hand() -> None:
    q = _quality([[GOOD, GOOD], [NOISY, GOOD], [UNREADABLE, NOISY], [GOOD, UNREADABLE]])
    assert lead_rank(q).tolist() == [[0, 1], [1, 0], [1, 0], [0, 1]]  # ties go to the first (preferred) lead
    a = np.array([10, 50, 150, 250, 310, 398])
    b = np.array([12, 52, 155, 252, 305, 301 + 99])
    pk = fuse_peaks([a, b], q, fs=100.0)
    # window 0 from A, 1 and 2 from B, 3 from A; B's 400 is window 4 -> clipped to 3, not B's; A's 398 kept
    assert pk.tolist() == [10, 50, 155, 252, 310, 398]
    # the same beat seen by both leads at a window edge is kept once
    q2 = _quality([[GOOD, NOISY], [NOISY, GOOD]])
    assert fuse_peaks([np.array([98]), np.array([101])], q2, fs=100.0).tolist() == [98]


def _outs(sample, probs, score) -> ModelOutputs:
    n = len(sample)
    return ModelOutputs(
        np.asarray(sample, np.int64),
        np.full((n, 10), 0.8, np.float32),
        np.asarray(probs, np.float32),
        np.asarray(score, float),
        np.zeros((n, 70), np.float32),
    )


def test_fuse_leads_weights_votes_by_quality() -> None:
    q = _quality([[GOOD, GOOD], [GOOD, NOISY], [GOOD, UNREADABLE]])
    a = _outs([10, 150, 250], [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]], [10.0, 20.0, 30.0])
    b = _outs([10, 150, 250], [[0.1, 0.9], [0.1, 0.9], [0.99, 0.01]], [90.0, 80.0, 70.0])
    out, voters = fuse_leads([a, b], q, ["A", "B"])
    assert voters.tolist() == ["A+B", "A+B", "A"]
    la, lb = np.log([[0.9, 0.1], [0.6, 0.4]]), np.log([[0.1, 0.9], [0.1, 0.9]])
    z0 = (la[0] + lb[0]) / 2
    z1 = (la[1] + 0.5 * lb[1]) / 1.5
    for z, row in ((z0, 0), (z1, 1)):
        np.testing.assert_allclose(out.probs[row], np.exp(z) / np.exp(z).sum(), rtol=1e-5)
    np.testing.assert_allclose(out.probs[2], [0.2, 0.8], rtol=1e-5)  # B unreadable there: no vote
    assert out.score.tolist() == [10.0, 20.0, 30.0]  # the best lead's score (A)
    # a beat only one lead could segment
    c = _outs([10, 250], [[0.9, 0.1], [0.2, 0.8]], [1.0, 3.0])
    out2, voters2 = fuse_leads([c, b], q, ["A", "B"])
    assert out2.sample.tolist() == [10, 150, 250] and voters2.tolist() == ["A+B", "B", "A"]
    assert out2.score.tolist() == [1.0, 80.0, 3.0]


@pytest.fixture(scope="module")
def rec208(data_dir: Path):
    return load_record("208", data_dir)


def test_one_unreadable_lead_equals_the_other_lead_alone(rec208, tiny_bundle) -> None:
    x = rec208.signal[: 360 * 300].copy()
    x[:, 0] = np.nan  # MLII off throughout
    rec = dataclasses.replace(rec208, signal=x, annotations=None)
    both = score_record(rec, tiny_bundle)
    alone = score_record(rec, tiny_bundle, lead="V1")
    assert set(both.beats["lead"]) == {"V1"} and both.summary.recording.analysed_leads == ["MLII", "V1"]
    cols = [c for c in both.beats.columns if c != "lead"]
    pd.testing.assert_frame_equal(both.beats[cols], alone.beats[cols])
    assert both.summary.pauses.count == alone.summary.pauses.count
    assert both.summary.signal_quality.analysable_pct == alone.summary.signal_quality.analysable_pct


def test_lead_option_restricts_the_analysis(rec208, tiny_bundle) -> None:
    r = dataclasses.replace(rec208, signal=rec208.signal[: 360 * 120])
    both = score_record(r, tiny_bundle)
    assert both.lead == "MLII+V1" and set(both.beats["lead"]) <= {"MLII+V1", "MLII", "V1", ""}
    assert (both.beats["lead"] == "MLII+V1").mean() > 0.95
    one = score_record(r, tiny_bundle, lead="MLII")
    assert one.lead == "MLII" and set(one.beats["lead"]) <= {"MLII", ""}
    assert one.summary.recording.analysed_leads == ["MLII"]
    assert score_record(r, tiny_bundle, lead=1).lead == "V1"
