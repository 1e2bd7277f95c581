"""Beat-by-beat matching of detected and reference beats, as PhysioNet's ``bxb`` does it.

Two beats match when they are at most ``tolerance_s`` apart (150 ms in ANSI/AAMI EC57);
matching is one-to-one, each reference beat taking the closest free detection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: EC57 match window in seconds.
MATCH_WINDOW_S = 0.150


@dataclass(frozen=True)
class BeatMatch:
    """Result of matching: index pairs into the reference and test arrays, and the leftovers."""

    ref_idx: np.ndarray  # matched reference beats (indices into ref)
    test_idx: np.ndarray  # their matched detections (indices into test)
    missed_idx: np.ndarray  # reference beats with no detection (false negatives)
    extra_idx: np.ndarray  # detections with no reference beat (false positives)

    @property
    def tp(self) -> int:
        return int(self.ref_idx.size)

    @property
    def fn(self) -> int:
        return int(self.missed_idx.size)

    @property
    def fp(self) -> int:
        return int(self.extra_idx.size)


def match_beats(ref: np.ndarray, test: np.ndarray, fs: float, tolerance_s: float = MATCH_WINDOW_S) -> BeatMatch:
    """Match detections ``test`` to reference beats ``ref`` (sample indices, any order) within
    ``tolerance_s`` seconds. Each beat matches at most once; closer pairs win conflicts."""
    ref = np.asarray(ref, dtype=np.int64)
    test = np.asarray(test, dtype=np.int64)
    tol = int(np.floor(tolerance_s * fs + 1e-9))
    ref_order = np.argsort(ref, kind="stable")
    test_order = np.argsort(test, kind="stable")
    r_sorted, t_sorted = ref[ref_order], test[test_order]

    r_free = np.ones(r_sorted.size, bool)
    t_free = np.ones(t_sorted.size, bool)
    pairs_r: list[np.ndarray] = []
    pairs_t: list[np.ndarray] = []
    while r_free.any() and t_free.any():
        r_ids = np.flatnonzero(r_free)
        t_ids = np.flatnonzero(t_free)
        t_vals = t_sorted[t_ids]
        pos = np.searchsorted(t_vals, r_sorted[r_ids])
        left = np.clip(pos - 1, 0, t_vals.size - 1)
        right = np.clip(pos, 0, t_vals.size - 1)
        d_left = np.abs(r_sorted[r_ids] - t_vals[left])
        d_right = np.abs(r_sorted[r_ids] - t_vals[right])
        use_right = d_right < d_left
        cand = np.where(use_right, right, left)
        dist = np.where(use_right, d_right, d_left)
        ok = dist <= tol
        if not ok.any():
            break
        r_c, t_c, d_c = r_ids[ok], t_ids[cand[ok]], dist[ok]
        # One reference per detection: the closest wins (ties: the earlier reference beat).
        order = np.lexsort((r_c, d_c, t_c))
        r_c, t_c = r_c[order], t_c[order]
        first = np.ones(t_c.size, bool)
        first[1:] = t_c[1:] != t_c[:-1]
        r_c, t_c = r_c[first], t_c[first]
        r_free[r_c] = False
        t_free[t_c] = False
        pairs_r.append(r_c)
        pairs_t.append(t_c)

    r_m = np.concatenate(pairs_r) if pairs_r else np.empty(0, np.int64)
    t_m = np.concatenate(pairs_t) if pairs_t else np.empty(0, np.int64)
    order = np.argsort(r_m, kind="stable")
    return BeatMatch(
        ref_idx=ref_order[r_m[order]],
        test_idx=test_order[t_m[order]],
        missed_idx=np.sort(ref_order[np.flatnonzero(r_free)]),
        extra_idx=np.sort(test_order[np.flatnonzero(t_free)]),
    )


def excluded_mask(samples: np.ndarray, intervals: np.ndarray | list[tuple[int, int]]) -> np.ndarray:
    """True for samples inside any [start, end] interval (e.g. ventricular flutter episodes,
    which bxb leaves out of beat-by-beat comparison)."""
    samples = np.asarray(samples, dtype=np.int64)
    iv = np.asarray(intervals, dtype=np.int64).reshape(-1, 2)
    if iv.size == 0:
        return np.zeros(samples.shape, bool)
    iv = iv[np.argsort(iv[:, 0])]
    idx = np.searchsorted(iv[:, 0], samples, side="right") - 1
    inside = idx >= 0
    inside[inside] = samples[inside] <= iv[idx[inside], 1]
    return inside


def flutter_intervals(ann_sample: np.ndarray, ann_symbol: np.ndarray, n_samples: int) -> np.ndarray:
    """Ventricular flutter/fibrillation episodes from ``[`` (onset) and ``]`` (offset)
    annotations, as an (k, 2) int64 array of inclusive sample intervals."""
    out = []
    start = None
    for s, sym in zip(np.asarray(ann_sample), np.asarray(ann_symbol)):
        if sym == "[":
            start = int(s)
        elif sym == "]" and start is not None:
            out.append((start, int(s)))
            start = None
    if start is not None:
        out.append((start, n_samples - 1))
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)


@dataclass(frozen=True)
class DetectionStats:
    """Gross QRS-detection statistics (EC57): TP, FN, FP and Se, +P in [0, 1]."""

    tp: int
    fn: int
    fp: int

    @property
    def se(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def ppv(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    def __add__(self, other: DetectionStats) -> DetectionStats:
        return DetectionStats(self.tp + other.tp, self.fn + other.fn, self.fp + other.fp)

    def as_dict(self) -> dict:
        return {"tp": self.tp, "fn": self.fn, "fp": self.fp, "se": self.se, "ppv": self.ppv}


def detection_stats(
    ref: np.ndarray,
    test: np.ndarray,
    fs: float,
    *,
    exclude: np.ndarray | None = None,
    start_sample: int = 0,
    tolerance_s: float = MATCH_WINDOW_S,
) -> DetectionStats:
    """Match and count. Beats (reference or detected) before ``start_sample`` or inside the
    ``exclude`` intervals are left out, as bxb does with its start time and flutter episodes."""
    ref = np.asarray(ref, np.int64)
    test = np.asarray(test, np.int64)
    m = match_beats(ref, test, fs, tolerance_s)
    keep_ref = ref >= start_sample
    keep_test = test >= start_sample
    if exclude is not None and np.asarray(exclude).size:
        keep_ref &= ~excluded_mask(ref, exclude)
        keep_test &= ~excluded_mask(test, exclude)
    # A matched pair counts when its reference beat counts; leftovers count where they lie.
    tp = int(keep_ref[m.ref_idx].sum())
    fn = int(keep_ref[m.missed_idx].sum())
    fp = int(keep_test[m.extra_idx].sum())
    return DetectionStats(tp, fn, fp)
