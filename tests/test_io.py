"""WFDB loading: the typed record, ranges and leads, data-dir resolution, and every bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb

import ecg
from ecg.errors import DownloadError, RecordError
from ecg.io import download as download_mod
from ecg.io import list_records, load_record, resolve_data_dir


def test_load_record_types_and_units(demo_dir: Path) -> None:
    rec = ecg.load_record("100", demo_dir)
    assert rec.signal.dtype == np.float32
    assert rec.signal.shape == (650000, 2)
    assert rec.fs == 360.0
    assert rec.lead_names == ("MLII", "V5")
    assert rec.units == ("mV", "mV")
    assert rec.duration_s == pytest.approx(650000 / 360)
    # Same physical values as wfdb itself.
    ref = wfdb.rdrecord(str(demo_dir / "100"), sampto=2000).p_signal
    np.testing.assert_allclose(rec.signal[:2000], ref, atol=1e-6)
    ann = rec.annotations
    assert ann is not None and ann.extension == "atr"
    assert len(ann) == 2274
    assert ann.sample.dtype == np.int64
    assert ann.aux[0] == "(N"  # NUL padding stripped
    assert len(ann.beats()) == 2273


def test_load_by_path_with_range_and_leads(demo_dir: Path) -> None:
    rec = load_record(demo_dir / "208.hea", sampfrom=3600, sampto=7200, leads=["V1"])
    assert rec.signal.shape == (3600, 1)
    assert rec.lead_names == ("V1",)
    assert rec.start_sample == 3600
    full = load_record(demo_dir / "208")
    np.testing.assert_array_equal(rec.signal[:, 0], full.signal[3600:7200, 1])
    # Annotation samples are relative to the loaded segment.
    in_range = full.annotations.sample[(full.annotations.sample >= 3600) & (full.annotations.sample < 7200)]
    np.testing.assert_array_equal(rec.annotations.sample, in_range - 3600)


def test_lead_selection_errors(demo_dir: Path) -> None:
    with pytest.raises(RecordError, match="no lead named 'aVR'"):
        load_record("100", demo_dir, leads=["aVR"])
    with pytest.raises(RecordError, match="out of range"):
        load_record("100", demo_dir, leads=[5])
    with pytest.raises(RecordError, match="invalid sample range"):
        load_record("100", demo_dir, sampfrom=10, sampto=10)


def test_data_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_dir: Path) -> None:
    assert resolve_data_dir(tmp_path) == tmp_path
    monkeypatch.setenv("ECG_DATA_DIR", str(demo_dir))
    assert resolve_data_dir() == demo_dir
    assert load_record("119").name == "119"
    monkeypatch.delenv("ECG_DATA_DIR")
    monkeypatch.chdir(tmp_path)  # no data/ here: falls back to the repository's shipped demo records
    assert (resolve_data_dir() / "100.hea").is_file()


def test_list_records(tmp_path: Path, demo_dir: Path, record_copy) -> None:
    assert list_records(demo_dir) == ["100", "119", "208", "232"]
    record_copy("232")
    record_copy("100")
    assert list_records(tmp_path) == ["100", "232"]  # no RECORDS file: by *.hea
    (tmp_path / "RECORDS").write_text("232\n")
    assert list_records(tmp_path) == ["232"]
    with pytest.raises(RecordError, match="does not exist"):
        list_records(tmp_path / "nope")


# --- bad input: one exception type, naming the file and the problem -------------------------


def test_missing_header(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match=r"nothere\.hea: header file not found"):
        load_record(tmp_path / "nothere")


def test_missing_dat(record_copy) -> None:
    base = record_copy("100", ("hea", "atr"))
    with pytest.raises(RecordError) as exc:
        load_record(base)
    assert "100.dat" in str(exc.value) and "signal file not found" in str(exc.value)


def test_truncated_dat(record_copy) -> None:
    base = record_copy()
    dat = base.with_suffix(".dat")
    data = dat.read_bytes()
    dat.write_bytes(data[: len(data) // 2])
    with pytest.raises(RecordError, match=r"100\.dat: truncated"):
        load_record(base)


def test_header_sample_count_lies(record_copy) -> None:
    base = record_copy()
    hea = base.with_suffix(".hea")
    hea.write_text(hea.read_text().replace("100 2 360 650000", "100 2 360 600000"))
    with pytest.raises(RecordError, match="header does not match the data"):
        load_record(base)


def test_header_format_lies(record_copy) -> None:
    base = record_copy()
    hea = base.with_suffix(".hea")
    hea.write_text(hea.read_text().replace(" 212 ", " 16 "))
    with pytest.raises(RecordError, match=r"100\.dat: truncated"):
        load_record(base)


def test_checksum_mismatch(record_copy) -> None:
    base = record_copy()
    dat = base.with_suffix(".dat")
    data = bytearray(dat.read_bytes())
    data[300000] ^= 0x5A  # corrupt one byte, same size
    dat.write_bytes(bytes(data))
    with pytest.raises(RecordError, match="checksum mismatch"):
        load_record(base)


def test_unknown_format(record_copy) -> None:
    base = record_copy()
    hea = base.with_suffix(".hea")
    hea.write_text(hea.read_text().replace(" 212 ", " 999 "))
    with pytest.raises(RecordError) as exc:
        load_record(base)
    assert "100.hea" in str(exc.value)
    assert "format" in str(exc.value)


def test_empty_record(record_copy) -> None:
    base = record_copy()
    hea = base.with_suffix(".hea")
    hea.write_text(hea.read_text().replace("100 2 360 650000", "100 2 360 0"))
    with pytest.raises(RecordError, match="empty record"):
        load_record(base)
    base.with_suffix(".dat").write_bytes(b"")
    hea.write_text(hea.read_text().replace("100 2 360 0", "100 2 360 650000"))
    with pytest.raises(RecordError, match="empty signal file"):
        load_record(base)


def test_wrong_sampling_rate(record_copy) -> None:
    base = record_copy()
    hea = base.with_suffix(".hea")
    hea.write_text(hea.read_text().replace("100 2 360 650000", "100 2 0 650000"))
    with pytest.raises(RecordError, match="sampling frequency"):
        load_record(base)


@pytest.mark.parametrize("content", [b"time,ecg\n0,0.1\n1,0.2\n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b""])
def test_non_wfdb_file(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "upload.hea").write_bytes(content)
    with pytest.raises(RecordError) as exc:
        load_record(tmp_path / "upload")
    assert "upload.hea" in str(exc.value)


def test_annotation_that_does_not_parse(record_copy) -> None:
    base = record_copy()
    base.with_suffix(".atr").write_bytes(b"this is not an annotation file\x00\xff\xfe" * 3)
    with pytest.raises(RecordError) as exc:
        load_record(base)
    assert "100.atr" in str(exc.value)


def test_missing_annotations_are_optional(record_copy) -> None:
    base = record_copy("100", ("hea", "dat"))
    assert load_record(base).annotations is None
    with pytest.raises(RecordError, match="annotation file not found"):
        load_record(base, require_annotations=True)
    assert load_record(base, annotator=None).annotations is None


def test_nan_samples_come_back_as_nan(tmp_path: Path) -> None:
    sig = np.sin(np.linspace(0, 20, 2000))[:, None] * np.array([[1.0, 0.5]])
    sig[100:150, 0] = np.nan
    wfdb.wrsamp(
        "nanrec",
        fs=250,
        units=["mV", "mV"],
        sig_name=["I", "II"],
        p_signal=sig,
        fmt=["16", "16"],
        write_dir=str(tmp_path),
    )
    rec = load_record(tmp_path / "nanrec")
    assert np.isnan(rec.signal[100:150, 0]).all()
    assert not np.isnan(rec.signal[:, 1]).any()
    assert rec.fs == 250


def test_microvolt_units_are_converted(tmp_path: Path) -> None:
    sig = (np.sin(np.linspace(0, 20, 2000)) * 1000.0)[:, None]
    wfdb.wrsamp(
        "uvrec",
        fs=500,
        units=["uV"],
        sig_name=["II"],
        p_signal=sig,
        fmt=["16"],
        adc_gain=[1.0],
        baseline=[0],
        write_dir=str(tmp_path),
    )
    rec = load_record(tmp_path / "uvrec")
    assert rec.units == ("mV",)
    assert np.nanmax(np.abs(rec.signal)) == pytest.approx(1.0, abs=2e-3)


# --- PhysioNet paths, tested without the network ---------------------------------------------


def test_download_database_calls_wfdb(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = {}

    def fake_dl(db_dir, dl_dir, records="all", annotators="all", keep_subdirs=True, overwrite=False):
        calls.update(db_dir=db_dir, dl_dir=dl_dir, records=records)
        Path(dl_dir, "100.hea").write_text("100 1 360 10\n")

    monkeypatch.setattr(download_mod.wfdb, "dl_database", fake_dl)
    out = ecg.download_database("mitdb", tmp_path / "mitdb", records=["100"])
    assert out == tmp_path / "mitdb"
    assert calls == {"db_dir": "mitdb", "dl_dir": str(tmp_path / "mitdb"), "records": ["100"]}


def test_download_database_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import requests

    def offline(*a, **k):
        raise requests.exceptions.ConnectionError("Failed to resolve 'physionet.org'")

    monkeypatch.setattr(download_mod.wfdb, "dl_database", offline)
    with pytest.raises(DownloadError, match="Check that you are online"):
        ecg.download_database("mitdb", tmp_path / "x")


def test_stream_from_physionet_uses_pn_dir(monkeypatch: pytest.MonkeyPatch, demo_dir: Path) -> None:
    """load_record(pn_dir=...) goes through wfdb's streaming API; served here from local files."""
    from ecg.io import records as records_mod

    seen = []

    def local(fn):
        def wrapper(name, *args, pn_dir=None, **kwargs):
            seen.append((fn.__name__, name, pn_dir))
            return fn(str(demo_dir / name), *args, **kwargs)

        wrapper.__name__ = fn.__name__
        return wrapper

    monkeypatch.setattr(records_mod.wfdb, "rdheader", local(wfdb.rdheader))
    monkeypatch.setattr(records_mod.wfdb, "rdrecord", local(wfdb.rdrecord))
    monkeypatch.setattr(records_mod.wfdb, "rdann", local(wfdb.rdann))
    rec = load_record("119", pn_dir="mitdb", sampto=3600)
    assert rec.source == "physionet:mitdb/119"
    assert rec.signal.shape == (3600, 2) and rec.signal.dtype == np.float32
    assert len(rec.annotations) > 0
    assert {s[2] for s in seen} == {"mitdb"}


def test_stream_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from ecg.io import records as records_mod

    def offline(*a, **k):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(records_mod.wfdb, "rdheader", offline)
    with pytest.raises(DownloadError, match="physionet:mitdb/100.*Are you online"):
        load_record("100", pn_dir="mitdb")


def test_block_reading_matches_whole_read(monkeypatch: pytest.MonkeyPatch, demo_dir: Path) -> None:
    from ecg.io import records as records_mod

    whole = load_record("119", demo_dir)
    monkeypatch.setattr(records_mod, "READ_BLOCK_SAMPLES", 100_001)  # odd size: blocks split 212 byte pairs
    blocks = load_record("119", demo_dir)
    np.testing.assert_array_equal(blocks.signal, whole.signal)
    part = load_record("119", demo_dir, sampfrom=50_000, sampto=333_333)
    np.testing.assert_array_equal(part.signal, whole.signal[50_000:333_333])


# --- validation: sampling rate, local paths never go to the network, garbage annotations --------


@pytest.mark.parametrize("fs_field", ["-360", "x360", "inf", "nan", "360/-1"])
def test_invalid_sampling_rate_field(record_copy, fs_field: str) -> None:
    """wfdb silently reads a header giving -360 Hz as its default 250 Hz; this is an error."""
    base = record_copy()
    hea = base.with_suffix(".hea")
    hea.write_text(hea.read_text().replace("100 2 360 650000", f"100 2 {fs_field} 650000"))
    with pytest.raises(RecordError, match=r"100\.hea: invalid (sampling|counter) frequency"):
        load_record(base)


def test_sampling_rate_with_counter_and_base_time(record_copy) -> None:
    from datetime import datetime

    base = record_copy()
    hea = base.with_suffix(".hea")
    assert load_record(base, sampto=10).start_time is None  # MIT-BIH headers give no base date
    hea.write_text(hea.read_text().replace("100 2 360 650000", "100 2 360/360(0) 650000 10:30:05 05/03/2004"))
    rec = load_record(base, sampto=3600)
    assert rec.fs == 360.0
    assert rec.start_time == datetime(2004, 3, 5, 10, 30, 5)


def test_local_paths_never_go_to_the_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    import wfdb.io._url as wfdb_url
    import wfdb.io.download as wfdb_download

    from ecg.io import is_physionet_name
    from ecg.scoring.batch import resolve_inputs

    def no_network(*args, **kwargs):
        raise AssertionError("a network request was made")

    for mod, name in (
        (wfdb_download, "_stream_header"),
        (wfdb_download, "_stream_dat"),
        (wfdb_download, "_stream_annotation"),
        (wfdb_url, "openurl"),
        (socket.socket, "connect"),
    ):
        monkeypatch.setattr(mod, name, no_network)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    for name in ("data/1000", "../x/200", "foo/100", "mitdbb/100", "data/mitdb/100"):
        assert not is_physionet_name(name), name
    for name in ("mitdb/100", "nsrdb/16265", "mitdb/1.0.0/100", "challenge-2017/1.0.0/training/A00001"):
        assert is_physionet_name(name), name
    with pytest.raises(RecordError, match=r"1000\.hea: header file not found"):
        load_record("data/1000")
    with pytest.raises(RecordError, match="header file not found"):
        load_record("../x/200")
    assert [r.pn_dir for r in resolve_inputs(["data/1000", "../x/200"])] == [None, None]
    (tmp_path / "mitdb").mkdir()  # a local folder named like a database is local
    assert not is_physionet_name("mitdb/100")
    with pytest.raises(RecordError, match="header file not found"):
        load_record("mitdb/100")


def test_random_bytes_annotation_file(record_copy) -> None:
    base = record_copy()
    rng = np.random.default_rng(0)
    base.with_suffix(".atr").write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(RecordError, match=r"100\.atr: truncated or not a WFDB annotation file"):
        load_record(base)
    # Even with a valid end marker, what wfdb "parses" out of random bytes is rejected.
    base.with_suffix(".atr").write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes() + b"\x00\x00")
    with pytest.raises(RecordError) as exc:
        load_record(base)
    assert "100.atr" in str(exc.value)


def test_text_and_truncated_annotation_files(record_copy) -> None:
    base = record_copy()
    atr = base.with_suffix(".atr")
    good = atr.read_bytes()
    atr.write_bytes(b"hello this is a text file\nwith lines\n" * 20 + b"\x00\x00")
    with pytest.raises(RecordError, match=r"100\.atr: not a WFDB annotation file: it is a text file"):
        load_record(base)
    atr.write_bytes(good[: len(good) // 2])
    with pytest.raises(RecordError, match=r"100\.atr: truncated or not a WFDB annotation file"):
        load_record(base)
    atr.write_bytes(good)
    assert len(load_record(base, sampto=36000).annotations) > 0


def test_annotations_outside_the_record(tmp_path: Path, record_copy) -> None:
    base = record_copy("100", ("hea", "dat"))
    samples = np.arange(100, 6000, 300)
    wfdb.wrann("100", "atr", np.append(samples, [650_010]), symbol=["N"] * (samples.size + 1), write_dir=str(tmp_path))
    with pytest.warns(UserWarning, match=r"100\.atr: ignored 1 of 21 annotations .*1 outside the record"):
        rec = load_record(base)
    np.testing.assert_array_equal(rec.annotations.sample, samples)
    wfdb.wrann("100", "atr", np.array([10, 700_000, 800_000]), symbol=["N", "N", "V"], write_dir=str(tmp_path))
    with pytest.raises(RecordError, match=r"100\.atr: not a usable annotation file: 2 of 3 annotations are impossible"):
        load_record(base)
