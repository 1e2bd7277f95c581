"""Holter-style summary of a scored beat table (see :mod:`ecg.scoring.schema`).

:func:`holter_summary` turns the per-beat table of one record into a JSON-serialisable dict
(Python builtins only: dict, list, str, int, float, bool, None).

Definitions
-----------
Times are seconds from the record start (``time_s``); RR intervals are computed from the
``sample`` column (``diff(sample) / fs``), interval *i* running from beat *i* to beat *i+1*.
Every event time is reported as ``{"time_s", "elapsed" ("h:mm:ss"), "clock"}`` where
``clock`` is an ISO timestamp when ``start_time`` is given, else ``None``.

*Unanalysable gaps.* With ``gap_mask`` (bool per sample, True = not analysable, as
:func:`ecg.processing.quality.gap_mask` returns) an RR interval whose span ``[s_i, s_{i+1}]``
touches a masked sample is a *gap interval*: it is never a pause, never enters a heart-rate
value, and it breaks every beat pattern (two V beats either side of a gap are two isolated
beats, not a couplet). Without a mask no interval is a gap interval.

*Heart rate.* HR values are ``60 / mean(RR)`` over a sliding window of ``hr_window``
(default 8) consecutive RR intervals, every one of which must be valid: not a gap interval
and not longer than ``pause_threshold_s`` (pauses are reported as pauses, not as minimum
HR). Minimum and maximum HR are the extreme window values; their time is the time of the
window's first beat (the first such window when tied). Ectopic beats are included. The
mean HR is ``60 * count / sum`` over all non-gap RR intervals (pauses included, as they
are real time). Hourly trend: bins of 3600 s from the record start (not clock hours); an
interval, a window and a beat belong to the bin of their first beat.

*Ectopy*, for ``X`` in {V, S}, on the class sequence (``class_column``, by default the
predicted ``pred_class``; ``ref_class`` summarises the reference labels), consecutive beats
being beats not separated by a gap interval:

- a *run of X* is a maximal stretch of consecutive X beats. Length 1 = *isolated*,
  exactly 2 = *couplet*, 3 or more = *run* (VT / SVT). ``isolated + 2*couplets + run
  beats = total X``. Run rate = ``60 * (L - 1) / (t_last - t_first)`` (its internal RR);
  the *longest* run is the one with most beats, the *fastest* the one with the highest rate
  (the first one when tied).
- a *bigeminy cycle* is an ``N X`` pair, a *trigeminy cycle* an ``N N X`` triple, whose X
  is isolated (the beat after it is not X). An *episode* is a chain of at least
  ``min_cycles`` (default 3) cycles directly following each other, e.g. ``N V N V N V``
  (bigeminy) or ``N N V N N V N N V`` (trigeminy). ``N`` means class N only (an S inside
  a V pattern breaks it). ``beats`` counts every beat of the episodes (N and X),
  ``ectopic_beats`` only the X beats; these X beats are also counted as *isolated*.
- *burden*: X beats in % of all beats, and X beats per hour of analysable time (of the
  whole recording when the analysable time is unknown).

*Irregular rhythm*: with an ``irregular_rhythm`` column, the number and share of beats in
AF-like irregular rhythm (see :mod:`ecg.scoring.schema`).

*Pauses*: every non-gap RR interval longer than ``pause_threshold_s`` (strictly); its time
is that of the beat before it. The longest one and the first ``max_listed`` are reported.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ecg.labels import AAMI_CLASSES

_SEP = -1  # class code of the separator inserted at gap intervals


def format_hms(seconds: float | None) -> str | None:
    """Seconds as ``h:mm:ss`` (hours unbounded, rounded to the second); None stays None."""
    if seconds is None or not math.isfinite(seconds):
        return None
    total = int(round(seconds))
    sign = "-" if total < 0 else ""
    total = abs(total)
    return f"{sign}{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _num(x: Any, nd: int | None = None) -> float | None:
    """A finite Python float (rounded to ``nd`` decimals) or None."""
    if x is None:
        return None
    v = float(x)
    if not math.isfinite(v):
        return None
    return round(v, nd) if nd is not None else v


def _true_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and lengths of the True runs of a 1-D boolean array."""
    m = np.asarray(mask, dtype=bool)
    if m.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    change = np.flatnonzero(m[1:] != m[:-1]) + 1
    edges = np.concatenate(([0], change, [m.size]))
    starts = edges[:-1][m[edges[:-1]]]
    stops = edges[1:][m[edges[:-1]]]
    return starts.astype(np.int64), (stops - starts).astype(np.int64)


class _Clock:
    def __init__(self, start_time: datetime | None):
        self.start = start_time

    def event(self, t: float) -> dict:
        return {"time_s": _num(t, 3), "elapsed": format_hms(t),
                "clock": (self.start + timedelta(seconds=float(t))).isoformat(timespec="seconds")
                if self.start is not None else None}


def _periodic_episodes(is_x: np.ndarray, is_n: np.ndarray, period: int, min_cycles: int) -> list[tuple[int, int]]:
    """Bigeminy (period 2) / trigeminy (period 3) episodes in (extended) sequence index space:
    ``(first beat index, number of cycles)``, sorted by first beat."""
    n = is_x.size
    if n < period * min_cycles:
        return []
    next_not_x = np.ones(n, bool)
    next_not_x[:-1] = ~is_x[1:]
    cyc = is_x & next_not_x
    cyc[:period - 1] = False
    for j in range(1, period):
        prev_n = np.zeros(n, bool)
        prev_n[j:] = is_n[:-j]
        cyc &= prev_n
    out = []
    for r in range(period):
        starts, lengths = _true_runs(cyc[r::period])
        for s, k in zip(starts, lengths):
            if k >= min_cycles:
                first_x = r + period * int(s)
                out.append((first_x - (period - 1), int(k)))
    out.sort()
    return out


def holter_summary(
    beats: pd.DataFrame,
    fs: float,
    duration_s: float,
    analysable_s: float | None = None,
    *,
    pause_threshold_s: float = 2.0,
    start_time: datetime | None = None,
    class_column: str = "pred_class",
    gap_mask: np.ndarray | None = None,
    hr_window: int = 8,
    min_cycles: int = 3,
    max_listed: int = 50,
) -> dict:
    """Holter summary of one record's beat table; definitions in the module docstring.

    Parameters
    ----------
    beats
        Beat table with at least ``sample`` (int, samples at ``fs``) and ``class_column``;
        ``time_s`` (s; default ``sample / fs``) and ``flagged`` / ``flag_reason`` are used
        when present. Rows are sorted by ``sample``.
    fs
        Sampling frequency of ``sample``, Hz.
    duration_s
        Recording duration, s.
    analysable_s
        Analysable time, s. ``None``: derived from ``gap_mask`` when given, else unknown
        (``analysable_pct`` is then ``None``).
    pause_threshold_s
        RR intervals longer than this (s) are pauses.
    start_time
        Wall-clock start of the recording, for ``clock`` times.
    class_column
        Column holding the AAMI class of each beat (``pred_class`` or ``ref_class``).
    gap_mask
        Optional bool array per sample (True = not analysable).
    hr_window
        Number of consecutive RR intervals averaged per heart-rate value.
    min_cycles
        Minimum number of cycles of a bigeminy / trigeminy episode.
    max_listed
        Longest list of pauses / runs given in full.
    """
    if fs <= 0:
        raise ValueError(f"fs must be positive, got {fs}")
    if hr_window < 1 or min_cycles < 1:
        raise ValueError("hr_window and min_cycles must be at least 1")
    if class_column not in beats.columns:
        raise ValueError(f"beat table has no column {class_column!r}")
    clock = _Clock(start_time)
    df = beats
    if len(df) > 1 and not np.all(np.diff(df["sample"].to_numpy()) >= 0):
        df = df.sort_values("sample", kind="stable")
    sample = df["sample"].to_numpy(dtype=np.int64)
    n = sample.size
    t = df["time_s"].to_numpy(dtype=np.float64) if "time_s" in df.columns else sample / fs
    cls = df[class_column].to_numpy(dtype=object)
    codes = np.full(n, len(AAMI_CLASSES), dtype=np.int64)  # "other" / unlabelled
    for i, c in enumerate(AAMI_CLASSES):
        codes[cls == c] = i
    code = {c: i for i, c in enumerate(AAMI_CLASSES)}

    # --- RR intervals, gap and pause flags -------------------------------------------------
    rr = np.diff(sample) / fs
    gap = np.zeros(rr.size, bool)
    if gap_mask is not None:
        gm = np.asarray(gap_mask, dtype=bool).ravel()
        g_start, g_len = _true_runs(gm)  # masked runs [g_start, g_stop)
        g_stop = g_start + g_len
        if g_start.size and rr.size:
            # interval [a, b] touches a run when the first run ending after a starts at or before b
            k = np.searchsorted(g_stop, sample[:-1], side="right")
            inside = k < g_start.size
            gap[inside] = g_start[k[inside]] <= sample[1:][inside]
        if analysable_s is None:
            analysable_s = float(gm.size - int(g_len.sum())) / fs
    pause = (rr > pause_threshold_s) & ~gap
    valid_hr = ~gap & (rr <= pause_threshold_s)

    # --- heart rate -------------------------------------------------------------------------
    nongap_rr = rr[~gap]
    mean_bpm = 60.0 * nongap_rr.size / nongap_rr.sum() if nongap_rr.size and nongap_rr.sum() > 0 else None
    w = hr_window
    if rr.size >= w:
        # integer sample sums: exact however long the recording
        csum = np.concatenate(([0], np.cumsum(np.where(valid_hr, np.diff(sample), 0))))
        cbad = np.concatenate(([0], np.cumsum(~valid_hr)))
        win_sum = csum[w:] - csum[:-w]
        win_ok = ((cbad[w:] - cbad[:-w]) == 0) & (win_sum > 0)
        win_start = np.flatnonzero(win_ok)  # index of the window's first beat
        win_bpm = 60.0 * w * fs / win_sum[win_ok]
    else:
        win_start = np.empty(0, np.int64)
        win_bpm = np.empty(0)

    def hr_event(idx: int) -> dict:
        return {"bpm": _num(win_bpm[idx], 2), **clock.event(t[win_start[idx]])}

    heart_rate = {
        "definition": f"60 / mean of {w} consecutive RR intervals, none spanning a gap or longer than "
                      f"{pause_threshold_s} s; time = window's first beat",
        "window_intervals": w,
        "mean_bpm": _num(mean_bpm, 2),
        "min": hr_event(int(np.argmin(win_bpm))) if win_bpm.size else None,
        "max": hr_event(int(np.argmax(win_bpm))) if win_bpm.size else None,
        "rr_intervals": int(rr.size),
        "gap_intervals": int(gap.sum()),
        "pause_intervals": int(pause.sum()),
    }

    # --- recording -------------------------------------------------------------------------
    hours_basis_s = analysable_s if analysable_s is not None else duration_s
    recording = {
        "duration_s": _num(duration_s, 3),
        "duration_hms": format_hms(duration_s),
        "analysable_s": _num(analysable_s, 3),
        "analysable_hms": format_hms(analysable_s),
        "analysable_pct": _num(100.0 * analysable_s / duration_s, 2)
        if analysable_s is not None and duration_s > 0 else None,
        "start_time": start_time.isoformat() if start_time is not None else None,
        "fs": _num(fs),
    }

    # --- beats -----------------------------------------------------------------------------
    by_class = {c: int(np.count_nonzero(codes == i)) for i, c in enumerate(AAMI_CLASSES)}
    flagged = df["flagged"].to_numpy(dtype=bool) if "flagged" in df.columns else np.zeros(n, bool)
    beats_out: dict[str, Any] = {
        "total": int(n),
        "by_class": by_class,
        "unclassified": int(n - sum(by_class.values())),
        "flagged": int(flagged.sum()),
    }
    if "flag_reason" in df.columns:
        reasons = df["flag_reason"].to_numpy(dtype=object)[flagged]
        vals, counts = np.unique(np.asarray([str(r) for r in reasons], dtype=object), return_counts=True) \
            if reasons.size else (np.empty(0), np.empty(0))
        beats_out["flagged_by_reason"] = {str(v): int(k) for v, k in zip(vals, counts)}
    if "irregular_rhythm" in df.columns:
        irregular = df["irregular_rhythm"].to_numpy(dtype=bool)
        beats_out["irregular_rhythm"] = {
            "beats": int(irregular.sum()),
            "pct": _num(100.0 * irregular.sum() / n, 2) if n else None,
            "definition": "beats whose surrounding 65-beat RR pattern is irregularly irregular (AF-like); "
                          "a screen for atrial fibrillation or flutter, not a diagnosis. No beat is called "
                          "S there.",
        }

    # --- extended class sequence: a separator after every gap interval ---------------------
    gap_pos = np.flatnonzero(gap) + 1
    codes_ext = np.insert(codes, gap_pos, _SEP)
    beat_of_ext = np.insert(np.arange(n), gap_pos, -1)
    is_n_ext = codes_ext == code["N"]

    total_hours = hours_basis_s / 3600.0 if hours_basis_s and hours_basis_s > 0 else None
    ectopy = {}
    for x in ("V", "S"):
        is_x_ext = codes_ext == code[x]
        starts, lengths = _true_runs(is_x_ext)
        first = beat_of_ext[starts] if starts.size else np.empty(0, np.int64)
        last = first + lengths - 1
        is_run = lengths >= 3
        r_first, r_last, r_len = first[is_run], last[is_run], lengths[is_run]
        span = (sample[r_last] - sample[r_first]) / fs
        r_bpm = np.where(span > 0, 60.0 * (r_len - 1) / np.where(span > 0, span, 1.0), np.nan)

        def run_event(j: int) -> dict:
            return {"beats": int(r_len[j]), "bpm": _num(r_bpm[j], 2), **clock.event(t[r_first[j]])}

        fastest = None
        if r_len.size and np.isfinite(r_bpm).any():
            fastest = run_event(int(np.nanargmax(r_bpm)))
        total_x = by_class[x]
        episodes = {}
        for name, period in (("bigeminy", 2), ("trigeminy", 3)):
            eps = _periodic_episodes(is_x_ext, is_n_ext, period, min_cycles)
            cycles = [k for _, k in eps]
            longest = None
            if eps:
                j = int(np.argmax(cycles))
                longest = {"cycles": cycles[j], **clock.event(t[beat_of_ext[eps[j][0]]])}
            episodes[name] = {
                "episodes": len(eps),
                "beats": int(sum(cycles) * period),
                "ectopic_beats": int(sum(cycles)),
                "longest": longest,
            }
        ectopy[x] = {
            "total": int(total_x),
            "burden_pct": _num(100.0 * total_x / n, 3) if n else None,
            "per_hour": _num(total_x / total_hours, 2) if total_hours else None,
            "isolated": int(np.count_nonzero(lengths == 1)),
            "couplets": int(np.count_nonzero(lengths == 2)),
            "runs": {
                "count": int(r_len.size),
                "beats": int(r_len.sum()),
                "longest": run_event(int(np.argmax(r_len))) if r_len.size else None,
                "fastest": fastest,
                "listed": [run_event(j) for j in range(min(max_listed, r_len.size))],
            },
            **episodes,
        }

    # --- pauses ----------------------------------------------------------------------------
    p_idx = np.flatnonzero(pause)

    def pause_event(i: int) -> dict:
        return {"duration_s": _num(rr[i], 3), **clock.event(t[i])}

    pauses = {
        "threshold_s": _num(pause_threshold_s),
        "count": int(p_idx.size),
        "longest": pause_event(int(p_idx[np.argmax(rr[p_idx])])) if p_idx.size else None,
        "listed": [pause_event(int(i)) for i in p_idx[:max_listed]],
    }

    # --- hourly trend ----------------------------------------------------------------------
    n_hours = max(1, int(math.ceil(duration_s / 3600.0))) if duration_s > 0 else (1 if n else 0)
    hourly = []
    if n_hours:
        hour_of_beat = np.clip((t // 3600.0).astype(np.int64), 0, n_hours - 1) if n else np.empty(0, np.int64)
        beats_h = np.bincount(hour_of_beat, minlength=n_hours)
        v_h = np.bincount(hour_of_beat, weights=codes == code["V"], minlength=n_hours)
        s_h = np.bincount(hour_of_beat, weights=codes == code["S"], minlength=n_hours)
        hour_of_rr = hour_of_beat[:-1] if n else np.empty(0, np.int64)
        rr_cnt = np.bincount(hour_of_rr, weights=~gap, minlength=n_hours)
        rr_sum = np.bincount(hour_of_rr, weights=np.where(gap, 0.0, rr), minlength=n_hours)
        hour_of_win = hour_of_beat[win_start] if win_start.size else np.empty(0, np.int64)
        for h in range(n_hours):
            wb = win_bpm[hour_of_win == h]
            start_s = 3600.0 * h
            hourly.append({
                "hour": h,
                **clock.event(start_s),
                "duration_s": _num(max(0.0, min(3600.0, duration_s - start_s)), 3),
                "beats": int(beats_h[h]),
                "V": int(v_h[h]),
                "S": int(s_h[h]),
                "mean_bpm": _num(60.0 * rr_cnt[h] / rr_sum[h], 2) if rr_sum[h] > 0 else None,
                "min_bpm": _num(wb.min(), 2) if wb.size else None,
                "max_bpm": _num(wb.max(), 2) if wb.size else None,
            })

    return {
        "class_column": class_column,
        "recording": recording,
        "beats": beats_out,
        "heart_rate": heart_rate,
        "hourly": hourly,
        "ectopy": ectopy,
        "pauses": pauses,
        "flagged": beats_out["flagged"],
        "definitions": {
            "runs": "isolated = 1 beat, couplet = exactly 2, run = 3 or more consecutive beats of the class; "
                    "gaps break sequences",
            "bigeminy": f"at least {min_cycles} consecutive N-X cycles with isolated X",
            "trigeminy": f"at least {min_cycles} consecutive N-N-X cycles with isolated X",
            "burden_per_hour": "per hour of analysable time" if analysable_s is not None else "per hour of recording",
            "pause": f"non-gap RR interval > {pause_threshold_s} s",
        },
    }


__all__ = ["format_hms", "holter_summary"]
