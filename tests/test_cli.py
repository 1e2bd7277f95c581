"""The ``ecg`` command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ecg.cli import main


def test_help_runs_as_console_command() -> None:
    exe = Path(sys.executable).with_name("ecg")
    cmd = [str(exe), "--help"] if exe.exists() else [sys.executable, "-m", "ecg.cli", "--help"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "records" in out.stdout and "info" in out.stdout


def test_records_and_info(capsys, demo_dir: Path) -> None:
    assert main(["records", "--data-dir", str(demo_dir)]) == 0
    assert capsys.readouterr().out.split() == ["100", "119", "208", "232"]
    assert main(["info", "208", "--data-dir", str(demo_dir)]) == 0
    out = capsys.readouterr().out
    assert "360 Hz" in out and "MLII" in out and "beats" in out


def test_bad_record_is_a_clean_error(capsys, tmp_path: Path) -> None:
    (tmp_path / "x.hea").write_text("hello world\n")
    assert main(["info", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "x.hea" in err and "Traceback" not in err
