"""Signal sources: a recording's samples read one range at a time.

Scoring reads a recording in chunks through a :class:`SignalSource`, so a multi-day file is
never held in memory whole. :class:`RecordSource` wraps a loaded :class:`~ecg.io.records.Record`
(a range is a slice of its signal); :class:`FileSource` reads ranges of a WFDB, EDF/BDF or
ISHNE file from disk with :func:`~ecg.io.records.load_record` (block reads for WFDB,
memory-mapped for EDF and ISHNE), after reading the header and the annotations once.
:class:`LazySignal` gives a source the look of a signal array (``signal[a:b]``,
``signal[a:b, j]``, ``.shape``), so :meth:`FileSource.to_record` is a ``Record`` whose samples
stay on disk until a range of them is asked for.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import wfdb

from ecg.errors import RecordError
from ecg.io.edf_reader import open_edf, read_edf, read_edf_annotations
from ecg.io.formats import sniff_format, to_mv
from ecg.io.ishne import read_ishne_header
from ecg.io.records import Annotations, Record, digital_to_mv, load_record, read_wfdb_annotations

__all__ = ["FileSource", "LazySignal", "RecordSource", "ScratchCopy", "SignalSource", "as_source"]


@runtime_checkable
class SignalSource(Protocol):
    """A recording whose samples are read a range at a time.

    ``read(s0, s1)`` returns samples ``[s0, s1)`` of every lead, float32 (s1 - s0, n_leads),
    in mV where ``units`` says so, NaN where the signal is invalid. ``annotations`` holds the
    whole recording's reference annotations (sample indices from its first sample), or None.
    """

    name: str
    fs: float
    lead_names: tuple[str, ...]
    units: tuple[str, ...]
    n_samples: int
    start_time: datetime | None
    annotations: Annotations | None
    source: str
    comments: tuple[str, ...]

    @property
    def n_leads(self) -> int: ...

    def read(self, s0: int, s1: int) -> np.ndarray: ...

    def to_record(self) -> Record: ...


class RecordSource:
    """A loaded :class:`Record` as a :class:`SignalSource`: a range is a view of its signal."""

    def __init__(self, record: Record) -> None:
        self.record = record
        self.name = record.name
        self.fs = float(record.fs)
        self.lead_names = tuple(record.lead_names)
        self.units = tuple(record.units)
        self.n_samples = record.n_samples
        self.start_time = record.start_time
        self.annotations = record.annotations
        self.source = record.source
        self.comments = tuple(record.comments)

    @property
    def n_leads(self) -> int:
        return self.record.n_leads

    def read(self, s0: int, s1: int) -> np.ndarray:
        """Samples ``[s0, s1)`` (a view, not a copy, for an in-memory signal)."""
        return self.record.signal[s0:s1]

    def to_record(self) -> Record:
        return self.record


class FileSource:
    """A recording on disk read a range at a time (:func:`load_record` with ``sampfrom`` /
    ``sampto``): WFDB (block reads), EDF/BDF and ISHNE (memory-mapped).

    The header and the annotations (``annotator``: the WFDB annotation extension, or for
    EDF+ any value; ``None`` reads none) are read once here; the ISHNE header CRC is verified
    here. The WFDB checksums are summed over reads that go forwards from the first sample and
    verified when they reach the last one (scoring's first pass does), a RecordError on mismatch.
    """

    def __init__(
        self, record: str | os.PathLike, data_dir: str | os.PathLike | None = None, *, annotator: str | None = "atr"
    ) -> None:
        head = load_record(record, data_dir, sampfrom=0, sampto=1, annotator=None, verify_checksum=False)
        self.name = head.name
        self.fs = float(head.fs)
        self.lead_names = tuple(head.lead_names)
        self.units = tuple(head.units)
        self.start_time = head.start_time
        self.source = head.source
        self.comments = tuple(head.comments)
        path = Path(head.source)
        self.annotations: Annotations | None = None
        self._wfdb_scale: np.ndarray | None = None  # WFDB: the unit scale to mV, per lead
        if path.suffix == ".hea":  # a WFDB record: its header was checked by load_record
            self._path = path.with_suffix("")
            header = wfdb.rdheader(str(self._path))
            self.n_samples = int(header.sig_len)
            self._header = header
            self._sums = np.zeros(len(self.lead_names), np.int64)
            self._summed_to = 0
            self._wfdb_scale = to_mv(list(header.units or [None] * len(self.lead_names)))[0]
            if annotator:
                self.annotations = read_wfdb_annotations(
                    self._path, annotator, 0, self.n_samples, False, sig_len=self.n_samples
                )
        elif sniff_format(path) == "ishne":
            self._path = path
            self.n_samples = int(read_ishne_header(path, verify_crc=True)["sample_size_ecg"])
        else:  # EDF / BDF
            self._path = path
            self.n_samples = self._edf_length(path, annotator)
        self._n_leads = len(self.lead_names)

    def _edf_length(self, path: Path, annotator: str | None) -> int:
        raw = read_edf(path, sampfrom=0, sampto=1, annotations=False)
        if annotator:
            ann = read_edf_annotations(path, open_edf(path), self.fs, 0, raw.n_total)
            if ann is not None:
                self.annotations = Annotations(ann[0], ann[1], ann[2], sniff_format(path) or "edf")
        return int(raw.n_total)

    @property
    def n_leads(self) -> int:
        return self._n_leads

    def read(self, s0: int, s1: int) -> np.ndarray:
        """Samples ``[s0, s1)`` of every lead from disk, float32 (s1 - s0, n_leads)."""
        s0, s1 = int(s0), int(s1)
        if not 0 <= s0 <= s1 <= self.n_samples:
            raise RecordError(
                self.source, f"invalid sample range [{s0}, {s1}) for a record of {self.n_samples} samples"
            )
        if s1 == s0:
            return np.zeros((0, self.n_leads), np.float32)
        if self._wfdb_scale is None:
            return load_record(self._path, sampfrom=s0, sampto=s1, annotator=None, verify_checksum=False).signal
        # WFDB: one block read with the header already checked, converted as load_record does
        dat = self._path.with_suffix(".dat")
        try:
            rec = wfdb.rdrecord(str(self._path), sampfrom=s0, sampto=s1, physical=False)
        except Exception as exc:
            raise RecordError(dat, f"cannot read signal: {type(exc).__name__}: {exc}") from None
        if rec.d_signal is None or rec.d_signal.shape != (s1 - s0, self.n_leads):
            raise RecordError(dat, "signal file holds fewer samples than the header declares")
        if s0 <= self._summed_to < s1:
            self._add_to_checksum(rec.d_signal[self._summed_to - s0 :], s1)
        out = digital_to_mv(rec.d_signal, rec, Path(self.source))
        if np.any(self._wfdb_scale != 1.0):
            out *= self._wfdb_scale.astype(np.float32)
        return out

    def _add_to_checksum(self, digital: np.ndarray, to: int) -> None:
        """Add samples up to ``to`` to the running checksums; at the end of the record, compare
        them with the header's (as a whole-record :func:`load_record` does)."""
        self._sums += digital.sum(axis=0, dtype=np.int64)
        self._summed_to = to
        header = self._header
        if to < self.n_samples or not header.checksum:
            return
        for j, want in enumerate(header.checksum):
            got = int(self._sums[j]) & 0xFFFF
            if want is not None and got != (int(want) & 0xFFFF):
                raise RecordError(
                    self._path.parent / header.file_name[j],
                    f"checksum mismatch on signal {self.lead_names[j]!r} (header {int(want) & 0xFFFF}, "
                    f"data {got}): the data do not match the header",
                )

    def to_record(self) -> Record:
        """A :class:`Record` whose ``signal`` is a :class:`LazySignal` over this file."""
        return Record(
            name=self.name,
            signal=LazySignal(self),  # type: ignore[arg-type]  # an array-like read on demand
            fs=self.fs,
            lead_names=self.lead_names,
            units=self.units,
            annotations=self.annotations,
            source=self.source,
            comments=self.comments,
            start_time=self.start_time,
        )


class LazySignal:
    """A read-only (samples, leads) float32 array-like over a :class:`SignalSource`: indexing
    reads only the rows asked for (``x[a:b]``, ``x[a:b, j]``, ``x[i]``, ``x[rows, cols]``);
    ``np.asarray(x)`` reads everything."""

    dtype = np.dtype(np.float32)
    ndim = 2

    def __init__(self, source: SignalSource) -> None:
        self.source = source

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.source.n_samples), int(self.source.n_leads))

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        rows, cols = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        n = self.shape[0]
        if isinstance(rows, slice):
            r = range(*rows.indices(n))
            if len(r) == 0:
                block = self.source.read(0, 0)
            elif r.step == 1:
                block = self.source.read(r[0], r[-1] + 1)
            else:
                lo, hi = min(r[0], r[-1]), max(r[0], r[-1]) + 1
                block = self.source.read(lo, hi)[np.asarray(r, np.int64) - lo]
        elif isinstance(rows, (int, np.integer)):
            i = int(rows) + n if rows < 0 else int(rows)
            if not 0 <= i < n:
                raise IndexError(f"row {rows} out of range for {n} samples")
            block = self.source.read(i, i + 1)[0]
        else:
            idx = np.asarray(rows)
            if idx.dtype == bool:
                idx = np.flatnonzero(idx)
            idx = np.where(idx < 0, idx + n, idx).astype(np.int64)
            if idx.size == 0:
                block = self.source.read(0, 0)
            else:
                lo, hi = int(idx.min()), int(idx.max()) + 1
                block = self.source.read(lo, hi)[idx - lo]
        if not cols:
            return block
        return block[(slice(None),) + cols] if block.ndim == 2 else block[cols]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.source.read(0, self.shape[0])
        return out if dtype is None else out.astype(dtype)


def as_source(
    record: Record | SignalSource | str | os.PathLike, data_dir: str | os.PathLike | None = None
) -> RecordSource | SignalSource:
    """A :class:`SignalSource` for a loaded record (:class:`RecordSource`; the source behind
    it for a record from :meth:`FileSource.to_record`), a path or record name
    (:class:`FileSource`, read from disk a range at a time), or a source (as is)."""
    if isinstance(record, Record):
        signal = record.signal
        return signal.source if isinstance(signal, LazySignal) else RecordSource(record)
    if isinstance(record, (str, os.PathLike)):
        return FileSource(record, data_dir)
    return record


class ScratchCopy:
    """Float32 samples (n, n_leads) kept in an anonymous temporary file, written once range by
    range and then read back a range at a time (plain reads: nothing stays mapped, so the pages
    are the system's file cache, not this process's memory). Scoring keeps the analysed leads
    of a file here after its first pass so that later passes do not decode the file again."""

    def __init__(self, n_samples: int, n_leads: int) -> None:
        self.n_samples, self.n_leads = int(n_samples), int(n_leads)
        self._file = tempfile.TemporaryFile(prefix="ecg-scratch-")
        self._row = self.n_leads * np.dtype(np.float32).itemsize

    def write(self, s0: int, block: np.ndarray) -> None:
        """Store ``block`` (rows, n_leads) as samples ``[s0, s0 + rows)``."""
        self._file.seek(int(s0) * self._row)
        np.ascontiguousarray(block, dtype=np.float32).tofile(self._file)

    def read(self, s0: int, s1: int) -> np.ndarray:
        """Samples ``[s0, s1)`` written earlier, float32 (s1 - s0, n_leads)."""
        self._file.seek(int(s0) * self._row)
        out = np.fromfile(self._file, dtype=np.float32, count=(int(s1) - int(s0)) * self.n_leads)
        return out.reshape(-1, self.n_leads)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ScratchCopy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
