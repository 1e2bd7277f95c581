"""Atrial fibrillation / flutter *episode* detection from R-peak times alone.

:func:`detect_af` turns a beat series into AF episodes (onset, offset, duration, mean heart
rate) and a per-beat mask. Two RR-based methods are available (:data:`AF_METHODS`):

``"petrenas2015"``
    Petrėnas A, Marozas V, Sörnmo L. Low-complexity detection of atrial fibrillation in
    continuous long-term monitoring. Comput Biol Med 65:184-191 (2015). Building blocks, as in
    the paper: (1) ectopic-beat filtering, a 3-beat running median of the RR series ``r`` giving
    ``rm``; (2) RR irregularity ``M(n)``, the fraction of the 28 pairs of the 8 intervals of
    ``rm`` in a sliding window that differ by at least ``gamma`` (30 ms), exponentially
    averaged (``alpha``) and divided by the exponentially averaged RR trend, ``I(n)``, so that
    the same absolute irregularity weighs more at a fast rate; (3) bigeminy suppression,
    ``B(n) = (sum rm / sum r - 1)^2`` over the same window, exponentially averaged: in bigeminy
    the 3-beat median leaves the alternating series unchanged (``B`` ~ 0), in AF it does not;
    (4) signal fusion and threshold: a beat is AF when ``B >= delta`` and ``I > eta``. The
    3-beat median also removes isolated ectopics and trigeminy (the median of short, long,
    normal is the normal interval); regular SVT has a low ``M``.

    Deviations, for offline (whole-record) analysis: the window is centred on the interval
    and the exponential averagers run forward and backward (zero phase), so onsets and
    offsets are not delayed; ``alpha``, ``delta`` and ``eta`` were calibrated on the MIT-BIH
    DS1 patients (``scripts/evaluate_af.py``), the structure and ``N = 8``, ``gamma = 0.03 s``
    are the paper's.

``"irregularity"``
    The product's former rule turned into episodes: :func:`ecg.processing.segmentation.rr_irregularity`
    (65-beat running median of ``|RR[i] - RR[i-lag]|``, minimum over lags 1-3, relative to the
    running median RR; Tateno & Glass 2001, Med Biol Eng Comput 39:664, for the idea of using
    successive-difference statistics) above a threshold.

``"petrenas2015_lags"``
    ``"petrenas2015"`` AND ``"irregularity"`` (with its own window and threshold): a beat is AF
    only when both call it. The lag-minimum makes bigeminy with variable coupling and
    couplets (where the 3-beat median and the bigeminy suppression of Petrėnas fail, e.g.
    MIT-BIH 106) look regular at lag 2 or 3, while AF stays irregular at every lag.

``"petrenas2015_lags_mean"``
    ``"petrenas2015_lags"`` run on the non-ectopic beats: the beats of the ``ectopic`` mask are
    removed from the beat sequence and each interval between two consecutive non-ectopic beats
    is divided by the number of original intervals it spans (``ectopic_handling="mean"``), so
    a PVC with a compensatory pause, bigeminy with any coupling and couplets leave a regular
    N-N series, while AF stays irregular and keeps its beat density (dropping every interval
    that touches a PVC left too few in AF with frequent PVCs). The decision is mapped back to
    all beats: an ectopic beat inside an AF stretch is in AF. Without a mask (``ectopic``
    None) it runs as ``"petrenas2015_lags"`` (its thresholds were chosen with the mask).

``"default"`` is the method adopted after the second DS1 calibration (classifier V calls as
the mask), ``"petrenas2015_lags_mean"`` (see :data:`DEFAULT_METHOD`): alpha 0.1, delta 2e-4,
eta 0.70, lag-minimum window 65 beats, threshold 0.06, ectopic handling "mean". The first
design, ``"petrenas2015_lags"`` (alpha 0.1, delta 2e-4, eta 0.75, window 65, threshold 0.10,
ectopic intervals dropped), stays selectable. Every method takes ``params={"ectopic_handling":
"drop" | "merge" | "mean"}`` (:data:`ECTOPIC_HANDLING`).

Episode rules (all methods):

* RR intervals touching a beat with ``valid`` False carry no rhythm information and are left
  out before any filtering; so are intervals outside 0.2-3.0 s (missed or double
  detections). Ectopic beats are handled as the method's ``ectopic_handling`` says: "drop"
  leaves out the intervals touching them; "merge"/"mean" remove them and join their
  intervals (a merged interval spanning a left-out interval, or more than
  :data:`MAX_ECTOPIC_RUN` ectopics in a row, is left out, without splitting an episode). The
  detector runs on the remaining intervals, in order.
* A run of AF intervals is an episode from its first to its last beat. An episode is split
  where more than :data:`MAX_GAP_S` seconds of left-out signal separate two used intervals
  (it never spans a long run of invalid beats); shorter gaps stay inside the episode.
* Two episodes less than ``merge_gap_s`` apart (default 0: no merging) are joined.
* Episodes shorter than ``min_duration_s`` (30 s by default, the usual clinical definition of
  an AF episode) are dropped; a beat is ``in_af`` when it lies inside a kept episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy.ndimage import maximum_filter1d, median_filter, uniform_filter1d
from scipy.signal import filtfilt

from ecg.processing.segmentation import rr_irregularity

#: Seconds of left-out (invalid or unusable) signal that break an episode.
MAX_GAP_S: Final[float] = 10.0
#: RR intervals outside this range (s) are treated as detection errors and left out.
RR_RANGE_S: Final[tuple[float, float]] = (0.2, 3.0)
#: Ways of using an ``ectopic`` mask (the ``ectopic_handling`` parameter of a method):
#: ``"drop"`` leaves out the intervals touching an ectopic beat; ``"merge"`` removes the ectopic
#: beats and runs the detector on the intervals between consecutive non-ectopic beats;
#: ``"mean"`` does the same with each merged interval divided by the number of original
#: intervals it spans (a PVC with a compensatory pause then gives two ordinary intervals' mean).
ECTOPIC_HANDLING: Final[tuple[str, ...]] = ("drop", "merge", "mean")
#: With ``"merge"``/``"mean"``, an interval spanning more consecutive ectopic beats than this
#: (a ventricular run) is left out (without splitting an episode).
MAX_ECTOPIC_RUN: Final[int] = 3


@dataclass(frozen=True)
class AFEpisode:
    """One AF/flutter episode: times in seconds from the first sample, beat indices into the
    ``peaks`` array given to :func:`detect_af` (inclusive)."""

    start_s: float
    end_s: float
    duration_s: float
    mean_hr_bpm: float | None
    first_beat: int
    last_beat: int


@dataclass(frozen=True)
class AFResult:
    """``in_af``: bool per beat, True inside an episode; ``episodes``: sorted, non-overlapping."""

    in_af: np.ndarray
    episodes: tuple[AFEpisode, ...]
    method: str
    min_duration_s: float

    def burden_pct(self) -> float | None:
        """Percentage of beats inside AF episodes; ``None`` when there are no beats."""
        n = int(self.in_af.size)
        return None if n == 0 else 100.0 * float(self.in_af.sum()) / n


# Parameters of each method: N and gamma are Petrėnas et al.'s; the rest were chosen on the 22 DS1
# patients only (our R-peak detector, no ectopic mask, 30 s minimum episode) by gross beat-level
# Youden J, ties (within 0.005) to the lowest false-AF burden on DS1 records without AF
# (scripts/evaluate_af.py --calibrate; summary in reports/af_evaluation.json). DS1: petrenas2015 J 0.957,
# irregularity J 0.954, petrenas2015_lags J 0.976 (Se 98.8 %, Sp 98.8 %, false AF 0.99 %).
PETRENAS_PARAMS: Final[dict[str, float]] = {"N": 8, "gamma": 0.03, "alpha": 0.1, "delta": 5e-4, "eta": 0.85}
IRREGULARITY_PARAMS: Final[dict[str, float]] = {"window": 65, "threshold": 0.11}

COMBINED_PARAMS: Final[dict[str, float]] = {
    "N": 8,
    "gamma": 0.03,
    "alpha": 0.1,
    "delta": 2e-4,
    "eta": 0.75,
    "window": 65,
    "threshold": 0.10,
}

#: ``petrenas2015_lags`` with the ectopic beats removed and merged intervals averaged (``"mean"``),
#: chosen on DS1 with the classifier's V calls as the mask (scripts/evaluate_af.py --calibrate
#: --ectopic model; reports/af_calibration_ds1_ectopic.json): DS1 J 0.988, Se 99.4 %, Sp 99.4 %,
#: false AF 0.00 % on the DS1 records without AF. Without a mask it is petrenas2015_lags with
#: these thresholds.
COMBINED_MEAN_PARAMS: Final[dict] = {
    "N": 8,
    "gamma": 0.03,
    "alpha": 0.1,
    "delta": 2e-4,
    "eta": 0.70,
    "window": 65,
    "threshold": 0.06,
    "ectopic_handling": "mean",
}

AF_METHODS: Final[tuple[str, ...]] = (
    "default",
    "petrenas2015",
    "irregularity",
    "petrenas2015_lags",
    "petrenas2015_lags_mean",
)
#: The method ``"default"`` stands for.
DEFAULT_METHOD: Final[str] = "petrenas2015_lags_mean"


def _exp_average(x: np.ndarray, alpha: float) -> np.ndarray:
    """Zero-phase exponential averager y(n) = (1 - alpha) y(n-1) + alpha x(n), run forward
    and backward."""
    if x.size == 0:
        return x.astype(np.float64)
    if x.size < 2:
        return x.astype(np.float64).copy()
    return filtfilt([alpha], [1.0, alpha - 1.0], x, padlen=min(6, x.size - 1))


def _centred_window_sum(x: np.ndarray, n: int) -> np.ndarray:
    """Sum of x over a window of n samples (edges repeated), centred (n even: one more after)."""
    return uniform_filter1d(x.astype(np.float64), size=n, mode="nearest") * n


def petrenas_decision(
    rr: np.ndarray,
    *,
    N: int = 8,
    gamma: float = 0.03,
    alpha: float = 0.02,
    delta: float = 2e-4,
    eta: float = 0.6,
    return_signals: bool = False,
):
    """Per-interval AF decision of Petrėnas, Marozas & Sörnmo (2015) on an RR series in
    seconds (bool (m,)); with ``return_signals`` also ``(I, B)``. See the module docstring."""
    r = np.asarray(rr, dtype=np.float64)
    m = r.size
    if m == 0:
        out = np.zeros(0, bool)
        return (out, np.zeros(0), np.zeros(0)) if return_signals else out
    N = int(N)
    rm = median_filter(r, size=3, mode="nearest")
    # M(n): pairs (i-d, i), 1 <= d < N, both inside the N intervals ending at n, |diff| >= gamma.
    count = np.zeros(m, np.int32)
    for d in range(1, min(N, m)):
        h = np.zeros(m, np.int32)
        h[d:] = np.abs(rm[d:] - rm[:-d]) >= gamma
        c = np.cumsum(h, dtype=np.int32)  # c[n] = sum of h[0..n]
        L = N - d  # positions n-L+1 .. n hold the pairs (i-d, i) inside the window ending at n
        count += c
        count[L:] -= c[:-L]
    M = count / (N * (N - 1) / 2)
    # centre the causal window on the interval (offline analysis: no detection delay)
    shift = N // 2
    M = np.concatenate((M[shift:], np.full(min(shift, m), M[-1])))[:m]
    rt = np.maximum(_exp_average(rm, alpha), 1e-3)
    I = _exp_average(M, alpha) / rt  # noqa: E741 (Petrenas 2015 names the irregularity I)
    B = (_centred_window_sum(rm, N) / np.maximum(_centred_window_sum(r, N), 1e-9) - 1.0) ** 2
    Bt = _exp_average(B, alpha)
    af = (Bt >= delta) & (I > eta)
    return (af, I, Bt) if return_signals else af


def irregularity_decision(rr: np.ndarray, *, window: int = 65, threshold: float = 0.12, return_signals: bool = False):
    """Per-interval AF decision: :func:`ecg.processing.segmentation.rr_irregularity` above
    ``threshold``."""
    irr = rr_irregularity(np.asarray(rr, dtype=np.float64), window=int(window))
    af = irr > threshold
    return (af, irr) if return_signals else af


_PARAMS: Final[dict[str, dict[str, float]]] = {
    "petrenas2015": PETRENAS_PARAMS,
    "irregularity": IRREGULARITY_PARAMS,
    "petrenas2015_lags": COMBINED_PARAMS,
    "petrenas2015_lags_mean": COMBINED_MEAN_PARAMS,
}


#: Without an ``ectopic`` mask (argument absent) these methods use the parameters of another:
#: the thresholds of ``petrenas2015_lags_mean`` were chosen with the ectopic beats removed and
#: are too permissive on raw RR series (DS1 record 119, ventricular bigeminy, 8 % marked), so
#: without a mask it runs as ``petrenas2015_lags`` (the DS1 choice without a mask).
_NO_MASK_FALLBACK: Final[dict[str, str]] = {"petrenas2015_lags_mean": "petrenas2015_lags"}


def _gated_irregularity(x: np.ndarray, gate: np.ndarray, window: int, threshold: float) -> np.ndarray:
    """``gate & irregularity_decision(x)``, computing the irregularity only around gated intervals
    (each stretch with ``window // 2 + 3`` intervals of context either side, so the values are
    those of the whole series). Saves most of the time on records with little AF."""
    out = np.zeros(x.size, bool)
    if not gate.any():
        return out
    half = window // 2 + 3
    near = maximum_filter1d(gate.astype(np.uint8), size=2 * half + 1, mode="constant") > 0
    d = np.diff(np.concatenate(([0], near.view(np.int8), [0])))
    for a, b in zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()):
        out[a:b] = irregularity_decision(x[a:b], window=window, threshold=threshold)
    return out & gate


def _resolve(method: str) -> str:
    if method not in AF_METHODS:
        raise ValueError(f"unknown AF method {method!r}; use one of {AF_METHODS}")
    return DEFAULT_METHOD if method == "default" else method


def _empty(n: int, method: str, min_duration_s: float) -> AFResult:
    return AFResult(np.zeros(n, bool), (), method, float(min_duration_s))


def detect_af(
    peaks: np.ndarray,
    fs: float,
    *,
    method: str = "default",
    valid: np.ndarray | None = None,
    ectopic: np.ndarray | None = None,
    min_duration_s: float = 30.0,
    merge_gap_s: float = 0.0,
    params: dict | None = None,
) -> AFResult:
    """Detect atrial fibrillation / flutter episodes from R-peak times.

    Parameters
    ----------
    peaks : sorted R-peak sample indices (int64).
    fs : sampling rate (Hz) of the sample indices.
    method : one of :data:`AF_METHODS` (``"default"`` = :data:`DEFAULT_METHOD`).
    valid : optional bool per beat, False for beats in unreadable signal. An RR interval
        touching an invalid beat is left out; an episode never spans more than
        :data:`MAX_GAP_S` seconds of left-out intervals (it is split there).
    ectopic : optional bool per beat, True for beats known to be ventricular ectopics (the
        classifier's V calls, as the product passes them). Handled as the method's
        ``ectopic_handling`` parameter says (default method: removed from the beat sequence,
        merged intervals averaged; older methods: the intervals touching them are left out,
        without splitting episodes). Without it the method's own RR-based ectopic handling
        (3-beat median, bigeminy suppression, lag minimum) is all there is.
    min_duration_s : episodes shorter than this (first to last beat) are dropped; 30 s is the
        usual clinical definition of an AF episode.
    merge_gap_s : episodes closer than this are joined before the duration rule (0: never).
    params : overrides of the method's parameters (calibration and experiments only).

    Returns
    -------
    :class:`AFResult` with ``in_af`` (bool per beat) and the episodes, sorted.
    """
    name = _resolve(method)
    peaks = np.asarray(peaks, dtype=np.int64).ravel()
    n = int(peaks.size)
    if n < 3 or fs <= 0:
        return _empty(n, name, min_duration_s)
    rr = np.diff(peaks).astype(np.float64) / fs
    ok = (rr >= RR_RANGE_S[0]) & (rr <= RR_RANGE_S[1])
    hard = ~ok
    if valid is not None:
        v = np.asarray(valid, dtype=bool).ravel()
        if v.size != n:
            raise ValueError(f"valid has {v.size} values for {n} beats")
        bad = ~(v[:-1] & v[1:])
        ok &= ~bad
        hard |= bad
    p = dict(_PARAMS[name] if ectopic is not None else _PARAMS[_NO_MASK_FALLBACK.get(name, name)])
    if params:
        p.update(params)
    handling = str(p.pop("ectopic_handling", "drop"))
    if handling not in ECTOPIC_HANDLING:
        raise ValueError(f"unknown ectopic_handling {handling!r}; use one of {ECTOPIC_HANDLING}")
    e = None
    if ectopic is not None:
        e = np.asarray(ectopic, dtype=bool).ravel()
        if e.size != n:
            raise ValueError(f"ectopic has {e.size} values for {n} beats")
        if not e.any():
            e = None
    if e is None or handling == "drop":
        if e is not None:
            ok &= ~(e[:-1] | e[1:])
        idx = np.flatnonzero(ok)  # used intervals: interval k runs from beat k to beat k+1
        s_beat, e_beat = idx, idx + 1
        x = rr[idx]
    else:
        # remove the ectopic beats: intervals between consecutive non-ectopic beats, each
        # spanning ``span`` original intervals; usable when none of those is hard-left-out and
        # at most MAX_ECTOPIC_RUN ectopics lie between its ends
        kb = np.flatnonzero(~e)
        if kb.size < 2:
            return _empty(n, name, min_duration_s)
        span = np.diff(kb)
        hard_cum = np.concatenate(([0], np.cumsum(hard)))
        use = (hard_cum[kb[1:]] == hard_cum[kb[:-1]]) & (span <= MAX_ECTOPIC_RUN + 1)
        j = np.flatnonzero(use)
        s_beat, e_beat = kb[:-1][j], kb[1:][j]
        x = (peaks[e_beat] - peaks[s_beat]).astype(np.float64) / fs
        if handling == "mean":
            x = x / span[j]
    if x.size < 2:
        return _empty(n, name, min_duration_s)
    if name == "petrenas2015":
        dec = petrenas_decision(x, **p)
    elif name == "irregularity":
        dec = irregularity_decision(x, **p)
    else:
        gate = petrenas_decision(x, **{k: p[k] for k in PETRENAS_PARAMS if k != "ectopic_handling"})
        dec = _gated_irregularity(x, gate, int(p["window"]), float(p["threshold"]))

    # Breaks: more than MAX_GAP_S of hard-left-out intervals between two used ones.
    hard_time = np.concatenate(([0.0], np.cumsum(np.where(hard, rr, 0.0))))
    gap = hard_time[s_beat[1:]] - hard_time[e_beat[:-1]]  # left-out time between used intervals
    brk = np.concatenate(([False], gap > MAX_GAP_S))
    prev = np.concatenate(([False], dec[:-1]))
    nxt = np.concatenate((dec[1:], [False]))
    brk_next = np.concatenate((brk[1:], [False]))
    starts = np.flatnonzero(dec & (~prev | brk))
    stops = np.flatnonzero(dec & (~nxt | brk_next))
    first = s_beat[starts]
    last = e_beat[stops]
    t = peaks.astype(np.float64) / fs
    if merge_gap_s > 0 and first.size > 1:
        # join when close in time and no break lies between them
        brk_cum = np.cumsum(brk)
        close = (t[first[1:]] - t[last[:-1]] < merge_gap_s) & (brk_cum[starts[1:]] == brk_cum[stops[:-1]])
        keep_start = np.concatenate(([True], ~close))
        keep_stop = np.concatenate((~close, [True]))
        first, last = first[keep_start], last[keep_stop]
    dur = t[last] - t[first]
    keep = dur >= min_duration_s
    first, last = first[keep], last[keep]

    in_af = np.zeros(n, bool)
    if first.size:
        edges = np.zeros(n + 1, np.int64)
        np.add.at(edges, first, 1)
        np.add.at(edges, last + 1, -1)
        in_af = np.cumsum(edges[:-1]) > 0
    cover = np.zeros(n, np.int64)  # original intervals inside used intervals
    np.add.at(cover, s_beat, 1)
    np.add.at(cover, e_beat, -1)
    used = np.cumsum(cover)[:-1] > 0
    rr_used = np.concatenate(([0.0], np.cumsum(np.where(used, rr, 0.0))))
    n_used = np.concatenate(([0], np.cumsum(used)))
    episodes = []
    for a, b in zip(first.tolist(), last.tolist()):
        k = int(n_used[b] - n_used[a])
        mean_rr = (rr_used[b] - rr_used[a]) / k if k else 0.0
        episodes.append(
            AFEpisode(
                start_s=float(t[a]),
                end_s=float(t[b]),
                duration_s=float(t[b] - t[a]),
                mean_hr_bpm=float(60.0 / mean_rr) if mean_rr > 0 else None,
                first_beat=int(a),
                last_beat=int(b),
            )
        )
    return AFResult(in_af, tuple(episodes), name, float(min_duration_s))


__all__ = [
    "AFEpisode",
    "AFResult",
    "AF_METHODS",
    "COMBINED_MEAN_PARAMS",
    "COMBINED_PARAMS",
    "DEFAULT_METHOD",
    "ECTOPIC_HANDLING",
    "MAX_ECTOPIC_RUN",
    "MAX_GAP_S",
    "detect_af",
    "irregularity_decision",
    "petrenas_decision",
]
