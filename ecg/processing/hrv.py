"""Time-domain heart-rate variability (HRV) on NN intervals, as pure functions of a beat table.

:func:`nn_mask` marks the RR intervals that are NN intervals (the beat table's ``nn`` column);
:func:`nn_series` turns a table and that mask into the NN interval series; :func:`hrv_time`
computes the time-domain measures of a series; :func:`hrv_from_beats` and
:func:`hrv_by_period` do both for a whole recording and per period (hour) of it.

NN intervals
------------
RR interval *i* runs from beat *i-1* to beat *i* (consecutive rows of the table in sample
order), its length is ``(sample[i] - sample[i-1]) / fs``, and ``nn[i]`` says whether it is an NN
interval used for HRV (``nn[0]`` is always False). It is NN when all of the following hold:

1. *Both beats are normal* (class ``N`` in ``class_column``). The Task Force defines NN
   intervals as "all intervals between adjacent QRS complexes resulting from sinus node
   depolarizations" [TF96]. So the interval ending at an ectopic beat (S, V, F: its coupling
   interval), the interval starting at it (the compensatory pause) and every interval touching
   an unclassifiable (Q) or unlabelled beat are excluded -- they are not N-to-N. The N-N
   intervals after the compensatory pause are sinus intervals and *are* NN by that
   definition; ``exclude_post_ectopic=k`` also drops the first *k* of them after an S, V or
   F beat (heart-rate turbulence follows a ventricular premature beat for about 15 beats
   [Schmidt99]); the default 0 follows [TF96]. Excluded intervals are deleted, not
   interpolated: in 24-hour recordings up to half of the intervals can be deleted with an
   SDNN error under 5 % [Salo01], and every interval reported stays a measured one.
2. *Both beats are in readable signal* (``quality`` not ``"unreadable"``): an unreadable beat
   is not classified, and its timing is unreliable.
3. *Neither beat is in atrial fibrillation / flutter* (``af`` False): the ventricular rhythm in
   AF is not driven by the sinus node, whose modulation the measures of [TF96] quantify.
4. *No gap*: ``gap[i]`` False, where ``gap`` (optional, bool per beat) marks intervals that span
   missing or unreadable signal with no beat in the table, as
   :func:`ecg.scoring.summary.beat_sequence` defines them (build it with :func:`gap_per_beat`).
   An interval across an unreadable beat is already excluded by 2.
5. *A physiologic length*: ``min_rr_s <= RR <= max_rr_s``, by default 0.3-2.0 s (200-30 bpm).
   2.0 s is the summary's default pause threshold, so a pause (RR > 2.0 s) is never NN.
6. *No artefact* (``max_change``, default 0.2): the interval differs by at most 20 % from the
   median of the up to ``change_window // 2`` candidate intervals (those meeting 1-5) before
   and after it. Beat classes here come from a classifier, not from the manual editing "to a
   very high standard" that [TF96] requires before statistical time-domain measures; a missed
   or extra beat, or an S beat classified N, leaves a short-long interval pair that would
   inflate RMSSD and pNN50 far more than any true sinus change of 20 % between neighbouring
   beats. A local reference (10 intervals, 20 %) rather than the previous interval is the
   moving-average filter of the PhysioZoo ``mhrv`` toolbox [Behar18] and the surrounding-mean
   filter of [Karlsson12]; it does not chain a rejection onto the next interval. The median
   is used so that one short-long pair does not move the reference. ``max_change=None``
   turns the filter off.

Measures (:func:`hrv_time`), all in ms unless said
--------------------------------------------------
- ``mean_nn_ms``: mean NN interval.
- ``sdnn_ms``: standard deviation of the NN intervals, sample SD (``ddof=1``), as NeuroKit2's
  ``hrv_time`` computes it (the Task Force gives no choice; over hours the difference is nil).
- ``rmssd_ms``: root mean square of the successive differences of *adjacent* NN intervals --
  two NN intervals sharing a beat (rows *i-1* and *i* both NN). No difference is formed across
  an excluded interval or a gap.
- ``pnn50_pct``: NN50 (adjacent pairs differing by more than 50 ms) in % of the adjacent
  pairs. [TF96] divides by "the total number of all NN intervals" and NeuroKit2 by
  (differences + 1), which is that number for a series without gaps; with gaps an interval
  with no NN neighbour could never count, so the pairs are the denominator, as in the pNNx of
  [Mietus02]. The difference is one part in the number of intervals.
- ``sdann_ms`` and ``sdnn_index_ms``: SD of the means, and mean of the SDs (``ddof=1``), of the
  NN intervals in 5-minute segments [TF96]. Segments are ``segment_s`` of clock time from
  ``origin_s`` (the recording start), an interval belonging to the segment of its end beat (as
  in NeuroKit2). A segment counts when its NN intervals add up to at least
  ``min_segment_coverage`` (default half) of it, so that a segment mostly lost to noise,
  ectopy or AF does not enter with a handful of intervals. Both need ``min_segments`` (default
  3, NeuroKit2's minimum: 15 minutes) segments that count.
- ``triangular_index``: the number of NN intervals divided by the height of their histogram
  with bins of 1/128 s (7.8125 ms) from 0 [TF96]. The Task Force recommends it for recordings
  of at least 20 minutes.

A measure that cannot be computed (no interval, one interval for an SD, no adjacent pair, too
few segments) is None, never NaN.

References
----------
[TF96] Task Force of the ESC and NASPE. Heart rate variability: standards of measurement,
physiological interpretation, and clinical use. Circulation 1996;93:1043-1065 (Eur Heart J
1996;17:354-381).
[Schmidt99] Schmidt G, et al. Heart-rate turbulence after ventricular premature beats as a
predictor of mortality after acute myocardial infarction. Lancet 1999;353:1390-1396.
[Salo01] Salo MA, Huikuri HV, Seppänen T. Ectopic beats in heart rate variability analysis:
effects of editing on time and frequency domain measures. Ann Noninvasive Electrocardiol
2001;6:5-17.
[Mietus02] Mietus JE, et al. The pNNx files: re-examining a widely used heart rate variability
measure. Heart 2002;88:378-380.
[Karlsson12] Karlsson M, et al. Automatic filtering of outliers in RR intervals before analysis
of heart rate variability in Holter recordings. BioMed Eng OnLine 2012;11:2.
[Behar18] Behar JA, et al. PhysioZoo: a novel open access platform for heart rate variability
analysis. Front Physiol 2018;9:1390 (``mhrv`` defaults: moving average of 10 intervals, 20 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Histogram bin of the HRV triangular index, ms (1/128 s) [TF96].
TRIANGULAR_BIN_MS = 1000.0 / 128.0
#: Classes whose beats are ectopic for ``exclude_post_ectopic``.
ECTOPIC_CLASSES = ("S", "V", "F")
#: Successive-difference threshold of pNN50, ms.
NN50_MS = 50.0

_HRV_KEYS = ("sdnn_ms", "sdann_ms", "sdnn_index_ms", "rmssd_ms", "pnn50_pct", "triangular_index", "mean_nn_ms")


@dataclass(frozen=True)
class HRVTime:
    """Time-domain HRV of one NN series (definitions in the module docstring). Values are None
    where not computable. ``n_intervals``: NN intervals; ``n_pairs``: adjacent NN pairs
    (successive differences); ``n_segments``: 5-minute segments that entered SDANN / SDNN index;
    ``nn_s``: total NN time, s."""

    mean_nn_ms: float | None = None
    sdnn_ms: float | None = None
    sdann_ms: float | None = None
    sdnn_index_ms: float | None = None
    rmssd_ms: float | None = None
    pnn50_pct: float | None = None
    triangular_index: float | None = None
    n_intervals: int = 0
    n_pairs: int = 0
    n_segments: int = 0
    nn_s: float = 0.0

    def to_dict(self, decimals: int = 3) -> dict:
        """The summary JSON's ``hrv`` fields, values rounded to ``decimals``, then the counts."""
        out: dict = {k: None if getattr(self, k) is None else round(getattr(self, k), decimals) for k in _HRV_KEYS}
        out.update(
            n_intervals=self.n_intervals,
            n_pairs=self.n_pairs,
            n_segments=self.n_segments,
            nn_s=round(self.nn_s, decimals),
        )
        return out


@dataclass(frozen=True)
class NNSeries:
    """NN intervals in time order: ``nn_ms`` (ms), ``time_s`` (time of each interval's end
    beat, s) and ``adjacent`` (True when the interval directly follows the previous one, sharing
    its beat; ``adjacent[0]`` is False)."""

    nn_ms: np.ndarray
    time_s: np.ndarray
    adjacent: np.ndarray


def gap_per_beat(n_beats: int, rows: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Gap flags per beat of a table from gap flags per interval of its readable beats.

    ``rows`` are the positions of the readable beats in the table and ``gap[j]`` flags the
    interval from readable beat ``j`` to ``j+1`` (the ``rows`` and ``gap`` of
    :class:`ecg.scoring.summary.BeatSequence`). Returns bool ``(n_beats,)``: True at the end beat
    of a gap interval, the ``gap`` argument of :func:`nn_mask`."""
    out = np.zeros(int(n_beats), bool)
    rows = np.asarray(rows, np.int64)
    if rows.size > 1:
        out[rows[1:]] = np.asarray(gap, bool)
    return out


def _artefact_free(rr: np.ndarray, max_change: float, window: int) -> np.ndarray:
    """Bool per interval of a candidate series: within ``max_change`` of the median of up to
    ``window // 2`` neighbours on each side (itself excluded); True where it has none."""
    m = rr.size
    half = max(1, window // 2)
    offsets = np.concatenate((np.arange(-half, 0), np.arange(1, half + 1)))
    idx = np.arange(m)[:, None] + offsets[None, :]
    valid = (idx >= 0) & (idx < m)
    neigh = np.where(valid, rr[np.clip(idx, 0, max(m - 1, 0))], np.nan)
    ok = np.ones(m, bool)
    has = valid.any(axis=1)
    if has.any():
        ref = np.nanmedian(neigh[has], axis=1)
        ok[has] = np.abs(rr[has] - ref) <= max_change * ref
    return ok


def _sorted_view(beats: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray | None]:
    samples = beats["sample"].to_numpy()
    if len(samples) > 1 and not np.all(np.diff(samples) >= 0):
        order = np.argsort(samples, kind="stable")
        return beats.iloc[order], order
    return beats, None


def nn_mask(
    beats: pd.DataFrame,
    fs: float,
    *,
    class_column: str = "pred_class",
    gap: np.ndarray | None = None,
    min_rr_s: float = 0.3,
    max_rr_s: float = 2.0,
    max_change: float | None = 0.2,
    change_window: int = 10,
    exclude_post_ectopic: int = 0,
) -> np.ndarray:
    """Bool per beat: the RR interval ending at the beat is an NN interval used for HRV.

    Parameters
    ----------
    beats
        Beat table (:mod:`ecg.scoring.schema`) with ``sample`` (samples at ``fs``) and
        ``class_column``; ``quality`` and ``af`` are used when present (absent: all readable,
        no AF). Rows need not be sorted; the result follows the rows given.
    fs
        Sampling frequency of ``sample``, Hz.
    class_column
        Column with the AAMI class of each beat (``pred_class``, ``ref_class``,
        ``reviewed_class``...).
    gap
        Optional bool per beat: the interval ending at the beat spans a gap in the signal
        (:func:`gap_per_beat`). Aligned with the rows given.
    min_rr_s, max_rr_s
        Physiologic limits of an NN interval, s, inclusive.
    max_change
        Artefact filter: largest relative difference from the local median of the candidate
        intervals (0.2 = 20 %); None disables it.
    change_window
        Number of neighbouring candidate intervals (half before, half after) of that median.
    exclude_post_ectopic
        N-N intervals after an interval touching an ectopic (S, V or F) beat that are excluded as
        well (0: none; 1: the interval after the compensatory pause).

    The criteria are in the module docstring. Raises ValueError for a missing column, a
    non-positive ``fs`` or a ``gap`` of the wrong length.
    """
    if fs <= 0:
        raise ValueError(f"fs must be positive, got {fs}")
    for col in ("sample", class_column):
        if col not in beats.columns:
            raise ValueError(f"beat table has no column {col!r}")
    if exclude_post_ectopic < 0 or change_window < 2:
        raise ValueError("exclude_post_ectopic must be >= 0 and change_window >= 2")
    n = len(beats)
    if gap is not None:
        gap = np.asarray(gap, bool)
        if gap.shape != (n,):
            raise ValueError(f"gap has shape {gap.shape}, the beat table {n} rows")
    df, order = _sorted_view(beats)
    if order is not None and gap is not None:
        gap = gap[order]
    out = np.zeros(n, bool)
    if n < 2:
        return out
    sample = df["sample"].to_numpy(dtype=np.int64)
    is_n = df[class_column].astype(str).to_numpy() == "N"
    ok_beat = is_n.copy()
    if "quality" in df.columns:
        ok_beat &= df["quality"].astype(str).to_numpy() != "unreadable"
    if "af" in df.columns:
        ok_beat &= ~df["af"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    rr = np.diff(sample) / float(fs)
    cand = ok_beat[:-1] & ok_beat[1:] & (rr >= min_rr_s) & (rr <= max_rr_s)
    if gap is not None:
        cand &= ~gap[1:]
    if exclude_post_ectopic:
        is_ectopic = np.isin(df[class_column].astype(str).to_numpy(), ECTOPIC_CLASSES)
        touches = is_ectopic[:-1] | is_ectopic[1:]  # coupling and compensatory intervals
        after = np.zeros(rr.size, bool)
        for k in range(1, min(exclude_post_ectopic, rr.size - 1) + 1):
            after[k:] |= touches[:-k]
        cand &= ~after
    if max_change is not None:
        idx = np.flatnonzero(cand)
        cand[idx] = _artefact_free(rr[idx], float(max_change), int(change_window))
    out[1:] = cand
    if order is not None:
        unsorted = np.zeros(n, bool)
        unsorted[order] = out
        return unsorted
    return out


def nn_series(beats: pd.DataFrame, fs: float, nn: np.ndarray) -> NNSeries:
    """The NN intervals of ``beats`` marked by ``nn`` (bool per beat, e.g. the table's ``nn``
    column or :func:`nn_mask`), in sample order. Times are ``time_s`` (``sample / fs`` when
    absent)."""
    if fs <= 0:
        raise ValueError(f"fs must be positive, got {fs}")
    nn = np.asarray(nn, bool)
    if nn.shape != (len(beats),):
        raise ValueError(f"nn has shape {nn.shape}, the beat table {len(beats)} rows")
    df, order = _sorted_view(beats)
    if order is not None:
        nn = nn[order]
    if len(df) < 2:
        empty = np.empty(0)
        return NNSeries(empty, empty, np.empty(0, bool))
    nn = nn.copy()
    nn[0] = False
    sample = df["sample"].to_numpy(dtype=np.int64)
    t = df["time_s"].to_numpy(dtype=np.float64) if "time_s" in df.columns else sample / float(fs)
    idx = np.flatnonzero(nn)
    nn_ms = (sample[idx] - sample[idx - 1]) * (1000.0 / float(fs))
    adjacent = nn[idx - 1]
    return NNSeries(nn_ms.astype(np.float64), t[idx].astype(np.float64), adjacent.astype(bool))


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def hrv_time(
    nn_ms: np.ndarray,
    time_s: np.ndarray | None = None,
    adjacent: np.ndarray | None = None,
    *,
    segment_s: float = 300.0,
    origin_s: float = 0.0,
    min_segment_coverage: float = 0.5,
    min_segments: int = 3,
) -> HRVTime:
    """Time-domain HRV of an NN interval series (definitions in the module docstring).

    Parameters
    ----------
    nn_ms
        NN intervals, ms, in time order.
    time_s
        Time of each interval's end beat, s (same clock as ``origin_s``). None: the series is
        taken as contiguous from ``origin_s`` (``origin_s + cumsum(nn_ms) / 1000``).
    adjacent
        Bool per interval: it directly follows the previous interval (they share a beat); the
        first interval's flag is ignored. None: all adjacent (a series without gaps).
    segment_s
        Segment length of SDANN and SDNN index, s (Task Force: 5 minutes).
    origin_s
        Start of the first segment, s.
    min_segment_coverage
        Share of a segment its NN intervals must cover for it to count.
    min_segments
        Segments that must count for SDANN and SDNN index.
    """
    nn_ms = np.asarray(nn_ms, dtype=np.float64).ravel()
    n = nn_ms.size
    if n and not (np.all(np.isfinite(nn_ms)) and np.all(nn_ms > 0)):
        raise ValueError("nn_ms must hold finite, positive intervals")
    if time_s is None:
        time_s = origin_s + np.cumsum(nn_ms) / 1000.0
    time_s = np.asarray(time_s, dtype=np.float64).ravel()
    adjacent = np.ones(n, bool) if adjacent is None else np.asarray(adjacent, bool).ravel()
    if time_s.size != n or adjacent.size != n:
        raise ValueError(f"nn_ms has {n} intervals, time_s {time_s.size}, adjacent {adjacent.size}")
    if segment_s <= 0 or min_segments < 1:
        raise ValueError("segment_s must be positive and min_segments at least 1")
    if n == 0:
        return HRVTime()
    pair = adjacent.copy()
    pair[0] = False
    diffs = np.diff(nn_ms)[pair[1:]]
    rmssd = pnn50 = None
    if diffs.size:
        rmssd = float(np.sqrt(np.mean(diffs**2)))
        pnn50 = float(100.0 * np.count_nonzero(np.abs(diffs) > NN50_MS) / diffs.size)
    # np.histogram semantics on exact edges k * 7.8125 ms (exact in binary)
    edges = np.arange(0, int(nn_ms.max() // TRIANGULAR_BIN_MS) + 2) * TRIANGULAR_BIN_MS
    heights = np.bincount(np.searchsorted(edges, nn_ms, side="right") - 1)
    seg = np.floor((time_s - origin_s) / segment_s).astype(np.int64)
    seg -= seg.min()
    cover = np.bincount(seg, weights=nn_ms) / 1000.0
    counts = np.bincount(seg)
    use = np.flatnonzero((cover >= min_segment_coverage * segment_s) & (counts >= 2))
    sdann = sdnni = None
    if use.size >= min_segments:
        means = np.bincount(seg, weights=nn_ms) / np.maximum(counts, 1)
        sq_dev = np.bincount(seg, weights=(nn_ms - means[seg]) ** 2)
        sds = np.sqrt(sq_dev[use] / (counts[use] - 1))
        sdann = _finite(float(np.std(means[use], ddof=1)))
        sdnni = _finite(float(np.mean(sds)))
    return HRVTime(
        mean_nn_ms=float(nn_ms.mean()),
        sdnn_ms=float(nn_ms.std(ddof=1)) if n >= 2 else None,
        sdann_ms=sdann,
        sdnn_index_ms=sdnni,
        rmssd_ms=rmssd,
        pnn50_pct=pnn50,
        triangular_index=float(n / heights.max()),
        n_intervals=int(n),
        n_pairs=int(diffs.size),
        n_segments=int(use.size) if sdann is not None else 0,
        nn_s=float(nn_ms.sum() / 1000.0),
    )


def hrv_from_beats(
    beats: pd.DataFrame,
    fs: float,
    *,
    nn: np.ndarray | None = None,
    segment_s: float = 300.0,
    min_segment_coverage: float = 0.5,
    min_segments: int = 3,
    **nn_options: Any,
) -> HRVTime:
    """Time-domain HRV of a whole recording's beat table.

    ``nn``: bool per beat (the table's ``nn`` column); None: :func:`nn_mask` with
    ``nn_options`` (``class_column``, ``gap``, ``min_rr_s``...). Segments run from time 0, the
    recording start."""
    if nn is None:
        nn = nn_mask(beats, fs, **nn_options)
    s = nn_series(beats, fs, nn)
    return hrv_time(
        s.nn_ms,
        s.time_s,
        s.adjacent,
        segment_s=segment_s,
        min_segment_coverage=min_segment_coverage,
        min_segments=min_segments,
    )


def hrv_by_period(
    beats: pd.DataFrame,
    fs: float,
    period_s: float = 3600.0,
    *,
    duration_s: float | None = None,
    nn: np.ndarray | None = None,
    segment_s: float = 300.0,
    min_segment_coverage: float = 0.5,
    min_segments: int = 3,
    **nn_options: Any,
) -> list[HRVTime]:
    """Time-domain HRV per period of ``period_s`` seconds from the recording start (hours by
    default): one :class:`HRVTime` per period, ``ceil(duration_s / period_s)`` of them (at least
    one when there are beats), like the summary's ``hourly`` rows.

    An NN interval belongs to the period of its end beat (the row whose ``nn`` is True), so
    ``table[table.nn]`` grouped by ``time_s // period_s`` gives the same intervals; an adjacent
    pair straddling a period boundary is not a pair in either period. ``duration_s``: recording
    length, s (None: the last beat's time). Segments of SDANN / SDNN index restart at each
    period's start. ``nn`` and ``nn_options`` as in :func:`hrv_from_beats`."""
    if period_s <= 0:
        raise ValueError(f"period_s must be positive, got {period_s}")
    if nn is None:
        nn = nn_mask(beats, fs, **nn_options)
    s = nn_series(beats, fs, nn)
    if duration_s is None:
        t_all = beats["time_s"] if "time_s" in beats.columns else beats["sample"] / float(fs)
        duration_s = float(t_all.max()) if len(beats) else 0.0
    n_periods = max(1, math.ceil(duration_s / period_s)) if duration_s > 0 else (1 if len(beats) else 0)
    period = np.clip(np.floor(s.time_s / period_s).astype(np.int64), 0, max(n_periods - 1, 0))
    out = []
    for k in range(n_periods):
        sel = period == k
        out.append(
            hrv_time(
                s.nn_ms[sel],
                s.time_s[sel],
                s.adjacent[sel],  # hrv_time never pairs a period's first interval
                segment_s=segment_s,
                origin_s=k * period_s,
                min_segment_coverage=min_segment_coverage,
                min_segments=min_segments,
            )
        )
    return out


__all__ = [
    "ECTOPIC_CLASSES",
    "NN50_MS",
    "TRIANGULAR_BIN_MS",
    "HRVTime",
    "NNSeries",
    "gap_per_beat",
    "hrv_by_period",
    "hrv_from_beats",
    "hrv_time",
    "nn_mask",
    "nn_series",
]
