"""Holter summary of a scored beat table (see :mod:`ecg.scoring.schema`), one function per section.

:func:`holter_summary` composes :func:`summarise_recording`, :func:`summarise_signal_quality`,
:func:`summarise_beats`, :func:`summarise_heart_rate`, :func:`summarise_hourly`,
:func:`summarise_ectopy`, :func:`summarise_af`, :func:`summarise_pauses` and
:func:`summarise_flags` into a typed :class:`~ecg.scoring.summary_types.HolterSummary`. Every
figure a clinician reads is defined here, once; the PDF, the dashboard and ``index.csv``
only read it.

Definitions
-----------
Times are seconds from the record start (``time_s``); RR intervals come from the ``sample``
column (``diff(sample) / fs``), interval *i* running from beat *i* to beat *i+1*.

*Readable beats.* A beat whose ``quality`` is ``"unreadable"`` (no analysed lead readable at
the beat, see :mod:`ecg.processing.quality`) is not classified (class Q) and is left out of
the heart rate, the ectopy counts, runs, patterns, pauses and AF burden: those sections use
the sequence of readable beats only. ``beats.analysed`` counts them; it is the denominator
of every burden.

*Gap intervals.* An RR interval between consecutive readable beats is a *gap interval* when
an unreadable beat lies between them, when it touches a masked sample of ``gap_mask``, or,
with ``quality``, when no analysed lead is readable across the whole interval. A gap interval
is never a pause, never enters a heart-rate value, and breaks every beat pattern (two V beats
either side of a gap are two isolated beats, not a couplet).

*Heart rate.* HR values are ``60 / mean(RR)`` over a sliding window of ``hr_window``
(default 8) consecutive RR intervals, every one of which must be valid: not a gap interval
and not longer than ``pause_threshold_s`` (pauses are reported as pauses, not as minimum
HR). Minimum and maximum HR are the extreme window values; their time is the time of the
window's first beat (the first such window when tied). Ectopic beats are included. The
mean HR is ``60 * count / sum`` over all non-gap RR intervals (pauses included, as they are
real time). Hourly trend: bins of 3600 s from the record start (not clock hours); an
interval, a window and a beat belong to the bin of their first beat.

*Ectopy*, for ``X`` in {V, S, F}, on the class sequence (``class_column``, by default the
predicted ``pred_class``; ``ref_class`` summarises the reference labels), consecutive beats
being readable beats not separated by a gap interval:

- a *run of X* is a maximal stretch of consecutive X beats. Length 1 = *isolated*, exactly 2
  = *couplet*, 3 or more = *run* (VT / SVT). ``isolated + 2*couplets + run beats = total``.
  Run rate = ``60 * (L - 1) / (t_last - t_first)`` (its internal RR); the *longest* run is
  the one with most beats, the *fastest* the one with the highest rate (first when tied).
- a *bigeminy cycle* is an ``N X`` pair, a *trigeminy cycle* an ``N N X`` triple, whose X is
  isolated. An *episode* is a chain of at least ``min_cycles`` (default 3) cycles directly
  following each other. ``N`` means class N only. ``beats`` counts every beat of the
  episodes, ``ectopic_beats`` only the X beats (also counted as *isolated*).
- *burden*: X beats in % of the analysed beats, and X beats per hour of analysable time (of
  the whole recording when the analysable time is unknown).

*AF.* With an ``af`` column (the beat lies in an atrial fibrillation / flutter episode, see
:mod:`ecg.processing.af`): an episode is a maximal stretch of consecutive ``af`` beats, from
its first to its last beat; its mean HR is ``60 * (beats - 1) / (t_last - t_first)``. The
burden is AF beats in % of the analysed beats.

*Pauses*: every non-gap RR interval longer than ``pause_threshold_s`` (strictly), between
readable beats, over signal readable on at least one analysed lead throughout; its time is
that of the beat before it. The longest one and the first ``max_listed`` are listed.

*Analysable time*: where at least one analysed lead is readable (``quality``), else where
``gap_mask`` is False, else ``analysable_s`` as given (None: unknown).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ecg.labels import AAMI_CLASSES
from ecg.processing.hrv import gap_per_beat, hrv_by_period, hrv_from_beats, nn_mask
from ecg.processing.quality import NOISY
from ecg.processing.quality import runs as true_runs
from ecg.scoring.summary_types import (
    ECTOPY_CLASSES,
    AFEpisodeSummary,
    AFSummary,
    BeatsSummary,
    ClassEctopy,
    DaySummary,
    EctopySummary,
    FlagsSummary,
    HeartRateSummary,
    HolterSummary,
    HourSummary,
    HRVPeriod,
    HRVSummary,
    PatternEvent,
    PatternSummary,
    PauseEvent,
    PausesSummary,
    QualitySegment,
    RateEvent,
    RecordingSummary,
    RunEvent,
    RunsSummary,
    SignalQualitySummary,
)

if TYPE_CHECKING:
    from ecg.processing.quality import SignalQuality  # noqa: F401 (annotations only)
    from ecg.scoring.score import ScoredRecord  # noqa: F401 (annotations only: score imports this module)

_SEP = -1  # class code of the separator inserted at gap intervals
#: Analysable time below which a recording is reported as having no analysable ECG, s.
MIN_ANALYSABLE_S = 5.0
#: Analysable share below which the summary warns, %.
LOW_ANALYSABLE_PCT = 50.0
MAX_QUALITY_SEGMENTS = 500


def format_hms(seconds: float | None) -> str | None:
    """Seconds as ``h:mm:ss`` (hours unbounded, rounded to the second); None stays None."""
    if seconds is None or not math.isfinite(seconds):
        return None
    total = int(round(seconds))
    sign = "-" if total < 0 else ""
    total = abs(total)
    return f"{sign}{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _num(x: object, nd: int | None = None) -> float | None:
    """A finite Python float (rounded to ``nd`` decimals) or None."""
    if x is None:
        return None
    v = float(x)  # type: ignore[arg-type]
    if not math.isfinite(v):
        return None
    return round(v, nd) if nd is not None else v


def _pct(part: float, whole: float, nd: int = 3) -> float | None:
    return _num(100.0 * part / whole, nd) if whole else None


def _run_starts_lengths(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = true_runs(mask)
    return r[:, 0], r[:, 1] - r[:, 0]


class Clock:
    """Event times: seconds, h:mm:ss and (with a start time) ISO clock time."""

    def __init__(self, start_time: datetime | None = None):
        self.start = start_time

    def clock(self, t: float | None) -> str | None:
        if self.start is None or t is None or not math.isfinite(t):
            return None
        return (self.start + timedelta(seconds=float(t))).isoformat(timespec="seconds")

    def fields(self, t: float | None) -> dict:
        return {"time_s": _num(t, 3), "elapsed": format_hms(t), "clock": self.clock(t)}


@dataclass(frozen=True)
class BeatSequence:
    """The readable beats of a table in sample order, with their RR intervals and gap flags
    (see the module docstring). ``rows`` are positions of these beats in the full table."""

    rows: np.ndarray  # int64 (m,)
    sample: np.ndarray  # int64 (m,)
    t: np.ndarray  # float64 (m,), s
    codes: np.ndarray  # int64 (m,): index into AAMI_CLASSES, len(AAMI_CLASSES) = no class
    af: np.ndarray  # bool (m,)
    rr: np.ndarray  # float64 (m-1,), s
    gap: np.ndarray  # bool (m-1,)
    fs: float

    @property
    def n(self) -> int:
        return int(self.sample.size)


def _gap_runs(gap_mask: np.ndarray | None, gap_runs: np.ndarray | None) -> np.ndarray:
    """(k, 2) int64 runs of not-analysable samples, from the runs or else the mask."""
    if gap_runs is not None:
        return np.asarray(gap_runs, dtype=np.int64).reshape(-1, 2)
    return true_runs(np.asarray(gap_mask, dtype=bool).ravel())


def beat_sequence(
    beats: pd.DataFrame,
    fs: float,
    class_column: str = "pred_class",
    *,
    quality: SignalQuality | None = None,
    gap_mask: np.ndarray | None = None,
    gap_runs: np.ndarray | None = None,
) -> BeatSequence:
    """The readable beats of ``beats`` (sorted by sample) with RR intervals and gap flags.
    ``gap_runs`` (k, 2): the True runs of ``gap_mask`` as start / stop (exclusive) samples,
    in order, given instead of the mask (for a long recording)."""
    n_all = len(beats)
    sample_all = beats["sample"].to_numpy(dtype=np.int64)
    readable = np.ones(n_all, bool)
    if "quality" in beats.columns:
        readable = beats["quality"].astype(str).to_numpy() != "unreadable"
    rows = np.flatnonzero(readable)
    sample = sample_all[rows]
    t = beats["time_s"].to_numpy(dtype=np.float64)[rows] if "time_s" in beats.columns else sample / fs
    cls = beats[class_column].to_numpy(dtype=object)[rows]
    codes = np.full(rows.size, len(AAMI_CLASSES), dtype=np.int64)
    for i, c in enumerate(AAMI_CLASSES):
        codes[cls == c] = i
    af = beats["af"].to_numpy(dtype=bool)[rows] if "af" in beats.columns else np.zeros(rows.size, bool)
    rr = np.diff(sample) / fs
    gap = np.diff(rows) > 1  # an unreadable beat in between
    if (gap_mask is not None or gap_runs is not None) and rr.size:
        g = _gap_runs(gap_mask, gap_runs)
        if g.size:
            k = np.searchsorted(g[:, 1], sample[:-1], side="right")
            inside = k < g.shape[0]
            touches = np.zeros(rr.size, bool)
            touches[inside] = g[k[inside], 0] <= sample[1:][inside]
            gap |= touches
    if quality is not None and rr.size:
        gap |= ~np.asarray(quality.readable_between(sample[:-1], sample[1:]), bool)
    return BeatSequence(rows, sample, t, codes, af, rr, gap, float(fs))


# ------------------------------------------------------------------------------------ sections


def summarise_recording(
    record: str,
    duration_s: float,
    fs: float,
    *,
    start_time: datetime | None = None,
    leads: Sequence[str] = (),
    analysed_leads: Sequence[str] = (),
    bundle_version: str = "",
    dropped_beats: dict[str, int] | None = None,
) -> RecordingSummary:
    return RecordingSummary(
        record=str(record),
        duration_s=_num(duration_s, 3),
        duration_hms=format_hms(duration_s),
        fs=_num(fs),
        start_time=start_time.isoformat() if start_time is not None else None,
        leads=[str(x) for x in leads],
        analysed_leads=[str(x) for x in analysed_leads],
        bundle_version=str(bundle_version),
        dropped_beats={str(k): int(v) for k, v in (dropped_beats or {}).items()},
    )


def summarise_signal_quality(
    duration_s: float,
    fs: float,
    clock: Clock,
    *,
    quality: SignalQuality | None = None,
    gap_mask: np.ndarray | None = None,
    analysable_s: float | None = None,
    analysed_leads: Sequence[str] = (),
    gap_runs: np.ndarray | None = None,
) -> SignalQualitySummary:
    """Analysable time, unreadable time and spans (see the module docstring)."""
    method = window_s = noisy_s = None
    spans: list[tuple[float, float, tuple[str, ...]]] = []
    if quality is not None:
        analysable_s = float(quality.analysable_s())
        spans = list(quality.unreadable_segments())
        method, window_s = quality.method, quality.window / quality.fs
        best = quality.best()
        sizes = np.minimum(quality.window, quality.n_samples - np.arange(best.size) * quality.window)
        noisy_s = float(sizes[best == NOISY].sum() / quality.fs)
    elif gap_mask is not None or gap_runs is not None:
        g = _gap_runs(gap_mask, gap_runs)
        if analysable_s is None:
            n = np.asarray(gap_mask).size if gap_mask is not None else int(round(duration_s * fs))
            analysable_s = float(n - int((g[:, 1] - g[:, 0]).sum())) / fs
        spans = [(a / fs, b / fs, tuple(analysed_leads)) for a, b in g]
    unreadable_s = max(0.0, duration_s - analysable_s) if analysable_s is not None else None
    segments = [
        QualitySegment(_num(a, 3), _num(b, 3), list(leads), format_hms(a), clock.clock(a))
        for a, b, leads in spans[:MAX_QUALITY_SEGMENTS]
    ]
    warning = None
    if analysable_s is not None and duration_s > 0:
        if analysable_s < MIN_ANALYSABLE_S:
            warning = (
                "No analysable ECG: the signal is unreadable throughout (noise, lead off or saturation); "
                "no beat was classified."
            )
        elif 100.0 * analysable_s / duration_s < LOW_ANALYSABLE_PCT:
            warning = (
                f"Only {100.0 * analysable_s / duration_s:.0f}% of the recording is analysable; figures cover "
                "the readable signal only."
            )
    return SignalQualitySummary(
        method=method,
        window_s=_num(window_s, 3),
        analysable_s=_num(analysable_s, 3),
        analysable_hms=format_hms(analysable_s),
        analysable_pct=_pct(analysable_s, duration_s, 2) if analysable_s is not None and duration_s > 0 else None,
        unreadable_s=_num(unreadable_s, 3),
        noisy_s=_num(noisy_s, 3),
        segments=segments,
        segments_total=len(spans),
        warning=warning,
    )


def summarise_beats(beats: pd.DataFrame, seq: BeatSequence, class_column: str) -> BeatsSummary:
    cls = beats[class_column].to_numpy(dtype=object)
    by_class = {c: int(np.count_nonzero(cls == c)) for c in AAMI_CLASSES}
    n = len(beats)
    return BeatsSummary(
        total=int(n),
        by_class=by_class,
        analysed=seq.n,
        in_unreadable_signal=int(n - seq.n),
        unclassified=int(n - sum(by_class.values())),
    )


def _hr_windows(seq: BeatSequence, valid: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """First-beat index and rate (bpm) of every window of ``w`` consecutive valid RR intervals."""
    if seq.rr.size < w:
        return np.empty(0, np.int64), np.empty(0)
    # integer sample sums: exact however long the recording
    csum = np.concatenate(([0], np.cumsum(np.where(valid, np.diff(seq.sample), 0))))
    cbad = np.concatenate(([0], np.cumsum(~valid)))
    win_sum = csum[w:] - csum[:-w]
    ok = ((cbad[w:] - cbad[:-w]) == 0) & (win_sum > 0)
    return np.flatnonzero(ok), 60.0 * w * seq.fs / win_sum[ok]


def summarise_heart_rate(
    seq: BeatSequence, clock: Clock, pause_threshold_s: float, hr_window: int
) -> tuple[HeartRateSummary, np.ndarray, np.ndarray]:
    """The heart-rate section, plus the HR windows (first beat index, bpm) for the hourly trend."""
    valid = ~seq.gap & (seq.rr <= pause_threshold_s)
    nongap = seq.rr[~seq.gap]
    mean_bpm = 60.0 * nongap.size / nongap.sum() if nongap.size and nongap.sum() > 0 else None
    win_start, win_bpm = _hr_windows(seq, valid, hr_window)

    def event(i: int) -> RateEvent:
        return RateEvent(**clock.fields(seq.t[win_start[i]]), bpm=_num(win_bpm[i], 2))

    hr = HeartRateSummary(
        definition=f"60 / mean of {hr_window} consecutive RR intervals, none spanning a gap or longer than "
        f"{pause_threshold_s} s; time = window's first beat",
        window_intervals=hr_window,
        mean_bpm=_num(mean_bpm, 2),
        min=event(int(np.argmin(win_bpm))) if win_bpm.size else None,
        max=event(int(np.argmax(win_bpm))) if win_bpm.size else None,
        rr_intervals=int(seq.rr.size),
        gap_intervals=int(seq.gap.sum()),
        pause_intervals=int(((seq.rr > pause_threshold_s) & ~seq.gap).sum()),
    )
    return hr, win_start, win_bpm


def _periodic_episodes(is_x: np.ndarray, is_n: np.ndarray, period: int, min_cycles: int) -> list[tuple[int, int]]:
    """Bigeminy (period 2) / trigeminy (period 3) episodes in (extended) sequence index space:
    ``(first beat index, number of cycles)``, sorted by first beat."""
    n = is_x.size
    if n < period * min_cycles:
        return []
    next_not_x = np.ones(n, bool)
    next_not_x[:-1] = ~is_x[1:]
    cyc = is_x & next_not_x
    cyc[: period - 1] = False
    for j in range(1, period):
        prev_n = np.zeros(n, bool)
        prev_n[j:] = is_n[:-j]
        cyc &= prev_n
    out = []
    for r in range(period):
        starts, lengths = _run_starts_lengths(cyc[r::period])
        for s, k in zip(starts, lengths):
            if k >= min_cycles:
                out.append((r + period * int(s) - (period - 1), int(k)))
    out.sort()
    return out


def _class_ectopy(
    x: str,
    seq: BeatSequence,
    codes_ext: np.ndarray,
    beat_of_ext: np.ndarray,
    clock: Clock,
    hours: float | None,
    min_cycles: int,
    max_listed: int,
) -> ClassEctopy:
    code = {c: i for i, c in enumerate(AAMI_CLASSES)}
    is_x_ext = codes_ext == code[x]
    starts, lengths = _run_starts_lengths(is_x_ext)
    first = beat_of_ext[starts] if starts.size else np.empty(0, np.int64)
    last = first + lengths - 1
    is_run = lengths >= 3
    r_first, r_last, r_len = first[is_run], last[is_run], lengths[is_run]
    span = (seq.sample[r_last] - seq.sample[r_first]) / seq.fs
    r_bpm = np.where(span > 0, 60.0 * (r_len - 1) / np.where(span > 0, span, 1.0), np.nan)

    def run_event(j: int) -> RunEvent:
        return RunEvent(**clock.fields(seq.t[r_first[j]]), beats=int(r_len[j]), bpm=_num(r_bpm[j], 2))

    fastest = run_event(int(np.nanargmax(r_bpm))) if r_len.size and np.isfinite(r_bpm).any() else None
    patterns = {}
    for name, period in (("bigeminy", 2), ("trigeminy", 3)):
        eps = _periodic_episodes(is_x_ext, codes_ext == code["N"], period, min_cycles)
        cycles = [k for _, k in eps]
        longest = None
        if eps:
            j = int(np.argmax(cycles))
            longest = PatternEvent(**clock.fields(seq.t[beat_of_ext[eps[j][0]]]), cycles=cycles[j])
        patterns[name] = PatternSummary(
            episodes=len(eps), beats=int(sum(cycles) * period), ectopic_beats=int(sum(cycles)), longest=longest
        )
    total = int(np.count_nonzero(seq.codes == code[x]))
    return ClassEctopy(
        total=total,
        burden_pct=_pct(total, seq.n),
        per_hour=_num(total / hours, 2) if hours else None,
        isolated=int(np.count_nonzero(lengths == 1)),
        couplets=int(np.count_nonzero(lengths == 2)),
        runs=RunsSummary(
            count=int(r_len.size),
            beats=int(r_len.sum()),
            longest=run_event(int(np.argmax(r_len))) if r_len.size else None,
            fastest=fastest,
            listed=[run_event(j) for j in range(min(max_listed, r_len.size))],
        ),
        bigeminy=patterns["bigeminy"],
        trigeminy=patterns["trigeminy"],
    )


def summarise_ectopy(
    seq: BeatSequence, clock: Clock, hours: float | None, min_cycles: int = 3, max_listed: int = 50
) -> EctopySummary:
    """V, S and F ectopy on the readable beat sequence, broken at gap intervals."""
    gap_pos = np.flatnonzero(seq.gap) + 1
    codes_ext = np.insert(seq.codes, gap_pos, _SEP)
    beat_of_ext = np.insert(np.arange(seq.n), gap_pos, -1)
    return EctopySummary(
        **{
            x: _class_ectopy(x, seq, codes_ext, beat_of_ext, clock, hours, min_cycles, max_listed)
            for x in ECTOPY_CLASSES
        }
    )


def summarise_af(seq: BeatSequence, clock: Clock, max_listed: int = 50) -> AFSummary:
    """AF/flutter episodes from the readable beats' ``af`` flags (see the module docstring)."""
    starts, lengths = _run_starts_lengths(seq.af)
    eps = []
    for s, k in zip(starts.tolist(), lengths.tolist()):
        t0, t1 = float(seq.t[s]), float(seq.t[s + k - 1])
        dur = t1 - t0
        eps.append(
            AFEpisodeSummary(
                start_s=_num(t0, 3),
                end_s=_num(t1, 3),
                duration_s=_num(dur, 3),
                mean_hr_bpm=_num(60.0 * (k - 1) / dur, 2) if dur > 0 else None,
                beats=int(k),
                elapsed=format_hms(t0),
                clock=clock.clock(t0),
            )
        )
    longest = max(eps, key=lambda e: e.duration_s or 0.0) if eps else None
    af_beats = int(seq.af.sum())
    return AFSummary(
        definition="atrial fibrillation or flutter episodes found from RR irregularity (ecg.processing.af); "
        "an episode runs from its first to its last beat; burden = AF beats in % of analysed beats. "
        "No beat is called S inside an episode.",
        beats=af_beats,
        burden_pct=_pct(af_beats, seq.n, 2),
        duration_s=_num(sum(e.duration_s or 0.0 for e in eps), 3),
        episodes=eps[:max_listed],
        longest=longest,
    )


def summarise_pauses(seq: BeatSequence, clock: Clock, pause_threshold_s: float, max_listed: int = 50) -> PausesSummary:
    idx = np.flatnonzero((seq.rr > pause_threshold_s) & ~seq.gap)

    def event(i: int) -> PauseEvent:
        return PauseEvent(**clock.fields(seq.t[i]), duration_s=_num(seq.rr[i], 3))

    return PausesSummary(
        threshold_s=float(pause_threshold_s),
        count=int(idx.size),
        longest=event(int(idx[np.argmax(seq.rr[idx])])) if idx.size else None,
        listed=[event(int(i)) for i in idx[:max_listed]],
    )


def _period_rows(
    seq: BeatSequence, duration_s: float, clock: Clock, win_start: np.ndarray, win_bpm: np.ndarray, period_s: float
) -> list[dict]:
    """Per period of ``period_s`` seconds from the start: the fields of
    :class:`~ecg.scoring.summary_types.PeriodSummary`. The one definition behind the hourly
    and the daily breakdowns."""
    n = max(1, int(math.ceil(duration_s / period_s))) if duration_s > 0 else (1 if seq.n else 0)
    if not n:
        return []
    code = {c: i for i, c in enumerate(AAMI_CLASSES)}
    period = np.clip((seq.t // period_s).astype(np.int64), 0, n - 1) if seq.n else np.empty(0, np.int64)

    def per_period(weights: np.ndarray | None, at: np.ndarray = period) -> np.ndarray:
        return np.bincount(at, weights=weights, minlength=n)

    beats_p = per_period(None)
    counts = {x: per_period(seq.codes == code[x]) for x in ECTOPY_CLASSES}
    af_p = per_period(seq.af)
    period_rr = period[:-1] if seq.n else np.empty(0, np.int64)
    rr_cnt = per_period(~seq.gap, period_rr)
    rr_sum = per_period(np.where(seq.gap, 0.0, seq.rr), period_rr)
    period_win = period[win_start] if win_start.size else np.empty(0, np.int64)
    out = []
    for k in range(n):
        wb = win_bpm[period_win == k]
        start = period_s * k
        out.append(
            dict(
                **clock.fields(start),
                duration_s=_num(max(0.0, min(period_s, duration_s - start)), 3),
                beats=int(beats_p[k]),
                V=int(counts["V"][k]),
                S=int(counts["S"][k]),
                F=int(counts["F"][k]),
                mean_bpm=_num(60.0 * rr_cnt[k] / rr_sum[k], 2) if rr_sum[k] > 0 else None,
                min_bpm=_num(wb.min(), 2) if wb.size else None,
                max_bpm=_num(wb.max(), 2) if wb.size else None,
                af_beats=int(af_p[k]),
            )
        )
    return out


def summarise_hourly(
    seq: BeatSequence, duration_s: float, clock: Clock, win_start: np.ndarray, win_bpm: np.ndarray
) -> list[HourSummary]:
    """Hour by hour from the recording's start (:func:`_period_rows`)."""
    return [
        HourSummary(**row, hour=h)
        for h, row in enumerate(_period_rows(seq, duration_s, clock, win_start, win_bpm, 3600.0))
    ]


def summarise_daily(
    seq: BeatSequence, duration_s: float, clock: Clock, win_start: np.ndarray, win_bpm: np.ndarray
) -> list[DaySummary]:
    """24-hour period by period from the recording's start (:func:`_period_rows`); a
    multi-day Holter's daily breakdown (one entry for a recording up to 24 h)."""
    return [
        DaySummary(**row, day=d)
        for d, row in enumerate(_period_rows(seq, duration_s, clock, win_start, win_bpm, 86400.0))
    ]


HRV_DEFINITION = (
    "time-domain HRV (Task Force 1996) of NN intervals: both beats N, in readable signal, outside AF/flutter, "
    "no gap, 0.3-2.0 s and within 20 % of the local median interval (ecg.processing.hrv.nn_mask); SDANN and "
    "SDNN index over 5-minute segments at least half covered by NN intervals; SD with n-1"
)


def sequence_nn(df: pd.DataFrame, seq: BeatSequence, fs: float, class_column: str = "pred_class") -> np.ndarray:
    """The beat table's ``nn`` flags (:func:`ecg.processing.hrv.nn_mask`) with the gaps of
    ``seq`` (:func:`beat_sequence` of the same table, in sample order)."""
    return nn_mask(df, fs, class_column=class_column, gap=gap_per_beat(len(df), seq.rows, seq.gap))


def nn_column(
    beats: pd.DataFrame,
    fs: float,
    *,
    class_column: str = "pred_class",
    quality: SignalQuality | None = None,
    gap_mask: np.ndarray | None = None,
    gap_runs: np.ndarray | None = None,
) -> np.ndarray:
    """The beat table's ``nn`` column: the RR interval ending at each beat is an NN interval
    used for HRV (the one definition the summary's ``hrv`` section uses)."""
    seq = beat_sequence(beats, fs, class_column, quality=quality, gap_mask=gap_mask, gap_runs=gap_runs)
    return sequence_nn(beats, seq, fs, class_column)


def summarise_hrv(
    df: pd.DataFrame, seq: BeatSequence, fs: float, duration_s: float, clock: Clock, class_column: str
) -> HRVSummary:
    """Time-domain HRV of the whole recording and hour by hour (:mod:`ecg.processing.hrv`)."""
    nn = sequence_nn(df, seq, fs, class_column)
    whole = hrv_from_beats(df, fs, nn=nn).to_dict()
    hours = hrv_by_period(df, fs, 3600.0, duration_s=duration_s, nn=nn)
    return HRVSummary(
        definition=HRV_DEFINITION,
        **whole,
        hourly=[HRVPeriod(**clock.fields(3600.0 * h), hour=h, **x.to_dict()) for h, x in enumerate(hours)],
    )


def summarise_flags(beats: pd.DataFrame, anomaly_threshold: float | None = None) -> FlagsSummary:
    flagged = beats["flagged"].to_numpy(dtype=bool) if "flagged" in beats.columns else np.zeros(len(beats), bool)
    by_reason: dict[str, int] = {}
    if "flag_reason" in beats.columns and flagged.any():
        vals, counts = np.unique(beats["flag_reason"].astype(str).to_numpy()[flagged], return_counts=True)
        by_reason = {str(v): int(k) for v, k in zip(vals, counts)}
    return FlagsSummary(count=int(flagged.sum()), by_reason=by_reason, anomaly_threshold=_num(anomaly_threshold, 4))


# ------------------------------------------------------------------------------------ composition


def holter_summary(
    beats: pd.DataFrame,
    fs: float,
    duration_s: float,
    analysable_s: float | None = None,
    *,
    quality: SignalQuality | None = None,
    gap_mask: np.ndarray | None = None,
    gap_runs: np.ndarray | None = None,
    pause_threshold_s: float = 2.0,
    start_time: datetime | None = None,
    class_column: str = "pred_class",
    hr_window: int = 8,
    min_cycles: int = 3,
    max_listed: int = 50,
    record: str = "",
    leads: Sequence[str] = (),
    analysed_leads: Sequence[str] = (),
    bundle_version: str = "",
    anomaly_threshold: float | None = None,
    dropped_beats: dict[str, int] | None = None,
) -> HolterSummary:
    """Holter summary of one record's beat table; definitions in the module docstring.

    Parameters
    ----------
    beats
        Beat table with at least ``sample`` (int, samples at ``fs``) and ``class_column``;
        ``time_s`` (s; default ``sample / fs``), ``quality``, ``af``, ``flagged`` and
        ``flag_reason`` are used when present.
    fs
        Sampling frequency of ``sample``, Hz.
    duration_s
        Recording duration, s.
    analysable_s
        Analysable time, s, when neither ``quality`` nor ``gap_mask`` is given.
    quality
        The analysed leads' :class:`~ecg.processing.quality.SignalQuality`.
    gap_mask
        Optional bool array per sample (True = not analysable).
    gap_runs
        The same as ``gap_mask`` given as its True runs, (k, 2) start / stop (exclusive)
        samples in order: what a long recording passes instead of a mask per sample.
    pause_threshold_s
        RR intervals longer than this (s) are pauses.
    start_time
        Wall-clock start of the recording, for ``clock`` times.
    class_column
        Column holding the AAMI class of each beat (``pred_class`` or ``ref_class``).
    hr_window, min_cycles, max_listed
        RR intervals per heart-rate value; cycles of a bigeminy / trigeminy episode; longest
        list of pauses / runs / episodes given in full.
    record, leads, analysed_leads, bundle_version, anomaly_threshold, dropped_beats
        Provenance copied into the ``recording`` and ``flags`` sections.
    """
    if fs <= 0:
        raise ValueError(f"fs must be positive, got {fs}")
    if hr_window < 1 or min_cycles < 1:
        raise ValueError("hr_window and min_cycles must be at least 1")
    if class_column not in beats.columns:
        raise ValueError(f"beat table has no column {class_column!r}")
    df = beats
    if len(df) > 1 and not np.all(np.diff(df["sample"].to_numpy()) >= 0):
        df = df.sort_values("sample", kind="stable")
    clock = Clock(start_time)
    seq = beat_sequence(df, fs, class_column, quality=quality, gap_mask=gap_mask, gap_runs=gap_runs)
    sq = summarise_signal_quality(
        duration_s,
        fs,
        clock,
        quality=quality,
        gap_mask=gap_mask,
        analysable_s=analysable_s,
        analysed_leads=analysed_leads,
        gap_runs=gap_runs,
    )
    hours_basis = sq.analysable_s if sq.analysable_s is not None else duration_s
    hours = hours_basis / 3600.0 if hours_basis and hours_basis > 0 else None
    heart_rate, win_start, win_bpm = summarise_heart_rate(seq, clock, pause_threshold_s, hr_window)
    summary = HolterSummary(
        class_column=class_column,
        recording=summarise_recording(
            record,
            duration_s,
            fs,
            start_time=start_time,
            leads=leads,
            analysed_leads=analysed_leads,
            bundle_version=bundle_version,
            dropped_beats=dropped_beats,
        ),
        signal_quality=sq,
        beats=summarise_beats(df, seq, class_column),
        heart_rate=heart_rate,
        hourly=summarise_hourly(seq, duration_s, clock, win_start, win_bpm),
        daily=summarise_daily(seq, duration_s, clock, win_start, win_bpm),
        hrv=summarise_hrv(df, seq, fs, duration_s, clock, class_column),
        ectopy=summarise_ectopy(seq, clock, hours, min_cycles, max_listed),
        af=summarise_af(seq, clock, max_listed),
        pauses=summarise_pauses(seq, clock, pause_threshold_s, max_listed),
        flags=summarise_flags(df, anomaly_threshold),
        definitions={
            "runs": "isolated = 1 beat, couplet = exactly 2, run = 3 or more consecutive beats of the class; "
            "gaps and unreadable signal break sequences",
            "bigeminy": f"at least {min_cycles} consecutive N-X cycles with isolated X",
            "trigeminy": f"at least {min_cycles} consecutive N-N-X cycles with isolated X",
            "burden": "beats of the class in % of the analysed beats (beats in readable signal)",
            "burden_per_hour": "per hour of analysable time"
            if sq.analysable_s is not None
            else "per hour of recording",
            "pause": f"RR interval > {pause_threshold_s} s between readable beats, over signal readable on at least "
            "one analysed lead throughout",
            "analysable": "time where at least one analysed lead is readable (ecg.processing.quality)",
        },
    )
    if sq.warning:
        summary.warnings.append(sq.warning)
    return summary


def summarise_scored(
    scored: ScoredRecord, beats: pd.DataFrame | None = None, class_column: str = "pred_class"
) -> HolterSummary:
    """The Holter summary (:func:`holter_summary`) of a scored record's ``beats`` (default
    ``scored.beats``; e.g. a reviewed table with ``class_column="effective_label"``), with the
    scoring run's signal quality, gaps, threshold and provenance."""
    rec = scored.record
    fs = float(rec.fs)
    return holter_summary(
        scored.beats if beats is None else beats,
        fs,
        rec.n_samples / fs,
        quality=scored.quality,
        gap_runs=scored.gap_runs,
        analysable_s=None if scored.quality is not None else scored.analysable_s,
        start_time=rec.start_time,
        class_column=class_column,
        record=rec.name,
        leads=rec.lead_names,
        analysed_leads=scored.leads,
        bundle_version=scored.bundle_version,
        anomaly_threshold=scored.threshold,
        dropped_beats=scored.dropped,
    )


__all__ = [
    "BeatSequence",
    "Clock",
    "beat_sequence",
    "format_hms",
    "HRV_DEFINITION",
    "holter_summary",
    "nn_column",
    "sequence_nn",
    "summarise_af",
    "summarise_beats",
    "summarise_daily",
    "summarise_ectopy",
    "summarise_flags",
    "summarise_heart_rate",
    "summarise_hourly",
    "summarise_hrv",
    "summarise_pauses",
    "summarise_recording",
    "summarise_scored",
    "summarise_signal_quality",
]
