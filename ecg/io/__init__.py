"""Input/output: ECG recordings (WFDB, EDF/EDF+/BDF, ISHNE) and PhysioNet downloads."""

from ecg.io.download import download_database
from ecg.io.records import (
    Annotations,
    Record,
    is_physionet_name,
    list_recordings,
    list_records,
    load_record,
    recording_name,
    resolve_data_dir,
)

__all__ = [
    "Annotations",
    "Record",
    "download_database",
    "is_physionet_name",
    "list_recordings",
    "list_records",
    "load_record",
    "recording_name",
    "resolve_data_dir",
]
