"""Fixed-capacity buffers of the streaming scorer: memory that does not grow with the stream.

:class:`SampleRing` holds the last samples of a multi-lead signal with their absolute sample
indices; :class:`RowHistory` the last rows of a per-beat array (waveforms, RR inputs, errors).
Both keep a backing array of twice their capacity and move the kept tail to the front when it
fills, so appending is amortised O(rows appended) and no allocation happens per append.
"""

from __future__ import annotations

import numpy as np


class SampleRing:
    """At least the last ``capacity`` samples (float32, samples x leads) of a stream (at most
    twice that many), with absolute sample indices."""

    def __init__(self, capacity: int, n_leads: int) -> None:
        if capacity <= 0 or n_leads <= 0:
            raise ValueError(f"capacity and n_leads must be positive, got {capacity} and {n_leads}")
        self.capacity = int(capacity)
        self._data = np.zeros((2 * self.capacity, n_leads), np.float32)
        self._len = 0
        self.end = 0  # absolute index of the sample after the last one held

    @property
    def start(self) -> int:
        """Absolute index of the oldest sample held."""
        return self.end - self._len

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def append(self, block: np.ndarray) -> None:
        """Append samples (rows); only the last ``capacity`` are kept."""
        block = np.asarray(block, np.float32)
        m = block.shape[0]
        if m >= self.capacity:
            self._data[: self.capacity] = block[m - self.capacity :]
            self._len = self.capacity
        else:
            if self._len + m > self._data.shape[0]:
                keep = self.capacity - m
                self._data[:keep] = self._data[self._len - keep : self._len]
                self._len = keep
            self._data[self._len : self._len + m] = block
            self._len += m
        self.end += m

    def read(self, s0: int, s1: int) -> np.ndarray:
        """Samples ``[s0, s1)`` (absolute); they must still be held."""
        if s0 < self.start or s1 > self.end or s0 > s1:
            raise ValueError(f"samples [{s0}, {s1}) are not held (held: [{self.start}, {self.end}))")
        return self._data[s0 - self.start : s1 - self.start]


class RowHistory:
    """The last ``capacity`` rows of a per-beat array of fixed row shape and dtype."""

    def __init__(self, capacity: int, row_shape: tuple[int, ...] = (), dtype: type = np.float32) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = int(capacity)
        self._data = np.zeros((2 * self.capacity,) + tuple(row_shape), dtype)
        self._len = 0

    def __len__(self) -> int:
        return min(self._len, self.capacity)

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def append(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, self._data.dtype)
        m = rows.shape[0]
        if m >= self.capacity:
            self._data[: self.capacity] = rows[m - self.capacity :]
            self._len = self.capacity
            return
        if self._len + m > self._data.shape[0]:
            keep = self.capacity - m
            self._data[:keep] = self._data[self._len - keep : self._len]
            self._len = keep
        self._data[self._len : self._len + m] = rows
        self._len += m

    def last(self, k: int | None = None) -> np.ndarray:
        """The last ``k`` rows (all held rows, at most ``capacity``, when None), oldest first (a view)."""
        n = len(self)
        k = n if k is None else min(int(k), n)
        return self._data[self._len - k : self._len]


__all__ = ["RowHistory", "SampleRing"]
