"""Reader for EDF, EDF+ and BDF(+) files (``.edf``, ``.bdf``) with :mod:`edfio`.

Only the ECG signals are read, picked by label (``ECG``, ``EKG II``, ``Lead II``, ``V1``,
``MLII``...); common labels become lead names (``"ECG II"`` -> ``"II"``), other ECG labels are
kept as they are. EEG, SpO2, respiration, accelerometer, heart-rate and annotation signals are
ignored. When the ECG signals have different sampling rates, those at the most common rate
(the highest of equally common rates) are kept and the others are listed in the comments.

EDF files are memory-mapped and only the requested sample range is read; edfio reads BDF files
whole (24-bit samples cannot be mapped), so a multi-day BDF needs memory for all its samples.

EDF+ annotations become MIT-BIH annotations at sample ``round(onset * fs)``: beat labels
(MIT-BIH symbols, common words such as ``"PVC"``, or this package's own export texts such as
``"V flag:class"``, whose flag goes to the aux note) become beat symbols, rhythm labels become
``+`` annotations with an MIT-BIH rhythm note (``"(AFIB"``), other texts ``"`` comment
annotations holding the text. Annotation durations are not used.
"""

from __future__ import annotations

import os
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import edfio
import numpy as np

from ecg.errors import RecordError
from ecg.io.formats import (
    BDF_MAGIC,
    EDF_MAGIC,
    RawRecording,
    channel_indices,
    check_range,
    read_magic,
    to_mv,
    unique_names,
)

#: Samples converted to float at a time (bounds the temporaries of a long read).
READ_BLOCK_SAMPLES = 2_000_000

_CANONICAL_LEADS = {
    n.lower(): n
    for n in ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6", "MLI", "MLII", "MLIII")
}
_LEAD_PREFIX = re.compile(r"^(?:(?:ecg|ekg)[\s_:.\-]*)?(?:lead[\s_:.\-]*)?(?P<rest>.*)$")
_HAS_ECG = re.compile(r"(?:^|[^a-z])(?:ecg|ekg)", re.IGNORECASE)
_NOT_ECG = re.compile(
    r"\b(?:rate|hr|bpm|pulse|spo2|sao2|sat|resp\w*|imp\w*|acc\w*|pos\w*|temp\w*|event|marker|status|"
    r"pleth|eeg|eog|emg|annotations?)\b",
    re.IGNORECASE,
)
#: Physical dimensions that cannot be an ECG voltage.
_NOT_VOLTAGE = frozenset(
    {
        "bpm",
        "1/min",
        "/min",
        "beats/min",
        "%",
        "ms",
        "s",
        "sec",
        "g",
        "mg",
        "m/s2",
        "m/s^2",
        "degc",
        "°c",
        "c",
        "mmhg",
        "l/min",
        "ml",
        "ohm",
        "kohm",
    }
)

#: MIT-BIH beat symbols accepted verbatim (case-sensitive).
BEAT_SYMBOLS = frozenset("N L R A a J S V F e j E / f Q".split())
#: Beat words (lower case) -> MIT-BIH symbol.
BEAT_WORDS: dict[str, str] = {
    **dict.fromkeys(("normal", "normal beat", "sinus beat", "nb"), "N"),
    **dict.fromkeys(
        (
            "pvc",
            "vpc",
            "ves",
            "veb",
            "vpb",
            "premature ventricular contraction",
            "ventricular premature beat",
            "ventricular premature contraction",
            "ventricular ectopic beat",
            "ventricular extrasystole",
        ),
        "V",
    ),
    **dict.fromkeys(
        ("apc", "pac", "apb", "atrial premature beat", "atrial premature contraction", "atrial premature complex"), "A"
    ),
    **dict.fromkeys(
        (
            "svpb",
            "sves",
            "sveb",
            "svpc",
            "supraventricular premature beat",
            "supraventricular extrasystole",
            "supraventricular ectopic beat",
        ),
        "S",
    ),
    **dict.fromkeys(("lbbb beat", "left bundle branch block beat"), "L"),
    **dict.fromkeys(("rbbb beat", "right bundle branch block beat"), "R"),
    **dict.fromkeys(("aberrated apc", "aberrant beat", "aberrated atrial premature beat"), "a"),
    **dict.fromkeys(("nodal premature beat", "junctional premature beat"), "J"),
    **dict.fromkeys(("nodal escape beat", "junctional escape beat"), "j"),
    "atrial escape beat": "e",
    "ventricular escape beat": "E",
    **dict.fromkeys(("fusion beat", "fusion of ventricular and normal beat"), "F"),
    **dict.fromkeys(("paced beat", "pacemaker beat"), "/"),
    **dict.fromkeys(("fusion of paced and normal beat", "pacemaker fusion beat"), "f"),
    **dict.fromkeys(("unclassifiable beat", "unknown beat"), "Q"),
}
#: Rhythm words (lower case) -> MIT-BIH rhythm note.
RHYTHM_WORDS: dict[str, str] = {
    **dict.fromkeys(("af", "afib", "a-fib", "atrial fibrillation"), "(AFIB"),
    **dict.fromkeys(("afl", "aflutter", "atrial flutter"), "(AFL"),
    **dict.fromkeys(("nsr", "sr", "sinus rhythm", "normal sinus rhythm"), "(N"),
    **dict.fromkeys(("vt", "ventricular tachycardia"), "(VT"),
    **dict.fromkeys(("svt", "svta", "supraventricular tachycardia", "supraventricular tachyarrhythmia"), "(SVTA"),
    **dict.fromkeys(("vf", "vfl", "ventricular fibrillation", "ventricular flutter"), "(VFL"),
    **dict.fromkeys(("sbr", "sinus bradycardia"), "(SBR"),
    "bigeminy": "(B",
    "ventricular bigeminy": "(B",
    "trigeminy": "(T",
    "ventricular trigeminy": "(T",
    "ivr": "(IVR",
    "idioventricular rhythm": "(IVR",
    "nodal rhythm": "(NOD",
    "junctional rhythm": "(NOD",
    "paced rhythm": "(P",
    "atrial bigeminy": "(AB",
    "2nd degree heart block": "(BII",
    "second degree heart block": "(BII",
}


def ecg_lead_name(label: str, transducer: str = "", dimension: str = "") -> str | None:
    """The lead name of an ECG signal from its EDF label (``"ECG II"`` -> ``"II"``, ``"ECG1"``
    kept as it is), or ``None`` when the signal is not an ECG."""
    text = label.strip()
    low = text.lower()
    if _NOT_ECG.search(low) or dimension.strip().lower() in _NOT_VOLTAGE:
        return None
    m = _LEAD_PREFIX.match(low)
    rest = m["rest"].strip() if m else ""
    if rest in _CANONICAL_LEADS:
        return _CANONICAL_LEADS[rest]
    if _HAS_ECG.search(low) or (text and _HAS_ECG.search(transducer)):
        return text
    return None


def annotation_code(text: str) -> tuple[str, str] | None:
    """(MIT-BIH symbol, aux note) for an EDF+ annotation text: a beat symbol with an empty
    note, ``("+", "(AFIB")`` for a rhythm, ``('"', text)`` for any other text; ``None`` if empty."""
    t = text.strip()
    if not t:
        return None
    if t in BEAT_SYMBOLS:
        return t, ""
    first, _, rest = t.partition(" ")
    if first in BEAT_SYMBOLS and rest.strip().startswith("flag"):  # this package's EDF+ export: "V flag:class"
        return first, rest.strip()
    low = " ".join(t.lower().split())
    if low in BEAT_WORDS:
        return BEAT_WORDS[low], ""
    if t.startswith("("):
        return "+", t
    if low in RHYTHM_WORDS:
        return "+", RHYTHM_WORDS[low]
    return '"', t


def _check_layout(path: Path, bytes_per_sample: int) -> None:
    """Check the header's data-record count against the file size (truncated or padded files)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            fixed = f.read(256)
            ns = int(fixed[252:256].decode("latin-1"))
            header_bytes = int(fixed[184:192].decode("latin-1"))
            n_records = int(fixed[236:244].decode("latin-1"))
            duration = float(fixed[244:252].decode("latin-1"))
            sig_headers = f.read(256 * ns) if ns > 0 else b""
        spr = [int(sig_headers[216 * ns + 8 * i : 216 * ns + 8 * i + 8].decode("latin-1")) for i in range(ns)]
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise RecordError(path, f"malformed EDF header: {exc}") from None
    if ns <= 0:
        raise RecordError(path, "the file holds no signals")
    if len(fixed) < 256 or len(sig_headers) < 256 * ns or header_bytes != 256 * (ns + 1):
        raise RecordError(
            path,
            f"malformed EDF header: {ns} signals need a {256 * (ns + 1)}-byte header, "
            f"the header field says {header_bytes} and the file holds {size} bytes",
        )
    if not duration > 0 and any(spr):
        raise RecordError(path, f"invalid data record duration {duration} s")
    record_bytes = sum(spr) * bytes_per_sample
    data = size - header_bytes
    if record_bytes == 0 or n_records == -1:
        return
    if n_records <= 0:
        raise RecordError(path, f"empty record: the header declares {n_records} data records")
    if data < n_records * record_bytes:
        raise RecordError(
            path,
            f"truncated: the header declares {n_records} data records of {record_bytes} bytes "
            f"({n_records * record_bytes} bytes of data) but the file holds {data} bytes of data",
        )
    if data >= (n_records + 1) * record_bytes:
        raise RecordError(
            path,
            f"the header does not match the data: it declares {n_records} data records "
            f"but the file holds {data // record_bytes}",
        )


def open_edf(path: Path) -> edfio.Edf | edfio.Bdf:
    """The EDF or BDF file at ``path``, its layout checked (EDF data memory-mapped, lazily read);
    a malformed file is a :class:`RecordError` naming it."""
    magic = read_magic(path)
    if magic not in (EDF_MAGIC, BDF_MAGIC):
        raise RecordError(path, f"not an EDF or BDF file: it starts with {magic!r}")
    bdf = magic == BDF_MAGIC
    _check_layout(path, 3 if bdf else 2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if bdf:
                return edfio.read_bdf(path, header_encoding="latin-1")
            return edfio.read_edf(path, lazy_load_data=True, header_encoding="latin-1")
    except Exception as exc:  # edfio raises many types for malformed headers
        raise RecordError(path, f"malformed {'BDF' if bdf else 'EDF'} header: {type(exc).__name__}: {exc}") from None


def _start_time(edf: edfio.Edf | edfio.Bdf) -> datetime | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return edf.startdatetime
    except Exception:  # anonymised ("Startdate X") or malformed date/time fields
        return None


def _calibration(path: Path, sig: edfio.EdfSignal) -> tuple[float, float]:
    """(gain, offset) so that physical = digital * gain + offset."""
    try:
        dmin, dmax, pmin, pmax = sig.digital_min, sig.digital_max, sig.physical_min, sig.physical_max
    except ValueError as exc:
        raise RecordError(path, f"signal {sig.label!r}: malformed calibration fields: {exc}") from None
    if dmax <= dmin:
        raise RecordError(path, f"signal {sig.label!r}: invalid digital range [{dmin}, {dmax}]")
    if pmax == pmin:
        raise RecordError(path, f"signal {sig.label!r}: physical minimum equals physical maximum ({pmin})")
    gain = (pmax - pmin) / (dmax - dmin)
    return gain, pmin - dmin * gain


def read_edf(
    path: str | os.PathLike,
    *,
    sampfrom: int = 0,
    sampto: int | None = None,
    leads: Sequence[int | str] | None = None,
    annotations: bool = True,
) -> RawRecording:
    """Read the ECG signals of an EDF, EDF+ or BDF file: samples ``[sampfrom, sampto)`` of the
    chosen leads (by name or index among the ECG signals kept; ``None`` = all) as float32, in
    mV where the physical dimension is a voltage; plus the start time and, with
    ``annotations``, the EDF+ beat and rhythm annotations of the range."""
    path = Path(path)
    edf = open_edf(path)
    if edf.reserved.startswith(("EDF+D", "BDF+D")):
        try:
            continuous = edf.is_continuous
        except Exception as exc:
            raise RecordError(path, f"discontinuous EDF+D file with unreadable time-keeping: {exc}") from None
        if not continuous:
            raise RecordError(path, "discontinuous EDF+D recordings (with gaps between data records) are not supported")
    signals = edf.signals
    found = [(s, ecg_lead_name(s.label, s.transducer_type, s.physical_dimension)) for s in signals]
    ecg = [(s, name) for s, name in found if name is not None]
    if not ecg:
        raise RecordError(path, f"no ECG signal: the file's signals are {[s.label for s in signals]}")
    rates = Counter(float(s.sampling_frequency) for s, _ in ecg)
    fs = max(rates, key=lambda r: (rates[r], r))
    kept = [(s, name) for s, name in ecg if float(s.sampling_frequency) == fs]
    dropped = [(s, name) for s, name in ecg if float(s.sampling_frequency) != fs]
    names = list(unique_names([name for _, name in kept]))
    comments = []
    if dropped:
        comments.append(
            "ECG signals at other sampling rates not loaded: "
            + ", ".join(f"{s.label} ({s.sampling_frequency:g} Hz)" for s, _ in dropped)
            + f"; loaded the {len(kept)} at {fs:g} Hz"
        )
        wanted = [leads] if isinstance(leads, str) else (leads or [])
        other = {name.lower(): float(s.sampling_frequency) for s, name in dropped}
        for lead in wanted:
            if isinstance(lead, str) and lead.lower() in other and lead.lower() not in (n.lower() for n in names):
                raise RecordError(
                    path,
                    f"lead {lead!r} is sampled at {other[lead.lower()]:g} Hz; only the ECG signals "
                    f"at the most common rate, {fs:g} Hz, are read: {names}",
                )
    channels = channel_indices(path, names, leads)
    n_total = min(s.samples_per_data_record for s, _ in kept) * edf.num_data_records
    sampfrom, sampto = check_range(path, sampfrom, sampto, n_total)

    signal = np.empty((sampto - sampfrom, len(channels)), dtype=np.float32)
    for j, c in enumerate(channels):
        sig = kept[c][0]
        gain, offset = _calibration(path, sig)
        for b0 in range(sampfrom, sampto, READ_BLOCK_SAMPLES):
            b1 = min(sampto, b0 + READ_BLOCK_SAMPLES)
            try:
                digital = sig.get_digital_slice(b0 / fs, b1 / fs)
            except Exception as exc:
                raise RecordError(path, f"cannot read signal {sig.label!r}: {type(exc).__name__}: {exc}") from None
            if digital.shape[0] != b1 - b0:
                raise RecordError(path, f"signal {sig.label!r} holds fewer samples than the header declares")
            signal[b0 - sampfrom : b1 - sampfrom, j] = digital * gain + offset
    scale, units = to_mv([kept[c][0].physical_dimension for c in channels])
    if np.any(scale != 1.0):
        signal *= scale.astype(np.float32)

    ann = read_edf_annotations(path, edf, fs, sampfrom, sampto) if annotations else None
    start = _start_time(edf)
    if start is None:
        comments.append("no usable start date and time in the header (anonymised or malformed)")
    return RawRecording(
        signal=signal,
        fs=fs,
        lead_names=tuple(names[c] for c in channels),
        units=units,
        n_total=n_total,
        start_time=start,
        ann_sample=ann[0] if ann else None,
        ann_symbol=ann[1] if ann else None,
        ann_aux=ann[2] if ann else None,
        comments=tuple(comments),
    )


def read_edf_annotations(
    path: Path, edf: edfio.Edf | edfio.Bdf, fs: float, sampfrom: int, sampto: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Beat, rhythm and comment annotations of ``[sampfrom, sampto)`` (samples relative to
    ``sampfrom``), or ``None`` when the file holds no beat or rhythm annotation at all."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            items = edf.annotations
    except Exception as exc:
        raise RecordError(path, f"EDF+ annotations do not parse: {type(exc).__name__}: {exc}") from None
    coded = [(round(a.onset * fs), code) for a in items if (code := annotation_code(a.text)) is not None]
    if not any(sym != '"' for _, (sym, _aux) in coded):
        return None
    coded.sort(key=lambda x: x[0])
    sample = np.asarray([s for s, _ in coded], dtype=np.int64)
    symbol = np.asarray([c[0] for _, c in coded], dtype=object)
    aux = np.asarray([c[1] for _, c in coded], dtype=object)
    keep = (sample >= sampfrom) & (sample < sampto)
    return sample[keep] - sampfrom, symbol[keep], aux[keep]


__all__ = [
    "BEAT_SYMBOLS",
    "BEAT_WORDS",
    "RHYTHM_WORDS",
    "annotation_code",
    "ecg_lead_name",
    "open_edf",
    "read_edf",
    "read_edf_annotations",
]
