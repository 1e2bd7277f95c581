"""The one scoring path: a record in, scored and flagged beats out.

:func:`score_record` filters, detects (or takes) R peaks, segments, runs both models and
flags. The CLI, the dashboard and the evaluation all call it, so the numbers in the
evaluation report are the numbers a clinician sees.

Long recordings are processed in chunks (default 30 minutes, the length of the records the
models were trained on) with a margin of signal on each side, so memory stays bounded and
per-record normalisation means the same thing for a 30-minute and a 24-hour recording.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pandas as pd

from ecg.errors import RecordError
from ecg.io.records import Record, load_record
from ecg.labels import SYMBOL_TO_AAMI
from ecg.models.bundle import ModelBundle, load_bundle
from ecg.models.training import ae_errors
from ecg.processing.pipeline import choose_lead, clean_lead
from ecg.processing.quality import gap_mask
from ecg.processing.segmentation import RR_FEATURES, rr_features, segment_beats
from ecg.scoring.schema import beat_columns, flag_reason

MIN_FS, MAX_FS = 100.0, 1000.0
MIN_DURATION_S = 5.0
CHUNK_MARGIN_S = 10.0
_RR = {n: i for i, n in enumerate(RR_FEATURES)}


@dataclass
class ScoredRecord:
    """Everything scoring produced for one record.

    ``beats`` follows :mod:`ecg.scoring.schema`. ``missed_reference`` lists reference beats
    that no scored beat matched within 150 ms (empty without reference annotations).
    ``model_waves`` holds each scored beat's normalised waveform as the autoencoder saw it
    (float32, n x window), for the dashboard's beat detail.
    """

    record: Record
    beats: pd.DataFrame
    summary: dict[str, Any]
    bundle_version: str
    lead: str
    threshold: float
    missed_reference: pd.DataFrame
    dropped: dict[str, int]
    analysable_s: float
    seconds: float
    model_waves: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0), np.float32))

    @property
    def n_flagged(self) -> int:
        return int(self.beats["flagged"].sum())


@lru_cache(maxsize=4)
def _cached_bundle(path: str | None) -> ModelBundle:
    return load_bundle(path)


def default_bundle() -> ModelBundle:
    """The shipped bundle, loaded once per process."""
    return _cached_bundle(None)


def _detect_chunked(x: np.ndarray, fs: float, bad: np.ndarray, chunk: int, margin: int) -> np.ndarray:
    from ecg.processing.peaks import detect_r_peaks

    n = x.size
    out = []
    for c0 in range(0, n, chunk):
        c1 = min(n, c0 + chunk)
        s0, s1 = max(0, c0 - margin), min(n, c1 + margin)
        seg = np.where(bad[s0:s1], np.nan, x[s0:s1])
        if s1 - s0 < int(2 * fs) or np.isnan(seg).all():
            continue
        pk = detect_r_peaks(seg, fs) + s0
        out.append(pk[(pk >= c0) & (pk < c1)])
    pk = np.unique(np.concatenate(out)) if out else np.zeros(0, np.int64)
    return pk[~bad[pk]] if pk.size else pk


def _chunks(n: int, chunk: int) -> list[tuple[int, int]]:
    k = max(1, int(np.ceil(n / chunk)))
    edges = np.linspace(0, n, k + 1).round().astype(np.int64)
    return list(zip(edges[:-1], edges[1:]))


def score_record(
    record: Record | str | os.PathLike,
    bundle: ModelBundle | None = None,
    *,
    lead: int | str | None = None,
    peaks: Literal["detect", "reference"] | np.ndarray = "detect",
    threshold: float | None = None,
    data_dir: str | os.PathLike | None = None,
    chunk_s: float = 1800.0,
    summary: bool = True,
) -> ScoredRecord:
    """Score one record: every beat gets a class with probabilities, an anomaly score and a flag.

    Parameters
    ----------
    record
        A loaded :class:`~ecg.io.records.Record`, or a path / record name to load.
    bundle
        Model bundle; ``None`` uses the shipped one (:func:`ecg.load_bundle`).
    lead
        Lead to analyse (name or index); default: MLII/II when present, else the first.
    peaks
        ``"detect"`` (default; real use), ``"reference"`` (the record's annotated beat
        positions, for literature-comparable evaluation) or an array of R-peak samples.
    threshold
        Anomaly-score threshold (1.0 = the bundle's calibrated threshold; default 1.0).
    chunk_s
        Processing chunk length in seconds.

    A beat is flagged when its predicted class is not N (``flag_reason`` "class"), when its
    anomaly score reaches ``threshold`` ("anomaly"), or both ("class+anomaly").
    """
    t_start = time.perf_counter()
    if not isinstance(record, Record):
        record = load_record(record, data_dir)
    bundle = bundle or default_bundle()
    thr = 1.0 if threshold is None else float(threshold)
    where = record.source or record.name
    fs = float(record.fs)
    if not MIN_FS <= fs <= MAX_FS:
        raise RecordError(where, f"sampling rate {fs:g} Hz is outside the supported {MIN_FS:g}-{MAX_FS:g} Hz")
    try:
        j = choose_lead(record.lead_names, lead)
    except ValueError as exc:
        raise RecordError(where, str(exc)) from None
    lead_name = record.lead_names[j]
    x = record.signal[:, j]
    n = x.size
    if n < MIN_DURATION_S * fs:
        raise RecordError(where, f"record is too short to score: {n / fs:.2f} s (at least {MIN_DURATION_S:g} s needed)")
    bad = gap_mask(x, fs)
    analysable_s = float((~bad).sum() / fs)
    if analysable_s < MIN_DURATION_S:
        raise RecordError(where, f"lead {lead_name} has no usable signal (NaN or flat throughout)")

    chunk = max(int(chunk_s * fs), int(60 * fs))
    margin = int(CHUNK_MARGIN_S * fs)
    ref = record.annotations.beats() if record.annotations is not None else None
    if isinstance(peaks, str):
        if peaks == "detect":
            pk = _detect_chunked(x, fs, bad, chunk, margin)
        elif peaks == "reference":
            if ref is None:
                raise RecordError(where, "peaks='reference' needs reference annotations, and the record has none")
            pk = np.unique(ref.sample)
        else:
            raise ValueError(f"peaks must be 'detect', 'reference' or an array, got {peaks!r}")
    else:
        pk = np.unique(np.asarray(peaks, dtype=np.int64))
        pk = pk[(pk >= 0) & (pk < n)]

    rr_all = rr_features(pk, fs)
    cfg = bundle.config
    parts: list[dict[str, np.ndarray]] = []
    dropped = {"edge": 0, "gap": 0}
    for c0, c1 in _chunks(n, chunk):
        core = np.flatnonzero((pk >= c0) & (pk < c1))
        if core.size == 0:
            continue
        s0, s1 = max(0, c0 - margin), min(n, c1 + margin)
        seg = x[s0:s1]
        seg_bad = bad[s0:s1]
        cleaned = clean_lead(np.where(seg_bad, np.nan, seg), fs, cfg)
        b = segment_beats(np.nan_to_num(cleaned, nan=0.0), fs, pk[core] - s0, cfg.window, unusable=seg_bad,
                          rr=rr_all[core])
        for k, v in b.dropped.items():
            dropped[k] = dropped.get(k, 0) + v
        if len(b) == 0:
            continue
        inputs = bundle.inputs(b.waves, b.rr)
        probs = bundle.class_probabilities(inputs, b.rr[:, _RR["rr_irregularity"]])
        err = ae_errors(bundle.autoencoder, inputs.waves)
        parts.append({
            "sample": b.sample + s0,
            "rr": b.rr,
            "probs": probs,
            "score": bundle.scorer.score(err, inputs.rr),
            "waves": inputs.waves[:, :, 0],
        })

    classes = bundle.classes
    if parts:
        sample = np.concatenate([p["sample"] for p in parts])
        rr = np.concatenate([p["rr"] for p in parts])
        probs = np.concatenate([p["probs"] for p in parts])
        score = np.concatenate([p["score"] for p in parts])
        waves = np.concatenate([p["waves"] for p in parts])
    else:
        sample = np.zeros(0, np.int64)
        rr = np.zeros((0, len(RR_FEATURES)), np.float32)
        probs = np.zeros((0, len(classes)), np.float32)
        score = np.zeros(0)
        waves = np.zeros((0, cfg.window.length), np.float32)

    pred = np.asarray(classes, dtype=object)[probs.argmax(axis=1)] if probs.size else np.zeros(0, object)
    class_flag = pred != "N"
    anomaly_flag = score >= thr
    df = pd.DataFrame({
        "sample": sample.astype(np.int64),
        "time_s": sample / fs,
        "lead": lead_name,
        "rr_prev_s": rr[:, _RR["rr_prev_s"]].astype(np.float64),
        "rr_next_s": rr[:, _RR["rr_next_s"]].astype(np.float64),
        "pred_class": pred,
    })
    for k, c in enumerate(classes):
        df[f"prob_{c}"] = probs[:, k].astype(np.float64)
    if "Q" not in classes:
        df["prob_Q"] = 0.0
    df["anomaly_score"] = score.astype(np.float64)
    irregularity = rr[:, _RR["rr_irregularity"]].astype(np.float64)
    df["flagged"] = class_flag | anomaly_flag
    df["flag_reason"] = flag_reason(class_flag, anomaly_flag)

    missed = pd.DataFrame({"sample": pd.Series(dtype="int64"), "ref_symbol": pd.Series(dtype=object),
                           "ref_class": pd.Series(dtype=object)})
    if ref is not None:
        from ecg.evaluate.matching import match_beats

        m = match_beats(ref.sample, sample, fs)
        ref_sym = np.full(sample.size, "", dtype=object)
        ref_sym[m.test_idx] = ref.symbol[m.ref_idx]
        df["ref_symbol"] = ref_sym
        df["ref_class"] = [SYMBOL_TO_AAMI.get(s, "") for s in ref_sym]
        miss_sym = ref.symbol[m.missed_idx]
        missed = pd.DataFrame({"sample": ref.sample[m.missed_idx].astype(np.int64), "ref_symbol": miss_sym,
                               "ref_class": [SYMBOL_TO_AAMI.get(s, "") for s in miss_sym]})
    else:
        df["ref_symbol"] = ""
        df["ref_class"] = ""
    df["rr_irregularity"] = irregularity
    df["irregular_rhythm"] = bundle.irregular_rhythm(irregularity)
    df = df[beat_columns(classes if "Q" in classes else tuple(classes) + ("Q",))]

    summ: dict[str, Any] = {}
    if summary:
        from ecg.scoring.summary import holter_summary

        summ = holter_summary(df, fs, record.duration_s, analysable_s, gap_mask=bad)
        summ["record"] = record.name
        summ["lead"] = lead_name
        summ["bundle_version"] = bundle.version
        summ["anomaly_threshold"] = thr
        summ["dropped_beats"] = dropped
    return ScoredRecord(record=record, beats=df.reset_index(drop=True), summary=summ, bundle_version=bundle.version,
                        lead=lead_name, threshold=thr, missed_reference=missed, dropped=dropped,
                        analysable_s=analysable_s, seconds=time.perf_counter() - t_start, model_waves=waves)


def reflag(beats: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The same beats flagged at another anomaly threshold (for the dashboard's slider)."""
    out = beats.copy()
    class_flag = out["pred_class"].to_numpy() != "N"
    anomaly_flag = out["anomaly_score"].to_numpy() >= threshold
    out["flagged"] = class_flag | anomaly_flag
    out["flag_reason"] = flag_reason(class_flag, anomaly_flag)
    return out


def reconstruct(bundle: ModelBundle, model_wave: np.ndarray) -> np.ndarray:
    """The autoencoder's reconstruction of one normalised beat (window,) -> (window,)."""
    import torch

    with torch.inference_mode():
        x = torch.from_numpy(np.asarray(model_wave, np.float32)[None, :, None])
        return bundle.autoencoder(x)[0, :, 0].numpy()


__all__ = ["ScoredRecord", "default_bundle", "reconstruct", "reflag", "score_record"]
