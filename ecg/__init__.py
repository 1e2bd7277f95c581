"""ECG anomaly detection: WFDB loading, filtering, R-peak detection, beat segmentation,
AAMI beat classes, GRU models and record scoring.

Public API::

    ecg.load_record(...)        # WFDB, EDF/EDF+/BDF or ISHNE -> Record (float32 mV signal, fs, annotations)
    ecg.list_records(dir)       # WFDB record names in a folder
    ecg.list_recordings(dir)    # every recording in a folder (WFDB, EDF, BDF, ISHNE), as paths
    ecg.detect_r_peaks(x, fs)   # R-peak samples of one lead
    ecg.AAMI_CLASSES            # ("N", "S", "V", "F", "Q")
    ecg.symbol_to_aami(sym)     # MIT-BIH symbol -> AAMI class or None
    ecg.load_bundle(path=None)  # a model bundle: "production" (default), "ds1" or a path
    ecg.score_record(record)    # the one scoring path: record -> scored, flagged beats

The public names are resolved on first use (PEP 562), so ``import ecg`` and the ``ecg`` CLI
start without loading numpy, pandas, wfdb or torch; ``ecg.__version__`` and the exception
types are plain attributes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ecg.errors import DownloadError, ECGError, RecordError, SignalError

__version__ = "0.1.0"

# public name -> the module that defines it
_LAZY: dict[str, str] = {
    "AAMI_CLASSES": "ecg.labels",
    "Annotations": "ecg.io",
    "Record": "ecg.io",
    "SYMBOL_TO_AAMI": "ecg.labels",
    "detect_r_peaks": "ecg.processing.peaks",
    "download_database": "ecg.io",
    "list_recordings": "ecg.io",
    "list_records": "ecg.io",
    "load_bundle": "ecg.models.bundle",
    "load_record": "ecg.io",
    "recording_name": "ecg.io",
    "score_record": "ecg.scoring.score",
    "symbol_to_aami": "ecg.labels",
}

if TYPE_CHECKING:
    from ecg.io import (
        Annotations,
        Record,
        download_database,
        list_recordings,
        list_records,
        load_record,
        recording_name,
    )
    from ecg.labels import AAMI_CLASSES, SYMBOL_TO_AAMI, symbol_to_aami
    from ecg.models.bundle import load_bundle
    from ecg.processing.peaks import detect_r_peaks
    from ecg.scoring.score import score_record


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ecg' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AAMI_CLASSES",
    "Annotations",
    "DownloadError",
    "ECGError",
    "Record",
    "RecordError",
    "SYMBOL_TO_AAMI",
    "SignalError",
    "__version__",
    "detect_r_peaks",
    "download_database",
    "list_recordings",
    "list_records",
    "load_bundle",
    "load_record",
    "recording_name",
    "score_record",
    "symbol_to_aami",
]
