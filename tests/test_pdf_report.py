"""The PDF review report on a synthetic record: pages, extractable text, event strips of two
leads, the reviewed-labels statement, ``class_column`` and the physical size of the ECG strips
(25 mm/s, 10 mm/mV)."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecg.export.event_strips import choose_event_strips
from ecg.export.pdf_report import (
    STRIP_GID,
    STRIPS_PER_PAGE,
    STRIPS_PER_PAGE_TWO_LEADS,
    axes_size_mm,
    ectopic_runs,
    iter_report_pages,
    write_pdf_report,
)
from ecg.io.records import Annotations, Record
from ecg.scoring.schema import PROB_CLASSES, beat_columns
from ecg.scoring.summary_types import ReviewInfo

pypdf = pytest.importorskip("pypdf")

FS = 360.0
RR_S = 0.8


def synthetic(
    duration_s: float = 120.0, ectopic: dict[int, str] | None = None, extra_flags: int = 40, seed: int = 1
) -> tuple[Record, pd.DataFrame]:
    """A 2-lead record at 360 Hz (beats every 0.8 s) and its beat table: V/S beats flagged by
    class, ``extra_flags`` N beats flagged by anomaly with distinct scores."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * FS)
    samples = np.round(np.arange(0.6, duration_s - 0.6, RR_S) * FS).astype(np.int64)
    m = samples.size
    cls = np.full(m, "N", dtype=object)
    default = {
        10: "V",
        20: "V",
        21: "V",
        22: "V",
        40: "S",
        41: "S",
        42: "S",
        43: "S",
        44: "S",
        60: "V",
        61: "V",
        80: "F",
    }
    for i, c in (default if ectopic is None else ectopic).items():
        cls[i] = c
    tt = np.arange(-0.3, 0.5, 1 / FS)
    tmpl = (
        0.15 * np.exp(-0.5 * ((tt + 0.16) / 0.02) ** 2)
        + 1.2 * np.exp(-0.5 * (tt / 0.01) ** 2)
        - 0.25 * np.exp(-0.5 * ((tt - 0.03) / 0.008) ** 2)
        + 0.3 * np.exp(-0.5 * ((tt - 0.25) / 0.04) ** 2)
    )
    x = np.zeros(n)
    idx = (samples - int(round(0.3 * FS)))[:, None] + np.arange(tt.size)[None, :]
    np.add.at(x, idx, np.where(cls == "V", 1.8, 1.0)[:, None] * tmpl[None, :])
    sig = np.stack([x, 0.6 * x], 1) + rng.normal(0, 0.01, (n, 2))
    sym = np.array([{"N": "N", "S": "A", "V": "V", "F": "F"}[c] for c in cls], dtype=object)
    rec = Record(
        name="synth42",
        signal=sig.astype(np.float32),
        fs=FS,
        lead_names=("MLII", "V1"),
        units=("mV", "mV"),
        annotations=Annotations(samples, sym, np.full(m, "", dtype=object)),
    )
    probs = np.full((m, len(PROB_CLASSES)), 0.02)
    probs[np.arange(m), [PROB_CLASSES.index(c) for c in cls]] = 0.92
    score = rng.uniform(0.05, 0.9, m)
    normal = np.flatnonzero(cls == "N")
    anomalous = rng.choice(normal[normal > 2], size=extra_flags, replace=False) if extra_flags else []
    score[anomalous] = 1.0 + np.arange(len(anomalous)) * 0.1  # distinct scores 1.0 ... 4.9
    class_flag = cls != "N"
    anomaly_flag = score >= 1.0
    rr = np.diff(samples) / FS
    df = pd.DataFrame(
        {
            "sample": samples,
            "time_s": samples / FS,
            "lead": "MLII",
            "rr_prev_s": np.r_[np.nan, rr],
            "rr_next_s": np.r_[rr, np.nan],
            "pred_class": cls.astype(str),
            **{f"prob_{c}": probs[:, k] for k, c in enumerate(PROB_CLASSES)},
            "anomaly_score": score,
            "flagged": class_flag | anomaly_flag,
            "flag_reason": np.where(
                class_flag & anomaly_flag,
                "class+anomaly",
                np.where(class_flag, "class", np.where(anomaly_flag, "anomaly", "")),
            ),
            "ref_symbol": sym.astype(str),
            "ref_class": cls.astype(str),
            "quality": "good",
            "af": False,
            "nn": True,
            "family": 0,
        }
    )[beat_columns()]
    return rec, df


def summary_of(rec: Record, beats: pd.DataFrame):
    from ecg.scoring.summary import holter_summary

    return holter_summary(
        beats,
        FS,
        rec.duration_s,
        analysable_s=rec.duration_s,
        record=rec.name,
        analysed_leads=("MLII",),
        anomaly_threshold=1.0,
    )


def summary_with(beats: pd.DataFrame, rec: Record, class_column: str = "pred_class"):
    from ecg.scoring.summary import holter_summary

    return holter_summary(
        beats,
        FS,
        rec.duration_s,
        analysable_s=rec.duration_s,
        record=rec.name,
        analysed_leads=("MLII",),
        anomaly_threshold=1.0,
        class_column=class_column,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    rec, beats = synthetic(duration_s=900.0, extra_flags=100)
    path = tmp_path_factory.mktemp("pdf") / "out" / "synth42_report.pdf"
    summary = summary_of(rec, beats)
    out = write_pdf_report(rec, beats, summary, path, max_strips=30, bundle_version="bundle-7")
    reader = pypdf.PdfReader(str(out))
    strips = choose_event_strips(summary, beats, FS, n_samples=rec.n_samples, max_strips=30)
    return {
        "rec": rec,
        "beats": beats,
        "path": out,
        "reader": reader,
        "summary": summary,
        "page1": reader.pages[0].extract_text(),
        "strips": strips,
    }


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.slow
def test_page_count(report) -> None:
    strips = report["strips"]
    assert len(strips) == 30  # 100 flagged beats: the room left by the clinical events is filled
    # two leads: two strips a page
    assert len(report["reader"].pages) == 1 + math.ceil(30 / STRIPS_PER_PAGE_TWO_LEADS)
    starts = [s.start_sample for s in strips]
    assert starts == sorted(starts)
    assert all(a.end_sample <= b.start_sample for a, b in zip(strips[:-1], strips[1:]))  # no overlap
    # A4 landscape
    box = report["reader"].pages[0].mediabox
    assert float(box.width) / 72 * 25.4 == pytest.approx(297, abs=0.5)
    assert float(box.height) / 72 * 25.4 == pytest.approx(210, abs=0.5)
    assert not [p for p in report["path"].parent.iterdir() if p.name != report["path"].name]  # no temp left


@pytest.mark.slow
def test_summary_page_text(report) -> None:
    text = _flat(report["page1"])
    s = report["summary"]
    n = len(report["beats"])
    assert "record synth42" in text
    assert f"Total beats {n:,}" in text
    assert f"V: ventricular 6 ({100 * 6 / n:.1f}%)" in text
    assert f"Mean heart rate {s.heart_rate.mean_bpm:.0f} bpm" in text
    assert "bundle-7" in text and "Duration 0:15:00" in text and "analysable 100.0%" in text
    assert "Runs (>= 3 beats) 1 1 0" in text and "Couplets 1 0 0" in text and "Isolated 1 0 1" in text
    assert f"Flagged beats {int(report['beats']['flagged'].sum())}" in text
    assert "Atrial fibrillation / flutter" in text and "Episodes 0" in text
    assert "Beat labels: the model's predicted classes (not reviewed)." in text
    assert "30 strips by clinical rule: maximum HR, minimum HR" in text
    assert "longest V run" in text and "longest S run" in text and "a V couplet" in text
    assert "leads MLII, V1" in text
    assert "reviewed labels" not in text


@pytest.mark.slow
def test_strip_pages_text(report) -> None:
    strips = report["strips"]
    text = _flat(report["reader"].pages[1].extract_text())
    per = STRIPS_PER_PAGE_TWO_LEADS
    assert text.count("Reviewer:") == per and text.count("Decision:") == per
    assert _flat(strips[0].label) in text and f"1/30 {_flat(strips[0].label)}" in text
    assert "leads MLII, V1" in text and text.count("MLII") >= per and text.count("V1") >= per
    everything = _flat(" ".join(p.extract_text() for p in report["reader"].pages[1:]))
    assert "Longest and fastest V run: 3 beats" in everything and "Longest and fastest S run: 5 beats" in everything
    assert "V couplet" in everything and "Maximum heart rate" in everything
    assert "Anomaly score" in everything and "predicted N p=0.92" in everything
    last_page = _flat(report["reader"].pages[-1].extract_text())
    assert "30/30" in last_page


def test_ectopic_runs() -> None:
    _, beats = synthetic(duration_s=600.0, extra_flags=40)
    runs = ectopic_runs(beats)
    assert list(zip(runs["first"], runs["length"], runs["cls"])) == [(20, 3, "V"), (40, 5, "S")]
    relabelled = beats.assign(effective_label=beats["pred_class"].replace({"S": "N"}))
    runs = ectopic_runs(relabelled, class_column="effective_label")
    assert list(zip(runs["first"], runs["length"], runs["cls"])) == [(20, 3, "V")]


def _vertical_xs(line) -> np.ndarray:
    x, y = (np.asarray(v, float) for v in line.get_data())
    ok = np.isfinite(x[:-1]) & np.isfinite(x[1:]) & (x[:-1] == x[1:]) & (y[:-1] != y[1:])
    return np.unique(np.round(x[:-1][ok], 6))


def _lines(ax, gid: str) -> list:
    return [ln for ln in ax.lines if ln.get_gid() == gid]


@pytest.mark.parametrize("n_leads", [2, 1])
def test_strip_axes_physical_size(n_leads: int) -> None:
    rec, beats = synthetic(extra_flags=3)
    if n_leads == 1:
        rec = dataclasses.replace(rec, signal=rec.signal[:, :1], lead_names=("MLII",), units=("mV",))
    pages = list(iter_report_pages(rec, beats, summary_of(rec, beats), max_strips=4))
    per = STRIPS_PER_PAGE if n_leads == 1 else STRIPS_PER_PAGE_TWO_LEADS
    assert len(pages) == 1 + math.ceil(4 / per)
    strips = [ax for fig in pages[1:] for ax in fig.axes if ax.get_gid() == STRIP_GID]
    assert len(strips) == 4 * n_leads
    lead_names = [t.get_text() for ax in strips for t in ax.texts if t.get_text() in ("MLII", "V1")]
    assert lead_names == ["MLII", "V1"] * 4 if n_leads == 2 else lead_names == ["MLII"] * 4
    for ax in strips:
        w_mm, h_mm = axes_size_mm(ax)
        assert w_mm == pytest.approx(250.0, abs=1e-6) and h_mm == pytest.approx(40.0, abs=1e-6)
        (t0, t1), (v0, v1) = ax.get_xlim(), ax.get_ylim()
        assert w_mm / (t1 - t0) == pytest.approx(25.0)  # mm per second
        assert h_mm / (v1 - v0) == pytest.approx(10.0)  # mm per mV
        minor = np.concatenate([_vertical_xs(ln) for ln in _lines(ax, "grid-minor")])
        major = np.concatenate([_vertical_xs(ln) for ln in _lines(ax, "grid-major")])
        minor, major = minor[(minor >= t0) & (minor <= t1)], major[(major >= t0) & (major <= t1)]
        np.testing.assert_allclose(np.diff(np.union1d(minor, major)), 0.04, atol=1e-6)  # 1 mm
        np.testing.assert_allclose(np.diff(major), 0.2, atol=1e-6)  # 5 mm
        # the trace: every sample of the 10 s window, nothing outside it
        (trace,) = _lines(ax, "trace")
        x = trace.get_xdata()
        assert x.size == int(10 * FS) + 1 and x[0] >= t0 - 1e-9 and x[-1] <= t1 + 1e-9
    if n_leads == 2:  # the two leads of a strip show the same seconds, one above the other
        a, b = strips[0], strips[1]
        assert a.get_xlim() == b.get_xlim() and a.get_position().y0 > b.get_position().y0


def test_no_flagged_beats_still_shows_the_clinical_events(tmp_path: Path) -> None:
    rec, beats = synthetic(ectopic={}, extra_flags=0)
    assert not beats["flagged"].any()
    out = write_pdf_report(rec, beats, summary_of(rec, beats), tmp_path / "r.pdf")
    reader = pypdf.PdfReader(str(out))
    text = _flat(" ".join(p.extract_text() for p in reader.pages))
    assert "Maximum heart rate" in text and "Minimum heart rate" in text
    assert "Anomaly score" not in text and "V run" not in text


def test_failed_write_leaves_existing_file(tmp_path: Path) -> None:
    rec, beats = synthetic(extra_flags=2)
    target = tmp_path / "r.pdf"
    target.write_bytes(b"old")
    with pytest.raises(KeyError):
        write_pdf_report(rec, beats.drop(columns=["anomaly_score"]), summary_of(rec, beats), target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.pdf"]


def test_with_holter_summary(tmp_path: Path) -> None:
    summary_mod = pytest.importorskip("ecg.scoring.summary")
    rec, beats = synthetic(extra_flags=2)
    summary = summary_mod.holter_summary(beats, FS, rec.duration_s)
    out = write_pdf_report(rec, beats, summary, tmp_path / "r.pdf", max_strips=3)
    text = _flat(pypdf.PdfReader(str(out)).pages[0].extract_text())
    assert "V: ventricular 6" in text and "Runs (>= 3 beats) 1 1 0" in text
    assert "Couplets 1 0 0" in text and "Isolated 1 0 1" in text and "Fusion (F)" in text


def test_multi_day_report_has_a_daily_page(tmp_path: Path) -> None:
    """A summary spanning more than a day adds page 2, the daily breakdown with clock dates,
    before the strips; page numbers stay consistent."""
    from datetime import datetime

    from ecg.scoring.summary import holter_summary

    rec, beats = synthetic(extra_flags=2)
    summary = holter_summary(
        beats, FS, 2.5 * 86400.0, analysable_s=rec.duration_s, record=rec.name, start_time=datetime(2024, 5, 6, 8, 15)
    )
    assert len(summary.daily) == 3
    out = write_pdf_report(rec, beats, summary, tmp_path / "r.pdf", max_strips=3)
    reader = pypdf.PdfReader(str(out))
    assert len(reader.pages) == 2 + math.ceil(3 / STRIPS_PER_PAGE_TWO_LEADS)
    daily = _flat(reader.pages[1].extract_text())
    assert "day by day" in daily and "Day 1" in daily and "Day 3" in daily
    assert "2024-05-08 08:15:00" in daily and f"page 2 of {len(reader.pages)}" in daily
    assert f"page 3 of {len(reader.pages)}" in _flat(reader.pages[2].extract_text())


def test_reviewed_summary_says_so(tmp_path: Path) -> None:
    rec, beats = synthetic(extra_flags=2)
    summary = dataclasses.replace(
        summary_of(rec, beats),
        review=ReviewInfo(reviewed_beats=120, changed_beats=17, artefact_beats=3, reviewers=["dr a", "dr b"]),
    )
    out = write_pdf_report(rec, beats, summary, tmp_path / "r.pdf", max_strips=2)
    text = _flat(pypdf.PdfReader(str(out)).pages[0].extract_text())
    assert "This report uses reviewed labels: 120 beats reviewed by dr a, dr b, 17 changed" in text
    assert "3 marked artefact" in text and "Ectopy (reviewed labels)" in text


def test_class_column_drives_labels(tmp_path: Path) -> None:
    """Reviewed labels (``effective_label``): every V beat relabelled S. The strips' beat
    labels, the events chosen and page 1 follow the column; the model's class is still named."""
    rec, beats = synthetic(extra_flags=2)
    beats = beats.assign(effective_label=beats["pred_class"].replace({"V": "S"}))
    summary = summary_with(beats, rec, class_column="effective_label")
    out = write_pdf_report(rec, beats, summary, tmp_path / "r.pdf", max_strips=12, class_column="effective_label")
    reader = pypdf.PdfReader(str(out))
    page1 = _flat(reader.pages[0].extract_text())
    assert "V: ventricular 0" in page1 and "Beat labels: column 'effective_label'." in page1
    strips = _flat(" ".join(p.extract_text() for p in reader.pages[1:]))
    assert "V run" not in strips and "V couplet" not in strips
    assert "label S (model V p=0.92)" in strips
    pages = list(iter_report_pages(rec, beats, summary, max_strips=12, class_column="effective_label"))
    beat_labels = {t.get_text() for fig in pages[1:] for ax in fig.axes for t in ax.texts}
    assert "S" in beat_labels and "V" not in beat_labels
    with pytest.raises(ValueError, match="no column"):
        write_pdf_report(rec, beats, summary, tmp_path / "x.pdf", class_column="nope")
