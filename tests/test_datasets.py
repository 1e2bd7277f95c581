"""DS1/DS2 split, the beat dataset builder and its cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ecg.datasets import DE_CHAZAL_COUNTS, DS1, DS2, PACED, build_beat_dataset, split_records
from ecg.datasets.beats import cache_key
from ecg.processing.pipeline import BeatConfig
from ecg.processing.segmentation import RR_FEATURES, BeatWindow
from tests.conftest import has_full_mitdb


def test_splits() -> None:
    assert len(DS1) == 22 and len(DS2) == 22
    assert not set(DS1) & set(DS2)
    assert not set(PACED) & (set(DS1) | set(DS2))
    assert set(PACED) == {"102", "104", "107", "217"}
    assert len(set(DS1) | set(DS2) | set(PACED)) == 48
    assert split_records("ds2") == DS2
    with pytest.raises(ValueError):
        split_records("DS3")


@pytest.mark.realdata
def test_build_from_reference_and_cache(tmp_path: Path, demo_dir: Path) -> None:
    cache = tmp_path / "cache"
    ds = build_beat_dataset(["119", "232"], demo_dir, cache_dir=cache)
    assert ds.waves.shape == (len(ds), 70) and ds.waves.dtype == np.float32
    assert ds.rr.shape == (len(ds), len(RR_FEATURES))
    assert set(np.unique(ds.record)) == {"119", "232"}
    # Reference rhythm per beat: 119 is sinus with ventricular bigeminy/trigeminy, 232 sinus
    # bradycardia; every beat follows a rhythm annotation.
    assert ds.rhythm is not None and ds.rhythm.shape == (len(ds),)
    assert set(np.unique(ds.rhythm[ds.record == "232"])) == {"(SBR"}
    assert {"(N", "(B", "(T"} <= set(np.unique(ds.rhythm[ds.record == "119"]))
    counts = ds.class_counts()
    assert counts["V"] == 444  # record 119's V beats (MIT-BIH README)
    assert counts["S"] == 1382  # record 232's S beats
    assert np.all(np.diff(ds.sample[ds.record == "119"]) > 0)
    files = list(cache.glob("beats-reference-*.npz"))
    assert len(files) == 1
    again = build_beat_dataset(["119", "232"], demo_dir, cache_dir=cache)
    np.testing.assert_array_equal(again.waves, ds.waves)
    np.testing.assert_array_equal(again.label, ds.label)
    np.testing.assert_array_equal(again.rhythm, ds.rhythm)
    assert again.dropped == ds.dropped


def test_cache_key_changes_with_params_and_files(tmp_path: Path, demo_dir: Path) -> None:
    for ext in ("hea", "dat", "atr"):
        shutil.copy(demo_dir / f"100.{ext}", tmp_path / f"100.{ext}")
    k1 = cache_key(["100"], tmp_path, None, BeatConfig(), "reference")
    assert k1 == cache_key(["100"], tmp_path, None, BeatConfig(), "reference")
    assert k1 != cache_key(["100"], tmp_path, None, BeatConfig(window=BeatWindow(fs=128.0)), "reference")
    assert k1 != cache_key(["100"], tmp_path, "V5", BeatConfig(), "reference")
    assert k1 != cache_key(["100"], tmp_path, None, BeatConfig(), "detected")
    data = bytearray((tmp_path / "100.atr").read_bytes())
    data[-10] ^= 1
    (tmp_path / "100.atr").write_bytes(bytes(data))
    assert k1 != cache_key(["100"], tmp_path, None, BeatConfig(), "reference")


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.skipif(not has_full_mitdb(), reason="needs the full MIT-BIH database in ../shared/data/mitdb")
def test_full_split_counts_close_to_de_chazal(data_dir: Path, tmp_path: Path) -> None:
    ds = build_beat_dataset(DS1 + DS2, data_dir, cache_dir=tmp_path)
    for name, recs in (("DS1", DS1), ("DS2", DS2)):
        counts = ds.subset(ds.records_mask(recs)).class_counts()
        for cls, ref in DE_CHAZAL_COUNTS[name].items():
            assert abs(counts[cls] - ref) <= max(1, 0.01 * ref), (name, cls, counts[cls], ref)
