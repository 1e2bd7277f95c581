"""What the non-WFDB readers share: file-type sniffing, unit conversion to millivolts, lead
selection and the raw result a reader hands to :func:`ecg.io.records.load_record`.

The readers (:mod:`ecg.io.edf_reader`, :mod:`ecg.io.ishne`) return a :class:`RawRecording`;
``load_record`` wraps it into the public :class:`ecg.io.records.Record`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from ecg.errors import RecordError

#: First 8 bytes of each recognised file type.
EDF_MAGIC = b"0       "
BDF_MAGIC = b"\xffBIOSEMI"
ISHNE_MAGIC = b"ISHNE1.0"
ISHNE_ANN_MAGIC = b"ANN  1.0"

#: File extensions (lower case) of the recognised non-WFDB formats.
EDF_EXTENSIONS = frozenset({".edf", ".bdf"})
ISHNE_EXTENSION = ".ecg"

#: Scale factors from a physical unit (lower case, spaces removed) to millivolts.
TO_MV: dict[str, float] = {
    "mv": 1.0,
    "millivolt": 1.0,
    "millivolts": 1.0,
    "uv": 1e-3,
    "µv": 1e-3,
    "μv": 1e-3,
    "microvolt": 1e-3,
    "microvolts": 1e-3,
    "v": 1e3,
    "volt": 1e3,
    "volts": 1e3,
    "nv": 1e-6,
}


@dataclass(frozen=True)
class RawRecording:
    """What a format reader returns for the requested sample range and leads.

    ``signal`` is float32 (samples, leads), in mV where ``units`` reads ``"mV"``; ``fs`` in Hz;
    ``n_total`` the number of samples per lead in the whole file. ``ann_*`` are the
    annotations of the range (samples relative to its first sample), or ``None``.
    """

    signal: np.ndarray
    fs: float
    lead_names: tuple[str, ...]
    units: tuple[str, ...]
    n_total: int
    start_time: datetime | None = None
    ann_sample: np.ndarray | None = None
    ann_symbol: np.ndarray | None = None
    ann_aux: np.ndarray | None = None
    comments: tuple[str, ...] = field(default_factory=tuple)


def read_magic(path: str | os.PathLike) -> bytes:
    """The first 8 bytes of a file (fewer for a shorter file; ``b""`` if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return f.read(8)
    except OSError:
        return b""


def sniff_format(path: str | os.PathLike) -> str | None:
    """``"edf"``, ``"bdf"``, ``"ishne"`` or ``"ishne-ann"`` from a file's first bytes, else ``None``."""
    magic = read_magic(path)
    if magic == EDF_MAGIC:
        return "edf"
    if magic == BDF_MAGIC:
        return "bdf"
    if magic == ISHNE_MAGIC:
        return "ishne"
    if magic == ISHNE_ANN_MAGIC:
        return "ishne-ann"
    return None


def unit_to_mv(unit: str | None) -> tuple[float, str]:
    """(scale to millivolts, resulting unit) for a physical unit; an unknown unit keeps the
    values (scale 1) and its own name."""
    key = (unit or "").strip().replace(" ", "").replace("Â", "").lower()
    if key in TO_MV:
        return TO_MV[key], "mV"
    return 1.0, (unit or "").strip()


def to_mv(units: Sequence[str | None]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per-lead scale factors (float64) to millivolts and the resulting unit names."""
    pairs = [unit_to_mv(u) for u in units]
    return np.asarray([p[0] for p in pairs], dtype=np.float64), tuple(p[1] for p in pairs)


def channel_indices(
    where: str | os.PathLike, names: Sequence[str], leads: Sequence[int | str] | int | str | None
) -> list[int]:
    """Indices into ``names`` of the requested leads (by name, case-insensitive, or index);
    ``None`` selects all. Unknown names and out-of-range indices are a RecordError on ``where``."""
    names = list(names)
    if leads is None:
        return list(range(len(names)))
    if isinstance(leads, (str, int, np.integer)):
        leads = [leads]
    out = []
    lower = [n.lower() for n in names]
    for lead in leads:
        if isinstance(lead, (int, np.integer)):
            if not 0 <= int(lead) < len(names):
                raise RecordError(where, f"lead index {lead} out of range; the record has leads {names}")
            out.append(int(lead))
        elif str(lead).lower() in lower:
            out.append(lower.index(str(lead).lower()))
        else:
            raise RecordError(where, f"no lead named {lead!r}; the record has leads {names}")
    if not out:
        raise RecordError(where, "no leads selected")
    return out


def unique_names(names: Sequence[str]) -> tuple[str, ...]:
    """Lead names made unique: a repeated name gets ``_2``, ``_3``... so each lead can be selected."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = n.lower()
        seen[k] = seen.get(k, 0) + 1
        out.append(n if seen[k] == 1 else f"{n}_{seen[k]}")
    return tuple(out)


def check_range(where: str | os.PathLike, sampfrom: int, sampto: int | None, n_total: int) -> tuple[int, int]:
    """The validated sample range ``[sampfrom, sampto)`` (``sampto=None`` = end of the file)."""
    sampto = n_total if sampto is None else int(sampto)
    sampfrom = int(sampfrom)
    if not 0 <= sampfrom < sampto <= n_total:
        raise RecordError(where, f"invalid sample range [{sampfrom}, {sampto}) for a record of {n_total} samples")
    return sampfrom, sampto


def recording_path(record: str | os.PathLike, data_dir: Path) -> Path:
    """A file path as given when it exists or has a folder part, else looked up in ``data_dir``."""
    p = Path(record)
    if p.exists() or p.parent != Path("."):
        return p
    return data_dir / p


__all__ = [
    "BDF_MAGIC",
    "EDF_EXTENSIONS",
    "EDF_MAGIC",
    "ISHNE_ANN_MAGIC",
    "ISHNE_EXTENSION",
    "ISHNE_MAGIC",
    "RawRecording",
    "TO_MV",
    "channel_indices",
    "check_range",
    "read_magic",
    "recording_path",
    "sniff_format",
    "to_mv",
    "unique_names",
    "unit_to_mv",
]
