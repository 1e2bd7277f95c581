"""Signal quality: NaN gaps and flat segments (lead off, saturation), and per-lead quality
labels (good / noisy / unreadable) over consecutive windows.

Masks
-----
:func:`runs`, :func:`flat_mask` and :func:`gap_mask` give sample masks of NaN gaps and flat
runs; the filters and beat segmentation use them.

Quality labels
--------------
:func:`assess_quality` labels each lead of a signal over consecutive non-overlapping windows
(default 2 s) as ``good`` (0), ``noisy`` (1) or ``unreadable`` (2), and returns a
:class:`SignalQuality`. Each window is judged from

* its own samples: NaN (no signal), flat runs (:func:`flat_mask`, lead off) and clipping
  (the lead pinned at its minimum or maximum value for at least 0.1 s, i.e. saturation).
  A window with half of its samples or more in these is ``unreadable``;
* signal-quality indices (SQIs) over a centred context of ``2 * context + 1`` windows
  (default 5 windows = 10 s with a 2 s step), computed from per-window sums so that
  everything is vectorised. The context is what keeps a real pause or asystole of 2-6 s
  readable: the beats before and after it are in its context.

SQIs (all on good samples only):

``kSQI``  kurtosis of the 5-40 Hz band-passed lead (Li, Clark & Clifford 2008; Clifford et
    al. 2012). ECG, a train of sharp QRS complexes on a quiet baseline, is strongly
    super-Gaussian; Gaussian noise of any colour has a kurtosis of 3.
``bSQI``  agreement ``matched / (n1 + n2 - matched)`` (150 ms tolerance) of two independent
    beat detectors (Li, Clark & Clifford 2008): the project's
    :func:`ecg.processing.peaks.detect_r_peaks` (Hamilton-Tompkins rules on a derivative
    envelope) and a small fixed-fraction threshold detector on the 8-20 Hz RMS envelope
    written here (:func:`_energy_detector`). Below 2 detections in the context it is 1.
``basSQI`` ``1 - P(0-1 Hz) / P(0-40 Hz)`` of the mean-removed lead (Clifford et al. 2012;
    Zhao & Zhang 2018): baseline wander.
``pSQI``  ``P(5-15 Hz) / P(5-40 Hz)`` (Clifford et al. 2012; Zhao & Zhang 2018): the QRS
    band's share; low under muscle noise.
local artefact  a window whose own kurtosis is near Gaussian while its in-band power is well
    above the lead's median window power (an artefact burst, not a quiet pause).
blocked amplifier  a window whose 0-1 Hz component swings by more than 1 mV while its 5-40 Hz
    power is under 5 % of the lead's median window power: a large baseline excursion (or
    recovery from saturation) with no QRS activity in it. A real pause has a quiet baseline.

``method="default"``: unreadable when kSQI < 4.5 over the context, or bSQI < 0.5 while kSQI
< 8 (the two-detector disagreement decides only where the kurtosis is not clearly ECG-like),
or the window is a local artefact or a blocked amplifier; noisy when kSQI < 7.8, bSQI < 0.82,
basSQI < 0.30 or pSQI < 0.40 over the context. ``"ksqi"`` (kSQI < 4.5) and ``"bsqi"``
(bSQI < 0.5) use only that index plus the masks. The thresholds (``_PARAMS``) were set on the
MIT-BIH DS1 records and on synthetic pure noise only; the rule is written down in
``scripts/evaluate_quality.py``.

References
----------
- Li Q, Mark RG, Clifford GD (2008). Robust heart rate estimation from multiple asynchronous
  noisy sources using signal quality indices and a Kalman filter. Physiol Meas 29(1):15-32.
- Clifford GD, Behar J, Li Q, Rezek I (2012). Signal quality indices and data fusion for
  determining clinical acceptability of electrocardiograms. Physiol Meas 33(9):1419-1433.
- Zhao Z, Zhang Y (2018). SQI quality evaluation mechanism of single-lead ECG signal based
  on simple heuristic fusion and fuzzy comprehensive evaluation. Front Physiol 9:727.
- Orphanidou C et al. (2015). Signal-quality indices for the electrocardiogram and
  photoplethysmogram: derivation and applications to wireless monitoring. IEEE J Biomed
  Health Inform 19(3):832-838 (the quality decision per short window with beat-level
  context; template matching is not used here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage
from scipy import signal as sps

from ecg.errors import SignalError
from ecg.processing.peaks import detect_r_peaks
from ecg.processing.validation import check_fs, check_real

__all__ = [
    "runs",
    "flat_mask",
    "gap_mask",
    "clip_mask",
    "QUALITY_LABELS",
    "GOOD",
    "NOISY",
    "UNREADABLE",
    "METHODS",
    "WINDOW_S",
    "SignalQuality",
    "assess_quality",
    "quality_chunks",
    "window_samples",
]

QUALITY_LABELS: tuple[str, ...] = ("good", "noisy", "unreadable")
GOOD, NOISY, UNREADABLE = 0, 1, 2
METHODS: tuple[str, ...] = ("default", "ksqi", "bsqi")
#: Default window (s) of the labels.
WINDOW_S = 2.0
#: Chunk length of the assessment of a long recording, s, and the extra signal on each side of
#: a chunk beyond the SQI context (filter settling), s.
CHUNK_S = 1800.0
CHUNK_SETTLE_S = 10.0


def _as_2d(signal: np.ndarray) -> tuple[np.ndarray, bool]:
    x = np.asarray(signal)
    if x.ndim == 1:
        return x[:, None], True
    if x.ndim == 2:
        return x, False
    raise SignalError(f"signal must be 1-D (samples) or 2-D (samples x leads), got shape {x.shape}")


def runs(mask: np.ndarray) -> np.ndarray:
    """Start/stop (exclusive) sample indices of the True runs of a 1-D boolean mask, shape (k, 2)."""
    m = np.asarray(mask, dtype=bool).ravel()
    if m.size == 0:
        return np.empty((0, 2), np.int64)
    d = np.diff(np.concatenate(([0], m.view(np.int8), [0])))
    return np.stack([np.flatnonzero(d == 1), np.flatnonzero(d == -1)], axis=1).astype(np.int64)


def _runs_to_mask(r: np.ndarray, n: int) -> np.ndarray:
    edges = np.zeros(n + 1, np.int32)
    np.add.at(edges, r[:, 0], 1)
    np.add.at(edges, r[:, 1], -1)
    return np.cumsum(edges[:-1]) > 0


def flat_mask(signal: np.ndarray, fs: float, min_duration_s: float = 0.5, tolerance_mv: float = 1e-6) -> np.ndarray:
    """True where a lead stays constant (within ``tolerance_mv``) for at least ``min_duration_s``
    seconds. Same shape as ``signal`` (1-D or samples x leads)."""
    x, one_d = _as_2d(signal)
    min_len = max(2, int(round(min_duration_s * fs)))
    out = np.zeros(x.shape, dtype=bool)
    for j in range(x.shape[1]):
        same = np.abs(np.diff(x[:, j])) <= tolerance_mv  # NaN compares False: a NaN breaks a run
        r = runs(same)
        r = r[r[:, 1] - r[:, 0] + 1 >= min_len]
        if r.size:
            edges = np.zeros(x.shape[0] + 1, np.int32)
            np.add.at(edges, r[:, 0], 1)
            np.add.at(edges, r[:, 1] + 1, -1)
            out[:, j] = np.cumsum(edges[:-1]) > 0
    return out[:, 0] if one_d else out


def gap_mask(signal: np.ndarray, fs: float, min_flat_s: float = 0.5) -> np.ndarray:
    """True where a sample is unusable: NaN, or inside a flat run of at least ``min_flat_s`` s."""
    x = np.asarray(signal)
    return np.isnan(x) | flat_mask(x, fs, min_flat_s)


def clip_mask(signal: np.ndarray, fs: float, min_duration_s: float = 0.1, tolerance_mv: float = 1e-6) -> np.ndarray:
    """True where a lead is pinned at its own minimum or maximum value (within ``tolerance_mv``)
    for at least ``min_duration_s`` s: saturation / clipping. Same shape as ``signal``."""
    x, one_d = _as_2d(signal)
    min_len = max(2, int(round(min_duration_s * fs)))
    out = np.zeros(x.shape, dtype=bool)
    for j in range(x.shape[1]):
        v = x[:, j]
        fin = np.isfinite(v)
        if not fin.any():
            continue
        lo, hi = np.min(v[fin]), np.max(v[fin])
        if hi - lo <= tolerance_mv:
            continue  # a constant lead is flat, not clipped
        with np.errstate(invalid="ignore"):
            pinned = (v >= hi - tolerance_mv) | (v <= lo + tolerance_mv)
        r = runs(pinned)
        r = r[r[:, 1] - r[:, 0] >= min_len]
        if r.size:
            out[:, j] = _runs_to_mask(r, v.size)
    return out[:, 0] if one_d else out


# --------------------------------------------------------------------------------------
# SignalQuality
# --------------------------------------------------------------------------------------


def _segments(
    mask_w: np.ndarray, key: np.ndarray | None, window: int, n: int, fs: float, names: Sequence[tuple[str, ...]]
) -> list[tuple[float, float, tuple[str, ...]]]:
    """Maximal runs of windows where ``mask_w`` holds and ``key`` (an int per window) is constant."""
    m = np.asarray(mask_w, bool)
    if not m.any():
        return []
    k = np.zeros(m.size, np.int64) if key is None else np.asarray(key, np.int64)
    prev_same = np.zeros(m.size, bool)
    prev_same[1:] = m[:-1] & (k[1:] == k[:-1])
    next_same = np.zeros(m.size, bool)
    next_same[:-1] = m[1:] & (k[1:] == k[:-1])
    starts = np.flatnonzero(m & ~prev_same)
    stops = np.flatnonzero(m & ~next_same) + 1
    return [(s * window / fs, min(e * window, n) / fs, names[int(k[s])]) for s, e in zip(starts, stops)]


@dataclass(frozen=True)
class SignalQuality:
    """Per-lead quality labels over consecutive non-overlapping windows."""

    fs: float
    n_samples: int
    window: int  # samples per window; window k covers [k*window, min((k+1)*window, n_samples))
    labels: np.ndarray  # int8, shape (n_windows, n_leads), codes GOOD / NOISY / UNREADABLE
    leads: tuple[str, ...]
    method: str

    @property
    def n_windows(self) -> int:
        return int(self.labels.shape[0])

    def best(self) -> np.ndarray:
        """(n_windows,) int8: the best (lowest) code over the leads."""
        if self.labels.shape[1] == 0:
            return np.full(self.n_windows, UNREADABLE, np.int8)
        return self.labels.min(axis=1).astype(np.int8)

    def _win(self, samples: np.ndarray) -> np.ndarray:
        s = np.asarray(samples, dtype=np.int64)
        return np.clip(s // self.window, 0, max(self.n_windows - 1, 0))

    def at(self, samples: np.ndarray) -> np.ndarray:
        """(len(samples),) int8: the best-lead label at each sample index."""
        return self.best()[self._win(samples)]

    def at_lead(self, samples: np.ndarray, lead: int) -> np.ndarray:
        """(len(samples),) int8: the label of one lead at each sample index."""
        return self.labels[self._win(samples), int(lead)].astype(np.int8)

    def readable_between(self, a: np.ndarray, b: np.ndarray, lead: int | None = None) -> np.ndarray:
        """Bool per interval: True when at least one lead is readable (code != UNREADABLE) in every
        window touched by the closed sample interval ``[a_i, b_i]``. With ``lead``, that lead must
        be readable (use it when the beats were detected on that lead alone)."""
        wa, wb = self._win(a), self._win(b)
        lo, hi = np.minimum(wa, wb), np.maximum(wa, wb)
        lab = self.best() if lead is None else self.labels[:, int(lead)]
        bad = np.concatenate(([0], np.cumsum(lab == UNREADABLE)))
        return (bad[hi + 1] - bad[lo]) == 0

    def readable_mask(self) -> np.ndarray:
        """Bool per sample: True where at least one lead is readable."""
        return np.repeat(self.best() != UNREADABLE, self.window)[: self.n_samples]

    def analysable_s(self) -> float:
        """Seconds where at least one lead is readable."""
        return float(self.readable_mask().sum() / self.fs)

    def unreadable_segments(self) -> list[tuple[float, float, tuple[str, ...]]]:
        """Maximal spans ``(start_s, end_s, leads)`` where no lead is readable (``leads``: all)."""
        return _segments(self.best() == UNREADABLE, None, self.window, self.n_samples, self.fs, [tuple(self.leads)])

    def lead_unreadable_segments(self) -> list[tuple[float, float, tuple[str, ...]]]:
        """Maximal spans where at least one lead is unreadable, with the tuple of unreadable leads
        (a span is split where that tuple changes)."""
        u = self.labels == UNREADABLE
        if u.shape[1] == 0:
            return []
        key = (u.astype(np.int64) << np.arange(u.shape[1], dtype=np.int64)).sum(axis=1)
        names = [tuple(self.leads[j] for j in range(u.shape[1]) if (c >> j) & 1) for c in range(1 << u.shape[1])]
        return _segments(key > 0, key, self.window, self.n_samples, self.fs, names)


# --------------------------------------------------------------------------------------
# SQIs
# --------------------------------------------------------------------------------------

#: Decision thresholds (tuned on DS1 only, see scripts/evaluate_quality.py).
_PARAMS = dict(
    window_s=WINDOW_S,
    context=2,  # windows each side of the judged one (5 x 2 s = 10 s)
    bad_frac=0.5,  # own-window share of NaN / flat / clipped samples -> unreadable
    min_good_s=2.0,  # fewer good seconds than this in the context -> unreadable
    k_unread=4.5,  # kSQI (context) below -> unreadable
    b_unread=0.5,  # bSQI (context) below ...
    k_gate=8.0,  # ... while kSQI is below this -> unreadable ("default"; "bsqi" has no gate)
    lf_block=1.0,  # own-window 0-1 Hz swing above (mV) ...
    p_block=0.05,  # ... with in-band power under this fraction of the lead's median -> unreadable
    k_local=3.6,  # own-window kurtosis below ...
    p_local=4.0,  # ... and own in-band power above this multiple of the lead's median -> unreadable
    # "noisy": each at the 5th percentile of that SQI over the DS1 windows annotated clean (both leads)
    k_noisy=7.8,  # kSQI below -> noisy
    b_noisy=0.82,  # bSQI below -> noisy
    bas_noisy=0.30,  # basSQI below -> noisy
    p_noisy=(0.40, np.inf),  # pSQI outside -> noisy
)


@lru_cache(maxsize=32)
def _sos(kind: str, lo: float, hi: float, fs: float, order: int = 2) -> np.ndarray:
    if kind == "band":
        return sps.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")
    return sps.butter(order, hi, btype="lowpass", fs=fs, output="sos")


def _wsum(v: np.ndarray, nw: int, window: int) -> np.ndarray:
    """Sum of ``v`` over each window (the last one may be short)."""
    pad = nw * window - v.size
    if pad:
        v = np.concatenate([v, np.zeros(pad, v.dtype)])
    return v.reshape(nw, window).sum(axis=1, dtype=np.float64)


def _ctx(v: np.ndarray, c: int) -> np.ndarray:
    """Sum over the centred context of ``2c + 1`` windows (truncated at the edges)."""
    if c <= 0:
        return v
    cs = np.concatenate(([0.0], np.cumsum(v, axis=0)))
    i = np.arange(v.shape[0])
    return cs[np.minimum(i + c + 1, v.shape[0])] - cs[np.maximum(i - c, 0)]


def _energy_detector(x: np.ndarray, fs: float, good: np.ndarray, window: int, nw: int, c: int) -> np.ndarray:
    """Second, independent beat detector for bSQI: peaks of the 8-20 Hz RMS envelope (80 ms),
    at least 250 ms apart, above 0.3 x the second-largest window maximum of the envelope in the
    centred context (robust to one artefact window and to a pause). Vectorised."""
    y = sps.sosfiltfilt(_sos("band", 8.0, 20.0, fs), x)
    w = max(1, int(round(0.08 * fs)))
    env = np.sqrt(np.maximum(ndimage.uniform_filter1d(y * y, w, mode="nearest"), 0.0))
    env[~good] = 0.0
    pad = nw * window - env.size
    wmax = np.concatenate([env, np.zeros(pad)]).reshape(nw, window).max(axis=1)
    idx = np.clip(np.arange(nw)[:, None] + np.arange(-c, c + 1)[None, :], 0, nw - 1)
    stack = np.sort(wmax[idx], axis=1)
    ref = stack[:, -2] if stack.shape[1] > 1 else stack[:, -1]
    pk, _ = sps.find_peaks(env, distance=max(1, int(round(0.25 * fs))))
    keep = env[pk] > np.maximum(0.3 * ref[pk // window], 1e-3)
    return pk[keep]


def _lead_features(x: np.ndarray, fs: float, window: int, p: dict, want_b: bool = True) -> dict[str, np.ndarray]:
    """Per-window SQIs of one lead (float array, NaN allowed)."""
    n = x.size
    nw = max(1, -(-n // window))
    c = int(p["context"])
    x = np.asarray(x, np.float64)
    nan = ~np.isfinite(x)
    bad = nan | flat_mask(np.where(nan, np.nan, x), fs) | clip_mask(np.where(nan, np.nan, x), fs)
    good = ~bad
    ngood = _wsum(good.astype(np.float64), nw, window)
    nsamp = _wsum(np.ones(n), nw, window)
    f = {"bad_frac": 1.0 - ngood / nsamp}
    if good.sum() < 2:
        z = np.zeros(nw)
        f.update(k_ctx=z, k_own=z, p_rel=z, b_ctx=z, bas_ctx=np.ones(nw), p_ctx=z, good_s_ctx=z, lf_range=z)
        return f
    xb = x.copy()
    if bad.any():
        gi = np.flatnonzero(good)
        xb[bad] = np.interp(np.flatnonzero(bad), gi, x[gi])
    g = good.astype(np.float64)
    # kSQI on the 5-40 Hz band
    y = sps.sosfiltfilt(_sos("band", 5.0, min(40.0, 0.45 * fs), fs), xb) * g
    y2 = y * y
    s1, s2, s4 = _wsum(y, nw, window), _wsum(y2, nw, window), _wsum(y2 * y2, nw, window)
    s3 = _wsum(y2 * y, nw, window)

    def kurt(n0, a1, a2, a3, a4):
        with np.errstate(invalid="ignore", divide="ignore"):
            m = a1 / n0
            m2 = a2 / n0 - m * m
            m4 = a4 / n0 - 4 * m * a3 / n0 + 6 * m * m * a2 / n0 - 3 * m**4
            k = m4 / (m2 * m2)
        return np.where((n0 > 10) & (m2 > 1e-12), k, 0.0), np.where(n0 > 0, m2, 0.0)

    k_own, p_own = kurt(ngood, s1, s2, s3, s4)
    cg = _ctx(ngood, c)
    k_ctx, _ = kurt(cg, _ctx(s1, c), _ctx(s2, c), _ctx(s3, c), _ctx(s4, c))
    gw = ngood > 0.5 * nsamp
    med = np.median(p_own[gw]) if gw.any() else 0.0
    f["k_own"] = k_own
    f["k_ctx"] = k_ctx
    f["p_rel"] = p_own / med if med > 0 else np.zeros(nw)
    f["good_s_ctx"] = cg / fs
    # pSQI: P(5-15) / P(5-40)
    y15 = sps.sosfiltfilt(_sos("band", 5.0, 15.0, fs), xb) * g
    with np.errstate(invalid="ignore", divide="ignore"):
        f["p_ctx"] = np.nan_to_num(_ctx(_wsum(y15 * y15, nw, window), c) / _ctx(s2, c))
    # basSQI: 1 - P(0-1) / P(0-40), mean removed over the context
    l1 = sps.sosfiltfilt(_sos("low", 0.0, 1.0, fs), xb) * g
    l40 = sps.sosfiltfilt(_sos("low", 0.0, min(40.0, 0.45 * fs), fs), xb) * g
    a1, a2 = _ctx(_wsum(l1, nw, window), c), _ctx(_wsum(l1 * l1, nw, window), c)
    b1, b2 = _ctx(_wsum(l40, nw, window), c), _ctx(_wsum(l40 * l40, nw, window), c)
    pad = nw * window - n
    l1w = np.concatenate([l1, np.full(pad, l1[-1])]).reshape(nw, window) if pad else l1.reshape(nw, window)
    f["lf_range"] = l1w.max(axis=1) - l1w.min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        v1 = a2 / cg - (a1 / cg) ** 2
        v40 = b2 / cg - (b1 / cg) ** 2
        f["bas_ctx"] = np.nan_to_num(1.0 - v1 / v40, nan=1.0)
    # bSQI: agreement of two detectors
    if want_b:
        pa = detect_r_peaks(np.where(good, x, np.nan), fs)
        pb = _energy_detector(xb, fs, good, window, nw, c)
        tol = int(round(0.15 * fs))
        if pa.size and pb.size:
            j = np.clip(np.searchsorted(pb, pa), 1, pb.size - 1) if pb.size > 1 else np.zeros(pa.size, np.int64)
            d = np.abs(pa - pb[j])
            if pb.size > 1:
                d = np.minimum(d, np.abs(pa - pb[j - 1]))
            matched = pa[d <= tol]
        else:
            matched = np.zeros(0, np.int64)
        na = _ctx(np.bincount(pa // window, minlength=nw)[:nw].astype(np.float64), c)
        nb = _ctx(np.bincount(pb // window, minlength=nw)[:nw].astype(np.float64), c)
        nm = _ctx(np.bincount(matched // window, minlength=nw)[:nw].astype(np.float64), c)
        den = na + nb - nm
        with np.errstate(invalid="ignore", divide="ignore"):
            f["b_ctx"] = np.where(na + nb >= 2, nm / np.maximum(den, 1e-9), 1.0)
    else:
        f["b_ctx"] = np.ones(nw)
    return f


def _decide(f: dict[str, np.ndarray], p: dict, method: str) -> np.ndarray:
    """int8 labels of one lead from its features."""
    unread = (f["bad_frac"] >= p["bad_frac"]) | (f["good_s_ctx"] < p["min_good_s"])
    use_k = method in ("default", "ksqi")
    use_b = method in ("default", "bsqi")
    noisy = np.zeros_like(unread)
    if use_k:
        unread |= f["k_ctx"] < p["k_unread"]
        noisy |= f["k_ctx"] < p["k_noisy"]
    if use_b:
        bad_b = f["b_ctx"] < p["b_unread"]
        if method == "default":
            bad_b &= f["k_ctx"] < p["k_gate"]
        unread |= bad_b
        noisy |= f["b_ctx"] < p["b_noisy"]
    if method == "default":
        unread |= (f["k_own"] < p["k_local"]) & (f["p_rel"] > p["p_local"])
        unread |= (f["lf_range"] > p["lf_block"]) & (f["p_rel"] < p["p_block"])
        lo, hi = p["p_noisy"]
        noisy |= (f["bas_ctx"] < p["bas_noisy"]) | (f["p_ctx"] < lo) | (f["p_ctx"] > hi)
    out = np.where(unread, UNREADABLE, np.where(noisy, NOISY, GOOD)).astype(np.int8)
    return out


def _check(signal: np.ndarray, fs: float, method: str, window_s: float) -> tuple[np.ndarray, float, bool]:
    if method not in METHODS:
        raise ValueError(f"unknown quality method {method!r}; valid methods: {list(METHODS)}")
    x, one_d = _as_2d(signal)
    fs_f = check_fs(fs, 50.0)
    check_real(x)
    if not np.isfinite(window_s) or window_s <= 0:
        raise ValueError(f"window_s must be positive, got {window_s!r}")
    return x, fs_f, one_d


def _params(window_s: float) -> dict:
    p = dict(_PARAMS)
    p["context"] = max(1, int(round(p["context"] * p["window_s"] / window_s)))
    return p


def window_samples(fs: float, window_s: float = WINDOW_S) -> int:
    """Samples per quality window at ``fs`` Hz."""
    return max(1, int(round(window_s * fs)))


def quality_chunks(
    n: int, fs: float, *, window_s: float = WINDOW_S, chunk_s: float = CHUNK_S
) -> list[tuple[int, int, int, int]]:
    """How :func:`assess_quality` splits ``n`` samples at ``fs`` Hz: ``(w0, w1, m0, m1)`` per
    chunk, in windows of :func:`window_samples`: the chunk labels windows ``[w0, w1)`` from the
    signal of windows ``[m0, m1)`` (samples ``[m0 * window, min(n, m1 * window))``), i.e. with
    the SQI context and filter settling on both sides. Labelling each chunk's signal alone
    (``assess_quality(signal[m0 * window : m1 * window], fs, chunk_s=math.inf)``) gives the
    same labels for ``[w0, w1)`` as the whole signal does, so a recording can be assessed one
    chunk at a time from disk. Empty when ``n`` is under one window."""
    window = window_samples(fs, window_s)
    if n < window:
        return []
    nw = -(-n // window)
    k = max(1, int(round(n / (chunk_s * fs))))
    edges = np.unique(np.linspace(0, nw, k + 1).round().astype(np.int64))
    margin = _params(window_s)["context"] + int(np.ceil(CHUNK_SETTLE_S * fs / window))
    return [
        (int(w0), int(w1), max(0, int(w0) - margin), min(nw, int(w1) + margin)) for w0, w1 in zip(edges[:-1], edges[1:])
    ]


def assess_quality(
    signal: np.ndarray,
    fs: float,
    *,
    leads: Sequence[str] | None = None,
    method: str = "default",
    window_s: float = WINDOW_S,
    chunk_s: float = CHUNK_S,
) -> SignalQuality:
    """Label each lead as good / noisy / unreadable over consecutive ``window_s`` windows.

    Parameters
    ----------
    signal : (n,) or (n, leads) float array in mV; NaN = no signal.
    fs : sampling rate, Hz.
    leads : lead names (default ``"0"``, ``"1"``, ...).
    method : ``"default"`` (kSQI + bSQI over a 10 s context, local-artefact test, masks; noisy
        from kSQI, bSQI, basSQI, pSQI), ``"ksqi"`` (kurtosis only) or ``"bsqi"`` (two-detector
        agreement only). Flat, clipped and NaN windows are unreadable in every method.
    window_s : label window, s (2 s by default; the SQI context is 5 windows).
    chunk_s : a long recording is assessed in chunks of about this length (s), each with the
        SQI context and filter settling on both sides, so memory does not grow with duration;
        lead-wide references (the median band power of the local-artefact and blocked-amplifier
        tests) are then those of the chunk. A recording up to 1.5 chunks long is one chunk.

    SQIs: kSQI and bSQI (Li, Mark & Clifford 2008, Physiol Meas 29:15-32; Clifford et al. 2012,
    Physiol Meas 33:1419-1433), basSQI and pSQI (Clifford et al. 2012; Zhao & Zhang 2018,
    Front Physiol 9:727). See the module docstring for the definitions and thresholds.
    """
    x, fs_f, _ = _check(signal, fs, method, window_s)
    n, nl = x.shape
    names = tuple(str(v) for v in leads) if leads is not None else tuple(str(j) for j in range(nl))
    if len(names) != nl:
        raise ValueError(f"{len(names)} lead names for {nl} leads")
    p = _params(window_s)
    window = window_samples(fs_f, window_s)
    nw = max(1, -(-n // window)) if n else 0
    labels = np.full((nw, nl), UNREADABLE, np.int8)
    if n >= window:
        for j in range(nl):
            for w0, w1, m0, m1 in quality_chunks(n, fs_f, window_s=window_s, chunk_s=chunk_s):
                seg = x[m0 * window : min(n, m1 * window), j]
                if seg.size < window:
                    continue
                f = _lead_features(seg, fs_f, window, p, want_b=method != "ksqi")
                labels[w0:w1, j] = _decide(f, p, method)[w0 - m0 : w1 - m0]
    return SignalQuality(fs=fs_f, n_samples=int(n), window=window, labels=labels, leads=names, method=method)
