"""Tests of ecg.processing.peaks.detect_r_peaks."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from ecg.errors import SignalError
from ecg.evaluate.matching import detection_stats, flutter_intervals
from ecg.io.records import load_record
from ecg.processing.peaks import METHODS, detect_r_peaks

REPO = Path(__file__).resolve().parents[1]
SHARED_MITDB = REPO.parent / "shared" / "data" / "mitdb"


# ----------------------------------------------------------------------------- synthetic


def synthetic_ecg(fs: float, duration_s: float = 40.0, seed: int = 0, polarity: float = 1.0):
    """ECG-like signal: narrow Gaussian QRS (1.2 mV), wide T wave, small P wave, 0.25 Hz
    baseline wander (0.6 mV) and white noise (0.02 mV). Returns (signal, true R samples)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * fs)) / fs
    rr = rng.uniform(0.55, 1.3, size=int(duration_s / 0.5))
    beats_t = 0.7 + np.cumsum(np.concatenate(([0.0], rr)))
    beats_t = beats_t[beats_t < duration_s - 0.7]
    x = np.zeros_like(t)
    for b in beats_t:
        x += polarity * 1.2 * np.exp(-0.5 * ((t - b) / 0.012) ** 2)  # QRS
        x += 0.30 * np.exp(-0.5 * ((t - b - 0.28) / 0.045) ** 2)  # T
        x += 0.12 * np.exp(-0.5 * ((t - b + 0.17) / 0.025) ** 2)  # P
    x += 0.6 * np.sin(2 * np.pi * 0.25 * t + 1.0) + rng.normal(0, 0.02, t.size)
    return x.astype(np.float32), np.round(beats_t * fs).astype(np.int64)


def assert_matches(found: np.ndarray, truth: np.ndarray, fs: float, tol_s: float = 0.010) -> None:
    tol = max(tol_s * fs, 1.5)
    assert found.size == truth.size, f"{found.size} peaks found, {truth.size} expected"
    assert np.all(np.abs(found - truth) <= tol), np.abs(found - truth).max() / fs


@pytest.mark.parametrize("fs", [100.0, 250.0, 360.0, 500.0, 1000.0])
def test_synthetic_every_peak_found_no_extras(fs):
    x, truth = synthetic_ecg(fs)
    assert_matches(detect_r_peaks(x, fs), truth, fs)


@pytest.mark.parametrize("fs", [128.0, 360.0])
def test_negative_qrs_snapped_to_negative_extremum(fs):
    x, truth = synthetic_ecg(fs, seed=3, polarity=-1.0)
    peaks = detect_r_peaks(x, fs)
    assert_matches(peaks, truth, fs)
    # centred on the (negative) R deflection, not the T wave
    assert np.all(x[peaks] < x[np.clip(peaks + int(0.28 * fs), 0, x.size - 1)])


def test_pantompkins_method_on_synthetic():
    fs = 360.0
    x, truth = synthetic_ecg(fs, seed=1)
    assert_matches(detect_r_peaks(x, fs, method="pantompkins"), truth, fs)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_output_int64_sorted_unique(method):
    x, _ = synthetic_ecg(250.0, seed=2)
    peaks = detect_r_peaks(x, 250.0, method=method)
    assert peaks.dtype == np.int64
    assert peaks.ndim == 1 and peaks.size > 10
    assert np.all(np.diff(peaks) > 0)
    assert peaks.min() >= 0 and peaks.max() < x.size


def test_accepts_float64_and_integer_input_same_result():
    fs = 250.0
    x, _ = synthetic_ecg(fs, seed=4)
    a = detect_r_peaks(x.astype(np.float64), fs)
    b = detect_r_peaks(np.round(x * 200).astype(np.int16), fs)  # ADC units, 200/mV
    assert a.size > 0 and np.array_equal(a, b)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("fs", [99.0, 1001.0, 0.0, -360.0, float("nan"), float("inf")])
def test_bad_fs_raises(fs):
    with pytest.raises(SignalError, match="sampling rate"):
        detect_r_peaks(np.zeros(5000), fs)


def test_not_1d_raises():
    with pytest.raises(SignalError, match="1-D"):
        detect_r_peaks(np.zeros((5000, 2)), 360.0)


def test_all_nan_raises():
    with pytest.raises(SignalError, match="NaN"):
        detect_r_peaks(np.full(5000, np.nan), 360.0)


def test_unknown_method_lists_valid_ones():
    with pytest.raises(ValueError, match="pantompkins") as info:
        detect_r_peaks(np.zeros(5000), 360.0, method="nope")
    assert "default" in str(info.value)


def test_short_signal_returns_empty():
    x, _ = synthetic_ecg(360.0, duration_s=10.0)
    out = detect_r_peaks(x[: int(1.9 * 360)], 360.0)
    assert out.dtype == np.int64 and out.size == 0
    # ... while the same signal, long enough, gives peaks
    assert detect_r_peaks(x, 360.0).size > 5


@pytest.mark.parametrize("level", [0.0, 3.7])
def test_flat_line_gives_no_peaks(level):
    for method in METHODS:
        assert detect_r_peaks(np.full(20_000, level), 360.0, method=method).size == 0


def test_nan_gap_no_peaks_inside_and_none_lost_outside():
    fs = 360.0
    x, truth = synthetic_ecg(fs, duration_s=60.0, seed=5)
    lo, hi = int(20 * fs), int(31 * fs)
    x = x.copy()
    x[lo:hi] = np.nan
    peaks = detect_r_peaks(x, fs)
    assert not np.any((peaks >= lo) & (peaks < hi))
    # beats at least 0.2 s from the gap's edges are all found, nothing extra appears
    outside = truth[(truth < lo - 0.2 * fs) | (truth >= hi + 0.2 * fs)]
    found = peaks[(peaks < lo - 0.2 * fs) | (peaks >= hi + 0.2 * fs)]
    assert_matches(found, outside, fs)


def test_nan_gap_does_not_disturb_the_rest():
    fs = 250.0
    x, _ = synthetic_ecg(fs, duration_s=60.0, seed=6)
    clean = detect_r_peaks(x, fs)
    y = x.copy()
    y[int(30 * fs) : int(30.5 * fs)] = np.nan
    gapped = detect_r_peaks(y, fs)
    far = lambda p: p[np.abs(p - 30.25 * fs) > 2 * fs]  # noqa: E731
    assert np.array_equal(far(clean), far(gapped))


# ----------------------------------------------------------------------------- real data


def _data_dir() -> Path:
    return SHARED_MITDB if SHARED_MITDB.is_dir() else REPO / "data"


@pytest.fixture(scope="module")
def mitdb():
    d = _data_dir()
    cache = {}

    def get(name: str):
        if not (d / f"{name}.hea").is_file():
            pytest.skip(f"record {name} not available in {d}")
        if name not in cache:
            cache[name] = load_record(name, d)
        return cache[name]

    return get


def _stats(rec, peaks, fs, scale: float = 1.0):
    ann = rec.annotations
    beats = ann.beats()
    ref = np.round(beats.sample * scale).astype(np.int64)
    fl = np.round(flutter_intervals(ann.sample, ann.symbol, rec.n_samples) * scale).astype(np.int64)
    return detection_stats(ref, peaks, fs, exclude=fl)


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["100", "208", "232"])
def test_mitdb_records_se_ppv(mitdb, name):
    rec = mitdb(name)
    st = _stats(rec, detect_r_peaks(rec.lead(0), rec.fs), rec.fs)
    assert st.se >= 0.995 and st.ppv >= 0.995, st


@pytest.mark.realdata
@pytest.mark.parametrize("fs_new", [250, 1000])
def test_mitdb_resampled(mitdb, fs_new):
    rec = mitdb("208")
    fr = Fraction(fs_new, int(rec.fs))
    x = resample_poly(rec.lead(0).astype(np.float64), fr.numerator, fr.denominator)
    peaks = detect_r_peaks(x, float(fs_new))
    st = _stats(rec, peaks, float(fs_new), scale=fs_new / rec.fs)
    assert st.se >= 0.995 and st.ppv >= 0.995, st


@pytest.mark.realdata
def test_mitdb_peaks_centred_on_r(mitdb):
    rec = mitdb("100")
    peaks = detect_r_peaks(rec.lead(0), rec.fs)
    ref = rec.annotations.beats().sample
    idx = np.clip(np.searchsorted(peaks, ref), 1, peaks.size - 1)
    near = np.where(np.abs(peaks[idx] - ref) < np.abs(peaks[idx - 1] - ref), peaks[idx], peaks[idx - 1])
    off_ms = np.abs(near - ref) / rec.fs * 1000
    assert np.median(off_ms) <= 10.0


def test_recovers_after_amplitude_drop():
    """A loud start (electrode artefact, 20x the QRS) must not leave the threshold stuck."""
    fs = 360.0
    x, truth = synthetic_ecg(fs, duration_s=90.0, seed=7)
    x = x.copy()
    x[: int(8 * fs)] *= 20.0
    peaks = detect_r_peaks(x, fs)
    late = truth[truth > 30 * fs]
    assert_matches(peaks[peaks > 30 * fs - 0.05 * fs], late, fs)
