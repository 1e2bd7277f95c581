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

Every file is written atomically; the manifest is written last, so a record whose manifest
matches the current bundle, input and options is complete and is skipped on a re-run
(unless ``force``). A record that fails is reported with its reason and the batch goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import pandas as pd

from ecg.errors import ECGError
from ecg.io.atomic import atomic_write_text
from ecg.io.records import is_physionet_name, list_records
from ecg.scoring.summary_types import HolterSummary

ALL_FORMATS: tuple[str, ...] = ("csv", "parquet", "json", "wfdb", "edf", "pdf")
DEFAULT_FORMATS: tuple[str, ...] = ALL_FORMATS


@dataclass(frozen=True)
class RecordInput:
    """One record to score: a local base path (without extension) or a PhysioNet name."""

    name: str
    path: str | None = None
    pn_dir: str | None = None

    @property
    def label(self) -> str:
        return f"{self.pn_dir}/{self.name}" if self.pn_dir else str(self.path)


@dataclass
class RecordOutcome:
    name: str
    status: str  # "scored", "skipped", "failed"
    error: str = ""
    row: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def resolve_inputs(inputs: Iterable[str]) -> list[RecordInput]:
    """Expand directories (RECORDS file, else ``*.hea``), record paths (with or without
    ``.hea``) and PhysioNet names such as ``mitdb/100`` into records to score."""
    out: list[RecordInput] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            for name in list_records(p):
                out.append(RecordInput(name=Path(name).name, path=str(p / name)))
        elif p.suffix in (".hea", ".dat", ".atr") or p.with_suffix(".hea").is_file() or Path(str(p) + ".hea").is_file():
            base = p.with_suffix("") if p.suffix in (".hea", ".dat", ".atr") else p
            out.append(RecordInput(name=base.name, path=str(base)))
        elif is_physionet_name(item):
            db, _, rec = item.rpartition("/")
            out.append(RecordInput(name=rec, pn_dir=db))
        else:
            # Keep it: scoring will fail with a clear "header file not found" for this record.
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
    for ext in (".hea", ".dat", ".atr"):
        f = base.with_suffix(ext) if base.suffix == "" else Path(str(base) + ext)
        if f.is_file():
            st = f.stat()
            h.update(f"{ext}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def output_paths(out_dir: Path, name: str) -> dict[str, Path]:
    d = out_dir / name
    return {"csv": d / f"{name}_beats.csv", "parquet": d / f"{name}_beats.parquet", "json": d / f"{name}_summary.json",
            "wfdb": d / f"{name}.ecg", "edf": d / f"{name}.edf", "pdf": d / f"{name}_report.pdf",
            "manifest": d / f"{name}_manifest.json"}


def _manifest(rec: RecordInput, bundle_digest: str, options: dict[str, Any]) -> dict[str, Any]:
    return {"record": rec.name, "input": rec.label, "input_digest": _input_digest(rec), "bundle_sha256": bundle_digest,
            "options": options}


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
    "duration_s", "analysable_pct", "lead", "beats", "n_N", "n_S", "n_V", "n_F", "n_Q", "flagged", "hr_mean_bpm",
    "v_burden_pct", "s_burden_pct", "f_burden_pct", "af_burden_pct", "af_episodes", "pauses", "longest_pause_s",
    "warning", "seconds")


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


def score_one(rec: RecordInput, out_dir: Path, bundle_path: str | None, options: dict[str, Any],
              formats: Sequence[str]) -> RecordOutcome:
    """Score one record and write its outputs. Never raises: failures are returned."""
    from ecg.io.records import load_record
    from ecg.scoring.score import _cached_bundle, score_record

    t0 = time.perf_counter()
    try:
        bundle = _cached_bundle(bundle_path)
        if rec.pn_dir:
            record = load_record(rec.name, pn_dir=rec.pn_dir)
        else:
            record = load_record(rec.path)
        scored = score_record(record, bundle, lead=options.get("lead"), threshold=options.get("threshold"))
        write_outputs(scored, out_dir, formats)
        row = index_row(scored.summary, scored.seconds)
        manifest = _manifest(rec, bundle.digest, options)
        manifest.update({"formats": list(formats), "bundle_version": bundle.version, "row": row})
        atomic_write_text(output_paths(out_dir, rec.name)["manifest"], json.dumps(manifest, indent=2, default=str))
        return RecordOutcome(rec.name, "scored", row=row, seconds=time.perf_counter() - t0)
    except ECGError as exc:
        return RecordOutcome(rec.name, "failed", error=str(exc), seconds=time.perf_counter() - t0)
    except Exception as exc:  # a bug or an unexpected file problem: report it, keep the batch going
        last = traceback.extract_tb(exc.__traceback__)[-1]
        return RecordOutcome(rec.name, "failed", error=f"{rec.label}: unexpected {type(exc).__name__}: {exc} "
                                                       f"(at {Path(last.filename).name}:{last.lineno})",
                             seconds=time.perf_counter() - t0)


def write_outputs(scored: Any, out_dir: Path, formats: Sequence[str]) -> dict[str, Path]:
    """Write the chosen output formats of one scored record; returns the paths written."""
    from ecg.export.tables import write_beat_table, write_summary_json

    name = scored.record.name
    paths = output_paths(out_dir, name)
    d = paths["csv"].parent
    d.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    table_formats = tuple(f for f in ("csv", "parquet") if f in formats)
    if table_formats:
        for p in write_beat_table(scored.beats, d, name, formats=table_formats):
            written[p.suffix.lstrip(".")] = p
    if "json" in formats:
        written["json"] = write_summary_json(scored.summary, paths["json"])
    if "wfdb" in formats:
        from ecg.export.wfdb_annotations import write_beat_annotations

        written["wfdb"] = write_beat_annotations(scored.beats, name, d, scored.record.fs, extension="ecg")
    if "edf" in formats:
        from ecg.export.edf import write_edf

        written["edf"] = write_edf(scored.record, scored.beats, paths["edf"])
    if "pdf" in formats:
        from ecg.export.pdf_report import write_pdf_report

        written["pdf"] = write_pdf_report(scored.record, scored.beats, scored.summary, paths["pdf"],
                                          lead=scored.leads[0], bundle_version=scored.bundle_version)
    return written


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


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
) -> list[RecordOutcome]:
    """Score every input record into ``out_dir``; returns one outcome per record (in input
    order) and writes ``out_dir/index.csv``."""
    from tqdm.auto import tqdm

    from ecg.scoring.score import _cached_bundle

    bad = sorted(set(formats) - set(ALL_FORMATS))
    if bad:
        raise ECGError(f"unknown output formats {bad}; choose from {list(ALL_FORMATS)}")
    if threshold is not None and not 0.0 <= float(threshold) <= 100.0:
        raise ECGError(f"--threshold must be on the anomaly score's 0-100 scale (99 = calibrated), got {threshold:g}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = resolve_inputs(inputs)
    bpath = str(bundle_path) if bundle_path is not None else None
    bundle = _cached_bundle(bpath)  # fail early on a bad bundle
    options = {"threshold": threshold, "lead": lead}
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

    if jobs <= 1 or len(todo) <= 1:
        for rec in todo:
            finish(score_one(rec, out, bpath, options, formats))
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                 initargs=(1,)) as pool:
            futs = {pool.submit(score_one, rec, out, bpath, options, formats): rec for rec in todo}
            for fut in as_completed(futs):
                finish(fut.result())
    bar.close()
    ordered = [outcomes[r.name] for r in records]
    write_index(ordered, out)
    return ordered


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
            row = index_row(HolterSummary.from_dict(json.loads(js.read_text())), have.get("row", {}).get("seconds")) \
                if js.is_file() else dict(have.get("row", {}))
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            continue
        rows.append({"record": name, "status": "earlier", "error": "", **{k: v for k, v in row.items() if k != "record"}})
    return rows


def write_index(outcomes: Sequence[RecordOutcome], out_dir: Path) -> Path:
    """``index.csv``: one row per record in ``out_dir``, this run's (status ``scored``,
    ``skipped`` or ``failed``, with the error) and, after them, those scored by earlier runs
    (status ``earlier``), with the key numbers of :data:`INDEX_COLUMNS`."""
    rows = [{"record": o.name, "status": o.status, "error": o.error, **{k: v for k, v in o.row.items() if k != "record"}}
            for o in outcomes]
    rows += _earlier_rows(out_dir, {o.name for o in outcomes})
    df = pd.DataFrame(rows, columns=["record", "status", "error", *INDEX_COLUMNS])
    return atomic_write_text(out_dir / "index.csv", df.to_csv(index=False))


def summary_table(outcomes: Sequence[RecordOutcome]) -> str:
    """A plain-text summary of a batch: counts, beats and flags per class, failures."""
    scored = [o for o in outcomes if o.status in ("scored", "skipped")]
    failed = [o for o in outcomes if o.status == "failed"]
    lines = [f"records: {len(outcomes)}  scored: {sum(o.status == 'scored' for o in outcomes)}  "
             f"skipped (already scored): {sum(o.status == 'skipped' for o in outcomes)}  failed: {len(failed)}"]
    if scored:
        lines.append(f"{'record':>10} {'beats':>7} {'N':>6} {'S':>5} {'V':>5} {'F':>5} {'Q':>4} {'flagged':>8} {'s':>6}")
        for o in scored:
            r = o.row
            lines.append(f"{o.name:>10} {r.get('beats', 0):>7} {r.get('n_N', 0):>6} {r.get('n_S', 0):>5} "
                         f"{r.get('n_V', 0):>5} {r.get('n_F', 0):>5} {r.get('n_Q', 0):>4} {r.get('flagged', 0):>8} "
                         f"{r.get('seconds', 0) or 0:>6.2f}")
        tot = {k: sum(int(o.row.get(k, 0) or 0) for o in scored) for k in ("beats", "n_N", "n_S", "n_V", "n_F", "n_Q", "flagged")}
        lines.append(f"{'TOTAL':>10} {tot['beats']:>7} {tot['n_N']:>6} {tot['n_S']:>5} {tot['n_V']:>5} {tot['n_F']:>5} "
                     f"{tot['n_Q']:>4} {tot['flagged']:>8}")
    for o in scored:
        if o.row.get("warning"):
            lines.append(f"WARNING {o.name}: {o.row['warning']}")
    for o in failed:
        lines.append(f"FAILED {o.name}: {o.error}")
    return "\n".join(lines)
