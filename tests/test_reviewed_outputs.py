"""Tests of ecg.review.reviewed: review decisions applied to a scored record (5 minutes of demo
record 208, scored with the shipped bundle), the reviewed summary and the reviewed files."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecg.export.tables import read_beat_table
from ecg.review.reviewed import (
    REVIEW_COLUMNS,
    apply_review,
    load_review,
    review_info,
    reviewed_file_bytes,
    reviewed_file_name,
    reviewed_name,
    reviewed_table,
    write_reviewed_outputs,
)
from ecg.review.store import ReviewStore
from ecg.review.views import download_bytes, download_name
from ecg.scoring.summary import holter_summary
from ecg.scoring.summary_types import HolterSummary

KEY = "208@test"
NO_DECISIONS = pd.DataFrame(columns=["beat_sample"])


def _comparable(summary) -> dict:
    """A summary's dict without the fields a review is expected to change by itself."""
    d = summary.to_dict()
    for k in ("class_column", "review"):
        d.pop(k)
    return d


@pytest.fixture(scope="module")
def scored():
    from ecg.io.records import load_record
    from ecg.scoring.score import score_record
    from tests.conftest import DEMO_DIR

    return score_record(load_record("208", DEMO_DIR, sampto=360 * 300))


@pytest.fixture(scope="module")
def decisions(scored, tmp_path_factory) -> tuple[Path, dict]:
    """A review database: family 1 relabelled V in bulk, one of its beats then confirmed as the
    model's F by a single decision, two N beats relabelled S, one N beat marked artefact, and a
    bulk dismissal of family 2 that was undone."""
    b = scored.beats
    fam1 = b.loc[b["family"] == 1]
    fam2 = b.loc[b["family"] == 2]
    n_beats = b.loc[(b["pred_class"] == "N") & (b["family"] == 0), "sample"].to_numpy()
    f_in_fam1 = int(fam1.loc[fam1["pred_class"] == "F", "sample"].iloc[0])
    db = tmp_path_factory.mktemp("reviews") / "reviews.db"
    with ReviewStore(db) as store:
        store.record_bulk_decision(
            KEY, fam1["sample"].to_numpy(), fam1["pred_class"].to_numpy(), "dr_b", "relabel", "V", family=1
        )
        store.record_decision(KEY, f_in_fam1, "dr_a", "F", "confirm")
        for s in n_beats[10:12]:
            store.record_decision(KEY, int(s), "dr_a", "N", "relabel", new_label="S")
        store.record_decision(KEY, int(n_beats[20]), "dr_a", "N", "artefact", comment="T wave")
        undone = store.record_bulk_decision(
            KEY, fam2["sample"].to_numpy(), fam2["pred_class"].to_numpy(), "dr_c", "dismiss", family=2
        )
        store.undo_bulk(undone, "dr_c")
    return db, {"fam1": fam1, "f_in_fam1": f_in_fam1, "s_beats": n_beats[10:12], "artefact": int(n_beats[20])}


@pytest.fixture(scope="module")
def reviewed(scored, decisions):
    db, _ = decisions
    with ReviewStore(db) as store:
        return load_review(scored, store, KEY)


def test_without_decisions_the_reviewed_summary_is_the_model_summary(scored) -> None:
    rv = apply_review(scored, NO_DECISIONS, source="none")
    assert rv.summary.class_column == "effective_label" and scored.summary.class_column == "pred_class"
    assert _comparable(rv.summary) == _comparable(scored.summary)
    assert rv.summary.review.reviewed_beats == 0 and rv.summary.review.changed_beats == 0
    assert rv.summary.review.source == "none" and rv.summary.review.last_decision_at is None
    assert (rv.beats["nn"].to_numpy() == scored.beats["nn"].to_numpy()).all()
    assert (rv.beats["effective_label"] == scored.beats["pred_class"]).all()
    assert scored.summary.review is None and "effective_label" not in scored.beats.columns  # not modified


def test_reviewed_labels_follow_precedence_and_counts(scored, reviewed, decisions) -> None:
    _, d = decisions
    b = reviewed.beats.set_index("sample")
    fam1 = d["fam1"]["sample"].to_numpy()
    others = fam1[fam1 != d["f_in_fam1"]]
    assert (b.loc[others, "effective_label"] == "V").all()  # the bulk relabel
    assert (b.loc[others, "review_decision"] == "relabel").all() and (b.loc[others, "reviewer"] == "dr_b").all()
    assert b.loc[d["f_in_fam1"], "effective_label"] == "F"  # the later single decision wins
    assert (b.loc[d["s_beats"], "effective_label"] == "S").all()
    assert b.loc[d["artefact"], ["effective_label", "review_decision"]].tolist() == ["Q", "artefact"]
    assert not b.loc[d["artefact"], "nn"]
    fam2 = scored.beats.loc[scored.beats["family"] == 2, "sample"].to_numpy()
    assert (b.loc[fam2, "review_decision"] == "").all()  # the undone bulk dismissal does not count

    info = reviewed.summary.review
    n_f_to_v = int((d["fam1"]["pred_class"] == "F").sum()) - 1
    assert info.reviewed_beats == len(fam1) + 2 + 1
    assert info.changed_beats == n_f_to_v + 2 + 1  # F -> V, N -> S, the artefact
    assert info.artefact_beats == 1
    assert info.reviewers == ["dr_a", "dr_b"]
    assert info.source.endswith(f"(review key {KEY})")
    assert info.last_decision_at == max(reviewed.beats["reviewed_at"])

    model = scored.summary.beats.by_class
    got = reviewed.summary.beats
    assert got.total == len(scored.beats) - 1  # the artefact is not a beat
    assert got.by_class["V"] == model["V"] + n_f_to_v
    assert got.by_class["F"] == model["F"] - n_f_to_v
    assert got.by_class["S"] == model["S"] + 2
    assert got.by_class["N"] == model["N"] - 3
    assert got.by_class["Q"] == model["Q"]  # the artefact's Q is not counted as a beat
    assert reviewed.summary.ectopy.V.total == got.by_class["V"]


def test_reviewed_summary_is_holter_summary_of_the_effective_labels(scored, reviewed) -> None:
    kept = reviewed.beats.loc[reviewed.beats["review_decision"] != "artefact"]
    direct = holter_summary(
        kept,
        scored.record.fs,
        scored.record.n_samples / scored.record.fs,
        quality=scored.quality,
        start_time=scored.record.start_time,
        class_column="effective_label",
        record=scored.record.name,
        leads=scored.record.lead_names,
        analysed_leads=scored.leads,
        bundle_version=scored.bundle_version,
        anomaly_threshold=scored.threshold,
        dropped_beats=scored.dropped,
    )
    assert _comparable(direct) == _comparable(reviewed.summary)


def test_an_artefact_is_dropped_as_not_a_beat(scored) -> None:
    """A false detection between two beats, marked artefact: the reviewed summary (beats, RR,
    heart rate, pauses, HRV, ectopy) and the nn flags are those of the recording without it."""
    b = scored.beats
    i = int(np.flatnonzero((b["pred_class"] == "N").to_numpy() & b["nn"].to_numpy())[50])
    fake_sample = int((b["sample"].iloc[i - 1] + b["sample"].iloc[i]) // 2)
    fake = b.iloc[[i]].assign(
        sample=fake_sample, time_s=fake_sample / scored.record.fs, pred_class="V", flagged=False, flag_reason=""
    )
    with_fake = pd.concat([b.iloc[:i], fake, b.iloc[i:]], ignore_index=True)
    noisy = dataclasses.replace(scored, beats=with_fake)
    model_view = apply_review(noisy, NO_DECISIONS)
    assert model_view.summary.beats.total == len(b) + 1 and model_view.summary.ectopy.V.total == (
        scored.summary.ectopy.V.total + 1
    )
    latest = pd.DataFrame(
        {
            "beat_sample": [fake_sample],
            "effective_label": ["Q"],
            "decision": ["artefact"],
            "reviewer": ["dr_a"],
            "decided_at": ["2026-01-01T00:00:00+00:00"],
            "comment": [""],
        }
    )
    rv = apply_review(noisy, latest)
    assert _comparable(rv.summary) == _comparable(scored.summary)
    assert rv.summary.review.artefact_beats == 1 and rv.summary.review.changed_beats == 1
    kept = rv.beats["sample"] != fake_sample
    assert (rv.beats.loc[kept, "nn"].to_numpy() == b["nn"].to_numpy()).all()
    assert len(rv.beats) == len(with_fake)  # the artefact stays in the table, marked


def test_review_info_of_a_table_without_review_columns_fails_clearly(scored) -> None:
    with pytest.raises(KeyError):
        review_info(scored.beats)
    with pytest.raises(TypeError, match="apply_review"):
        reviewed_file_bytes(scored.beats, "csv")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no review applied"):
        reviewed_file_bytes(scored, "csv")


def test_names() -> None:
    assert reviewed_name("100") == "100_reviewed"
    assert reviewed_file_name("100", "csv") == "100_reviewed_beats.csv"
    assert reviewed_file_name("100", "wfdb") == "100_reviewed.ecg"
    assert reviewed_file_name("100", "pdf") == "100_reviewed_report.pdf"
    assert download_name("synth 1", "json") == "synth_1_reviewed_summary.json"
    with pytest.raises(ValueError, match="unknown output format"):
        reviewed_file_name("100", "docx")


def test_reviewed_files_carry_the_reviewed_labels(tmp_path: Path, reviewed) -> None:
    import wfdb

    written = write_reviewed_outputs(
        reviewed, tmp_path, ("csv", "parquet", "json", "wfdb"), name="208", manifest={"review_key": KEY}
    )
    folder = tmp_path / "208_reviewed"
    assert {p.name for p in written.values()} == {
        "208_reviewed_beats.csv",
        "208_reviewed_beats.parquet",
        "208_reviewed_summary.json",
        "208_reviewed.ecg",
        "208_reviewed_manifest.json",
    }
    assert all(p.parent == folder and p.is_file() for p in written.values())

    for fmt in ("csv", "parquet"):
        back = read_beat_table(written[fmt])
        assert list(back.columns[-len(REVIEW_COLUMNS) :]) == list(REVIEW_COLUMNS)
        assert back["effective_label"].tolist() == reviewed.beats["effective_label"].tolist()
        assert back["review_decision"].tolist() == reviewed.beats["review_decision"].tolist()
        assert back["pred_class"].tolist() == reviewed.beats["pred_class"].tolist()  # the model's labels kept

    summary = json.loads(written["json"].read_text())
    assert HolterSummary.from_dict(summary).review == reviewed.summary.review  # round-trips
    assert summary["class_column"] == "effective_label"
    assert summary["beats"]["by_class"] == reviewed.summary.beats.by_class
    assert summary["review"]["changed_beats"] == reviewed.summary.review.changed_beats
    assert summary["review"]["reviewers"] == ["dr_a", "dr_b"]

    ann = wfdb.rdann(str(folder / "208_reviewed"), "ecg")
    symbols = pd.Series(ann.symbol, index=ann.sample)
    eff = reviewed.beats.set_index("sample")["effective_label"]
    changed = eff.index[eff.to_numpy() != reviewed.beats["pred_class"].to_numpy()]
    assert len(changed) > 0
    assert symbols.index.tolist() == reviewed.beats["sample"].tolist()
    assert symbols.reindex(changed).tolist() == eff.reindex(changed).tolist()  # CLASS_TO_SYMBOL: N S V F Q
    assert symbols.tolist() == eff.tolist()
    assert json.loads(written["manifest"].read_text()) == {"review_key": KEY}


def test_download_bytes_are_the_written_files(tmp_path: Path, reviewed) -> None:
    written = write_reviewed_outputs(reviewed, tmp_path, ("csv", "json", "wfdb"), name="208")
    for fmt in ("csv", "json", "wfdb"):
        assert download_bytes(reviewed, fmt, "208") == written[fmt].read_bytes(), fmt
        assert download_name("208", fmt) == written[fmt].name


@pytest.mark.slow
def test_reviewed_pdf_says_it_is_reviewed(reviewed) -> None:
    import pypdf

    raw = reviewed_file_bytes(reviewed, "pdf", name="208")
    assert raw.startswith(b"%PDF")
    text = " ".join(" ".join(p.extract_text().split()) for p in pypdf.PdfReader(io.BytesIO(raw)).pages)
    info = reviewed.summary.review
    assert "This report uses reviewed labels" in text
    assert f"{info.reviewed_beats:,} beats reviewed by dr_a, dr_b" in text
    assert f"{info.changed_beats:,} changed from the model's class, 1 marked artefact" in text


def test_reviewed_table_ignores_decisions_on_other_samples(scored) -> None:
    latest = pd.DataFrame(
        {
            "beat_sample": [10**9],
            "effective_label": ["V"],
            "decision": ["confirm"],
            "reviewer": ["x"],
            "decided_at": ["t"],
            "comment": [""],
        }
    )
    out = reviewed_table(scored.beats, latest)
    assert (out["review_decision"] == "").all() and list(out.columns[-5:]) == list(REVIEW_COLUMNS)
