"""The ECG strips a Holter report prints, chosen by clinical rule.

:func:`choose_event_strips` reads the events from the record's typed Holter summary
(:class:`~ecg.scoring.summary_types.HolterSummary`) and the beat table (see
:mod:`ecg.scoring.schema`) and picks, in this order, a strip for each that exists:

1. the maximum and the minimum heart rate (the summary's HR window, centred);
2. the longest pause;
3. the longest and the fastest V run, a V couplet, the longest and the fastest S run;
4. the onset and the offset of the longest AF / flutter episode;
5. one example beat of each morphology family but the dominant one (``family`` column; the
   dominant family is the one holding most beats labelled N), largest family first;
6. while room remains (``max_strips``), the flagged beats with the highest anomaly scores
   (readable beats, not next to a pause; good signal before noisy).

Detections a reviewer marked artefact (``review_decision``) are never shown as an example.

Strips never show the same seconds: a strip is moved (keeping its event in view) to clear
the strips already chosen, and an event already in view in a chosen strip is added to that
strip's label instead. A strip is only placed over readable signal: no beat of the beat
table in it has quality ``"unreadable"`` and it meets no unreadable segment of the summary.
Each strip is labelled with its event(s) and the time, as clock time when the recording's
start is known (``HH:MM:SS``), else as ``H:MM:SS`` from the start.

This module is processing only: tables and numbers in, :class:`EventStrip` out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from ecg.scoring.summary_types import HolterSummary, RunEvent
from ecg.viz.grid import format_clock, format_hms, parse_start_time

#: RR (s) beyond which a beat is next to a pause: such beats are not shown as an anomaly example.
PAUSE_S = 2.0
#: Event kinds, in the order they are chosen.
EVENT_KINDS: tuple[str, ...] = (
    "hr_max",
    "hr_min",
    "pause_longest",
    "V_run_longest",
    "V_run_fastest",
    "V_couplet",
    "S_run_longest",
    "S_run_fastest",
    "af_onset",
    "af_offset",
    "family",
    "anomaly",
)


@dataclass(frozen=True)
class EventStrip:
    """One strip: samples ``[start_sample, end_sample)`` of the recording, centred on the
    event where the recording allows; ``centre_sample`` is the event's own sample (the beat
    it is about, or the first beat of the span). ``kinds`` names its events (from
    :data:`EVENT_KINDS`; several when events share the strip), ``label`` says them in words
    with their times, ``beat_row`` is the row position of the event's beat in the beat table
    (None when the event has none)."""

    kinds: tuple[str, ...]
    label: str
    start_sample: int
    end_sample: int
    centre_sample: int
    beat_row: int | None = None
    labels: tuple[str, ...] = field(default=(), repr=False)

    @property
    def kind(self) -> str:
        """The event the strip was placed for (its first kind)."""
        return self.kinds[0]


@dataclass(frozen=True)
class _Event:
    kind: str
    text: str  # what happened, without the time
    t_s: float  # the time said in the label, s
    first: int  # first sample that must be in view
    last: int  # last sample that must be in view
    centre: int
    beat_row: int | None


def _rows_at(times: np.ndarray, t_s: float | None) -> int | None:
    """Row of the beat at ``t_s`` (the summary rounds times to the millisecond)."""
    if t_s is None or not math.isfinite(float(t_s)) or times.size == 0:
        return None
    i = int(np.searchsorted(times, float(t_s) - 5e-4))
    return i if i < times.size and abs(times[i] - float(t_s)) <= 5e-3 else None


def _run_events(
    x: str, runs: tuple[tuple[str, RunEvent | None], ...], times: np.ndarray, sample: np.ndarray
) -> list[_Event]:
    out = []
    for what, ev in runs:
        if ev is None:
            continue
        i = _rows_at(times, ev.time_s)
        if i is None:
            continue
        j = min(i + max(int(ev.beats), 1) - 1, sample.size - 1)
        rate = f", {ev.bpm:.0f} bpm" if ev.bpm is not None else ""
        out.append(
            _Event(
                f"{x}_run_{what}",
                f"{what.capitalize()} {x} run: {int(ev.beats)} beats{rate}",
                float(times[i]),
                int(sample[i]),
                int(sample[j]),
                int(sample[i]),
                i,
            )
        )
    return out


def _couplet(cls: np.ndarray, readable: np.ndarray, good: np.ndarray, x: str) -> int | None:
    """Row of the first beat of a couplet of ``x`` (exactly two consecutive readable ``x``
    beats), in good signal when there is one; None when there is no couplet."""
    is_x = np.r_[False, (cls == x) & readable, False].astype(np.int8)
    d = np.diff(is_x)
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    pairs = starts[(ends - starts) == 2]
    if pairs.size == 0:
        return None
    ok = pairs[good[pairs] & good[pairs + 1]]
    return int(ok[0] if ok.size else pairs[0])


def _family_events(
    beats: pd.DataFrame, cls: np.ndarray, readable: np.ndarray, good: np.ndarray, near_pause: np.ndarray
) -> list[_Event]:
    """An example beat of each non-dominant family, largest family first: among its readable
    beats away from a pause (good signal first), the one whose anomaly score is nearest the
    family's median (a typical member)."""
    if "family" not in beats.columns or len(beats) == 0:
        return []
    fam = beats["family"].to_numpy(np.int64)
    ok = (fam >= 0) & readable & ~_artefact(beats)
    if not ok.any():
        return []
    k = int(fam[ok].max()) + 1
    size = np.bincount(fam[ok], minlength=k)
    n_normal = np.bincount(fam[ok & (cls == "N")], minlength=k)
    dominant = int(np.argmax(n_normal)) if n_normal.any() else int(np.argmax(size))
    score = beats["anomaly_score"].to_numpy(float) if "anomaly_score" in beats.columns else np.zeros(len(beats))
    sample = beats["sample"].to_numpy(np.int64)
    times = beats["time_s"].to_numpy(float)
    out = []
    for f in np.lexsort((np.arange(k), -size)):
        if f == dominant or size[f] == 0:
            continue
        rows = np.flatnonzero(ok & (fam == f))
        pick = rows[~near_pause[rows]] if (~near_pause[rows]).any() else rows
        pick = pick[good[pick]] if good[pick].any() else pick
        s = score[pick]
        med = np.nanmedian(s) if np.isfinite(s).any() else 0.0
        i = int(pick[np.argmin(np.where(np.isfinite(s), np.abs(s - med), np.inf))])
        labels, counts = np.unique(cls[rows], return_counts=True)
        mostly = str(labels[np.argmax(counts)])
        out.append(
            _Event(
                "family",
                f"Family {int(f)} example ({int(size[f]):,} beats, mostly {mostly})",
                float(times[i]),
                int(sample[i]),
                int(sample[i]),
                int(sample[i]),
                i,
            )
        )
    return out


def _clinical_events(
    summary: HolterSummary, beats: pd.DataFrame, fs: float, class_column: str = "pred_class"
) -> list[_Event]:
    """The events of rules 1-5 (see the module docstring), in order; absent events are left out."""
    times = beats["time_s"].to_numpy(float)
    sample = beats["sample"].to_numpy(np.int64)
    n = sample.size
    quality = beats["quality"].astype(str).to_numpy() if "quality" in beats.columns else np.full(n, "good")
    readable, good = quality != "unreadable", quality == "good"
    cls = beats[class_column].astype(str).to_numpy() if n else np.empty(0, object)
    rr_prev = np.nan_to_num(beats["rr_prev_s"].to_numpy(float), nan=0.0) if "rr_prev_s" in beats else np.zeros(n)
    rr_next = np.nan_to_num(beats["rr_next_s"].to_numpy(float), nan=0.0) if "rr_next_s" in beats else np.zeros(n)
    near_pause = (rr_prev > PAUSE_S) | (rr_next > PAUSE_S)
    events: list[_Event] = []

    hr = summary.heart_rate
    for kind, ev, what in (("hr_max", hr.max, "Maximum"), ("hr_min", hr.min, "Minimum")):
        i = _rows_at(times, ev.time_s) if ev is not None else None
        if i is None or ev is None:
            continue
        j = min(i + max(int(hr.window_intervals), 1), n - 1)
        rate = f" {ev.bpm:.0f} bpm" if ev.bpm is not None else ""
        events.append(
            _Event(kind, f"{what} heart rate{rate}", float(times[i]), int(sample[i]), int(sample[j]), int(sample[i]), i)
        )

    p = summary.pauses.longest
    i = _rows_at(times, p.time_s) if p is not None else None
    if p is not None and i is not None and p.duration_s is not None:
        end = int(sample[i] + round(float(p.duration_s) * fs))
        events.append(
            _Event(
                "pause_longest",
                f"Longest pause {p.duration_s:.2f} s",
                float(times[i]),
                int(sample[i]),
                end,
                (int(sample[i]) + end) // 2,
                i,
            )
        )

    for x in ("V", "S"):
        runs = summary.ectopy.of(x).runs
        events += _run_events(x, (("longest", runs.longest), ("fastest", runs.fastest)), times, sample)
        if x == "V":
            c = _couplet(cls, readable, good, "V")
            if c is not None:
                events.append(
                    _Event(
                        "V_couplet", "V couplet", float(times[c]), int(sample[c]), int(sample[c + 1]), int(sample[c]), c
                    )
                )

    ep = summary.af.longest
    if ep is not None and ep.start_s is not None and ep.end_s is not None:
        dur = f" (longest episode, {format_hms(ep.duration_s or 0.0, 0)})"
        for kind, t, what in (
            ("af_onset", ep.start_s, "AF / flutter onset"),
            ("af_offset", ep.end_s, "AF / flutter offset"),
        ):
            i = _rows_at(times, t)
            if i is not None:
                events.append(
                    _Event(kind, what + dur, float(times[i]), int(sample[i]), int(sample[i]), int(sample[i]), i)
                )

    events += _family_events(beats, cls, readable, good, near_pause)
    return events


def anomaly_candidates(beats: pd.DataFrame, pause_s: float = PAUSE_S) -> np.ndarray:
    """Row positions of the flagged beats that may be shown for their anomaly score, best
    first: readable beats (good before noisy) with a score, not next to a pause (an RR over
    ``pause_s``: the score's RR term is large there, and the pause is not the beat's
    anomaly), by score (ties by time)."""
    n = len(beats)
    if n == 0:
        return np.empty(0, np.int64)
    flagged = beats["flagged"].to_numpy(bool)
    score = beats["anomaly_score"].to_numpy(float)
    quality = beats["quality"].astype(str).to_numpy() if "quality" in beats.columns else np.full(n, "good")
    rr_prev = np.nan_to_num(beats["rr_prev_s"].to_numpy(float), nan=0.0)
    rr_next = np.nan_to_num(beats["rr_next_s"].to_numpy(float), nan=0.0)
    ok = flagged & np.isfinite(score) & (quality != "unreadable") & (rr_prev <= pause_s) & (rr_next <= pause_s)
    pos = np.flatnonzero(ok & ~_artefact(beats))
    noisy = (quality[pos] == "noisy").astype(np.int8)
    return pos[np.lexsort((pos, -score[pos], noisy))]


def _artefact(beats: pd.DataFrame) -> np.ndarray:
    """Detections a reviewer marked "not a beat" (``review_decision == "artefact"``)."""
    if "review_decision" not in beats.columns:
        return np.zeros(len(beats), bool)
    return beats["review_decision"].astype(str).to_numpy() == "artefact"


class _Placer:
    """Strip windows of ``width`` samples in ``[0, n_samples)``, none overlapping, none over
    unreadable signal (``bad``: sorted (k, 2) spans, first and last sample)."""

    def __init__(self, width: int, n_samples: int, bad: np.ndarray) -> None:
        self.width = min(width, n_samples)
        self.n = n_samples
        self.bad = bad
        self.spans: list[tuple[int, int]] = []  # [start, end)

    def free(self, s0: int) -> bool:
        s1 = s0 + self.width
        if s0 < 0 or s1 > self.n:
            return False
        if any(s0 < e and a < s1 for a, e in self.spans):
            return False
        if self.bad.size:
            k = int(np.searchsorted(self.bad[:, 1], s0))  # first span ending at or after s0
            if k < self.bad.shape[0] and self.bad[k, 0] < s1:
                return False
        return True

    def holding(self, first: int, last: int) -> int | None:
        """Index of a chosen strip that already shows ``[first, last]``."""
        for k, (a, e) in enumerate(self.spans):
            if a <= first and last < e:
                return k
        return None

    def place(self, ev: _Event) -> int | None:
        """Start of a free window showing the event (its whole span when it fits, else its
        beginning), as near centred on it as the neighbours allow; None when there is none."""
        w = self.width
        first, last = ev.first, min(ev.last, ev.first + int(0.8 * w))
        mid = (first + last) // 2 if ev.last - ev.first < w else ev.centre
        ideal = mid - w // 2
        cands = [ideal, first - w // 10, last + w // 10 - w]
        for a, e in self.spans:
            cands += [e, a - w]
        cands = sorted({min(max(0, c), self.n - w) for c in cands}, key=lambda c: abs(c - ideal))
        for c in cands:
            if c <= first and last < c + w and self.free(c):
                self.spans.append((c, c + w))
                return c
        return None


def _unreadable_spans(summary: HolterSummary, beats: pd.DataFrame, fs: float) -> np.ndarray:
    """(k, 2) int64 sorted spans of samples (first, last) not to show: the summary's
    unreadable segments and, around each unreadable beat, the beat itself."""
    spans = [
        (int(math.floor(s.start_s * fs)), int(math.ceil(s.end_s * fs)))
        for s in summary.signal_quality.segments
        if s.start_s is not None and s.end_s is not None
    ]
    if "quality" in beats.columns and len(beats):
        bad = beats["sample"].to_numpy(np.int64)[beats["quality"].astype(str).to_numpy() == "unreadable"]
        spans += list(zip(bad.tolist(), bad.tolist()))
    if not spans:
        return np.empty((0, 2), np.int64)
    arr = np.asarray(spans, np.int64)
    arr = arr[np.argsort(arr[:, 0], kind="stable")]
    arr[:, 1] = np.maximum.accumulate(arr[:, 1])  # keep ends sorted (spans may nest)
    return arr


def choose_event_strips(
    summary: HolterSummary,
    beats: pd.DataFrame,
    fs: float,
    *,
    n_samples: int,
    max_strips: int = 30,
    strip_s: float = 10.0,
    class_column: str = "pred_class",
    start_time: datetime | str | None = None,
) -> list[EventStrip]:
    """The report's strips (see the module docstring), sorted by time.

    ``beats``: the beat table in sample order (positions are row numbers); ``fs`` (Hz) and
    ``n_samples`` of the recording; strips are ``strip_s`` seconds long and at most
    ``max_strips``. ``class_column`` is the label used (``pred_class``, or reviewed labels).
    ``start_time`` (a datetime or ISO string; default the summary's ``recording.start_time``)
    turns the times in the labels into clock times.
    """
    if class_column not in beats.columns:
        raise ValueError(f"beat table has no column {class_column!r}")
    if not (fs > 0 and math.isfinite(fs)):
        raise ValueError(f"invalid sampling frequency {fs!r}")
    beats = beats.reset_index(drop=True)
    max_strips = max(0, int(max_strips))
    start = parse_start_time(start_time if start_time is not None else summary.recording.start_time)
    duration_s = n_samples / fs
    with_day = start is not None and duration_s > 86400.0

    def when(t_s: float) -> str:
        return format_clock(t_s, start, with_day=with_day)

    placer = _Placer(max(1, int(round(strip_s * fs))), int(n_samples), _unreadable_spans(summary, beats, fs))
    chosen: list[tuple[list[str], list[str], int, _Event]] = []  # kinds, labels, start, event

    def take(ev: _Event) -> None:
        k = placer.holding(ev.first, ev.last)
        if k is not None:
            kinds, labels, _, held = chosen[k]
            x = ev.kind[0]
            if ev.kind == f"{x}_run_fastest" and held.kind == f"{x}_run_longest" and held.first == ev.first:
                labels[0] = labels[0].replace(f"Longest {x} run", f"Longest and fastest {x} run")
            else:
                labels.append(f"{ev.text} at {when(ev.t_s)}")
            kinds.append(ev.kind)
            return
        if len(chosen) >= max_strips:
            return
        s0 = placer.place(ev)
        if s0 is not None:
            chosen.append(([ev.kind], [f"{ev.text} at {when(ev.t_s)}"], s0, ev))

    for ev in _clinical_events(summary, beats, fs, class_column):
        take(ev)
    if len(chosen) < max_strips:
        sample = beats["sample"].to_numpy(np.int64)
        score = beats["anomaly_score"].to_numpy(float)
        times = beats["time_s"].to_numpy(float)
        for i in anomaly_candidates(beats):
            if len(chosen) >= max_strips:
                break
            s = int(sample[i])
            if placer.holding(s, s) is not None:
                continue
            cls = str(beats[class_column].iat[i])
            ev = _Event("anomaly", f"Anomaly score {score[i]:.1f} ({cls} beat)", float(times[i]), s, s, s, int(i))
            s0 = placer.place(ev)
            if s0 is not None:
                chosen.append((["anomaly"], [f"{ev.text} at {when(ev.t_s)}"], s0, ev))

    out = [
        EventStrip(
            kinds=tuple(kinds),
            label="; ".join(labels),
            start_sample=int(s0),
            end_sample=int(s0 + placer.width),
            centre_sample=ev.centre,
            beat_row=ev.beat_row,
            labels=tuple(labels),
        )
        for kinds, labels, s0, ev in chosen
    ]
    return sorted(out, key=lambda s: s.start_sample)


def strip_kinds_sentence(strips: Sequence[EventStrip]) -> str:
    """One sentence saying what the strips show, for the report's first page."""
    if not strips:
        return "No strips: no event found in readable signal."
    names = {
        "hr_max": "maximum HR",
        "hr_min": "minimum HR",
        "pause_longest": "longest pause",
        "V_run_longest": "longest V run",
        "V_run_fastest": "fastest V run",
        "V_couplet": "a V couplet",
        "S_run_longest": "longest S run",
        "S_run_fastest": "fastest S run",
        "af_onset": "AF onset",
        "af_offset": "AF offset",
    }
    kinds = [k for s in strips for k in s.kinds]
    shown = [names[k] for k in EVENT_KINDS if k in names and k in kinds]
    n_fam = kinds.count("family")
    n_anom = kinds.count("anomaly")
    parts = shown + ([f"{n_fam} morphology famil{'y' if n_fam == 1 else 'ies'}"] if n_fam else [])
    if n_anom:
        parts.append(f"the top {n_anom} flagged beats by anomaly score")
    return f"{len(strips)} strips by clinical rule: " + ", ".join(parts) + " (no two strips overlap)."


__all__ = ["EVENT_KINDS", "EventStrip", "anomaly_candidates", "choose_event_strips", "strip_kinds_sentence"]
