"""UI helpers of the review dashboard that do not need Streamlit: parsing what the user typed,
navigating between beats, shaping library results into tables for display, and building the
download files with the library's exporters. Numbers come from :func:`ecg.score_record`,
figures from :mod:`ecg.viz`; nothing here computes a clinical result of its own.
"""

from __future__ import annotations

import math
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ecg.evaluate.metrics import CLASSES_5, confusion_matrix, ec57_statistics
from ecg.viz.grid import format_hms

#: Flag reasons a user can filter on (see :mod:`ecg.scoring.schema`).
FLAG_REASONS: tuple[str, ...] = ("class", "anomaly", "class+anomaly")
#: Beats over which the local mean RR is taken (the segmentation's ``rr_local_s`` uses 10).
LOCAL_RR_BEATS: int = 10
#: RR intervals outside this range (s) are not used for the local mean.
RR_RANGE_S: tuple[float, float] = (0.2, 3.0)
#: Overview: signal points per lead (MinMaxLTTB) and flagged-beat markers sent at most.
OVERVIEW_POINTS: int = 4000
OVERVIEW_MARKERS: int = 1500
#: Invisible click targets added along the signal of the overview / of each strip lead.
CLICK_POINTS_OVERVIEW: int = 600
CLICK_POINTS_STRIP: int = 250


# ---------------------------------------------------------------------------------------------
# input parsing and navigation
# ---------------------------------------------------------------------------------------------

_TIME = re.compile(r"^\s*(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?)\s*$")


def parse_time(text: str) -> float:
    """Seconds from ``"754"``, ``"754.5"``, ``"12:34"`` (m:ss) or ``"0:12:34.5"`` (h:mm:ss).
    Raises ValueError for anything else."""
    m = _TIME.match(str(text))
    if not m:
        raise ValueError(f"not a time: {text!r} (use seconds, m:ss or h:mm:ss)")
    a, b, s = m.groups()
    if a is not None and b is not None:
        h, mnt = int(a), int(b)
    elif a is not None:
        h, mnt = 0, int(a)
    else:
        h, mnt = 0, 0
    sec = float(s)
    if (a is not None and sec >= 60) or (b is not None and mnt >= 60):
        raise ValueError(f"not a time: {text!r} (minutes and seconds must be below 60)")
    return h * 3600.0 + mnt * 60.0 + sec


def strip_start_for(t_s: float, duration_s: float, record_s: float) -> float:
    """Strip start (s, whole 0.1 s) that puts ``t_s`` in the middle of a ``duration_s`` strip,
    kept inside the record."""
    hi = max(0.0, record_s - duration_s)
    return float(round(min(max(0.0, t_s - duration_s / 2), hi), 1))


def neighbour(samples: np.ndarray, current: int | None, direction: int) -> int | None:
    """The first of the sorted ``samples`` after (direction +1) or before (-1) ``current``;
    ``None`` when there is none. With ``current`` None: the first (or last) sample."""
    samples = np.asarray(samples, dtype=np.int64)
    if samples.size == 0:
        return None
    if current is None:
        return int(samples[0] if direction > 0 else samples[-1])
    if direction > 0:
        i = int(np.searchsorted(samples, current, side="right"))
        return int(samples[i]) if i < samples.size else None
    i = int(np.searchsorted(samples, current, side="left")) - 1
    return int(samples[i]) if i >= 0 else None


def nearest(samples: np.ndarray, target: float) -> int | None:
    """Position (index) in sorted ``samples`` of the value nearest ``target``; None if empty."""
    samples = np.asarray(samples)
    if samples.size == 0:
        return None
    i = int(np.searchsorted(samples, target))
    cand = [j for j in (i - 1, i) if 0 <= j < samples.size]
    return min(cand, key=lambda j: abs(float(samples[j]) - float(target)))


def local_mean_rr(beats: pd.DataFrame, i: int, n: int = LOCAL_RR_BEATS) -> float | None:
    """Mean of the previous-RR intervals (s) of beat ``i`` and the ``n - 1`` beats before it
    (intervals outside 0.2-3 s left out), like the models' ``rr_local_s``; None if none."""
    lo = max(0, i - n + 1)
    rr = beats["rr_prev_s"].to_numpy(float)[lo:i + 1]
    rr = rr[np.isfinite(rr) & (rr >= RR_RANGE_S[0]) & (rr <= RR_RANGE_S[1])]
    return float(rr.mean()) if rr.size else None


def selection_point(event: Any) -> dict[str, Any] | None:
    """The first selected point of a ``st.plotly_chart(on_select=...)`` state, or None."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError, IndexError):
        try:
            points = event.selection.points
        except AttributeError:
            return None
    return dict(points[0]) if points else None


def point_sample(point: Mapping[str, Any] | None) -> int | None:
    """The beat sample stored as ``customdata`` on a marker point, or None (a trace point)."""
    if not point:
        return None
    cd = point.get("customdata")
    if isinstance(cd, (list, tuple)):
        cd = cd[0] if cd else None
    if cd is None:
        return None
    try:
        v = float(cd)
    except (TypeError, ValueError):
        return None
    return int(v) if math.isfinite(v) and v >= 0 else None


# ---------------------------------------------------------------------------------------------
# flags and filters
# ---------------------------------------------------------------------------------------------

def filter_mask(beats: pd.DataFrame, classes: Sequence[str], reasons: Sequence[str]) -> np.ndarray:
    """Flagged beats whose predicted class is in ``classes`` and flag reason in ``reasons``."""
    if len(beats) == 0:
        return np.zeros(0, bool)
    return (beats["flagged"].to_numpy(bool)
            & beats["pred_class"].astype(str).isin(list(classes)).to_numpy()
            & beats["flag_reason"].astype(str).isin(list(reasons)).to_numpy())


def view_table(beats: pd.DataFrame, shown: np.ndarray) -> pd.DataFrame:
    """The beat table with only the ``shown`` flagged beats still flagged, for the figures."""
    out = beats.copy()
    hide = out["flagged"].to_numpy(bool) & ~np.asarray(shown, bool)
    out.loc[hide, "flagged"] = False
    out.loc[hide, "flag_reason"] = ""
    return out


def set_threshold_line(fig: Any, threshold: float) -> None:
    """Move the overview's dashed threshold line (and its label) to ``threshold``."""
    for shape in fig.layout.shapes or ():
        if shape.type == "line" and shape.y0 == shape.y1 and (shape.line.dash == "dash"):
            shape.y0 = shape.y1 = float(threshold)
    for ann in fig.layout.annotations or ():
        if isinstance(ann.text, str) and ann.text.startswith("threshold "):
            ann.text = f"threshold {threshold:g}"
            ann.y = float(threshold)


def log_score_lane(fig: Any, threshold: float, lo: float = 0.05, hi: float = 1e4) -> None:
    """Put the overview's flagged-beat lane on a log axis: anomaly scores span many decades
    (a beat flagged for its class may score ~0, an artefact 1e9). Marker heights are clipped
    to [lo, hi] for display only; the hover text keeps the true score."""
    lane = None
    for shape in fig.layout.shapes or ():
        if shape.type == "line" and shape.line.dash == "dash" and shape.yref:
            lane = shape.yref
    ys = []
    for tr in fig.data:
        if getattr(tr, "mode", None) == "markers" and tr.y is not None:
            y = np.clip(np.asarray(tr.y, dtype=float), lo, hi)
            tr.y = y
            lane = lane or tr.yaxis
            ys.append(y)
    if lane is None:
        return
    key = "yaxis" + lane[1:]
    allv = np.concatenate(ys) if ys else np.array([threshold])
    y0 = min(0.2, threshold / 2, float(allv.min()) / 1.5)
    y1 = max(5.0, threshold * 2, float(allv.max()) * 1.5)
    ticks = [v for v in (0.01, 0.1, 0.2, 0.5, 1, 2, 5, 10, 100, 1e3, 1e4) if y0 <= v <= y1]
    if len(ticks) > 6:
        ticks = [v for v in ticks if v in (0.01, 0.1, 1, 10, 100, 1e3, 1e4)]
    fig.layout[key].update(type="log", range=[math.log10(y0), math.log10(y1)], rangemode=None,
                           title_text="anomaly score (log)", tickvals=ticks, ticktext=[f"{v:g}" for v in ticks])
    for ann in fig.layout.annotations or ():
        if isinstance(ann.text, str) and ann.text.startswith("threshold ") and ann.yref == lane:
            ann.y = math.log10(float(threshold))  # annotations on log axes take log10 positions


def clickable_traces(fig: Any, max_points: int = 600) -> None:
    """Make the signal (line) traces of a figure clickable for ``st.plotly_chart(on_select=...)``.

    Plotly selects only marker points, so for every line trace an invisible marker trace of at
    most ``max_points`` points along it is added (same axes, taking over the line's hover); a
    click on the signal selects the nearest of them, whose x is the time clicked."""
    import plotly.graph_objects as go

    for tr in list(fig.data):
        if getattr(tr, "mode", None) != "lines" or getattr(tr, "fill", None) not in (None, "none") or tr.y is None:
            continue
        y = np.asarray(tr.y, dtype=float)
        if tr.x is not None:
            x = np.asarray(tr.x, dtype=float)
        else:
            x = float(tr.x0 or 0.0) + float(tr.dx or 1.0) * np.arange(y.size)
        if y.size == 0 or x.size != y.size:
            continue
        k = np.unique(np.linspace(0, y.size - 1, min(max_points, y.size)).round().astype(np.int64))
        ok = np.isfinite(y[k])
        hover = tr.hovertemplate or "%{x:.2f} s"
        tr.hoverinfo = "skip"  # the click target takes the hover (and so the click)
        tr.hovertemplate = None
        fig.add_trace(go.Scatter(x=x[k][ok], y=y[k][ok], xaxis=tr.xaxis, yaxis=tr.yaxis, mode="markers",
                                 marker=dict(size=10, opacity=0), showlegend=False, name="click",
                                 hovertemplate=hover,
                                 selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0))))


def mark_window(fig: Any, t0: float, t1: float) -> None:
    """Shade the strip's time window on the overview figure (all rows)."""
    fig.add_vrect(x0=t0, x1=t1, fillcolor="#ffd54f", opacity=0.3, line_width=0, layer="below",
                  row="all", col=1)


def overview(record: Any, view: pd.DataFrame, lead: str, threshold: float, t0: float, strip_s: float) -> Any:
    """The dashboard's overview: :func:`ecg.viz.overview_figure` of one lead (at most
    :data:`OVERVIEW_POINTS` signal points and :data:`OVERVIEW_MARKERS` markers), the flag lane
    on a log axis with the threshold line, clickable, the strip's window shaded."""
    from ecg.viz import overview_figure

    fig = overview_figure(record, view, lead=lead, max_points=OVERVIEW_POINTS, threshold=None,
                          max_markers=OVERVIEW_MARKERS)
    set_threshold_line(fig, threshold)
    log_score_lane(fig, threshold)
    fig.update_traces(unselected=dict(marker=dict(opacity=0.8)), selector=dict(mode="markers"))
    clickable_traces(fig, max_points=CLICK_POINTS_OVERVIEW)
    mark_window(fig, t0, t0 + strip_s)
    fig.update_layout(clickmode="event+select", dragmode="zoom")
    return fig


def strip(record: Any, view: pd.DataFrame, t0: float, strip_s: float, leads: Sequence[str], show_reference: bool,
          selected_sample: int | None) -> Any:
    """The dashboard's strip: :func:`ecg.viz.strip_figure` (full resolution, ECG grid),
    clickable, markers not dimmed by a selection."""
    from ecg.viz import strip_figure

    fig = strip_figure(record, view, t0, strip_s, leads=list(leads), show_reference=show_reference,
                       selected_sample=selected_sample, threshold=None)
    fig.update_traces(unselected=dict(marker=dict(opacity=1)), selector=dict(mode="markers"))
    clickable_traces(fig, max_points=CLICK_POINTS_STRIP)
    return fig


# ---------------------------------------------------------------------------------------------
# review
# ---------------------------------------------------------------------------------------------

def reviewed_table(beats: pd.DataFrame, latest: pd.DataFrame) -> pd.DataFrame:
    """The beat table plus the latest review of each beat: ``effective_label`` (the
    reviewer's label, else the model's), ``review_decision``, ``reviewer``, ``reviewed_at``,
    ``review_comment`` (empty for unreviewed beats)."""
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
    """A short description of a review decision."""
    if decision == "confirm":
        return f"confirmed {model_label}"
    if decision == "dismiss":
        return f"dismissed ({model_label} -> N)"
    return f"relabelled {model_label} -> {new_label}"


def history_frame(decisions: Sequence[Any]) -> pd.DataFrame:
    """Review decisions (``ecg.review.store.Decision``) as a table, newest first."""
    rows = [{"when (UTC)": d.decided_at[:19].replace("T", " "), "reviewer": d.reviewer,
             "decision": decision_text(d.decision, d.model_label, d.new_label),
             "label": d.effective_label, "comment": d.comment, "bundle": d.bundle_version}
            for d in decisions]
    cols = ["when (UTC)", "reviewer", "decision", "label", "comment", "bundle"]
    return pd.DataFrame(rows[::-1], columns=cols)


def flagged_list(beats: pd.DataFrame, mask: np.ndarray, reviewed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Display table of the beats in ``mask``: time, class, probability, score, reason,
    reference and review state; indexed by beat sample."""
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
# reference comparison
# ---------------------------------------------------------------------------------------------

@dataclass
class Comparison:
    """Beat-by-beat agreement with the reference annotations."""

    cm: np.ndarray          # 5x5 N,S,V,F,Q reference (rows) x predicted (columns), matched beats
    missed: np.ndarray      # reference beats per class with no detection
    extra: np.ndarray       # detections per predicted class with no reference beat
    stats: dict[str, Any]   # ec57_statistics

    @property
    def matched(self) -> int:
        return int(self.cm.sum())

    def full_matrix(self) -> tuple[np.ndarray, list[str], list[str]]:
        """6x6 matrix with a ``missed`` column and an ``extra`` row, and its labels."""
        m = np.zeros((6, 6), np.int64)
        m[:5, :5] = self.cm
        m[:5, 5] = self.missed
        m[5, :5] = self.extra
        return m, list(CLASSES_5) + ["extra"], list(CLASSES_5) + ["missed"]

    def detection(self) -> dict[str, float]:
        """Beat detection sensitivity and positive predictivity (matched within 150 ms)."""
        tp, fn, fp = self.matched, int(self.missed.sum()), int(self.extra.sum())
        return {"se": tp / (tp + fn) if tp + fn else float("nan"),
                "ppv": tp / (tp + fp) if tp + fp else float("nan"), "tp": tp, "fn": fn, "fp": fp}

    def table(self) -> pd.DataFrame:
        """Se / +P per class, VEB, SVEB and beat detection, in %."""
        rows = []
        det = self.detection()
        rows.append(("beat detection", det["tp"], det["fn"], det["fp"], det["se"], det["ppv"]))
        for c, s in self.stats["per_class"].items():
            rows.append((f"class {c}", s["tp"], s["fn"], s["fp"], s["se"], s["ppv"]))
        for name, key in (("VEB (EC57)", "veb"), ("SVEB (EC57)", "sveb")):
            s = self.stats[key]
            rows.append((name, s["tp"], s["fn"], s["fp"], s["se"], s["ppv"]))
        df = pd.DataFrame(rows, columns=["", "TP", "FN", "FP", "Se %", "+P %"])
        for c in ("Se %", "+P %"):
            df[c] = [f"{v * 100:.1f}" if v is not None and math.isfinite(float(v)) else "-" for v in df[c]]
        return df.set_index("")


def compare_reference(beats: pd.DataFrame, missed: pd.DataFrame, label_column: str = "pred_class") -> Comparison:
    """Agreement of ``label_column`` with ``ref_class`` (the same counting as the evaluation)."""
    ref = beats["ref_class"].astype(str)
    matched = beats[ref != ""]
    extra = beats[ref == ""]
    cm = confusion_matrix(matched["ref_class"].astype(str).to_numpy(), matched[label_column].astype(str).to_numpy(),
                          CLASSES_5)
    miss = np.array([int((missed["ref_class"].astype(str) == c).sum()) for c in CLASSES_5])
    ext = np.array([int((extra[label_column].astype(str) == c).sum()) for c in CLASSES_5])
    return Comparison(cm=cm, missed=miss, extra=ext, stats=ec57_statistics(cm, miss, ext))


# ---------------------------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------------------------

def _event(ev: Mapping[str, Any] | None) -> str:
    if not ev:
        return "-"
    return str(ev.get("clock") or ev.get("elapsed") or format_hms(ev.get("time_s"), 0))


def _num(v: Any, nd: int = 0, unit: str = "") -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return "-"
    if not math.isfinite(x):
        return "-"
    return f"{x:,.{nd}f}{unit}"


def summary_tables(summary: Mapping[str, Any], beats: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The Holter summary (``ScoredRecord.summary``) as small display tables. Flag counts are
    taken from ``beats`` (the current threshold), the rest from ``summary``."""
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
    """The reviewed beat table as the library's CSV (schema columns + review columns)."""
    from ecg.export.tables import write_beat_table

    with tempfile.TemporaryDirectory(prefix="ecg-dl-") as td:
        path = write_beat_table(reviewed, td, record_name, formats=("csv",))[0]
        return Path(path).read_bytes()


def annotation_bytes(reviewed: pd.DataFrame, record_name: str, fs: float, extension: str = "ecg") -> bytes:
    """A WFDB annotation file of every beat with its reviewed label (``effective_label``);
    the aux note says ``rev:<decision>`` for reviewed beats."""
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
    """The library's PDF review report for the scored beats."""
    from ecg.export.pdf_report import write_pdf_report

    with tempfile.TemporaryDirectory(prefix="ecg-dl-") as td:
        path = write_pdf_report(record, beats, summary, Path(td) / f"{record.name}_report.pdf",
                                bundle_version=bundle_version, lead=lead)
        return Path(path).read_bytes()


def safe_file_stem(name: str) -> str:
    """A download file name stem from a record name."""
    s = re.sub(r"[^A-Za-z0-9._-]", "_", str(name)).lstrip(".")
    return s or "record"
