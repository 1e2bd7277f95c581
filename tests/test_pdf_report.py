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


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    rec, beats = synthetic(duration_s=900.0, extra_flags=100)
    path = tmp_path_factory.mktemp("pdf") / "out" / "synth42_report.pdf"
    summary = summary_of(rec, beats)
    t = time.perf_counter()
    out = write_pdf_report(rec, beats, summary, path, max_strips=30, bundle_version="bundle-7")
    elapsed = time.perf_counter() - t
    reader = pypdf.PdfReader(str(out))
    return {
        "rec": rec,
        "beats": beats,
        "path": out,
        "elapsed": elapsed,
        "reader": reader,
        "summary": summary,
        "page1": reader.pages[0].extract_text(),
        "selection": select_strip_beats(beats, 30),
    }


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.slow
def test_page_count(report) -> None:
    sel = report["selection"]
    n = len(sel.beats)
    assert 20 <= n <= 30 < int(report["beats"]["flagged"].sum())
    assert len(report["reader"].pages) == 1 + math.ceil(n / STRIPS_PER_PAGE)
    t = np.sort(sel.beats["time_s"].to_numpy())
    assert (np.diff(t) >= 10.0).all()  # no two strips show the same seconds
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
    sentence = report["selection"].sentence
    assert sentence.startswith(
        f"Showing {len(report['selection'].beats)} of {int(report['beats']['flagged'].sum())} flagged beats: top "
    )
    assert "each of the 2 V/S runs" in sentence
    assert _flat(sentence) in text


@pytest.mark.slow
def test_strip_pages_text(report) -> None:
    sel = report["selection"].beats
    text = _flat(report["reader"].pages[1].extract_text())
    assert text.count("Reviewer:") == STRIPS_PER_PAGE and text.count("Decision:") == STRIPS_PER_PAGE
    first = sel.iloc[0]
    assert f"predicted {first['pred_class']} p=0.92" in text
    assert f"anomaly score {first['anomaly_score']:.2f} / 100" in text
    n = len(report["selection"].beats)
    last_page = _flat(report["reader"].pages[-1].extract_text())
    assert f"{n}/{n}" in last_page


def test_strip_selection() -> None:
    _, beats = synthetic(duration_s=600.0, extra_flags=40)
    runs = ectopic_runs(beats)
    assert list(zip(runs["first"], runs["length"], runs["cls"])) == [(20, 3, "V"), (40, 5, "S")]
    sel = select_strip_beats(beats, 10)
    pos = list(sel.beats.index)
    assert len(pos) == 10 and pos == sorted(pos)
    assert 20 in pos and 40 in pos  # run onsets
    assert sel.n_run_firsts == 2 and sel.n_top == 8
    t = beats["time_s"].to_numpy()
    assert (np.diff(np.sort(t[pos])) >= 10.0).all()  # no overlapping strips
    # the top-scoring flagged beats, greedily, skipping any within 10 s of one already chosen
    flagged = beats[beats["flagged"]].drop(index=[20, 40]).sort_values("anomaly_score", ascending=False, kind="stable")
    chosen_t = [t[20], t[40]]
    expect = []
    for i in flagged.index:
        if len(expect) == 8:
            break
        if all(abs(t[i] - u) >= 10.0 for u in chosen_t):
            expect.append(i)
            chosen_t.append(t[i])
    assert set(expect) == set(pos) - {20, 40}
    assert sel.beats.loc[20, "why"] == "first beat of a run of 3 V"
    # more runs than half the cap: the longest are kept and the sentence says so
    many = {i: "V" for k in range(8) for i in range(100 + 15 * k, 103 + 15 * k)}
    many.update({i: "V" for i in range(60, 66)})
    _, b2 = synthetic(duration_s=600.0, ectopic=many, extra_flags=10)
    s2 = select_strip_beats(b2, 6)
    assert s2.n_runs == 9 and s2.n_run_firsts == 3 and 60 in s2.beats.index
    assert "the first beat of 3 of the 9 V/S runs" in s2.sentence
    # everything fits when nothing overlaps
    sparse = beats.assign(flagged=False, flag_reason="")
    sparse.loc[[100, 200, 300], ["flagged", "flag_reason"]] = [True, "anomaly"]
    s3 = select_strip_beats(sparse, 500)
    assert s3.sentence.startswith("Showing all 3 flagged beats")


def test_strips_skip_unreadable_beats_and_pauses() -> None:
    _, beats = synthetic(duration_s=600.0, ectopic={}, extra_flags=0)
    b = beats.copy()
    b.loc[[100, 200, 300, 400], ["flagged", "flag_reason"]] = [True, "anomaly"]
    b.loc[[100, 200, 300, 400], "anomaly_score"] = [99.9, 99.8, 99.7, 99.6]
    b.loc[100, "quality"] = "unreadable"
    b.loc[100, "anomaly_score"] = np.nan
    b.loc[200, "rr_next_s"] = 3.5  # the beat before a pause
    b.loc[300, "quality"] = "noisy"
    sel = select_strip_beats(b, 10)
    assert list(sel.beats.index) == [300, 400]
    assert select_strip_beats(b, 1).beats.index.tolist() == [400]  # a good beat before a noisy one


def test_strip_axes_physical_size() -> None:
    rec, beats = synthetic(extra_flags=3)
    pages = list(iter_report_pages(rec, beats, summary_of(rec, beats), max_strips=4))
    assert len(pages) == 1 + math.ceil(4 / STRIPS_PER_PAGE)
    strips = [ax for fig in pages[1:] for ax in fig.axes if ax.get_gid() == STRIP_GID]
    assert len(strips) == 4
    for ax in strips:
        w_mm, h_mm = axes_size_mm(ax)
        assert w_mm == pytest.approx(250.0, abs=1e-6) and h_mm == pytest.approx(40.0, abs=1e-6)
        (t0, t1), (v0, v1) = ax.get_xlim(), ax.get_ylim()
        assert w_mm / (t1 - t0) == pytest.approx(25.0)  # mm per second
        assert h_mm / (v1 - v0) == pytest.approx(10.0)  # mm per mV
        minor = ax.collections[0].get_segments()
        xs = np.unique(np.round([s[0][0] for s in minor if s[0][0] == s[1][0]], 6))
        major = ax.collections[1].get_segments()
        mx = np.unique(np.round([s[0][0] for s in major if s[0][0] == s[1][0]], 6))
        all_x = np.union1d(xs, mx)
        np.testing.assert_allclose(np.diff(all_x), 0.04, atol=1e-6)  # 1 mm
        np.testing.assert_allclose(np.diff(mx), 0.2, atol=1e-6)  # 5 mm
        # the trace: every sample of the 10 s window, nothing outside it
        x = ax.lines[0].get_xdata()
        assert x.size == int(10 * FS) + 1 and x[0] >= t0 - 1e-9 and x[-1] <= t1 + 1e-9


def test_no_flagged_beats_gives_one_page(tmp_path: Path) -> None:
    rec, beats = synthetic(ectopic={}, extra_flags=0)
    assert not beats["flagged"].any()
    out = write_pdf_report(rec, beats, summary_of(rec, beats), tmp_path / "r.pdf")
    reader = pypdf.PdfReader(str(out))
    assert len(reader.pages) == 1
    assert "No flagged beats" in reader.pages[0].extract_text()


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
    assert len(reader.pages) == 3
    daily = _flat(reader.pages[1].extract_text())
    assert "day by day" in daily and "Day 1" in daily and "Day 3" in daily
    assert "2024-05-08 08:15:00" in daily and "page 2 of 3" in daily
    assert "page 3 of 3" in _flat(reader.pages[2].extract_text())
