"""Review results shaped for display and download: the beat table joined with the latest
review decisions, small display tables (flagged beats, review history, Holter summary) and
the download files (CSV beat table, WFDB annotations, PDF report) built with the library's
exporters. Pure functions (no Streamlit); nothing here computes a clinical result of its own.

Times in tables are shown as h:mm:ss; ``time_s`` is seconds from the record start.
"""

from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ecg.evaluate.metrics import CLASSES_5
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
    rows = [{"when (UTC)": d.decided_at[:19].replace("T", " "), "reviewer": d.reviewer,
             "decision": decision_text(d.decision, d.model_label, d.new_label),
             "label": d.effective_label, "comment": d.comment, "bundle": d.bundle_version}
            for d in decisions]
    cols = ["when (UTC)", "reviewer", "decision", "label", "comment", "bundle"]
    return pd.DataFrame(rows[::-1], columns=cols)


def flagged_list(beats: pd.DataFrame, mask: np.ndarray, reviewed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Display table of the beats in ``mask``: time (h:mm:ss.s), class, its probability,
    anomaly score, flag reason, reference symbol and, given the :func:`reviewed_table`
    ``reviewed``, the review (``decision -> label``); indexed by beat sample."""
    sub = beats.loc[np.asarray(mask, bool)]
    pred = sub["pred_class"].astype(str).to_numpy()
    prob = np.array([sub[f"prob_{c}"].iloc[k] if f"prob_{c}" in sub.columns else np.nan
                     for k, c in enumerate(pred)], dtype=float)
    out = pd.DataFrame({
        "time": [format_hms(t, 1) for t in sub["time_s"].to_numpy(float)],
        "class": pred,
        "p": np.round(prob, 2),
        "anomaly score": sub["anomaly_score"].to_numpy(float).round(2),
        "flag": sub["flag_reason"].astype(str).to_numpy(),
        "reference": sub["ref_symbol"].astype(str).to_numpy(),
    }, index=pd.Index(sub["sample"].to_numpy(np.int64), name="sample"))
    if reviewed is not None and len(sub):
        rv = reviewed.set_index("sample").loc[sub["sample"].to_numpy()]
        out["review"] = np.where(rv["review_decision"].astype(str) != "",
                                 rv["review_decision"].astype(str) + " -> " + rv["effective_label"].astype(str), "")
    return out


# ---------------------------------------------------------------------------------------------
# Holter summary
# ---------------------------------------------------------------------------------------------

def _event(ev: Mapping[str, Any] | None) -> str:
    """When an event happened: its clock time, else its elapsed time, else h:mm:ss of
    ``time_s``; "-" for no event."""
    if not ev:
        return "-"
    return str(ev.get("clock") or ev.get("elapsed") or format_hms(ev.get("time_s"), 0))


def _num(v: Any, nd: int = 0, unit: str = "") -> str:
    """``v`` with thousands separators and ``nd`` decimals, "-" when not a finite number."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return "-"
    if not math.isfinite(x):
        return "-"
    return f"{x:,.{nd}f}{unit}"


def summary_tables(summary: Mapping[str, Any], beats: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The Holter summary (``ScoredRecord.summary``) as small display tables: ``beats`` (per
    class: beats, %, flagged), ``heart_rate`` (bpm), ``ectopy`` (V and S), ``pauses`` (s) and,
    when the summary has it, ``hourly``. Flag counts are taken from ``beats`` (the current
    threshold), the rest from ``summary``."""
    out: dict[str, pd.DataFrame] = {}
    b = summary.get("beats", {}) or {}
    total = int(b.get("total", len(beats)) or 0)
    by_class = b.get("by_class", {}) or {}
    flagged = beats.loc[beats["flagged"].to_numpy(bool)] if len(beats) else beats
    out["beats"] = pd.DataFrame(
        [{"class": c, "beats": int(by_class.get(c, 0) or 0),
          "%": round(100.0 * int(by_class.get(c, 0) or 0) / total, 2) if total else 0.0,
          "flagged": int((flagged["pred_class"].astype(str) == c).sum()) if len(flagged) else 0}
         for c in CLASSES_5]).set_index("class")
    hr = summary.get("heart_rate", {}) or {}
    mn, mx = hr.get("min") or {}, hr.get("max") or {}
    out["heart_rate"] = pd.DataFrame(
        [{"": "mean", "bpm": _num(hr.get("mean_bpm")), "at": "-"},
         {"": "minimum", "bpm": _num(mn.get("bpm")), "at": _event(mn)},
         {"": "maximum", "bpm": _num(mx.get("bpm")), "at": _event(mx)}]).set_index("")
    rows = []
    for cls in ("V", "S"):
        e = (summary.get("ectopy", {}) or {}).get(cls) or {}
        runs = e.get("runs") or {}
        longest = runs.get("longest") or {}
        fastest = runs.get("fastest") or {}
        rows.append({
            "class": cls, "total": int(e.get("total", 0) or 0), "burden %": _num(e.get("burden_pct"), 2),
            "per hour": _num(e.get("per_hour"), 1), "isolated": int(e.get("isolated", 0) or 0),
            "couplets": int(e.get("couplets", 0) or 0), "runs": int(runs.get("count", 0) or 0),
            "longest run": f"{longest.get('beats', '')} beats at {_event(longest)}" if longest else "-",
            "fastest run": f"{_num(fastest.get('bpm'))} bpm at {_event(fastest)}" if fastest else "-",
            "bigeminy episodes": int((e.get("bigeminy") or {}).get("episodes", 0) or 0),
            "trigeminy episodes": int((e.get("trigeminy") or {}).get("episodes", 0) or 0),
        })
    out["ectopy"] = pd.DataFrame(rows).set_index("class")
    p = summary.get("pauses", {}) or {}
    out["pauses"] = pd.DataFrame(
        [{"duration (s)": _num(ev.get("duration_s"), 2), "at": _event(ev)} for ev in (p.get("listed") or [])],
        columns=["duration (s)", "at"])
    hourly = summary.get("hourly") or []
    if hourly:
        out["hourly"] = pd.DataFrame([{
            "from": h.get("clock") or h.get("elapsed"), "beats": h.get("beats"), "V": h.get("V"), "S": h.get("S"),
            "mean bpm": _num(h.get("mean_bpm")), "min bpm": _num(h.get("min_bpm")), "max bpm": _num(h.get("max_bpm")),
        } for h in hourly]).set_index("from")
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


def pdf_bytes(record: Any, beats: pd.DataFrame, summary: Mapping[str, Any] | None, bundle_version: str,
              lead: str | None = None) -> bytes:
    """The library's PDF review report (:func:`ecg.export.pdf_report.write_pdf_report`) for
    the scored beats, as bytes."""
    from ecg.export.pdf_report import write_pdf_report

    with tempfile.TemporaryDirectory(prefix="ecg-dl-") as td:
        path = write_pdf_report(record, beats, summary, Path(td) / f"{record.name}_report.pdf",
                                bundle_version=bundle_version, lead=lead)
        return Path(path).read_bytes()


def safe_file_stem(name: str) -> str:
    """A download file name stem from a record name: characters other than letters, digits,
    ``.``, ``_`` and ``-`` become ``_``, leading dots are dropped; "record" if nothing is left."""
    s = re.sub(r"[^A-Za-z0-9._-]", "_", str(name)).lstrip(".")
    return s or "record"
