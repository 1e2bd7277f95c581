"""Reader for ISHNE 1.0 Holter ECG files (``.ecg``).

Layout (Badilini F et al., "The ISHNE Holter Standard Output File Format", Ann Noninvasive
Electrocardiol 1998; 3:263-266), little-endian throughout:

=======  ==========================================================================
offset   field
=======  ==========================================================================
0        magic ``ISHNE1.0`` (8 bytes)
8        CRC-16 (CCITT, initial value 0xFFFF) of bytes 10 .. ECG block offset (uint16)
10       fixed header (512 bytes, see :data:`HEADER_DTYPE`), ends at byte 522
522      variable-length block (``var_length`` bytes)
ecg      int16 samples interleaved by lead, ``sample_size_ecg`` samples per lead
=======  ==========================================================================

The signal is memory-mapped and only the requested sample range is read, so a multi-day file
is never loaded whole. A sample of -32768 is taken as missing and comes back as NaN.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

from ecg.errors import RecordError
from ecg.io.formats import ISHNE_ANN_MAGIC, ISHNE_MAGIC, RawRecording, channel_indices, check_range, unique_names

#: Size of magic + CRC + fixed header; the variable block starts here.
FIXED_HEADER_BYTES = 522
MAX_LEADS = 12
MISSING_SAMPLE = -32768
#: Samples per lead converted at a time (bounds the temporaries of a long read).
READ_BLOCK_SAMPLES = 2_000_000

#: The fixed header after the magic and CRC (bytes 10-521).
HEADER_DTYPE = np.dtype(
    [
        ("var_length", "<i4"),
        ("sample_size_ecg", "<i4"),
        ("offset_var_length", "<i4"),
        ("offset_ecg_block", "<i4"),
        ("file_version", "<i2"),
        ("first_name", "S40"),
        ("last_name", "S40"),
        ("id", "S20"),
        ("sex", "<i2"),
        ("race", "<i2"),
        ("birth_date", "<i2", 3),
        ("record_date", "<i2", 3),
        ("file_date", "<i2", 3),
        ("start_time", "<i2", 3),
        ("nleads", "<i2"),
        ("lead_spec", "<i2", 12),
        ("lead_qual", "<i2", 12),
        ("resolution", "<i2", 12),
        ("pacemaker", "<i2"),
        ("recorder", "S40"),
        ("sampling_rate", "<i2"),
        ("proprietary", "S80"),
        ("copyright", "S80"),
        ("reserved", "S88"),
    ]
)
assert HEADER_DTYPE.itemsize == FIXED_HEADER_BYTES - 10

#: Lead specification codes of the standard -> lead names (0 unknown and 1 generic bipolar
#: have no name and become ``lead<k>``).
LEAD_NAMES: dict[int, str] = {
    2: "X",
    3: "Y",
    4: "Z",
    5: "I",
    6: "II",
    7: "III",
    8: "aVR",
    9: "aVL",
    10: "aVF",
    11: "V1",
    12: "V2",
    13: "V3",
    14: "V4",
    15: "V5",
    16: "V6",
    17: "ES",
    18: "AS",
    19: "AI",
}


def ishne_crc(data: bytes) -> int:
    """CRC-16/CCITT (polynomial 0x1021, initial value 0xFFFF) as the ISHNE header uses it."""
    return binascii.crc_hqx(data, 0xFFFF)


def read_ishne_header(path: str | os.PathLike, *, verify_crc: bool = True) -> np.void:
    """The fixed header of an ISHNE 1.0 file, checked; a RecordError names the file and the problem."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(FIXED_HEADER_BYTES)
    except OSError as exc:
        raise RecordError(path, f"cannot read the file: {exc.strerror}") from None
    magic = head[:8]
    if magic == ISHNE_ANN_MAGIC:
        raise RecordError(
            path, "unsupported ISHNE variant: this is an ISHNE annotation file ('ANN  1.0'), not an ECG signal file"
        )
    if magic != ISHNE_MAGIC:
        if magic.startswith(b"ISHNE"):
            raise RecordError(path, f"unsupported ISHNE variant {magic!r}; only ISHNE 1.0 is read")
        raise RecordError(path, f"not an ISHNE file: it starts with {magic!r}, not {ISHNE_MAGIC!r}")
    if len(head) < FIXED_HEADER_BYTES:
        raise RecordError(path, f"truncated: {size} bytes, shorter than the {FIXED_HEADER_BYTES}-byte ISHNE header")
    h = np.frombuffer(head, dtype=HEADER_DTYPE, count=1, offset=10)[0]
    var_length, ecg_offset = int(h["var_length"]), int(h["offset_ecg_block"])
    if var_length < 0 or ecg_offset < FIXED_HEADER_BYTES or ecg_offset > size:
        raise RecordError(
            path,
            f"invalid header: variable block of {var_length} bytes, ECG data at byte {ecg_offset} "
            f"(the file holds {size} bytes; data must start at byte {FIXED_HEADER_BYTES} or later)",
        )
    if verify_crc:
        with open(path, "rb") as f:
            f.seek(10)
            block = f.read(ecg_offset - 10)
        stored = int.from_bytes(head[8:10], "little")
        got = ishne_crc(block)
        if stored != got:
            raise RecordError(
                path,
                f"header CRC mismatch (stored 0x{stored:04X}, computed 0x{got:04X}): "
                "the header is damaged or was not written as ISHNE 1.0",
            )
    nleads = int(h["nleads"])
    if not 1 <= nleads <= MAX_LEADS:
        raise RecordError(path, f"invalid number of leads {nleads} (1 to {MAX_LEADS})")
    res = h["resolution"][:nleads]
    if np.any(res <= 0):
        raise RecordError(
            path, f"invalid resolution {res.tolist()} nV per unit: every lead needs a positive resolution"
        )
    if int(h["sampling_rate"]) <= 0:
        raise RecordError(path, f"invalid sampling frequency {int(h['sampling_rate'])} Hz")
    n = int(h["sample_size_ecg"])
    if n <= 0:
        raise RecordError(path, f"empty record: the header declares {n} samples per lead")
    expected = nleads * n * 2
    if size - ecg_offset < expected:
        raise RecordError(
            path,
            f"truncated: the header declares {n} samples x {nleads} leads ({expected} bytes of "
            f"ECG data from byte {ecg_offset}) but the file holds {size - ecg_offset} bytes of it",
        )
    return h


def lead_names(h: np.void) -> tuple[str, ...]:
    """Lead names from the header's lead specification codes (unknown codes -> ``lead<k>``)."""
    codes = [int(c) for c in h["lead_spec"][: int(h["nleads"])]]
    return unique_names([LEAD_NAMES.get(c, f"lead{k}") for k, c in enumerate(codes)])


def start_datetime(h: np.void) -> datetime | None:
    """Recording start (naive, the recorder's clock) from the record date and start time,
    or ``None`` when they are not a valid date and time."""
    day, month, year = (int(v) for v in h["record_date"])
    hour, minute, second = (int(v) for v in h["start_time"])
    try:
        return datetime(year, month, day, hour, minute, second)
    except (ValueError, OverflowError):
        return None


def read_ishne(
    path: str | os.PathLike,
    *,
    sampfrom: int = 0,
    sampto: int | None = None,
    leads: Sequence[int | str] | None = None,
    verify_crc: bool = True,
) -> RawRecording:
    """Read an ISHNE 1.0 Holter file: samples ``[sampfrom, sampto)`` of the chosen leads
    (by name or index; ``None`` = all) as float32 millivolts (resolution is nV per unit)."""
    path = Path(path)
    h = read_ishne_header(path, verify_crc=verify_crc)
    nleads, n_total = int(h["nleads"]), int(h["sample_size_ecg"])
    names = lead_names(h)
    sampfrom, sampto = check_range(path, sampfrom, sampto, n_total)
    channels = channel_indices(path, names, leads)
    scale = (h["resolution"][:nleads].astype(np.float64) * 1e-6)[channels]  # nV -> mV
    try:
        data = np.memmap(path, dtype="<i2", mode="r", offset=int(h["offset_ecg_block"]), shape=(n_total, nleads))
    except (OSError, ValueError) as exc:
        raise RecordError(path, f"cannot map the ECG data: {exc}") from None
    signal = np.empty((sampto - sampfrom, len(channels)), dtype=np.float32)
    for b0 in range(sampfrom, sampto, READ_BLOCK_SAMPLES):
        b1 = min(sampto, b0 + READ_BLOCK_SAMPLES)
        block = np.asarray(data[b0:b1][:, channels])
        out = block * scale
        out[block == MISSING_SAMPLE] = np.nan
        signal[b0 - sampfrom : b1 - sampfrom] = out
    del data
    comments = [f"ISHNE 1.0 file version {int(h['file_version'])}"]
    recorder = bytes(h["recorder"]).split(b"\x00")[0].decode("latin-1").strip()
    if recorder:
        comments.append(f"recorder: {recorder}")
    if int(h["pacemaker"]) > 0:
        comments.append(f"pacemaker code {int(h['pacemaker'])}")
    start = start_datetime(h)
    if start is None:
        comments.append("no valid start date and time in the header")
    return RawRecording(
        signal=signal,
        fs=float(h["sampling_rate"]),
        lead_names=tuple(names[c] for c in channels),
        units=("mV",) * len(channels),
        n_total=n_total,
        start_time=start,
        comments=tuple(comments),
    )


__all__ = [
    "FIXED_HEADER_BYTES",
    "HEADER_DTYPE",
    "LEAD_NAMES",
    "ishne_crc",
    "lead_names",
    "read_ishne",
    "read_ishne_header",
    "start_datetime",
]
