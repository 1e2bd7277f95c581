"""Running both networks on one record's beats: the inference half of the models, apart
from training (:mod:`ecg.models.training`), so that the bundle needs nothing from training.

:meth:`ecg.models.bundle.ModelBundle.score_beats` is the one call the scoring path makes; the
runtimes that execute the networks (PyTorch, ONNX Runtime) are in :mod:`ecg.models.backends`.
This module holds what every runtime shares: how a record's beats are cut into overlapping
windows of ``seq_len`` beats for the classifier and how the windows' outputs are put back
together, and the PyTorch forward passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ecg.models.features import ModelInputs
from ecg.models.networks import BeatSequenceClassifier, ClassifierEnsemble, GRUAutoencoder


@dataclass(frozen=True)
class BeatWindows:
    """The classifier's windows over a record's ``n`` beats: ``starts`` (W,) the first beat of
    each window of ``length`` beats, overlapping by half; ``best`` (n,) the window in which each
    beat is most central (the one whose output it takes)."""

    starts: np.ndarray
    length: int
    best: np.ndarray

    @property
    def index(self) -> np.ndarray:
        """Beat indices of every window, int64 (W, length)."""
        return self.starts[:, None] + np.arange(self.length, dtype=np.int64)[None, :]

    def beat_values(self, per_window: np.ndarray) -> np.ndarray:
        """Per-beat rows (n, ...) from per-window outputs (W, length, ...): each beat's row
        from its :attr:`best` window."""
        beats = np.arange(self.best.size)
        return per_window[self.best, beats - self.starts[self.best]]


def beat_windows(n: int, seq_len: int) -> BeatWindows:
    """Windows of ``min(seq_len, n)`` beats overlapping by half covering ``n`` >= 1 beats (the
    last one ends at the last beat)."""
    if n < 1:
        raise ValueError("beat_windows needs at least one beat")
    length = min(seq_len, n)
    hop = max(1, length // 2)
    starts = np.arange(0, n - length + 1, hop, dtype=np.int64)
    if starts[-1] + length < n:
        starts = np.append(starts, n - length)
    centres = starts + (length - 1) / 2
    pos = np.arange(n)
    best = (
        np.abs(pos[:, None] - centres[None, :]).argmin(axis=1)
        if starts.size < 4096
        else np.clip(np.searchsorted(centres, pos), 0, starts.size - 1)
    )
    return BeatWindows(starts, length, best.astype(np.int64))


def ae_errors(model: GRUAutoencoder | torch.nn.Module, waves: np.ndarray, batch: int = 2048) -> np.ndarray:
    """Mean squared reconstruction error per beat (channel 0 = the normalised beat), float32 (n,)."""
    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, waves.shape[0], batch):
            x = torch.from_numpy(np.ascontiguousarray(waves[i : i + batch, :, :1]))
            out.append(((model(x) - x) ** 2).mean(dim=(1, 2)).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def window_probabilities(
    model: BeatSequenceClassifier | ClassifierEnsemble,
    waves: np.ndarray,
    rr: np.ndarray,
    windows: np.ndarray,
    windows_per_batch: int = 64,
) -> np.ndarray:
    """Class probabilities float32 (W, L, n_classes) of each window of beats: ``waves`` (n, time,
    channels) and ``rr`` (n, n_rr) the classifier's inputs for the record's beats, ``windows``
    (W, L) the beat indices of each window. An ensemble gives its members' mean probability."""
    if isinstance(model, ClassifierEnsemble):
        return np.mean(
            [window_probabilities(m, waves, rr, windows, windows_per_batch) for m in model.members], axis=0
        ).astype(np.float32)
    model.eval()
    n = waves.shape[0]
    with torch.inference_mode():
        # Each beat's embedding is computed once; only the sequence GRU runs per window.
        emb = torch.cat([model.wave_embedding(torch.from_numpy(waves[i : i + 4096])) for i in range(0, n, 4096)])
        emb = torch.cat([emb, model.rr_proj(torch.from_numpy(np.ascontiguousarray(rr)))], dim=-1)
        idx = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.int64))
        out = [
            torch.softmax(model.forward_embedded(emb[idx[b : b + windows_per_batch]]), dim=-1).numpy()
            for b in range(0, idx.shape[0], windows_per_batch)
        ]
    return np.concatenate(out).astype(np.float32, copy=False)


def n_classes(model: BeatSequenceClassifier | ClassifierEnsemble) -> int:
    """Outputs of a classifier (or ensemble)."""
    return model.n_classes if isinstance(model, ClassifierEnsemble) else model.head[-1].out_features


def predict_proba(
    model: BeatSequenceClassifier | ClassifierEnsemble,
    inputs: ModelInputs,
    seq_len: int = 64,
    windows_per_batch: int = 64,
    channels: tuple[int, ...] = (1,),
) -> np.ndarray:
    """Class probabilities (n, n_classes) for every beat of one record, from windows of
    ``seq_len`` beats overlapping by half; each beat takes the window where it is most
    central (:func:`beat_windows`). Windows are run in batches. ``channels`` selects the wave
    channels the classifier was trained on. An ensemble returns its members' mean probabilities."""
    waves = np.ascontiguousarray(inputs.waves[:, :, list(channels)])
    n = waves.shape[0]
    if n == 0:
        return np.zeros((0, n_classes(model)), np.float32)
    win = beat_windows(n, seq_len)
    return win.beat_values(window_probabilities(model, waves, inputs.rr, win.index, windows_per_batch))


__all__ = ["BeatWindows", "ae_errors", "beat_windows", "n_classes", "predict_proba", "window_probabilities"]
