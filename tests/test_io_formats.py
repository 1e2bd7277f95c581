"""EDF / EDF+ / BDF and ISHNE input: round trips through independent writers (pyedflib, edfio,
a byte-level ISHNE writer following the published layout), ranges and leads, bad files, the
format dispatch of load_record and list_recordings."""

from __future__ import annotations

import shutil
import struct
from datetime import date, datetime, time
from pathlib import Path

import edfio
import numpy as np
import pyedflib
import pytest
from pyedflib import highlevel as edfhl

from ecg.errors import RecordError
from ecg.io import list_recordings, load_record, recording_name
from ecg.io.edf_reader import annotation_code, ecg_lead_name
from tests.conftest import DEMO_DIR

FS = 250
START = datetime(2024, 3, 5, 22, 15, 30)


def _waves(n: int, fs: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(n) / fs
    return np.sin(2 * np.pi * 1.1 * t), np.cos(2 * np.pi * 0.7 * t) * 0.5 + 0.2 * np.sin(2 * np.pi * 9 * t)


def _pyedflib_write(
    path: Path,
    signals: list[np.ndarray],
    headers: list[dict],
    *,
    annotations=(),
    start=START,
    file_type: int = pyedflib.FILETYPE_EDFPLUS,
) -> Path:
    header = edfhl.make_header(startdate=start)
    header["annotations"] = [list(a) for a in annotations]
    assert edfhl.write_edf(str(path), signals, headers, header, file_type=file_type)
    return path


def _sig(label: str, dim: str, fs: float, pmin: float, pmax: float, dmin: int = -32768, dmax: int = 32767) -> dict:
    return edfhl.make_signal_header(
        label,
        dimension=dim,
        sample_frequency=fs,
        physical_min=pmin,
        physical_max=pmax,
        digital_min=dmin,
        digital_max=dmax,
    )


@pytest.fixture()
def edf_plus(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """An EDF+ file: ECG II in uV, an EEG at 500 Hz, ECG V1 in mV, SpO2, and annotations."""
    n = FS * 12
    ii_mv, v1_mv = _waves(n, FS)
    rng = np.random.default_rng(1)
    path = _pyedflib_write(
        tmp_path / "holter01.edf",
        [ii_mv * 1000.0, rng.normal(0, 20, 2 * n), v1_mv, 95 + rng.normal(0, 1, n)],
        [
            _sig("ECG II", "uV", FS, -2000, 2000),
            _sig("EEG Fp1", "uV", 500, -200, 200),
            _sig("ECG V1", "mV", FS, -2, 2),
            _sig("SpO2", "%", FS, 0, 100),
        ],
        annotations=[
            (1.0, -1, "N"),
            (1.8, -1, "PVC"),
            (2.0, 5, "(AFIB"),
            (3.0, -1, "Lights off"),
            (6.4, -1, "APC"),
            (9.0, -1, "Atrial fibrillation"),
            (11.2, -1, "N"),
        ],
    )
    return path, ii_mv, v1_mv


# --- EDF / EDF+ / BDF -------------------------------------------------------------------------


def test_edf_plus_round_trip(edf_plus) -> None:
    path, ii_mv, v1_mv = edf_plus
    rec = load_record(path)
    assert rec.name == "holter01" and rec.source == str(path)
    assert rec.fs == FS and rec.signal.dtype == np.float32 and rec.signal.shape == (FS * 12, 2)
    assert rec.lead_names == ("II", "V1")  # EEG and SpO2 ignored, labels mapped to lead names
    assert rec.units == ("mV", "mV")
    assert rec.start_time == START
    # Within the 16-bit quantisation of each signal (physical range / digital range, in mV).
    np.testing.assert_allclose(rec.signal[:, 0], ii_mv, atol=4.0 / 65535 + 1e-6)
    np.testing.assert_allclose(rec.signal[:, 1], v1_mv, atol=4.0 / 65535 + 1e-6)
    ann = rec.annotations
    assert ann is not None and ann.extension == "edf"
    assert ann.sample.tolist() == [250, 450, 500, 750, 1600, 2250, 2800]
    assert ann.symbol.tolist() == ["N", "V", "+", '"', "A", "+", "N"]
    assert ann.aux.tolist() == ["", "", "(AFIB", "Lights off", "", "(AFIB", ""]
    assert ann.beats().symbol.tolist() == ["N", "V", "A", "N"]


def test_edf_range_and_leads(edf_plus) -> None:
    path, _, _ = edf_plus
    full = load_record(path)
    part = load_record(path, sampfrom=400, sampto=2000, leads=["v1"])
    assert part.lead_names == ("V1",) and part.start_sample == 400 and part.signal.shape == (1600, 1)
    np.testing.assert_array_equal(part.signal[:, 0], full.signal[400:2000, 1])
    assert part.annotations.sample.tolist() == [50, 100, 350, 1200]  # relative to the range
    by_index = load_record(path, sampfrom=400, sampto=2000, leads=[0])
    np.testing.assert_array_equal(by_index.signal[:, 0], full.signal[400:2000, 0])
    assert load_record(path, annotator=None).annotations is None
    with pytest.raises(RecordError, match=r"holter01\.edf: no lead named 'EEG Fp1'"):
        load_record(path, leads=["EEG Fp1"])
    with pytest.raises(RecordError, match=r"holter01\.edf: invalid sample range"):
        load_record(path, sampfrom=10, sampto=FS * 13)


def test_edf_written_by_edfio_volts_and_plain_labels(tmp_path: Path) -> None:
    n = FS * 8
    a, b = _waves(n, FS)
    signals = [
        edfio.EdfSignal(a / 1000.0, FS, label="EKG", physical_dimension="V", physical_range=(-0.002, 0.002)),
        edfio.EdfSignal(b, FS, label="Lead II", physical_dimension="mV", physical_range=(-2, 2)),
        edfio.EdfSignal(b, FS, label="Accel X", physical_dimension="g", physical_range=(-2, 2)),
    ]
    edf = edfio.Edf(signals, recording=edfio.Recording(startdate=date(2023, 1, 2)), starttime=time(7, 5, 9))
    path = tmp_path / "patch.EDF"
    edf.write(path)
    rec = load_record(path)
    assert rec.name == "patch" and rec.lead_names == ("EKG", "II") and rec.units == ("mV", "mV")
    np.testing.assert_allclose(rec.signal[:, 0], a, atol=4.0 / 65535 + 1e-6)  # V -> mV
    np.testing.assert_allclose(rec.signal[:, 1], b, atol=4.0 / 65535 + 1e-6)
    assert rec.start_time == datetime(2023, 1, 2, 7, 5, 9)
    assert rec.annotations is None


def test_bdf_round_trip_24_bit(tmp_path: Path) -> None:
    n = FS * 6
    a, b = _waves(n, FS)
    full_scale = 2**23 - 1
    path = _pyedflib_write(
        tmp_path / "bio.bdf",
        [a * 1000.0, b * 1000.0],
        [
            _sig("ECG I", "uV", FS, -2000, 2000, -full_scale - 1, full_scale),
            _sig("ECG aVF", "uV", FS, -2000, 2000, -full_scale - 1, full_scale),
        ],
        annotations=[(2.0, -1, "V")],
        file_type=pyedflib.FILETYPE_BDFPLUS,
    )
    assert path.read_bytes()[:8] == b"\xffBIOSEMI"
    rec = load_record(path)
    assert rec.lead_names == ("I", "aVF") and rec.units == ("mV", "mV") and rec.fs == FS
    np.testing.assert_allclose(rec.signal[:, 0], a, atol=4.0 / 2**24 + 1e-6)  # float32 rounding dominates
    np.testing.assert_allclose(rec.signal[:, 1], b, atol=4.0 / 2**24 + 1e-6)
    assert rec.start_time == START
    assert rec.annotations.symbol.tolist() == ["V"] and rec.annotations.extension == "bdf"
    part = load_record(path, sampfrom=100, sampto=300, leads=["aVF"])
    np.testing.assert_array_equal(part.signal[:, 0], rec.signal[100:300, 1])


def test_edf_mixed_ecg_rates_keep_the_most_common(tmp_path: Path) -> None:
    n = FS * 4
    a, b = _waves(n, FS)
    hi = np.sin(np.arange(2 * n) / 50)
    path = _pyedflib_write(
        tmp_path / "mixed.edf",
        [a, hi, b],
        [_sig("ECG1", "mV", FS, -2, 2), _sig("ECG3", "mV", 2 * FS, -2, 2), _sig("ECG2", "mV", FS, -2, 2)],
    )
    rec = load_record(path)
    assert rec.fs == FS and rec.lead_names == ("ECG1", "ECG2")  # unknown ECG labels kept as they are
    assert any("ECG3 (500 Hz)" in c for c in rec.comments)
    with pytest.raises(RecordError, match=r"mixed\.edf: lead 'ECG3' is sampled at 500 Hz"):
        load_record(path, leads=["ECG3"])


def test_edf_unknown_dimension_keeps_values_and_unit(tmp_path: Path) -> None:
    a, _ = _waves(FS * 2, FS)
    path = _pyedflib_write(
        tmp_path / "adu.edf", [a * 100], [_sig("ECG", "adu", FS, -200, 200)], file_type=pyedflib.FILETYPE_EDF
    )
    rec = load_record(path)
    assert rec.units == ("adu",)
    np.testing.assert_allclose(rec.signal[:, 0], a * 100, atol=400 / 65535 + 1e-4)


def test_edf_no_ecg_channel(tmp_path: Path) -> None:
    x = np.random.default_rng(2).normal(0, 10, FS * 2)
    path = _pyedflib_write(
        tmp_path / "sleep.edf", [x, x], [_sig("EEG C3", "uV", FS, -200, 200), _sig("Resp chest", "uV", FS, -200, 200)]
    )
    with pytest.raises(RecordError, match=r"sleep\.edf: no ECG signal.*EEG C3"):
        load_record(path)


def test_edf_truncated_and_bad_content(edf_plus, tmp_path: Path) -> None:
    path, _, _ = edf_plus
    cut = tmp_path / "cut.edf"
    data = path.read_bytes()
    cut.write_bytes(data[:-3000])
    with pytest.raises(RecordError, match=r"cut\.edf: truncated: the header declares \d+ data records"):
        load_record(cut)
    junk = tmp_path / "junk.edf"
    junk.write_bytes(b"time,ecg\n0,0.1\n" * 40)
    with pytest.raises(RecordError, match=r"junk\.edf: not an EDF or BDF file"):
        load_record(junk)
    with pytest.raises(RecordError, match=r"absent\.edf: file not found"):
        load_record(tmp_path / "absent.edf")


def test_edf_zero_record_duration(edf_plus, tmp_path: Path) -> None:
    path, _, _ = edf_plus
    data = bytearray(path.read_bytes())
    data[244:252] = b"0       "  # duration of a data record: 0 s, i.e. no sampling rate
    bad = tmp_path / "zero_fs.edf"
    bad.write_bytes(bytes(data))
    with pytest.raises(RecordError, match=r"zero_fs\.edf: invalid data record duration"):
        load_record(bad)


def test_edf_content_is_sniffed_for_other_extensions(edf_plus, tmp_path: Path) -> None:
    path, _, _ = edf_plus
    rec_file = tmp_path / "old_style.rec"
    shutil.copy(path, rec_file)
    assert load_record(rec_file).lead_names == ("II", "V1")
    assert load_record("holter01.edf", tmp_path).name == "holter01"  # bare name looked up in data_dir


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("ECG", "ECG"),
        ("EKG", "EKG"),
        ("ECG II", "II"),
        ("EKG II", "II"),
        ("Lead II", "II"),
        ("II", "II"),
        ("ECG Lead I", "I"),
        ("ECG V1", "V1"),
        ("V1", "V1"),
        ("MLII", "MLII"),
        ("ECG-aVR", "aVR"),
        ("ECG1", "ECG1"),
        ("EEG Fp1", None),
        ("SpO2", None),
        ("Resp", None),
        ("Accel X", None),
        ("ECG HR", None),
        ("EDF Annotations", None),
    ],
)
def test_ecg_label_mapping(label: str, name: str | None) -> None:
    assert ecg_lead_name(label) == name


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("N", ("N", "")),
        ("V", ("V", "")),
        ("a", ("a", "")),
        ("/", ("/", "")),
        ("PVC", ("V", "")),
        ("Normal beat", ("N", "")),
        ("PAC", ("A", "")),
        ("SVPB", ("S", "")),
        ("(AFIB", ("+", "(AFIB")),
        ("AFib", ("+", "(AFIB")),
        ("Atrial flutter", ("+", "(AFL")),
        ("Patient event", ('"', "Patient event")),
        ("V flag:class", ("V", "flag:class")),
        ("N flag", ("N", "flag")),
        ("N-V couplet", ('"', "N-V couplet")),
        ("  ", None),
    ],
)
def test_annotation_texts(text: str, code) -> None:
    assert annotation_code(text) == code


def test_reads_back_this_packages_edf_export(tmp_path: Path) -> None:
    import pandas as pd

    from ecg.export.edf import write_edf

    rec = load_record(DEMO_DIR / "119", sampto=360 * 20)
    beats = pd.DataFrame(
        {
            "sample": [100, 460, 900],
            "pred_class": ["N", "V", "S"],
            "flagged": [False, True, True],
            "flag_reason": ["", "class", "anomaly"],
        }
    )
    path = write_edf(rec, beats, tmp_path / "119.edf", start_time=datetime(2020, 6, 1, 12, 0, 0))
    back = load_record(path)
    assert back.lead_names == rec.lead_names and back.fs == rec.fs and back.units == ("mV", "mV")
    assert back.start_time == datetime(2020, 6, 1, 12, 0, 0)
    for j in range(2):  # the export's quantisation step: (data range + margins) / 65535
        step = (np.ptp(rec.signal[:, j]) * 1.2 + 0.05) / 65535
        np.testing.assert_allclose(back.signal[:, j], rec.signal[:, j], atol=step)
    assert back.annotations.sample.tolist() == [100, 460, 900]
    assert back.annotations.symbol.tolist() == ["N", "V", "S"]
    assert back.annotations.aux.tolist() == ["", "flag:class", "flag:anomaly"]


def test_edf_without_beat_annotations_has_none(tmp_path: Path) -> None:
    a, _ = _waves(FS * 3, FS)
    path = _pyedflib_write(
        tmp_path / "events.edf", [a], [_sig("ECG", "mV", FS, -2, 2)], annotations=[(1.0, -1, "Lights off")]
    )
    assert load_record(path).annotations is None
    with pytest.raises(RecordError, match=r"events\.edf: the file holds no beat or rhythm annotations"):
        load_record(path, require_annotations=True)


# --- ISHNE ------------------------------------------------------------------------------------


def crc_ccitt(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT, bit by bit (polynomial 0x1021), independent of the reader's implementation."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def test_crc_reference_value() -> None:
    assert crc_ccitt(b"123456789") == 0x29B1  # the published check value of CRC-16/CCITT-FALSE


def write_ishne(
    path: Path,
    data: np.ndarray,
    *,
    fs: int = 200,
    lead_spec=(6, 11, 99),
    resolution=(2500, 5000, 1000),
    record_date=(2, 11, 2023),
    start=(8, 30, 15),
    var_block: bytes = b"",
    magic: bytes = b"ISHNE1.0",
    crc: int | None = None,
    nleads: int | None = None,
    sample_size: int | None = None,
) -> Path:
    """An ISHNE 1.0 file written field by field after Badilini et al. 1998 (little-endian)."""
    n, leads = data.shape
    nleads = leads if nleads is None else nleads
    pad = lambda vals: list(vals) + [0] * (12 - len(vals))  # noqa: E731
    header = b"".join(
        [
            struct.pack("<iiii", len(var_block), n if sample_size is None else sample_size, 522, 522 + len(var_block)),
            struct.pack("<h", 1),  # file version
            b"Jane".ljust(40, b"\0"),
            b"Doe".ljust(40, b"\0"),
            b"P-0042".ljust(20, b"\0"),
            struct.pack("<hh", 2, 1),  # sex, race
            struct.pack("<3h", 17, 4, 1950),  # birth date
            struct.pack("<3h", *record_date),
            struct.pack("<3h", *record_date),
            struct.pack("<3h", *start),
            struct.pack("<h", nleads),
            struct.pack("<12h", *pad(lead_spec)),
            struct.pack("<12h", *pad([1] * leads)),
            struct.pack("<12h", *pad(resolution)),
            struct.pack("<h", 0),  # pacemaker
            b"TestRecorder 3000".ljust(40, b"\0"),
            struct.pack("<h", fs),
            b"\0" * 80,
            b"\0" * 80,
            b"\0" * 88,
        ]
    )
    assert len(header) == 512
    block = header + var_block
    crc = crc_ccitt(block) if crc is None else crc
    path.write_bytes(magic + struct.pack("<H", crc) + block + data.astype("<i2").tobytes())
    return path


@pytest.fixture()
def ishne_data() -> np.ndarray:
    rng = np.random.default_rng(3)
    data = rng.integers(-3000, 3000, size=(4000, 3)).astype(np.int16)
    data[100:110, 1] = -32768  # missing samples
    return data


def test_ishne_round_trip(tmp_path: Path, ishne_data: np.ndarray) -> None:
    path = write_ishne(tmp_path / "h01.ecg", ishne_data, var_block=b"free text from the recorder\0\0\0")
    rec = load_record(path)
    assert rec.name == "h01" and rec.source == str(path)
    assert rec.fs == 200.0 and rec.signal.dtype == np.float32 and rec.signal.shape == (4000, 3)
    assert rec.lead_names == ("II", "V1", "lead2") and rec.units == ("mV", "mV", "mV")
    assert rec.start_time == datetime(2023, 11, 2, 8, 30, 15)
    expected = ishne_data * np.array([2500, 5000, 1000]) * 1e-6  # nV per unit -> mV
    ok = ishne_data != -32768
    np.testing.assert_allclose(rec.signal[ok], expected[ok], rtol=1e-6)
    assert np.isnan(rec.signal[100:110, 1]).all() and np.isnan(rec.signal).sum() == 10
    assert rec.annotations is None
    assert not any("Jane" in c or "Doe" in c for c in rec.comments)  # no patient identification copied


def test_ishne_range_and_leads(tmp_path: Path, ishne_data: np.ndarray) -> None:
    path = write_ishne(tmp_path / "h02.ecg", ishne_data)
    full = load_record(path)
    part = load_record(path, sampfrom=1000, sampto=1500, leads=["v1", 0])
    assert part.lead_names == ("V1", "II") and part.start_sample == 1000
    np.testing.assert_array_equal(part.signal, full.signal[1000:1500][:, [1, 0]])
    with pytest.raises(RecordError, match=r"h02\.ecg: invalid sample range"):
        load_record(path, sampfrom=0, sampto=4001)


def test_ishne_range_read_does_not_touch_the_rest(tmp_path: Path, ishne_data: np.ndarray) -> None:
    """Samples outside the requested range are never read: corrupting them changes nothing."""
    path = write_ishne(tmp_path / "h03.ecg", ishne_data)
    before = load_record(path, sampfrom=0, sampto=500)
    raw = bytearray(path.read_bytes())
    raw[522 + 1000 * 6 :] = b"\x7f" * (len(raw) - 522 - 1000 * 6)
    path.write_bytes(bytes(raw))
    np.testing.assert_array_equal(load_record(path, sampfrom=0, sampto=500).signal, before.signal)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"crc": 0x1234}, r"header CRC mismatch \(stored 0x1234"),
        ({"nleads": 0}, "invalid number of leads 0"),
        ({"nleads": 13}, "invalid number of leads 13"),
        ({"resolution": (2500, 0, 1000)}, "invalid resolution"),
        ({"fs": 0}, "invalid sampling frequency 0 Hz"),
        ({"magic": b"ANN  1.0"}, "unsupported ISHNE variant: this is an ISHNE annotation file"),
        ({"magic": b"ISHNE2.0"}, "unsupported ISHNE variant"),
        (
            {"sample_size": 5000},
            r"truncated: the header declares 5000 samples x 3 leads \(30000 bytes.*holds 24000 bytes",
        ),
        ({"sample_size": 0}, "empty record"),
    ],
)
def test_ishne_bad_files(tmp_path: Path, ishne_data: np.ndarray, kwargs: dict, message: str) -> None:
    path = write_ishne(tmp_path / "bad.ecg", ishne_data, **kwargs)
    with pytest.raises(RecordError, match=message) as exc:
        load_record(path)
    assert exc.value.path == str(path)


def test_ishne_crc_check_can_be_skipped(tmp_path: Path, ishne_data: np.ndarray) -> None:
    path = write_ishne(tmp_path / "h04.ecg", ishne_data, crc=0)
    assert load_record(path, verify_checksum=False).n_samples == 4000


def test_ishne_truncated_file_and_wrong_magic(tmp_path: Path, ishne_data: np.ndarray) -> None:
    path = write_ishne(tmp_path / "cut.ecg", ishne_data)
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(RecordError, match=r"cut\.ecg: truncated"):
        load_record(path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(RecordError, match=r"cut\.ecg: truncated: 300 bytes"):
        load_record(path)
    other = tmp_path / "other.ecg"
    other.write_bytes(b"MUSE-XML" + b"\0" * 600)
    with pytest.raises(RecordError, match=r"other\.ecg: not an ISHNE file .*no WFDB header other\.hea"):
        load_record(other)


def test_ishne_invalid_date_gives_no_start_time(tmp_path: Path, ishne_data: np.ndarray) -> None:
    rec = load_record(write_ishne(tmp_path / "nodate.ecg", ishne_data, record_date=(-9, -9, -9)))
    assert rec.start_time is None and any("start date" in c for c in rec.comments)


# --- dispatch and directory listing -----------------------------------------------------------


def _wfdb_with_ecg_annotations(d: Path, name: str = "100") -> Path:
    for ext in ("hea", "dat"):
        shutil.copy(DEMO_DIR / f"100.{ext}", d / f"{name}.{ext}")
    shutil.copy(DEMO_DIR / "100.atr", d / f"{name}.ecg")  # a WFDB annotation file named .ecg (as `ecg score` writes)
    return d / name


def test_wfdb_ecg_annotation_file_is_not_ishne(tmp_path: Path) -> None:
    base = _wfdb_with_ecg_annotations(tmp_path)
    rec = load_record(tmp_path / "100.ecg", sampto=3600)
    assert rec.name == "100" and rec.lead_names == ("MLII", "V5") and rec.source.endswith("100.hea")
    assert len(load_record(base, annotator="ecg", sampto=3600).annotations) > 0


def test_list_recordings_and_names(tmp_path: Path, edf_plus, ishne_data: np.ndarray) -> None:
    edf_path, _, _ = edf_plus  # tmp_path/holter01.edf
    _wfdb_with_ecg_annotations(tmp_path)
    shutil.copy(edf_path, tmp_path / "B.EDF")
    _pyedflib_write(
        tmp_path / "c.bdf", [np.zeros(FS)], [_sig("ECG", "uV", FS, -100, 100)], file_type=pyedflib.FILETYPE_BDF
    )
    write_ishne(tmp_path / "h.ecg", ishne_data)
    (tmp_path / "notes.txt").write_text("not a recording")
    (tmp_path / "folder.edf").mkdir()
    found = list_recordings(tmp_path)
    assert [p.name for p in found] == ["100", "B.EDF", "c.bdf", "h.ecg", "holter01.edf"]
    assert all(p.parent == tmp_path for p in found)
    assert [recording_name(p) for p in found] == ["100", "B", "c", "h", "holter01"]
    assert [load_record(p, sampto=100).name for p in found] == ["100", "B", "c", "h", "holter01"]
    assert recording_name("x/100.hea") == "100" and recording_name("rec.v2.edf") == "rec.v2"
    with pytest.raises(RecordError, match="does not exist"):
        list_recordings(tmp_path / "nope")
