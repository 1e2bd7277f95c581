"""Feeding a :class:`~ecg.stream.StreamScorer`: a recording replayed block by block (optionally
paced at its true rate), raw int16 samples from a byte stream, and streamed beats as JSON-ready
rows. I/O lives here, apart from the scorer, which takes arrays only."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

import numpy as np
import pandas as pd

from ecg.errors import SignalError
from ecg.io.source import SignalSource
from ecg.stream.scorer import StreamScorer


def source_blocks(
    source: SignalSource,
    block_s: float,
    *,
    realtime: bool = False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[np.ndarray]:
    """Blocks of ``block_s`` seconds (float32, samples x leads, mV) of a recording, read from
    the source a block at a time. With ``realtime``, block ``k`` is not handed out before
    ``k * block_s`` seconds have passed since the first one: the recording arrives at its true rate."""
    if not block_s > 0:
        raise ValueError(f"block_s must be positive, got {block_s}")
    block = max(1, int(round(block_s * source.fs)))
    t0 = clock()
    for s0 in range(0, int(source.n_samples), block):
        s1 = min(int(source.n_samples), s0 + block)
        if realtime:
            wait = t0 + s0 / source.fs - clock()
            if wait > 0:
                sleep(wait)
        yield source.read(s0, s1)


def int16_blocks(
    stream: BinaryIO,
    n_leads: int,
    gain: float,
    *,
    baseline: float = 0.0,
    block_samples: int = 256,
    where: str = "stdin",
) -> Iterator[np.ndarray]:
    """Raw little-endian int16 samples, leads interleaved (``l0 l1 l0 l1 ...``), from a byte
    stream, as float32 blocks (samples x leads) in mV: ``(adc - baseline) / gain`` with ``gain``
    in ADC units per mV. A block is handed out as soon as ``block_samples`` frames (or whatever
    a read returns, at least one frame) have arrived; a trailing partial frame is an error."""
    if n_leads < 1:
        raise SignalError(f"{where}: need at least one lead, got {n_leads}")
    if not (math.isfinite(gain) and gain > 0):
        raise SignalError(f"{where}: gain must be a positive number of ADC units per mV, got {gain}")
    frame = 2 * n_leads
    pending = b""
    read = getattr(stream, "read1", stream.read)
    while True:
        chunk = read(block_samples * frame)
        if not chunk:
            break
        pending += chunk
        whole = len(pending) // frame * frame
        if whole:
            adc = np.frombuffer(pending[:whole], dtype="<i2").reshape(-1, n_leads)
            pending = pending[whole:]
            yield ((adc.astype(np.float32) - np.float32(baseline)) / np.float32(gain)).astype(np.float32)
    if pending:
        raise SignalError(
            f"{where}: the stream ended inside a sample frame ({len(pending)} stray bytes; a frame is "
            f"{n_leads} int16 values = {frame} bytes)"
        )


def stream_beats(scorer: StreamScorer, blocks: Iterator[np.ndarray]) -> Iterator[pd.DataFrame]:
    """Push each block into ``scorer`` and yield the beats it scored (non-empty tables only);
    the stream is flushed at the end."""
    for block in blocks:
        beats = scorer.push(block)
        if len(beats):
            yield beats
    last = scorer.flush()
    if len(last):
        yield last


def beat_rows(beats: pd.DataFrame) -> list[dict]:
    """Streamed beats as JSON-ready dicts (column -> value; NaN -> None; numpy -> Python)."""
    out = []
    cols = list(beats.columns)
    for values in beats.itertuples(index=False, name=None):  # one row per beat, a few per second
        row = {}
        for c, v in zip(cols, values):
            if isinstance(v, (np.bool_, bool)):
                row[c] = bool(v)
            elif isinstance(v, (np.integer, int)):
                row[c] = int(v)
            elif isinstance(v, (np.floating, float)):
                row[c] = None if not math.isfinite(float(v)) else float(v)
            else:
                row[c] = v
        out.append(row)
    return out


__all__ = ["beat_rows", "int16_blocks", "source_blocks", "stream_beats"]
