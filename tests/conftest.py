"""Shared fixtures: where real MIT-BIH data lives for the tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MITDB = REPO.parent / "shared" / "data" / "mitdb"
DEMO_DIR = REPO / "data"
DEMO_RECORDS = ("100", "119", "208", "232")


def mitdb_dir() -> Path:
    """The full database beside the repository when present, else the shipped demo records."""
    return SHARED_MITDB if (SHARED_MITDB / "100.hea").is_file() else DEMO_DIR


def has_full_mitdb() -> bool:
    return (SHARED_MITDB / "234.hea").is_file()


# A test that gets MIT-BIH records through one of these fixtures (tiny_bundle is trained on demo
# records) is marked ``realdata`` here; a test that opens the records itself carries the marker.
REALDATA_FIXTURES = frozenset({"data_dir", "demo_dir", "record_copy", "tiny_bundle_path", "tiny_bundle"})


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m selection
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REALDATA_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.realdata)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return mitdb_dir()


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return DEMO_DIR


@pytest.fixture()
def record_copy(tmp_path: Path):
    """Copy a demo record's files into tmp_path so a test can damage them."""

    def _copy(name: str = "100", exts: tuple[str, ...] = ("hea", "dat", "atr")) -> Path:
        for ext in exts:
            shutil.copy(DEMO_DIR / f"{name}.{ext}", tmp_path / f"{name}.{ext}")
        return tmp_path / name

    return _copy


@pytest.fixture(autouse=True)
def _no_data_dir_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECG_DATA_DIR", raising=False)


def synthetic_ecg(
    fs: float,
    duration_s: float = 20.0,
    hr_bpm: float = 72.0,
    seed: int = 0,
    noise_mv: float = 0.02,
    wander_mv: float = 0.3,
) -> tuple[np.ndarray, np.ndarray]:
    """A simple ECG-like signal (Gaussian P, QRS, T) with baseline wander and noise.
    Returns (signal float32 mV, R-peak samples)."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    t = np.arange(n) / fs
    rr = 60.0 / hr_bpm
    beat_times = np.arange(0.5, duration_s - 0.5, rr)
    jitter = rng.normal(0, 0.01, size=int(np.ceil((duration_s - 1) / rr)))
    r_times = beat_times + jitter[: len(beat_times)]
    x = np.zeros(n)
    for rt in r_times:
        x += 0.15 * np.exp(-0.5 * ((t - rt + 0.16) / 0.02) ** 2)  # P
        x += -0.1 * np.exp(-0.5 * ((t - rt + 0.03) / 0.006) ** 2)  # Q
        x += 1.2 * np.exp(-0.5 * ((t - rt) / 0.01) ** 2)  # R
        x += -0.25 * np.exp(-0.5 * ((t - rt - 0.03) / 0.008) ** 2)  # S
        x += 0.3 * np.exp(-0.5 * ((t - rt - 0.25) / 0.04) ** 2)  # T
    x += wander_mv * np.sin(2 * np.pi * 0.2 * t) + rng.normal(0, noise_mv, n)
    return x.astype(np.float32), np.round(r_times * fs).astype(np.int64)


def tiny_train_config(**overrides):
    from ecg.models.training import TrainConfig

    base = dict(
        ae_hidden=8,
        ae_latent=4,
        ae_epochs=1,
        ae_max_train_beats=400,
        beat_hidden=8,
        seq_hidden=8,
        clf_epochs=1,
        clf_seq_len=16,
        clf_batch=8,
        threads=1,
        val_records=("208",),
    )
    base.update(overrides)
    return TrainConfig(**base)


@pytest.fixture(scope="session")
def tiny_bundle_path(tmp_path_factory) -> Path:
    """A tiny bundle trained in seconds on two demo DS1 records (119 train, 208 validation)."""
    from ecg.models.train_bundle import train_bundle

    d = tmp_path_factory.mktemp("bundle")
    path = d / "tiny.pt"
    train_bundle(
        DEMO_DIR, path, tiny_train_config(), records=("119", "208"), progress=False, echo=None, cache_dir=d / "cache"
    )
    return path


@pytest.fixture(scope="session")
def tiny_bundle(tiny_bundle_path):
    from ecg.models.bundle import load_bundle

    return load_bundle(tiny_bundle_path)
