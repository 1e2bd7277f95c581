"""Reviewed outputs: a scored record with the reviewers' decisions applied, and its files.

The one path from review decisions to what a clinician receives, used by ``ecg report`` and by
the dashboard's downloads alike (so both produce the same files):

1. :func:`reviewed_table` joins the beat table with the effective decision of each beat
   (:meth:`ecg.review.ReviewStore.latest_decisions`): the columns :data:`REVIEW_COLUMNS`.
2. :func:`apply_review` returns the scored record with that table and a *reviewed* Holter
   summary: :func:`ecg.scoring.summary.holter_summary`, the function scoring uses, run with
   ``class_column="effective_label"`` and with the scoring run's own inputs (signal quality,
   gaps, threshold, provenance). Its ``review`` section (:class:`ReviewInfo`) counts the
   reviewed beats, the beats whose class the reviewers changed and the artefacts removed.
3. :func:`write_reviewed_outputs` writes the files with :func:`ecg.scoring.batch.write_outputs`
   (``class_column="effective_label"``); :func:`reviewed_file_bytes` gives one of them as bytes.

*Artefacts.* A detection a reviewer marked ``artefact`` is not a beat. It stays in the reviewed
beat table (``effective_label`` Q, ``review_decision`` "artefact", ``nn`` False) so the
decision is visible and auditable, but the reviewed summary is computed without it: it is not
in the beat counts, and the RR interval across it runs from the beat before to the beat after,
so heart rate, pauses, HRV and ectopy patterns are those of the real beats. ``nn`` of the other
beats is recomputed with the reviewed labels (a V beat relabelled N can start an NN interval);
``rr_prev_s`` / ``rr_next_s`` keep the values the classifier saw.

*Naming.* Reviewed files are named after ``<record>_reviewed``: ``ecg report`` writes
``OUT/<record>_reviewed/<record>_reviewed_beats.csv``, ``..._reviewed_beats.parquet``,
``..._reviewed_summary.json``, ``<record>_reviewed.ecg`` (WFDB annotations, reviewed labels),
``<record>_reviewed.edf``, ``<record>_reviewed_report.pdf`` and ``..._reviewed_manifest.json``
(:func:`reviewed_name`, :func:`reviewed_file_name`), so they never mix with the model-only files
of ``ecg score`` (``OUT/<record>/``), even in the same folder.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from ecg.review.store import ReviewStore
from ecg.scoring.batch import record_files, write_outputs, write_record_files
from ecg.scoring.summary import nn_column, summarise_scored
from ecg.scoring.summary_types import HolterSummary, ReviewInfo

if TYPE_CHECKING:
    from ecg.scoring.score import ScoredRecord

#: Column of the reviewed class of each beat (the ``class_column`` of reviewed outputs).
REVIEWED_CLASS_COLUMN: Final[str] = "effective_label"
#: Columns :func:`reviewed_table` adds to the beat table, in order.
REVIEW_COLUMNS: Final[tuple[str, ...]] = (
    "effective_label",
    "review_decision",
    "reviewer",
    "reviewed_at",
    "review_comment",
)
#: Suffix of the name reviewed outputs are written under (``<record>_reviewed``).
REVIEWED_SUFFIX: Final[str] = "_reviewed"
# ``latest`` columns read by :func:`reviewed_table`, and the table columns they fill.
_FROM_LATEST: Final[dict[str, str]] = {
    "effective_label": "effective_label",
    "decision": "review_decision",
    "reviewer": "reviewer",
    "decided_at": "reviewed_at",
    "comment": "review_comment",
}


def reviewed_table(beats: pd.DataFrame, latest: pd.DataFrame) -> pd.DataFrame:
    """The beat table plus the effective review of each beat.

    ``latest`` has one row per reviewed beat with ``beat_sample``, ``effective_label``,
    ``decision``, ``reviewer``, ``decided_at`` and ``comment``, as
    :meth:`ecg.review.ReviewStore.latest_decisions` gives. Added columns (:data:`REVIEW_COLUMNS`):
    ``effective_label`` (the reviewer's label, else the model's ``pred_class``),
    ``review_decision`` (confirm / dismiss / relabel / artefact), ``reviewer``,
    ``reviewed_at`` (ISO UTC) and ``review_comment``; empty strings for unreviewed beats.
    Decisions on samples not in ``beats`` are ignored."""
    out = beats.copy()
    out["effective_label"] = out["pred_class"].astype(object)
    for c in REVIEW_COLUMNS[1:]:
        out[c] = ""
    if len(latest) and len(out):
        lat = latest.drop_duplicates("beat_sample", keep="last").set_index("beat_sample")
        hit = out["sample"].isin(lat.index).to_numpy()
        if hit.any():
            rows = lat.loc[out.loc[hit, "sample"].to_numpy()]
            for src, dst in _FROM_LATEST.items():
                out.loc[hit, dst] = rows[src].astype(object).to_numpy()
    return out


def is_artefact(reviewed: pd.DataFrame) -> np.ndarray:
    """Bool per row of a :func:`reviewed_table`: a reviewer marked the detection an artefact."""
    return reviewed["review_decision"].astype(str).to_numpy() == "artefact"


def review_info(reviewed: pd.DataFrame, source: str = "") -> ReviewInfo:
    """What the review changed in a :func:`reviewed_table`: ``reviewed_beats`` (rows with an
    effective decision), ``changed_beats`` (reviewed rows whose ``effective_label`` differs
    from ``pred_class``, plus every artefact, which is removed from the beats),
    ``artefact_beats``, the ``reviewers`` (sorted) and the time of the latest effective
    decision (``last_decision_at``, ISO UTC; None without decisions)."""
    decided = reviewed["review_decision"].astype(str).to_numpy() != ""
    artefact = is_artefact(reviewed)
    relabelled = reviewed["effective_label"].astype(str).to_numpy() != reviewed["pred_class"].astype(str).to_numpy()
    when = reviewed["reviewed_at"].astype(str).to_numpy()[decided]
    return ReviewInfo(
        reviewed_beats=int(decided.sum()),
        changed_beats=int((decided & (relabelled | artefact)).sum()),
        artefact_beats=int(artefact.sum()),
        reviewers=sorted(set(reviewed["reviewer"].astype(str).to_numpy()[decided].tolist())),
        last_decision_at=str(max(when)) if when.size else None,
        source=source,
    )


def reviewed_summary(scored: ScoredRecord, reviewed: pd.DataFrame, *, source: str = "") -> HolterSummary:
    """The Holter summary of a :func:`reviewed_table` of ``scored``: :func:`holter_summary` with
    ``class_column="effective_label"``, the scoring run's quality, gaps, threshold and
    provenance, without the artefact rows (see the module docstring); ``review`` filled by
    :func:`review_info`."""
    summary = summarise_scored(scored, reviewed.loc[~is_artefact(reviewed)], REVIEWED_CLASS_COLUMN)
    summary.review = review_info(reviewed, source)
    return summary


def apply_review(scored: ScoredRecord, latest: pd.DataFrame, *, source: str = "") -> ScoredRecord:
    """``scored`` with the decisions ``latest`` applied (a copy; ``scored`` is not changed):
    ``beats`` is the :func:`reviewed_table` (``nn`` recomputed with the reviewed labels,
    False for artefacts) and ``summary`` the :func:`reviewed_summary`. ``source`` says where
    the decisions came from (kept in ``summary.review.source``).

    To apply a review at another anomaly threshold (the dashboard's slider), pass
    ``dataclasses.replace(scored, beats=reflag(scored.beats, t), threshold=t)``."""
    table = reviewed_table(scored.beats, latest)
    artefact = is_artefact(table)
    if len(table):
        nn = np.zeros(len(table), bool)
        nn[~artefact] = nn_column(
            table.loc[~artefact],
            float(scored.record.fs),
            class_column=REVIEWED_CLASS_COLUMN,
            quality=scored.quality,
            gap_runs=scored.gap_runs,
        )
        table["nn"] = nn
    return dataclasses.replace(scored, beats=table, summary=reviewed_summary(scored, table, source=source))


def review_source(store: ReviewStore, key: str) -> str:
    """How a reviewed summary names its decisions: the database file and the review key."""
    return f"{store.path} (review key {key})"


def load_review(scored: ScoredRecord, store: ReviewStore, key: str) -> ScoredRecord:
    """:func:`apply_review` with the effective decisions stored under review ``key``."""
    return apply_review(scored, store.latest_decisions(key), source=review_source(store, key))


def reviewed_name(name: str) -> str:
    """The name reviewed outputs of record ``name`` are written under: ``<name>_reviewed``."""
    return f"{name}{REVIEWED_SUFFIX}"


def reviewed_file_name(name: str, fmt: str) -> str:
    """File name of the reviewed output ``fmt`` (csv, parquet, json, wfdb, edf, pdf, manifest)
    of record ``name``, e.g. ``100_reviewed_beats.csv``."""
    files = record_files(Path("."), reviewed_name(name))
    if fmt not in files:
        raise ValueError(f"unknown output format {fmt!r}; expected one of {', '.join(files)}")
    return files[fmt].name


def write_reviewed_outputs(
    reviewed: ScoredRecord,
    out_dir: str | os.PathLike,
    formats: Sequence[str],
    *,
    name: str | None = None,
    full_disclosure: bool = False,
    manifest: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write the reviewed outputs of an :func:`apply_review` result into
    ``out_dir/<name>_reviewed/`` as a whole (:func:`ecg.scoring.batch.write_outputs` with
    ``class_column="effective_label"``); returns the paths written by format."""
    _check_reviewed(reviewed)
    return write_outputs(
        reviewed,
        Path(out_dir),
        formats,
        manifest=manifest,
        name=reviewed_name(name or reviewed.record.name),
        full_disclosure=full_disclosure,
        class_column=REVIEWED_CLASS_COLUMN,
    )


def reviewed_file_bytes(
    reviewed: ScoredRecord, fmt: str, *, name: str | None = None, full_disclosure: bool = False
) -> bytes:
    """One reviewed output file (``fmt``: csv, parquet, json, wfdb, edf or pdf) of an
    :func:`apply_review` result, as bytes: the file :func:`write_reviewed_outputs` writes,
    made by the same function (:func:`ecg.scoring.batch.write_record_files`)."""
    _check_reviewed(reviewed)
    stem = reviewed_name(name or reviewed.record.name)
    with tempfile.TemporaryDirectory(prefix="ecg-reviewed-") as td:
        written = write_record_files(
            reviewed, Path(td), (fmt,), name=stem, full_disclosure=full_disclosure, class_column=REVIEWED_CLASS_COLUMN
        )
        if fmt not in written:
            raise ValueError(f"unknown output format {fmt!r}")
        return written[fmt].read_bytes()


def _check_reviewed(reviewed: Any) -> None:
    if isinstance(reviewed, pd.DataFrame) or not hasattr(reviewed, "beats"):
        raise TypeError("expected a reviewed ScoredRecord (ecg.review.reviewed.apply_review), not a beat table")
    if REVIEWED_CLASS_COLUMN not in reviewed.beats.columns or reviewed.summary is None:
        raise ValueError("this scored record has no review applied; call ecg.review.reviewed.apply_review first")


__all__ = [
    "REVIEWED_CLASS_COLUMN",
    "REVIEWED_SUFFIX",
    "REVIEW_COLUMNS",
    "apply_review",
    "is_artefact",
    "load_review",
    "review_info",
    "review_source",
    "reviewed_file_bytes",
    "reviewed_file_name",
    "reviewed_name",
    "reviewed_summary",
    "reviewed_table",
    "write_reviewed_outputs",
]
