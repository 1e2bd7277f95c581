"""Beat segmentation, RR features, labels and the AAMI mapping."""

from __future__ import annotations

import numpy as np
import pytest

import ecg
from ecg.errors import SignalError
from ecg.labels import AAMI_CLASSES, SYMBOL_TO_AAMI, class_index, symbol_to_aami
from ecg.processing.pipeline import BeatConfig, beats_from_signal, choose_lead
from ecg.processing.segmentation import RR_FEATURES, BeatWindow, reference_labels, resample, rr_features, segment_beats
from tests.conftest import synthetic_ecg


def test_aami_mapping_de_chazal() -> None:
    assert ecg.AAMI_CLASSES == ("N", "S", "V", "F", "Q")
    expected = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
    for cls, syms in expected.items():
        for s in syms:
            assert ecg.symbol_to_aami(s) == cls
    for non_beat in ["+", "~", '"', "!", "x", "|", "[", "]", "=", "p", "t"]:
        assert symbol_to_aami(non_beat) is None
    assert len(SYMBOL_TO_AAMI) == 15
    assert class_index(["V", "N", "Q"]).tolist() == [2, 0, 4]
    with pytest.raises(ValueError):
        class_index(["X"])
    assert AAMI_CLASSES.index("F") == 3


def test_rr_features_by_hand() -> None:
    fs = 100.0
    peaks = np.array([0, 100, 180, 300, 400])  # RR: 1.0, 0.8, 1.2, 1.0 s
    f = rr_features(peaks, fs, local_beats=2)
    col = {n: f[:, i] for i, n in enumerate(RR_FEATURES)}
    np.testing.assert_allclose(col["rr_prev_s"], [1.0, 1.0, 0.8, 1.2, 1.0])
    np.testing.assert_allclose(col["rr_next_s"], [1.0, 0.8, 1.2, 1.0, 1.0])
    np.testing.assert_allclose(col["rr_local_s"], [1.0, 1.0, 0.9, 1.0, 1.1], rtol=1e-6)
    np.testing.assert_allclose(col["rr_record_s"], 1.0)
    np.testing.assert_allclose(col["rr_prev_local"], col["rr_prev_s"] / col["rr_local_s"], rtol=1e-6)
    np.testing.assert_allclose(col["rr_next_prev"], [1.0, 0.8, 1.5, 1.0 / 1.2, 1.0], rtol=1e-6)
    # local CV over the last 2 intervals: std/mean of (1.0, 0.8) = 0.1/0.9, of (0.8, 1.2) = 0.2/1.0
    np.testing.assert_allclose(col["rr_local_cv"], [0.0, 0.0, 0.1 / 0.9, 0.2, 0.1 / 1.1], rtol=1e-5, atol=1e-6)
    assert f.dtype == np.float32


def test_rr_irregularity_by_hand_and_by_rhythm() -> None:
    from ecg.processing.segmentation import rr_irregularity

    # Window 3, lag 1 only: |dRR| = (0, 0, 0, 0.2, 0.2, 0), the first copied from the second;
    # running medians over 3 (edge-padded) divided by the running median RR (all 1.0).
    rr = np.array([1.0, 1.0, 1.0, 0.8, 1.0, 1.0])
    d_med = np.array([0.0, 0.0, 0.0, 0.2, 0.2, 0.0])
    rr_med = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(rr_irregularity(rr, window=3, max_lag=1), d_med / rr_med)

    rng = np.random.default_rng(0)
    sinus = 0.8 + 0.01 * rng.standard_normal(300)
    pacs = sinus.copy()
    pacs[::12], pacs[1::12] = 0.5, 1.05  # an atrial premature beat every 12 beats
    bigeminy = np.tile([0.5, 1.05], 150) + 0.01 * rng.standard_normal(300)
    trigeminy = np.tile([0.8, 0.5, 1.05], 100)
    af = rng.uniform(0.4, 1.2, 300)
    ectopy = [np.median(rr_irregularity(x)) for x in (sinus, pacs, bigeminy, trigeminy)]
    assert max(ectopy) < 0.05 < 0.15 < np.median(rr_irregularity(af))
    assert rr_irregularity(np.zeros(0)).shape == (0,)
    np.testing.assert_array_equal(rr_irregularity(np.array([0.8])), [0.0])
    # It is a column of rr_features, from the previous-RR column.
    peaks = np.concatenate(([0], np.cumsum(np.round(af * 100)))).astype(np.int64)
    f = rr_features(peaks, 100.0)
    np.testing.assert_allclose(
        f[:, RR_FEATURES.index("rr_irregularity")],
        rr_irregularity(f[:, RR_FEATURES.index("rr_prev_s")].astype(np.float64)),
        rtol=1e-5,
    )


def test_segment_beats_window_and_drops() -> None:
    fs = 360.0
    x, peaks = synthetic_ecg(fs, duration_s=20.0)
    peaks = np.concatenate(([20], peaks, [x.size - 10]))  # two beats too close to the edges
    win = BeatWindow(pre_s=0.25, post_s=0.45, fs=100.0)
    b = segment_beats(x, fs, peaks, win)
    assert b.waves.shape == (peaks.size - 2, 70) and b.waves.dtype == np.float32
    assert b.dropped == {"edge": 2, "gap": 0}
    assert not b.kept[0] and not b.kept[-1] and b.kept[1:-1].all()
    # The R peak sits at index `pre` of every window.
    assert (np.argmax(b.waves, axis=1) == win.pre).mean() > 0.95
    assert b.rr.shape == (len(b), len(RR_FEATURES))


def test_segment_beats_drops_gaps() -> None:
    fs = 360.0
    x, peaks = synthetic_ecg(fs, duration_s=20.0)
    x[int(5 * fs) : int(7 * fs)] = np.nan
    b = segment_beats(x, fs, peaks)
    in_gap = (peaks > 5 * fs - 0.45 * fs) & (peaks < 7 * fs + 0.25 * fs)
    assert b.dropped["gap"] == int(in_gap.sum()) > 0
    assert not np.isnan(b.waves).any()


def test_segment_beats_multilead_and_validation() -> None:
    fs = 250.0
    x, peaks = synthetic_ecg(fs, duration_s=10.0)
    b = segment_beats(np.stack([x, -x], axis=1), fs, peaks[1:-1])
    assert b.waves.shape[1:] == (70, 2)
    np.testing.assert_allclose(b.waves[..., 0], -b.waves[..., 1], atol=1e-5)
    with pytest.raises(SignalError):
        segment_beats(x, fs, peaks[::-1])


def test_resample_keeps_gaps() -> None:
    x = np.sin(np.linspace(0, 30, 3600)).astype(np.float32)
    x[1000:1400] = np.nan
    y = resample(x, 360.0, 100.0)
    assert y.shape == (1000,)
    assert np.isnan(y[290:380]).all() and not np.isnan(y[:270]).any()


def test_reference_labels() -> None:
    fs = 360.0
    _, peaks = synthetic_ecg(fs, duration_s=10.0, noise_mv=0.0, wander_mv=0.0)
    ref_sym = np.array(["N"] * peaks.size, dtype=object)
    ref_sym[3] = "V"
    det = np.concatenate((peaks[:5] + 20, [peaks[5] + 200], peaks[6:]))  # one far off
    lab = reference_labels(peaks, ref_sym, det, fs)
    assert lab[3] == "V" and lab[5] == "" and (lab[6:] == "N").all()


def test_choose_lead() -> None:
    assert choose_lead(("V5", "MLII")) == 1
    assert choose_lead(("I", "II", "III")) == 1
    assert choose_lead(("V1", "V2")) == 0
    assert choose_lead(("V1", "V2"), "v2") == 1
    with pytest.raises(ValueError):
        choose_lead(("V1",), "II")


@pytest.mark.realdata
def test_beats_from_reference_annotations(data_dir) -> None:
    rec = ecg.load_record("119", data_dir)
    beats_ann = rec.annotations.beats()
    b = beats_from_signal(rec.lead("MLII"), rec.fs, beats_ann.sample, BeatConfig())
    assert len(b) + sum(b.dropped.values()) == len(beats_ann)
    labels = np.array([symbol_to_aami(s) for s in beats_ann.symbol[b.kept]])
    # Record 119: ventricular bigeminy; V beats have larger windows' energy than N beats.
    e = (b.waves**2).sum(axis=1)
    assert np.median(e[labels == "V"]) > 1.5 * np.median(e[labels == "N"])
