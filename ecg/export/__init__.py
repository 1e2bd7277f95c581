"""Exports of scored records: beat tables (CSV / Parquet), summary JSON, WFDB annotation
files and EDF+ files with beat annotations."""

from ecg.export.edf import write_edf
from ecg.export.tables import normalise_beat_table, read_beat_table, write_beat_table, write_summary_json
from ecg.export.wfdb_annotations import (
    CLASS_TO_SYMBOL,
    beat_table_to_annotations,
    write_beat_annotations,
    write_wfdb_annotations,
)

__all__ = [
    "CLASS_TO_SYMBOL",
    "beat_table_to_annotations",
    "normalise_beat_table",
    "read_beat_table",
    "write_beat_annotations",
    "write_beat_table",
    "write_edf",
    "write_summary_json",
    "write_wfdb_annotations",
]
