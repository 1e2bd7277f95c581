"""R-peak detection (draft)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage, signal as sps

from ecg.errors import SignalError

FS_MIN, FS_MAX = 100.0, 1000.0
MIN_DURATION_S = 2.0


@lru_cache(maxsize=32)
def _sos(order, lo, hi, fs):
    return sps.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")


def _validate(signal, fs):
    x = np.asarray(signal)
    if x.ndim != 1:
        raise SignalError(f"signal must be 1-D (one lead), got shape {x.shape}")
    try:
        fs = float(fs)
    except (TypeError, ValueError):
        raise SignalError(f"sampling rate must be a number, got {fs!r}") from None
    if not np.isfinite(fs) or not FS_MIN <= fs <= FS_MAX:
        raise SignalError(f"sampling rate must be within [{FS_MIN:g}, {FS_MAX:g}] Hz, got {fs!r}")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise SignalError(f"signal must be real numbers, got dtype {x.dtype}")
    x = x.astype(np.float64)
    bad = ~np.isfinite(x)
    if x.size and bad.all():
        raise SignalError("signal is all NaN")
    return x, fs, bad


def _fill(x, bad):
    if bad.any():
        idx = np.flatnonzero(~bad)
        x = x.copy()
        x[bad] = np.interp(np.flatnonzero(bad), idx, x[idx])
    return x


P = dict(lo=5.0, hi=18.0, order=3, mwi=0.12, refr=0.2, thc=0.3125, sb=1.5, sbf=0.5, twin=0.36, tslope=0.5, nbuf=8, pslope=0.5)


def detect_r_peaks(signal, fs, method="default", **kw):
    x, fs, bad = _validate(signal, fs)
    n = x.size
    if n < MIN_DURATION_S * fs:
        return np.empty(0, np.int64)
    x = _fill(x, bad)
    p = dict(P, **kw)
    bp = sps.sosfiltfilt(_sos(p["order"], p["lo"], p["hi"], fs), x)
    d = np.gradient(bp) * fs
    w = max(1, int(round(p["mwi"] * fs)))
    mwi = np.sqrt(ndimage.uniform_filter1d(d * d, w, mode="nearest"))
    slope = ndimage.maximum_filter1d(np.abs(d), max(1, int(round(0.1 * fs))), mode="nearest")
    cand, _ = sps.find_peaks(mwi, distance=max(1, int(round(p["refr"] * fs))))
    h = mwi[cand]
    sl = slope[cand]
    beats = _decide(cand, h, sl, fs, n, p)
    beats = _snap(beats, x, bp, fs, bad)
    return beats


def _decide(cand, h, sl, fs, n, p):
    nb = p["nbuf"]
    init = h[cand < 8 * fs] if (cand < 8 * fs).sum() >= 4 else h[:10]
    top = np.sort(init)[::-1]
    qbuf = [float(np.median(top[: max(1, len(top) // 2)]))] * nb
    nbuf_ = [float(np.median(top[len(top) // 2:])) if len(top) > 1 else 0.0] * nb
    rrbuf = [fs] * nb
    acc = np.zeros(len(cand), bool)
    last = -1
    last_k = -1
    last_slope = 0.0
    twin = p["twin"] * fs
    i = 0
    m = len(cand)
    qi = ni = ri = 0

    def th():
        qm = sorted(qbuf)[nb // 2]
        nm = sorted(nbuf_)[nb // 2]
        return nm + p["thc"] * (qm - nm)

    while i <= m:
        t = th()
        pos = cand[i] if i < m else n
        if last >= 0:
            rrm = sum(rrbuf) / nb
            if pos - last > p["sb"] * rrm:
                # search back between last beat and this candidate
                js = np.arange(last_k + 1, i)
                if js.size:
                    js = js[(cand[js] - last >= twin) & (h[js] > p["sbf"] * t)]
                if js.size:
                    j = js[np.argmax(h[js])]
                    acc[j] = True
                    qbuf[qi % nb] = h[j]; qi += 1
                    rrbuf[ri % nb] = cand[j] - last; ri += 1
                    last, last_k, last_slope = cand[j], j, sl[j]
                    continue
        if i == m:
            break
        if h[i] > t:
            if last >= 0 and pos - last < twin and sl[i] < p["tslope"] * last_slope:
                nbuf_[ni % nb] = h[i]; ni += 1
            elif last >= 0 and pos - last < twin and last_slope < p["pslope"] * sl[i]:
                # the previous detection was a P wave / artefact in front of this QRS
                acc[last_k] = False
                acc[i] = True
                qbuf[(qi - 1) % nb] = h[i]
                last, last_k, last_slope = pos, i, sl[i]
            else:
                acc[i] = True
                qbuf[qi % nb] = h[i]; qi += 1
                if last >= 0:
                    rrbuf[ri % nb] = pos - last; ri += 1
                last, last_k, last_slope = pos, i, sl[i]
        else:
            nbuf_[ni % nb] = h[i]; ni += 1
        i += 1
    return cand[acc]


def _snap(beats, x, bp, fs, bad):
    if beats.size == 0:
        return beats.astype(np.int64)
    hw = max(1, int(round(0.07 * fs)))
    n = x.size
    idx = beats[:, None] + np.arange(-hw, hw + 1)[None, :]
    idx = np.clip(idx, 0, n - 1)
    seg = bp[idx]
    out = idx[np.arange(len(beats)), np.argmax(np.abs(seg), axis=1)]
    out = out[~bad[out]]
    return np.unique(out).astype(np.int64)
