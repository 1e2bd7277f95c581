"""Filters: known attenuation on synthetic sinusoids, dtype/shape, NaN gaps and flat segments."""

from __future__ import annotations

import numpy as np
import pytest

from ecg.errors import SignalError
from ecg.processing.filters import bandpass, ecg_clean, highpass, notch, remove_baseline
from ecg.processing.quality import flat_mask, gap_mask, runs

FS = 360.0


def tone(freq: float, seconds: float = 20.0, fs: float = FS, amp: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * fs)) / fs
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def gain(y: np.ndarray, x: np.ndarray) -> float:
    core = slice(len(x) // 4, 3 * len(x) // 4)  # away from the edges
    return float(np.std(y[core]) / np.std(x[core]))


@pytest.mark.parametrize("freq,expected", [(10.0, 1.0), (20.0, 1.0), (0.05, 0.0), (100.0, 0.0)])
def test_bandpass_passes_band_and_stops_outside(freq: float, expected: float) -> None:
    x = tone(freq, seconds=60 if freq < 1 else 20)
    g = gain(bandpass(x, FS, 0.5, 40.0), x)
    assert g == pytest.approx(expected, abs=0.02)


@pytest.mark.parametrize("freq", [0.3, 0.5, 1.0, 30.0, 40.0, 50.0, 60.0])
def test_bandpass_matches_designed_response(freq: float) -> None:
    """Forward-backward filtering squares the magnitude response: measured gain == |H(f)|^2."""
    from scipy import signal as sps

    sos = sps.butter(3, [0.5, 40.0], btype="bandpass", fs=FS, output="sos")
    _, h = sps.sosfreqz(sos, worN=[freq], fs=FS)
    x = tone(freq, seconds=120 if freq < 1 else 20)
    assert gain(bandpass(x, FS, 0.5, 40.0), x) == pytest.approx(abs(h[0]) ** 2, abs=0.02)


def test_bandpass_minus_6db_at_cutoff() -> None:
    # Forward-backward Butterworth: |H|^2 at the cut-off, i.e. 0.5 (-6 dB).
    x = tone(40.0)
    assert gain(bandpass(x, FS, 0.5, 40.0), x) == pytest.approx(0.5, abs=0.03)


def test_notch_removes_powerline_only() -> None:
    mains = tone(60.0)
    assert gain(notch(mains, FS, 60.0), mains) < 0.02
    ecg_band = tone(15.0)
    assert gain(notch(ecg_band, FS, 60.0), ecg_band) == pytest.approx(1.0, abs=0.01)
    assert gain(notch(tone(50.0), FS, 50.0), tone(50.0)) < 0.02


@pytest.mark.parametrize("method", ["butterworth", "median"])
def test_remove_baseline_removes_wander(method: str) -> None:
    qrs_like = tone(8.0, 30.0)
    wander = tone(0.15, 30.0, amp=2.0)
    y = remove_baseline(qrs_like + wander, FS, method=method)
    core = slice(len(y) // 4, 3 * len(y) // 4)
    assert np.abs(y[core] - qrs_like[core]).mean() < 0.2 * np.abs(qrs_like[core]).mean() + 0.05
    assert abs(float(np.mean(y[core]))) < 0.05


def test_float32_in_float32_out_multilead() -> None:
    x = np.stack([tone(10.0), tone(0.1)], axis=1)
    y = ecg_clean(x, FS)
    assert y.dtype == np.float32 and y.shape == x.shape
    y1 = ecg_clean(x[:, 0], FS)
    assert y1.ndim == 1
    np.testing.assert_allclose(y1, y[:, 0], atol=1e-6)


def test_zero_phase() -> None:
    x = tone(5.0)
    y = bandpass(x, FS, 0.5, 40.0)
    lag = np.argmax(np.correlate(y[2000:4000], x[2000:4000], "full")) - (2000 - 1)
    assert lag == 0


def test_nan_gap_is_not_spread() -> None:
    x = tone(10.0)
    x[3000:3500] = np.nan
    y = bandpass(x, FS)
    assert np.isnan(y[3000:3500]).all()
    assert not np.isnan(y[:3000]).any() and not np.isnan(y[3500:]).any()
    # Signal right next to the gap is still a clean 10 Hz tone, not NaN-contaminated ringing.
    assert np.abs(y[2000:2900]).max() < 1.05


def test_flat_segment_is_a_gap_and_comes_out_zero() -> None:
    x = tone(10.0)
    x[3000:4000] = 0.7  # lead off / saturation
    m = gap_mask(x, FS)
    assert m[3000:4000].all() and not m[:2990].any() and not m[4010:].any()
    y = bandpass(x, FS)
    assert np.all(y[3000:4000] == 0.0)
    assert np.abs(y[1000:2900]).max() < 1.05


def test_flat_mask_ignores_short_quantisation_plateaus() -> None:
    x = np.round(tone(1.0) * 200) / 200  # 11-bit-like quantisation gives short repeats
    assert not flat_mask(x, FS).any()
    assert runs(np.array([0, 1, 1, 0, 1], bool)).tolist() == [[1, 3], [4, 5]]


def test_bad_arguments() -> None:
    with pytest.raises(SignalError):
        bandpass(tone(5.0), 0.0)
    with pytest.raises(SignalError):
        bandpass(np.zeros((2, 2, 2)), FS)
    with pytest.raises(SignalError):
        bandpass(tone(5.0), FS, 50.0, 40.0)
    with pytest.raises(ValueError):
        remove_baseline(tone(5.0), FS, method="wavelet")
    with pytest.raises(ValueError):
        ecg_clean(tone(5.0), FS, method="nope")


def test_highpass_cutoff_attenuation() -> None:
    x = tone(0.5, 60.0)
    assert gain(highpass(x, FS, 0.5), x) == pytest.approx(0.5, abs=0.05)
