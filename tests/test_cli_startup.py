"""The ``ecg`` CLI starts without importing the heavy libraries (behavioural, not timed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "scipy", "pandas", "wfdb", "matplotlib", "streamlit", "dask")


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _ecg(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("ecg")
    cmd = [str(exe), *args] if exe.exists() else [sys.executable, "-m", "ecg.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_building_the_parser_imports_no_heavy_library() -> None:
    code = f"import ecg.cli, sys; ecg.cli.build_parser(); print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    assert _python(code) == "[]"


def test_import_ecg_is_lazy_but_complete() -> None:
    code = (
        "import sys, ecg, ecg.errors; v = ecg.__version__; "
        f"print(sorted(m for m in {HEAVY!r} + ('numpy',) if m in sys.modules))"
    )
    assert _python(code) == "[]"


def test_every_public_name_resolves() -> None:
    import ecg

    for name in ecg.__all__:
        assert getattr(ecg, name) is not None, name
    assert set(ecg.__all__) <= set(dir(ecg))
    from ecg import AAMI_CLASSES, detect_r_peaks, load_record
    from ecg.io import load_record as io_load_record
    from ecg.processing.peaks import detect_r_peaks as peaks_detect

    assert AAMI_CLASSES == ("N", "S", "V", "F", "Q")
    assert load_record is io_load_record and detect_r_peaks is peaks_detect


def test_unknown_attribute_is_an_attribute_error() -> None:
    import ecg

    with pytest.raises(AttributeError, match="no_such_name"):
        ecg.no_such_name  # noqa: B018
    assert not hasattr(ecg, "no_such_name")


def test_help_lists_subcommands() -> None:
    out = _ecg("--help")
    assert out.returncode == 0, out.stderr
    for command in ("records", "info", "download", "score", "train", "evaluate"):
        assert command in out.stdout


def test_score_help_lists_options() -> None:
    out = _ecg("score", "--help")
    assert out.returncode == 0, out.stderr
    for option in ("--out", "--jobs", "--threshold", "--lead", "--formats", "--bundle", "--force", "INPUT"):
        assert option in out.stdout
