"""Scoring a recording from disk a chunk at a time: the chunked passes give what the
whole-signal steps give, a file scores as its loaded copy does, and peak memory does not
grow with the recording's duration."""

from __future__ import annotations

import dataclasses
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb

from ecg.errors import RecordError
from ecg.export.edf import write_edf
from ecg.io.records import load_record
from ecg.io.source import FileSource, LazySignal, RecordSource, ScratchCopy, as_source
from ecg.labels import SYMBOL_TO_AAMI
from ecg.processing.quality import assess_quality, gap_mask, quality_chunks, runs
from ecg.scoring.score import (
    CHUNK_MARGIN_S,
    LeadReader,
    assess_source,
    detect_peaks_source,
    drop_readable_islands,
    find_peaks,
    score_record,
    unusable_mask,
)
from ecg.scoring.summary import holter_summary

DEMO = Path(__file__).resolve().parents[1] / "data"


def beat_template(fs: float) -> np.ndarray:
    """One PQRST complex, 0.8 s long, R at 0.3 s (mV)."""
    t = np.arange(int(0.8 * fs)) / fs - 0.3
    g = lambda a, mu, sd: a * np.exp(-0.5 * ((t - mu) / sd) ** 2)  # noqa: E731
    return g(0.15, -0.16, 0.02) + g(-0.1, -0.03, 0.006) + g(1.2, 0.0, 0.01) + g(-0.25, 0.03, 0.008) + g(0.3, 0.25, 0.04)


def synthetic_holter(n: int, fs: float, rr_s: float = 1.0, seed: int = 0) -> np.ndarray:
    """Two leads (float32 mV, n x 2): a beat template every ``rr_s`` s plus noise; lead 2 is
    the template at 0.6 of the size and inverted."""
    rng = np.random.default_rng(seed)
    period = int(round(rr_s * fs))
    one = np.zeros(period)
    tpl = beat_template(fs)
    one[: min(period, tpl.size)] = tpl[:period]
    lead = np.tile(one, -(-n // period))[:n]
    x = np.stack([lead, -0.6 * lead], axis=1) + rng.normal(0, 0.02, (n, 2))
    return x.astype(np.float32)


def write_wfdb(x: np.ndarray, fs: float, folder: Path, name: str) -> Path:
    """``x`` (mV) as a WFDB format-16 record ``folder/name`` (gain 200 adu/mV, NaN kept)."""
    d = np.where(np.isnan(x), -32768, np.round(np.nan_to_num(x) * 200)).astype(np.int64)
    wfdb.wrsamp(
        name,
        fs=fs,
        units=["mV", "mV"],
        sig_name=["MLII", "V1"],
        d_signal=d,
        fmt=["16", "16"],
        adc_gain=[200.0, 200.0],
        baseline=[0, 0],
        write_dir=str(folder),
    )
    return folder / name


# ------------------------------------------------------------------------------ sources


def test_file_source_reads_ranges_as_load_record(tmp_path: Path) -> None:
    full = load_record(DEMO / "100")
    src = FileSource(DEMO / "100")
    assert (src.n_samples, src.fs, src.lead_names) == (full.n_samples, full.fs, full.lead_names)
    np.testing.assert_array_equal(src.annotations.sample, full.annotations.sample)
    np.testing.assert_array_equal(src.read(1234, 56789), full.signal[1234:56789])
    with pytest.raises(RecordError, match="invalid sample range"):
        src.read(0, full.n_samples + 1)


def test_file_source_reads_an_edf_file(tmp_path: Path) -> None:
    rec = load_record(DEMO / "100")
    short = dataclasses.replace(rec, signal=rec.signal[:36_000], annotations=None)
    beats = pd.DataFrame({"sample": [360, 720], "time_s": [1.0, 2.0], "pred_class": ["N", "V"]})
    path = write_edf(short, beats, tmp_path / "r.edf")
    full = load_record(path)
    src = FileSource(path)
    assert (src.n_samples, src.lead_names, src.fs) == (36_000, full.lead_names, full.fs)
    np.testing.assert_array_equal(src.read(5_000, 20_000), full.signal[5_000:20_000])
    np.testing.assert_array_equal(src.annotations.sample, full.annotations.sample)


def test_lazy_signal_indexes_like_the_array() -> None:
    full = load_record(DEMO / "119")
    lazy = FileSource(DEMO / "119").to_record().signal
    assert isinstance(lazy, LazySignal) and lazy.shape == full.signal.shape and len(lazy) == full.n_samples
    for key in (
        np.s_[100:200],
        np.s_[100:200, 1],
        np.s_[-50:],
        np.s_[10:1000:7, 0],
        np.s_[500:100:-3],
        np.s_[42],
        np.s_[-1, 1],
        np.s_[[5, 3, 900]],
    ):
        np.testing.assert_array_equal(lazy[key], full.signal[key], err_msg=str(key))
    np.testing.assert_array_equal(np.asarray(lazy), full.signal)


def test_scratch_copy_round_trip() -> None:
    x = np.arange(30, dtype=np.float32).reshape(15, 2)
    x[3, 1] = np.nan
    with ScratchCopy(15, 2) as s:
        s.write(0, x[:10])
        s.write(10, x[10:])
        np.testing.assert_array_equal(s.read(2, 12), x[2:12])


def test_a_corrupted_wfdb_file_fails_its_checksum_when_streamed(record_copy) -> None:
    base = record_copy("100")
    dat = base.with_suffix(".dat")
    raw = bytearray(dat.read_bytes())
    raw[300_000] ^= 0x01  # one bit of one sample
    dat.write_bytes(bytes(raw))
    with pytest.raises(RecordError, match="checksum mismatch"):
        score_record(base, peaks="reference", summary=False)


# ------------------------------------------------------------------------------ the passes


def test_chunked_passes_equal_the_whole_signal_steps(tmp_path: Path) -> None:
    """Quality labels, lead-off runs and R peaks from the chunked passes over a file equal
    those of the whole-signal functions, on a recording of several quality chunks with flat
    (lead off) and NaN stretches across chunk edges."""
    fs = 125.0
    n = int(80 * 60 * fs)
    x = synthetic_holter(n, fs, rr_s=0.8)
    edges = [w0 for w0, *_ in quality_chunks(n, fs)][1:]
    w = int(2 * fs)
    assert len(edges) >= 2
    e = edges[0] * w
    x[e - int(40 * fs) : e + int(25 * fs), 0] = 0.3  # lead off across the first chunk edge
    x[e - int(5 * fs) : e + int(3 * fs), 1] = np.nan  # both leads out for a while
    x[edges[1] * w - 7 : edges[1] * w + 30, :] = 1.0  # a short flat run on a chunk edge
    base = write_wfdb(x, fs, tmp_path, "long")
    y = load_record(base).signal

    reader = LeadReader(FileSource(base), [0, 1], fs)
    reader.keep()
    quality, usable, gap_runs = assess_source(reader, ["MLII", "V1"])
    whole = assess_quality(y, fs, leads=["MLII", "V1"])
    np.testing.assert_array_equal(quality.labels, whole.labels)
    off = np.stack([gap_mask(y[:, k], fs) for k in range(2)], axis=1)
    np.testing.assert_array_equal(usable, (~off).sum(axis=0))
    np.testing.assert_array_equal(gap_runs, runs(off.all(axis=1)))
    assert gap_runs.shape[0] >= 1

    quality = drop_readable_islands(quality)
    chunk, margin = int(600 * fs), int(CHUNK_MARGIN_S * fs)
    streamed = detect_peaks_source(reader, quality, chunk, margin)
    reader.close()
    for k in range(2):
        want = find_peaks(y[:, k], fs, unusable_mask(off[:, k], quality, k), chunk, margin)
        np.testing.assert_array_equal(streamed[k], want)
        assert streamed[k].size > 0.8 * n / fs / 0.8  # the beats of the readable signal


def test_summary_from_gap_runs_equals_summary_from_gap_mask() -> None:
    rec = load_record(DEMO / "100")
    ref = rec.annotations.beats()
    beats = pd.DataFrame(
        {
            "sample": ref.sample,
            "time_s": ref.sample / rec.fs,
            "pred_class": [SYMBOL_TO_AAMI.get(s, "Q") for s in ref.symbol],
            "quality": "good",
        }
    )
    mask = np.zeros(rec.n_samples, bool)
    mask[100_000:130_000] = True
    mask[400_000:400_500] = True
    kwargs = dict(fs=rec.fs, duration_s=rec.duration_s, record="100")
    by_mask = holter_summary(beats, gap_mask=mask, **kwargs)
    by_runs = holter_summary(beats, gap_runs=runs(mask), **kwargs)
    assert dataclasses.asdict(by_mask) == dataclasses.asdict(by_runs)
    assert by_runs.heart_rate.gap_intervals >= 2
    assert by_runs.signal_quality.analysable_s == pytest.approx(rec.duration_s - 30_500 / rec.fs, abs=1e-3)


# ------------------------------------------------------------------------------ end to end


@pytest.mark.realdata
def test_a_record_scored_from_disk_equals_the_loaded_record(tiny_bundle) -> None:
    from_disk = score_record(DEMO / "208", tiny_bundle)
    in_memory = score_record(load_record(DEMO / "208"), tiny_bundle)
    assert isinstance(from_disk.record.signal, LazySignal)
    assert len(from_disk.beats) > 2000
    assert from_disk.beats.equals(in_memory.beats)
    np.testing.assert_array_equal(from_disk.model_waves, in_memory.model_waves)
    np.testing.assert_array_equal(from_disk.quality.labels, in_memory.quality.labels)
    assert dataclasses.asdict(from_disk.summary) == dataclasses.asdict(in_memory.summary)
    assert from_disk.missed_reference.equals(in_memory.missed_reference)
    np.testing.assert_array_equal(from_disk.record.signal[1000:2000], in_memory.record.signal[1000:2000])
    assert isinstance(RecordSource(in_memory.record).read(0, 10), np.ndarray)
    assert isinstance(as_source(from_disk.record), FileSource)  # scoring it again reads the file


def _traced_peak(path: Path, bundle) -> tuple[int, object]:
    tracemalloc.start()
    try:
        scored = score_record(path, bundle)
        return tracemalloc.get_traced_memory()[1], scored
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_duration(tmp_path: Path, tiny_bundle) -> None:
    """Scoring 30 minutes and 3 hours of a two-lead file: the longer one's peak of traced
    (NumPy and Python) memory is at most 1.3 x the shorter one's plus what its larger beat-level
    outputs take, and it never holds the 3 hours as one array (the whole-signal scoring of
    before this test was written peaked at 118 MB against 63 MB here)."""
    fs = 250.0
    short = write_wfdb(synthetic_holter(int(1800 * fs), fs, rr_s=1.5), fs, tmp_path, "short")
    long = write_wfdb(synthetic_holter(int(3 * 3600 * fs), fs, rr_s=1.5, seed=1), fs, tmp_path, "long")
    _traced_peak(short, tiny_bundle)  # first-call costs (caches) out of the measurement
    peak_short, s_short = _traced_peak(short, tiny_bundle)
    peak_long, s_long = _traced_peak(long, tiny_bundle)
    assert len(s_long.beats) > 5.5 * len(s_short.beats) > 5.5 * 1100

    def beat_level(s) -> int:  # the outputs, and the per-lead model outputs fused into them
        return int(3 * (s.model_waves.nbytes + s.beats.memory_usage(deep=True).sum()))

    growth = beat_level(s_long) - beat_level(s_short)
    assert peak_long <= 1.3 * peak_short + growth, (peak_short, peak_long, growth)
    signal_bytes = 3 * 3600 * fs * 2 * 4  # the 3 hours as float32
    assert peak_long - peak_short < 0.5 * signal_bytes + growth, (peak_short, peak_long, growth)
