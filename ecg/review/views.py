"""Review results shaped for display and download: the reviewed beat table
(:func:`~ecg.review.reviewed.reviewed_table`, re-exported), small display tables (flagged
beats, review history, Holter summary) and the download files (CSV beat table, WFDB
annotations, PDF report...) of a reviewed record, made by :mod:`ecg.review.reviewed` exactly as
``ecg report`` makes them. Pure functions (no Streamlit); nothing here computes a clinical
result of its own.

Times in tables are shown as h:mm:ss; ``time_s`` is seconds from the record start.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ecg.evaluate.metrics import CLASSES_5
from ecg.review.reviewed import REVIEW_COLUMNS, reviewed_file_bytes, reviewed_file_name, reviewed_table
from ecg.scoring.summary_types import ECTOPY_CLASSES, HolterSummary
from ecg.viz.grid import format_hms

if TYPE_CHECKING:
    from ecg.scoring.score import ScoredRecord

__all__ = [
    "REVIEW_COLUMNS",
    "annotation_bytes",
    "csv_bytes",
    "decision_text",
    "download_bytes",
    "download_name",
    "flagged_list",
    "history_frame",
    "pdf_bytes",
    "reviewed_table",
    "safe_file_stem",
    "summary_tables",
]

# ---------------------------------------------------------------------------------------------
# review state
# ---------------------------------------------------------------------------------------------


def decision_text(decision: str, model_label: str, new_label: str | None) -> str:
    """A short description of a review decision (``confirm``, ``dismiss``, ``relabel`` or ``artefact``)."""
    if decision == "confirm":
        return f"confirmed {model_label}"
    if decision == "dismiss":
        return f"dismissed ({model_label} -> N)"
    if decision == "artefact":
        return f"marked artefact, not a beat (was {model_label})"
    return f"relabelled {model_label} -> {new_label}"


def _bulk_note(d: Any) -> str:
    """`` [bulk #id]`` for a decision of a bulk action, `` [bulk #id, undone]`` once undone."""
    bulk_id = getattr(d, "bulk_id", None)
    if bulk_id is None:
        return ""
    return f" [bulk #{bulk_id}{', undone' if getattr(d, 'undone_at', None) else ''}]"


def history_frame(decisions: Sequence[Any]) -> pd.DataFrame:
    """Review decisions (:class:`ecg.review.store.Decision`, oldest first) as a display
    table, newest first; times are UTC, to the second. A decision of a bulk (family) action
    says so, and whether that action was undone."""
    rows = [
        {
            "when (UTC)": d.decided_at[:19].replace("T", " "),
            "reviewer": d.reviewer,
            "decision": decision_text(d.decision, d.model_label, d.new_label) + _bulk_note(d),
            "label": d.effective_label,
            "comment": d.comment,
            "bundle": d.bundle_version,
        }
        for d in decisions
    ]
    cols = ["when (UTC)", "reviewer", "decision", "label", "comment", "bundle"]
    return pd.DataFrame(rows[::-1], columns=cols)


def flagged_list(beats: pd.DataFrame, mask: np.ndarray, reviewed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Display table of the beats in ``mask``: time (h:mm:ss.s), class, its probability,
    anomaly score, flag reason, reference symbol and, given the :func:`reviewed_table`
    ``reviewed``, the review (``decision -> label``); indexed by beat sample."""
    sub = beats.loc[np.asarray(mask, bool)]
    pred = sub["pred_class"].astype(str).to_numpy()
    prob = np.array(
        [sub[f"prob_{c}"].iloc[k] if f"prob_{c}" in sub.columns else np.nan for k, c in enumerate(pred)], dtype=float
    )
    out = pd.DataFrame(
        {
            "time": [format_hms(t, 1) for t in sub["time_s"].to_numpy(float)],
            "class": pred,
            "p": np.round(prob, 2),
            "anomaly score": sub["anomaly_score"].to_numpy(float).round(2),
            "flag": sub["flag_reason"].astype(str).to_numpy(),
            "reference": sub["ref_symbol"].astype(str).to_numpy(),
        },
        index=pd.Index(sub["sample"].to_numpy(np.int64), name="sample"),
    )
    if reviewed is not None and len(sub):
        rv = reviewed.set_index("sample").loc[sub["sample"].to_numpy()]
        out["review"] = np.where(
            rv["review_decision"].astype(str) != "",
            rv["review_decision"].astype(str) + " -> " + rv["effective_label"].astype(str),
            "",
        )
    return out


# ---------------------------------------------------------------------------------------------
# Holter summary
# ---------------------------------------------------------------------------------------------


def _event(ev: Any) -> str:
    """When an event happened: its clock time, else its elapsed time, else h:mm:ss of its
    ``time_s`` / ``start_s``; "-" for no event."""
    if ev is None:
        return "-"
    t = getattr(ev, "time_s", None)
    if t is None:
        t = getattr(ev, "start_s", None)
    return str(getattr(ev, "clock", None) or getattr(ev, "elapsed", None) or format_hms(t, 0))


def _num(v: Any, nd: int = 0, unit: str = "") -> str:
    """``v`` with thousands separators and ``nd`` decimals, "-" when not a finite number."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return "-"
    if not math.isfinite(x):
        return "-"
    return f"{x:,.{nd}f}{unit}"


def summary_tables(summary: HolterSummary, beats: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The Holter summary (``ScoredRecord.summary``) as small display tables: ``beats`` (per
    class: beats, %, flagged), ``heart_rate`` (bpm), ``ectopy`` (V, S and F), ``pauses`` (s),
    ``af`` (episodes), ``quality`` (unreadable spans), ``hourly``, ``daily`` (24-hour periods) and ``hrv``
    (time-domain HRV, whole recording then hour by hour). Flag counts are taken
    from ``beats`` (the current threshold), every other figure from ``summary``."""
    out: dict[str, pd.DataFrame] = {}
    b = summary.beats
    flagged = beats.loc[beats["flagged"].to_numpy(bool)] if len(beats) else beats
    out["beats"] = pd.DataFrame(
        [
            {
                "class": c,
                "beats": int(b.by_class.get(c, 0)),
                "%": round(100.0 * int(b.by_class.get(c, 0)) / b.total, 2) if b.total else 0.0,
                "flagged": int((flagged["pred_class"].astype(str) == c).sum()) if len(flagged) else 0,
            }
            for c in CLASSES_5
        ]
    ).set_index("class")
    hr = summary.heart_rate
    out["heart_rate"] = pd.DataFrame(
        [
            {"": "mean", "bpm": _num(hr.mean_bpm), "at": "-"},
            {"": "minimum", "bpm": _num(hr.min.bpm if hr.min else None), "at": _event(hr.min)},
            {"": "maximum", "bpm": _num(hr.max.bpm if hr.max else None), "at": _event(hr.max)},
        ]
    ).set_index("")
    rows = []
    for cls in ECTOPY_CLASSES:
        e = summary.ectopy.of(cls)
        longest, fastest = e.runs.longest, e.runs.fastest
        rows.append(
            {
                "class": cls,
                "total": e.total,
                "burden %": _num(e.burden_pct, 2),
                "per hour": _num(e.per_hour, 1),
                "isolated": e.isolated,
                "couplets": e.couplets,
                "runs": e.runs.count,
                "longest run": f"{longest.beats} beats at {_event(longest)}" if longest else "-",
                "fastest run": f"{_num(fastest.bpm)} bpm at {_event(fastest)}" if fastest else "-",
                "bigeminy episodes": e.bigeminy.episodes,
                "trigeminy episodes": e.trigeminy.episodes,
            }
        )
    out["ectopy"] = pd.DataFrame(rows).set_index("class")
    out["pauses"] = pd.DataFrame(
        [{"duration (s)": _num(ev.duration_s, 2), "at": _event(ev)} for ev in summary.pauses.listed],
        columns=["duration (s)", "at"],
    )
    out["af"] = pd.DataFrame(
        [
            {
                "from": _event(e),
                "to": format_hms(e.end_s, 0),
                "duration": format_hms(e.duration_s, 0),
                "mean HR (bpm)": _num(e.mean_hr_bpm),
                "beats": e.beats,
            }
            for e in summary.af.episodes
        ],
        columns=["from", "to", "duration", "mean HR (bpm)", "beats"],
    )
    out["quality"] = pd.DataFrame(
        [
            {
                "from": _event(g),
                "to": format_hms(g.end_s, 0),
                "duration (s)": _num((g.end_s or 0.0) - (g.start_s or 0.0), 1),
                "leads": ", ".join(g.leads),
            }
            for g in summary.signal_quality.segments
        ],
        columns=["from", "to", "duration (s)", "leads"],
    )
    if summary.hrv is not None:
        rows = [("whole recording", summary.hrv)] + [(h.clock or h.elapsed, h) for h in summary.hrv.hourly]
        out["hrv"] = pd.DataFrame(
            [
                {
                    "period": label,
                    "NN intervals": v.n_intervals,
                    "mean NN (ms)": _num(v.mean_nn_ms),
                    "SDNN (ms)": _num(v.sdnn_ms, 1),
                    "SDANN (ms)": _num(v.sdann_ms, 1),
                    "SDNN index (ms)": _num(v.sdnn_index_ms, 1),
                    "RMSSD (ms)": _num(v.rmssd_ms, 1),
                    "pNN50 (%)": _num(v.pnn50_pct, 1),
                    "triangular index": _num(v.triangular_index, 1),
                }
                for label, v in rows
            ]
        ).set_index("period")
    for key, periods in (("hourly", summary.hourly), ("daily", summary.daily)):
        if periods:
            out[key] = pd.DataFrame(
                [
                    {
                        "from": p.clock or p.elapsed,
                        "beats": p.beats,
                        "V": p.V,
                        "S": p.S,
                        "F": p.F,
                        "AF beats": p.af_beats,
                        "mean bpm": _num(p.mean_bpm),
                        "min bpm": _num(p.min_bpm),
                        "max bpm": _num(p.max_bpm),
                    }
                    for p in periods
                ]
            ).set_index("from")
    return out


# ---------------------------------------------------------------------------------------------
# downloads: the files of ``ecg report``, made by the same functions (ecg.review.reviewed)
# ---------------------------------------------------------------------------------------------


def download_bytes(
    reviewed: ScoredRecord, fmt: str, name: str | None = None, *, full_disclosure: bool = False
) -> bytes:
    """Reviewed output ``fmt`` (csv, parquet, json, wfdb, edf, pdf) of an
    :func:`~ecg.review.reviewed.apply_review` result as bytes: byte for byte the file
    ``ecg report`` writes (PDFs differ only in their creation time), named
    :func:`download_name`."""
    return reviewed_file_bytes(reviewed, fmt, name=name, full_disclosure=full_disclosure)


def download_name(name: str, fmt: str) -> str:
    """File name of a download, as ``ecg report`` names the file (``<stem>_reviewed_beats.csv``,
    ``<stem>_reviewed.ecg``, ``<stem>_reviewed_report.pdf``...), ``name`` made safe first."""
    return reviewed_file_name(safe_file_stem(name), fmt)


def csv_bytes(reviewed: ScoredRecord, name: str | None = None) -> bytes:
    """The reviewed beat table (schema columns + :data:`~ecg.review.reviewed.REVIEW_COLUMNS`) as CSV bytes."""
    return download_bytes(reviewed, "csv", name)


def annotation_bytes(reviewed: ScoredRecord, name: str | None = None) -> bytes:
    """The WFDB annotation file (annotator ``ecg``) of every beat with its reviewed label, as bytes."""
    return download_bytes(reviewed, "wfdb", name)


def pdf_bytes(reviewed: ScoredRecord, name: str | None = None, *, full_disclosure: bool = False) -> bytes:
    """The PDF report of the reviewed record (reviewed summary and labels), as bytes."""
    return download_bytes(reviewed, "pdf", name, full_disclosure=full_disclosure)


def safe_file_stem(name: str) -> str:
    """A download file name stem from a record name: characters other than letters, digits,
    ``.``, ``_`` and ``-`` become ``_``, leading dots are dropped; "record" if nothing is left."""
    s = re.sub(r"[^A-Za-z0-9._-]", "_", str(name)).lstrip(".")
    return s or "record"
