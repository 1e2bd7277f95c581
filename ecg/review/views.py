"""Review results shaped for display and download: the beat table joined with the latest
review decisions, small display tables (flagged beats, review history, Holter summary) and
the download files (CSV beat table, WFDB annotations, PDF report) built with the library's
exporters. Pure functions (no Streamlit); nothing here computes a clinical result of its own.

Times in tables are shown as h:mm:ss; ``time_s`` is seconds from the record start.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecg.evaluate.metrics import CLASSES_5
from ecg.scoring.summary import summarise_flags
from ecg.scoring.summary_types import ECTOPY_CLASSES, HolterSummary
from ecg.viz.grid import format_hms

# ---------------------------------------------------------------------------------------------
# review state
# ---------------------------------------------------------------------------------------------


def reviewed_table(beats: pd.DataFrame, latest: pd.DataFrame) -> pd.DataFrame:
    """The beat table plus the latest review of each beat (``latest``: one row per reviewed
    beat, columns ``beat_sample``, ``effective_label``, ``decision``, ``reviewer``,
    ``decided_at``, ``comment``, as :meth:`ecg.review.ReviewStore.latest_decisions` gives).

    Added columns: ``effective_label`` (the reviewer's label, else the model's
    ``pred_class``), ``review_decision``, ``reviewer``, ``reviewed_at``, ``review_comment``
    (empty strings for unreviewed beats)."""
    out = beats.copy()
    out["effective_label"] = out["pred_class"].astype(object)
    for c in ("review_decision", "reviewer", "reviewed_at", "review_comment"):
        out[c] = ""
    if len(latest) and len(out):
        lat = latest.set_index("beat_sample")
        hit = out["sample"].isin(lat.index).to_numpy()
        if hit.any():
            rows = lat.loc[out.loc[hit, "sample"].to_numpy()]
            out.loc[hit, "effective_label"] = rows["effective_label"].to_numpy()
            out.loc[hit, "review_decision"] = rows["decision"].to_numpy()
            out.loc[hit, "reviewer"] = rows["reviewer"].to_numpy()
            out.loc[hit, "reviewed_at"] = rows["decided_at"].to_numpy()
            out.loc[hit, "review_comment"] = rows["comment"].to_numpy()
    return out


def decision_text(decision: str, model_label: str, new_label: str | None) -> str:
    """A short description of a review decision (``confirm``, ``dismiss`` or ``relabel``)."""
    if decision == "confirm":
        return f"confirmed {model_label}"
    if decision == "dismiss":
        return f"dismissed ({model_label} -> N)"
    return f"relabelled {model_label} -> {new_label}"


def history_frame(decisions: Sequence[Any]) -> pd.DataFrame:
    """Review decisions (:class:`ecg.review.store.Decision`, oldest first) as a display
    table, newest first; times are UTC, to the second."""
    rows = [
        {
            "when (UTC)": d.decided_at[:19].replace("T", " "),
            "reviewer": d.reviewer,
            "decision": decision_text(d.decision, d.model_label, d.new_label),
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
# downloads (built with the library's exporters)
# ---------------------------------------------------------------------------------------------


def csv_bytes(reviewed: pd.DataFrame, record_name: str) -> bytes:
    """The reviewed beat table (:func:`reviewed_table`) as the library's CSV file (schema
    columns + review columns), as bytes."""
    from ecg.export.tables import write_beat_table

    with tempfile.TemporaryDirectory(prefix="ecg-dl-") as td:
        path = write_beat_table(reviewed, td, record_name, formats=("csv",))[0]
        return Path(path).read_bytes()


def annotation_bytes(reviewed: pd.DataFrame, record_name: str, fs: float, extension: str = "ecg") -> bytes:
    """A WFDB annotation file (bytes) of every beat of ``reviewed`` with its reviewed label
    (``effective_label``), at ``fs`` Hz; the aux note keeps the model's probability and score
    and adds ``rev:<decision> model:<class>`` for reviewed beats."""
    from ecg.export.wfdb_annotations import beat_table_to_annotations, write_wfdb_annotations

    samples, _, aux = beat_table_to_annotations(reviewed)  # aux: the model's probability and score
    _, symbols, _ = beat_table_to_annotations(reviewed.assign(pred_class=reviewed["effective_label"].astype(str)))
    dec = reviewed["review_decision"].astype(str).to_numpy()
    model = reviewed["pred_class"].astype(str).to_numpy()
    aux = [(a + (" " if a else "") + f"rev:{d} model:{m}") if d else a for a, d, m in zip(aux, dec, model)]
    with tempfile.TemporaryDirectory(prefix="ecg-dl-") as td:
        path = write_wfdb_annotations(record_name, td, samples, symbols, fs, aux=aux, extension=extension)
        return Path(path).read_bytes()


def pdf_bytes(
    record: Any,
    beats: pd.DataFrame,
    summary: HolterSummary,
    bundle_version: str,
    lead: str | None = None,
    threshold: float | None = None,
) -> bytes:
    """The library's PDF review report (:func:`ecg.export.pdf_report.write_pdf_report`) for
    the scored beats, as bytes. The summary's flag section is recomputed for ``beats`` (as
    flagged at ``threshold``, the dashboard's current one) with the summary's own definition."""
    from ecg.export.pdf_report import write_pdf_report

    summary = dataclasses.replace(
        summary, flags=summarise_flags(beats, threshold if threshold is not None else summary.flags.anomaly_threshold)
    )
    with tempfile.TemporaryDirectory(prefix="ecg-dl-") as td:
        path = write_pdf_report(
            record, beats, summary, Path(td) / f"{record.name}_report.pdf", bundle_version=bundle_version, lead=lead
        )
        return Path(path).read_bytes()


def safe_file_stem(name: str) -> str:
    """A download file name stem from a record name: characters other than letters, digits,
    ``.``, ``_`` and ``-`` become ``_``, leading dots are dropped; "record" if nothing is left."""
    s = re.sub(r"[^A-Za-z0-9._-]", "_", str(name)).lstrip(".")
    return s or "record"
