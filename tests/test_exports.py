"""Round trips of the exports: beat tables, summary JSON, WFDB annotations, EDF+."""

from __future__ import annotations

import csv
import json

import edfio
import numpy as np
import pandas as pd
import pytest
import wfdb

from ecg.export import (
    beat_table_to_annotations,
    read_beat_table,
    write_beat_annotations,
    write_beat_table,
    write_edf,
    write_summary_json,
    write_wfdb_annotations,
)
from ecg.export.edf import data_record_layout
from ecg.export.tables import STR_DTYPE, normalise_beat_table
from ecg.io.records import Record
from ecg.scoring.schema import beat_columns, empty_beat_table

FS = 360.0


def _beats(n: int = 60, fs: float = FS, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sample = np.cumsum(rng.integers(200, 400, n)).astype(np.int64) + 50
    rr = np.diff(sample) / fs
    cls = rng.choice(np.array(["N", "S", "V", "F", "Q"]), n, p=[0.6, 0.1, 0.2, 0.05, 0.05])
    probs = rng.dirichlet(np.ones(5), n)
    score = rng.random(n) * 2
    flagged = (cls != "N") | (score > 1.5)
    reason = np.where(
        (cls != "N") & (score > 1.5),
        "class+anomaly",
        np.where(cls != "N", "class", np.where(score > 1.5, "anomaly", "")),
    )
    ref_sym = rng.choice(np.array(["N", "V", "A", "/", "", "L"]), n)
    ref_cls = np.array([{"N": "N", "L": "N", "V": "V", "A": "S", "/": "Q", "": ""}[s] for s in ref_sym])
    df = pd.DataFrame(
        {
            "sample": sample,
            "time_s": sample / fs,
            "lead": "MLII",
            "rr_prev_s": np.r_[np.nan, rr],
            "rr_next_s": np.r_[rr, np.nan],
            "pred_class": list(cls),
            **{f"prob_{c}": probs[:, i] for i, c in enumerate("NSVFQ")},
            "anomaly_score": score,
            "flagged": flagged,
            "flag_reason": list(reason),
            "ref_symbol": list(ref_sym),
            "ref_class": list(ref_cls),
            "quality": rng.choice(["good", "noisy", "unreadable"], n),
            "af": rng.random(n) < 0.3,
            "nn": rng.random(n) < 0.8,
            "family": rng.integers(-1, 4, n),
        }
    )
    df.loc[3, "anomaly_score"] = np.nan  # e.g. a beat the autoencoder could not score
    return df


def test_beat_table_round_trip(tmp_path):
    df = _beats()
    assert list(df.columns) == beat_columns()
    paths = write_beat_table(df, tmp_path / "out", "100")
    assert [p.name for p in paths] == ["100_beats.csv", "100_beats.parquet"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["100_beats.csv", "100_beats.parquet"]
    for p in paths:
        back = read_beat_table(p)
        pd.testing.assert_frame_equal(back, df)  # exact: floats, NaN, "", booleans, dtypes
        assert back["flagged"].dtype == bool and back["sample"].dtype == np.int64
        assert back["ref_symbol"].dtype == STR_DTYPE


def test_beat_table_csv_text(tmp_path):
    df = _beats()
    (path,) = write_beat_table(df, tmp_path, "rec", formats=("csv",))
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == len(df)
    assert {r["flagged"] for r in rows} == {"true", "false"}
    no_ref = int(np.flatnonzero(df["ref_symbol"].to_numpy() == "")[0])
    assert rows[no_ref]["ref_symbol"] == "" and rows[no_ref]["ref_class"] == ""
    assert rows[0]["rr_prev_s"] == "" and rows[3]["anomaly_score"] == ""
    assert float(rows[5]["time_s"]) == df["time_s"].iloc[5]


def test_beat_table_empty_and_object_columns(tmp_path):
    empty = empty_beat_table()
    for p in write_beat_table(empty, tmp_path, "e"):
        back = read_beat_table(p)
        assert len(back) == 0 and list(back.columns) == beat_columns()
        pd.testing.assert_frame_equal(back, normalise_beat_table(empty))
    df = _beats(10)
    obj = df.astype({c: object for c in ("lead", "pred_class", "flag_reason", "ref_symbol", "ref_class")})
    obj.loc[2, "ref_symbol"] = None
    obj.index = np.arange(10, 20)
    back = read_beat_table(write_beat_table(obj, tmp_path, "o", formats=["parquet"])[0])
    assert back.loc[2, "ref_symbol"] == "" and list(back.index) == list(range(10))
    with pytest.raises(ValueError):
        write_beat_table(df, tmp_path, "x", formats=("xlsx",))


def test_summary_json(tmp_path):
    summary = {
        "a": np.int64(3),
        "b": np.float32(0.5),
        "c": float("nan"),
        "d": [np.bool_(True), None, "x"],
        "e": {"f": np.array([1, 2])},
    }
    path = write_summary_json(summary, tmp_path / "s" / "summary.json")
    assert json.loads(path.read_text()) == {"a": 3, "b": 0.5, "c": None, "d": [True, None, "x"], "e": {"f": [1, 2]}}
    assert [p.name for p in path.parent.iterdir()] == ["summary.json"]


def test_wfdb_annotations_round_trip(tmp_path):
    df = _beats()
    df.loc[0, ["pred_class", "prob_V", "anomaly_score", "flagged", "flag_reason"]] = ["V", 0.97, 1.42, True, "class"]
    df.loc[1, ["pred_class", "prob_N", "anomaly_score", "flagged", "flag_reason"]] = ["N", 0.5, 0.25, False, ""]
    path = write_beat_annotations(df, "100", tmp_path, FS)
    assert path == tmp_path / "100.ecg" and [p.name for p in tmp_path.iterdir()] == ["100.ecg"]
    ann = wfdb.rdann(str(tmp_path / "100"), "ecg")
    samples, symbols, aux = beat_table_to_annotations(df)
    np.testing.assert_array_equal(ann.sample, df["sample"].to_numpy())
    assert list(ann.symbol) == list(df["pred_class"]) == symbols  # N S V F Q map to themselves
    assert [a.rstrip("\x00") for a in ann.aux_note] == aux
    assert aux[0] == "p=0.97 a=1.42 flag:class" and aux[1] == "p=0.50 a=0.25"
    assert aux[3].startswith("p=") and " a=" not in aux[3]  # NaN anomaly score left out
    assert ann.fs == FS


def test_wfdb_annotations_class_column(tmp_path):
    """Reviewed labels (``effective_label``) drive the symbols; a beat whose label differs from
    the model's class says so in its aux note; ``p=`` stays the model's probability."""
    df = _beats()
    df.loc[0, ["pred_class", "prob_V", "anomaly_score", "flagged", "flag_reason"]] = ["V", 0.97, 1.42, True, "class"]
    df["effective_label"] = df["pred_class"]
    df.loc[0, "effective_label"] = "N"
    path = write_beat_annotations(df, "100", tmp_path, FS, class_column="effective_label")
    ann = wfdb.rdann(str(path.with_suffix("")), "ecg")
    assert list(ann.symbol) == list(df["effective_label"])
    aux = [a.rstrip("\x00") for a in ann.aux_note]
    assert aux[0] == "p=0.97 a=1.42 flag:class model:V"
    assert not any("model:" in a for a in aux[1:])
    assert beat_table_to_annotations(df)[1][0] == "V"  # default: the model's class
    with pytest.raises(ValueError, match="no column"):
        beat_table_to_annotations(df, "nope")


def test_wfdb_annotations_names_and_errors(tmp_path):
    path = write_wfdb_annotations(
        "rec.1", tmp_path, [10, 20, 20], ["N", "V", "+"], 250.0, aux=["", "x", "(AFIB"], extension="test"
    )
    ann = wfdb.rdann(str(tmp_path / "rec.1"), "test")
    assert path.name == "rec.1.test" and list(ann.sample) == [10, 20, 20] and list(ann.symbol) == ["N", "V", "+"]
    assert [a.rstrip("\x00") for a in ann.aux_note] == ["", "x", "(AFIB"]
    empty = write_wfdb_annotations("none", tmp_path, [], [], 250.0)
    assert len(wfdb.rdann(str(empty.with_suffix("")), "ecg").sample) == 0
    for bad in (dict(symbols=["N", "?!"]), dict(samples=[20, 10]), dict(extension="e1")):
        kw = dict(record_name="r", out_dir=tmp_path, samples=[10, 20], symbols=["N", "V"], fs=250.0) | bad
        with pytest.raises(ValueError):
            write_wfdb_annotations(**kw)
    assert not (tmp_path / "r.ecg").exists()


def _record(n: int, fs: float = FS) -> Record:
    t = np.arange(n) / fs
    sig = np.stack([np.sin(2 * np.pi * 1.2 * t) * 1.5 + 0.1, np.cos(2 * np.pi * 0.7 * t) * 0.4 - 2.0], axis=1)
    return Record(name="syn", signal=sig.astype(np.float32), fs=fs, lead_names=("MLII", "V5"), units=("mV", "mV"))


def test_edf_round_trip(tmp_path):
    rec = _record(int(60 * FS))
    signal = rec.signal.copy()
    signal[1000:1036, 1] = np.nan
    rec = Record(name=rec.name, signal=signal, fs=rec.fs, lead_names=rec.lead_names, units=rec.units)
    beats = _beats(70)
    beats = beats[beats["sample"] < rec.n_samples].reset_index(drop=True)
    path = write_edf(rec, beats, tmp_path / "syn.edf")
    assert [p.name for p in tmp_path.iterdir()] == ["syn.edf"]
    edf = edfio.read_edf(path)
    assert edf.labels == ("MLII", "V5") and edf.data_record_duration == 1.0 and edf.num_data_records == 60
    for j, s in enumerate(edf.signals):
        assert s.sampling_frequency == FS and s.physical_dimension == "mV"
        step = (s.physical_max - s.physical_min) / (s.digital_max - s.digital_min)
        want = np.nan_to_num(rec.signal[:, j].astype(np.float64), nan=0.0)
        assert s.data.shape == want.shape
        assert np.max(np.abs(s.data - want)) <= step / 2 + 1e-9
        assert s.physical_min < want.min() and s.physical_max > want.max()
    anns = edf.annotations
    beat_anns = [a for a in anns if not a.text.startswith("NaN")]
    assert len(beat_anns) == len(beats)
    np.testing.assert_allclose([a.onset for a in beat_anns], beats["time_s"], atol=1e-6)
    want_text = [
        f"{c} flag:{r}" if f else c for c, f, r in zip(beats["pred_class"], beats["flagged"], beats["flag_reason"])
    ]
    assert [a.text for a in beat_anns] == want_text
    (nan_ann,) = [a for a in anns if a.text.startswith("NaN")]
    assert nan_ann.text == "NaN->0 V5"
    assert nan_ann.onset == pytest.approx(1000 / FS, abs=1e-6) and nan_ann.duration == pytest.approx(36 / FS, abs=1e-6)


def test_edf_padding_and_layout(tmp_path):
    assert data_record_layout(650000, 360.0) == (1.0, 360, 650160)
    assert data_record_layout(21600, 360.0) == (1.0, 360, 21600)
    assert data_record_layout(21780, 360.0) == (0.5, 180, 21780)
    assert data_record_layout(1056, 128.0) == (0.25, 32, 1056)
    assert data_record_layout(1000, 128.0) == (1.0, 128, 1024)
    n = int(10 * FS) + 1
    rec = _record(n)
    beats = _beats(8)
    path = write_edf(rec, beats, tmp_path / "pad.edf")
    edf = edfio.read_edf(path)
    assert edf.num_data_records == 11 and edf.signals[0].data.size == 11 * 360
    np.testing.assert_allclose(edf.signals[0].data[n:], edf.signals[0].data[n - 1], atol=1e-12)
    (pad,) = [a for a in edf.annotations if a.text == "padding"]
    assert pad.onset == pytest.approx(n / FS, abs=1e-6) and pad.duration == pytest.approx((11 * 360 - n) / FS, abs=1e-6)
    assert sum(a.text != "padding" for a in edf.annotations) == len(beats)
    assert np.isfinite(edf.signals[1].data).all()
