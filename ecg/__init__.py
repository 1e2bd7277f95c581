"""ECG anomaly detection: WFDB loading, filtering, R-peak detection, beat segmentation,
AAMI beat classes, GRU models and record scoring.

Public API::

    ecg.load_record(...)        # a WFDB record -> Record (float32 mV signal, fs, annotations)
    ecg.list_records(dir)       # record names in a folder
    ecg.detect_r_peaks(x, fs)   # R-peak samples of one lead
    ecg.AAMI_CLASSES            # ("N", "S", "V", "F", "Q")
    ecg.symbol_to_aami(sym)     # MIT-BIH symbol -> AAMI class or None
    ecg.load_bundle(path=None)  # a model bundle: "production" (default), "ds1" or a path
    ecg.score_record(record)    # the one scoring path: record -> scored, flagged beats
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecg.errors import DownloadError, ECGError, RecordError, SignalError
from ecg.io import Annotations, Record, download_database, list_records, load_record
from ecg.labels import AAMI_CLASSES, SYMBOL_TO_AAMI, symbol_to_aami

__version__ = "0.1.0"

if TYPE_CHECKING:
    import numpy as np

    from ecg.models.bundle import ModelBundle
    from ecg.scoring.score import ScoredRecord


def detect_r_peaks(signal: "np.ndarray", fs: float, method: str = "default") -> "np.ndarray":
    """R-peak sample indices (int64, sorted) of one lead (1-D, mV) sampled at ``fs`` Hz.
    See :func:`ecg.processing.peaks.detect_r_peaks` for the methods."""
    from ecg.processing.peaks import detect_r_peaks as _detect

    return _detect(signal, fs, method=method)


def load_bundle(path: "str | None" = None) -> "ModelBundle":
    """Load a model bundle by name (``production``, the default: trained on all 44 non-paced
    MIT-BIH records; ``ds1``: the evaluation bundle, trained on DS1 only) or by path. See
    :class:`ecg.models.bundle.ModelBundle`."""
    from ecg.models.bundle import load_bundle as _load

    return _load(path)


def score_record(record: "Record | str", bundle: "ModelBundle | None" = None, **kwargs: Any) -> "ScoredRecord":
    """Score one record with both models. See :func:`ecg.scoring.score.score_record`."""
    from ecg.scoring.score import score_record as _score

    return _score(record, bundle, **kwargs)


__all__ = [
    "AAMI_CLASSES", "Annotations", "DownloadError", "ECGError", "Record", "RecordError", "SYMBOL_TO_AAMI",
    "SignalError", "__version__", "detect_r_peaks", "download_database", "list_records", "load_bundle",
    "load_record", "score_record", "symbol_to_aami",
]
