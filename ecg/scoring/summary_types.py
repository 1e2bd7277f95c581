"""The Holter summary as typed sections (dataclasses), and their JSON form.

:func:`ecg.scoring.summary.holter_summary` builds a :class:`HolterSummary`; the PDF report,
the dashboard and ``index.csv`` read its fields and recompute nothing. ``to_dict()`` gives
the JSON written to ``OUT/<rec>/<rec>_summary.json`` (Python builtins only) and
:meth:`HolterSummary.from_dict` reads it back, so the file round-trips.

Units: times in seconds from the recording start (``time_s``, ``start_s``, ``end_s``),
durations in seconds (``*_s``), rates in beats per minute (``*_bpm``), shares in percent
(``*_pct``). Every event carries ``elapsed`` ("h:mm:ss") and ``clock`` (ISO time of day when
the recording's start time is known, else None). A figure that cannot be computed (no
analysable signal, no beats) is None, never NaN or infinity.

The JSON keys are a contract (see the README and :mod:`ecg.scoring.schema`):
``signal_quality`` (``analysable_pct``, ``unreadable_s``, ``segments`` with ``start_s``,
``end_s``, ``leads``), ``af`` (``burden_pct``, ``episodes`` with ``start_s``, ``end_s``,
``duration_s``, ``mean_hr_bpm``; ``longest``), ``pauses`` (``count``, ``listed`` items with
``time_s`` and ``duration_s``), ``ectopy`` ``V`` / ``S`` / ``F`` with ``burden_pct``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Union

ECTOPY_CLASSES: tuple[str, ...] = ("V", "S", "F")


@dataclass
class Event:
    """When something happened: seconds from the start, as h:mm:ss, and clock time."""

    time_s: float | None
    elapsed: str | None
    clock: str | None


@dataclass
class RateEvent(Event):
    """A heart-rate extreme: the window's rate (bpm) at the time of its first beat."""

    bpm: float | None = None


@dataclass
class RunEvent(Event):
    """A run of ectopic beats: its length (beats) and internal rate (bpm)."""

    beats: int = 0
    bpm: float | None = None


@dataclass
class PatternEvent(Event):
    """A bigeminy / trigeminy episode: its number of cycles."""

    cycles: int = 0


@dataclass
class PauseEvent(Event):
    """An RR interval longer than the pause threshold; time = the beat before it."""

    duration_s: float | None = None


@dataclass
class RecordingSummary:
    record: str
    duration_s: float | None
    duration_hms: str | None
    fs: float | None
    start_time: str | None = None
    leads: list[str] = field(default_factory=list)  # leads of the recording
    analysed_leads: list[str] = field(default_factory=list)
    bundle_version: str = ""
    dropped_beats: dict[str, int] = field(default_factory=dict)


@dataclass
class QualitySegment:
    """A span where no analysed lead is readable; ``leads`` lists the unreadable leads."""

    start_s: float | None
    end_s: float | None
    leads: list[str]
    elapsed: str | None = None
    clock: str | None = None


@dataclass
class SignalQualitySummary:
    method: str | None
    window_s: float | None
    analysable_s: float | None
    analysable_hms: str | None
    analysable_pct: float | None
    unreadable_s: float | None
    noisy_s: float | None
    segments: list[QualitySegment] = field(default_factory=list)
    segments_total: int = 0
    warning: str | None = None


@dataclass
class BeatsSummary:
    total: int
    by_class: dict[str, int]
    analysed: int  # beats in readable signal (the denominators of burdens)
    in_unreadable_signal: int
    unclassified: int  # beats without a class label (reference summaries)


@dataclass
class HeartRateSummary:
    definition: str
    window_intervals: int
    mean_bpm: float | None
    min: RateEvent | None
    max: RateEvent | None
    rr_intervals: int
    gap_intervals: int
    pause_intervals: int


@dataclass
class PeriodSummary(Event):
    """One period of the recording (an hour or a day from its start): ``duration_s`` of
    recording in it, beat and ectopic counts, heart rate and beats in AF."""

    duration_s: float | None = None
    beats: int = 0
    V: int = 0
    S: int = 0
    F: int = 0
    mean_bpm: float | None = None
    min_bpm: float | None = None
    max_bpm: float | None = None
    af_beats: int = 0


@dataclass
class HourSummary(PeriodSummary):
    hour: int = 0


@dataclass
class DaySummary(PeriodSummary):
    """One 24-hour period from the recording's start (day 0 = the first 24 h)."""

    day: int = 0


@dataclass
class RunsSummary:
    count: int
    beats: int
    longest: RunEvent | None
    fastest: RunEvent | None
    listed: list[RunEvent] = field(default_factory=list)


@dataclass
class PatternSummary:
    episodes: int
    beats: int
    ectopic_beats: int
    longest: PatternEvent | None


@dataclass
class ClassEctopy:
    total: int
    burden_pct: float | None
    per_hour: float | None
    isolated: int
    couplets: int
    runs: RunsSummary
    bigeminy: PatternSummary
    trigeminy: PatternSummary


@dataclass
class EctopySummary:
    V: ClassEctopy
    S: ClassEctopy
    F: ClassEctopy

    def of(self, cls: str) -> ClassEctopy:
        if cls not in ECTOPY_CLASSES:
            raise KeyError(cls)
        return getattr(self, cls)


@dataclass
class AFEpisodeSummary:
    start_s: float | None
    end_s: float | None
    duration_s: float | None
    mean_hr_bpm: float | None
    beats: int = 0
    elapsed: str | None = None
    clock: str | None = None


@dataclass
class AFSummary:
    definition: str
    beats: int
    burden_pct: float | None
    duration_s: float | None
    episodes: list[AFEpisodeSummary] = field(default_factory=list)
    longest: AFEpisodeSummary | None = None


@dataclass
class PausesSummary:
    threshold_s: float
    count: int
    longest: PauseEvent | None
    listed: list[PauseEvent] = field(default_factory=list)


@dataclass
class FlagsSummary:
    count: int
    by_reason: dict[str, int]
    anomaly_threshold: float | None


@dataclass
class HRVValues:
    """Time-domain HRV of the NN intervals (:mod:`ecg.processing.hrv`), ms and %; None where
    not computable. ``n_intervals`` NN intervals, ``n_pairs`` successive NN pairs (RMSSD,
    pNN50), ``n_segments`` 5-minute segments (SDANN, SDNN index), ``nn_s`` NN time, s."""

    sdnn_ms: float | None = None
    sdann_ms: float | None = None
    sdnn_index_ms: float | None = None
    rmssd_ms: float | None = None
    pnn50_pct: float | None = None
    triangular_index: float | None = None
    mean_nn_ms: float | None = None
    n_intervals: int = 0
    n_pairs: int = 0
    n_segments: int = 0
    nn_s: float = 0.0


@dataclass
class HRVPeriod(HRVValues):
    """HRV of one hour from the recording's start (an interval counts in the hour of its end beat)."""

    hour: int = 0
    time_s: float | None = None
    elapsed: str | None = None
    clock: str | None = None


@dataclass
class HRVSummary(HRVValues):
    """HRV of the whole recording, its definition, and hour by hour."""

    definition: str = ""
    hourly: list[HRVPeriod] = field(default_factory=list)


@dataclass
class ReviewInfo:
    """Present when a summary was computed from reviewed labels (``class_column`` is then
    ``effective_label``; :mod:`ecg.review.reviewed`): ``reviewed_beats`` beats with a decision
    that counts, ``changed_beats`` of them whose class the review changed (artefacts included),
    ``artefact_beats`` detections marked "not a beat" (left out of every other section of the
    summary), the ``reviewers`` (sorted), the time of the latest decision that counts
    (``last_decision_at``, ISO UTC) and where the decisions came from (``source``: the review
    database and key)."""

    reviewed_beats: int
    changed_beats: int
    artefact_beats: int
    reviewers: list[str] = field(default_factory=list)
    last_decision_at: str | None = None
    source: str = ""


@dataclass
class HolterSummary:
    """One record's Holter summary; section definitions in :mod:`ecg.scoring.summary`."""

    class_column: str
    recording: RecordingSummary
    signal_quality: SignalQualitySummary
    beats: BeatsSummary
    heart_rate: HeartRateSummary
    hourly: list[HourSummary]
    ectopy: EctopySummary
    af: AFSummary
    pauses: PausesSummary
    flags: FlagsSummary
    definitions: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    daily: list[DaySummary] = field(default_factory=list)
    hrv: HRVSummary | None = None
    review: ReviewInfo | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of builtins (nested sections as dicts, lists as lists)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HolterSummary:
        """The summary back from :meth:`to_dict` output (e.g. a ``_summary.json``)."""
        return _build(cls, d)


def _build(tp: Any, value: Any) -> Any:
    """``value`` (from JSON) converted to the annotated type ``tp`` (dataclasses, lists,
    dicts and optionals of them)."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _build(args[0], value) if len(args) == 1 else value
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        return tp(**{k: _build(hints[k], v) for k, v in value.items() if k in names})
    if origin is list:
        (arg,) = typing.get_args(tp) or (Any,)
        return [_build(arg, v) for v in value]
    if origin is dict:
        _, arg = typing.get_args(tp) or (Any, Any)
        return {k: _build(arg, v) for k, v in value.items()}
    return value


__all__ = [
    "AFEpisodeSummary",
    "AFSummary",
    "BeatsSummary",
    "ClassEctopy",
    "DaySummary",
    "ECTOPY_CLASSES",
    "EctopySummary",
    "Event",
    "FlagsSummary",
    "HeartRateSummary",
    "HolterSummary",
    "HourSummary",
    "PatternEvent",
    "PatternSummary",
    "PauseEvent",
    "PausesSummary",
    "PeriodSummary",
    "QualitySegment",
    "RateEvent",
    "RecordingSummary",
    "ReviewInfo",
    "RunEvent",
    "RunsSummary",
    "SignalQualitySummary",
]
