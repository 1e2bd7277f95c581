"""The PDF review report on a synthetic record: pages, extractable text, strip selection and
the physical size of the ECG strips (25 mm/s, 10 mm/mV)."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecg.export.pdf_report import (
    STRIP_GID,
    STRIPS_PER_PAGE,
    axes_size_mm,
    ectopic_runs,
    iter_report_pages,
    select_strip_beats,
    write_pdf_report,
)
from ecg.io.records import Annotations, Record
from ecg.scoring.schema import PROB_CLASSES, beat_columns

pypdf = pytest.importorskip("pypdf")

FS = 360.0
RR_S = 0.8


def synthetic(duration_s: float = 120.0, ectopic: dict[int, str] | None = None, extra_flags: int = 40,
              seed: int = 1) -> tuple[Record, pd.DataFrame]:
    """A 2-lead record at 360 Hz (beats every 0.8 s) and its beat table: V/S beats flagged by
    class, ``extra_flags`` N beats flagged by anomaly with distinct scores."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * FS)
    samples = np.round(np.arange(0.6, duration_s - 0.6, RR_S) * FS).astype(np.int64)
    m = samples.size
    cls = np.full(m, "N", dtype=object)
    default = {10: "V", 20: "V", 21: "V", 22: "V", 40: "S", 41: "S", 42: "S", 43: "S", 44: "S", 60: "V", 61: "V",
               80: "F"}
    for i, c in (default if ectopic is None else ectopic).items():
        cls[i] = c
    tt = np.arange(-0.3, 0.5, 1 / FS)
    tmpl = (0.15 * np.exp(-0.5 * ((tt + 0.16) / 0.02) ** 2) + 1.2 * np.exp(-0.5 * (tt / 0.01) ** 2)
            - 0.25 * np.exp(-0.5 * ((tt - 0.03) / 0.008) ** 2) + 0.3 * np.exp(-0.5 * ((tt - 0.25) / 0.04) ** 2))
    x = np.zeros(n)
    idx = (samples - int(round(0.3 * FS)))[:, None] + np.arange(tt.size)[None, :]
    np.add.at(x, idx, np.where(cls == "V", 1.8, 1.0)[:, None] * tmpl[None, :])
    sig = np.stack([x, 0.6 * x], 1) + rng.normal(0, 0.01, (n, 2))
    sym = np.array([{"N": "N", "S": "A", "V": "V", "F": "F"}[c] for c in cls], dtype=object)
    rec = Record(name="synth42", signal=sig.astype(np.float32), fs=FS, lead_names=("MLII", "V1"),
                 units=("mV", "mV"), annotations=Annotations(samples, sym, np.full(m, "", dtype=object)))
    probs = np.full((m, len(PROB_CLASSES)), 0.02)
    probs[np.arange(m), [PROB_CLASSES.index(c) for c in cls]] = 0.92
    score = rng.uniform(0.05, 0.9, m)
    normal = np.flatnonzero(cls == "N")
    anomalous = rng.choice(normal[normal > 2], size=extra_flags, replace=False) if extra_flags else []
    score[anomalous] = 1.0 + np.arange(len(anomalous)) * 0.1  # distinct scores 1.0 ... 4.9
    class_flag = cls != "N"
    anomaly_flag = score >= 1.0
    rr = np.diff(samples) / FS
    df = pd.DataFrame({
        "sample": samples, "time_s": samples / FS, "lead": "MLII",
        "rr_prev_s": np.r_[np.nan, rr], "rr_next_s": np.r_[rr, np.nan], "pred_class": cls.astype(str),
        **{f"prob_{c}": probs[:, k] for k, c in enumerate(PROB_CLASSES)},
        "anomaly_score": score, "flagged": class_flag | anomaly_flag,
        "flag_reason": np.where(class_flag & anomaly_flag, "class+anomaly",
                                np.where(class_flag, "class", np.where(anomaly_flag, "anomaly", ""))),
        "ref_symbol": sym.astype(str), "ref_class": cls.astype(str),
        "rr_irregularity": 0.02, "irregular_rhythm": False,
    })[beat_columns()]
    return rec, df


SUMMARY = {
    "beats": {"total": 148, "by_class": {"N": 136, "S": 5, "V": 6, "F": 1, "Q": 0}, "flagged": 52},
    "heart_rate": {"mean_bpm": 75.0, "window_intervals": 8,
                   "min": {"bpm": 71.4, "time_s": 33.0, "elapsed": "0:00:33", "clock": None},
                   "max": {"bpm": 79.6, "time_s": 16.0, "elapsed": "0:00:16", "clock": None}},
    "ectopy": {"V": {"total": 6, "burden_pct": 4.054, "per_hour": 180.0, "isolated": 1, "couplets": 1,
                     "runs": {"count": 1, "beats": 3, "longest": {"beats": 3, "bpm": 75.0, "time_s": 16.6}},
                     "bigeminy": {"episodes": 0}, "trigeminy": {"episodes": 0}},
               "S": {"total": 5, "burden_pct": 3.378, "isolated": 0, "couplets": 0,
                     "runs": {"count": 1, "beats": 5, "longest": {"beats": 5, "bpm": 75.0, "time_s": 32.6}}}},
    "pauses": {"threshold_s": 2.0, "count": 0, "longest": None},
}


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    rec, beats = synthetic()
    path = tmp_path_factory.mktemp("pdf") / "out" / "synth42_report.pdf"
    t = time.perf_counter()
    out = write_pdf_report(rec, beats, SUMMARY, path, max_strips=30, bundle_version="bundle-7")
    elapsed = time.perf_counter() - t
    reader = pypdf.PdfReader(str(out))
    return {"rec": rec, "beats": beats, "path": out, "elapsed": elapsed, "reader": reader,
            "page1": reader.pages[0].extract_text(), "selection": select_strip_beats(beats, 30)}


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_page_count_and_speed(report) -> None:
    sel = report["selection"]
    assert len(sel.beats) == 30 < int(report["beats"]["flagged"].sum())
    assert len(report["reader"].pages) == 1 + math.ceil(30 / STRIPS_PER_PAGE) == 11
    assert report["elapsed"] < 10.0
    # A4 landscape
    box = report["reader"].pages[0].mediabox
    assert float(box.width) / 72 * 25.4 == pytest.approx(297, abs=0.5)
    assert float(box.height) / 72 * 25.4 == pytest.approx(210, abs=0.5)
    assert not [p for p in report["path"].parent.iterdir() if p.name != report["path"].name]  # no temp left


def test_summary_page_text(report) -> None:
    text = _flat(report["page1"])
    assert "record synth42" in text
    assert "Total beats 148" in text
    assert "V: ventricular 6 (4.1%)" in text
    assert "Minimum heart rate 71 bpm at 0:00:33" in text
    assert "bundle-7" in text and "Duration 0:02:00" in text
    assert "Runs (>= 3 beats) 1 1" in text and "Couplets 1 0" in text
    assert "Flagged beats 52" in text
    sentence = report["selection"].sentence
    assert sentence.startswith("Showing 30 of 52 flagged beats: top 28 by anomaly score and the first beat of "
                               "each of the 2 V/S runs")
    assert _flat(sentence) in text


def test_strip_pages_text(report) -> None:
    sel = report["selection"].beats
    text = _flat(report["reader"].pages[1].extract_text())
    assert text.count("Reviewer:") == STRIPS_PER_PAGE and text.count("Decision:") == STRIPS_PER_PAGE
    first = sel.iloc[0]
    assert f"predicted {first['pred_class']} p=0.92" in text
    assert f"anomaly score {first['anomaly_score']:.2f}" in text
    last_page = _flat(report["reader"].pages[-1].extract_text())
    assert "30/30" in last_page


def test_strip_selection() -> None:
    _, beats = synthetic()
    runs = ectopic_runs(beats)
    assert list(zip(runs["first"], runs["length"], runs["cls"])) == [(20, 3, "V"), (40, 5, "S")]
    sel = select_strip_beats(beats, 10)
    pos = list(sel.beats.index)
    assert len(pos) == 10 and pos == sorted(pos)
    assert 20 in pos and 40 in pos                      # run onsets
    assert sel.n_run_firsts == 2 and sel.n_top == 8
    flagged = beats[beats["flagged"]].drop(index=[20, 40])
    top8 = set(flagged.sort_values("anomaly_score", ascending=False).index[:8])
    assert top8 == set(pos) - {20, 40}
    assert sel.beats.loc[20, "why"] == "first beat of a run of 3 V"
    # more runs than half the cap: the longest are kept and the sentence says so
    many = {i: "V" for k in range(8) for i in range(100 + 5 * k, 103 + 5 * k)}
    many.update({i: "V" for i in range(60, 66)})
    _, b2 = synthetic(ectopic=many, extra_flags=10)
    s2 = select_strip_beats(b2, 6)
    assert s2.n_runs == 9 and s2.n_run_firsts == 3 and 60 in s2.beats.index
    assert "the first beat of the 3 longest of 9 V/S runs" in s2.sentence
    # everything fits
    s3 = select_strip_beats(beats, 500)
    assert s3.sentence.startswith(f"Showing all {int(beats['flagged'].sum())} flagged beats")


def test_strip_axes_physical_size() -> None:
    rec, beats = synthetic(extra_flags=3)
    pages = list(iter_report_pages(rec, beats, {}, max_strips=4))
    assert len(pages) == 1 + math.ceil(4 / STRIPS_PER_PAGE)
    strips = [ax for fig in pages[1:] for ax in fig.axes if ax.get_gid() == STRIP_GID]
    assert len(strips) == 4
    for ax in strips:
        w_mm, h_mm = axes_size_mm(ax)
        assert w_mm == pytest.approx(250.0, abs=1e-6) and h_mm == pytest.approx(40.0, abs=1e-6)
        (t0, t1), (v0, v1) = ax.get_xlim(), ax.get_ylim()
        assert w_mm / (t1 - t0) == pytest.approx(25.0)   # mm per second
        assert h_mm / (v1 - v0) == pytest.approx(10.0)   # mm per mV
        minor = ax.collections[0].get_segments()
        xs = np.unique(np.round([s[0][0] for s in minor if s[0][0] == s[1][0]], 6))
        major = ax.collections[1].get_segments()
        mx = np.unique(np.round([s[0][0] for s in major if s[0][0] == s[1][0]], 6))
        all_x = np.union1d(xs, mx)
        np.testing.assert_allclose(np.diff(all_x), 0.04, atol=1e-6)   # 1 mm
        np.testing.assert_allclose(np.diff(mx), 0.2, atol=1e-6)       # 5 mm
        # the trace: every sample of the 10 s window, nothing outside it
        x = ax.lines[0].get_xdata()
        assert x.size == int(10 * FS) + 1 and x[0] >= t0 - 1e-9 and x[-1] <= t1 + 1e-9


def test_no_flagged_beats_gives_one_page(tmp_path: Path) -> None:
    rec, beats = synthetic(ectopic={}, extra_flags=0)
    assert not beats["flagged"].any()
    out = write_pdf_report(rec, beats, None, tmp_path / "r.pdf")
    reader = pypdf.PdfReader(str(out))
    assert len(reader.pages) == 1
    assert "No flagged beats" in reader.pages[0].extract_text()


def test_failed_write_leaves_existing_file(tmp_path: Path) -> None:
    rec, beats = synthetic(extra_flags=2)
    target = tmp_path / "r.pdf"
    target.write_bytes(b"old")
    with pytest.raises(KeyError):
        write_pdf_report(rec, beats.drop(columns=["anomaly_score"]), {}, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.pdf"]


def test_with_holter_summary(tmp_path: Path) -> None:
    summary_mod = pytest.importorskip("ecg.scoring.summary")
    rec, beats = synthetic(extra_flags=2)
    summary = summary_mod.holter_summary(beats, FS, rec.duration_s)
    out = write_pdf_report(rec, beats, summary, tmp_path / "r.pdf", max_strips=3)
    text = _flat(pypdf.PdfReader(str(out)).pages[0].extract_text())
    assert "V: ventricular 6" in text and "Runs (>= 3 beats) 1 1" in text
    assert "Couplets 1 0" in text and "Isolated 1 0" in text
