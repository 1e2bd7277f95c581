"""Running both networks on one record's beats: the inference half of the models, apart
from training (:mod:`ecg.models.training`), so that the bundle needs nothing from training.

:meth:`ecg.models.bundle.ModelBundle.score_beats` is the one call the scoring path makes.
"""

from __future__ import annotations

import numpy as np
import torch

from ecg.models.features import ModelInputs
from ecg.models.networks import BeatSequenceClassifier, ClassifierEnsemble, GRUAutoencoder


def ae_errors(model: GRUAutoencoder, waves: np.ndarray, batch: int = 2048) -> np.ndarray:
    """Mean squared reconstruction error per beat (channel 0 = the normalised beat)."""
    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, waves.shape[0], batch):
            x = torch.from_numpy(np.ascontiguousarray(waves[i : i + batch, :, :1]))
            out.append(((model(x) - x) ** 2).mean(dim=(1, 2)).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def predict_proba(
    model: BeatSequenceClassifier | ClassifierEnsemble,
    inputs: ModelInputs,
    seq_len: int = 64,
    windows_per_batch: int = 64,
    channels: tuple[int, ...] = (1,),
) -> np.ndarray:
    """Class probabilities (n, n_classes) for every beat of one record, from windows of
    ``seq_len`` beats overlapping by half; each beat takes the window where it is most
    central. Windows are run in batches. ``channels`` selects the wave channels the
    classifier was trained on. An ensemble returns its members' mean probabilities."""
    if isinstance(model, ClassifierEnsemble):
        probs = [predict_proba(m, inputs, seq_len, windows_per_batch, channels) for m in model.members]
        return np.mean(probs, axis=0).astype(np.float32)
    waves = np.ascontiguousarray(inputs.waves[:, :, list(channels)])
    n = waves.shape[0]
    n_cls = model.head[-1].out_features
    if n == 0:
        return np.zeros((0, n_cls), np.float32)
    L = min(seq_len, n)
    hop = max(1, L // 2)
    starts = list(range(0, n - L + 1, hop))
    if starts[-1] + L < n:
        starts.append(n - L)
    starts_arr = np.asarray(starts)
    # Each beat's best window: the one whose centre is closest.
    centres = starts_arr + (L - 1) / 2
    pos = np.arange(n)
    best = (
        np.abs(pos[:, None] - centres[None, :]).argmin(axis=1)
        if starts_arr.size < 4096
        else np.clip(np.searchsorted(centres, pos), 0, starts_arr.size - 1)
    )
    probs = np.zeros((n, n_cls), np.float32)
    model.eval()
    offs = np.arange(L)
    with torch.inference_mode():
        # Each beat's embedding is computed once; only the sequence GRU runs per window.
        emb = torch.cat([model.wave_embedding(torch.from_numpy(waves[i : i + 4096])) for i in range(0, n, 4096)])
        emb = torch.cat([emb, model.rr_proj(torch.from_numpy(np.ascontiguousarray(inputs.rr)))], dim=-1)
        for b0 in range(0, starts_arr.size, windows_per_batch):
            ws = starts_arr[b0 : b0 + windows_per_batch]
            idx = torch.from_numpy(ws[:, None] + offs[None, :])
            p = torch.softmax(model.forward_embedded(emb[idx]), dim=-1).numpy()
            for k, s in enumerate(ws):
                mine = np.flatnonzero(best[s : s + L] == b0 + k)
                probs[s + mine] = p[k, mine]
    return probs


__all__ = ["ae_errors", "predict_proba"]
