"""The one scoring path: a record in, scored and flagged beats out.

:func:`score_record` filters, detects (or takes) R peaks, segments, runs both models and
flags. The CLI, the dashboard and the evaluation all call it, so the numbers in the
evaluation report are the numbers a clinician sees.

Long recordings are processed in chunks (default 30 minutes, the length of the records the
models were trained on) with a margin of signal on each side, so memory stays bounded and
per-record normalisation means the same thing for a 30-minute and a 24-hour recording.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from ecg.errors import RecordError
from ecg.evaluate.matching import match_beats
from ecg.io.records import Annotations, Record, load_record
from ecg.labels import SYMBOL_TO_AAMI
from ecg.models.bundle import ModelBundle, load_bundle, merge_class
from ecg.processing.af import AFResult, detect_af
from ecg.processing.peaks import detect_r_peaks
from ecg.processing.pipeline import choose_lead, clean_lead
from ecg.processing.quality import QUALITY_LABELS, UNREADABLE, SignalQuality, assess_quality, gap_mask, runs
from ecg.processing.segmentation import RR_FEATURES, rr_features, segment_beats
from ecg.scoring.schema import beat_columns, flag_reason
from ecg.scoring.summary import holter_summary
from ecg.scoring.summary_types import HolterSummary

MIN_FS, MAX_FS = 100.0, 1000.0
MIN_DURATION_S = 5.0
CHUNK_MARGIN_S = 10.0
#: Readable stretches shorter than this between unreadable signal are not analysed, s.
MIN_READABLE_S = 6.0
#: Two detections closer than this are one beat seen by two leads, s.
FUSION_REFRACTORY_S = 0.2
#: Each lead's vote in the class fusion, by its quality label (GOOD, NOISY, UNREADABLE).
QUALITY_WEIGHTS = np.array([1.0, 0.5, 0.0])
_RR = {n: i for i, n in enumerate(RR_FEATURES)}


@dataclass
class ScoredRecord:
    """Everything scoring produced for one record.

    ``beats`` follows :mod:`ecg.scoring.schema`. ``summary`` is the typed Holter summary
    (None when ``score_record(..., summary=False)``). ``quality`` holds the analysed leads'
    signal-quality labels and ``af`` the atrial fibrillation / flutter episodes.
    ``missed_reference`` lists reference beats that no scored beat matched within 150 ms
    (empty without reference annotations). ``model_waves`` holds each scored beat's
    normalised waveform as the autoencoder saw it (float32, n x window), for the dashboard.
    """

    record: Record
    beats: pd.DataFrame
    summary: HolterSummary | None
    bundle_version: str
    lead: str
    threshold: float
    missed_reference: pd.DataFrame
    dropped: dict[str, int]
    analysable_s: float
    seconds: float
    quality: SignalQuality | None = None
    af: AFResult | None = None
    leads: tuple[str, ...] = ()  # the analysed leads, the preferred one first (``lead`` joins them with "+")
    model_waves: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0), np.float32))

    @property
    def n_flagged(self) -> int:
        return int(self.beats["flagged"].sum())


@dataclass
class ModelOutputs:
    """Per-beat model outputs of one record, in beat order."""

    sample: np.ndarray  # int64 (n,)
    rr: np.ndarray  # float32 (n, len(RR_FEATURES))
    probs: np.ndarray  # float32 (n, len(classes))
    score: np.ndarray  # float64 (n,), 0-100
    waves: np.ndarray  # float32 (n, window)


@lru_cache(maxsize=4)
def _cached_bundle(path: str | None) -> ModelBundle:
    return load_bundle(path)


def default_bundle() -> ModelBundle:
    """The shipped bundle, loaded once per process."""
    return _cached_bundle(None)


def _chunks(n: int, chunk: int) -> list[tuple[int, int]]:
    k = max(1, int(np.ceil(n / chunk)))
    edges = np.linspace(0, n, k + 1).round().astype(np.int64)
    return list(zip(edges[:-1], edges[1:]))


# ------------------------------------------------------------------------------------ steps


def select_leads(record: Record, lead: int | str | None = None) -> list[int]:
    """Check the record can be scored and return the indices of the leads to analyse: ``lead``
    alone when given, else every lead, the preferred one (MLII/II) first."""
    where = record.source or record.name
    fs = float(record.fs)
    if not MIN_FS <= fs <= MAX_FS:
        raise RecordError(where, f"sampling rate {fs:g} Hz is outside the supported {MIN_FS:g}-{MAX_FS:g} Hz")
    try:
        j = choose_lead(record.lead_names, lead)
    except ValueError as exc:
        raise RecordError(where, str(exc)) from None
    if record.n_samples < MIN_DURATION_S * fs:
        raise RecordError(
            where, f"record is too short to score: {record.n_samples / fs:.2f} s (at least {MIN_DURATION_S:g} s needed)"
        )
    return [j] if lead is not None else [j] + [k for k in range(record.n_leads) if k != j]


def drop_readable_islands(quality: SignalQuality, min_readable_s: float = MIN_READABLE_S) -> SignalQuality:
    """``quality`` with readable stretches shorter than ``min_readable_s`` between unreadable
    signal relabelled unreadable on every lead: an island that short holds no rhythm to trust
    (in pure noise a few windows pass the indices by chance)."""
    ok = quality.best() != UNREADABLE
    r = runs(ok)
    short = r[(r[:, 1] - r[:, 0]) * quality.window < min_readable_s * quality.fs]
    if not short.size:
        return quality
    labels = quality.labels.copy()
    for a, b in short:  # a loop over islands, not samples
        labels[a:b] = UNREADABLE
    return dataclasses.replace(quality, labels=labels)


def unusable_mask(lead_off: np.ndarray, quality: SignalQuality, lead: int) -> np.ndarray:
    """Samples of one analysed lead not to analyse (bool): NaN or flat (``lead_off``, from
    :func:`gap_mask`), or in a window where that lead is labelled unreadable."""
    readable = np.repeat(quality.labels[:, lead] != UNREADABLE, quality.window)[: quality.n_samples]
    return lead_off | ~readable


def _window_of(quality: SignalQuality, samples: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(samples, np.int64) // quality.window, 0, max(quality.n_windows - 1, 0))


def lead_rank(quality: SignalQuality) -> np.ndarray:
    """(n_windows, n_leads) int: the leads ordered per window, best quality first and the
    analysed leads' order (the preferred lead first) on ties; 0 = the best."""
    n_leads = quality.labels.shape[1]
    key = quality.labels.astype(np.int64) * n_leads + np.arange(n_leads)[None, :]
    return key.argsort(axis=1).argsort(axis=1)


def fuse_peaks(
    per_lead: list[np.ndarray], quality: SignalQuality, fs: float, refractory_s: float = FUSION_REFRACTORY_S
) -> np.ndarray:
    """R peaks detected once from several leads: in each quality window the detections of the
    best lead there (:func:`lead_rank`); a detection within ``refractory_s`` of the one before
    it (the same beat seen by two leads at a window edge) is dropped."""
    rank = lead_rank(quality)
    kept = [pk[rank[_window_of(quality, pk), j] == 0] for j, pk in enumerate(per_lead)]
    pk = np.sort(np.concatenate(kept)) if kept else np.zeros(0, np.int64)
    if pk.size > 1:
        pk = pk[np.concatenate(([True], np.diff(pk) >= refractory_s * fs))]
    return pk.astype(np.int64)


def fuse_leads(
    outs: list[ModelOutputs], quality: SignalQuality, lead_names: list[str]
) -> tuple[ModelOutputs, np.ndarray]:
    """One set of model outputs from the analysed leads, and the leads that voted per beat.

    Class probabilities: the mean of the leads' log-probabilities weighted by their quality at
    the beat (:data:`QUALITY_WEIGHTS`: good 1, noisy 0.5, unreadable 0), renormalised. A lead
    unreadable at a beat does not vote there. The anomaly score, the RR features and the
    waveform are those of the best lead at the beat (:func:`lead_rank`)."""
    if len(outs) == 1:
        o = outs[0]
        w = QUALITY_WEIGHTS[quality.at_lead(o.sample, 0).astype(np.int64)]
        return o, np.where(w > 0, lead_names[0], "")
    sample = np.unique(np.concatenate([o.sample for o in outs]))
    n, n_leads, k = sample.size, len(outs), outs[0].probs.shape[1]
    logp = np.zeros((n_leads, n, k))
    weight = np.zeros((n_leads, n))
    present = np.zeros((n_leads, n), bool)
    for j, o in enumerate(outs):
        i = np.searchsorted(sample, o.sample)
        present[j, i] = True
        logp[j, i] = np.log(np.clip(o.probs, 1e-7, 1.0))
        weight[j, i] = QUALITY_WEIGHTS[quality.at_lead(o.sample, j).astype(np.int64)]
    voters = weight > 0
    w = np.where(voters.any(axis=0)[None, :], weight, present.astype(float))  # nobody readable: all that ran
    z = (w[:, :, None] * logp).sum(axis=0) / w.sum(axis=0)[:, None]
    probs = np.exp(z - z.max(axis=1, keepdims=True))
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    rank = lead_rank(quality)[_window_of(quality, sample)].T.astype(np.float64)  # (n_leads, n)
    best = np.where(present, rank, np.inf).argmin(axis=0)
    pick = [np.searchsorted(o.sample, sample) for o in outs]

    def from_best(field: str) -> np.ndarray:
        first = getattr(outs[0], field)
        out = np.zeros((n,) + first.shape[1:], first.dtype)
        for j, o in enumerate(outs):
            m = best == j
            out[m] = getattr(o, field)[pick[j][m]]
        return out

    names = np.asarray(lead_names, dtype=object)
    labels = np.array(["+".join(names[voters[:, i]]) for i in range(n)], dtype=object) if n else np.zeros(0, object)
    return ModelOutputs(sample, from_best("rr"), probs, from_best("score"), from_best("waves")), labels


def find_peaks(x: np.ndarray, fs: float, unusable: np.ndarray, chunk: int, margin: int) -> np.ndarray:
    """R peaks of one lead, detected chunk by chunk (with margins) on the usable signal only."""
    n = x.size
    out = []
    for c0 in range(0, n, chunk):
        c1 = min(n, c0 + chunk)
        s0, s1 = max(0, c0 - margin), min(n, c1 + margin)
        seg = np.where(unusable[s0:s1], np.nan, x[s0:s1])
        if s1 - s0 < int(2 * fs) or np.isnan(seg).all():
            continue
        pk = detect_r_peaks(seg, fs) + s0
        out.append(pk[(pk >= c0) & (pk < c1)])
    pk = np.unique(np.concatenate(out)) if out else np.zeros(0, np.int64)
    return pk[~unusable[pk]] if pk.size else pk


def run_models(
    bundle: ModelBundle,
    x: np.ndarray,
    fs: float,
    unusable: np.ndarray,
    pk: np.ndarray,
    chunk: int,
    margin: int,
    dropped: dict[str, int],
) -> ModelOutputs:
    """Clean, segment and run both models chunk by chunk; counts dropped beats into ``dropped``."""
    n = x.size
    cfg = bundle.config
    rr_all = rr_features(pk, fs)
    parts: list[ModelOutputs] = []
    for c0, c1 in _chunks(n, chunk):
        core = np.flatnonzero((pk >= c0) & (pk < c1))
        if core.size == 0:
            continue
        s0, s1 = max(0, c0 - margin), min(n, c1 + margin)
        seg_bad = unusable[s0:s1]
        cleaned = clean_lead(np.where(seg_bad, np.nan, x[s0:s1]), fs, cfg)
        b = segment_beats(
            np.nan_to_num(cleaned, nan=0.0), fs, pk[core] - s0, cfg.window, unusable=seg_bad, rr=rr_all[core]
        )
        for k, v in b.dropped.items():
            dropped[k] = dropped.get(k, 0) + v
        if len(b) == 0:
            continue
        scores = bundle.score_beats(b.waves, b.rr)
        parts.append(ModelOutputs(b.sample + s0, b.rr, scores.probs, scores.score, scores.model_waves))
    if not parts:
        return ModelOutputs(
            np.zeros(0, np.int64),
            np.zeros((0, len(RR_FEATURES)), np.float32),
            np.zeros((0, len(bundle.classes)), np.float32),
            np.zeros(0),
            np.zeros((0, cfg.window.length), np.float32),
        )
    return ModelOutputs(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in ("sample", "rr", "probs", "score", "waves"))
    )


def find_af(out: ModelOutputs, fs: float, beat_quality: np.ndarray, classes: tuple[str, ...]) -> AFResult:
    """AF/flutter episodes of the record (:func:`ecg.processing.af.detect_af`), from the RR
    intervals of the readable beats, the classifier's V calls removed as ectopic beats."""
    valid = beat_quality != UNREADABLE
    ectopic = np.zeros(out.sample.size, bool)
    if "V" in classes and len(out.probs):
        ectopic = (out.probs.argmax(axis=1) == classes.index("V")) & valid
    return detect_af(out.sample, fs, valid=valid, ectopic=ectopic)


def beat_table(
    out: ModelOutputs,
    fs: float,
    leads: np.ndarray | str,
    classes: tuple[str, ...],
    beat_quality: np.ndarray,
    af: np.ndarray,
    threshold: float,
) -> pd.DataFrame:
    """The beat table (:mod:`ecg.scoring.schema`) from the model outputs.

    No S inside AF/flutter episodes (atrial activity there has no discrete P waves, so a
    supraventricular beat is labelled normal, as in MIT-BIH and AAMI EC57): their S
    probability is added to N. Beats in unreadable signal are not classified: class Q, no
    probabilities, no anomaly score, never flagged."""
    probs = merge_class(out.probs, classes, af, "S", "N").astype(np.float64)
    score = out.score.astype(np.float64).copy()
    unreadable = beat_quality == UNREADABLE
    probs[unreadable] = np.nan
    score[unreadable] = np.nan
    names = np.asarray(classes, dtype=object)
    pred = names[probs.argmax(axis=1)] if len(probs) else np.zeros(0, object)
    if len(probs):
        pred[unreadable] = "Q"
    df = pd.DataFrame(
        {
            "sample": out.sample.astype(np.int64),
            "time_s": out.sample / fs,
            "lead": leads,
            "rr_prev_s": out.rr[:, _RR["rr_prev_s"]].astype(np.float64),
            "rr_next_s": out.rr[:, _RR["rr_next_s"]].astype(np.float64),
            "pred_class": pred,
        }
    )
    for k, c in enumerate(classes):
        df[f"prob_{c}"] = probs[:, k]
    if "Q" not in classes:
        df["prob_Q"] = np.where(unreadable, np.nan, 0.0)
    df["anomaly_score"] = score
    df["quality"] = np.asarray(QUALITY_LABELS, dtype=object)[beat_quality] if beat_quality.size else np.zeros(0, object)
    set_flags(df, threshold)
    df["af"] = np.asarray(af, bool)
    df["ref_symbol"] = ""
    df["ref_class"] = ""
    return df


def match_reference(df: pd.DataFrame, ref: Annotations | None, fs: float) -> pd.DataFrame:
    """Fill ``ref_symbol`` / ``ref_class`` of ``df`` in place; returns the missed reference beats."""
    missed = pd.DataFrame(
        {
            "sample": pd.Series(dtype="int64"),
            "ref_symbol": pd.Series(dtype=object),
            "ref_class": pd.Series(dtype=object),
        }
    )
    if ref is None:
        return missed
    sample = df["sample"].to_numpy(np.int64)
    m = match_beats(ref.sample, sample, fs)
    ref_sym = np.full(sample.size, "", dtype=object)
    ref_sym[m.test_idx] = ref.symbol[m.ref_idx]
    df["ref_symbol"] = ref_sym
    df["ref_class"] = [SYMBOL_TO_AAMI.get(s, "") for s in ref_sym]
    miss_sym = ref.symbol[m.missed_idx]
    return pd.DataFrame(
        {
            "sample": ref.sample[m.missed_idx].astype(np.int64),
            "ref_symbol": miss_sym,
            "ref_class": [SYMBOL_TO_AAMI.get(s, "") for s in miss_sym],
        }
    )


def anomaly_threshold(bundle: ModelBundle, threshold: float | None) -> float:
    """The anomaly threshold on the 0-100 scale: ``threshold``, else the bundle's calibrated one."""
    if threshold is None:
        return bundle.scorer.threshold
    thr = float(threshold)
    if not 0.0 <= thr <= 100.0:
        raise ValueError(f"anomaly threshold must be on the 0-100 scale, got {threshold}")
    return thr


# ------------------------------------------------------------------------------------ the path


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
        Anomaly-score threshold on the 0-100 scale (default: the bundle's calibrated
        threshold, 99 = the top 1 % of held-out normal beats).
    chunk_s
        Processing chunk length in seconds.

    The steps: lead -> signal quality -> R peaks (on readable signal) -> segmentation and
    both models -> AF episodes -> beat table and flags -> reference matching -> summary. A
    beat is flagged when its predicted class is not N (``flag_reason`` "class"), when its
    anomaly score reaches ``threshold`` ("anomaly"), or both ("class+anomaly").
    """
    t_start = time.perf_counter()
    if not isinstance(record, Record):
        record = load_record(record, data_dir)
    bundle = bundle or default_bundle()
    thr = anomaly_threshold(bundle, threshold)
    where = record.source or record.name
    fs = float(record.fs)
    idx = select_leads(record, lead)
    names = [record.lead_names[j] for j in idx]
    # the analysed leads in order; a view (no copy) when that is the record's own order
    x = record.signal if idx == list(range(record.n_leads)) else record.signal[:, idx]
    lead_off = np.stack([gap_mask(x[:, k], fs) for k in range(len(idx))], axis=1)
    if ((~lead_off).sum(axis=0) < MIN_DURATION_S * fs).all():
        raise RecordError(
            where, f"lead{'s' if len(idx) > 1 else ''} {', '.join(names)}: no usable signal (NaN or flat throughout)"
        )
    quality = drop_readable_islands(assess_quality(x, fs, leads=names))
    unusable = [unusable_mask(lead_off[:, k], quality, k) for k in range(len(idx))]

    chunk = max(int(chunk_s * fs), int(60 * fs))
    margin = int(CHUNK_MARGIN_S * fs)
    ref = record.annotations.beats() if record.annotations is not None else None
    if isinstance(peaks, str):
        if peaks == "detect":
            pk = fuse_peaks([find_peaks(x[:, k], fs, unusable[k], chunk, margin) for k in range(len(idx))], quality, fs)
        elif peaks == "reference":
            if ref is None:
                raise RecordError(where, "peaks='reference' needs reference annotations, and the record has none")
            pk = np.unique(ref.sample)
        else:
            raise ValueError(f"peaks must be 'detect', 'reference' or an array, got {peaks!r}")
    else:
        pk = np.unique(np.asarray(peaks, dtype=np.int64))
        pk = pk[(pk >= 0) & (pk < record.n_samples)]

    reference_mode = isinstance(peaks, str) and peaks == "reference"
    per_lead = [
        run_models(bundle, x[:, k], fs, lead_off[:, k] if reference_mode else unusable[k], pk, chunk, margin, {})
        for k in range(len(idx))
    ]
    out, voters = fuse_leads(per_lead, quality, names)
    dropped = {"unscored": int(pk.size - out.sample.size)}  # at the edges, or unusable on every lead
    beat_quality = quality.at(out.sample).astype(np.int64)
    af = find_af(out, fs, beat_quality, bundle.classes)
    classes = bundle.classes
    df = beat_table(out, fs, voters, classes, beat_quality, af.in_af, thr)
    missed = match_reference(df, ref, fs)
    df = df[beat_columns(classes if "Q" in classes else tuple(classes) + ("Q",))].reset_index(drop=True)
    summ = (
        holter_summary(
            df,
            fs,
            record.duration_s,
            quality=quality,
            gap_mask=lead_off.all(axis=1),
            start_time=record.start_time,
            record=record.name,
            leads=record.lead_names,
            analysed_leads=names,
            bundle_version=bundle.version,
            anomaly_threshold=thr,
            dropped_beats=dropped,
        )
        if summary
        else None
    )
    return ScoredRecord(
        record=record,
        beats=df,
        summary=summ,
        bundle_version=bundle.version,
        lead="+".join(names),
        threshold=thr,
        missed_reference=missed,
        dropped=dropped,
        analysable_s=float(quality.analysable_s()),
        seconds=time.perf_counter() - t_start,
        quality=quality,
        af=af,
        leads=tuple(names),
        model_waves=out.waves,
    )


def reflag(beats: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The same beats flagged at another anomaly threshold (for the dashboard's slider)."""
    out = beats.copy()
    set_flags(out, threshold)
    return out


def set_flags(beats: pd.DataFrame, threshold: float) -> None:
    """Set ``flagged`` / ``flag_reason`` of a beat table in place: a readable beat is flagged
    for its class (not N) and / or for ``anomaly_score >= threshold``; a beat in unreadable
    signal never is."""
    readable = beats["quality"].astype(str).to_numpy() != "unreadable" if "quality" in beats.columns else True
    class_flag = (beats["pred_class"].to_numpy() != "N") & readable
    anomaly_flag = np.nan_to_num(beats["anomaly_score"].to_numpy(float), nan=-1.0) >= threshold
    beats["flagged"] = class_flag | anomaly_flag
    beats["flag_reason"] = flag_reason(class_flag, anomaly_flag)


def reconstruct(bundle: ModelBundle, model_wave: np.ndarray) -> np.ndarray:
    """The autoencoder's reconstruction of one normalised beat (window,) -> (window,)."""
    import torch

    with torch.inference_mode():
        x = torch.from_numpy(np.asarray(model_wave, np.float32)[None, :, None])
        return bundle.autoencoder(x)[0, :, 0].numpy()


__all__ = [
    "ModelOutputs",
    "ScoredRecord",
    "anomaly_threshold",
    "beat_table",
    "default_bundle",
    "drop_readable_islands",
    "find_af",
    "find_peaks",
    "match_reference",
    "reconstruct",
    "reflag",
    "run_models",
    "score_record",
    "select_leads",
    "set_flags",
    "unusable_mask",
]
