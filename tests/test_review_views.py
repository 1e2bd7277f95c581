"""Tests of ecg.review.views: the reviewed beat table, display tables and download files, on a
small synthetic record and beat table with decisions from a real review store."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecg.io.records import Record
from ecg.review.reviewed import apply_review, load_review
from ecg.review.store import Decision, ReviewStore
from ecg.review.views import (
    annotation_bytes,
    csv_bytes,
    decision_text,
    flagged_list,
    history_frame,
    pdf_bytes,
    reviewed_table,
    safe_file_stem,
    summary_tables,
)
from ecg.scoring.schema import beat_columns, validate_beat_table
from ecg.scoring.score import ScoredRecord
from tests.conftest import synthetic_ecg

FS = 360.0
REVIEW_COLS = ["effective_label", "review_decision", "reviewer", "reviewed_at", "review_comment"]


def record_and_beats() -> tuple[Record, pd.DataFrame]:
    """A 20 s one-lead synthetic record and its beat table: beat 3 V (class + anomaly), beat 6 S
    (class), beat 9 N flagged as an anomaly, the others N."""
    sig, peaks = synthetic_ecg(FS, duration_s=20.0, hr_bpm=60.0)
    n = peaks.size
    cls = np.full(n, "N", dtype=object)
    cls[3], cls[6] = "V", "S"
    score = np.full(n, 0.4)
    score[3], score[9] = 2.5, 1.75
    reason = np.full(n, "", dtype=object)
    reason[3], reason[6], reason[9] = "class+anomaly", "class", "anomaly"
    probs = {f"prob_{c}": np.where(cls == c, 0.9, 0.025) for c in "NSVFQ"}
    rr = np.diff(peaks) / FS
    beats = pd.DataFrame(
        {
            "sample": peaks,
            "time_s": peaks / FS,
            "lead": "MLII",
            "rr_prev_s": np.r_[np.nan, rr],
            "rr_next_s": np.r_[rr, np.nan],
            "pred_class": cls.astype(str),
            **probs,
            "anomaly_score": score,
            "flagged": reason != "",
            "flag_reason": reason.astype(str),
            "ref_symbol": "N",
            "ref_class": "N",
            "quality": "good",
            "af": False,
            "nn": True,
            "family": 0,
        }
    )[beat_columns()]
    validate_beat_table(beats)
    rec = Record(name="synth 1", signal=sig[:, None], fs=FS, lead_names=("MLII",), units=("mV",))
    return rec, beats


@pytest.fixture()
def data() -> tuple[Record, pd.DataFrame]:
    return record_and_beats()


@pytest.fixture()
def reviewed(tmp_path: Path, data) -> pd.DataFrame:
    """Beat 3 relabelled V -> S (after an earlier confirm), beat 9 dismissed."""
    _, beats = data
    s = beats["sample"].to_numpy()
    with ReviewStore(tmp_path / "reviews.db") as store:
        store.record_decision("synth 1", int(s[3]), "dr_a", "V", "confirm")
        store.record_decision("synth 1", int(s[3]), "dr_b", "V", "relabel", new_label="S", comment="P wave")
        store.record_decision("synth 1", int(s[9]), "dr_a", "N", "dismiss")
        store.record_decision("other", int(s[6]), "dr_a", "S", "dismiss")  # another record: ignored
        latest = store.latest_decisions("synth 1")
    return reviewed_table(beats, latest)


# --- review state -------------------------------------------------------------------------------


def test_reviewed_table_joins_the_latest_decision_of_each_beat(data, reviewed: pd.DataFrame) -> None:
    _, beats = data
    assert list(reviewed.columns) == list(beats.columns) + REVIEW_COLS
    pd.testing.assert_frame_equal(reviewed[beats.columns], beats)
    r3, r9, r6 = reviewed.iloc[3], reviewed.iloc[9], reviewed.iloc[6]
    assert (r3["effective_label"], r3["review_decision"], r3["reviewer"], r3["review_comment"]) == (
        "S",
        "relabel",
        "dr_b",
        "P wave",
    )
    assert str(r3["reviewed_at"]).startswith("20")
    assert (r9["effective_label"], r9["review_decision"], r9["reviewer"]) == ("N", "dismiss", "dr_a")
    assert (r6["effective_label"], r6["review_decision"], r6["reviewer"]) == ("S", "", "")
    unreviewed = reviewed.drop(index=reviewed.index[[3, 9]])
    assert (unreviewed["effective_label"] == unreviewed["pred_class"]).all()
    assert (unreviewed[REVIEW_COLS[1:]] == "").all().all()


def test_reviewed_table_without_decisions(data) -> None:
    _, beats = data
    elsewhere = pd.DataFrame(
        {
            "beat_sample": [10**9],
            "effective_label": ["V"],
            "decision": ["confirm"],
            "reviewer": ["x"],
            "decided_at": ["t"],
            "comment": [""],
        }
    )
    for latest in (pd.DataFrame(columns=["beat_sample"]), elsewhere):
        out = reviewed_table(beats, latest)  # no decisions, or only on samples not in the table
        assert out["effective_label"].tolist() == beats["pred_class"].tolist()
        assert (out["review_decision"] == "").all()
    empty = reviewed_table(beats.iloc[:0], pd.DataFrame(columns=["beat_sample"]))
    assert len(empty) == 0 and list(empty.columns) == list(beats.columns) + REVIEW_COLS


def test_decision_text() -> None:
    assert decision_text("confirm", "V", None) == "confirmed V"
    assert decision_text("dismiss", "S", None) == "dismissed (S -> N)"
    assert decision_text("relabel", "V", "F") == "relabelled V -> F"
    assert decision_text("artefact", "V", None) == "marked artefact, not a beat (was V)"


def test_history_frame_marks_bulk_and_undone_decisions(tmp_path: Path) -> None:
    with ReviewStore(tmp_path / "r.db") as store:
        bid = store.record_bulk_decision("r", [5, 6], ["V", "V"], "dr_a", "relabel", "S", family=2)
        store.undo_bulk(bid, "dr_a")
        store.record_bulk_decision("r", [5], ["V"], "dr_b", "artefact")
        store.record_decision("r", 5, "dr_c", "V", "confirm")
        h = history_frame(store.history("r", 5))
    assert h["decision"].tolist() == [
        "confirmed V",
        f"marked artefact, not a beat (was V) [bulk #{bid + 1}]",
        f"relabelled V -> S [bulk #{bid}, undone]",
    ]
    assert h["label"].tolist() == ["V", "Q", "S"]


def test_history_frame_lists_decisions_newest_first() -> None:
    def d(i: int, decision: str, new: str | None, when: str) -> Decision:
        return Decision(
            id=i,
            record="r",
            beat_sample=5,
            reviewer=f"dr_{i}",
            decided_at=when,
            model_label="V",
            decision=decision,
            new_label=new,
            comment=f"c{i}",
            bundle_version="b1",
        )

    h = history_frame(
        [d(1, "confirm", None, "2024-05-01T10:00:00.123456+00:00"), d(2, "relabel", "S", "2024-05-02T11:30:15.5+00:00")]
    )
    assert list(h.columns) == ["when (UTC)", "reviewer", "decision", "label", "comment", "bundle"]
    assert h.iloc[0].tolist() == ["2024-05-02 11:30:15", "dr_2", "relabelled V -> S", "S", "c2", "b1"]
    assert h.iloc[1].tolist() == ["2024-05-01 10:00:00", "dr_1", "confirmed V", "V", "c1", "b1"]
    assert history_frame([]).empty and list(history_frame([]).columns) == list(h.columns)


def test_flagged_list(data, reviewed: pd.DataFrame) -> None:
    _, beats = data
    mask = beats["flagged"].to_numpy()
    t = flagged_list(beats, mask, reviewed)
    s = beats["sample"].to_numpy()
    assert t.index.name == "sample" and t.index.tolist() == [s[3], s[6], s[9]]
    assert t["class"].tolist() == ["V", "S", "N"]
    assert t["p"].tolist() == [0.9, 0.9, 0.9]
    assert t["anomaly score"].tolist() == [2.5, 0.4, 1.75]
    assert t["flag"].tolist() == ["class+anomaly", "class", "anomaly"]
    assert t["reference"].tolist() == ["N", "N", "N"]
    assert t["review"].tolist() == ["relabel -> S", "", "dismiss -> N"]
    # beat 3 at sample s[3] / 360 Hz, as h:mm:ss.s
    t3 = s[3] / FS
    assert t["time"].iloc[0] == f"0:00:{t3:04.1f}"
    assert "review" not in flagged_list(beats, mask).columns
    assert flagged_list(beats, np.zeros(len(beats), bool), reviewed).empty


# --- Holter summary -----------------------------------------------------------------------------


def _summary(rec, beats):
    from ecg.scoring.summary import holter_summary

    return holter_summary(beats, rec.fs, rec.duration_s, analysable_s=rec.duration_s, record=rec.name)


def test_summary_tables(data) -> None:
    import dataclasses

    from ecg.scoring.summary_types import AFEpisodeSummary, PauseEvent, QualitySegment, RateEvent

    rec, beats = data
    s = _summary(rec, beats)
    s = dataclasses.replace(
        s,
        heart_rate=dataclasses.replace(
            s.heart_rate,
            mean_bpm=61.4,
            min=RateEvent(3725.0, None, None, bpm=48.2),
            max=RateEvent(1.0, "0:00:01", "2024-01-01T14:02:11", bpm=1234.5),
        ),
        pauses=dataclasses.replace(s.pauses, listed=[PauseEvent(61.0, "0:01:01", None, duration_s=2.349)]),
        af=dataclasses.replace(s.af, episodes=[AFEpisodeSummary(10.0, 70.0, 60.0, 110.4, 100, "0:00:10", None)]),
        signal_quality=dataclasses.replace(s.signal_quality, segments=[QualitySegment(4.0, 8.0, ["MLII"], "0:00:04")]),
    )
    t = summary_tables(s, beats)
    assert set(t) == {"beats", "heart_rate", "ectopy", "pauses", "af", "quality", "hourly", "daily", "hrv"}
    b = t["beats"]
    assert b.index.tolist() == ["N", "S", "V", "F", "Q"]
    assert b["beats"].tolist() == [s.beats.by_class[c] for c in b.index]
    assert b["flagged"].tolist() == [int((beats["flagged"] & (beats["pred_class"] == c)).sum()) for c in b.index]
    hr = t["heart_rate"]
    assert hr["bpm"].tolist() == ["61", "48", "1,234"]  # 1234.5 rounds half to even
    assert hr["at"].tolist() == ["-", "1:02:05", "2024-01-01T14:02:11"]
    e = t["ectopy"]
    assert e.index.tolist() == ["V", "S", "F"]
    for c in ("V", "S", "F"):
        assert e.loc[c, "total"] == s.ectopy.of(c).total and e.loc[c, "couplets"] == s.ectopy.of(c).couplets
    assert t["pauses"].values.tolist() == [["2.35", "0:01:01"]]
    assert t["af"].values.tolist() == [["0:00:10", "0:01:10", "0:01:00", "110", 100]]
    assert t["quality"].values.tolist() == [["0:00:04", "0:00:08", "4.0", "MLII"]]
    assert t["hourly"].index.tolist() == [s.hourly[0].elapsed]


def test_summary_tables_of_an_empty_summary(data) -> None:
    rec, beats = data
    t = summary_tables(_summary(rec, beats.iloc[:0]), beats.iloc[:0])
    assert t["beats"]["beats"].sum() == 0 and (t["beats"]["%"] == 0.0).all()
    assert t["heart_rate"]["bpm"].tolist() == ["-", "-", "-"]
    assert t["pauses"].empty and list(t["pauses"].columns) == ["duration (s)", "at"]
    assert t["af"].empty and t["quality"].empty


# --- downloads ----------------------------------------------------------------------------------


def _scored(rec: Record, beats: pd.DataFrame) -> ScoredRecord:
    return ScoredRecord(
        record=rec,
        beats=beats,
        summary=_summary(rec, beats),
        bundle_version="bundle-9",
        lead="MLII",
        threshold=99.0,
        missed_reference=pd.DataFrame(),
        dropped={},
        analysable_s=rec.duration_s,
        seconds=0.0,
        leads=("MLII",),
    )


@pytest.fixture()
def reviewed_record(tmp_path: Path, data) -> ScoredRecord:
    """The synthetic record with beat 3 relabelled V -> S and beat 9 dismissed, applied."""
    rec, beats = data
    s = beats["sample"].to_numpy()
    with ReviewStore(tmp_path / "reviews.db") as store:
        store.record_decision("synth 1", int(s[3]), "dr_b", "V", "relabel", new_label="S", comment="P wave")
        store.record_decision("synth 1", int(s[9]), "dr_a", "N", "dismiss")
        return load_review(_scored(rec, beats), store, "synth 1")


def test_csv_bytes_is_the_reviewed_beat_table(data, reviewed_record: ScoredRecord) -> None:
    _, beats = data
    back = pd.read_csv(io.BytesIO(csv_bytes(reviewed_record, "synth_1")), keep_default_na=False)
    assert list(back.columns) == list(beats.columns) + REVIEW_COLS
    assert back["sample"].tolist() == beats["sample"].tolist()
    assert back["effective_label"].tolist() == reviewed_record.beats["effective_label"].tolist()
    assert back.loc[3, "effective_label"] == "S" and back.loc[3, "pred_class"] == "V"
    assert back.loc[3, "review_decision"] == "relabel" and back.loc[3, "review_comment"] == "P wave"


def test_annotation_bytes_carry_the_reviewed_labels(tmp_path: Path, data, reviewed_record: ScoredRecord) -> None:
    import wfdb

    raw = annotation_bytes(reviewed_record, "synth_1")
    (tmp_path / "synth_1.ecg").write_bytes(raw)
    ann = wfdb.rdann(str(tmp_path / "synth_1"), "ecg")
    _, beats = data
    assert ann.sample.tolist() == beats["sample"].tolist()
    assert ann.fs == FS
    expected = list(beats["pred_class"])
    expected[3] = "S"  # relabelled V -> S; the dismissed beat 9 was N already
    assert ann.symbol == expected
    assert ann.aux_note[3].endswith("model:V") and "a=2.5" in ann.aux_note[3]  # the model's class kept
    assert "model:" not in ann.aux_note[9]  # dismissed, but N as the model said


def test_downloads_refuse_an_unreviewed_table(data) -> None:
    _, beats = data
    with pytest.raises(TypeError, match="apply_review"):
        csv_bytes(beats, "synth_1")  # type: ignore[arg-type]


def test_pdf_bytes_is_the_reviewed_report(data) -> None:
    import pypdf

    rec, beats = data
    quiet = beats.assign(flagged=False, flag_reason="")
    reviewed = apply_review(_scored(rec, quiet), pd.DataFrame(columns=["beat_sample"]))
    raw = pdf_bytes(reviewed, "synth_1")
    assert raw.startswith(b"%PDF")
    pages = pypdf.PdfReader(io.BytesIO(raw)).pages
    text = " ".join(pages[0].extract_text().split())
    assert "bundle-9" in text and "This report uses reviewed labels: 0 beats reviewed" in text


@pytest.mark.parametrize(
    "name, stem",
    [
        ("100", "100"),
        ("rec-1.2_x", "rec-1.2_x"),
        ("synth 1", "synth_1"),
        ("a/b\\c:d", "a_b_c_d"),
        ("..hidden", "hidden"),
        ("...", "record"),
        ("", "record"),
        ("ÉCG", "_CG"),
    ],
)
def test_safe_file_stem(name: str, stem: str) -> None:
    assert safe_file_stem(name) == stem
