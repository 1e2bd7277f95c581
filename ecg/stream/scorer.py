"""Scoring a live signal as it arrives: :class:`StreamScorer`.

The scorer takes samples in blocks of any size and returns the beats it can score so far.
It runs the library's own steps (:func:`~ecg.processing.quality.assess_quality`,
:func:`~ecg.scoring.score.chunk_peaks`, :func:`~ecg.scoring.score.fuse_peaks`,
:func:`~ecg.processing.pipeline.clean_lead`, :func:`~ecg.processing.segmentation.segment_beats`,
the bundle's networks, :func:`~ecg.scoring.score.fuse_leads`, :func:`~ecg.scoring.score.beat_table`)
on a sliding window of the last ``window_s`` seconds, one *step* every ``hop_s`` seconds of
stream time. Steps fall on a fixed grid of stream time, whatever the block sizes, so the same
signal gives the same beats fed 1 sample or 10 s at a time.

At each step:

1. every ``quality_every_s`` the quality labels of the window are re-assessed (2 s windows, as
   in batch); a window not yet assessed takes the label of the last assessed one;
2. R peaks are detected per lead on the readable signal of the window and kept once
   ``detect_margin_s`` of signal follows them (the detector's look-ahead: snapping, refractory
   clean-up); the leads are fused per quality window as in batch;
3. a beat is scored once its next beat is known (the models use the next RR interval) and its
   window plus ``clean_margin_s`` is inside the cleaned signal, or ``max_wait_s`` after its peak
   with no next beat (then ``rr_next_s`` = ``rr_prev_s``, the batch rule for a record's last beat).

What :func:`~ecg.scoring.score.score_record` estimates over the whole record (or a 30-minute
chunk) is estimated online here over bounded histories, which is where the two can differ:

- amplitude normalisation, polarity and dominant-beat template: over the last
  ``history_beats`` beats of each lead (batch: every beat of the chunk, past and future);
- the anomaly score's per-record median reconstruction error: the same history;
- the record's mean RR (``rr_record_s``): the running mean of every RR interval so far (batch:
  the whole record's); the local RR statistics are causal in both;
- the classifier's beat-sequence context: the ``seq_len`` beats up to the newest scored beat,
  plus ``right_beats`` later beats (default none; each adds about one RR interval of latency;
  raise ``max_wait_s`` with it); batch uses a window centred on the beat, with up to
  ``seq_len / 2`` beats of right context. The bidirectional sequence network's missing right
  context is the main source of class differences (fusion and ventricular beats);
- signal quality: the SQI context of a window is cut at the stream's edge and the band-power
  reference is the window's (batch: the chunk's); readable islands shorter than 6 s are not
  dropped (that needs the future);
- AF/flutter episodes (``af``): :func:`~ecg.processing.af.detect_af` on the last
  ``rr_history`` scored beats; its call for the newest beats lacks right context (zero-phase
  averagers, centred windows), so a new beat takes the call of the beat ``af_settle_beats``
  before it: onsets and offsets are called about that many beats late, and S beats there
  are not merged into N as in batch.

Catch-up: when one push completes several grid steps (a file replayed in long blocks, a
backlog after a pause), they run together on one window, from the first step's window start to
the last step, at most ``max_catchup_s`` of steps at a time (memory stays bounded whatever the
block). Each beat is scored as the step that would have scored it alone does: the same
readiness rules give its ``emitted_s``, and the online estimates (normalisation, error
median, the classifier's left and right context, the AF call) advance step by step; the
networks see every step's beats in one call. What differs is what the longer window changes:
the R-peak detector and the quality labels run once over it, and the beat's cleaned signal is
not cut at its step's edge, so beats near noise or window edges can differ slightly from those
of real-time blocks (measured on MIT-BIH 100, 119, 105, 200: identical peaks and classes,
anomaly scores within about 1 point; on 213 and 208, 99.6 % and 98 % of beats identical in
position and class). Blocks no longer than ``hop_s`` never trigger it, and neither does the
first window of the stream (start-up, where the online estimates rest on a few beats).

Memory is bounded: every buffer has a fixed capacity (:meth:`StreamScorer.buffer_bytes`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecg.errors import SignalError
from ecg.models.bundle import ModelBundle
from ecg.models.features import ModelInputs, qrs_amplitude, rr_inputs
from ecg.models.inference import beat_windows
from ecg.processing.af import detect_af
from ecg.processing.pipeline import choose_lead, clean_lead
from ecg.processing.quality import GOOD, UNREADABLE, SignalQuality, assess_quality, gap_mask, window_samples
from ecg.processing.segmentation import RR_FEATURES, rr_features, segment_beats
from ecg.scoring.schema import beat_columns
from ecg.scoring.score import (
    FUSION_REFRACTORY_S,
    MAX_FS,
    MIN_FS,
    ModelOutputs,
    anomaly_threshold,
    beat_table,
    chunk_peaks,
    fuse_leads,
    fuse_peaks,
    join_outputs,
)
from ecg.stream.buffers import RowHistory, SampleRing

_RR_PREV, _RR_RECORD, _RR_PREV_RECORD = (RR_FEATURES.index(n) for n in ("rr_prev_s", "rr_record_s", "rr_prev_record"))
#: Beat-table columns scoring needs the whole record for (reference matching, NN intervals for
#: HRV, morphology families); a streamed beat does not carry them.
NOT_STREAMED: tuple[str, ...] = ("ref_symbol", "ref_class", "nn", "family")


@dataclass(frozen=True)
class StreamConfig:
    """How the streaming scorer steps through the signal (times in seconds of stream time)."""

    hop_s: float = 0.5  # one processing step per hop
    window_s: float = 12.0  # signal analysed at each step, >= hop_s + 8 (rounded up to whole 2 s windows)
    quality_every_s: float = 2.0  # quality labels re-assessed this often (a multiple of hop_s)
    warmup_s: float = 5.0  # no R peak is detected before this much signal has arrived
    detect_margin_s: float = 0.35  # a detected R peak is kept once this much signal follows it
    clean_margin_s: float = 0.3  # cleaned signal needed beyond a beat window's end
    max_wait_s: float = 2.0  # a beat whose next beat has not come by then is scored without it
    right_beats: int = 0  # beats after a beat that the classifier sees before it is scored (latency + RR each)
    history_beats: int = 512  # per lead: beats behind the online normalisation and error median
    stats_every: int = 16  # the normalisation is re-estimated after this many new beats
    rr_history: int = 256  # R peaks kept for RR features and scored beats kept for AF
    af: bool = True  # call AF/flutter online (see the module docstring)
    af_settle_beats: int = 32  # a new beat takes the AF call of the beat this many beats before it
    max_catchup_s: float = 30.0  # steps left pending by one push are run together over at most this span

    def __post_init__(self) -> None:
        if not self.hop_s > 0:
            raise ValueError(f"hop_s must be positive, got {self.hop_s}")
        if self.window_s < self.hop_s + 8.0:
            raise ValueError(
                f"window_s must be at least hop_s + 8 s (the R-peak detector's start-up), got {self.window_s}"
            )
        if self.right_beats < 0:
            raise ValueError(f"right_beats must be >= 0, got {self.right_beats}")
        if self.history_beats < 1 or self.stats_every < 1 or self.rr_history < max(12, 2 * self.af_settle_beats):
            raise ValueError("history_beats and stats_every must be >= 1 and rr_history >= 12 and 2 * af_settle_beats")
        peaks_in_catchup = (self.max_catchup_s + self.max_wait_s + 2.0) / FUSION_REFRACTORY_S
        if self.max_catchup_s < 0 or peaks_in_catchup > self.rr_history:
            raise ValueError(
                "max_catchup_s must be >= 0 and the R peaks of a catch-up must fit in rr_history "
                f"((max_catchup_s + max_wait_s + 2) / {FUSION_REFRACTORY_S} <= rr_history), got {self.max_catchup_s}"
            )


@dataclass
class _Scored:
    """The beats one step scored (leads fused), before they become beat-table rows."""

    out: ModelOutputs
    voters: np.ndarray  # the leads that voted per beat
    quality: np.ndarray  # int quality code per beat
    af: np.ndarray  # bool per beat
    emitted: np.ndarray  # int64: stream sample count when scored


class _LeadState:
    """Per-lead histories: raw beats (mV, model rate), reconstruction errors, the classifier's
    recent inputs, and the current normalisation (scale, polarity flip, template)."""

    def __init__(self, cfg: StreamConfig, length: int, n_rr: int, seq_len: int) -> None:
        self.raw = RowHistory(cfg.history_beats, (length,))
        self.errors = RowHistory(cfg.history_beats)
        self.seq_waves = RowHistory(max(1, seq_len - 1), (length, 2))
        self.seq_rr = RowHistory(max(1, seq_len - 1), (n_rr,))
        self.scale, self.flip = 1.0, False
        self.template = np.zeros(length, np.float32)
        self.since_stats = math.inf

    def buffers(self) -> list[RowHistory]:
        return [self.raw, self.errors, self.seq_waves, self.seq_rr]


class StreamScorer:
    """Score a live multi-lead ECG as it arrives (see the module docstring).

    Parameters
    ----------
    bundle
        Model bundle; its preprocessing (filter band, beat window, RR inputs, polarity) is used.
    fs
        Sampling rate of the stream, Hz (100-1000).
    leads
        Names of the stream's columns, in order (e.g. ``("MLII", "V1")``).
    lead
        Analyse this lead only (name or index); default: every lead, the preferred one (MLII/II)
        first, fused per beat as :func:`~ecg.scoring.score.score_record` does.
    threshold
        Anomaly-score threshold on the 0-100 scale (default: the bundle's calibrated one).
    config
        Step sizes, margins and history lengths (:class:`StreamConfig`).
    backend
        Runtime of the networks (``"torch"`` or ``"onnx"``, as :func:`~ecg.scoring.score.score_record`).

    :meth:`push` takes a block of samples in mV and returns the beats scored by it (a
    DataFrame with :func:`stream_columns`); :meth:`flush` ends the stream and scores what is left.
    """

    def __init__(
        self,
        bundle: ModelBundle,
        fs: float,
        leads: Sequence[str],
        *,
        lead: int | str | None = None,
        threshold: float | None = None,
        config: StreamConfig = StreamConfig(),
        backend: str = "torch",
    ) -> None:
        fs = float(fs)
        if not MIN_FS <= fs <= MAX_FS:
            raise SignalError(f"sampling rate {fs:g} Hz is outside the supported {MIN_FS:g}-{MAX_FS:g} Hz")
        leads = tuple(str(n) for n in leads)
        if not leads:
            raise SignalError("a stream needs at least one lead")
        try:
            j = choose_lead(leads, lead)
        except ValueError as exc:
            raise SignalError(str(exc)) from None
        self.bundle, self.fs, self.config, self.backend = bundle, fs, config, backend
        self._runner = bundle.runner(backend)
        self.stream_leads = leads
        self.idx = [j] if lead is not None else [j] + [k for k in range(len(leads)) if k != j]
        self.names = [leads[k] for k in self.idx]
        self.threshold = anomaly_threshold(bundle, threshold)
        self.classes = tuple(bundle.classes)
        self.columns = stream_columns(self.classes)
        self._empty = pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in self.columns})
        self.qwin = window_samples(fs)
        self.hop = max(1, int(round(config.hop_s * fs)))
        self.window = int(math.ceil(config.window_s * fs / self.qwin)) * self.qwin
        self.q_every = max(1, int(round(config.quality_every_s / config.hop_s)))
        self.warmup = int(round(config.warmup_s * fs))
        self.detect_margin = int(round(config.detect_margin_s * fs))
        self.refractory = int(round(FUSION_REFRACTORY_S * fs))
        win = bundle.config.window
        self.post = int(math.ceil(win.post_s * fs)) + int(round(config.clean_margin_s * fs))
        self.max_wait = int(round(config.max_wait_s * fs))
        self.max_catchup = max(1, int(config.max_catchup_s * fs) // self.hop + 1)  # grid steps run together at most
        self._ring = SampleRing(self.window + self.qwin + self.hop * self.max_catchup, len(leads))
        self._next_step = self.hop
        self._steps = 0
        self._labels: dict[int, np.ndarray] = {}  # quality window index -> labels of the analysed leads
        self._last_label = np.full(len(self.idx), GOOD, np.int8)
        self._det_to = 0  # R peaks before this sample are final
        self._peaks = RowHistory(config.rr_history, (), np.int64)
        self._rr_sum, self._rr_n = 0.0, 0
        self._emitted_to = -1  # the last R peak handled (scored or dropped)
        self._af_sample = RowHistory(config.rr_history, (), np.int64)
        self._af_valid = RowHistory(config.rr_history, (), np.bool_)
        self._af_ectopic = RowHistory(config.rr_history, (), np.bool_)
        n_rr = len(bundle.rr_inputs)
        self._leads = [_LeadState(config, win.length, n_rr, bundle.seq_len) for _ in self.idx]
        self._v = self.classes.index("V") if "V" in self.classes else -1
        self._closed = False

    # ------------------------------------------------------------------ public
    @property
    def samples_seen(self) -> int:
        """Samples pushed so far (per lead)."""
        return self._ring.end

    def push(self, block: np.ndarray) -> pd.DataFrame:
        """Add samples (mV; ``(n,)`` for a one-lead stream or ``(n, leads)``; NaN = no signal)
        and return the beats scored meanwhile, oldest first (possibly none)."""
        if self._closed:
            raise SignalError("the stream was flushed: no more samples can be pushed")
        x = self._check(block)
        out: list[_Scored | None] = []
        i = 0
        while i < x.shape[0]:
            end = self._ring.end + x.shape[0] - i
            if end < self._next_step:
                self._ring.append(x[i:])
                break
            # the grid steps this block completes are run together (catch-up), at most max_catchup at
            # once; not during the first window (start-up: online estimates from a few beats)
            k = min(self.max_catchup, 1 + (end - self._next_step) // self.hop) if self._next_step > self.window else 1
            t = self._next_step + (k - 1) * self.hop
            take = t - self._ring.end
            self._ring.append(x[i : i + take])
            i += take
            out.append(self._step(t, final=False, t0=self._next_step))
            self._next_step = t + self.hop
        return self._table(out)

    def flush(self) -> pd.DataFrame:
        """End of the stream: score the beats still waiting (the last one's next RR is its
        previous one, as in batch). No samples can be pushed afterwards."""
        if self._closed:
            return self._table([])
        self._closed = True
        return self._table([self._step(self._ring.end, final=True)] if self._ring.end else [])

    def buffer_bytes(self) -> int:
        """Bytes held by the scorer's buffers (samples, peaks, per-lead beat histories, quality
        labels); bounded, whatever the stream's length."""
        bufs = [self._peaks, self._af_sample, self._af_valid, self._af_ectopic]
        for st in self._leads:
            bufs += st.buffers()
        labels = sum(v.nbytes for v in self._labels.values())
        return self._ring.nbytes + sum(b.nbytes for b in bufs) + labels

    # ------------------------------------------------------------------ steps
    def _check(self, block: np.ndarray) -> np.ndarray:
        x = np.asarray(block)
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise SignalError(f"samples must be numbers, got dtype {x.dtype}")
        n_in = len(self.stream_leads)
        if x.ndim == 1 and n_in == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != n_in:
            raise SignalError(
                f"expected a block of shape (samples, {n_in}) for leads {self.stream_leads}, got {x.shape}"
            )
        return x.astype(np.float32, copy=False)

    def _table(self, parts: list[_Scored | None]) -> pd.DataFrame:
        """One beat table (:func:`~ecg.scoring.score.beat_table`) for the beats of several steps."""
        done = [p for p in parts if p is not None]
        if not done:
            return self._empty.copy(deep=False)
        out = ModelOutputs(
            *(np.concatenate([getattr(p.out, f) for p in done]) for f in ("sample", "rr", "probs", "score", "waves"))
        )
        cat = {f: np.concatenate([getattr(p, f) for p in done]) for f in ("voters", "quality", "af", "emitted")}
        df = beat_table(out, self.fs, cat["voters"], self.classes, cat["quality"], cat["af"], self.threshold)
        df["emitted_s"] = cat["emitted"] / self.fs
        return df[self.columns]

    def _step(self, t: int, final: bool, t0: int | None = None) -> _Scored | None:
        """The grid steps ``t0, t0 + hop, ..., t`` (one step when ``t0`` is None or ``t``) run
        together on one window, from the first one's window start to ``t``: each beat is scored
        as the step that would have scored it alone does (its ``emitted_s``), up to edge effects."""
        t0 = t if t0 is None else t0
        a = max(0, (t0 - self.window) // self.qwin * self.qwin)
        x = self._ring.read(a, t)[:, self.idx]
        if x.shape[0] == 0:
            return None
        steps = 1 + (t - t0) // self.hop
        due = (self._steps + steps) // self.q_every > self._steps // self.q_every  # a multiple of q_every passed
        self._steps += steps
        if final or due:
            self._assess(x, a)
        quality = self._quality(a, t)
        readable = np.repeat(quality.labels != UNREADABLE, self.qwin, axis=0)[: t - a]
        unusable = gap_mask(x, self.fs) | ~readable
        self._detect(x, a, t, unusable, quality, final)
        ready, ahead = self._ready(t, final)
        if ready.size == 0:
            return None
        self._emitted_to = int(ready[-1])
        beats = np.concatenate([ready, ahead])
        avail, when = self._timing(beats, ready.size, t0, t)
        return self._score(x, a, unusable, quality, beats, ready.size, avail, when)

    def _on_grid(self, s: np.ndarray, strict: bool) -> np.ndarray:
        """The first grid step at (``strict``: after) sample times ``s``."""
        h = self.hop
        return (s // h + 1) * h if strict else -(-s // h) * h

    def _timing(self, beats: np.ndarray, n_ready: int, t0: int, t: int) -> tuple[np.ndarray, np.ndarray]:
        """For the R peaks ``beats`` (the ``n_ready`` to score, then their right context) of the
        steps ``t0 ... t``: the step from which each is detected with its window complete
        (``avail``), and the step that would have scored each of the ready ones (``when``,
        non-decreasing), both clipped to ``[t0, t]``; the rules of :meth:`_ready`."""
        if t0 == t:
            return np.full(beats.size, t, np.int64), np.full(n_ready, t, np.int64)
        det = np.maximum(self._on_grid(beats + self.detect_margin, strict=True), self._on_grid(self.warmup, False))
        complete = self._on_grid(beats + self.post, strict=False)
        avail = np.maximum(det, complete)
        pk = self._peaks.last()
        pending = pk[pk > (beats[0] - 1)]  # the ready beats and every later detected peak
        pdet = np.maximum(self._on_grid(pending + self.detect_margin, True), self._on_grid(self.warmup, False))
        pcomp = self._on_grid(pending + self.post, False)
        r = self.config.right_beats
        i = np.arange(n_ready)
        j = i + 1 + r
        has = j < pending.size
        nxt = np.full(n_ready, np.iinfo(np.int64).max // 2, np.int64)
        nxt[has] = np.maximum(pdet[j[has]], pcomp[np.minimum(i + r, pending.size - 1)][has])
        wait = self._on_grid(pending[:n_ready] + self.max_wait, False)
        when = np.maximum(np.maximum(pdet[:n_ready], pcomp[:n_ready]), np.minimum(nxt, wait))
        when = np.clip(np.maximum.accumulate(when), t0, t)
        return np.clip(avail, t0, t), when

    def _assess(self, x: np.ndarray, a: int) -> None:
        """Quality labels of the window's 2 s windows (``x`` from sample ``a``); those without
        their full left SQI context in the window keep the labels an earlier step gave them."""
        if x.shape[0] < self.qwin:
            return
        q = assess_quality(x, self.fs, leads=self.names, chunk_s=math.inf)
        w0 = a // self.qwin
        first = 0 if a == 0 else 3  # SQI context (2 windows) and filter settling
        for i in range(first, q.n_windows):
            self._labels[w0 + i] = q.labels[i].copy()
        self._last_label = q.labels[-1].copy()
        for k in [k for k in self._labels if k < w0 - 1]:
            del self._labels[k]

    def _quality(self, a: int, t: int) -> SignalQuality:
        w0, w1 = a // self.qwin, -(-t // self.qwin)
        labels = np.empty((w1 - w0, len(self.idx)), np.int8)
        last = None
        for i, w in enumerate(range(w0, w1)):
            lab = self._labels.get(w)
            if lab is None:
                lab = last if last is not None else self._last_label
            labels[i] = lab
            last = lab
        return SignalQuality(self.fs, t - a, self.qwin, labels, tuple(self.names), "default")

    def _detect(self, x: np.ndarray, a: int, t: int, unusable: np.ndarray, quality: SignalQuality, final: bool) -> None:
        if t < self.warmup and not final:
            return
        c0, c1 = self._det_to, (t if final else t - self.detect_margin)
        if c1 <= c0:
            return
        per_lead = [chunk_peaks(x[:, k], self.fs, unusable[:, k], 0, c0 - a, c1 - a) for k in range(x.shape[1])]
        new = fuse_peaks(per_lead, quality, self.fs) + a
        self._det_to = c1
        held = self._peaks.last(1)
        last = int(held[0]) if held.size else None
        keep = []
        for p in new.tolist():  # a few peaks per step
            if last is not None and p - last < self.refractory:
                continue
            if last is not None:
                self._rr_sum += (p - last) / self.fs
                self._rr_n += 1
            keep.append(p)
            last = p
        if keep:
            self._peaks.append(np.asarray(keep, np.int64))

    def _ready(self, t: int, final: bool) -> tuple[np.ndarray, np.ndarray]:
        """R peaks to score now, in order: those after the last handled one whose next
        ``1 + right_beats`` peaks are known and whose ``right_beats``-th next beat window is inside
        the cleaned signal (or that waited ``max_wait_s``); and the peaks after them that the
        classifier may see as right context (at most ``right_beats``, windows complete)."""
        pk = self._peaks.last()
        pending = pk[pk > self._emitted_to]
        none = pending[:0]
        if pending.size == 0 or final:
            return pending, none
        r = self.config.right_beats
        complete = pending + self.post <= t
        last_seen = np.minimum(np.arange(pending.size) + r, pending.size - 1)
        has_next = np.arange(pending.size) + 1 + r < pending.size
        ok = ((has_next & complete[last_seen]) | (t - pending >= self.max_wait)) & complete
        stop = int(np.argmin(ok)) if not ok.all() else ok.size
        rest = pending[stop:]
        return pending[:stop], rest[complete[stop:]][:r]

    def _rr(self, ready: np.ndarray) -> np.ndarray:
        hist = self._peaks.last()
        rr = rr_features(hist, self.fs)[np.searchsorted(hist, ready)]
        if self._rr_n:
            mean = self._rr_sum / self._rr_n
            rr[:, _RR_RECORD] = mean
            rr[:, _RR_PREV_RECORD] = rr[:, _RR_PREV] / mean
        return rr

    def _score(
        self,
        x: np.ndarray,
        a: int,
        unusable: np.ndarray,
        quality: SignalQuality,
        beats: np.ndarray,
        n_ready: int,
        avail: np.ndarray,
        when: np.ndarray,
    ) -> _Scored | None:
        """Score the first ``n_ready`` of the R peaks ``beats`` (the rest: right context); the
        beats scored by one step (equal ``when``) update the online estimates together, as a
        step run alone does."""
        bundle, cfg = self.bundle, self.bundle.config
        rr = self._rr(beats)
        cleaned = np.nan_to_num(clean_lead(np.where(unusable, np.nan, x), self.fs, cfg), nan=0.0)
        segs: list[tuple | None] = []
        ae_in = []
        for k, st in enumerate(self._leads):
            b = segment_beats(cleaned[:, k], self.fs, beats - a, cfg.window, unusable=unusable[:, k], rr=rr)
            pos = np.searchsorted(beats - a, b.sample)  # index in ``beats`` of each cut beat
            n = int((pos < n_ready).sum())
            if n == 0:
                segs.append(None)
                continue
            edges = np.concatenate([[0], np.flatnonzero(np.diff(when[pos[:n]])) + 1, [n]])
            parts = [self._inputs(st, b.waves[s:e], b.rr[s:e], e - s) for s, e in zip(edges[:-1], edges[1:])]
            if len(b) > n:  # right context, normalised as the newest scored beats are
                parts.append(self._inputs(st, b.waves[n:], b.rr[n:], 0))
            waves = np.concatenate([p.waves for p in parts])
            rr_in = np.concatenate([p.rr for p in parts])
            segs.append((b, pos, n, edges, waves, rr_in))
            ae_in.append(waves[:n, :, :1])
        if not ae_in:
            return None
        errors = self._runner.reconstruction_errors(np.ascontiguousarray(np.concatenate(ae_in)))
        outs, used = [], 0
        for seg, st in zip(segs, self._leads):
            if seg is None:
                outs.append(join_outputs([], bundle))
                continue
            b, pos, n, edges, waves, rr_in = seg
            err = errors[used : used + n]
            used += n
            raw = np.empty(n, np.float64)
            for s, e in zip(edges[:-1], edges[1:]):
                hist = st.errors.last()
                # the per-record median error is the lead's recent beats'; rows of the history are placeholders
                rr_rows = np.concatenate([np.zeros((hist.size, rr_in.shape[1]), np.float32), rr_in[s:e]])
                raw[s:e] = bundle.scorer.raw(np.concatenate([hist, err[s:e]]), rr_rows)[hist.size :]
                st.errors.append(err[s:e])
            probs = self._classify(st, waves, rr_in, edges, avail[pos], when[pos[:n]])
            st.seq_waves.append(waves[:n])
            st.seq_rr.append(rr_in[:n])
            sample, beat_rr = b.sample[:n], b.rr[:n]
            outs.append(ModelOutputs(sample, beat_rr, probs, bundle.scorer.percentile(raw), waves[:n, :, 0]))
        fused, voters = fuse_leads(outs, quality, self.names)
        beat_quality = quality.at(fused.sample).astype(np.int64)
        fused = dataclasses.replace(fused, sample=fused.sample + a)
        if fused.sample.size == 0:
            return None
        emitted = when[np.clip(np.searchsorted(beats[:n_ready], fused.sample), 0, n_ready - 1)]
        af = self._af(fused, beat_quality, emitted)
        return _Scored(fused, voters, beat_quality, af, emitted.astype(np.int64))

    def _classify(
        self,
        st: _LeadState,
        waves: np.ndarray,
        rr_in: np.ndarray,
        edges: np.ndarray,
        avail: np.ndarray,
        when: np.ndarray,
    ) -> np.ndarray:
        """Class probabilities of the scored beats ``waves[:edges[-1]]`` (the rest: right
        context): each step's beats (``edges``) see the ``seq_len - 1`` beats before them and
        the right context available at their step (``avail`` <= ``when``), as
        :meth:`~ecg.models.bundle.ModelBundle.run_classifier` on that step's sequence does;
        every step's windows go through the network in one call."""
        bundle, r = self.bundle, self.config.right_beats
        held = st.seq_waves.last().shape[0]
        all_w = np.concatenate([st.seq_waves.last(), waves])
        all_rr = np.concatenate([st.seq_rr.last(), rr_in])
        plan = []
        for s, e in zip(edges[:-1].tolist(), edges[1:].tolist()):
            ok = avail[e : e + r] <= when[s]
            m = int(ok.size if ok.all() else np.argmin(ok))
            lo, hi = max(0, held + s - (bundle.seq_len - 1)), held + e + m
            plan.append((beat_windows(hi - lo, bundle.seq_len), lo, e - s, m, hi - lo))
        clf_waves = np.ascontiguousarray(all_w[:, :, list(bundle.clf_channels)])
        all_rr = np.ascontiguousarray(all_rr)
        per_window: dict[int, np.ndarray] = {}  # window length -> outputs of every window that long, in order
        for length in {win.length for win, *_ in plan}:
            index = np.concatenate([win.index + lo for win, lo, *_ in plan if win.length == length])
            per_window[length] = self._runner.window_probabilities(clf_waves, all_rr, index)
        probs, taken = [], dict.fromkeys(per_window, 0)
        for win, _, n, m, length in plan:
            w0 = taken[win.length]
            taken[win.length] = w0 + win.starts.size
            rows = win.beat_values(per_window[win.length][w0 : w0 + win.starts.size])
            probs.append(rows[length - n - m : length - m])
        return np.concatenate(probs)

    def _inputs(self, st: _LeadState, waves: np.ndarray, rr: np.ndarray, n_scored: int) -> ModelInputs:
        """Model inputs as :func:`ecg.models.features.model_inputs` makes them, with the lead's
        normalisation estimated over its recent beats instead of the whole record; the first
        ``n_scored`` beats join the history (the rest are right context, scored later)."""
        pre = self.bundle.config.window.pre
        st.raw.append(waves[:n_scored])
        st.since_stats += n_scored
        if st.since_stats >= self.config.stats_every or len(st.raw) < self.config.stats_every:
            hist = st.raw.last()
            h = hist - np.median(hist, axis=1, keepdims=True)
            st.scale = qrs_amplitude(h, pre)
            med = np.median(h[:, max(0, pre - 8) : pre + 9], axis=0) / st.scale
            st.flip = bool(self.bundle.polarity and -med.min() > med.max())
            hn = (-h if st.flip else h) / st.scale
            st.template = np.median(hn, axis=0).astype(np.float32)
            st.since_stats = 0
        w = (waves - np.median(waves, axis=1, keepdims=True)) / st.scale
        w = (-w if st.flip else w).astype(np.float32)
        stacked = np.stack([w, w - st.template[None, :]], axis=2).astype(np.float32)
        return ModelInputs(stacked, rr_inputs(rr, tuple(self.bundle.rr_inputs)), st.scale)

    def _af(self, fused: ModelOutputs, beat_quality: np.ndarray, emitted: np.ndarray) -> np.ndarray:
        """Per-beat AF state: :func:`~ecg.processing.af.detect_af` on the last scored beats. Its
        call for the newest beats lacks right context (zero-phase averagers, centred windows), so
        a beat takes the call of the beat ``af_settle_beats`` before the newest one of its step
        (``emitted``; an episode lasts at least 30 s: onsets and offsets are called that many
        beats late)."""
        n = fused.sample.size
        valid = beat_quality != UNREADABLE
        ectopic = (fused.probs.argmax(axis=1) == self._v) & valid if self._v >= 0 and n else np.zeros(n, bool)
        self._af_sample.append(fused.sample)
        self._af_valid.append(valid)
        self._af_ectopic.append(ectopic)
        if not self.config.af or n == 0:
            return np.zeros(n, bool)
        in_af = detect_af(
            self._af_sample.last(), self.fs, valid=self._af_valid.last(), ectopic=self._af_ectopic.last()
        ).in_af
        h = in_af.size
        newest = np.searchsorted(emitted, emitted, side="right") - 1 + (h - n)  # the newest beat of each step
        settled = np.maximum(0, newest - self.config.af_settle_beats)
        return in_af[np.clip(np.minimum(np.arange(h - n, h), settled), 0, h - 1)]


def stream_columns(classes: Sequence[str]) -> list[str]:
    """Columns of a streamed beat: the beat table's (:func:`ecg.scoring.schema.beat_columns`)
    without :data:`NOT_STREAMED`, plus ``emitted_s``, the stream time (s) when it was scored."""
    cls = tuple(classes) if "Q" in classes else tuple(classes) + ("Q",)
    return [c for c in beat_columns(cls) if c not in NOT_STREAMED] + ["emitted_s"]


def _dtype(column: str) -> str:
    if column == "sample":
        return "int64"
    if column in ("flagged", "af"):
        return "bool"
    if column in ("lead", "pred_class", "flag_reason", "quality"):
        return "object"
    return "float64"


__all__ = ["NOT_STREAMED", "StreamConfig", "StreamScorer", "stream_columns"]
