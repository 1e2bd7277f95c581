"""R-peak (QRS) detection on one ECG lead.

:func:`detect_r_peaks` is the entry point. Two algorithms are offered:

``"default"``
    Derivative-envelope detector with median-based adaptive thresholds, RR search-back,
    slope-based T-wave discrimination and a non-causal refractory clean-up. It follows the
    decision rules of Hamilton & Tompkins (1986) and Hamilton (2002) on a Pan & Tompkins
    (1985) style feature, adapted for offline use (zero-phase filters, look-ahead clean-up):

    1. NaN gaps are bridged by linear interpolation (and masked again at the end), so they
       never spread through the filters.
    2. Zero-phase Butterworth band-pass 5-18 Hz (3rd order, SOS), first derivative (mV/s).
    3. Envelope: RMS of the derivative over a centred 120 ms window, i.e. the square root
       of the Pan-Tompkins moving-window integral. Working on an amplitude (not energy)
       scale keeps a tall ectopic beat from hiding small normal beats behind it.
    4. Candidates: envelope peaks at least 250 ms apart (the largest wins). In the 48
       MIT-BIH records no two reference beats outside ventricular flutter are closer
       than 250 ms.
    5. Decision (one pass over the candidates, a few per beat): threshold
       ``NL + 0.3125 (QL - NL)``, ``QL``/``NL`` the medians of the last 8 QRS/noise peak
       heights (Hamilton & Tompkins 1986). A candidate within 360 ms of the previous beat
       whose maximum slope is under half of that beat's is taken as a T wave
       (Pan & Tompkins 1985). When no beat came for 1.5 mean RR intervals the largest
       skipped candidate above half the threshold, at least 360 ms after the last beat, is
       taken (search-back). After long silences (>8 s and >4 RR) with nothing found the QRS
       level is halved, up to four times, so the detector recovers from amplitude drops.
    6. Each detection is moved to the largest absolute deflection of the band-passed signal
       within +-70 ms (either polarity), then detections closer than 250 ms are reduced to
       the one with the larger envelope (removes tall P waves in front of a QRS).

``"pantompkins"``
    The classic Pan & Tompkins (1985) detector: 5-15 Hz band-pass, derivative, squaring,
    150 ms moving-window integration, running signal/noise peak estimates (weights 1/8),
    threshold ``NPKI + 0.25 (SPKI - NPKI)``, search-back at 166 % of the mean RR with half
    the threshold, 200 ms refractory period and the 360 ms T-wave slope test. Offline
    variant: zero-phase filters and a centred integration window, so no delay correction.

Short signals (under 2 s) return an empty array rather than raising: there is not enough
signal to set a threshold, which is not an error of the caller's.

References
----------
- Pan, J., & Tompkins, W. J. (1985). A real-time QRS detection algorithm. IEEE Transactions
  on Biomedical Engineering, 32(3), 230-236.
- Hamilton, P. S., & Tompkins, W. J. (1986). Quantitative investigation of QRS detection
  rules using the MIT/BIH arrhythmia database. IEEE Transactions on Biomedical Engineering,
  33(12), 1157-1165.
- Hamilton, P. (2002). Open source ECG analysis. Computers in Cardiology, 29, 101-104.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage
from scipy import signal as sps

from ecg.errors import SignalError
from ecg.processing.validation import check_fs, check_real

__all__ = ["detect_r_peaks", "METHODS", "FS_MIN", "FS_MAX", "MIN_DURATION_S"]

FS_MIN, FS_MAX = 100.0, 1000.0
#: Signals shorter than this (seconds) give no peaks.
MIN_DURATION_S = 2.0
#: Envelope peaks below this (RMS slope, mV/s) are never beats: a flat or near-flat line.
_ABS_FLOOR = 0.05

#: Parameters of the default method (times in seconds).
_DEFAULT = dict(
    lo=5.0,
    hi=18.0,
    order=3,  # band-pass (Hz) and Butterworth order
    mwi=0.12,  # envelope window
    refr=0.25,  # refractory period / candidate spacing
    thc=0.3125,  # threshold coefficient (Hamilton & Tompkins 1986)
    nbuf=8,  # QRS / noise / RR history length
    sb=1.5,
    sbf=0.5,  # search-back after sb * mean RR, at sbf * threshold
    twin=0.36,
    tslope=0.5,  # T-wave window and slope ratio
    decay_s=8.0,
    decay_rr=4.0,
    max_decay=4,  # recovery from long silences
    snap=0.07,  # half-width of the R-extremum search window
)


@lru_cache(maxsize=64)
def _bandpass_sos(order: int, lo: float, hi: float, fs: float) -> np.ndarray:
    return sps.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")


def _validate(signal: np.ndarray, fs: float) -> tuple[np.ndarray, float, np.ndarray]:
    x = np.asarray(signal)
    if x.ndim != 1:
        raise SignalError(f"signal must be a 1-D array holding one lead, got shape {x.shape}")
    fs_f = check_fs(fs, FS_MIN, FS_MAX)
    check_real(x)
    x = x.astype(np.float64)
    bad = ~np.isfinite(x)
    if x.size and bad.all():
        raise SignalError("signal is all NaN: nothing to detect")
    return x, fs_f, bad


def _bridge_gaps(x: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Linear interpolation across NaN/inf samples (edges held constant)."""
    if not bad.any():
        return x
    good = np.flatnonzero(~bad)
    x = x.copy()
    x[bad] = np.interp(np.flatnonzero(bad), good, x[good])
    return x


def _window_max(v: np.ndarray, centres: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray]:
    """Max of ``v`` within ``centres +- half`` samples: (values, positions)."""
    idx = np.clip(centres[:, None] + np.arange(-half, half + 1)[None, :], 0, v.size - 1)
    k = np.argmax(v[idx], axis=1)
    rows = np.arange(centres.size)
    return v[idx[rows, k]], idx[rows, k]


def detect_r_peaks(signal: np.ndarray, fs: float, method: str = "default") -> np.ndarray:
    """Detect R peaks in one ECG lead.

    Parameters
    ----------
    signal : 1-D float array, one lead in mV. NaN/inf samples mark gaps: nothing is detected
        inside them and they do not spread through the filters.
    fs : sampling rate in Hz, within [100, 1000].
    method : ``"default"`` (Hamilton-Tompkins rules on a derivative RMS envelope, see the
        module docstring) or ``"pantompkins"`` (Pan & Tompkins 1985).

    Returns
    -------
    np.ndarray of int64: sorted, unique sample indices of the R peaks, each at the largest
    absolute deflection of the band-passed signal near the QRS (either polarity). Empty for
    signals shorter than 2 s, flat lines, or signals without QRS complexes.

    Raises
    ------
    SignalError
        signal not 1-D or not real numbers, all-NaN, ``fs`` not finite or outside
        [100, 1000] Hz.
    ValueError
        unknown ``method``.

    References
    ----------
    Pan & Tompkins (1985), IEEE TBME 32(3):230-236; Hamilton & Tompkins (1986), IEEE TBME
    33(12):1157-1165; Hamilton (2002), Computers in Cardiology 29:101-104.
    """
    if method not in METHODS:
        raise ValueError(f"unknown R-peak method {method!r}; valid methods: {sorted(METHODS)}")
    x, fs, bad = _validate(signal, fs)
    if x.size < MIN_DURATION_S * fs:
        return np.empty(0, np.int64)
    x = _bridge_gaps(x, bad)
    peaks = METHODS[method](x, fs)
    peaks = peaks[~bad[peaks]]
    return np.unique(peaks).astype(np.int64)


# --------------------------------------------------------------------------------------
# default method
# --------------------------------------------------------------------------------------


def _detect_default(x: np.ndarray, fs: float, **overrides: float) -> np.ndarray:
    p = dict(_DEFAULT, **overrides)
    n = x.size
    bp = sps.sosfiltfilt(_bandpass_sos(int(p["order"]), p["lo"], p["hi"], fs), x)
    d = np.gradient(bp) * fs  # mV/s
    w = max(1, int(round(p["mwi"] * fs)))
    env = np.sqrt(np.maximum(ndimage.uniform_filter1d(d * d, w, mode="nearest"), 0.0))
    refr = max(1, int(round(p["refr"] * fs)))
    cand, _ = sps.find_peaks(env, height=_ABS_FLOOR, distance=refr)
    if cand.size == 0:
        return np.empty(0, np.int64)
    h = env[cand]
    slope, _ = _window_max(np.abs(d), cand, max(1, int(round(0.05 * fs))))
    acc = _decide(cand, h, slope, fs, n, p)
    if not acc.any():
        return np.empty(0, np.int64)
    _, beats = _window_max(np.abs(bp), cand[acc], max(1, int(round(p["snap"] * fs))))
    if beats.size > 1:
        # Non-causal refractory clean-up on the snapped positions: the stronger one wins.
        sparse = np.zeros(n + 2)
        np.maximum.at(sparse, beats + 1, h[acc])
        beats, _ = sps.find_peaks(sparse, distance=refr)
        beats = beats - 1
    return beats.astype(np.int64)


def _decide(cand: np.ndarray, h_arr: np.ndarray, sl_arr: np.ndarray, fs: float, n: int, p: dict) -> np.ndarray:
    """Adaptive-threshold decision over the candidates; returns the accepted mask."""
    nb = int(p["nbuf"])
    mid = nb // 2
    pos_l = cand.tolist()
    h = h_arr.tolist()
    sl = sl_arr.tolist()
    m = len(pos_l)

    # Initial levels from the first 8 s: upper half of the candidates ~ QRS, lower ~ noise.
    first = h_arr[cand < 8 * fs]
    if first.size < 4:
        first = h_arr[: min(m, 10)]
    srt = np.sort(first)[::-1]
    half = max(1, srt.size // 2)
    qbuf = [float(np.median(srt[:half]))] * nb
    nbuf = [float(np.median(srt[half:])) if srt.size > half else 0.0] * nb
    rrbuf = [float(fs)] * nb
    qi = ni = ri = 0

    acc = np.zeros(m, bool)
    thc, sb, sbf = p["thc"], p["sb"], p["sbf"]
    twin = p["twin"] * fs
    tslope = p["tslope"]
    decay_len = p["decay_s"] * fs
    last, last_k, last_slope, have_beat = 0, -1, 0.0, False
    decays = 0
    i = 0
    while i <= m:
        qm = sorted(qbuf)[mid]
        nm = sorted(nbuf)[mid]
        th = nm + thc * (qm - nm)
        pos = pos_l[i] if i < m else n
        rrm = sum(rrbuf) / nb
        gap = pos - last
        if gap > sb * rrm:
            # Search-back: the largest skipped candidate at least `twin` after the last beat.
            best, bj = sbf * th, -1
            for j in range(last_k + 1, i):
                if h[j] > best and pos_l[j] - last >= twin:
                    best, bj = h[j], j
            if bj >= 0:
                acc[bj] = True
                qbuf[qi % nb] = h[bj]
                qi += 1
                if have_beat:
                    rrbuf[ri % nb] = pos_l[bj] - last
                    ri += 1
                last, last_k, last_slope, have_beat = pos_l[bj], bj, sl[bj], True
                decays = 0
                continue
            if gap > max(decay_len, p["decay_rr"] * rrm) and decays < p["max_decay"]:
                # Long silence with nothing above half the threshold: lower the QRS level.
                qbuf = [q * 0.5 for q in qbuf]
                decays += 1
                continue
        if i == m:
            break
        hi_ = h[i]
        if hi_ > th and not (have_beat and pos - last < twin and sl[i] < tslope * last_slope):
            acc[i] = True
            qbuf[qi % nb] = hi_
            qi += 1
            if have_beat:
                rrbuf[ri % nb] = pos - last
                ri += 1
            last, last_k, last_slope, have_beat = pos, i, sl[i], True
            decays = 0
        else:
            nbuf[ni % nb] = hi_
            ni += 1
        i += 1
    return acc


# --------------------------------------------------------------------------------------
# Pan-Tompkins
# --------------------------------------------------------------------------------------


def _detect_pantompkins(x: np.ndarray, fs: float) -> np.ndarray:
    n = x.size
    bp = sps.sosfiltfilt(_bandpass_sos(2, 5.0, 15.0, fs), x)
    d = np.gradient(bp) * fs
    mwi = ndimage.uniform_filter1d(d * d, max(1, int(round(0.15 * fs))), mode="nearest")
    cand, _ = sps.find_peaks(mwi, height=_ABS_FLOOR**2, distance=max(1, int(round(0.2 * fs))))
    if cand.size == 0:
        return np.empty(0, np.int64)
    slope_arr, _ = _window_max(np.abs(d), cand, max(1, int(round(0.075 * fs))))
    pos_l, h, sl = cand.tolist(), mwi[cand].tolist(), slope_arr.tolist()
    m = len(pos_l)
    # Two-second learning phase (Pan & Tompkins 1985).
    init = mwi[: int(2 * fs)]
    spki, npki = 0.25 * float(init.max()), 0.5 * float(init.mean())
    rr = [float(fs)] * 8
    acc = np.zeros(m, bool)
    last, last_k, last_slope, have_beat = 0, -1, 0.0, False
    twin = 0.36 * fs
    i = 0
    while i <= m:
        thr1 = npki + 0.25 * (spki - npki)
        pos = pos_l[i] if i < m else n
        rrm = sum(rr) / 8
        if pos - last > 1.66 * rrm:
            best, bj = 0.5 * thr1, -1
            for j in range(last_k + 1, i):
                if h[j] > best and pos_l[j] - last >= twin:
                    best, bj = h[j], j
            if bj >= 0:
                acc[bj] = True
                spki = 0.25 * h[bj] + 0.75 * spki
                if have_beat:
                    rr = rr[1:] + [pos_l[bj] - last]
                last, last_k, last_slope, have_beat = pos_l[bj], bj, sl[bj], True
                continue
        if i == m:
            break
        if h[i] > thr1 and not (have_beat and pos - last < twin and sl[i] < 0.5 * last_slope):
            acc[i] = True
            spki = 0.125 * h[i] + 0.875 * spki
            if have_beat:
                rr = rr[1:] + [pos - last]
            last, last_k, last_slope, have_beat = pos, i, sl[i], True
        else:
            npki = 0.125 * h[i] + 0.875 * npki
        i += 1
    _, beats = _window_max(np.abs(bp), cand[acc], max(1, int(round(0.075 * fs))))
    return beats.astype(np.int64)


#: Available methods (name -> implementation taking the gap-bridged signal and fs).
METHODS = {"default": _detect_default, "pantompkins": _detect_pantompkins}
