"""Batch scoring: outputs and their names, a corrupt record in the batch, resume, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb

from ecg.cli import main
from ecg.export.tables import read_beat_table
from ecg.scoring.batch import output_paths, resolve_inputs, score_batch


@pytest.fixture()
def batch_dir(tmp_path: Path, demo_dir: Path) -> Path:
    """Two good demo records and one with a truncated signal file."""
    d = tmp_path / "in"
    d.mkdir()
    for name in ("119", "232"):
        for ext in ("hea", "dat", "atr"):
            shutil.copy(demo_dir / f"{name}.{ext}", d / f"{name}.{ext}")
    for ext in ("hea", "atr"):
        shutil.copy(demo_dir / f"208.{ext}", d / f"208.{ext}")
    (d / "208.dat").write_bytes((demo_dir / "208.dat").read_bytes()[:100000])
    return d


def test_resolve_inputs(batch_dir: Path, demo_dir: Path) -> None:
    recs = resolve_inputs([str(batch_dir)])
    assert [r.name for r in recs] == ["119", "208", "232"]
    assert resolve_inputs([str(demo_dir / "100.hea")])[0].path == str(demo_dir / "100")
    pn = resolve_inputs(["mitdb/100"])[0]
    assert (pn.name, pn.pn_dir, pn.path) == ("100", "mitdb", None)


@pytest.mark.slow
def test_batch_with_corrupt_record_and_resume(batch_dir: Path, tmp_path: Path, tiny_bundle_path: Path) -> None:
    out = tmp_path / "out"
    res = score_batch(
        [str(batch_dir)], out, bundle_path=tiny_bundle_path, formats=("csv", "json", "wfdb"), progress=False
    )
    status = {o.name: o.status for o in res}
    assert status == {"119": "scored", "208": "failed", "232": "scored"}
    err = next(o.error for o in res if o.name == "208")
    assert "208.dat" in err and "truncated" in err
    index = pd.read_csv(out / "index.csv")
    assert list(index["record"].astype(str)) == ["119", "208", "232"]
    assert list(index["status"]) == ["scored", "failed", "scored"]
    p = output_paths(out, "119")
    for key in ("csv", "json", "wfdb", "manifest"):
        assert p[key].is_file(), key
    assert not p["pdf"].exists()
    assert not (out / "208" / "208_manifest.json").exists()
    beats = read_beat_table(p["csv"])
    summary = json.loads(p["json"].read_text())
    assert summary["beats"]["total"] == len(beats) and summary["recording"]["record"] == "119"
    # WFDB annotations read back: every sample and symbol.
    ann = wfdb.rdann(str(out / "119" / "119"), "ecg")
    np.testing.assert_array_equal(ann.sample, beats["sample"].to_numpy())
    assert list(ann.symbol) == list(beats["pred_class"])
    assert no_tmp_files(out)
    assert not (out / ".staging").exists() and not (out / ".trash").exists()  # no staging leftovers

    # Resume: the good records are skipped, the broken one is tried again.
    mtime = p["csv"].stat().st_mtime_ns
    again = score_batch(
        [str(batch_dir)], out, bundle_path=tiny_bundle_path, formats=("csv", "json", "wfdb"), progress=False
    )
    assert {o.name: o.status for o in again} == {"119": "skipped", "208": "failed", "232": "skipped"}
    assert p["csv"].stat().st_mtime_ns == mtime
    # A changed option, or --force, scores again.
    changed = score_batch(
        [str(batch_dir / "119")],
        out,
        bundle_path=tiny_bundle_path,
        threshold=2.0,
        formats=("csv", "json", "wfdb"),
        progress=False,
    )
    assert changed[0].status == "scored"
    forced = score_batch(
        [str(batch_dir / "119")],
        out,
        bundle_path=tiny_bundle_path,
        threshold=2.0,
        formats=("csv", "json", "wfdb"),
        force=True,
        progress=False,
    )
    assert forced[0].status == "scored"


def test_interrupted_record_is_redone(batch_dir: Path, tmp_path: Path, tiny_bundle_path: Path) -> None:
    out = tmp_path / "out"
    score_batch([str(batch_dir / "119")], out, bundle_path=tiny_bundle_path, formats=("csv",), progress=False)
    output_paths(out, "119")["manifest"].unlink()  # as if killed before the manifest was written
    res = score_batch([str(batch_dir / "119")], out, bundle_path=tiny_bundle_path, formats=("csv",), progress=False)
    assert res[0].status == "scored"


@pytest.mark.slow
def test_all_formats_and_parallel_jobs(batch_dir: Path, tmp_path: Path, tiny_bundle_path: Path) -> None:
    out = tmp_path / "all"
    res = score_batch(
        [str(batch_dir / "119"), str(batch_dir / "232")], out, bundle_path=tiny_bundle_path, jobs=2, progress=False
    )
    assert [o.status for o in res] == ["scored", "scored"]
    for name in ("119", "232"):
        p = output_paths(out, name)
        for key in ("csv", "parquet", "json", "wfdb", "edf", "pdf", "manifest"):
            assert p[key].is_file() and p[key].stat().st_size > 0, (name, key)
        pd.testing.assert_frame_equal(read_beat_table(p["csv"]), read_beat_table(p["parquet"]))


def test_cli_score_exit_codes(batch_dir: Path, tmp_path: Path, tiny_bundle_path: Path, capsys) -> None:
    rc = main(
        [
            "score",
            str(batch_dir),
            "--out",
            str(tmp_path / "cli"),
            "--bundle",
            str(tiny_bundle_path),
            "--formats",
            "csv,json",
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 1  # one record failed
    assert "FAILED 208" in out and "TOTAL" in out
    assert any(line.split()[:2] == ["119", "MLII+V1"] for line in out.splitlines())  # the leads analysed
    rc = main(
        [
            "score",
            str(batch_dir / "119.hea"),
            "--out",
            str(tmp_path / "cli2"),
            "--bundle",
            str(tiny_bundle_path),
            "--formats",
            "csv",
            "--quiet",
        ]
    )
    assert rc == 0
    assert (tmp_path / "cli2" / "119" / "119_beats.csv").is_file()
    assert main(["score", str(batch_dir), "--out", str(tmp_path / "x"), "--formats", "xls"]) == 2


def no_tmp_files(root: Path) -> bool:
    return not any(p.name.endswith(".tmp") for p in root.rglob("*"))


def test_index_agrees_with_the_summaries_and_covers_earlier_runs(
    batch_dir: Path, tmp_path: Path, tiny_bundle_path: Path
) -> None:
    from ecg.scoring.summary_types import HolterSummary

    out = tmp_path / "idx"
    score_batch([str(batch_dir / "119")], out, bundle_path=tiny_bundle_path, formats=("csv", "json"), progress=False)
    # a later run on another record: the index still lists 119 (scored earlier)
    score_batch([str(batch_dir / "232")], out, bundle_path=tiny_bundle_path, formats=("csv", "json"), progress=False)
    index = pd.read_csv(out / "index.csv", keep_default_na=False).set_index("record")
    index.index = index.index.astype(str)
    assert list(index.index) == ["232", "119"]
    assert index.loc["232", "status"] == "scored" and index.loc["119", "status"] == "earlier"
    for name in ("119", "232"):
        s = HolterSummary.from_dict(json.loads(output_paths(out, name)["json"].read_text()))
        row = index.loc[name]
        assert row["beats"] == s.beats.total and row["n_V"] == s.beats.by_class["V"]
        assert row["flagged"] == s.flags.count and row["pauses"] == s.pauses.count
        for col, value in (
            ("v_burden_pct", s.ectopy.V.burden_pct),
            ("s_burden_pct", s.ectopy.S.burden_pct),
            ("f_burden_pct", s.ectopy.F.burden_pct),
            ("af_burden_pct", s.af.burden_pct),
            ("analysable_pct", s.signal_quality.analysable_pct),
            ("hr_mean_bpm", s.heart_rate.mean_bpm),
        ):
            assert value is not None and float(row[col]) == pytest.approx(value), col
        assert row["lead"] == "MLII+V1" and row["af_episodes"] == len(s.af.episodes)


def test_cli_lead_option_restricts_the_analysis(batch_dir: Path, tmp_path: Path, tiny_bundle_path: Path) -> None:
    out = tmp_path / "lead"
    for args, expect in ((["--lead", "V1"], {"V1"}), (["--lead", "0"], {"MLII"}), ([], {"MLII+V1"})):
        rc = main(
            [
                "score",
                str(batch_dir / "119"),
                "--out",
                str(out),
                "--bundle",
                str(tiny_bundle_path),
                "--formats",
                "csv,json",
                "--quiet",
                "--force",
                *args,
            ]
        )
        assert rc == 0
        beats = read_beat_table(output_paths(out, "119")["csv"])
        leads = set(beats["lead"]) - {""}
        assert expect <= leads and (expect == {"MLII+V1"} or leads == expect), (args, leads)
        s = json.loads(output_paths(out, "119")["json"].read_text())
        assert "+".join(s["recording"]["analysed_leads"]) == ("MLII+V1" if not args else next(iter(expect)))
