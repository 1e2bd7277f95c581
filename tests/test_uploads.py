"""ecg.io.uploads: sanitising, size limits, pairing .hea/.dat/.atr and saving uploads."""

from __future__ import annotations

import io
import os
import stat
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecg.errors import RecordError
from ecg.export.edf import write_edf
from ecg.io.records import load_record
from ecg.io.uploads import (
    MAX_NAME_LEN,
    UPLOAD_DIR_PREFIX,
    UploadError,
    parse_header_files,
    remove_upload_dir,
    sanitize_filename,
    save_wfdb_upload,
    split_extension,
)
from tests.conftest import DEMO_DIR
from tests.test_io_formats import write_ishne


def demo_files(name: str = "100", exts=("hea", "dat", "atr")) -> list[tuple[str, bytes]]:
    return [(f"{name}.{e}", (DEMO_DIR / f"{name}.{e}").read_bytes()) for e in exts]


@pytest.fixture()
def dest(tmp_path: Path) -> Path:
    d = tmp_path / "up"
    d.mkdir()
    return d


# -- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, safe",
    [
        ("100.hea", "100.hea"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\rec 1.dat", "rec_1.dat"),
        ("/abs/path/x.atr", "x.atr"),
        (".hidden.hea", "hidden.hea"),
        ("..\\..\\evil.dat", "evil.dat"),
        ("r\u00e9c\u00f6rd;rm -rf.hea", "r_c_rd_rm_-rf.hea"),
        ("a\x00b.dat", "a_b.dat"),
    ],
)
def test_sanitize_filename_keeps_basename_and_allowed_characters(raw: str, safe: str) -> None:
    assert sanitize_filename(raw) == safe


@pytest.mark.parametrize("raw", ["", "..", ".", "/", "dir/", "...", "___", "\\\\"])
def test_sanitize_filename_refuses_names_with_nothing_left(raw: str) -> None:
    with pytest.raises(UploadError):
        sanitize_filename(raw)


def test_sanitize_filename_shortens_long_names_keeping_the_extension() -> None:
    out = sanitize_filename("x" * 500 + ".hea")
    assert len(out) <= MAX_NAME_LEN and out.endswith(".hea")


def test_split_extension() -> None:
    assert split_extension("100.HEA") == ("100", "hea")
    assert split_extension("a.b.dat") == ("a.b", "dat")
    assert split_extension("noext") == ("noext", "")


@pytest.mark.realdata
def test_parse_header_files() -> None:
    text = (DEMO_DIR / "208.hea").read_text()
    assert parse_header_files(text) == ("208", ["208.dat"])
    name, files = parse_header_files("# comment\nrec 3 250\na.dat 16\nb.dat 16\na.dat 16\n")
    assert name == "rec" and files == ["a.dat", "b.dat"]


@pytest.mark.parametrize(
    "text, msg",
    [
        ("", "no record line"),
        ("hello world\n", "not a WFDB header"),
        ("rec/2 2 360\n", "multi-segment"),
        ("rec 0 360\n", "no signals"),
        ("rec 2 360 100\nrec.dat 212\n", "2 signals but has 1"),
    ],
)
def test_parse_header_files_rejects_non_headers(text: str, msg: str) -> None:
    with pytest.raises(UploadError, match=msg):
        parse_header_files(text, "x.hea")


# -- saving -----------------------------------------------------------------------------------


@pytest.mark.realdata
def test_save_complete_record_loads(dest: Path) -> None:
    res = save_wfdb_upload(demo_files(), dest)
    assert [r.name for r in res.records] == ["100"]
    rec = res.records[0]
    assert rec.has_annotations and rec.base == dest / "100"
    assert sorted(p.name for p in dest.iterdir()) == ["100.atr", "100.dat", "100.hea"]
    loaded = load_record(rec.base)
    assert loaded.n_samples == 650000 and loaded.annotations is not None
    assert res.total_bytes == sum(len(b) for _, b in demo_files())


@pytest.mark.realdata
def test_save_without_annotations(dest: Path) -> None:
    res = save_wfdb_upload(demo_files(exts=("hea", "dat")), dest)
    assert not res.records[0].has_annotations
    assert load_record(res.records[0].base).annotations is None


@pytest.mark.realdata
def test_default_destination_is_a_private_temporary_folder() -> None:
    res = save_wfdb_upload(demo_files(exts=("hea", "dat")))
    try:
        d = res.directory
        assert d.parent.resolve() == Path(tempfile.gettempdir()).resolve()
        assert d.name.startswith(UPLOAD_DIR_PREFIX)
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
    finally:
        assert remove_upload_dir(res.directory)
    assert not res.directory.exists()


@pytest.mark.realdata
def test_file_objects_and_folder_parts_in_names(dest: Path) -> None:
    files = [
        ("some/dir/100.hea", io.BytesIO((DEMO_DIR / "100.hea").read_bytes())),
        ("C:\\x\\100.dat", io.BytesIO((DEMO_DIR / "100.dat").read_bytes())),
    ]
    res = save_wfdb_upload(files, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["100.dat", "100.hea"]
    assert res.records[0].name == "100"


@pytest.mark.realdata
def test_missing_dat_is_a_clear_error_and_writes_nothing(dest: Path) -> None:
    with pytest.raises(UploadError, match=r"100\.hea: the signal file 100\.dat is missing"):
        save_wfdb_upload(demo_files(exts=("hea", "atr")), dest)
    assert list(dest.iterdir()) == []


@pytest.mark.realdata
def test_no_header_is_a_clear_error(dest: Path) -> None:
    with pytest.raises(UploadError, match=r"no recording in the upload .*\.hea file together with its \.dat"):
        save_wfdb_upload(demo_files(exts=("dat", "atr")), dest)
    with pytest.raises(UploadError, match="no files uploaded"):
        save_wfdb_upload([], dest)


def test_header_that_is_not_wfdb(dest: Path) -> None:
    with pytest.raises(UploadError, match="not a WFDB header"):
        save_wfdb_upload([("x.hea", b"<html>hello</html>\n"), ("x.dat", b"\x00" * 10)], dest)
    with pytest.raises(UploadError, match="binary content"):
        save_wfdb_upload([("x.hea", b"\x00\x01\x02" * 10)], dest)
    with pytest.raises(UploadError, match="empty"):
        save_wfdb_upload([("x.hea", b"  \n")], dest)


def test_unsafe_names_declared_inside_the_header_are_refused(dest: Path) -> None:
    with pytest.raises(UploadError, match="signal file name"):
        save_wfdb_upload([("r.hea", b"r 1 360 10\n../../etc/x.dat 16 200 0 0 0 0 0 I\n")], dest)
    with pytest.raises(UploadError, match="record name"):
        save_wfdb_upload([("r.hea", b"r;x 1 360 10\nr.dat 16 200 0 0 0 0 0 I\n")], dest)


@pytest.mark.realdata
def test_other_files_are_ignored(dest: Path) -> None:
    res = save_wfdb_upload(demo_files() + [("notes.txt", b"x"), ("119.atr", b"y")], dest)
    assert set(res.ignored) == {"notes.txt", "119.atr"}
    assert sorted(p.name for p in dest.iterdir()) == ["100.atr", "100.dat", "100.hea"]


@pytest.mark.realdata
def test_browser_renamed_files_are_paired(dest: Path) -> None:
    files = [
        ("100.hea", (DEMO_DIR / "100.hea").read_bytes()),
        ("100 (1).dat", (DEMO_DIR / "100.dat").read_bytes()),
        ("100 (2).atr", (DEMO_DIR / "100.atr").read_bytes()),
    ]
    res = save_wfdb_upload(files, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["100.atr", "100.dat", "100.hea"]
    assert load_record(res.records[0].base).annotations is not None


@pytest.mark.realdata
def test_header_named_differently_from_its_record(dest: Path) -> None:
    files = [("download.hea", (DEMO_DIR / "100.hea").read_bytes()), ("100.dat", (DEMO_DIR / "100.dat").read_bytes())]
    res = save_wfdb_upload(files, dest)
    assert res.records[0].name == "100" and (dest / "100.hea").is_file()


@pytest.mark.realdata
def test_two_records_in_one_upload(dest: Path) -> None:
    res = save_wfdb_upload(demo_files("100") + demo_files("119"), dest)
    assert [r.name for r in res.records] == ["100", "119"]
    assert all(r.has_annotations for r in res.records)


def test_duplicate_names_after_sanitising(dest: Path) -> None:
    with pytest.raises(UploadError, match="two different uploaded files"):
        save_wfdb_upload(
            [("a/100.hea", b"100 1 360 1\n100.dat 16\n"), ("b/100.hea", b"100 1 360 2\n100.dat 16\n")], dest
        )


@pytest.mark.realdata
def test_the_same_file_chosen_twice_is_kept_once(dest: Path) -> None:
    res = save_wfdb_upload(demo_files(exts=("hea",)) + demo_files(), dest)
    assert sorted(p.name for p in dest.iterdir()) == ["100.atr", "100.dat", "100.hea"]
    assert res.records[0].has_annotations


@pytest.mark.realdata
def test_size_limit_on_announced_sizes(dest: Path) -> None:
    files = demo_files()
    with pytest.raises(UploadError, match="too large"):
        save_wfdb_upload(files, dest, max_total_bytes=1000)
    assert list(dest.iterdir()) == []


@pytest.mark.realdata
def test_size_limit_while_reading_streams() -> None:
    class Lying(io.BytesIO):
        size = 10  # announces less than it holds

    with pytest.raises(UploadError, match="too large"):
        save_wfdb_upload(
            [("100.hea", (DEMO_DIR / "100.hea").read_bytes()), ("100.dat", Lying(b"\x00" * 5000))], max_total_bytes=2000
        )


@pytest.mark.realdata
def test_never_overwrites_an_existing_file(dest: Path) -> None:
    (dest / "100.hea").write_text("keep me")
    with pytest.raises(FileExistsError):
        save_wfdb_upload(demo_files(exts=("hea", "dat")), dest)
    assert (dest / "100.hea").read_text() == "keep me"


def test_remove_upload_dir_only_removes_upload_folders(tmp_path: Path) -> None:
    assert not remove_upload_dir(None)
    assert not remove_upload_dir(tmp_path)  # not in the temp root with the prefix
    other = Path(tempfile.mkdtemp(prefix="not-ours-"))
    try:
        assert not remove_upload_dir(other) and other.is_dir()
    finally:
        os.rmdir(other)
    mine = Path(tempfile.mkdtemp(prefix=UPLOAD_DIR_PREFIX))
    (mine / "f").write_text("x")
    assert remove_upload_dir(mine) and not mine.exists()


@pytest.mark.realdata
def test_single_file_recordings_are_uploaded_and_load(dest: Path, tmp_path: Path) -> None:
    """An EDF+ file (this package's own export of a demo excerpt) and an ISHNE file upload as
    recordings of their own, named after their stems, next to a WFDB record; they load."""
    rec = load_record(DEMO_DIR / "100", sampto=3600)
    beats = pd.DataFrame({"time_s": [0.5], "pred_class": ["N"], "flagged": [False], "flag_reason": [""]})
    edf = write_edf(rec, beats, tmp_path / "holter one.edf")
    ishne = write_ishne(
        tmp_path / "patch.ecg", np.zeros((2000, 2), np.int16), fs=200, lead_spec=(6, 11), resolution=(5000, 5000)
    )
    files = demo_files(exts=("hea", "dat")) + [("holter one.edf", edf.read_bytes()), ("patch.ecg", ishne.read_bytes())]
    res = save_wfdb_upload(files, dest)
    by_name = {r.name: r for r in res.records}
    assert set(by_name) == {"100", "holter_one", "patch"}
    assert by_name["holter_one"].base == dest / "holter_one.edf" and by_name["100"].base == dest / "100"
    assert load_record(by_name["holter_one"].base).n_samples == 3600
    assert load_record(by_name["patch"].base).lead_names == ("II", "V1")
    assert res.ignored == ()


def test_a_non_ishne_ecg_upload_fails_clearly_on_load(dest: Path) -> None:
    res = save_wfdb_upload([("x.ecg", b"not an ISHNE file at all" * 10)], dest)
    with pytest.raises(RecordError, match="x.ecg"):
        load_record(res.records[0].base)


# -- deletion ---------------------------------------------------------------------------------


def test_sweep_removes_only_stale_upload_folders(tmp_path: Path) -> None:
    import time

    from ecg.io.uploads import sweep_stale_uploads, touch_upload_dir

    now = time.time()
    stale = tmp_path / f"{UPLOAD_DIR_PREFIX}old"
    fresh = tmp_path / f"{UPLOAD_DIR_PREFIX}new"
    in_use = tmp_path / f"{UPLOAD_DIR_PREFIX}inuse"
    other = tmp_path / "someone-else"
    for d in (stale, fresh, in_use, other):
        d.mkdir()
        (d / "100.hea").write_text("x")
    old = now - 13 * 3600
    for d in (stale, in_use, other):
        os.utime(d, (old, old))
    touch_upload_dir(in_use)  # a session still works with it
    removed = sweep_stale_uploads(max_age_h=12, root=tmp_path)
    assert removed == [stale]
    assert not stale.exists() and fresh.is_dir() and in_use.is_dir() and other.is_dir()
    # later, everything of ours is stale
    removed = sweep_stale_uploads(max_age_h=12, root=tmp_path, now=now + 25 * 3600)
    assert sorted(removed) == sorted([fresh, in_use]) and other.is_dir()
    with pytest.raises(ValueError):
        sweep_stale_uploads(max_age_h=0, root=tmp_path)


def test_size_limit_message_agrees_with_the_uploader() -> None:
    from ecg.io.uploads import MAX_TOTAL_BYTES

    class Announced(io.BytesIO):
        size = MAX_TOTAL_BYTES + 2**20  # 201 MB announced; never read

    # Streamlit's uploader says "200MB" (server.maxUploadSize 200, in units of 2**20 bytes)
    assert MAX_TOTAL_BYTES == 200 * 2**20
    with pytest.raises(UploadError, match=r"too large \(201\.0 MB\); at most 200 MB in total"):
        save_wfdb_upload([("100.dat", Announced(b""))])
    with pytest.raises(UploadError, match=r"at most 1 MB in total"):
        save_wfdb_upload([("100.dat", io.BytesIO(b"\0" * (2**20 + 1)))], max_total_bytes=2**20)
