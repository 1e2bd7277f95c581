"""Reading ECG recordings into a typed :class:`Record`: WFDB records (header + signal +
annotations), EDF/EDF+/BDF files (:mod:`ecg.io.edf_reader`) and ISHNE 1.0 Holter files
(:mod:`ecg.io.ishne`), chosen by :func:`load_record` from the extension and the content.

Every failure on bad input is raised as :class:`ecg.errors.RecordError`, whose message names
the file and the problem; nothing from deep inside ``wfdb``, ``edfio`` or NumPy escapes.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import wfdb

from ecg.errors import DownloadError, RecordError
from ecg.io.edf_reader import read_edf
from ecg.io.formats import (
    EDF_EXTENSIONS,
    ISHNE_EXTENSION,
    ISHNE_MAGIC,
    RawRecording,
    channel_indices,
    read_magic,
    recording_path,
    sniff_format,
    to_mv,
)
from ecg.io.ishne import read_ishne

#: Bytes per sample of each WFDB storage format that this loader can check against the file
#: size. FLAC formats (508, 516, 524) are compressed and checked only by their checksum.
BYTES_PER_SAMPLE: dict[str, float] = {
    "8": 1,
    "16": 2,
    "24": 3,
    "32": 4,
    "61": 2,
    "80": 1,
    "160": 2,
    "212": 1.5,
    "310": 4 / 3,
    "311": 4 / 3,
}
COMPRESSED_FORMATS = frozenset({"508", "516", "524"})
SUPPORTED_FORMATS = frozenset(BYTES_PER_SAMPLE) | COMPRESSED_FORMATS

#: Samples per block when reading a signal file (about 1.5 h at 360 Hz).
READ_BLOCK_SAMPLES = 2_000_000

_PN_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*(/[A-Za-z0-9._-]+)*/[A-Za-z0-9_.-]+$")

#: PhysioNet ECG databases (slugs) that a ``database/record`` name may stream from; any other
#: first path component is taken as a local folder and never goes to the network.
PHYSIONET_DATABASES: frozenset[str] = frozenset(
    {
        "mitdb",
        "nsrdb",
        "nsr2db",
        "svdb",
        "incartdb",
        "afdb",
        "ltafdb",
        "ltdb",
        "ltstdb",
        "edb",
        "nstdb",
        "cudb",
        "vfdb",
        "qtdb",
        "ptbdb",
        "ptb-xl",
        "ptb-xl-plus",
        "stdb",
        "sddb",
        "chfdb",
        "chf2db",
        "aftdb",
        "afpdb",
        "fantasia",
        "apnea-ecg",
        "ecgiddb",
        "shareedb",
        "mghdb",
        "slpdb",
        "twadb",
        "cebsdb",
        "ludb",
        "butqdb",
        "ecg-arrhythmia",
        "iafdb",
        "macecgdb",
        "wctecgdb",
    }
)
#: PhysioNet/CinC Challenge databases are accepted by prefix (``challenge-2017/1.0.0/...``).
PHYSIONET_PREFIXES: tuple[str, ...] = ("challenge-",)

#: Symbols of the standard MIT-BIH annotation codes 1-41 (what a WFDB annotation file may hold).
MIT_ANNOTATION_SYMBOLS: frozenset[str] = frozenset(
    'N L R a V F J A S E j / Q ~ | s T * D " = p B ^ t + u ? ! [ ] e n @ x f ( ) r'.split()
)
#: Above this share of impossible annotations (unknown code, sample outside the record) an
#: annotation file is rejected; below it those annotations are dropped with a warning.
MAX_BAD_ANNOTATION_FRACTION = 0.1

#: The sampling-frequency field of a header's record line: ``fs[/counterfreq][(basecounter)]``.
_FS_FIELD = re.compile(r"^(?P<fs>[^/()]+)(?:/(?P<counter>[^()]+))?(?:\((?P<base>[^()]*)\))?$")

_DEFAULT_DATA_DIR = Path("data")
_PACKAGE_DATA_DIR = Path(__file__).resolve().parents[2] / "data"


@dataclass(frozen=True)
class Annotations:
    """Reference (or model) annotations of a record.

    ``sample`` holds indices into :attr:`Record.signal` (int64, i.e. relative to the loaded
    segment's first sample); ``symbol`` the MIT-BIH symbols; ``aux`` the aux notes (rhythm
    labels such as ``"(AFIB"``), with NUL padding removed.
    """

    sample: np.ndarray
    symbol: np.ndarray
    aux: np.ndarray
    extension: str = "atr"

    def __len__(self) -> int:
        return int(self.sample.size)

    def beats(self) -> Annotations:
        """Only the beat annotations (symbols that map to an AAMI class)."""
        from ecg.labels import BEAT_SYMBOLS

        keep = np.fromiter((s in BEAT_SYMBOLS for s in self.symbol), bool, len(self.symbol))
        return Annotations(self.sample[keep], self.symbol[keep], self.aux[keep], self.extension)


@dataclass(frozen=True)
class Record:
    """A loaded ECG record.

    ``signal`` is float32 with shape (samples, leads), in millivolts where the header's unit
    allows the conversion (``units`` then reads ``"mV"``). Invalid samples are NaN.
    ``start_sample`` is the index of ``signal[0]`` in the full record. ``start_time`` is the
    date and time of the record's first sample (naive, the recorder's local clock as the file
    states it; ``signal[0]`` is ``start_sample / fs`` seconds later), ``None`` when unknown.
    """

    name: str
    signal: np.ndarray
    fs: float
    lead_names: tuple[str, ...]
    units: tuple[str, ...]
    start_sample: int = 0
    annotations: Annotations | None = None
    source: str = ""
    comments: tuple[str, ...] = field(default_factory=tuple)
    start_time: datetime | None = None

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[0])

    @property
    def n_leads(self) -> int:
        return int(self.signal.shape[1])

    @property
    def duration_s(self) -> float:
        """Duration of the loaded signal in seconds."""
        return self.n_samples / self.fs

    def lead_index(self, lead: int | str) -> int:
        """Index of a lead given by name (case-insensitive) or position."""
        if isinstance(lead, (int, np.integer)):
            if not -self.n_leads <= int(lead) < self.n_leads:
                raise RecordError(
                    self.source or self.name,
                    f"lead {lead} out of range; record has {self.n_leads} leads {list(self.lead_names)}",
                )
            return int(lead) % self.n_leads
        names = [n.lower() for n in self.lead_names]
        if str(lead).lower() not in names:
            raise RecordError(self.source or self.name, f"no lead named {lead!r}; leads are {list(self.lead_names)}")
        return names.index(str(lead).lower())

    def lead(self, lead: int | str = 0) -> np.ndarray:
        """One lead as a contiguous 1-D float32 array (mV)."""
        return np.ascontiguousarray(self.signal[:, self.lead_index(lead)])


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory: the argument, else ``$ECG_DATA_DIR``, else ``data/`` (in the current
    directory if it exists there, otherwise the repository's shipped ``data/``)."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get("ECG_DATA_DIR")
    if env:
        return Path(env)
    if _DEFAULT_DATA_DIR.is_dir():
        return _DEFAULT_DATA_DIR
    return _PACKAGE_DATA_DIR


def list_records(data_dir: str | os.PathLike | None = None) -> list[str]:
    """Record names in a directory: from its ``RECORDS`` file, else every ``*.hea`` (sorted)."""
    d = resolve_data_dir(data_dir)
    if not d.is_dir():
        raise RecordError(d, "data directory does not exist")
    rec_file = d / "RECORDS"
    if rec_file.is_file():
        names = [ln.strip() for ln in rec_file.read_text(errors="replace").splitlines()]
        return [n for n in names if n and not n.startswith("#")]
    return sorted(p.stem for p in d.glob("*.hea"))


def list_recordings(directory: str | os.PathLike) -> list[Path]:
    """Every recording in a directory, sorted by file name: WFDB records as their base path
    without extension (from ``RECORDS``, else every ``*.hea``, as :func:`list_records`), every
    ``*.edf`` and ``*.bdf`` (any case) and every ``*.ecg`` that is an ISHNE file (a WFDB
    annotation file with extension ``.ecg`` is not listed)."""
    d = Path(directory)
    if not d.is_dir():
        raise RecordError(d, "data directory does not exist")
    out = [d / name for name in list_records(d)]
    for p in d.iterdir():
        ext = p.suffix.lower()
        if not p.is_file():
            continue
        if ext in EDF_EXTENSIONS or (ext == ISHNE_EXTENSION and read_magic(p) == ISHNE_MAGIC):
            out.append(p)
    return sorted(set(out), key=lambda p: (p.name, str(p)))


_RECORDING_EXTENSIONS = frozenset({".hea", ".dat", ".atr", ISHNE_EXTENSION, *EDF_EXTENSIONS})


def recording_name(path: str | os.PathLike) -> str:
    """A recording's name: its file name without a recording extension (``.edf``, ``.bdf``,
    ``.ecg``, ``.hea``, ``.dat``, ``.atr``; any case), e.g. ``"x/rec01.EDF"`` -> ``"rec01"``."""
    p = Path(path)
    return p.stem if p.suffix.lower() in _RECORDING_EXTENSIONS else p.name


def is_physionet_name(name: str) -> bool:
    """True for a PhysioNet record name such as ``"mitdb/100"`` or ``"mitdb/1.0.0/100"``: shaped
    ``database[/version...]/record``, with a known PhysioNet ECG database first
    (:data:`PHYSIONET_DATABASES`, or a ``challenge-`` database) that is not also a local folder,
    and naming no local file. Anything else (``data/1000``, ``../x/200``) is a local path."""
    if not _PN_NAME.match(name):
        return False
    db = name.split("/", 1)[0]
    if db not in PHYSIONET_DATABASES and not db.startswith(PHYSIONET_PREFIXES):
        return False
    return not Path(db).exists() and not Path(name).exists() and not Path(name + ".hea").exists()


def _record_base(record: str | os.PathLike, data_dir: str | os.PathLike | None) -> Path:
    p = Path(record)
    if p.suffix in {".hea", ".dat", ".atr"}:
        p = p.with_suffix("")
    if p.with_suffix(".hea").is_file() or p.parent != Path("."):
        return p
    return resolve_data_dir(data_dir) / p


def _read_header(base: Path) -> wfdb.Record:
    hea = base.with_suffix(".hea")
    if not hea.is_file():
        raise RecordError(hea, "header file not found")
    try:
        raw = hea.read_bytes()
    except OSError as exc:
        raise RecordError(hea, f"cannot read header: {exc.strerror}") from None
    if not raw.strip():
        raise RecordError(hea, "header file is empty")
    if b"\x00" in raw[:4096]:
        raise RecordError(hea, "not a WFDB header (binary content)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")), "")
    parts = first.split()
    if len(parts) < 2 or not parts[1].isdigit() or parts[0].split("/")[0] != base.name:
        raise RecordError(
            hea,
            f"not a WFDB header: first line {first[:60]!r} is not "
            f"'<record name> <number of signals> ...' for record {base.name!r}",
        )
    if len(parts) > 2:
        _check_fs_field(hea, parts[2])
    try:
        header = wfdb.rdheader(str(base))
    except Exception as exc:  # wfdb raises many types for malformed headers
        raise RecordError(hea, f"malformed WFDB header: {exc}") from None
    if getattr(header, "n_seg", None):
        raise RecordError(hea, "multi-segment records are not supported")
    return header


def _check_fs_field(hea: Path, text: str) -> None:
    """Check the record line's sampling-frequency field ``fs[/counterfreq][(basecounter)]``
    (wfdb would silently replace a negative or unparsable one by its default of 250 Hz)."""
    m = _FS_FIELD.match(text)
    try:
        fs = float(m["fs"]) if m else math.nan
    except ValueError:
        fs = math.nan
    if not (math.isfinite(fs) and fs > 0):
        raise RecordError(
            hea, f"invalid sampling frequency {text!r} Hz in the record line: it must be a positive number"
        )
    if m and m["counter"] is not None:
        try:
            counter = float(m["counter"])
        except ValueError:
            counter = math.nan
        if not (math.isfinite(counter) and counter > 0):
            raise RecordError(hea, f"invalid counter frequency in {text!r}: it must be a positive number")


def _header_start_time(header: wfdb.Record) -> datetime | None:
    """The record's start from the header's base date and time (both needed), else ``None``."""
    date, time = getattr(header, "base_date", None), getattr(header, "base_time", None)
    if date is None or time is None:
        return None
    return datetime.combine(date, time)


def _check_signal_files(base: Path, header: wfdb.Record) -> None:
    hea = base.with_suffix(".hea")
    fs = header.fs
    if fs is None or not math.isfinite(float(fs)) or float(fs) <= 0:
        raise RecordError(hea, f"invalid sampling frequency {fs!r} Hz")
    n_sig = header.n_sig or 0
    if n_sig == 0:
        raise RecordError(hea, "record has no signals")
    sig_len = header.sig_len
    if sig_len is None:
        raise RecordError(hea, "header does not give the number of samples")
    if sig_len == 0:
        raise RecordError(hea, "empty record: the header declares 0 samples")
    spf = header.samps_per_frame or [1] * n_sig
    if any(s != 1 for s in spf):
        raise RecordError(hea, "multi-frequency records (samples per frame > 1) are not supported")
    files: dict[str, list[int]] = {}
    for i, fname in enumerate(header.file_name):
        files.setdefault(fname, []).append(i)
    for fname, idx in files.items():
        fmts = {str(header.fmt[i]) for i in idx}
        if len(fmts) != 1:
            raise RecordError(base.parent / fname, f"signals in one file use different formats {sorted(fmts)}")
        fmt = fmts.pop()
        if fmt not in SUPPORTED_FORMATS:
            raise RecordError(hea, f"unknown or unsupported WFDB signal format {fmt!r}")
        dat = base.parent / fname
        if not dat.is_file():
            raise RecordError(dat, f"signal file not found (the header {hea.name} refers to it)")
        if fmt in COMPRESSED_FORMATS:
            continue
        offset = (header.byte_offset[idx[0]] if header.byte_offset else None) or 0
        expected = offset + math.ceil(sig_len * len(idx) * BYTES_PER_SAMPLE[fmt])
        size = dat.stat().st_size
        if size == 0:
            raise RecordError(dat, "empty signal file (0 bytes)")
        if size < expected:
            raise RecordError(
                dat,
                f"truncated: the header declares {sig_len} samples x {len(idx)} signals in format "
                f"{fmt} ({expected} bytes) but the file holds {size} bytes",
            )
        # Format 212/310/311 pack samples in groups; allow the padding of one frame.
        if size > expected + 4 * len(idx):
            raise RecordError(
                dat,
                f"the header does not match the data: it declares {sig_len} samples x {len(idx)} "
                f"signals in format {fmt} ({expected} bytes) but the file holds {size} bytes",
            )


def _check_annotation_bytes(path: Path) -> None:
    """Reject files that cannot be WFDB annotation files before wfdb "parses" them: every
    byte sequence decodes into some annotations, so a text file or random bytes would
    otherwise come back as plausible-looking nonsense."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RecordError(path, f"cannot read annotation file: {exc.strerror}") from None
    head = raw[:1024].rstrip(b"\x00")
    if len(head) >= 16 and all(32 <= c < 127 or c in (9, 10, 13) for c in head):
        raise RecordError(path, "not a WFDB annotation file: it is a text file")
    if len(raw) % 2 or raw[-2:] != b"\x00\x00":
        raise RecordError(
            path,
            "truncated or not a WFDB annotation file: it does not end with the end-of-file marker (two zero bytes)",
        )


def read_wfdb_annotations(
    base: Path,
    extension: str,
    sampfrom: int,
    sampto: int,
    required: bool,
    pn_dir: str | None = None,
    sig_len: int | None = None,
) -> Annotations | None:
    """Annotations of ``[sampfrom, sampto)``, checked: known MIT-BIH codes, samples in time
    order and inside the record's ``sig_len`` samples. A file with more than
    :data:`MAX_BAD_ANNOTATION_FRACTION` impossible annotations is a RecordError; a few are
    dropped with a warning."""
    path = base.with_suffix(f".{extension}")
    if pn_dir is None and not path.is_file():
        if required:
            raise RecordError(path, "annotation file not found")
        return None
    if pn_dir is None and path.stat().st_size == 0:
        raise RecordError(path, "annotation file is empty")
    if pn_dir is None:
        _check_annotation_bytes(path)
    # Up to the end of the record, read the whole file so annotations past the end are seen.
    read_to = None if sig_len is not None and sampto >= sig_len else sampto
    try:
        ann = wfdb.rdann(
            str(base) if pn_dir is None else base.name, extension, sampfrom=sampfrom, sampto=read_to, pn_dir=pn_dir
        )
    except Exception as exc:
        if pn_dir is not None and not required:
            return None
        raise RecordError(path, f"annotation file does not parse: {type(exc).__name__}: {exc}") from None
    sample = np.asarray(ann.sample, dtype=np.int64)
    symbol = np.asarray(ann.symbol if ann.symbol is not None else [], dtype=object)
    if sample.size != symbol.size:
        raise RecordError(path, "annotation file does not parse: sample and symbol counts differ")
    if sample.size and np.any(np.diff(sample) < 0):
        raise RecordError(path, "not a usable annotation file: annotation samples are not in time order")
    aux_raw = ann.aux_note if ann.aux_note is not None else [""] * sample.size
    aux = np.asarray([(a or "").rstrip("\x00") if isinstance(a, str) else "" for a in aux_raw], dtype=object)
    known = np.fromiter((isinstance(x, str) and x in MIT_ANNOTATION_SYMBOLS for x in symbol), bool, symbol.size)
    inside = (sample >= 0) & (sample < sig_len) if sig_len is not None else np.ones(sample.size, bool)
    bad = ~known | ~inside
    n_bad = int(bad.sum())
    if n_bad:
        what = (
            f"{int((~known).sum())} with unknown annotation codes, "
            f"{int((~inside).sum())} outside the record's {sig_len} samples"
        )
        if n_bad > MAX_BAD_ANNOTATION_FRACTION * sample.size:
            raise RecordError(
                path, f"not a usable annotation file: {n_bad} of {sample.size} annotations are impossible ({what})"
            )
        warnings.warn(f"{path}: ignored {n_bad} of {sample.size} annotations ({what})", stacklevel=3)
        sample, symbol, aux = sample[~bad], symbol[~bad], aux[~bad]
    keep = (sample >= sampfrom) & (sample < sampto)
    return Annotations(sample[keep] - sampfrom, symbol[keep], aux[keep], extension)


def load_record(
    record: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    *,
    sampfrom: int = 0,
    sampto: int | None = None,
    leads: Sequence[int | str] | None = None,
    annotator: str | None = "atr",
    require_annotations: bool = False,
    pn_dir: str | None = None,
    verify_checksum: bool = True,
) -> Record:
    """Read an ECG recording: a WFDB record, an EDF / EDF+ / BDF file or an ISHNE 1.0 Holter file.

    The format is chosen by extension and content: ``.edf`` / ``.bdf`` (any case) are read as
    EDF or BDF (:mod:`ecg.io.edf_reader`); a ``.ecg`` file that starts with the ISHNE magic as
    ISHNE (:mod:`ecg.io.ishne`), while ``X.ecg`` that is not ISHNE with an ``X.hea`` beside it
    is the WFDB record ``X``; an existing file of another extension that starts with an EDF,
    BDF or ISHNE magic is read as such; everything else is a WFDB record.

    Parameters
    ----------
    record
        A record path (``"data/100"``, ``"data/100.hea"``, ``"holter/p01.edf"``,
        ``"holter/p01.ecg"``), a name resolved in ``data_dir`` (``"100"``, ``"p01.edf"``), or,
        with ``pn_dir``, a record name on PhysioNet.
    data_dir
        Where bare record names are looked up; see :func:`resolve_data_dir`.
    sampfrom, sampto
        Sample range to read (samples, ``sampto`` exclusive; ``None`` = end).
    leads
        Leads to read, by name (``"MLII"``) or index; ``None`` reads all. For EDF/BDF, among
        the ECG signals that are loaded.
    annotator
        WFDB: annotation file extension to read (``"atr"`` = reference beats). EDF+: any value
        reads the file's own annotations. ``None`` skips annotations. Missing annotations give
        ``annotations=None`` unless ``require_annotations``.
    pn_dir
        PhysioNet database directory (e.g. ``"mitdb"`` or ``"mitdb/1.0.0"``) to stream the
        record from instead of the local disk. Needs the network.
    verify_checksum
        WFDB: for full-length reads, check each signal's 16-bit checksum against the header.
        ISHNE: check the header CRC.

    Raises
    ------
    RecordError
        For anything wrong with the files, naming the file and the problem.
    DownloadError
        When streaming from PhysioNet fails (offline, unknown record).
    """
    if pn_dir is not None:
        return _load_physionet(str(record), pn_dir, sampfrom, sampto, leads, annotator, require_annotations)
    kind, path = _locate(record, data_dir)
    if kind == "wfdb":
        return _load_wfdb(path, sampfrom, sampto, leads, annotator, require_annotations, verify_checksum)
    if kind == "ishne":
        raw = read_ishne(path, sampfrom=sampfrom, sampto=sampto, leads=leads, verify_crc=verify_checksum)
    else:
        raw = read_edf(path, sampfrom=sampfrom, sampto=sampto, leads=leads, annotations=annotator is not None)
    return _from_raw(path, raw, int(sampfrom), kind, bool(annotator) and require_annotations)


def _locate(record: str | os.PathLike, data_dir: str | os.PathLike | None) -> tuple[str, Path]:
    """(format, path) of a recording: ``"edf"``, ``"bdf"`` or ``"ishne"`` with the file, or
    ``"wfdb"`` with the record's base path (no extension)."""
    p = Path(record)
    ext = p.suffix.lower()
    if ext in EDF_EXTENSIONS or ext == ISHNE_EXTENSION:
        path = recording_path(p, resolve_data_dir(data_dir))
        kind = sniff_format(path) if path.is_file() else None
        if ext in EDF_EXTENSIONS:
            if not path.is_file():
                raise RecordError(path, "file not found")
            if kind not in ("edf", "bdf"):
                raise RecordError(path, f"not an EDF or BDF file: it starts with {read_magic(path)!r}")
            return kind, path
        if kind == "ishne":
            return "ishne", path
        base = path.with_suffix("")
        if base.with_suffix(".hea").is_file():
            return "wfdb", base  # X.ecg is then a WFDB annotation file of record X
        if not path.is_file():
            raise RecordError(path, "file not found")
        magic = read_magic(path)
        if kind == "ishne-ann" or magic.startswith(b"ISHNE"):
            return "ishne", path  # the ISHNE reader names the unsupported variant
        raise RecordError(
            path,
            f"not an ISHNE file (it starts with {magic!r}, not {ISHNE_MAGIC!r}) and there is no "
            f"WFDB header {base.name}.hea beside it",
        )
    if ext not in (".hea", ".dat", ".atr") and p.is_file():
        kind = sniff_format(p)
        if kind in ("edf", "bdf"):
            return kind, p
        if kind in ("ishne", "ishne-ann"):
            return "ishne", p
    return "wfdb", _record_base(record, data_dir)


def _from_raw(path: Path, raw: RawRecording, sampfrom: int, kind: str, require_annotations: bool) -> Record:
    annotations = None
    if raw.ann_sample is not None:
        annotations = Annotations(raw.ann_sample, raw.ann_symbol, raw.ann_aux, kind)
    elif require_annotations:
        raise RecordError(path, "the file holds no beat or rhythm annotations")
    return Record(
        name=recording_name(path),
        signal=raw.signal,
        fs=raw.fs,
        lead_names=raw.lead_names,
        units=raw.units,
        start_sample=sampfrom,
        annotations=annotations,
        source=str(path),
        comments=raw.comments,
        start_time=raw.start_time,
    )


def _load_wfdb(
    base: Path,
    sampfrom: int,
    sampto: int | None,
    leads: Sequence[int | str] | None,
    annotator: str | None,
    require_annotations: bool,
    verify_checksum: bool,
) -> Record:
    header = _read_header(base)
    _check_signal_files(base, header)
    hea = base.with_suffix(".hea")
    sig_len = int(header.sig_len)
    sampto = sig_len if sampto is None else int(sampto)
    sampfrom = int(sampfrom)
    if not 0 <= sampfrom < sampto <= sig_len:
        raise RecordError(hea, f"invalid sample range [{sampfrom}, {sampto}) for a record of {sig_len} samples")

    names = [str(n) for n in (header.sig_name or [f"lead{i}" for i in range(header.n_sig)])]
    channels = channel_indices(hea, names, leads)
    # Read in blocks so a 24-hour record never holds wfdb's int64 copy of the whole signal:
    # peak memory is the float32 result plus one block's temporaries.
    dat = base.with_suffix(".dat")
    signal = np.empty((sampto - sampfrom, len(channels)), dtype=np.float32)
    sums = np.zeros(len(channels), dtype=np.int64)
    for b0 in range(sampfrom, sampto, READ_BLOCK_SAMPLES):
        b1 = min(sampto, b0 + READ_BLOCK_SAMPLES)
        try:
            rec = wfdb.rdrecord(str(base), sampfrom=b0, sampto=b1, channels=channels, physical=False)
        except Exception as exc:
            raise RecordError(dat, f"cannot read signal: {type(exc).__name__}: {exc}") from None
        digital = rec.d_signal
        if digital is None or digital.shape[0] != b1 - b0:
            raise RecordError(dat, "signal file holds fewer samples than the header declares")
        sums += digital.sum(axis=0, dtype=np.int64)
        signal[b0 - sampfrom : b1 - sampfrom] = digital_to_mv(digital, rec, hea)
        del digital, rec

    if verify_checksum and sampfrom == 0 and sampto == sig_len and header.checksum:
        for j, ch in enumerate(channels):
            want = header.checksum[ch]
            got = int(sums[j]) & 0xFFFF
            if want is not None and got != (int(want) & 0xFFFF):
                raise RecordError(
                    base.parent / header.file_name[ch],
                    f"checksum mismatch on signal {names[ch]!r} (header {int(want) & 0xFFFF}, "
                    f"data {got}): the data do not match the header",
                )

    scale, units = to_mv([header.units[c] if header.units else None for c in channels])
    if np.any(scale != 1.0):
        signal *= scale.astype(np.float32)

    annotations = None
    if annotator:
        annotations = read_wfdb_annotations(base, annotator, sampfrom, sampto, require_annotations, sig_len=sig_len)
    return Record(
        name=base.name,
        signal=signal,
        fs=float(header.fs),
        lead_names=tuple(names[c] for c in channels),
        units=units,
        start_sample=sampfrom,
        annotations=annotations,
        source=str(hea),
        comments=tuple(header.comments or ()),
        start_time=_header_start_time(header),
    )


def digital_to_mv(digital: np.ndarray, rec: wfdb.Record, hea: Path) -> np.ndarray:
    """Digital samples to float32 physical units, with the format's invalid value as NaN."""
    from wfdb.io._signal import _digi_nan  # the invalid-sample marker per format

    gains = np.asarray(rec.adc_gain, dtype=np.float64)
    if np.any(gains == 0) or not np.all(np.isfinite(gains)):
        raise RecordError(hea, f"invalid ADC gain {list(rec.adc_gain)} in the header")
    baseline = np.asarray(rec.baseline, dtype=np.float64)
    out = ((digital - baseline) / gains).astype(np.float32)
    for j, fmt in enumerate(rec.fmt):
        nan_value = _digi_nan(fmt)
        if nan_value is not None:
            bad = digital[:, j] == nan_value
            if bad.any():
                out[bad, j] = np.nan
    return out


def _load_physionet(
    record: str,
    pn_dir: str,
    sampfrom: int,
    sampto: int | None,
    leads: Sequence[int | str] | None,
    annotator: str | None,
    require_annotations: bool,
) -> Record:
    where = f"physionet:{pn_dir}/{record}"
    try:
        header = wfdb.rdheader(record, pn_dir=pn_dir)
        names = [str(n) for n in header.sig_name]
        channels = channel_indices(Path(where), names, leads)
        rec = wfdb.rdrecord(record, sampfrom=sampfrom, sampto=sampto, channels=channels, pn_dir=pn_dir, physical=False)
    except RecordError:
        raise
    except Exception as exc:
        raise DownloadError(
            f"{where}: cannot stream the record from PhysioNet ({type(exc).__name__}: {exc}). "
            "Are you online? Use a local copy with data_dir instead."
        ) from None
    end = sampfrom + rec.d_signal.shape[0]
    signal = digital_to_mv(rec.d_signal, rec, Path(where))
    scale, units = to_mv(rec.units)
    if np.any(scale != 1.0):
        signal *= scale.astype(np.float32)
    annotations = None
    if annotator:
        annotations = read_wfdb_annotations(Path(record), annotator, sampfrom, end, require_annotations, pn_dir=pn_dir)
    return Record(
        name=Path(record).name,
        signal=signal,
        fs=float(rec.fs),
        lead_names=tuple(rec.sig_name),
        units=units,
        start_sample=sampfrom,
        annotations=annotations,
        source=where,
        comments=tuple(rec.comments or ()),
        start_time=_header_start_time(header),
    )
