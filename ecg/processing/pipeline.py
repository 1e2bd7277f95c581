"""The preprocessing shared by training, evaluation and scoring: clean one lead, cut beats.

A :class:`BeatConfig` travels inside every model bundle, so a model always sees beats
prepared exactly as in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from ecg.processing.filters import ecg_clean
from ecg.processing.quality import gap_mask
from ecg.processing.segmentation import Beats, BeatWindow, segment_beats

#: Lead names tried in order when a record has no explicitly chosen lead.
PREFERRED_LEADS: tuple[str, ...] = ("MLII", "II", "ML2", "ECG", "ECG1")


@dataclass(frozen=True)
class BeatConfig:
    """How a record becomes beats: band-pass (Hz) then a fixed window (see BeatWindow)."""

    low_hz: float = 0.5
    high_hz: float = 40.0
    window: BeatWindow = field(default_factory=BeatWindow)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> BeatConfig:
        return cls(low_hz=float(d["low_hz"]), high_hz=float(d["high_hz"]), window=BeatWindow(**d["window"]))


#: ``lead=`` value naming the record's second lead: the first lead other than the default one
#: (in MIT-BIH the V1, V2, V4 or V5 beside MLII).
SECOND_LEAD = "@second"


def choose_lead(
    lead_names: Sequence[str], lead: int | str | None = None, preferred: Sequence[str] = PREFERRED_LEADS
) -> int:
    """Index of the lead to analyse: ``lead`` if given (name, index or :data:`SECOND_LEAD`),
    else the first of ``preferred`` present (case-insensitive), else 0."""
    lower = [n.lower() for n in lead_names]
    if isinstance(lead, str) and lead == SECOND_LEAD:
        primary = choose_lead(lead_names, None, preferred)
        others = [j for j in range(len(lead_names)) if j != primary]
        if not others:
            raise ValueError(f"one lead only ({list(lead_names)}): there is no second lead")
        return others[0]
    if lead is not None:
        if isinstance(lead, (int, np.integer)):
            if not 0 <= int(lead) < len(lead_names):
                raise ValueError(f"lead index {lead} out of range for leads {list(lead_names)}")
            return int(lead)
        if str(lead).lower() not in lower:
            raise ValueError(f"no lead named {lead!r}; leads are {list(lead_names)}")
        return lower.index(str(lead).lower())
    for p in preferred:
        if p.lower() in lower:
            return lower.index(p.lower())
    return 0


def clean_lead(signal: np.ndarray, fs: float, config: BeatConfig = BeatConfig()) -> np.ndarray:
    """Band-pass one lead (float32, mV) as the config says."""
    return ecg_clean(signal, fs, low_hz=config.low_hz, high_hz=config.high_hz)


def beats_from_signal(
    signal: np.ndarray,
    fs: float,
    peaks: np.ndarray,
    config: BeatConfig = BeatConfig(),
    cleaned: np.ndarray | None = None,
) -> Beats:
    """Clean a 1-D lead (unless ``cleaned`` is given) and cut beats around ``peaks``.
    Gaps are judged on the raw signal (NaN, flat runs)."""
    x = clean_lead(signal, fs, config) if cleaned is None else cleaned
    return segment_beats(np.nan_to_num(x, nan=0.0), fs, peaks, config.window, unusable=gap_mask(signal, fs))
