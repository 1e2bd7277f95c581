"""AF-like irregular rhythm: reference rhythm per beat, the threshold's calibration, and the
rule that no beat is called S there, through the one scoring path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecg.labels import AF_RHYTHMS, rhythm_at
from ecg.models.bundle import load_bundle
from ecg.models.training import PreparedRecord, calibrate_rhythm_gate


def test_rhythm_at_follows_rhythm_annotations() -> None:
    sample = np.array([10, 50, 100, 150, 300])
    symbol = np.array(["+", "N", "+", "V", "+"])
    aux = np.array(["(N", "", "(AFIB", "", "(N"])
    got = rhythm_at(sample, symbol, aux, np.array([0, 10, 60, 100, 299, 300, 400]))
    assert got.tolist() == ["", "(N", "(N", "(AFIB", "(AFIB", "(N", "(N"]
    none = rhythm_at(np.array([5]), np.array(["N"]), np.array([""]), np.array([1, 9]))
    assert none.tolist() == ["", ""]
    assert {"(AFIB", "(AFL"} == set(AF_RHYTHMS)


def _prepared(rhythm: np.ndarray, irregularity: np.ndarray) -> PreparedRecord:
    n = rhythm.size
    return PreparedRecord("x", None, np.zeros(n, np.int64), np.full(n, "N"), rhythm, irregularity)  # type: ignore[arg-type]


def test_calibrate_rhythm_gate_by_youden() -> None:
    rng = np.random.default_rng(0)
    af = _prepared(np.full(400, "(AFIB"), rng.uniform(0.15, 0.4, 400))
    sinus = _prepared(np.r_[np.full(900, "(N"), np.full(100, "")], np.r_[rng.uniform(0.0, 0.06, 900),
                                                                      rng.uniform(0.5, 0.9, 100)])
    thr = calibrate_rhythm_gate({"a": af, "b": sinus})
    # Any threshold in [0.06, 0.15] separates them perfectly; the first such grid value wins.
    assert thr == pytest.approx(0.06)
    # Beats with no rhythm label ("") do not count, even though they are very irregular here.
    assert calibrate_rhythm_gate({"b": sinus}) is None  # no AF at all
    assert calibrate_rhythm_gate({"a": af}) is None     # nothing to tell AF from


def test_class_probabilities_merge_s_into_n_in_irregular_rhythm(tiny_bundle, demo_dir: Path) -> None:
    from ecg.models.features import model_inputs
    from ecg.processing.segmentation import rr_features

    rng = np.random.default_rng(5)
    inp = model_inputs(rng.normal(0, 0.2, (40, 70)).astype(np.float32),
                       rr_features(np.cumsum(rng.integers(200, 400, 40)), 360.0), 25)
    irr = np.r_[np.zeros(20), np.full(20, 0.5)]
    b = tiny_bundle
    raw = b.class_probabilities(inp)
    old = b.irregular_rhythm_threshold
    try:
        b.irregular_rhythm_threshold = None
        np.testing.assert_array_equal(b.class_probabilities(inp, irr), raw)
        assert not b.irregular_rhythm(irr).any()
        b.irregular_rhythm_threshold = 0.1
        gated = b.class_probabilities(inp, irr)
    finally:
        b.irregular_rhythm_threshold = old
    s, n = b.classes.index("S"), b.classes.index("N")
    np.testing.assert_array_equal(gated[:20], raw[:20])
    assert (gated[20:, s] == 0).all()
    np.testing.assert_allclose(gated[20:, n], raw[20:, n] + raw[20:, s], rtol=1e-6)
    others = [k for k in range(len(b.classes)) if k not in (s, n)]
    np.testing.assert_array_equal(gated[:, others], raw[:, others])
    np.testing.assert_allclose(gated.sum(axis=1), 1.0, atol=1e-5)


def test_merge_class_by_hand() -> None:
    from ecg.models.bundle import merge_class

    classes = ("N", "S", "V", "F")
    probs = np.array([[0.3, 0.3, 0.4, 0.0],   # N + S = 0.6 now beats V
                      [0.0, 1.0, 0.0, 0.0],
                      [0.1, 0.8, 0.1, 0.0]], np.float32)
    got = merge_class(probs, classes, np.array([True, True, False]), "S", "N")
    np.testing.assert_allclose(got, [[0.6, 0, 0.4, 0], [1, 0, 0, 0], [0.1, 0.8, 0.1, 0]], rtol=1e-6)
    assert probs[1, 1] == 1.0  # the input is not modified
    np.testing.assert_array_equal(merge_class(probs, ("N", "V", "F", "Q"), np.ones(3, bool)), probs)


@pytest.mark.realdata
def test_scoring_reports_irregular_rhythm_and_never_calls_s_there(tiny_bundle_path: Path, tmp_path: Path,
                                                                  demo_dir: Path) -> None:
    from ecg.io import load_record
    from ecg.scoring.score import score_record
    from ecg.scoring.summary import holter_summary

    b = load_bundle(tiny_bundle_path)
    rec = load_record("232", demo_dir)  # sinus bradycardia with many APCs and long pauses
    b.irregular_rhythm_threshold = None
    plain = score_record(rec, b, peaks="reference", summary=False).beats
    assert not plain["irregular_rhythm"].any()
    # A threshold that every beat exceeds: no S call survives, other classes are unchanged.
    b.irregular_rhythm_threshold = 0.0
    gated = score_record(rec, b, peaks="reference").beats
    assert gated["irregular_rhythm"].all() and (gated["pred_class"] != "S").all()
    assert (gated["prob_S"] == 0).all()
    # V and F probabilities are untouched; N takes the S probability.
    for c in ("V", "F"):
        np.testing.assert_array_equal(gated[f"prob_{c}"], plain[f"prob_{c}"])
    np.testing.assert_allclose(gated["prob_N"], plain["prob_N"] + plain["prob_S"], rtol=1e-5)
    np.testing.assert_allclose(gated["rr_irregularity"], plain["rr_irregularity"])
    summ = holter_summary(gated, rec.fs, rec.duration_s)
    assert summ["beats"]["irregular_rhythm"]["beats"] == len(gated)
    assert summ["beats"]["irregular_rhythm"]["pct"] == 100.0
    assert "irregular_rhythm" not in holter_summary(gated.drop(columns=["irregular_rhythm"]), rec.fs,
                                                    rec.duration_s)["beats"]


def test_pdf_summary_shows_irregular_rhythm() -> None:
    from ecg.export.pdf_report import summary_rows
    from ecg.io.records import Record

    rec = Record(name="x", signal=np.zeros((3600, 1), np.float32), fs=360.0, lead_names=("MLII",), units=("mV",))
    beats = pd.DataFrame({"sample": [360, 720], "time_s": [1.0, 2.0], "pred_class": ["N", "N"],
                          "rr_prev_s": [np.nan, 1.0], "rr_next_s": [1.0, np.nan], "flagged": [False, False],
                          "flag_reason": ["", ""], "anomaly_score": [0.1, 0.1]})
    rows = summary_rows(rec, beats, {"beats": {"total": 2, "irregular_rhythm": {"beats": 1, "pct": 50.0}}})
    assert ["Irregular rhythm (AF-like)", "1 beats (50.0%)"] in rows["beats"]
