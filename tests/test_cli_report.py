"""Tests of ``ecg report``: reviewed outputs of one record from the review database, end to end
on a 3-minute excerpt of demo record 119 scored with the shipped bundle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ecg.cli import main
from ecg.export.tables import read_beat_table
from ecg.review.store import ReviewStore, record_review_key


@pytest.fixture(scope="module")
def excerpt(tmp_path_factory) -> Path:
    """The first 3 minutes of demo record 119 (two leads) as a WFDB record of its own."""
    import wfdb

    from ecg.io.records import load_record
    from tests.conftest import DEMO_DIR

    rec = load_record("119", DEMO_DIR, sampto=360 * 180)
    d = tmp_path_factory.mktemp("rec")
    wfdb.wrsamp(
        "ex119",
        fs=rec.fs,
        units=list(rec.units),
        sig_name=list(rec.lead_names),
        p_signal=np.asarray(rec.signal, dtype=np.float64),
        fmt=["212"] * rec.n_leads,
        write_dir=str(d),
    )
    return d / "ex119"


@pytest.fixture(scope="module")
def model_beats(excerpt: Path):
    from ecg.scoring.score import score_record

    return score_record(str(excerpt)).beats


def _run(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["report", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_report_writes_the_reviewed_outputs(tmp_path: Path, capsys, excerpt: Path, model_beats) -> None:
    import wfdb

    key = record_review_key(excerpt)
    v = model_beats.loc[model_beats["pred_class"] == "V", "sample"].to_numpy()
    n = model_beats.loc[model_beats["pred_class"] == "N", "sample"].to_numpy()
    assert v.size >= 3 and n.size >= 3
    db = tmp_path / "reviews.db"
    with ReviewStore(db) as store:
        store.record_bulk_decision(key, v[:3], ["V"] * 3, "dr_a", "relabel", "F", family=1)
        store.record_decision(key, int(n[0]), "dr_b", "N", "relabel", new_label="S")
        store.record_decision(key, int(n[1]), "dr_b", "N", "artefact")
        store.record_decision("ex119@elsewhere", int(n[2]), "dr_c", "N", "relabel", new_label="V")  # not this file
    out = tmp_path / "out"
    args = (str(excerpt), "--reviews", str(db), "--out", str(out), "--formats", "csv,json,wfdb")
    rc, stdout, stderr = _run(capsys, *args)
    assert rc == 0, stderr
    assert "5 reviewed by dr_a, dr_b (5 changed, 1 marked artefact)" in stdout
    folder = out / "ex119_reviewed"
    assert sorted(p.name for p in folder.iterdir()) == [
        "ex119_reviewed.ecg",
        "ex119_reviewed_beats.csv",
        "ex119_reviewed_manifest.json",
        "ex119_reviewed_summary.json",
    ]

    beats = read_beat_table(folder / "ex119_reviewed_beats.csv").set_index("sample")
    assert beats.loc[v[:3], "effective_label"].tolist() == ["F"] * 3
    assert beats.loc[[n[0], n[1], n[2]], "effective_label"].tolist() == ["S", "Q", "N"]
    assert beats.loc[n[1], "review_decision"] == "artefact"
    assert (beats["pred_class"].to_numpy() == model_beats["pred_class"].to_numpy()).all()

    summary = json.loads((folder / "ex119_reviewed_summary.json").read_text())
    model_counts = model_beats["pred_class"].value_counts()
    assert summary["class_column"] == "effective_label"
    assert summary["beats"]["total"] == len(model_beats) - 1
    assert summary["beats"]["by_class"]["F"] == model_counts.get("F", 0) + 3
    assert summary["beats"]["by_class"]["S"] == model_counts.get("S", 0) + 1
    assert summary["review"]["reviewed_beats"] == 5 and summary["review"]["artefact_beats"] == 1
    assert summary["review"]["source"] == f"{db} (review key {key})"

    manifest = json.loads((folder / "ex119_reviewed_manifest.json").read_text())
    assert manifest["review_key"] == key and manifest["review"]["changed_beats"] == 5

    ann = wfdb.rdann(str(folder / "ex119_reviewed"), "ecg")
    sym = dict(zip(ann.sample.tolist(), ann.symbol))
    assert [sym[int(s)] for s in v[:3]] == ["F"] * 3 and sym[int(n[0])] == "S"


def test_report_without_decisions_still_writes_and_warns(tmp_path: Path, capsys, excerpt: Path) -> None:
    db = tmp_path / "reviews.db"
    with ReviewStore(db) as store:
        store.record_decision("ex119@0123456789ab", 5, "dr_a", "N", "confirm")
    out = tmp_path / "out"
    rc, stdout, stderr = _run(capsys, str(excerpt), "--reviews", str(db), "--out", str(out), "--formats", "json")
    assert rc == 0
    key = record_review_key(excerpt)
    assert f"no review decisions under key {key}" in stderr
    assert "ex119@0123456789ab" in stderr  # the hint names the other recording's key
    assert "0 reviewed" in stdout
    summary = json.loads((out / "ex119_reviewed" / "ex119_reviewed_summary.json").read_text())
    assert summary["review"]["reviewed_beats"] == 0 and summary["review"]["changed_beats"] == 0

    rc, _, stderr = _run(
        capsys,
        str(excerpt),
        "--reviews",
        str(db),
        "--out",
        str(out),
        "--formats",
        "json",
        "--key",
        "ex119@0123456789ab",
    )
    assert rc == 0 and "not beats of this scoring" in stderr  # sample 5 is no beat here


def test_report_errors(tmp_path: Path, capsys, excerpt: Path) -> None:
    out = str(tmp_path / "out")
    rc, _, err = _run(capsys, str(excerpt), "--reviews", str(tmp_path / "missing.db"), "--out", out)
    assert rc == 2 and f"{tmp_path / 'missing.db'}: review database not found" in err

    db = tmp_path / "reviews.db"
    ReviewStore(db).close()
    rc, _, err = _run(capsys, str(tmp_path / "nope"), "--reviews", str(db), "--out", out)
    assert rc == 2 and str(tmp_path / "nope") in err

    rc, _, err = _run(capsys, str(excerpt), "--reviews", str(db), "--out", out, "--formats", "csv,docx")
    assert rc == 2 and "unknown output formats docx" in err

    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\xff" * 8000)
    rc, _, err = _run(capsys, str(excerpt), "--reviews", str(damaged), "--out", out)
    assert rc == 2 and str(damaged) in err and "damaged" in err
    assert not (tmp_path / "out").exists()


def test_report_refuses_a_folder_of_several_records(tmp_path: Path, capsys, excerpt: Path) -> None:
    import shutil

    for name in ("a", "b"):
        for ext in ("hea", "dat"):
            shutil.copy(f"{excerpt}.{ext}", tmp_path / f"{name}.{ext}")
        (tmp_path / f"{name}.hea").write_text((tmp_path / f"{name}.hea").read_text().replace("ex119", name))
    db = tmp_path / "reviews.db"
    ReviewStore(db).close()
    rc, _, err = _run(capsys, str(tmp_path), "--reviews", str(db), "--out", str(tmp_path / "out"))
    assert rc == 2 and "holds 2 recordings; ecg report takes one record" in err


@pytest.mark.slow
def test_report_pdf_and_edf_use_the_reviewed_labels(tmp_path: Path, capsys, excerpt: Path, model_beats) -> None:
    import io

    import pypdf

    key = record_review_key(excerpt)
    n = model_beats.loc[model_beats["pred_class"] == "N", "sample"].to_numpy()
    db = tmp_path / "reviews.db"
    with ReviewStore(db) as store:
        store.record_bulk_decision(key, n[:4], ["N"] * 4, "dr_a", "relabel", "S", family=0)
    out = tmp_path / "out"
    rc, _, err = _run(
        capsys, str(excerpt), "--reviews", str(db), "--out", str(out), "--formats", "pdf,edf", "--full-disclosure"
    )
    assert rc == 0, err
    folder = out / "ex119_reviewed"
    import pyedflib

    with pyedflib.EdfReader(str(folder / "ex119_reviewed.edf")) as edf:
        onsets, _, texts = edf.readAnnotations()
    label_at = {round(float(t) * 360): str(x).split()[0] for t, x in zip(onsets, texts)}
    assert [label_at[int(s)] for s in n[:4]] == ["S"] * 4
    raw = (folder / "ex119_reviewed_report.pdf").read_bytes()
    text = " ".join(" ".join(p.extract_text().split()) for p in pypdf.PdfReader(io.BytesIO(raw)).pages)
    assert "This report uses reviewed labels: 4 beats reviewed by dr_a, 4 changed from the model's class" in text
