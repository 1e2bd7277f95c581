"""Per-lead signal quality: synthetic noise segments, pauses, pure noise, real clean records,
and the SignalQuality helpers on hand-made label arrays."""

from __future__ import annotations

import numpy as np
import pytest

from ecg.errors import SignalError
from ecg.processing.quality import GOOD, NOISY, QUALITY_LABELS, UNREADABLE, SignalQuality, assess_quality, clip_mask
from tests.conftest import synthetic_ecg

FS = 360.0


def _ecg(seconds: float = 60.0, seed: int = 0) -> np.ndarray:
    x, _ = synthetic_ecg(FS, duration_s=seconds, seed=seed)
    return x


def _windows(q: SignalQuality, t0: float, t1: float) -> slice:
    """Windows wholly inside [t0, t1) seconds."""
    w = q.window / q.fs
    return slice(int(np.ceil(t0 / w)), int(np.floor(t1 / w)))


def test_codes_and_labels() -> None:
    assert QUALITY_LABELS == ("good", "noisy", "unreadable")
    assert (GOOD, NOISY, UNREADABLE) == (0, 1, 2)


def test_clean_synthetic_ecg_is_readable() -> None:
    q = assess_quality(_ecg(), FS)
    assert q.labels.dtype == np.int8 and q.labels.shape == (30, 1)
    assert (q.labels != UNREADABLE).all()
    assert q.analysable_s() == pytest.approx(60.0)


@pytest.mark.parametrize("kind", ["white", "flat", "clip", "nan"])
def test_damaged_segment_is_unreadable_and_rest_readable(kind: str) -> None:
    rng = np.random.default_rng(1)
    x = _ecg(90.0).astype(np.float64)
    a, b = int(30 * FS), int(50 * FS)
    if kind == "white":
        x[a:b] += rng.normal(0, 1.5, b - a)
    elif kind == "flat":
        x[a:b] = x[a]
    elif kind == "clip":
        x[a:b] = np.minimum(x[a:b] + 8.0, x.max() + 0.5)  # baseline excursion into saturation
        x = np.minimum(x, x.max())
    else:
        x[a:b] = np.nan
    q = assess_quality(x.astype(np.float32), FS)
    lab = q.labels[:, 0]
    assert (lab[_windows(q, 31, 49)] == UNREADABLE).all()
    assert (lab[_windows(q, 0, 24)] != UNREADABLE).all()
    assert (lab[_windows(q, 56, 90)] != UNREADABLE).all()
    segs = q.unreadable_segments()
    assert len(segs) == 1 and segs[0][0] <= 31 and segs[0][1] >= 49


def test_clip_mask_finds_pinned_rail_only() -> None:
    x = _ecg(20.0).astype(np.float64)
    assert not clip_mask(x, FS).any()  # R peaks reach the maximum for a sample or two only
    x[1000:1200] = x.max()
    m = clip_mask(x, FS)
    assert m[1000:1200].all() and m.sum() == 200


@pytest.mark.parametrize("pause_s", [3.0, 6.0])
def test_pause_stays_readable(pause_s: float) -> None:
    x, r = synthetic_ecg(FS, duration_s=60.0, hr_bpm=60.0, seed=3, wander_mv=0.1)
    x = x.astype(np.float64)
    # a sinus pause: the baseline (and its noise) goes on, the beats stop
    a = int(30.0 * FS)
    b = a + int(pause_s * FS)
    t = np.arange(x.size) / FS
    base = 0.1 * np.sin(2 * np.pi * 0.2 * t) + np.random.default_rng(3).normal(0, 0.02, x.size)
    x[a:b] = base[a:b]
    q = assess_quality(x.astype(np.float32), FS)
    assert (q.labels[:, 0] != UNREADABLE).all()
    assert q.readable_between(np.array([a - 200]), np.array([b + 200]))[0]


@pytest.mark.parametrize("kind", ["white", "brown", "emg"])
def test_pure_noise_is_unreadable(kind: str) -> None:
    from scipy import signal as sps

    rng = np.random.default_rng(7)
    n = int(300 * FS)
    v = rng.standard_normal(n)
    if kind == "brown":
        v = np.cumsum(v)
        v = sps.sosfiltfilt(sps.butter(1, 0.05, "highpass", fs=FS, output="sos"), v)
    elif kind == "emg":
        v = sps.sosfiltfilt(sps.butter(4, [20, 150], "bandpass", fs=FS, output="sos"), v)
    for amp in (0.05, 1.0):
        x = (v / v.std() * amp).astype(np.float32)
        q = assess_quality(x, FS)
        assert (q.labels == UNREADABLE).all(), (kind, amp)
        assert q.analysable_s() == 0.0


def test_two_leads_best_follows_good_lead() -> None:
    x = _ecg(60.0)
    off = np.full_like(x, np.nan)
    off[: int(20 * FS)] = x[: int(20 * FS)]  # lead 1 falls off after 20 s
    q = assess_quality(np.stack([x, off], axis=1), FS, leads=["MLII", "V1"])
    assert q.leads == ("MLII", "V1")
    assert (q.labels[_windows(q, 22, 60), 1] == UNREADABLE).all()
    assert (q.best() == q.labels[:, 0]).all()
    assert q.unreadable_segments() == []
    segs = q.lead_unreadable_segments()
    assert len(segs) == 1 and segs[0][2] == ("V1",) and segs[0][1] == pytest.approx(60.0)
    assert q.readable_mask().all()


def _hand(labels: list[list[int]], window: int = 10, n: int | None = None) -> SignalQuality:
    lab = np.asarray(labels, np.int8)
    return SignalQuality(
        fs=10.0,
        n_samples=n if n is not None else lab.shape[0] * window,
        window=window,
        labels=lab,
        leads=tuple("AB"[: lab.shape[1]]),
        method="hand",
    )


def test_helpers_by_hand() -> None:
    # windows of 10 samples (1 s at 10 Hz); the last window is short (5 samples)
    q = _hand([[0, 2], [2, 2], [1, 2], [2, 0], [2, 2]], n=45)
    assert q.best().tolist() == [0, 2, 1, 0, 2]
    assert q.at(np.array([0, 9, 10, 25, 31, 44])).tolist() == [0, 0, 2, 1, 0, 2]
    assert q.at_lead(np.array([0, 31]), 1).tolist() == [2, 0]
    a = np.array([0, 0, 20, 25, 30, 8])
    b = np.array([9, 10, 39, 35, 40, 8])
    assert q.readable_between(a, b).tolist() == [True, False, True, True, False, True]
    assert q.readable_between(np.array([30]), np.array([39]), lead=0).tolist() == [False]
    m = q.readable_mask()
    assert m.shape == (45,) and m[:10].all() and not m[10:20].any() and m[20:40].all() and not m[40:].any()
    assert q.analysable_s() == pytest.approx(3.0)
    assert q.unreadable_segments() == [(1.0, 2.0, ("A", "B")), (4.0, 4.5, ("A", "B"))]
    assert q.lead_unreadable_segments() == [
        (0.0, 1.0, ("B",)),
        (1.0, 2.0, ("A", "B")),
        (2.0, 3.0, ("B",)),
        (3.0, 4.0, ("A",)),
        (4.0, 4.5, ("A", "B")),
    ]


def test_helpers_merge_runs() -> None:
    q = _hand([[2], [2], [0], [2], [2], [2]])
    assert q.unreadable_segments() == [(0.0, 2.0, ("A",)), (3.0, 6.0, ("A",))]
    assert q.lead_unreadable_segments() == q.unreadable_segments()
    assert q.readable_between(np.array([20, 15]), np.array([29, 25])).tolist() == [True, False]


def test_bad_input() -> None:
    with pytest.raises(ValueError):
        assess_quality(_ecg(10.0), FS, method="nope")
    with pytest.raises(SignalError):
        assess_quality(np.zeros((2, 2, 2)), FS)
    with pytest.raises(ValueError):
        assess_quality(np.zeros((3600, 2)), FS, leads=["a"])


@pytest.mark.parametrize("method", ["default", "ksqi", "bsqi"])
def test_methods_agree_on_flat_and_clean(method: str) -> None:
    x = _ecg(60.0).astype(np.float64)
    x[int(20 * FS) : int(40 * FS)] = 0.0
    q = assess_quality(x.astype(np.float32), FS, method=method)
    assert q.method == method
    assert (q.labels[_windows(q, 21, 39), 0] == UNREADABLE).all()
    assert (q.labels[_windows(q, 0, 15), 0] != UNREADABLE).all()


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["100", "119"])
def test_clean_demo_records_lose_few_beats(name: str, data_dir) -> None:
    import ecg

    rec = ecg.load_record(name, data_dir)
    q = assess_quality(rec.signal, rec.fs, leads=rec.lead_names)
    beats = rec.annotations.beats().sample
    lost = float(np.mean(q.at(beats) == UNREADABLE))
    assert lost < 0.005
