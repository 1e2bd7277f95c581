"""Batch scoring of many records (``ecg score``): outputs per record, resumable, fault-tolerant.

Output layout (stable; scripts rely on these names)::

    OUT/index.csv                      one row per record: status and key numbers
    OUT/<rec>/<rec>_beats.csv          per-beat table (ecg.scoring.schema)
    OUT/<rec>/<rec>_beats.parquet      the same, typed
    OUT/<rec>/<rec>_summary.json       Holter-style summary
    OUT/<rec>/<rec>.ecg                WFDB annotation file of our beat labels (aux: scores)
    OUT/<rec>/<rec>.edf                EDF+ with the signal and our annotations
    OUT/<rec>/<rec>_report.pdf         clinician report with strips of flagged beats
    OUT/<rec>/<rec>_manifest.json      what produced the files (bundle, input digest, options)
    OUT/.lock                          held by the run writing into OUT (pid, host, start time)
    OUT/.staging/, OUT/.trash/         record folders being written / being replaced (transient)

Guarantees:

* **A record folder is one run's.** Every file of a record, manifest included, is written into a
  private staging folder ``OUT/.staging/<rec>.<pid>.<random>`` and then swapped into
  ``OUT/<rec>`` as a whole with two renames (:func:`ecg.io.atomic.swap_dir`): at every instant
  ``OUT/<rec>`` is either absent, entirely the previous run's or entirely the new run's. A reader
  may find it absent for the instant between the two renames.
* **One run per OUT.** A run holds an exclusive lock on ``OUT/.lock`` (``flock``, POSIX only)
  from start to end; a second run refuses at once, naming the holder (or waits, ``wait=True``).
  The lock dies with its process, so a killed run never blocks the next.
* **A killed run leaves nothing behind once the next run finishes.** At its start (holding the
  lock) a run deletes unfinished staging folders and stale ``.*.tmp`` files, and puts back a
  record folder caught between the two renames of a swap.
* **Resumable.** A record whose manifest matches the current bundle, input and options is
  complete and is skipped on a re-run (unless ``force``). A record that fails (unreadable,
  unscorable, or its outputs cannot be written, e.g. disk full) is reported with its reason, any
  earlier folder of it is kept, and the batch goes on. An output folder that cannot be written at
  all fails the run at once with one :class:`~ecg.errors.ECGError`.
* **Worker processes die with the run** (``jobs`` > 1): each worker is killed when its parent
  process dies, however it dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ecg.errors import ECGError
from ecg.io.atomic import atomic_write_text, make_staging_dir, recover_swaps, remove_stale_tmp_files, swap_dir
from ecg.io.formats import EDF_EXTENSIONS, ISHNE_EXTENSION, sniff_format
from ecg.io.records import is_physionet_name, list_recordings, recording_name
from ecg.scoring.outcomes import RecordInput, RecordOutcome, available_cores
from ecg.scoring.summary_types import HolterSummary

try:
    import fcntl
except ImportError:  # Windows: no flock; runs on one OUT are not kept apart there
    fcntl = None  # type: ignore[assignment]

ALL_FORMATS: tuple[str, ...] = ("csv", "parquet", "json", "wfdb", "edf", "pdf")
DEFAULT_FORMATS: tuple[str, ...] = ALL_FORMATS
#: Hidden entries of OUT (never taken for record folders).
LOCK_FILE = ".lock"
STAGING_DIR = ".staging"
TRASH_DIR = ".trash"
#: Environment variable capping PyTorch's threads per scoring process (see :func:`torch_threads`).
THREADS_ENV = "ECG_TORCH_THREADS"


def _is_signal_file(p: Path) -> bool:
    """An EDF/EDF+/BDF or ISHNE file (by extension and content), scored as a file."""
    fmt = sniff_format(p) if p.is_file() else None
    return (
        fmt in ("edf", "bdf")
        or (fmt == "ishne" and p.suffix.lower() == ISHNE_EXTENSION)
        or (p.is_file() and p.suffix.lower() in EDF_EXTENSIONS)
    )


def resolve_inputs(inputs: Iterable[str]) -> list[RecordInput]:
    """Expand directories (every WFDB record, EDF/EDF+/BDF file and ISHNE file in them, see
    :func:`ecg.io.list_recordings`), record paths (WFDB with or without ``.hea``; EDF, BDF or
    ISHNE files) and PhysioNet names such as ``mitdb/100`` into records to score. A record is
    named after its file's stem. Local paths are made absolute, so that the records'
    manifests do not depend on the working directory and workers elsewhere (a cluster on a
    shared filesystem) find the files."""
    out: list[RecordInput] = []
    for item in inputs:
        p = Path(os.path.abspath(item))
        if p.is_dir():
            for path in list_recordings(p):
                out.append(RecordInput(name=recording_name(path), path=str(path)))
        elif _is_signal_file(p):
            out.append(RecordInput(name=recording_name(p), path=str(p)))
        elif (
            p.suffix in (".hea", ".dat", ".atr", ".ecg")
            or p.with_suffix(".hea").is_file()
            or Path(str(p) + ".hea").is_file()
        ):
            base = p.with_suffix("") if p.suffix in (".hea", ".dat", ".atr", ".ecg") else p
            out.append(RecordInput(name=base.name, path=str(base)))
        elif is_physionet_name(item):
            db, _, rec = item.rpartition("/")
            out.append(RecordInput(name=rec, pn_dir=db))
        else:
            # Keep it: scoring will fail with a clear "not found" for this record.
            out.append(RecordInput(name=p.name, path=str(p)))
    seen: set[str] = set()
    unique = []
    for r in out:
        if r.name in seen:
            raise ECGError(f"two inputs are both named {r.name!r} ({r.label}); outputs would collide")
        seen.add(r.name)
        unique.append(r)
    return unique


def _input_digest(rec: RecordInput) -> str:
    if rec.pn_dir:
        return f"physionet:{rec.pn_dir}/{rec.name}"
    h = hashlib.sha256()
    base = Path(rec.path)
    wfdb_files = [
        (ext, base.with_suffix(ext) if base.suffix == "" else Path(str(base) + ext)) for ext in (".hea", ".dat", ".atr")
    ]
    files = [("file", base)] if base.is_file() else wfdb_files
    for ext, f in files:
        if f.is_file():
            st = f.stat()
            h.update(f"{ext}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def output_paths(out_dir: Path, name: str) -> dict[str, Path]:
    """The files of record ``name`` in the output folder ``out_dir`` (in ``out_dir/<name>/``)."""
    return record_files(Path(out_dir) / name, name)


def record_files(folder: Path, name: str) -> dict[str, Path]:
    """The files of record ``name`` in its own ``folder``, by format (and ``manifest``)."""
    d = Path(folder)
    return {
        "csv": d / f"{name}_beats.csv",
        "parquet": d / f"{name}_beats.parquet",
        "json": d / f"{name}_summary.json",
        "wfdb": d / f"{name}.ecg",
        "edf": d / f"{name}.edf",
        "pdf": d / f"{name}_report.pdf",
        "manifest": d / f"{name}_manifest.json",
    }


def _manifest(rec: RecordInput, bundle_digest: str, options: dict[str, Any]) -> dict[str, Any]:
    return {
        "record": rec.name,
        "input": rec.label,
        "input_digest": _input_digest(rec),
        "bundle_sha256": bundle_digest,
        "options": options,
    }


def _is_done(rec: RecordInput, out_dir: Path, want: dict[str, Any], formats: Sequence[str]) -> dict[str, Any] | None:
    paths = output_paths(out_dir, rec.name)
    if not paths["manifest"].is_file():
        return None
    try:
        have = json.loads(paths["manifest"].read_text())
    except (OSError, ValueError):
        return None
    if {k: have.get(k) for k in want} != want:
        return None
    if not all(paths[f].is_file() for f in formats):
        return None
    return have


#: ``index.csv`` columns after ``record``, ``status`` and ``error``; every figure is read
#: from the record's Holter summary (:class:`~ecg.scoring.summary_types.HolterSummary`).
INDEX_COLUMNS: tuple[str, ...] = (
    "duration_s",
    "analysable_pct",
    "lead",
    "beats",
    "n_N",
    "n_S",
    "n_V",
    "n_F",
    "n_Q",
    "flagged",
    "hr_mean_bpm",
    "v_burden_pct",
    "s_burden_pct",
    "f_burden_pct",
    "af_burden_pct",
    "af_episodes",
    "pauses",
    "longest_pause_s",
    "warning",
    "seconds",
)


def index_row(summary: HolterSummary, seconds: float | None = None) -> dict[str, Any]:
    """Key numbers of a scored record for the batch index, read from its summary."""
    by_class = summary.beats.by_class
    longest = summary.pauses.longest
    return {
        "record": summary.recording.record,
        "duration_s": round(summary.recording.duration_s, 1) if summary.recording.duration_s is not None else None,
        "analysable_pct": summary.signal_quality.analysable_pct,
        "lead": "+".join(summary.recording.analysed_leads),
        "beats": summary.beats.total,
        **{f"n_{c}": int(by_class.get(c, 0)) for c in ("N", "S", "V", "F", "Q")},
        "flagged": summary.flags.count,
        "hr_mean_bpm": summary.heart_rate.mean_bpm,
        "v_burden_pct": summary.ectopy.V.burden_pct,
        "s_burden_pct": summary.ectopy.S.burden_pct,
        "f_burden_pct": summary.ectopy.F.burden_pct,
        "af_burden_pct": summary.af.burden_pct,
        "af_episodes": len(summary.af.episodes),
        "pauses": summary.pauses.count,
        "longest_pause_s": longest.duration_s if longest is not None else None,
        "warning": " ".join(summary.warnings),
        "seconds": round(seconds, 3) if seconds is not None else None,
    }


def score_one(
    rec: RecordInput, out_dir: Path, bundle_path: str | None, options: dict[str, Any], formats: Sequence[str]
) -> RecordOutcome:
    """Score one record and put its outputs in ``out_dir/<rec.name>`` as a whole
    (:func:`write_outputs`). Never raises: failures are returned. Runs in worker processes and
    on Dask workers, so its arguments stay picklable."""
    from ecg.io.records import load_record
    from ecg.scoring.score import _cached_bundle, score_record

    t0 = time.perf_counter()
    try:
        bundle = _cached_bundle(bundle_path)
        # A local file is read from disk a chunk at a time (a multi-day recording is never
        # loaded whole); a PhysioNet record is streamed once into memory.
        record = load_record(rec.name, pn_dir=rec.pn_dir) if rec.pn_dir else rec.path
        scored = score_record(
            record,
            bundle,
            lead=options.get("lead"),
            threshold=options.get("threshold"),
            backend=options.get("backend", "torch"),
        )
        row = index_row(scored.summary, scored.seconds)
        manifest = _manifest(rec, bundle.digest, options)
        manifest.update({"formats": list(formats), "bundle_version": bundle.version, "row": row})
        write_outputs(
            scored,
            out_dir,
            formats,
            manifest=manifest,
            name=rec.name,
            full_disclosure=bool(options.get("full_disclosure", False)),
        )
        return RecordOutcome(rec.name, "scored", row=row, seconds=time.perf_counter() - t0)
    except ECGError as exc:
        return RecordOutcome(rec.name, "failed", error=str(exc), seconds=time.perf_counter() - t0)
    except Exception as exc:  # a bug or an unexpected file problem: report it, keep the batch going
        last = traceback.extract_tb(exc.__traceback__)[-1]
        return RecordOutcome(
            rec.name,
            "failed",
            error=f"{rec.label}: unexpected {type(exc).__name__}: {exc} (at {Path(last.filename).name}:{last.lineno})",
            seconds=time.perf_counter() - t0,
        )


def write_outputs(
    scored: Any,
    out_dir: Path,
    formats: Sequence[str],
    *,
    manifest: dict[str, Any] | None = None,
    name: str | None = None,
    full_disclosure: bool = False,
    class_column: str = "pred_class",
) -> dict[str, Path]:
    """Write the chosen output formats of one scored record, and ``manifest`` last, into a
    staging folder ``out_dir/.staging/<name>.<pid>.<random>``, then swap it into
    ``out_dir/<name>`` as a whole (:func:`ecg.io.atomic.swap_dir`; ``OUT/<name>`` is absent for
    an instant between two renames). ``name`` defaults to the record's. Returns the final paths
    of the files written. When a write fails (disk full, read-only...) the staging folder is
    removed, any earlier ``out_dir/<name>`` is kept, and :class:`ECGError` names the folder and
    the reason."""
    name = name or scored.record.name
    out_dir = Path(out_dir)
    target = out_dir / name
    staged: Path | None = None
    try:
        staged = make_staging_dir(out_dir / STAGING_DIR, name)
        written = write_record_files(
            scored, staged, formats, name=name, full_disclosure=full_disclosure, class_column=class_column
        )
        if manifest is not None:
            # The staging folder is private: no temporary file needed (swap_dir fsyncs it all).
            written["manifest"] = record_files(staged, name)["manifest"]
            written["manifest"].write_text(json.dumps(manifest, indent=2, default=str))
        swap_dir(staged, target, out_dir / TRASH_DIR)
    except OSError as exc:
        raise ECGError(f"{target}: cannot write the record's outputs ({_os_reason(exc)})") from None
    finally:
        if staged is not None and staged.exists():
            shutil.rmtree(staged, ignore_errors=True)
    return {key: target / path.name for key, path in written.items()}


def write_record_files(
    scored: Any,
    folder: Path,
    formats: Sequence[str],
    *,
    name: str | None = None,
    full_disclosure: bool = False,
    class_column: str = "pred_class",
) -> dict[str, Path]:
    """Write the chosen output formats of one scored record into ``folder`` (named as
    :func:`record_files`); returns the paths written. Use :func:`write_outputs` to put a
    record's folder in place as a whole."""
    from ecg.export.tables import write_beat_table, write_summary_json

    name = name or scored.record.name
    paths = record_files(folder, name)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    table_formats = tuple(f for f in ("csv", "parquet") if f in formats)
    if table_formats:
        for p in write_beat_table(scored.beats, folder, name, formats=table_formats):
            written[p.suffix.lstrip(".")] = p
    if "json" in formats:
        written["json"] = write_summary_json(scored.summary, paths["json"])
    if "wfdb" in formats:
        from ecg.export.wfdb_annotations import write_beat_annotations

        written["wfdb"] = write_beat_annotations(
            scored.beats, name, folder, scored.record.fs, extension="ecg", class_column=class_column
        )
    if "edf" in formats:
        from ecg.export.edf import write_edf

        written["edf"] = write_edf(scored.record, scored.beats, paths["edf"], class_column=class_column)
    if "pdf" in formats:
        from ecg.export.pdf_report import write_pdf_report

        written["pdf"] = write_pdf_report(
            scored.record,
            scored.beats,
            scored.summary,
            paths["pdf"],
            lead=scored.leads[0] if scored.leads else None,  # then the other analysed lead, else another
            bundle_version=scored.bundle_version,
            class_column=class_column,
            full_disclosure=full_disclosure,
        )
    return written


# ------------------------------------------------------------------------------ the output folder


def _os_reason(exc: OSError) -> str:
    """``Permission denied``, ``Read-only file system``, ``No space left on device``..."""
    return exc.strerror or (os.strerror(exc.errno) if exc.errno else str(exc))


def _unwritable(out: Path, exc: OSError) -> ECGError:
    return ECGError(f"{out}: cannot write the output folder ({_os_reason(exc)})")


def _lock_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"pid {int(info['pid'])} on {info.get('host', '?')}, started {info.get('started', '?')}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"


@contextlib.contextmanager
def lock_output_dir(
    out_dir: str | os.PathLike, *, wait: bool = False, on_wait: Callable[[str], Any] | None = None
) -> Iterator[Path]:
    """Hold an exclusive lock on the output folder ``out_dir`` (``flock`` on ``out_dir/.lock``,
    which records this process's pid, host and start time) for the ``with`` block.

    When another process holds it, raises :class:`ECGError` naming the folder and the holder,
    or with ``wait`` blocks until it is free (telling ``on_wait`` first). The lock is released
    when the block ends or the process dies, however it dies. Raises :class:`ECGError` when
    the folder cannot be written. Without ``fcntl`` (Windows) no lock is taken.
    """
    out = Path(out_dir)
    try:
        fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise _unwritable(out, exc) from None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _lock_holder(fd)
                if not wait:
                    raise ECGError(
                        f"{out}: another `ecg score` run is writing into this folder ({holder}); "
                        "wait for it to end (or use --wait), or choose another --out"
                    ) from None
                if on_wait is not None:
                    on_wait(f"waiting for the run writing into {out} ({holder}) to end")
                fcntl.flock(fd, fcntl.LOCK_EX)
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
            os.fsync(fd)
        except OSError as exc:
            raise _unwritable(out, exc) from None
        yield out / LOCK_FILE
    finally:
        os.close(fd)  # releases the flock


def record_folders(out_dir: Path) -> list[Path]:
    """The record folders in ``out_dir`` (its non-hidden subfolders)."""
    try:
        return sorted(
            Path(e.path) for e in os.scandir(out_dir) if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
        )
    except FileNotFoundError:
        return []


def clean_output_dir(out_dir: Path) -> dict[str, list[str]]:
    """Undo what killed runs left in ``out_dir``: put back a record folder caught between the
    two renames of its swap, delete unfinished staging folders and swapped-out copies, and
    stale ``.*.tmp`` files of :mod:`ecg.io.atomic` in ``out_dir`` and its record folders. Call it
    holding :func:`lock_output_dir`. Returns what was restored and removed."""
    done = recover_swaps(out_dir, out_dir / STAGING_DIR, out_dir / TRASH_DIR)
    for folder in (out_dir, *record_folders(out_dir)):
        done["removed"] += [str(p) for p in remove_stale_tmp_files(folder)]
    return done


def _check_writable(out_dir: Path) -> None:
    """Raise OSError unless a small file can be written, flushed and removed in ``out_dir``."""
    probe = make_staging_dir(out_dir / STAGING_DIR, "probe")
    try:
        fd = os.open(probe / "probe", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            os.write(fd, bytes(4096))
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def _prepare_output_dir(out_dir: Path) -> None:
    """Clean ``out_dir`` after killed runs and check it can be written (holding its lock)."""
    try:
        clean_output_dir(out_dir)
        _check_writable(out_dir)
    except OSError as exc:
        raise _unwritable(out_dir, exc) from None


def _tidy_output_dir(out_dir: Path) -> None:
    for hidden in (STAGING_DIR, TRASH_DIR):
        with contextlib.suppress(OSError):
            (out_dir / hidden).rmdir()  # only when empty


# ------------------------------------------------------------------------------ processes and threads


def _env_threads() -> int | None:
    n = os.environ.get(THREADS_ENV, "").strip()
    return int(n) if n.isdigit() and int(n) > 0 else None


def torch_threads(jobs: int = 1, cores: int | None = None) -> int:
    """PyTorch threads for each of ``jobs`` scoring processes: the ``cores`` (default: the
    available ones) shared out, at least 1, and at most ``ECG_TORCH_THREADS`` when set. So
    ``jobs`` processes never run more threads than cores (unless ``jobs`` > ``cores``)."""
    cores = available_cores() if cores is None else cores
    n = max(1, cores // max(1, jobs))
    cap = _env_threads()
    return min(n, cap) if cap is not None else n


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    import torch  # heavy: imported when scoring starts, not at `ecg` start-up

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _set_parent_death_signal() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; False where that is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def exit_when_orphaned(parent_pid: int, poll_s: float = 1.0) -> None:
    """Return never: every ``poll_s`` seconds, end this process (``os._exit``) once its parent
    is no longer ``parent_pid``. Run it in a daemon thread where no parent-death signal exists."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
            return  # only reached when os._exit is replaced (tests)
        time.sleep(poll_s)


def _init_worker(threads: int, parent_pid: int) -> None:
    """Initializer of the scoring worker processes: die with the parent, use ``threads`` threads."""
    if not _set_parent_death_signal():
        threading.Thread(target=exit_when_orphaned, args=(parent_pid,), name="exit-when-orphaned", daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before the death signal was set
        os._exit(1)
    import torch  # heavy: imported when scoring starts, not at `ecg` start-up

    torch.set_num_threads(threads)


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """``jobs`` worker processes (spawned) with :func:`torch_threads` threads each, that die
    when this process dies. (The kernel's parent-death signal follows the thread that starts
    the workers: the pool must be used from a thread that outlives it, as ``with`` does.)"""
    return ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=mp.get_context("spawn"),
        initializer=_init_worker,
        initargs=(torch_threads(jobs), os.getpid()),
    )


def score_batch(
    inputs: Iterable[str],
    out_dir: str | os.PathLike,
    *,
    bundle_path: str | os.PathLike | None = None,
    jobs: int = 1,
    threshold: float | None = None,
    lead: int | str | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
    force: bool = False,
    progress: bool = True,
    on_result: Callable[[RecordOutcome], None] | None = None,
    wait: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    backend: str = "torch",
    full_disclosure: bool = False,
) -> list[RecordOutcome]:
    """Score every input record into ``out_dir``; returns one outcome per record (in input
    order) and writes ``out_dir/index.csv``. See the module docstring for the guarantees.

    ``jobs`` > 1 scores in that many local processes (each with :func:`torch_threads` PyTorch
    threads; ``jobs`` 1 uses every available core unless ``ECG_TORCH_THREADS`` is set).
    ``scheduler`` runs the records on a Dask cluster instead (``"local"``: a cluster of
    ``workers`` processes on this machine; else a ``tcp://host:port`` address), see
    :mod:`ecg.scoring.distributed`; this process holds the output folder's lock meanwhile.
    ``wait`` waits for another run on ``out_dir`` to end instead of refusing. Raises
    :class:`ECGError` for bad options, a bad bundle, an output folder that cannot be written
    or is in use, or an ``index.csv`` that cannot be written.
    """
    from tqdm.auto import tqdm

    # Both load torch: imported when scoring starts, not at `ecg` start-up.
    from ecg.models.bundle import BUNDLE_NAMES
    from ecg.scoring.score import _cached_bundle

    bad = sorted(set(formats) - set(ALL_FORMATS))
    if bad:
        raise ECGError(f"unknown output formats {bad}; choose from {list(ALL_FORMATS)}")
    if threshold is not None and not 0.0 <= float(threshold) <= 100.0:
        raise ECGError(f"--threshold must be on the anomaly score's 0-100 scale (99 = calibrated), got {threshold:g}")
    if jobs < 1:
        raise ECGError(f"--jobs must be at least 1, got {jobs}")
    if scheduler is None and workers is not None:
        raise ECGError("--workers applies to --scheduler only")
    if scheduler is not None and jobs != 1:
        raise ECGError("--jobs does not apply with --scheduler (the cluster's workers score the records)")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ECGError(f"{out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(out, exc) from None
    with lock_output_dir(out, wait=wait, on_wait=lambda msg: print(f"ecg: {msg}", file=sys.stderr)):
        _prepare_output_dir(out)
        try:
            records = resolve_inputs(inputs)
            bpath = str(bundle_path) if bundle_path is not None else None
            bundle = _cached_bundle(bpath)  # fail early on a bad bundle
            options = {"threshold": threshold, "lead": lead, "backend": backend, "full_disclosure": full_disclosure}
            outcomes: dict[str, RecordOutcome] = {}
            todo: list[RecordInput] = []
            for rec in records:
                done = None if force else _is_done(rec, out, _manifest(rec, bundle.digest, options), formats)
                if done is not None:
                    outcomes[rec.name] = RecordOutcome(rec.name, "skipped", row=done.get("row", {}))
                else:
                    todo.append(rec)
            bar = tqdm(total=len(records), desc="scoring", unit="record", disable=not progress)
            bar.update(len(records) - len(todo))

            def finish(res: RecordOutcome) -> None:
                outcomes[res.name] = res
                bar.update(1)
                bar.set_postfix_str(f"{res.name}: {res.status}")
                if on_result:
                    on_result(res)

            if scheduler is not None and bpath is not None and bpath not in BUNDLE_NAMES:
                bpath = os.path.abspath(bpath)  # the same file for workers elsewhere
            # An absolute OUT: the same folder for workers with another working directory.
            where = Path(os.path.abspath(out))
            _run_records(todo, (where, bpath, options, tuple(formats)), finish, jobs, scheduler, workers, progress)
            bar.close()
            ordered = [outcomes[r.name] for r in records]
            try:
                write_index(ordered, out)
            except OSError as exc:
                raise ECGError(
                    f"{out / 'index.csv'}: cannot write the index ({_os_reason(exc)}); the records' "
                    "folders are complete"
                ) from None
            return ordered
        finally:
            _tidy_output_dir(out)


def _run_records(
    todo: Sequence[RecordInput],
    args: tuple[Path, str | None, dict[str, Any], tuple[str, ...]],
    finish: Callable[[RecordOutcome], None],
    jobs: int,
    scheduler: str | None,
    workers: int | None,
    progress: bool = False,
) -> None:
    """``finish(score_one(rec, *args))`` for every record: on a Dask cluster, in ``jobs``
    worker processes, or here. With ``progress`` a cluster's dashboard link is printed."""
    if not todo:
        return
    if scheduler is not None:
        # Dask is a heavy optional engine: imported only when a cluster is asked for.
        from ecg.scoring.distributed import run_on_cluster

        echo = (lambda line: print(f"ecg: {line}", file=sys.stderr)) if progress else None
        run_on_cluster(score_one, todo, args, scheduler, finish, workers, echo=echo)
    elif jobs == 1 or len(todo) == 1:
        with _torch_threads(torch_threads(1)):
            for rec in todo:
                finish(score_one(rec, *args))
    else:
        with worker_pool(min(jobs, len(todo))) as pool:
            futs = [pool.submit(score_one, rec, *args) for rec in todo]
            for fut in as_completed(futs):
                finish(fut.result())


def _earlier_rows(out_dir: Path, names: set[str]) -> list[dict[str, Any]]:
    """Index rows of records in ``out_dir`` scored by earlier runs (complete: their manifest
    exists) and not part of this run, from their summary JSON when it was written."""
    rows = []
    for manifest in sorted(out_dir.glob("*/*_manifest.json")):
        name = manifest.parent.name
        if name in names or manifest.name != f"{name}_manifest.json":
            continue
        try:
            have = json.loads(manifest.read_text())
            js = output_paths(out_dir, name)["json"]
            row = (
                index_row(HolterSummary.from_dict(json.loads(js.read_text())), have.get("row", {}).get("seconds"))
                if js.is_file()
                else dict(have.get("row", {}))
            )
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            continue
        rows.append(
            {"record": name, "status": "earlier", "error": "", **{k: v for k, v in row.items() if k != "record"}}
        )
    return rows


def write_index(outcomes: Sequence[RecordOutcome], out_dir: Path) -> Path:
    """``index.csv``: one row per record in ``out_dir``, this run's (status ``scored``,
    ``skipped`` or ``failed``, with the error) and, after them, those scored by earlier runs
    (status ``earlier``), with the key numbers of :data:`INDEX_COLUMNS`."""
    rows = [
        {"record": o.name, "status": o.status, "error": o.error, **{k: v for k, v in o.row.items() if k != "record"}}
        for o in outcomes
    ]
    rows += _earlier_rows(out_dir, {o.name for o in outcomes})
    df = pd.DataFrame(rows, columns=["record", "status", "error", *INDEX_COLUMNS])
    return atomic_write_text(out_dir / "index.csv", df.to_csv(index=False))


#: Standard ECG lead names, upper-cased without spaces, dashes or underscores (``ML II`` ->
#: ``MLII``): the limb and augmented leads, the chest leads, and the modified leads of Holter
#: recordings (MIT-BIH's ``MLII``, ``ML2``, ``MV1``...).
STANDARD_LEADS: frozenset[str] = frozenset(
    {
        "I",
        "II",
        "III",
        "AVR",
        "AVL",
        "AVF",
        "DI",
        "DII",
        "DIII",
        "D1",
        "D2",
        "D3",
        *(f"V{i}" for i in range(1, 7)),
        *(f"MV{i}" for i in range(1, 7)),
        "MLI",
        "MLII",
        "MLIII",
        "ML1",
        "ML2",
        "ML3",
    }
)


def is_standard_lead(name: str) -> bool:
    """Whether ``name`` is a standard ECG lead name (:data:`STANDARD_LEADS`), in any case, with
    or without spaces, dashes, underscores or a ``lead`` prefix (``"ML II"``, ``"lead_v1"``)."""
    key = re.sub(r"[\s_\-]", "", str(name)).upper()
    key = key[4:] if key.startswith("LEAD") and len(key) > 4 else key
    return key in STANDARD_LEADS


def _leads_of(row: dict[str, Any]) -> str:
    lead = row.get("lead")
    return lead if isinstance(lead, str) else ""


def summary_table(outcomes: Sequence[RecordOutcome]) -> str:
    """A plain-text summary of a batch: counts, the lead(s) analysed, beats and flags per class
    per record, a note for each record none of whose analysed leads has a standard name, warnings
    and failures."""
    scored = [o for o in outcomes if o.status in ("scored", "skipped")]
    failed = [o for o in outcomes if o.status == "failed"]
    lines = [
        f"records: {len(outcomes)}  scored: {sum(o.status == 'scored' for o in outcomes)}  "
        f"skipped (already scored): {sum(o.status == 'skipped' for o in outcomes)}  failed: {len(failed)}"
    ]
    if scored:
        w = max([5, *(len(_leads_of(o.row)) for o in scored)])
        lines.append(
            f"{'record':>10} {'leads':<{w}} {'beats':>7} {'N':>6} {'S':>5} {'V':>5} {'F':>5} {'Q':>4} "
            f"{'flagged':>8} {'s':>6}"
        )
        for o in scored:
            r = o.row
            lines.append(
                f"{o.name:>10} {_leads_of(r) or '-':<{w}} {r.get('beats', 0):>7} {r.get('n_N', 0):>6} "
                f"{r.get('n_S', 0):>5} {r.get('n_V', 0):>5} {r.get('n_F', 0):>5} {r.get('n_Q', 0):>4} "
                f"{r.get('flagged', 0):>8} {r.get('seconds', 0) or 0:>6.2f}"
            )
        tot = {
            k: sum(int(o.row.get(k, 0) or 0) for o in scored)
            for k in ("beats", "n_N", "n_S", "n_V", "n_F", "n_Q", "flagged")
        }
        lines.append(
            f"{'TOTAL':>10} {'':<{w}} {tot['beats']:>7} {tot['n_N']:>6} {tot['n_S']:>5} {tot['n_V']:>5} "
            f"{tot['n_F']:>5} {tot['n_Q']:>4} {tot['flagged']:>8}"
        )
    for o in scored:
        leads = _leads_of(o.row)
        if leads and not any(is_standard_lead(n) for n in leads.split("+")):
            lines.append(f"NOTE {o.name}: no lead named MLII/II/V1..V6; analysed {leads}")
    for o in scored:
        if o.row.get("warning"):
            lines.append(f"WARNING {o.name}: {o.row['warning']}")
    for o in failed:
        lines.append(f"FAILED {o.name}: {o.error}")
    return "\n".join(lines)
