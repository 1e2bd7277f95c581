"""score_record: the one scoring path, against the reference annotations of a demo record."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

import ecg
from ecg.errors import RecordError
from ecg.io.records import Record
from ecg.labels import SYMBOL_TO_AAMI
from ecg.scoring.schema import beat_columns, validate_beat_table
from ecg.scoring.score import reflag, score_record


@pytest.fixture(scope="module")
def rec208(demo_dir):
    return ecg.load_record("208", demo_dir)


@pytest.fixture(scope="module")
def scored208(rec208, tiny_bundle):
    return score_record(rec208, tiny_bundle)


def test_beat_table_against_reference(scored208, rec208) -> None:
    df = scored208.beats
    validate_beat_table(df)
    assert list(df.columns) == beat_columns()
    ref = rec208.annotations.beats()
    matched = df[df["ref_symbol"] != ""]
    # The detector finds nearly every reference beat; matched labels are the reference's own.
    assert len(matched) + len(scored208.missed_reference) == len(ref)
    assert len(matched) / len(ref) > 0.99
    ref_lookup = dict(zip(ref.sample.tolist(), ref.symbol.tolist()))
    nearest = np.searchsorted(ref.sample, matched["sample"].to_numpy())
    for s, sym, i in zip(matched["sample"], matched["ref_symbol"], nearest):
        cands = [ref.sample[j] for j in (i - 1, i) if 0 <= j < ref.sample.size]
        best = min(cands, key=lambda c: abs(c - s))
        assert abs(best - s) <= 0.15 * rec208.fs
        assert ref_lookup[best] == sym
    assert (matched["ref_class"] == [SYMBOL_TO_AAMI[s] for s in matched["ref_symbol"]]).all()
    np.testing.assert_allclose(df["time_s"], df["sample"] / rec208.fs)
    # RR to the previous detected beat: the table's neighbour unless a beat was dropped (edge, gap)
    same = np.isclose(df["rr_prev_s"].to_numpy()[1:], np.diff(df["sample"]) / rec208.fs, rtol=1e-5)
    assert same.mean() > 0.99
    readable = df["quality"] != "unreadable"
    probs = df.loc[readable, [f"prob_{c}" for c in ("N", "S", "V", "F")]].to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert (df.loc[readable, "prob_Q"] == 0).all()
    assert df.loc[~readable, "prob_N"].isna().all() and (df.loc[~readable, "pred_class"] == "Q").all()
    assert set(df["lead"]) <= {"MLII+V1", "MLII", "V1", ""} and (df["lead"] == "MLII+V1").mean() > 0.95
    assert set(df["quality"]) <= {"good", "noisy", "unreadable"}
    score = df["anomaly_score"].to_numpy()
    assert np.nanmin(score) >= 0.0 and np.nanmax(score) <= 100.0  # bounded
    thr = scored208.threshold
    expect_flag = readable & ((df["pred_class"] != "N") | (df["anomaly_score"] >= thr))
    assert (df["flagged"] == expect_flag).all()
    assert set(df["flag_reason"]) <= {"", "class", "anomaly", "class+anomaly"}
    assert scored208.summary.beats.total == len(df)
    assert (df.loc[df["af"], "pred_class"] != "S").all()
    assert scored208.model_waves.shape == (len(df), 70)


def test_reference_mode_uses_annotated_positions(rec208, tiny_bundle) -> None:
    sr = score_record(rec208, tiny_bundle, peaks="reference", summary=False)
    ref = rec208.annotations.beats()
    assert len(sr.beats) == len(ref) - sum(sr.dropped.values())
    assert (sr.beats["ref_symbol"] != "").all()


def test_other_sampling_rate_is_resampled(rec208, tiny_bundle) -> None:
    seg = rec208.signal[: 360 * 300]
    x250 = sps.resample_poly(seg, 25, 36, axis=0).astype(np.float32)
    r360 = Record("208a", seg, 360.0, rec208.lead_names, rec208.units)
    r250 = Record("208b", x250, 250.0, rec208.lead_names, rec208.units)
    a = score_record(r360, tiny_bundle, summary=False).beats
    b = score_record(r250, tiny_bundle, summary=False).beats
    assert abs(len(a) - len(b)) <= 3
    # Same beats at the same times, and mostly the same classes.
    common = min(len(a), len(b))
    assert np.median(np.abs(a["time_s"].to_numpy()[:common] - b["time_s"].to_numpy()[:common])) < 0.02
    assert (a["pred_class"].to_numpy()[:common] == b["pred_class"].to_numpy()[:common]).mean() > 0.9


def test_long_record_is_chunked_consistently(rec208, tiny_bundle) -> None:
    r = Record("208c", rec208.signal[: 360 * 600], 360.0, rec208.lead_names, rec208.units)
    whole = score_record(r, tiny_bundle, chunk_s=1800, summary=False).beats
    chunked = score_record(r, tiny_bundle, chunk_s=120, summary=False).beats
    assert abs(len(whole) - len(chunked)) <= 2
    assert (whole["pred_class"].to_numpy()[:100] == chunked["pred_class"].to_numpy()[:100]).mean() > 0.9


def test_gaps_nans_and_bad_records(rec208, tiny_bundle) -> None:
    x = rec208.signal[: 360 * 120].copy()
    x[360 * 30 : 360 * 40, 0] = np.nan
    x[360 * 60 : 360 * 70, 0] = 0.25
    sr = score_record(Record("gappy", x, 360.0, rec208.lead_names, rec208.units), tiny_bundle, lead="MLII")
    t = sr.beats["time_s"].to_numpy()
    assert not ((t > 30.3) & (t < 39.7)).any() and not ((t > 60.3) & (t < 69.7)).any()
    assert len(sr.beats) > 100
    assert sr.analysable_s == pytest.approx(100.0, abs=0.5)

    with pytest.raises(RecordError, match="no usable signal"):
        score_record(Record("nan", np.full((3600, 1), np.nan, np.float32), 360.0, ("II",), ("mV",)), tiny_bundle)
    with pytest.raises(RecordError, match="no usable signal"):
        score_record(Record("flat", np.zeros((36000, 1), np.float32), 360.0, ("II",), ("mV",)), tiny_bundle)
    with pytest.raises(RecordError, match="too short"):
        score_record(Record("short", rec208.signal[:300], 360.0, rec208.lead_names, rec208.units), tiny_bundle)
    with pytest.raises(RecordError, match="sampling rate 50 Hz"):
        score_record(Record("slow", rec208.signal[:5000], 50.0, rec208.lead_names, rec208.units), tiny_bundle)
    with pytest.raises(RecordError, match="no lead named"):
        score_record(rec208, tiny_bundle, lead="aVF")


def test_reflag_follows_threshold(scored208) -> None:
    df = scored208.beats
    low = reflag(df, 0.01)
    high = reflag(df, 1e9)
    assert low["flagged"].sum() >= df["flagged"].sum() >= high["flagged"].sum()
    assert (high["flagged"] == (high["pred_class"] != "N")).all()
    assert (low["flag_reason"].str.contains("anomaly")).all()


@pytest.mark.parametrize("kind", ["white", "brown", "emg"])
def test_pure_noise_gives_no_classified_beats_and_a_warning(kind: str) -> None:
    """30 minutes of noise and nothing else: no beat classified, no ectopy, no pause, a warning
    naming the reason; with the shipped bundle, as a user would run it."""
    from ecg.datasets.synthetic import noise_record

    sr = score_record(noise_record(kind, seconds=1800.0))
    s = sr.summary
    assert s.ectopy.V.total == s.ectopy.S.total == s.ectopy.F.total == 0
    assert not sr.beats["pred_class"].isin(["S", "V", "F"]).any()
    assert s.pauses.count == 0 and s.af.beats == 0 and s.heart_rate.mean_bpm is None
    assert s.signal_quality.analysable_pct < 1.0
    assert s.warnings and "No analysable ECG" in s.warnings[0]
    assert sr.n_flagged == 0


def test_lead_off_halfway_is_not_analysable_and_has_no_pause(rec208) -> None:
    x = rec208.signal[: 360 * 300].copy()
    x[360 * 100 : 360 * 200, :] = 0.0  # both leads off for 100 s
    sr = score_record(Record("off", x, 360.0, rec208.lead_names, rec208.units))
    s = sr.summary
    assert s.signal_quality.unreadable_s == pytest.approx(100.0, abs=4.0)
    assert any(g.start_s <= 101 and g.end_s >= 199 for g in s.signal_quality.segments)
    assert all(not (95 < p.time_s < 200) for p in s.pauses.listed)
    t = sr.beats["time_s"].to_numpy()
    assert not ((t > 101) & (t < 199)).any()


@pytest.mark.slow
def test_anomaly_score_is_bounded_on_real_records(data_dir) -> None:
    for name in ("208", "232"):
        sr = score_record(name, data_dir=data_dir, summary=False)
        score = sr.beats["anomaly_score"].to_numpy()
        finite = score[np.isfinite(score)]
        assert finite.size > 1000 and finite.min() >= 0.0 and finite.max() <= 100.0
        assert np.isnan(score[~np.isfinite(score)]).all()  # only "absent" (NaN), never inf
        assert sr.threshold == pytest.approx(99.0, abs=0.01)


def test_nn_and_family_columns_and_hrv(scored208, rec208) -> None:
    """The ``nn`` column marks N-to-N intervals in readable signal (never touching a non-N beat),
    the summary's HRV is recomputed from the table's ``nn`` rows alone, and every readable beat
    has a family, the largest first."""
    from ecg.processing.hrv import hrv_from_beats

    df = scored208.beats
    nn = df["nn"].to_numpy(bool)
    cls = df["pred_class"].to_numpy()
    assert not nn[0] and nn.sum() > 0
    assert (cls[nn] == "N").all() and (cls[np.flatnonzero(nn) - 1] == "N").all()
    assert (df["quality"].to_numpy()[nn] != "unreadable").all() and not df["af"].to_numpy()[nn].any()
    hrv = scored208.summary.hrv
    again = hrv_from_beats(df, rec208.fs, nn=nn)
    assert hrv.n_intervals == again.n_intervals == int(nn.sum())
    assert hrv.sdnn_ms == pytest.approx(again.sdnn_ms, abs=1e-3) and hrv.rmssd_ms == pytest.approx(
        again.rmssd_ms, abs=1e-3
    )
    assert hrv.hourly and sum(h.n_intervals for h in hrv.hourly) == hrv.n_intervals
    fam = df["family"].to_numpy()
    readable = df["quality"].to_numpy() != "unreadable"
    assert (fam[readable] >= -1).all() and (fam[~readable] == -1).all()
    counts = np.bincount(fam[fam >= 0])
    assert counts[0] == counts.max()
    assert scored208.summary.to_dict()["hrv"]["sdnn_ms"] == hrv.sdnn_ms
