"""The two recurrent networks (PyTorch).

* :class:`GRUAutoencoder`: encoder GRU -> latent vector -> decoder GRU that rebuilds the beat.
  Trained on normal beats only; its reconstruction error flags unusual morphology.
* :class:`BeatSequenceClassifier`: a GRU reads each beat's waveform, its summary is joined
  with the beat's RR features, and a bidirectional GRU over a run of consecutive beats gives
  rhythm context before a linear layer names the class of every beat in the run.

Both take ``cell="gru"`` (default) or ``"lstm"``, so the GRU-vs-LSTM comparison uses the very
same architecture.

Both read a beat in *frames* of ``frame`` consecutive samples (default 5, i.e. 50 ms at the
model's 100 Hz): a 70-sample beat is a sequence of 14 steps of 5 values. The recurrent cell
does the same job in a fifth of the sequential steps, which is what costs time on a CPU.
"""

from __future__ import annotations

import torch
from torch import nn

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


def _rnn(cell: str, input_size: int, hidden: int, bidirectional: bool = False) -> nn.Module:
    if cell not in CELLS:
        raise ValueError(f"unknown recurrent cell {cell!r}; use one of {sorted(CELLS)}")
    return CELLS[cell](input_size, hidden, batch_first=True, bidirectional=bidirectional)


def positional_features(seq_len: int, n_features: int = 8) -> torch.Tensor:
    """Fixed sinusoidal position features (seq_len, n_features) telling the decoder where in
    the beat window each step lies."""
    pos = torch.arange(seq_len, dtype=torch.float32)[:, None] / max(seq_len - 1, 1)
    freqs = torch.arange(1, n_features // 2 + 1, dtype=torch.float32)[None, :] * torch.pi
    return torch.cat([torch.sin(pos * freqs), torch.cos(pos * freqs)], dim=1)


class GRUAutoencoder(nn.Module):
    """Sequence autoencoder for one beat: (batch, time, channels) -> same shape.

    A bidirectional encoder GRU summarises the beat into a ``latent`` vector; the decoder
    GRU reads that vector at every step, together with fixed position features, and a linear
    layer maps its state back to the signal.
    """

    def __init__(
        self,
        n_channels: int = 1,
        hidden: int = 48,
        latent: int = 12,
        seq_len: int = 70,
        cell: str = "gru",
        n_pos: int = 8,
        frame: int = 1,
    ) -> None:
        super().__init__()
        if seq_len % frame:
            raise ValueError(f"seq_len {seq_len} is not a multiple of frame {frame}")
        self.seq_len = seq_len
        self.cell = cell
        self.frame = frame
        self.n_channels = n_channels
        self.encoder = _rnn(cell, n_channels * frame, hidden, bidirectional=True)
        self.to_latent = nn.Linear(2 * hidden, latent)
        self.decoder = _rnn(cell, latent + n_pos, hidden)
        self.out = nn.Linear(hidden, n_channels * frame)
        self.register_buffer("pos", positional_features(seq_len // frame, n_pos), persistent=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        _, h = self.encoder(x.reshape(b, self.seq_len // self.frame, self.frame * x.shape[2]))
        if isinstance(h, tuple):  # LSTM: (h, c)
            h = h[0]
        return torch.tanh(self.to_latent(torch.cat([h[-2], h[-1]], dim=-1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.seq_len:
            raise ValueError(f"expected beats of {self.seq_len} samples, got {x.shape[1]}")
        z = self.encode(x)
        steps = torch.cat(
            [z.unsqueeze(1).expand(-1, self.pos.shape[0], -1), self.pos.unsqueeze(0).expand(x.shape[0], -1, -1)], dim=-1
        )
        y, _ = self.decoder(steps)
        return self.out(y).reshape(x.shape[0], self.seq_len, self.n_channels)


class BeatSequenceClassifier(nn.Module):
    """Per-beat class logits for runs of consecutive beats.

    Input: ``waves`` (batch, beats, time, channels) and ``rr`` (batch, beats, n_rr).
    Output: logits (batch, beats, n_classes).

    ``attention=True`` adds one self-attention layer (2 heads, residual, layer norm) over the
    beat-sequence RNN's states, so each beat can look at any other beat of the run.
    """

    def __init__(
        self,
        n_channels: int = 2,
        n_rr: int = 7,
        n_classes: int = 4,
        beat_hidden: int = 32,
        seq_hidden: int = 32,
        cell: str = "gru",
        dropout: float = 0.2,
        frame: int = 1,
        attention: bool = False,
    ) -> None:
        super().__init__()
        self.frame = frame
        self.attention = (
            nn.MultiheadAttention(2 * seq_hidden, 2, dropout=dropout, batch_first=True) if attention else None
        )
        self.attention_norm = nn.LayerNorm(2 * seq_hidden) if attention else None
        self.beat_rnn = _rnn(cell, n_channels * frame, beat_hidden)
        self.rr_proj = nn.Sequential(nn.Linear(n_rr, 16), nn.ReLU())
        self.seq_rnn = _rnn(cell, beat_hidden + 16, seq_hidden, bidirectional=True)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Sequential(nn.Linear(2 * seq_hidden + beat_hidden + 16, 32), nn.ReLU(), nn.Linear(32, n_classes))

    def wave_embedding(self, waves: torch.Tensor) -> torch.Tensor:
        """(beats, time, channels) -> (beats, beat_hidden): the beat GRU's last state."""
        n, t, c = waves.shape
        if t % self.frame:
            raise ValueError(f"beat length {t} is not a multiple of frame {self.frame}")
        _, h = self.beat_rnn(waves.reshape(n, t // self.frame, self.frame * c))
        if isinstance(h, tuple):
            h = h[0]
        return h[-1]

    def beat_embedding(self, waves: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        b, n, t, c = waves.shape
        wave_emb = self.wave_embedding(waves.reshape(b * n, t, c)).reshape(b, n, -1)
        return torch.cat([wave_emb, self.rr_proj(rr)], dim=-1)

    def forward_embedded(self, e: torch.Tensor) -> torch.Tensor:
        """Logits from precomputed beat embeddings (batch, beats, beat_hidden + 16)."""
        ctx, _ = self.seq_rnn(self.drop(e))
        if self.attention is not None:
            att, _ = self.attention(ctx, ctx, ctx, need_weights=False)
            ctx = self.attention_norm(ctx + att)
        return self.head(self.drop(torch.cat([ctx, e], dim=-1)))

    def forward(self, waves: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        return self.forward_embedded(self.beat_embedding(waves, rr))


class ClassifierEnsemble(nn.Module):
    """Several :class:`BeatSequenceClassifier` members trained with different seeds; the
    ensemble's probabilities are the mean of the members' softmax outputs (see
    :func:`ecg.models.training.predict_proba`). Averaging reduces the seed-to-seed swing that
    inter-patient S-beat results are prone to."""

    def __init__(self, members: list[BeatSequenceClassifier]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    @property
    def n_classes(self) -> int:
        return self.members[0].head[-1].out_features

    def forward(self, waves: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        """Log of the mean member probability (batch, beats, n_classes)."""
        p = torch.stack([torch.softmax(m(waves, rr), dim=-1) for m in self.members]).mean(0)
        return torch.log(p.clamp_min(1e-12))


def n_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
