"""The EDF+ export written a block of data records at a time: the same file whatever the
block size, readable by two independent readers (edfio and EDFlib through pyedflib), and in
memory that does not grow with the recording's duration."""

from __future__ import annotations

import tracemalloc
from datetime import datetime
from pathlib import Path

import edfio
import numpy as np
import pandas as pd
import pyedflib
import pytest

from ecg.export.edf import write_edf
from ecg.io.records import Record, load_record
from ecg.io.source import FileSource
from tests.test_streaming import synthetic_holter, write_wfdb

FS = 250.0


def _beats(n_samples: int, fs: float, rr_s: float = 0.8) -> pd.DataFrame:
    sample = np.arange(int(0.3 * fs), n_samples, int(rr_s * fs))
    cls = np.where(np.arange(sample.size) % 7 == 3, "V", "N")
    return pd.DataFrame(
        {
            "sample": sample,
            "time_s": sample / fs,
            "pred_class": cls,
            "flagged": cls == "V",
            "flag_reason": np.where(cls == "V", "class", ""),
        }
    )


def _record(seconds: float, nan_span: tuple[int, int] | None = None) -> Record:
    x = synthetic_holter(int(seconds * FS), FS).astype(np.float64)
    if nan_span:
        x[nan_span[0] : nan_span[1], 1] = np.nan
    return Record(name="syn", signal=x, fs=FS, lead_names=["MLII", "V1"], units=["mV", "mV"])


def test_block_size_does_not_change_the_file(tmp_path: Path) -> None:
    # a NaN run across a block boundary (blocks of 7 s = 1,750 samples) and a partial last record
    rec = _record(60.3, nan_span=(1_700, 3_900))
    beats = _beats(rec.n_samples, FS)
    one = write_edf(rec, beats, tmp_path / "one.edf", block_s=3600)
    many = write_edf(rec, beats, tmp_path / "many.edf", block_s=7)
    assert one.read_bytes() == many.read_bytes()
    edf = edfio.read_edf(many)
    (nan,) = [a for a in edf.annotations if a.text.startswith("NaN")]
    assert nan.text == "NaN->0 V1" and nan.onset == pytest.approx(1_700 / FS) and nan.duration == pytest.approx(8.8)


def test_independent_reader_edflib(tmp_path: Path) -> None:
    rec = _record(30.0)
    beats = _beats(rec.n_samples, FS)
    path = write_edf(rec, beats, tmp_path / "r.edf", start_time=datetime(2024, 3, 5, 8, 30, 15))
    with pyedflib.EdfReader(str(path)) as r:
        assert r.getSignalLabels() == ["MLII", "V1"]
        assert r.getStartdatetime() == datetime(2024, 3, 5, 8, 30, 15)
        assert r.getSampleFrequency(0) == FS and r.getPhysicalDimension(1) == "mV"
        for j in range(2):
            step = (r.getPhysicalMaximum(j) - r.getPhysicalMinimum(j)) / 65535
            assert np.max(np.abs(r.readSignal(j) - rec.signal[:, j])) <= step / 2 + 1e-9
        onsets, _, texts = r.readAnnotations()
    assert list(texts) == [f"{c} flag:class" if c == "V" else c for c in beats["pred_class"]]
    np.testing.assert_allclose(onsets, beats["time_s"], atol=1e-6)


def test_unknown_start_is_marked_unknown(tmp_path: Path) -> None:
    rec = _record(5.0)
    path = write_edf(rec, _beats(rec.n_samples, FS), tmp_path / "x.edf")
    with pytest.raises(edfio.AnonymizedDateError):
        _ = edfio.read_edf(path).recording.startdate
    assert load_record(path).start_time is None


def _traced_export(src_path: Path, out: Path) -> int:
    rec = FileSource(src_path).to_record()  # the signal is read from disk on demand
    beats = _beats(rec.n_samples, rec.fs)
    tracemalloc.start()
    try:
        write_edf(rec, beats, out, block_s=300)
        return tracemalloc.get_traced_memory()[1] - int(beats.memory_usage(deep=True).sum())
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_export_memory_does_not_grow_with_duration(tmp_path: Path) -> None:
    """Exporting 2 h and 8 h of a two-lead file read from disk: the longer one's peak of
    traced memory, less its larger beat table, grows by less than its annotations' text
    (what every record's annotation bytes are built from), never by the signal (8 h of two
    float64 leads would be 115 MB)."""
    short = write_wfdb(synthetic_holter(int(2 * 3600 * FS), FS), FS, tmp_path, "short")
    long = write_wfdb(synthetic_holter(int(8 * 3600 * FS), FS, seed=1), FS, tmp_path, "long")
    peak_short = _traced_export(short, tmp_path / "short.edf")
    peak_long = _traced_export(long, tmp_path / "long.edf")
    n_beats_extra = len(_beats(int(6 * 3600 * FS), FS))
    assert peak_long <= 1.2 * peak_short + 200 * n_beats_extra, (peak_short, peak_long)
    assert peak_long < 40e6
    assert edfio.read_edf(tmp_path / "long.edf").num_data_records == 8 * 3600
