"""Saving a user's uploaded recordings safely: WFDB files (``.hea`` + ``.dat``, optionally
``.atr``) and single-file recordings (EDF/EDF+ ``.edf``, BDF ``.bdf``, ISHNE ``.ecg``).

Pure library code with no Streamlit import; the dashboard calls :func:`save_wfdb_upload` with
the uploaded files as ``(name, data)`` pairs.

Safety rules:

* only the base name of an uploaded file is used (any folder part, ``/`` or ``\\``, is
  dropped), and only the characters ``A-Z a-z 0-9 . _ -`` are kept (others become ``_``); a
  name may not start with a dot and is at most :data:`MAX_NAME_LEN` characters;
* only ``.hea``, ``.dat``, ``.atr``, ``.edf``, ``.bdf`` and ``.ecg`` files are kept; anything
  else is reported as ignored;
* the total size is limited (:data:`MAX_TOTAL_BYTES`, 200 MB by default; MB here and in the
  messages is 2**20 bytes, as Streamlit's uploader counts them), checked on the
  announced sizes before anything is read and again while reading;
* files are written only into a fresh private folder made by :func:`tempfile.mkdtemp`
  (mode 0700), never over an existing file; the caller deletes the folder when the user's
  session ends (:func:`remove_upload_dir`), and :func:`sweep_stale_uploads` deletes folders
  left behind (a server killed before it could) after :data:`UPLOAD_MAX_AGE_H` hours.

Pairing: the record name is the one the header declares on its first line. The header's
signal lines name the ``.dat`` files it needs; each must have been uploaded (when exactly one
is missing and exactly one unreferenced ``.dat`` was uploaded, e.g. renamed ``100 (1).dat`` by
a browser, that one is used under the expected name). ``<record>.atr`` is the reference
annotation file (with a single record, a single ``.atr`` of another name is paired with it).
Each ``.edf``, ``.bdf`` or ``.ecg`` file is a recording of its own, named after its stem.
Everything else about the files (formats, sizes against the header, checksums, EDF/ISHNE
content) is checked by :func:`ecg.io.records.load_record` when the record is read.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ecg.errors import ECGError

#: Largest total upload accepted, in bytes (Streamlit's ``server.maxUploadSize`` is 200 MB too).
MAX_TOTAL_BYTES: int = 200 * 1024 * 1024
#: File extensions kept from an upload.
ALLOWED_EXTENSIONS: tuple[str, ...] = ("hea", "dat", "atr", "edf", "bdf", "ecg")
#: Extensions of single-file recordings (EDF/EDF+, BDF, ISHNE 1.0).
SINGLE_FILE_EXTENSIONS: tuple[str, ...] = ("edf", "bdf", "ecg")
#: Longest file name kept (characters).
MAX_NAME_LEN: int = 64
#: Prefix of the private folders made by :func:`save_wfdb_upload`.
UPLOAD_DIR_PREFIX: str = "ecg-upload-"
#: Hours after its last use (modification time) when :func:`sweep_stale_uploads` deletes an
#: upload folder.
UPLOAD_MAX_AGE_H: float = 12.0
#: Bytes in the "MB" of the size limit and its messages (Streamlit's uploader uses 2**20).
MB: int = 2**20

_ALLOWED_CHAR = re.compile(r"[^A-Za-z0-9._-]")
_CHUNK = 1 << 20

Data = bytes | bytearray | memoryview | IO[bytes]


class UploadError(ECGError, ValueError):
    """An upload cannot be used as a WFDB record; the message says why, naming the file."""


@dataclass(frozen=True)
class UploadedRecord:
    """One recording saved from an upload: :attr:`base` is the path to load."""

    name: str
    directory: Path
    files: tuple[Path, ...]
    has_annotations: bool
    filename: str | None = None  # a single-file recording (EDF, BDF, ISHNE)

    @property
    def base(self) -> Path:
        """The path for :func:`ecg.io.records.load_record`: a WFDB record without extension,
        or the single file."""
        return self.directory / (self.filename or self.name)


@dataclass(frozen=True)
class UploadResult:
    """What :func:`save_wfdb_upload` saved: the records (in header order of the upload), the
    private folder holding them, the names of ignored files and the total bytes read."""

    directory: Path
    records: tuple[UploadedRecord, ...]
    ignored: tuple[str, ...] = field(default_factory=tuple)
    total_bytes: int = 0


# ---------------------------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------------------------


def sanitize_filename(name: str) -> str:
    """A safe base name for an uploaded file: the part after the last ``/`` or ``\\``, with
    every character other than ``A-Z a-z 0-9 . _ -`` replaced by ``_``, leading dots removed
    and the stem shortened so the whole is at most :data:`MAX_NAME_LEN` characters.

    Raises :class:`UploadError` when nothing usable is left (e.g. ``".."`` or ``""``).
    """
    if not isinstance(name, str):
        raise UploadError(f"invalid file name {name!r}")
    base = re.split(r"[\\/]", name)[-1].strip()
    base = _ALLOWED_CHAR.sub("_", base).lstrip(".")
    if not re.search(r"[A-Za-z0-9]", base):
        raise UploadError(f"invalid file name {name!r}")
    if len(base) > MAX_NAME_LEN:
        stem, dot, ext = base.rpartition(".")
        if dot and 0 < len(ext) <= 8:
            base = stem[: MAX_NAME_LEN - len(ext) - 1] + "." + ext
        else:
            base = base[:MAX_NAME_LEN]
    return base


def split_extension(name: str) -> tuple[str, str]:
    """``(stem, extension)`` of a file name, the extension lower-case without the dot."""
    stem, dot, ext = name.rpartition(".")
    return (stem, ext.lower()) if dot and stem else (name, "")


def is_safe_record_name(name: str) -> bool:
    """Whether ``name`` can be used unchanged as a record (file stem) name."""
    return (
        bool(name)
        and name == _ALLOWED_CHAR.sub("_", name)
        and not name.startswith(".")
        and len(name) <= MAX_NAME_LEN - 4
    )


# ---------------------------------------------------------------------------------------------
# headers
# ---------------------------------------------------------------------------------------------


def parse_header_files(text: str, where: str = "header") -> tuple[str, list[str]]:
    """``(record name, signal file names)`` from the text of a WFDB header.

    Only the structure needed to pair files is read: the record line
    (``<name> <number of signals> ...``) and the first field of each signal line.
    Raises :class:`UploadError` naming ``where`` when the text is not a WFDB header.
    """
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise UploadError(f"{where}: not a WFDB header (no record line)")
    parts = lines[0].split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise UploadError(
            f"{where}: not a WFDB header: first line {lines[0][:60]!r} is not '<record name> <number of signals> ...'"
        )
    name = parts[0]
    if "/" in name:
        raise UploadError(f"{where}: multi-segment records are not supported")
    n_sig = int(parts[1])
    if n_sig == 0:
        raise UploadError(f"{where}: the header declares no signals")
    sig_lines = lines[1 : 1 + n_sig]
    if len(sig_lines) < n_sig:
        raise UploadError(f"{where}: the header declares {n_sig} signals but has {len(sig_lines)} signal lines")
    files: list[str] = []
    for ln in sig_lines:
        f = ln.split()[0]
        if f not in files:
            files.append(f)
    return name, files


def _header_text(raw: bytes, where: str) -> str:
    if not raw.strip():
        raise UploadError(f"{where}: the header file is empty")
    if b"\x00" in raw[:4096]:
        raise UploadError(f"{where}: not a WFDB header (binary content)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# ---------------------------------------------------------------------------------------------
# reading and saving
# ---------------------------------------------------------------------------------------------


def _announced_size(data: object) -> int | None:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return len(data)
    size = getattr(data, "size", None)
    return int(size) if isinstance(size, int) else None


def _read_limited(data: Data, name: str, budget: int, limit: int) -> bytes:
    """All bytes of ``data``; raises UploadError when more than ``budget`` bytes come."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        out = bytes(data)
        if len(out) > budget:
            raise UploadError(_too_big(name, limit))
        return out
    if hasattr(data, "seek"):
        try:
            data.seek(0)
        except (OSError, ValueError):
            pass
    chunks, total = [], 0
    while True:
        chunk = data.read(_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > budget:
            raise UploadError(_too_big(name, limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_big(name: str, limit: int) -> str:
    return f"{name}: the upload is too large; at most {limit / MB:.0f} MB in total is accepted"


def _fmt_names(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


def save_wfdb_upload(
    files: Sequence[tuple[str, Data]], dest_dir: str | os.PathLike | None = None, max_total_bytes: int = MAX_TOTAL_BYTES
) -> UploadResult:
    """Check, pair and save uploaded WFDB files; returns the saved records.

    ``files``: ``(original file name, bytes or binary file object)`` pairs. ``dest_dir``: an
    existing empty folder to write into; by default a new private one from
    :func:`tempfile.mkdtemp` (the caller removes it with :func:`remove_upload_dir`).

    Raises :class:`UploadError` (nothing is written) when the upload is too large, holds no
    header, a header is not WFDB or names a signal file that was not uploaded, or two files
    end up with the same name.
    """
    files = list(files)
    if not files:
        raise UploadError("no files uploaded: choose the record's .hea and .dat files (and .atr if any)")
    announced = [_announced_size(d) for _, d in files]
    known = sum(s for s in announced if s is not None)
    if known > max_total_bytes:
        raise UploadError(
            f"the upload is too large ({known / MB:.1f} MB); at most {max_total_bytes / MB:.0f} MB in total is accepted"
        )

    kept: dict[str, tuple[str, str]] = {}  # safe name -> (original name, ext)
    data: dict[str, bytes] = {}
    ignored: list[str] = []
    total = 0
    for original, payload in files:
        safe = sanitize_filename(original)
        stem, ext = split_extension(safe)
        if ext not in ALLOWED_EXTENSIONS:
            ignored.append(safe)
            continue
        raw = _read_limited(payload, safe, max_total_bytes - total, max_total_bytes)
        if safe in kept:
            if data[safe] == raw:  # the same file chosen twice
                continue
            raise UploadError(f"{safe}: two different uploaded files have this name")
        total += len(raw)
        kept[safe] = (original, ext)
        data[safe] = raw

    headers = [n for n, (_, ext) in kept.items() if ext == "hea"]
    singles = [n for n, (_, ext) in kept.items() if ext in SINGLE_FILE_EXTENSIONS]
    if not headers and not singles:
        got = _fmt_names(kept) or "no .hea, .dat, .atr, .edf, .bdf or .ecg file"
        raise UploadError(
            f"no recording in the upload ({got}): upload a WFDB record's .hea file together with its .dat "
            "file, or an EDF, BDF or ISHNE (.ecg) file"
        )

    dats = {n for n, (_, ext) in kept.items() if ext == "dat"}
    atrs = {n for n, (_, ext) in kept.items() if ext == "atr"}
    plan: list[tuple[str, dict[str, str]]] = []  # record -> {target name: source name}
    referenced: set[str] = set()
    for hea in headers:
        rec_name, sig_files = parse_header_files(_header_text(data[hea], hea), hea)
        if not is_safe_record_name(rec_name):
            raise UploadError(f"{hea}: record name {rec_name!r} is not allowed (use letters, digits, '.', '_', '-')")
        if any(p[0] == rec_name for p in plan):
            raise UploadError(f"{hea}: two uploaded headers declare record {rec_name!r}")
        mapping = {f"{rec_name}.hea": hea}
        for f in sig_files:
            if f == "~":
                raise UploadError(
                    f"{hea}: the header declares signals without a signal file ('~'), which cannot be read"
                )
            if f != os.path.basename(f) or not is_safe_record_name(split_extension(f)[0]) or _ALLOWED_CHAR.search(f):
                raise UploadError(f"{hea}: signal file name {f!r} is not allowed")
            mapping[f] = f
        plan.append((rec_name, mapping))
        referenced.update(f for f in mapping if f != f"{rec_name}.hea")

    # Signal files: each referenced file must be there (one unambiguous rename allowed).
    spare = sorted(d for d in dats if d not in referenced)
    for rec_name, mapping in plan:
        hea = mapping[f"{rec_name}.hea"]
        missing = [f for f in mapping if f != f"{rec_name}.hea" and f not in kept]
        if len(missing) == 1 and len(spare) == 1 and len(plan) == 1:
            mapping[missing[0]] = spare.pop()
            missing = []
        if missing:
            raise UploadError(
                f"{hea}: the signal file {_fmt_names(missing)} is missing from the upload; "
                f"upload it together with the header (got {_fmt_names(kept)})"
            )
    # Annotations: <record>.atr, or the only .atr when there is only one record.
    for rec_name, mapping in plan:
        want = f"{rec_name}.atr"
        if want in atrs:
            mapping[want] = want
        elif len(plan) == 1 and len(atrs) == 1:
            mapping[want] = next(iter(atrs))
    for single in singles:
        stem = split_extension(single)[0]
        if not is_safe_record_name(stem):
            raise UploadError(f"{single}: recording name {stem!r} is not allowed (use letters, digits, '.', '_', '-')")
        if any(p[0] == stem for p in plan):
            raise UploadError(f"{single}: two uploaded recordings are named {stem!r}")
        plan.append((stem, {single: single}))
    used = {src for _, m in plan for src in m.values()}
    ignored += sorted(n for n in kept if n not in used)

    if dest_dir is None:
        directory = Path(tempfile.mkdtemp(prefix=UPLOAD_DIR_PREFIX))
    else:
        directory = Path(dest_dir)
        if not directory.is_dir():
            raise UploadError(f"{directory}: upload folder does not exist")
    records = []
    try:
        for rec_name, mapping in plan:
            written = []
            for target, src in mapping.items():
                path = directory / target
                with open(path, "xb") as fh:  # never overwrite
                    fh.write(data[src])
                written.append(path)
            single = next((t for t in mapping if split_extension(t)[1] in SINGLE_FILE_EXTENSIONS), None)
            records.append(UploadedRecord(rec_name, directory, tuple(written), f"{rec_name}.atr" in mapping, single))
    except BaseException:
        if dest_dir is None:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    return UploadResult(directory=directory, records=tuple(records), ignored=tuple(ignored), total_bytes=total)


def remove_upload_dir(directory: str | os.PathLike | None) -> bool:
    """Delete a folder made by :func:`save_wfdb_upload` (only one directly in the temporary
    directory whose name starts with :data:`UPLOAD_DIR_PREFIX`). Returns whether it did."""
    if not directory:
        return False
    d = Path(directory)
    try:
        tmp_root = Path(tempfile.gettempdir()).resolve()
        real = d.resolve()
    except OSError:
        return False
    if real.parent != tmp_root or not real.name.startswith(UPLOAD_DIR_PREFIX) or not real.is_dir() or d.is_symlink():
        return False
    shutil.rmtree(real, ignore_errors=True)
    return True


def touch_upload_dir(directory: str | os.PathLike | None) -> None:
    """Mark an upload folder as in use now (its modification time), so that
    :func:`sweep_stale_uploads` leaves it alone while a session works with it."""
    if directory:
        try:
            os.utime(directory)
        except OSError:
            pass


def sweep_stale_uploads(
    max_age_h: float = UPLOAD_MAX_AGE_H, root: str | os.PathLike | None = None, now: float | None = None
) -> list[Path]:
    """Delete the upload folders (``UPLOAD_DIR_PREFIX*`` directly in ``root``, default the
    temporary directory) not modified for more than ``max_age_h`` hours; returns those deleted.
    ``now``: the current time as :func:`time.time` gives it (default: now)."""
    if max_age_h <= 0:
        raise ValueError(f"max_age_h must be > 0, got {max_age_h}")
    base = Path(root) if root is not None else Path(tempfile.gettempdir())
    limit = (time.time() if now is None else now) - max_age_h * 3600.0
    removed = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for d in entries:
        try:
            if d.name.startswith(UPLOAD_DIR_PREFIX) and not d.is_symlink() and d.is_dir() and d.stat().st_mtime < limit:
                shutil.rmtree(d, ignore_errors=True)
                if not d.exists():
                    removed.append(d)
        except OSError:
            continue
    return removed


__all__ = [
    "ALLOWED_EXTENSIONS",
    "MAX_NAME_LEN",
    "MAX_TOTAL_BYTES",
    "MB",
    "UPLOAD_DIR_PREFIX",
    "UPLOAD_MAX_AGE_H",
    "UploadError",
    "UploadResult",
    "UploadedRecord",
    "is_safe_record_name",
    "parse_header_files",
    "remove_upload_dir",
    "sanitize_filename",
    "save_wfdb_upload",
    "split_extension",
    "sweep_stale_uploads",
    "touch_upload_dir",
]
