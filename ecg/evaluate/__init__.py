"""Evaluation following ANSI/AAMI EC57 as PhysioNet's bxb computes it."""

from ecg.evaluate.matching import (
    MATCH_WINDOW_S,
    BeatMatch,
    DetectionStats,
    detection_stats,
    excluded_mask,
    flutter_intervals,
    match_beats,
)

__all__ = [
    "MATCH_WINDOW_S",
    "BeatMatch",
    "DetectionStats",
    "detection_stats",
    "excluded_mask",
    "flutter_intervals",
    "match_beats",
]
