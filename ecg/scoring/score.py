"""The one scoring path: a record in, scored and flagged beats out.

:func:`score_record` filters, detects (or takes) R peaks, segments, runs both models and
flags. The CLI, the dashboard and the evaluation all call it, so the numbers in the
evaluation report are the numbers a clinician sees.

Long recordings are processed in chunks (default 30 minutes, the length of the records the
models were trained on) with a margin of signal on each side, so memory stays bounded and
per-record normalisation means the same thing for a 30-minute and a 24-hour recording. The
signal comes from a :class:`~ecg.io.source.SignalSource` a chunk at a time (three passes:
quality, R peaks, models), so a recording given as a path is never held in memory whole;
the results are those of the whole-signal steps (:func:`find_peaks`, :func:`run_models`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from ecg.errors import RecordError
from ecg.evaluate.matching import match_beats
from ecg.io.records import Annotations, Record
from ecg.io.source import FileSource, ScratchCopy, SignalSource, as_source
from ecg.labels import SYMBOL_TO_AAMI
from ecg.models.backends import check_backend
from ecg.models.bundle import ModelBundle, load_bundle, merge_class
from ecg.processing.af import AFResult, detect_af
from ecg.processing.peaks import detect_r_peaks
from ecg.processing.pipeline import choose_lead, clean_lead
from ecg.processing.quality import (
    QUALITY_LABELS,
    UNREADABLE,
    WINDOW_S,
    SignalQuality,
    assess_quality,
    gap_mask,
    quality_chunks,
    runs,
    window_samples,
)
from ecg.processing.segmentation import RR_FEATURES, rr_features, segment_beats
from ecg.review.families import beat_table_families
from ecg.scoring.schema import beat_columns, flag_reason
from ecg.scoring.summary import nn_column, summarise_scored
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
    ``gap_runs`` holds the ``(start, end)`` sample runs where every analysed lead is off (what
    the summary counts as recording gaps).
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
    gap_runs: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 2), np.int64))

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


def select_leads(record: Record | SignalSource, lead: int | str | None = None) -> list[int]:
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
        out.append(chunk_peaks(x[s0:s1], fs, unusable[s0:s1], s0, c0, c1))
    return np.unique(np.concatenate(out)) if out else np.zeros(0, np.int64)


def chunk_peaks(seg: np.ndarray, fs: float, unusable: np.ndarray, s0: int, c0: int, c1: int) -> np.ndarray:
    """R peaks (record samples) in the core ``[c0, c1)`` of one lead's segment ``seg``, which
    starts at record sample ``s0``; detected on the usable signal only."""
    if seg.size < int(2 * fs):
        return np.zeros(0, np.int64)
    x = np.where(unusable, np.nan, seg)
    if np.isnan(x).all():
        return np.zeros(0, np.int64)
    pk = detect_r_peaks(x, fs) + s0
    pk = pk[(pk >= c0) & (pk < c1)].astype(np.int64)
    return pk[~unusable[pk - s0]]


def run_models(
    bundle: ModelBundle,
    x: np.ndarray,
    fs: float,
    unusable: np.ndarray,
    pk: np.ndarray,
    chunk: int,
    margin: int,
    dropped: dict[str, int],
    backend: str = "torch",
) -> ModelOutputs:
    """Clean, segment and run both models (on runtime ``backend``) chunk by chunk; counts dropped
    beats into ``dropped``."""
    n = x.size
    rr_all = rr_features(pk, fs)
    parts: list[ModelOutputs] = []
    for c0, c1 in _chunks(n, chunk):
        core = np.flatnonzero((pk >= c0) & (pk < c1))
        if core.size == 0:
            continue
        s0, s1 = max(0, c0 - margin), min(n, c1 + margin)
        part = chunk_models(bundle, x[s0:s1], fs, unusable[s0:s1], s0, pk[core], rr_all[core], dropped, backend)
        if part is not None:
            parts.append(part)
    return join_outputs(parts, bundle)


def chunk_models(
    bundle: ModelBundle,
    seg: np.ndarray,
    fs: float,
    unusable: np.ndarray,
    s0: int,
    pk: np.ndarray,
    rr: np.ndarray,
    dropped: dict[str, int],
    backend: str = "torch",
) -> ModelOutputs | None:
    """Clean one lead's segment (starting at record sample ``s0``), cut the beats at ``pk``
    (record samples, with their RR features ``rr``) and run both models on them (one
    normalisation per call; runtime ``backend``); None when no beat survives segmentation."""
    cfg = bundle.config
    cleaned = clean_lead(np.where(unusable, np.nan, seg), fs, cfg)
    b = segment_beats(np.nan_to_num(cleaned, nan=0.0), fs, pk - s0, cfg.window, unusable=unusable, rr=rr)
    for k, v in b.dropped.items():
        dropped[k] = dropped.get(k, 0) + v
    if len(b) == 0:
        return None
    scores = bundle.score_beats(b.waves, b.rr, backend)
    return ModelOutputs(b.sample + s0, b.rr, scores.probs, scores.score, scores.model_waves)


def join_outputs(parts: list[ModelOutputs], bundle: ModelBundle) -> ModelOutputs:
    """The chunks' model outputs of one lead as one, in order (empty arrays for none)."""
    if not parts:
        return ModelOutputs(
            np.zeros(0, np.int64),
            np.zeros((0, len(RR_FEATURES)), np.float32),
            np.zeros((0, len(bundle.classes)), np.float32),
            np.zeros(0),
            np.zeros((0, bundle.config.window.length), np.float32),
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


class LeadReader:
    """The analysed leads of a source read one range at a time, with their lead-off mask
    (:func:`gap_mask`: NaN or flat) exactly as over the whole recording: each range is read
    with enough extra signal on both sides for a flat run to be seen whole.

    :meth:`keep` stores what is read in a :class:`ScratchCopy` (for a file source: later
    passes then read the decoded samples back instead of decoding the file again)."""

    def __init__(self, source: SignalSource, leads: list[int], fs: float) -> None:
        self.source, self.leads, self.fs = source, leads, fs
        self.n = int(source.n_samples)
        self.all_leads = leads == list(range(source.n_leads))
        self.extra = max(2, int(round(0.5 * fs))) + 1  # longer than the shortest flat run gap_mask marks
        self.scratch: ScratchCopy | None = None
        self._kept_to = 0
        self.off_runs: list[np.ndarray] | None = None  # per lead, once the first pass has found them

    def keep(self) -> None:
        self.scratch = ScratchCopy(self.n, len(self.leads))

    def close(self) -> None:
        if self.scratch is not None:
            self.scratch.close()

    def _raw(self, a: int, b: int) -> np.ndarray:
        if self.scratch is None:
            x = self.source.read(a, b)
            return x if self.all_leads else x[:, self.leads]
        if b <= self._kept_to:
            return self.scratch.read(a, b)
        lo = min(a, self._kept_to)  # the first pass reads forwards: store what is new
        x = self.source.read(lo, b)
        x = x if self.all_leads else x[:, self.leads]
        self.scratch.write(self._kept_to, x[self._kept_to - lo :])
        self._kept_to = b
        return x[a - lo :]

    def read(self, s0: int, s1: int) -> tuple[np.ndarray, np.ndarray]:
        """Samples ``[s0, s1)`` of the analysed leads, float32 (s1 - s0, leads), and their
        lead-off mask, bool of the same shape."""
        if self.off_runs is not None:
            return self._raw(s0, s1), np.stack([mask_of_runs(r, s0, s1) for r in self.off_runs], axis=1)
        a, b = max(0, s0 - self.extra), min(self.n, s1 + self.extra)
        x = self._raw(a, b)
        off = np.stack([gap_mask(x[:, k], self.fs) for k in range(x.shape[1])], axis=1)
        return x[s0 - a : s1 - a], off[s0 - a : s1 - a]


def mask_of_runs(r: np.ndarray, s0: int, s1: int) -> np.ndarray:
    """Bool per sample of ``[s0, s1)``: inside one of the runs ``r`` ((k, 2) start / stop
    exclusive, in order, not touching each other, as :func:`runs` gives them)."""
    i0, i1 = np.searchsorted(r[:, 1], s0, side="right"), np.searchsorted(r[:, 0], s1, side="left")
    edges = np.zeros(s1 - s0 + 1, np.int8)
    part = r[i0:i1]
    edges[np.maximum(part[:, 0], s0) - s0] = 1
    edges[np.minimum(part[:, 1], s1) - s0] = -1
    return np.cumsum(edges[:-1], dtype=np.int8) > 0


def readable_samples(quality: SignalQuality, lead: int, s0: int, s1: int) -> np.ndarray:
    """Bool per sample of ``[s0, s1)``: the lead's window there is not labelled unreadable."""
    w = quality.window
    wa, wb = s0 // w, -(-s1 // w)
    ok = np.repeat(quality.labels[wa:wb, lead] != UNREADABLE, w)
    return ok[s0 - wa * w : s1 - wa * w]


def _append_runs(acc: list[np.ndarray], r: np.ndarray) -> None:
    """Add sample runs to a run list kept in order, joining a run that continues the last one."""
    if not r.size:
        return
    if acc and acc[-1].size and acc[-1][-1, 1] == r[0, 0]:
        acc[-1] = acc[-1].copy()
        acc[-1][-1, 1] = r[0, 1]
        r = r[1:]
    if r.size:
        acc.append(r)


def assess_source(
    reader: LeadReader, names: list[str], window_s: float = WINDOW_S
) -> tuple[SignalQuality, np.ndarray, np.ndarray]:
    """First pass over a recording, chunk by chunk (:func:`quality_chunks`): the quality labels
    of the analysed leads, exactly those :func:`assess_quality` gives for the whole signal;
    the usable (not lead-off) samples per lead; and the runs ``(k, 2)`` of samples where every
    analysed lead is off (start, stop exclusive). Each lead's lead-off runs are left in
    ``reader.off_runs`` for the later passes."""
    n, fs = reader.n, reader.fs
    window = window_samples(fs, window_s)
    labels = np.full((max(1, -(-n // window)), len(names)), UNREADABLE, np.int8)
    usable = np.zeros(len(names), np.int64)
    gaps: list[np.ndarray] = []
    per_lead: list[list[np.ndarray]] = [[] for _ in names]
    for w0, w1, m0, m1 in quality_chunks(n, fs, window_s=window_s):
        s0, s1 = m0 * window, min(n, m1 * window)
        x, off = reader.read(s0, s1)
        q = assess_quality(x, fs, leads=names, window_s=window_s, chunk_s=math.inf)
        labels[w0:w1] = q.labels[w0 - m0 : w1 - m0]
        c0, c1 = w0 * window - s0, min(n, w1 * window) - s0
        core = off[c0:c1]
        usable += (~core).sum(axis=0)
        _append_runs(gaps, runs(core.all(axis=1)) + s0 + c0)
        for k in range(len(names)):
            _append_runs(per_lead[k], runs(core[:, k]) + s0 + c0)
    reader.off_runs = [_joined(r) for r in per_lead]
    quality = SignalQuality(fs, n, window, labels, tuple(names), "default")
    return quality, usable, _joined(gaps)


def _joined(r: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(r) if r else np.zeros((0, 2), np.int64)


def detect_peaks_source(reader: LeadReader, quality: SignalQuality, chunk: int, margin: int) -> list[np.ndarray]:
    """Second pass: the R peaks of each analysed lead (as :func:`find_peaks` over the whole
    signal, with ``unusable`` = lead off or in an unreadable window of that lead)."""
    n, fs = reader.n, reader.fs
    out: list[list[np.ndarray]] = [[] for _ in reader.leads]
    for c0 in range(0, n, chunk):
        c1 = min(n, c0 + chunk)
        s0, s1 = max(0, c0 - margin), min(n, c1 + margin)
        x, off = reader.read(s0, s1)
        for k in range(x.shape[1]):
            bad = off[:, k] | ~readable_samples(quality, k, s0, s1)
            out[k].append(chunk_peaks(x[:, k], fs, bad, s0, c0, c1))
    return [np.unique(np.concatenate(o)) if o else np.zeros(0, np.int64) for o in out]


def score_beats_source(
    reader: LeadReader,
    bundle: ModelBundle,
    quality: SignalQuality,
    pk: np.ndarray,
    chunk: int,
    margin: int,
    reference_mode: bool,
    names: list[str],
    backend: str = "torch",
) -> tuple[ModelOutputs, np.ndarray]:
    """Third pass: both models for the beats at ``pk`` on each analysed lead (as
    :func:`run_models` over the whole signal) and the leads fused (:func:`fuse_leads`), a
    chunk at a time: only the chunks that hold beats are read, and only one chunk's per-lead
    outputs are held. Returns the fused outputs and the leads that voted per beat."""
    n, fs = reader.n, reader.fs
    rr_all = rr_features(pk, fs)
    fused = _Filler(pk.size)  # the outputs are at most one per peak: no concatenation at the end
    voters: list[np.ndarray] = []
    for c0, c1 in _chunks(n, chunk):
        core = np.flatnonzero((pk >= c0) & (pk < c1))
        if core.size == 0:
            continue
        s0, s1 = max(0, c0 - margin), min(n, c1 + margin)
        x, off = reader.read(s0, s1)
        per_lead = []
        for k in range(x.shape[1]):
            bad = off[:, k] if reference_mode else off[:, k] | ~readable_samples(quality, k, s0, s1)
            part = chunk_models(bundle, x[:, k], fs, bad, s0, pk[core], rr_all[core], {}, backend)
            per_lead.append(join_outputs([part] if part is not None else [], bundle))
        out, who = fuse_leads(per_lead, quality, names)
        fused.append(out)
        voters.append(who)
    if not voters:
        return fuse_leads([join_outputs([], bundle) for _ in names], quality, names)
    return fused.result(), np.concatenate(voters)


class _Filler:
    """Model outputs of consecutive chunks written into arrays sized for ``capacity`` beats."""

    _FIELDS = ("sample", "rr", "probs", "score", "waves")

    def __init__(self, capacity: int) -> None:
        self.capacity, self.n = capacity, 0
        self.arrays: dict[str, np.ndarray] = {}

    def append(self, out: ModelOutputs) -> None:
        m = out.sample.size
        for f in self._FIELDS:
            a = getattr(out, f)
            if f not in self.arrays:
                self.arrays[f] = np.empty((self.capacity,) + a.shape[1:], a.dtype)
            self.arrays[f][self.n : self.n + m] = a
        self.n += m

    def result(self) -> ModelOutputs:
        return ModelOutputs(*(self.arrays[f][: self.n] for f in self._FIELDS))


def score_record(
    record: Record | SignalSource | str | os.PathLike,
    bundle: ModelBundle | None = None,
    *,
    lead: int | str | None = None,
    peaks: Literal["detect", "reference"] | np.ndarray = "detect",
    threshold: float | None = None,
    data_dir: str | os.PathLike | None = None,
    chunk_s: float = 1800.0,
    summary: bool = True,
    backend: str = "torch",
) -> ScoredRecord:
    """Score one record: every beat gets a class with probabilities, an anomaly score and a flag.

    Parameters
    ----------
    record
        A loaded :class:`~ecg.io.records.Record`; a path / record name, read from disk a
        chunk at a time (:class:`~ecg.io.source.FileSource`), so a multi-day recording is never
        held in memory whole; or any :class:`~ecg.io.source.SignalSource`.
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
    backend
        Runtime of the networks: ``"torch"`` (PyTorch) or ``"onnx"`` (ONNX Runtime, the
        ``edge`` extra; :mod:`ecg.models.backends`). Everything else is the same code.

    The steps: lead -> signal quality -> R peaks (on readable signal) -> segmentation and
    both models -> AF episodes -> beat table and flags -> reference matching -> summary. A
    beat is flagged when its predicted class is not N (``flag_reason`` "class"), when its
    anomaly score reaches ``threshold`` ("anomaly"), or both ("class+anomaly").

    The signal is read in three passes over chunks (quality and lead-off runs; R peaks; the
    models and the fusion of the leads), each holding one chunk (``chunk_s`` plus margins) of
    the analysed leads; what is kept between passes is per window or per beat. A file's
    analysed leads are decoded once, in the first pass, and kept in a temporary file for the
    other two. ``ScoredRecord.record`` of a path is a :class:`Record` whose signal is read
    from disk on demand (:class:`~ecg.io.source.LazySignal`).
    """
    t_start = time.perf_counter()
    check_backend(backend)
    src = as_source(record, data_dir)
    bundle = bundle or default_bundle()
    thr = anomaly_threshold(bundle, threshold)
    where = src.source or src.name
    fs = float(src.fs)
    idx = select_leads(src, lead)
    names = [src.lead_names[j] for j in idx]
    n = int(src.n_samples)
    reader = LeadReader(src, idx, fs)
    if isinstance(src, FileSource):
        reader.keep()
    try:
        quality, usable, gap_runs = assess_source(reader, names)
        if (usable < MIN_DURATION_S * fs).all():
            raise RecordError(
                where,
                f"lead{'s' if len(idx) > 1 else ''} {', '.join(names)}: no usable signal (NaN or flat throughout)",
            )
        quality = drop_readable_islands(quality)

        chunk = max(int(chunk_s * fs), int(60 * fs))
        margin = int(CHUNK_MARGIN_S * fs)
        ref = src.annotations.beats() if src.annotations is not None else None
        if isinstance(peaks, str):
            if peaks == "detect":
                pk = fuse_peaks(detect_peaks_source(reader, quality, chunk, margin), quality, fs)
            elif peaks == "reference":
                if ref is None:
                    raise RecordError(where, "peaks='reference' needs reference annotations, and the record has none")
                pk = np.unique(ref.sample)
            else:
                raise ValueError(f"peaks must be 'detect', 'reference' or an array, got {peaks!r}")
        else:
            pk = np.unique(np.asarray(peaks, dtype=np.int64))
            pk = pk[(pk >= 0) & (pk < n)]

        reference_mode = isinstance(peaks, str) and peaks == "reference"
        out, voters = score_beats_source(reader, bundle, quality, pk, chunk, margin, reference_mode, names, backend)
    finally:
        reader.close()
    dropped = {"unscored": int(pk.size - out.sample.size)}  # at the edges, or unusable on every lead
    beat_quality = quality.at(out.sample).astype(np.int64)
    af = find_af(out, fs, beat_quality, bundle.classes)
    classes = bundle.classes
    df = beat_table(out, fs, voters, classes, beat_quality, af.in_af, thr)
    missed = match_reference(df, ref, fs)
    df["nn"] = nn_column(df, fs, quality=quality, gap_runs=gap_runs)
    df["family"] = beat_table_families(df, out.waves).labels
    df = df[beat_columns(classes if "Q" in classes else tuple(classes) + ("Q",))].reset_index(drop=True)
    scored = ScoredRecord(
        record=src.to_record(),
        beats=df,
        summary=None,
        bundle_version=bundle.version,
        lead="+".join(names),
        threshold=thr,
        missed_reference=missed,
        dropped=dropped,
        analysable_s=float(quality.analysable_s()),
        seconds=0.0,
        quality=quality,
        af=af,
        leads=tuple(names),
        model_waves=out.waves,
        gap_runs=gap_runs,
    )
    if summary:
        scored.summary = summarise_scored(scored)
    scored.seconds = time.perf_counter() - t_start
    return scored


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
    "LeadReader",
    "assess_source",
    "beat_table",
    "chunk_models",
    "chunk_peaks",
    "default_bundle",
    "detect_peaks_source",
    "drop_readable_islands",
    "find_af",
    "find_peaks",
    "join_outputs",
    "mask_of_runs",
    "match_reference",
    "readable_samples",
    "reconstruct",
    "reflag",
    "run_models",
    "score_beats_source",
    "score_record",
    "select_leads",
    "set_flags",
    "unusable_mask",
]
