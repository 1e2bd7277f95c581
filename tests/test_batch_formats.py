"""``ecg score`` on a folder that mixes WFDB, EDF+ and ISHNE recordings: each is found,
scored and written under its file's stem, with the recording's clock time in the summary."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from ecg.io import load_record
from ecg.scoring.batch import output_paths, resolve_inputs, score_batch
from tests.test_io_formats import write_ishne

pytestmark = [pytest.mark.realdata, pytest.mark.slow]
EXCERPT_S = 120


@pytest.fixture()
def mixed_dir(tmp_path: Path, demo_dir: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for ext in ("hea", "dat", "atr"):
        shutil.copy(demo_dir / f"119.{ext}", d / f"119.{ext}")
    shutil.copy(demo_dir / "119.atr", d / "119.ecg")  # a WFDB annotation file named .ecg: not a recording
    rec = load_record(demo_dir / "208", sampto=int(EXCERPT_S * 360))
    with pyedflib.EdfWriter(str(d / "holter_a.edf"), 2, file_type=pyedflib.FILETYPE_EDFPLUS) as w:
        w.setSignalHeaders(
            [
                {
                    "label": label,
                    "dimension": "uV",
                    "sample_frequency": 360,
                    "physical_min": -5000,
                    "physical_max": 5000,
                    "digital_min": -32768,
                    "digital_max": 32767,
                }
                for label in ("ECG II", "ECG V1")
            ]
        )
        w.setStartdatetime(datetime(2025, 7, 1, 23, 59, 0))
        w.writeSamples([np.ascontiguousarray(rec.signal[:, k] * 1000.0, dtype=np.float64) for k in range(2)])
    rec = load_record(demo_dir / "232", sampto=int(EXCERPT_S * 360))
    counts = np.round(np.nan_to_num(rec.signal) / 0.005).astype(np.int16)  # 5000 nV per count
    write_ishne(
        d / "patch_b.ecg",
        counts,
        fs=360,
        lead_spec=(6, 11),
        resolution=(5000, 5000),
        record_date=(3, 2, 2024),
        start=(10, 0, 0),
    )
    return d


def test_a_mixed_folder_is_scored_under_each_stem(mixed_dir: Path, tmp_path: Path, tiny_bundle_path: Path) -> None:
    recs = resolve_inputs([str(mixed_dir)])
    assert [r.name for r in recs] == ["119", "holter_a", "patch_b"]
    out = tmp_path / "out"
    outcomes = score_batch([str(mixed_dir)], out, bundle_path=tiny_bundle_path, formats=("csv", "json"), progress=False)
    assert [(o.name, o.status) for o in outcomes] == [
        ("119", "scored"),
        ("holter_a", "scored"),
        ("patch_b", "scored"),
    ], [o.error for o in outcomes]
    starts = {}
    for o in outcomes:
        paths = output_paths(out, o.name)
        assert paths["csv"].is_file() and paths["manifest"].is_file()
        summary = json.loads(paths["json"].read_text())
        starts[o.name] = summary["recording"]["start_time"]
        assert o.row["beats"] > 0
    assert starts["holter_a"] == "2025-07-01T23:59:00" and starts["patch_b"] == "2024-02-03T10:00:00"
    assert outcomes[1].row["lead"] == "II+V1" and outcomes[2].row["lead"] == "II+V1"
    edf_summary = json.loads(output_paths(out, "holter_a")["json"].read_text())
    assert edf_summary["hourly"][0]["clock"] == "2025-07-01T23:59:00"
    # a re-run skips all three: the manifests match the files' digests
    again = score_batch([str(mixed_dir)], out, bundle_path=tiny_bundle_path, formats=("csv", "json"), progress=False)
    assert [o.status for o in again] == ["skipped"] * 3


def test_single_files_are_inputs_too(mixed_dir: Path) -> None:
    recs = resolve_inputs([str(mixed_dir / "holter_a.edf"), str(mixed_dir / "patch_b.ecg"), str(mixed_dir / "119.ecg")])
    assert [(r.name, Path(r.path).name) for r in recs] == [
        ("holter_a", "holter_a.edf"),
        ("patch_b", "patch_b.ecg"),
        ("119", "119"),
    ]
