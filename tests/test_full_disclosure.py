"""Full disclosure pages (ecg.export.full_disclosure): page count, the compressed rows, beat
labels and clock times in the PDF's text layer, and one page's data read at a time."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection

from ecg.export.full_disclosure import (
    FULL_DISCLOSURE_GID,
    ROW_MM,
    ROW_S,
    ROWS_PER_PAGE,
    TRACE_DPI,
    full_disclosure_page_count,
    iter_full_disclosure_pages,
    page_sample_range,
    rows_envelope,
)
from ecg.export.pdf_report import write_pdf_report
from ecg.io.records import Record
from ecg.scoring.schema import PROB_CLASSES, beat_columns
from ecg.scoring.summary import holter_summary

pypdf = pytest.importorskip("pypdf")

FS = 100.0


class CountingSignal:
    """A (samples, leads) float32 array-like that records the rows each read asks for."""

    dtype = np.dtype(np.float32)
    ndim = 2

    def __init__(self, x: np.ndarray) -> None:
        self._x = x
        self.reads: list[int] = []

    @property
    def shape(self) -> tuple[int, int]:
        return self._x.shape

    def __len__(self) -> int:
        return self._x.shape[0]

    def __getitem__(self, key):
        rows = key[0] if isinstance(key, tuple) else key
        out = self._x[key]
        self.reads.append(len(range(*rows.indices(self._x.shape[0]))) if isinstance(rows, slice) else out.shape[0])
        return out

    def __array__(self, dtype=None, copy=None):
        raise AssertionError("the whole signal was read")


def recording(minutes: float, start: datetime | None = datetime(2024, 5, 6, 22, 47, 10)) -> tuple[Record, pd.DataFrame]:
    """``minutes`` of a 1-lead ECG-like signal at 100 Hz, a beat every 0.8 s, every 10th beat V,
    beats 300-400 in AF; the signal behind a :class:`CountingSignal`."""
    n = int(minutes * 60 * FS)
    sample = np.arange(40, n - 40, 80, dtype=np.int64)
    x = np.zeros(n, np.float32)
    x[sample] = 1.0
    x[sample + 1] = 0.5
    cls = np.full(sample.size, "N", dtype=object)
    cls[::10] = "V"
    af = np.zeros(sample.size, bool)
    af[300:400] = True
    rec = Record(
        name="fd1",
        signal=CountingSignal(x[:, None]),
        fs=FS,
        lead_names=("ECG",),
        units=("mV",),
        start_time=start,
    )
    rr = np.diff(sample) / FS
    m = sample.size
    beats = pd.DataFrame(
        {
            "sample": sample,
            "time_s": sample / FS,
            "lead": "ECG",
            "rr_prev_s": np.r_[np.nan, rr],
            "rr_next_s": np.r_[rr, np.nan],
            "pred_class": cls.astype(str),
            **{f"prob_{c}": np.full(m, 0.2) for c in PROB_CLASSES},
            "anomaly_score": np.linspace(0.0, 50.0, m),
            "flagged": cls == "V",
            "flag_reason": np.where(cls == "V", "class", ""),
            "ref_symbol": "",
            "ref_class": "",
            "quality": "good",
            "af": af,
            "nn": False,
            "family": np.where(cls == "V", 1, 0).astype(np.int64),
        }
    )[beat_columns()]
    return rec, beats


def test_page_count_and_ranges() -> None:
    assert full_disclosure_page_count(int(30 * 60 * 360), 360.0) == 1
    assert full_disclosure_page_count(int(30 * 60 * 360) + 1, 360.0) == 2
    assert full_disclosure_page_count(650000, 360.0) == 2  # MIT-BIH: 30:05.6
    assert full_disclosure_page_count(int(24 * 3600 * 250), 250.0) == 24 * 60 // ROWS_PER_PAGE == 48
    assert full_disclosure_page_count(0, 250.0) == 0
    n = int(65 * 60 * FS)
    ranges = [page_sample_range(p, n, FS) for p in range(full_disclosure_page_count(n, FS))]
    assert ranges == [(0, 180000), (180000, 360000), (360000, n)]


def test_rows_envelope_keeps_the_extremes() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.1, int(2.5 * 60 * 360)).astype(np.float32)
    x[1234] = 3.0
    x[40000] = -2.0
    t, y = rows_envelope(x, 360.0, ROW_S, 3, 2000)
    assert t.shape == y.shape and y.shape[0] == 3 and y.shape[1] <= 2 * 2000
    assert np.nanmax(y[0]) == pytest.approx(3.0) and np.nanmin(y[1]) == pytest.approx(-2.0)
    assert np.isnan(y[2]).sum() > 0  # the last half minute: padding
    assert (np.diff(t[0]) > 0).all() and t[0, -1] < ROW_S


def test_pages_rows_labels_and_bounded_reads() -> None:
    rec, beats = recording(65.0)
    pages = list(iter_full_disclosure_pages(rec, beats))
    assert len(pages) == 3
    per_page = int(ROWS_PER_PAGE * ROW_S * FS)
    assert rec.signal.reads == [per_page, per_page, rec.n_samples - 2 * per_page]  # a page's samples, once
    last = pages[-1]
    (ax,) = [a for a in last.axes if a.get_gid() == FULL_DISCLOSURE_GID]
    row_times = [t.get_text() for t in last.texts if re.fullmatch(r"\d\d:\d\d:\d\d", t.get_text())]
    assert row_times == ["23:47:10", "23:48:10", "23:49:10", "23:50:10", "23:51:10"]  # 5 rows from 1:00:00
    a, b = page_sample_range(2, rec.n_samples, FS)
    s = beats["sample"].to_numpy()
    n_v = int(((s >= a) & (s < b) & (beats["pred_class"] == "V").to_numpy()).sum())
    assert [t.get_text() for t in ax.texts].count("V") == n_v > 0
    traces = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(traces) == 1  # rows and N-beat ticks in one collection
    segs = traces[0].get_segments()
    assert len(segs) == 5 + int(((s >= a) & (s < b)).sum()) - n_v  # 5 rows + a tick per N beat
    bound = 2 * int(ROW_MM / 25.4 * TRACE_DPI)
    assert all(len(seg) <= bound for seg in segs[:5])  # a row's points bounded (min/max envelope)
    # AF shading on the first page only
    first_ax = [a for a in pages[0].axes if a.get_gid() == FULL_DISCLOSURE_GID][0]
    assert any(type(c).__name__ == "PolyCollection" for c in first_ax.collections)
    assert not any(type(c).__name__ == "PolyCollection" for c in ax.collections)


def test_elapsed_times_without_a_start_time() -> None:
    rec, beats = recording(31.0, start=None)
    pages = list(iter_full_disclosure_pages(rec, beats))
    rows = [t.get_text() for t in pages[1].texts if re.fullmatch(r"\d+:\d\d:\d\d", t.get_text())]
    assert rows == ["0:30:00"]


def test_report_with_full_disclosure(tmp_path: Path) -> None:
    rec, beats = recording(35.0)
    summary = holter_summary(beats, FS, rec.duration_s, analysable_s=rec.duration_s, start_time=rec.start_time)
    plain = pypdf.PdfReader(str(write_pdf_report(rec, beats, summary, tmp_path / "a.pdf", max_strips=3)))
    out = write_pdf_report(rec, beats, summary, tmp_path / "b.pdf", max_strips=3, full_disclosure=True)
    reader = pypdf.PdfReader(str(out))
    n_fd = full_disclosure_page_count(rec.n_samples, FS)
    assert n_fd == 2 and len(reader.pages) == len(plain.pages) + n_fd
    fd = [re.sub(r"\s+", " ", p.extract_text()) for p in reader.pages[-n_fd:]]
    assert "full disclosure 1/2, 22:47:10 - 23:17:10" in fd[0] and "full disclosure 2/2" in fd[1]
    assert "22:47:10" in fd[0] and "23:16:10" in fd[0] and "23:17:10" in fd[1]
    n_v_first = int(((beats["sample"] < 30 * 60 * FS) & (beats["pred_class"] == "V")).sum())
    assert len(re.findall(r"\bV\b", fd[0])) >= n_v_first
    assert f"page {len(reader.pages)} of {len(reader.pages)}" in fd[1]
    assert len(reader.pages) == 1 + 1 + n_fd  # one lead: three strips a page
