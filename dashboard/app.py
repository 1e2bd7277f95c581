"""ECG review dashboard (Streamlit).

    streamlit run dashboard/app.py

Choose a record (demo records, a local data directory, an upload of WFDB files or a PhysioNet
record name), look at the whole recording and the flagged beats, review beats on a 10 s strip
on ECG paper, confirm / dismiss / relabel them (stored in the review database), compare with
reference annotations and download the reviewed beat table, WFDB annotations and the PDF
report.

UI only: every number comes from :func:`ecg.score_record` (the same call as the CLI and the
evaluation), every figure from :mod:`ecg.viz`.

Environment: ``ECG_BUNDLE`` (model bundle file; default the shipped bundle),
``ECG_REVIEW_DB`` (review database; default ``data/reviews.db``), ``ECG_DATA_DIR`` (default
data directory), ``ECG_TORCH_THREADS`` (PyTorch threads used for scoring; default 1).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from ecg.errors import DownloadError, ECGError, RecordError  # noqa: E402
from ecg.evaluate.agreement import compare_reference  # noqa: E402
from ecg.io.records import Record, is_physionet_name, list_records, load_record  # noqa: E402
from ecg.io.uploads import (  # noqa: E402
    ALLOWED_EXTENSIONS,
    MAX_TOTAL_BYTES,
    UploadError,
    remove_upload_dir,
    save_wfdb_upload,
)
from ecg.labels import AAMI_CLASSES  # noqa: E402
from ecg.models.bundle import BUNDLE_NAMES, DEFAULT_BUNDLE, ModelBundle, bundle_path, load_bundle  # noqa: E402
from ecg.review.store import ReviewStore, default_db_path, record_review_key  # noqa: E402
from ecg.review.views import (  # noqa: E402
    annotation_bytes,
    csv_bytes,
    decision_text,
    flagged_list,
    history_frame,
    pdf_bytes,
    reviewed_table,
    safe_file_stem,
    summary_tables,
)
from ecg.scoring.schema import empty_beat_table  # noqa: E402
from ecg.scoring.score import ScoredRecord, reconstruct, reflag, score_record  # noqa: E402
from ecg.viz import (  # noqa: E402
    beat_detail_figure,
    confusion_matrix_figure,
    format_hms,
    hr_trend_figure,
)
from ecg.viz.figures import DEFAULT_THRESHOLD  # noqa: E402
from ecg.viz.interactive import review_overview_figure, review_strip_figure  # noqa: E402
from ecg.viz.navigation import (  # noqa: E402
    FILTERABLE_FLAG_REASONS,
    filter_mask,
    local_mean_rr,
    nearest,
    neighbour,
    parse_time,
    point_sample,
    selection_point,
    strip_start_for,
    view_table,
)

log = logging.getLogger("ecg.dashboard")

DEMO_DIR = REPO / "data"
DEMO_NOTES = {
    "100": "mostly normal sinus rhythm, a few atrial premature beats",
    "119": "ventricular bigeminy and trigeminy",
    "208": "frequent ventricular ectopy, couplets and fusion beats",
    "232": "sinus bradycardia, many supraventricular ectopic beats, long pauses",
}
SOURCES = ("Demo records", "Data directory", "Upload WFDB files", "PhysioNet")
STRIP_S = 10.0
DECISION_LABELS = {
    "confirm": "Confirm the model's class",
    "dismiss": "Dismiss (normal beat, N)",
    "relabel": "Relabel as...",
}
PLOT_CONFIG = {
    "displaylogo": False,
    "scrollZoom": False,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
}


# ---------------------------------------------------------------------------------------------
# cached resources and data
# ---------------------------------------------------------------------------------------------


def chosen_bundle_path() -> Path:
    """``$ECG_BUNDLE`` (a bundle name or file) when set, else the sidebar's choice."""
    env = os.environ.get("ECG_BUNDLE")
    if env:
        return bundle_path(env)
    name = st.sidebar.selectbox(
        "Model bundle",
        list(BUNDLE_NAMES),
        index=list(BUNDLE_NAMES).index(DEFAULT_BUNDLE),
        key="bundle_name",
        format_func=lambda n: {
            "production": "production (trained on all 44 records)",
            "ds1": "ds1 (evaluation: trained on DS1 only)",
        }.get(n, n),
    )
    return bundle_path(name)


@st.cache_resource(show_spinner=False)
def _torch_threads(n: int) -> int:
    import torch

    torch.set_num_threads(max(1, n))
    return torch.get_num_threads()


@st.cache_resource(show_spinner="Loading the model bundle...")
def get_bundle(path: str, mtime: float) -> ModelBundle:
    """The model bundle at ``path`` (reloaded when the file changes)."""
    return load_bundle(path)


@st.cache_resource(show_spinner=False)
def get_store(path: str) -> ReviewStore:
    """One review store per database file, shared by every session."""
    return ReviewStore(path)


def _file_token(base: str) -> str:
    """Changes when the record's files change (so cached results are not stale)."""
    parts = []
    for ext in ("hea", "dat", "atr"):
        p = Path(base + "." + ext)
        try:
            s = p.stat()
            parts.append(f"{ext}:{s.st_size}:{s.st_mtime_ns}")
        except OSError:
            parts.append(f"{ext}:-")
    return "|".join(parts)


@st.cache_data(max_entries=8, show_spinner=False)
def get_record(kind: str, ref: str, token: str) -> Record:
    """A record from disk (``ref`` = path without extension) or PhysioNet (``db/record``)."""
    if kind == "physionet":
        db, _, name = ref.rpartition("/")
        return load_record(name, pn_dir=db)
    return load_record(ref)


@st.cache_data(max_entries=32, show_spinner=False)
def get_review_key(kind: str, ref: str, token: str) -> str:
    """Reviews are stored under the record's name plus a digest of its files, so a different
    recording that happens to share a name never shows these reviews."""
    if kind == "physionet":
        return ref
    return record_review_key(ref)


@st.cache_data(max_entries=8, show_spinner=False)
def get_scored(
    kind: str, ref: str, token: str, lead: str | None, bundle_key: str, _bundle: ModelBundle
) -> ScoredRecord:
    """``score_record`` of the record with the bundle (identified by ``bundle_key``)."""
    return score_record(get_record(kind, ref, token), _bundle, lead=lead)


# ---------------------------------------------------------------------------------------------
# session state and callbacks
# ---------------------------------------------------------------------------------------------


def flash(kind: str, text: str) -> None:
    st.session_state.setdefault("flash", []).append((kind, text))


def show_flash() -> None:
    for kind, text in st.session_state.pop("flash", []):
        getattr(st, kind)(text)
        if kind == "success":
            st.toast(text)


def select_beat(sample: int | None, centre: bool = True) -> None:
    """Select a beat and (unless it is on the strip already) centre the strip on it."""
    ctx = st.session_state.get("ctx")
    st.session_state["sel"] = None if sample is None else int(sample)
    if sample is None or ctx is None:
        return
    t = sample / ctx["fs"]
    t0 = float(st.session_state.get("strip_t0", 0.0))
    if centre or not (t0 + 1.0 <= t <= t0 + STRIP_S - 1.0):
        st.session_state["strip_t0"] = strip_start_for(t, STRIP_S, ctx["duration"])


def on_step(direction: int) -> None:
    ctx = st.session_state.get("ctx") or {}
    nav = ctx.get("nav", np.zeros(0, np.int64))
    cur = st.session_state.get("sel")
    if cur is None:  # start from the strip's position
        cur = int(float(st.session_state.get("strip_t0", 0.0)) * ctx.get("fs", 1.0))
    nxt = neighbour(nav, cur, direction)
    if nxt is None:
        flash("info", "No further flagged beat in that direction (with the current filters).")
    else:
        select_beat(nxt, centre=False)


def _select_near_time(t: float, flagged_first: bool) -> None:
    ctx = st.session_state.get("ctx") or {}
    fs = ctx.get("fs", 1.0)
    target = t * fs
    if flagged_first:
        nav = ctx.get("nav", np.zeros(0, np.int64))
        j = nearest(nav, target)
        if j is not None and abs(nav[j] - target) <= STRIP_S / 2 * fs:
            select_beat(int(nav[j]), centre=False)
            st.session_state["strip_t0"] = strip_start_for(t, STRIP_S, ctx.get("duration", 0.0))
            return
    samples = ctx.get("samples", np.zeros(0, np.int64))
    j = nearest(samples, target)
    st.session_state["strip_t0"] = strip_start_for(t, STRIP_S, ctx.get("duration", 0.0))
    if j is not None and abs(samples[j] - target) <= 1.5 * fs:
        select_beat(int(samples[j]), centre=False)


def on_overview_select() -> None:
    point = selection_point(st.session_state.get("overview"))
    if point is None:
        return
    sample = point_sample(point)
    if sample is not None:
        select_beat(sample)
    elif point.get("x") is not None:
        _select_near_time(float(point["x"]), flagged_first=True)


def on_strip_select() -> None:
    point = selection_point(st.session_state.get("strip"))
    if point is None:
        return
    sample = point_sample(point)
    if sample is not None:
        select_beat(sample, centre=False)
    elif point.get("x") is not None:
        _select_near_time(float(point["x"]), flagged_first=False)
        # keep the strip where it is: the click was on it
        ctx = st.session_state.get("ctx") or {}
        st.session_state["strip_t0"] = ctx.get("t0", st.session_state.get("strip_t0", 0.0))


def on_jump() -> None:
    text = str(st.session_state.get("jump", "")).strip()
    if not text:
        return
    try:
        t = parse_time(text)
    except ValueError as exc:
        flash("error", str(exc))
        return
    ctx = st.session_state.get("ctx") or {}
    if t > ctx.get("duration", 0.0):
        flash("warning", f"{text} is after the end of the record ({format_hms(ctx.get('duration', 0.0), 0)}).")
    _select_near_time(min(t, ctx.get("duration", t)), flagged_first=False)
    st.session_state["strip_t0"] = strip_start_for(t, STRIP_S, ctx.get("duration", 0.0))


def on_table_select() -> None:
    ev = st.session_state.get("flag_table")
    ctx = st.session_state.get("ctx") or {}
    try:
        rows = ev["selection"]["rows"]
    except (KeyError, TypeError):
        rows = []
    order = ctx.get("table_samples", [])
    if rows and rows[0] < len(order):
        select_beat(int(order[rows[0]]))


def _download_failed(kind: str, exc: Exception) -> None:
    """Show a failed PhysioNet download and stop retrying it on every rerun."""
    st.error(str(exc))
    if kind == "physionet":
        st.session_state["pn_active"] = None
        st.session_state["pn_error"] = str(exc)


def on_load_physionet() -> None:
    st.session_state["pn_error"] = None
    name = str(st.session_state.get("pn_name", "")).strip().strip("/")
    if not name or "/" not in name or not is_physionet_name(name):
        flash("error", f"{name!r} is not a PhysioNet record name; write it as database/record, e.g. mitdb/100.")
        st.session_state["pn_active"] = None
        return
    st.session_state["pn_active"] = name


# ---------------------------------------------------------------------------------------------
# record sources (sidebar)
# ---------------------------------------------------------------------------------------------


def choose_source() -> tuple[str, str, str] | None:
    """``(kind, ref, label)`` of the chosen record, or None."""
    st.sidebar.header("Record")
    kind = st.sidebar.radio("Source", SOURCES, key="src_kind", label_visibility="collapsed")
    if kind == "Demo records":
        try:
            names = list_records(DEMO_DIR)
        except RecordError as exc:
            st.sidebar.error(str(exc))
            return None
        name = st.sidebar.selectbox(
            "Demo record (MIT-BIH, 30 min)",
            names,
            index=None,
            key="demo_record",
            placeholder="Choose a record",
            format_func=lambda n: f"{n}: {DEMO_NOTES[n]}" if n in DEMO_NOTES else n,
        )
        return ("demo", str(DEMO_DIR / name), name) if name else None

    if kind == "Data directory":
        st.session_state.setdefault("data_dir", os.environ.get("ECG_DATA_DIR", ""))
        d = st.sidebar.text_input(
            "Data directory",
            key="data_dir",
            placeholder="/path/to/mitdb",
            help="A folder of WFDB records (.hea/.dat/.atr); default $ECG_DATA_DIR.",
        )
        if not d.strip():
            st.sidebar.caption("Type the path of a folder holding WFDB records.")
            return None
        try:
            names = list_records(Path(d.strip()).expanduser())
        except (RecordError, OSError) as exc:
            st.sidebar.error(str(exc))
            return None
        if not names:
            st.sidebar.warning(f"No WFDB records (.hea files) in {d}.")
            return None
        name = st.sidebar.selectbox("Record", names, index=None, key="dir_record", placeholder="Choose a record")
        if not name:
            return None
        return "dir", str(Path(d.strip()).expanduser() / name), name

    if kind == "Upload WFDB files":
        files = st.sidebar.file_uploader(
            f"WFDB record (.hea + .dat, + .atr) or an EDF, BDF or ISHNE (.ecg) file, "
            f"at most {MAX_TOTAL_BYTES // 2**20} MB",
            accept_multiple_files=True,
            type=list(ALLOWED_EXTENSIONS),
            key="upload",
        )
        return handle_upload(files or [])

    st.sidebar.text_input(
        "PhysioNet record",
        key="pn_name",
        placeholder="mitdb/100",
        help="database/record, streamed from physionet.org (needs the network)",
    )
    st.sidebar.button("Load from PhysioNet", on_click=on_load_physionet)
    name = st.session_state.get("pn_active")
    if not name and st.session_state.get("pn_error"):
        st.error(st.session_state["pn_error"])
    return ("physionet", name, f"physionet:{name}") if name else None


def handle_upload(files: list[Any]) -> tuple[str, str, str] | None:
    """Save a new upload into a private temporary folder; return the record to show."""
    sig = tuple((f.name, getattr(f, "size", None), getattr(f, "file_id", None)) for f in files)
    if sig != st.session_state.get("upload_sig"):
        remove_upload_dir(st.session_state.pop("upload_dir", None))
        st.session_state["upload_sig"] = sig
        st.session_state["upload_records"] = []
        st.session_state["upload_error"] = None
        st.session_state["upload_ignored"] = ()
        if files:
            try:
                res = save_wfdb_upload([(f.name, f) for f in files])
            except UploadError as exc:
                st.session_state["upload_error"] = str(exc)
            except Exception as exc:  # never a traceback for a bad upload
                log.exception("upload failed")
                st.session_state["upload_error"] = f"The upload could not be saved: {type(exc).__name__}: {exc}"
            else:
                st.session_state["upload_dir"] = str(res.directory)
                st.session_state["upload_records"] = [(r.name, str(r.base)) for r in res.records]
                st.session_state["upload_ignored"] = res.ignored
    if st.session_state.get("upload_error"):
        st.error(f"Upload not usable: {st.session_state['upload_error']}")
        return None
    if st.session_state.get("upload_ignored"):
        st.sidebar.caption("Ignored: " + ", ".join(st.session_state["upload_ignored"]))
    recs = st.session_state.get("upload_records") or []
    if not recs:
        if not files:
            st.sidebar.caption(
                "Choose the record's .hea and .dat files (and its .atr, if any) together, "
                "or one EDF, BDF or ISHNE file."
            )
        return None
    names = [n for n, _ in recs]
    name = names[0] if len(names) == 1 else st.sidebar.selectbox("Uploaded record", names, key="upload_record")
    base = dict(recs)[name]
    return "upload", base, f"upload:{name}"


# ---------------------------------------------------------------------------------------------
# panels
# ---------------------------------------------------------------------------------------------


def metrics_row(record: Record, beats: pd.DataFrame, scored: ScoredRecord | None, n_shown: int) -> None:
    summ = scored.summary if scored is not None else None
    cols = st.columns(7)
    n_flag = int(beats["flagged"].sum()) if len(beats) else 0
    cols[0].metric("Beats", f"{len(beats):,}")
    cols[1].metric(
        "Flagged beats",
        f"{n_flag:,}",
        help="Flagged at the current threshold: predicted class not N, or anomaly score >= threshold. "
        f"{n_shown:,} pass the sidebar filters.",
    )
    if summ is None:
        for c in cols[2:]:
            c.metric("-", "-")
        return
    cols[2].metric("V beats", f"{summ.ectopy.V.total:,}")
    cols[3].metric("S beats", f"{summ.ectopy.S.total:,}")
    mean = summ.heart_rate.mean_bpm
    cols[4].metric("Mean HR", f"{mean:.0f} bpm" if mean else "-")
    cols[5].metric(f"Pauses > {summ.pauses.threshold_s:g} s", f"{summ.pauses.count:,}")
    af = summ.af.burden_pct
    cols[6].metric(
        "AF / flutter",
        f"{af:.1f} %" if af is not None else "-",
        help=f"{len(summ.af.episodes)} episodes (at least 30 s each); share of the analysed beats.",
    )
    for w in summ.warnings:
        st.warning(w)


def review_panel(
    store: ReviewStore, record: Record, rkey: str, beat: pd.Series, bundle_version: str, nav: np.ndarray
) -> None:
    sample = int(beat["sample"])
    model_label = str(beat["pred_class"])
    history = store.history(rkey, sample)
    if history:
        last = history[-1]
        st.markdown(
            f"**Latest review:** {decision_text(last.decision, last.model_label, last.new_label)} "
            f"by {last.reviewer} ({last.decided_at[:16].replace('T', ' ')} UTC)"
        )
    else:
        st.markdown("**Not reviewed yet.**")
    with st.form(f"review_{sample}", clear_on_submit=False, border=True):
        decision = st.radio(
            "Decision",
            list(DECISION_LABELS),
            key=f"review_decision_{sample}",
            index=None,
            format_func=lambda d: DECISION_LABELS[d].replace("the model's class", f"{model_label}"),
        )
        new_label = st.selectbox(
            "New class (for relabel)",
            AAMI_CLASSES,
            key=f"review_label_{sample}",
            index=AAMI_CLASSES.index("V") if model_label != "V" else 0,
        )
        comment = st.text_input("Comment (optional)", key=f"review_comment_{sample}")
        submitted = st.form_submit_button("Save decision", type="primary", key="save_review")
    if submitted:
        reviewer = str(st.session_state.get("reviewer", "")).strip()
        if not reviewer:
            st.error("Enter your name as reviewer (sidebar) before saving a decision.")
            return
        if decision is None:
            st.error("Choose a decision (confirm, dismiss or relabel) before saving.")
            return
        try:
            d = store.record_decision(
                rkey,
                sample,
                reviewer,
                model_label if model_label in AAMI_CLASSES else "Q",
                decision,
                new_label if decision == "relabel" else None,
                comment or "",
                bundle_version,
            )
        except (ValueError, sqlite3.Error, RuntimeError) as exc:
            st.error(f"The decision was not saved: {exc}")
            return
        msg = (
            f"Saved: beat at {format_hms(sample / record.fs, 2)} "
            f"{decision_text(d.decision, d.model_label, d.new_label)} ({d.reviewer})."
        )
        flash("success", msg)
        if st.session_state.get("auto_advance", True):
            nxt = neighbour(nav, sample, +1)
            if nxt is not None:
                st.session_state["pending_sel"] = nxt  # applied before the widgets of the next run
        st.rerun()
    if history:
        with st.expander(f"History of this beat ({len(history)})"):
            st.dataframe(history_frame(history), hide_index=True, width="stretch")


def beat_detail(bundle: ModelBundle | None, scored: ScoredRecord, beats: pd.DataFrame, i: int) -> None:
    row = beats.iloc[i]
    probs = {c: float(row[f"prob_{c}"]) for c in (bundle.classes if bundle else ()) if f"prob_{c}" in row}
    local = local_mean_rr(beats, i)
    rr = {"rr_prev_s": row["rr_prev_s"], "rr_next_s": row["rr_next_s"], "rr_local_s": local}
    if bundle is not None and scored.model_waves.shape[0] == len(beats):
        wave = scored.model_waves[i]
        recon = reconstruct(bundle, wave)
        w = bundle.config.window
        fig = beat_detail_figure(wave, recon, w.fs, w.pre_s, probs, rr, y_label="normalised amplitude")
        # the RR context is in the caption below; keep the title short enough for a column
        fig.update_layout(
            title=dict(font=dict(size=13)),
            margin=dict(t=80, b=80),
            legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0),
        )
        st.plotly_chart(fig, width="stretch", config=PLOT_CONFIG, key="beat_detail")
    st.caption(
        f"Beat at {format_hms(float(row['time_s']), 2)} ({float(row['time_s']):.2f} s, sample "
        f"{int(row['sample'])}): model class **{row['pred_class']}**, anomaly score "
        f"**{_score(row['anomaly_score'])}** of 100 "
        f"(threshold {st.session_state.get('threshold', DEFAULT_THRESHOLD):g})"
        + (f", flag: {row['flag_reason']}" if row["flag_reason"] else ", not flagged")
        + (f", reference **{row['ref_symbol']}**" if row["ref_symbol"] else "")
        + f". RR before {_ms(row['rr_prev_s'])}, after {_ms(row['rr_next_s'])}, local mean {_ms(local)}."
        + f". Signal quality: {row.get('quality', '-')}"
        + (". Inside an AF/flutter episode: the model does not call S here." if row.get("af", False) else "")
        + (". Unreadable signal: the beat is not classified." if row.get("quality") == "unreadable" else "")
    )


def _finite(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if np.isfinite(x) else None


def _score(v: Any) -> str:
    x = _finite(v)
    return "-" if x is None else f"{x:.2f}"


def _ms(v: Any) -> str:
    x = _finite(v)
    return "-" if x is None else f"{x * 1000:.0f} ms"


def summary_tab(scored: ScoredRecord | None, beats: pd.DataFrame, record: Record) -> None:
    if scored is None or scored.summary is None:
        st.info("No summary: the record could not be scored.")
        return
    s = scored.summary
    sq = s.signal_quality
    st.markdown(
        f"Recorded **{s.recording.duration_hms or '-'}**, analysable **{sq.analysable_hms or '-'}** "
        f"({sq.analysable_pct if sq.analysable_pct is not None else '-'} %), lead "
        f"**{', '.join(s.recording.analysed_leads) or '-'}**, model {s.recording.bundle_version}. "
        "Flag counts are at the current threshold; the rest does not depend on it."
    )
    tabs = summary_tables(s, beats)
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**Beats per class**")
        st.dataframe(tabs["beats"], width="stretch")
        st.markdown(f"**Heart rate** ({s.heart_rate.window_intervals}-beat windows)")
        st.dataframe(tabs["heart_rate"], width="stretch")
        st.markdown(
            f"**Atrial fibrillation / flutter**: {s.af.burden_pct if s.af.burden_pct is not None else '-'} % "
            f"of analysed beats, {len(s.af.episodes)} episodes"
        )
        if len(tabs["af"]):
            st.dataframe(tabs["af"], hide_index=True, width="stretch", height=min(250, 38 + 35 * len(tabs["af"])))
    with c2:
        st.markdown("**Ectopy**")
        st.dataframe(tabs["ectopy"].astype(str).T, width="stretch")
        st.markdown(f"**Pauses** (RR > {s.pauses.threshold_s:g} s, readable signal): {s.pauses.count}")
        if len(tabs["pauses"]):
            st.dataframe(
                tabs["pauses"], hide_index=True, width="stretch", height=min(250, 38 + 35 * len(tabs["pauses"]))
            )
        st.markdown(f"**Unreadable signal**: {format_hms(sq.unreadable_s or 0.0, 0)} in {sq.segments_total} spans")
        if len(tabs["quality"]):
            st.dataframe(
                tabs["quality"], hide_index=True, width="stretch", height=min(250, 38 + 35 * len(tabs["quality"]))
            )
    bin_s = 60.0 if record.duration_s <= 4 * 3600 else 300.0
    st.plotly_chart(hr_trend_figure(beats, bin_s=bin_s), width="stretch", config=PLOT_CONFIG, key="hr_trend")
    if "hrv" in tabs:
        st.markdown("**Heart-rate variability** (time domain, NN intervals; Task Force 1996)")
        st.dataframe(tabs["hrv"], width="stretch", height=min(300, 38 + 35 * len(tabs["hrv"])))
    if "daily" in tabs and len(tabs["daily"]) > 1:
        st.markdown("**Daily** (24-hour periods from the start)")
        st.dataframe(tabs["daily"], width="stretch")
    if "hourly" in tabs and len(tabs["hourly"]) > 1:
        st.markdown("**Hourly**")
        st.dataframe(tabs["hourly"], width="stretch")


def comparison_tab(scored: ScoredRecord | None, reviewed: pd.DataFrame, record: Record) -> None:
    if record.annotations is None or not len(record.annotations):
        st.info("This record has no reference annotations (.atr), so there is nothing to compare with.")
        return
    if scored is None:
        st.info("The record could not be scored.")
        return
    which = st.radio(
        "Labels compared with the reference",
        ["model", "reviewed"],
        horizontal=True,
        key="cmp_labels",
        format_func=lambda x: {"model": "model (pred_class)", "reviewed": "after review (effective label)"}[x],
    )
    col = "pred_class" if which == "model" else "effective_label"
    cmp = compare_reference(reviewed, scored.missed_reference, col)
    det = cmp.detection()
    st.markdown(
        f"Beats matched to the reference within 150 ms: **{cmp.matched:,}**; missed reference beats "
        f"**{det['fn']:,}**; detections with no reference beat **{det['fp']:,}**. "
        f"Beat detection Se **{det['se'] * 100:.2f} %**, +P **{det['ppv'] * 100:.2f} %**."
    )
    c1, c2 = st.columns([3, 2])
    m, rows, cols = cmp.full_matrix()
    fig = confusion_matrix_figure(m, rows, cols)
    c1.markdown(
        "**Reference (rows) vs " + ("model" if which == "model" else "reviewed") + " labels (columns)**; "
        "missed: reference beats not detected, extra: detections without a reference beat"
    )
    c1.plotly_chart(fig, width="stretch", config=PLOT_CONFIG, key="confusion")
    c2.markdown("**Agreement** (EC57 conventions)")
    c2.dataframe(cmp.table(), width="stretch")


def reviews_tab(store: ReviewStore, record: Record, rkey: str) -> None:
    allr = store.all_decisions(rkey)
    st.markdown(
        f"**{len(allr):,}** decisions stored for record {record.name} (review key `{rkey}`) "
        f"in `{store.path}`, "
        f"on {allr['beat_sample'].nunique() if len(allr) else 0:,} beats."
    )
    if len(allr):
        df = allr.iloc[::-1].assign(time=[format_hms(s / record.fs, 2) for s in allr["beat_sample"].iloc[::-1]])
        st.dataframe(
            df[
                [
                    "time",
                    "beat_sample",
                    "reviewer",
                    "decided_at",
                    "model_label",
                    "decision",
                    "new_label",
                    "effective_label",
                    "comment",
                    "bundle_version",
                ]
            ],
            hide_index=True,
            width="stretch",
        )


def downloads_tab(record: Record, scored: ScoredRecord | None, reviewed: pd.DataFrame) -> None:
    if scored is None:
        st.info("Nothing to download: the record could not be scored.")
        return
    stem = safe_file_stem(record.name)
    n_rev = int((reviewed["review_decision"] != "").sum()) if len(reviewed) else 0
    st.markdown(
        f"{len(reviewed):,} beats, {n_rev:,} reviewed. The files use the current threshold "
        f"({st.session_state.get('threshold', DEFAULT_THRESHOLD):g}) for the flags and the reviewers' labels "
        "where a beat was reviewed."
    )
    c1, c2, c3 = st.columns(3)
    c1.download_button(
        "Beat table (CSV, reviewed)",
        data=lambda: csv_bytes(reviewed, stem),
        file_name=f"{stem}_beats_reviewed.csv",
        mime="text/csv",
        on_click="ignore",
        key="dl_csv",
    )
    c1.caption("Schema columns plus effective_label, review_decision, reviewer, reviewed_at, review_comment.")
    c2.download_button(
        "WFDB annotations (.ecg, reviewed labels)",
        data=lambda: annotation_bytes(reviewed, stem, record.fs),
        file_name=f"{stem}.ecg",
        mime="application/octet-stream",
        on_click="ignore",
        key="dl_ann",
    )
    c2.caption(f"Put it beside {stem}.hea and read it with annotator 'ecg' (e.g. wfdb.rdann(..., 'ecg')).")
    c3.download_button(
        "PDF report",
        data=lambda: pdf_bytes(
            record, reviewed, scored.summary, scored.bundle_version, scored.leads[0], st.session_state.get("threshold")
        ),
        file_name=f"{stem}_report.pdf",
        mime="application/pdf",
        on_click="ignore",
        key="dl_pdf",
    )
    c3.caption("Summary and strips of the flagged beats with the model's labels (takes a few seconds).")


# ---------------------------------------------------------------------------------------------
# page
# ---------------------------------------------------------------------------------------------


def main() -> None:
    st.set_page_config(page_title="ECG review", page_icon=":anatomical_heart:", layout="wide")
    _torch_threads(int(os.environ.get("ECG_TORCH_THREADS", "1") or 1))
    st.session_state.setdefault("strip_t0", 0.0)
    st.session_state.setdefault("sel", None)

    source = choose_source()
    st.sidebar.header("Flags")
    thr = st.sidebar.slider(
        "Anomaly threshold",
        90.0,
        100.0,
        DEFAULT_THRESHOLD,
        0.1,
        key="threshold",
        help="Anomaly score (0-100: the share of held-out normal beats that scored lower) at or "
        f"above which a beat is flagged; {DEFAULT_THRESHOLD:g} is the model's calibrated "
        "threshold (1 % of normal beats). Beats whose predicted class is not N are always "
        "flagged; beats in unreadable signal never are.",
    )
    classes = st.sidebar.multiselect(
        "Classes shown",
        list(AAMI_CLASSES),
        default=list(AAMI_CLASSES),
        key="class_filter",
        help="Predicted classes of the flagged beats shown and stepped through.",
    )
    reasons = st.sidebar.multiselect(
        "Flag reasons shown", list(FILTERABLE_FLAG_REASONS), default=list(FILTERABLE_FLAG_REASONS), key="reason_filter"
    )
    st.sidebar.header("Review")
    st.sidebar.text_input("Reviewer name (required)", key="reviewer", placeholder="e.g. Dr A. Smith")
    st.sidebar.toggle("After saving, go to the next flagged beat", value=True, key="auto_advance")

    show_flash()
    if source is None:
        st.title("ECG review")
        st.info(
            "Choose a record in the sidebar: a demo record, a record from a data directory, an upload of WFDB "
            "files (.hea + .dat, optionally .atr) or a PhysioNet record such as mitdb/100."
        )
        return

    kind, ref, label = source
    token = _file_token(ref) if kind != "physionet" else ""

    # model bundle
    bundle: ModelBundle | None = None
    bpath = chosen_bundle_path()
    if not bpath.is_file():
        st.error(
            f"No model bundle at {bpath}: the record is shown without scoring. Train one with "
            "`ecg train` or set ECG_BUNDLE to a bundle file."
        )
    else:
        try:
            bundle = get_bundle(str(bpath), bpath.stat().st_mtime)
        except (ECGError, OSError) as exc:
            st.error(f"The model bundle cannot be used: {exc}. The record is shown without scoring.")
    if bundle is not None and kind == "demo" and label in bundle.training_records:
        st.sidebar.caption(
            f"Record {label} is a training patient of this bundle ({bundle.version}): its results "
            "flatter the model. DS2 records (100, 232) are unseen by the ds1 bundle."
        )

    # analysis lead (known once the record is read)
    lead_choice = st.session_state.get(f"lead::{label}")
    scored: ScoredRecord | None = None
    record: Record | None = None
    score_error = None
    with st.spinner(f"Loading and scoring {label}..."):
        if bundle is not None:
            try:
                scored = get_scored(
                    kind, ref, token, lead_choice, f"{bpath}:{bpath.stat().st_mtime_ns}:{bundle.version}", bundle
                )
                record = scored.record
            except DownloadError as exc:
                _download_failed(kind, exc)
                return
            except RecordError as exc:
                score_error = str(exc)
            except Exception as exc:  # a record the library could not handle: message, no traceback
                log.exception("scoring failed")
                score_error = f"{type(exc).__name__}: {exc}"
        if record is None:
            try:
                record = get_record(kind, ref, token)
            except DownloadError as exc:
                _download_failed(kind, exc)
                return
            except RecordError as exc:
                st.error(f"Cannot read the record: {exc}")
                return
            except Exception as exc:
                log.exception("loading failed")
                st.error(f"Cannot read the record {label}: {type(exc).__name__}: {exc}")
                return
    if score_error:
        st.warning(f"The record could not be scored: {score_error}. The signal is shown without beats.")

    with st.sidebar:
        st.header("Leads")
        lead_opts = ["all"] + list(record.lead_names)
        cur = lead_choice if lead_choice in lead_opts else "all"
        chosen = st.selectbox(
            "Leads analysed",
            lead_opts,
            index=lead_opts.index(cur),
            help="all: beats detected once on the best lead at each moment, classes fused "
            "over the readable leads; or one lead only",
        )
        if (None if chosen == "all" else chosen) != lead_choice:
            st.session_state[f"lead::{label}"] = None if chosen == "all" else chosen
            st.rerun()
        strip_leads = st.multiselect(
            "Leads on the strip", list(record.lead_names), default=list(record.lead_names), key=f"strip_leads::{label}"
        ) or list(record.lead_names)

    base_beats = scored.beats if scored is not None else empty_beat_table()
    beats = reflag(base_beats, thr) if len(base_beats) else base_beats
    shown = filter_mask(beats, classes, reasons)
    view = view_table(beats, shown) if len(beats) else beats
    nav = beats["sample"].to_numpy(np.int64)[shown] if len(beats) else np.zeros(0, np.int64)
    lead_name = scored.leads[0] if scored is not None else record.lead_names[0]
    duration = record.duration_s
    fs = float(record.fs)

    # new record (or lead): start at the first shown flagged beat
    active = f"{kind}|{ref}|{token}|{lead_name}"
    if st.session_state.get("active") != active:
        st.session_state["active"] = active
        st.session_state["sel"] = None
        st.session_state["strip_t0"] = 0.0
        st.session_state["ctx"] = {"fs": fs, "duration": duration}
        if nav.size:
            select_beat(int(nav[0]))
    if st.session_state.get("pending_sel") is not None:
        select_beat(st.session_state.pop("pending_sel"))
    max_t0 = max(0.0, round(duration - STRIP_S, 1))
    if not 0.0 <= float(st.session_state.get("strip_t0", 0.0)) <= max_t0:
        st.session_state["strip_t0"] = min(max(0.0, float(st.session_state["strip_t0"])), max_t0)
    st.session_state["ctx"] = {
        "fs": fs,
        "duration": duration,
        "nav": nav,
        "samples": beats["sample"].to_numpy(np.int64) if len(beats) else np.zeros(0, np.int64),
        "t0": float(st.session_state["strip_t0"]),
    }

    store: ReviewStore | None = None
    rkey = get_review_key(kind, ref, token)
    try:
        store = get_store(str(default_db_path().resolve()))
        latest = store.latest_decisions(rkey)
    except (sqlite3.Error, OSError, RuntimeError) as exc:
        st.error(f"The review database {default_db_path()} cannot be opened: {exc}. Reviews are disabled.")
        store, latest = None, pd.DataFrame(columns=["beat_sample"])
    reviewed = reviewed_table(beats, latest)

    # header
    st.title(f"Record {record.name}")
    info = [
        format_hms(duration, 0) + " recorded",
        f"{fs:g} Hz",
        "leads " + ", ".join(record.lead_names),
        f"analysed lead {lead_name}",
    ]
    if scored is not None:
        info += [f"model {scored.bundle_version}", f"scored in {scored.seconds:.1f} s"]
    if record.annotations is not None:
        info.append(f"reference annotations: {len(record.annotations):,}")
    st.caption(" · ".join(info) + (f" · {label}" if kind != "demo" else ""))
    if scored is not None and len(beats) == 0:
        st.warning("No beats were detected in this record (flat or noisy signal?). The signal is shown below.")
    if scored is not None and np.isnan(record.signal).any():
        pct = 100.0 * np.isnan(record.signal).mean()
        st.info(f"{pct:.1f} % of the samples are missing (NaN); those stretches are not analysed.")
    if scored is not None and scored.analysable_s < duration - 1:
        st.info(
            f"Analysable: {format_hms(scored.analysable_s, 0)} of {format_hms(duration, 0)} "
            "(flat, missing or saturated stretches are left out)."
        )

    metrics_row(record, beats, scored, int(shown.sum()))

    # overview
    t0 = float(st.session_state["strip_t0"])
    try:
        ov = review_overview_figure(record, view, lead_name, thr, t0, STRIP_S)
        st.plotly_chart(
            ov,
            width="stretch",
            key="overview",
            on_select=on_overview_select,
            selection_mode="points",
            config=PLOT_CONFIG,
        )
        st.caption(
            "Click the overview (a flagged-beat marker or the trace) to move the strip there. "
            "The shaded band is the strip below."
        )
    except Exception as exc:
        log.exception("overview failed")
        st.error(f"The overview could not be drawn: {type(exc).__name__}: {exc}")

    # strip controls
    c = st.columns([1.3, 1.3, 1.8, 4.6], vertical_alignment="center")
    c[0].button(
        "◀ Previous",
        on_click=on_step,
        args=(-1,),
        key="prev_flag",
        width="stretch",
        disabled=nav.size == 0,
        help="Previous flagged beat (with the current filters)",
    )
    c[1].button(
        "Next ▶",
        on_click=on_step,
        args=(+1,),
        key="next_flag",
        width="stretch",
        disabled=nav.size == 0,
        help="Next flagged beat (with the current filters)",
    )
    c[2].text_input(
        "Jump to time",
        key="jump",
        on_change=on_jump,
        placeholder="Jump to h:mm:ss or s",
        label_visibility="collapsed",
        help="Time from the record start: seconds, m:ss or h:mm:ss",
    )
    c[3].slider(
        "Strip start (s)",
        0.0,
        max(max_t0, 0.1),
        key="strip_t0",
        step=0.5,
        format="%.1f s",
        label_visibility="collapsed",
        disabled=max_t0 <= 0,
    )
    show_ref = st.session_state.get("show_ref", True)

    sel = st.session_state.get("sel")
    sel_i = None
    if sel is not None and len(beats):
        hits = np.flatnonzero(beats["sample"].to_numpy(np.int64) == int(sel))
        sel_i = int(hits[0]) if hits.size else None
    try:
        sf = review_strip_figure(
            record,
            view,
            float(st.session_state["strip_t0"]),
            STRIP_S,
            strip_leads,
            show_ref,
            sel if sel_i is not None else None,
        )
        st.plotly_chart(
            sf,
            width="stretch",
            key="strip",
            on_select=on_strip_select,
            selection_mode="points",
            config=PLOT_CONFIG,
            theme=None,
        )
    except Exception as exc:
        log.exception("strip failed")
        st.error(f"The strip could not be drawn: {type(exc).__name__}: {exc}")
    cc = st.columns([3, 2])
    cc[0].caption(
        f"{int(shown.sum()):,} flagged beats shown (markers: predicted class; hover for probability and "
        "score). Reference symbols above the trace. Click a marker or the trace to select a beat."
    )
    cc[1].toggle("Reference annotations", value=True, key="show_ref", disabled=record.annotations is None)

    # beat detail and review
    if sel_i is not None and scored is not None:
        st.subheader(f"Beat at {format_hms(float(beats['time_s'].iloc[sel_i]), 2)}")
        left, right = st.columns([3, 2])
        with left:
            try:
                beat_detail(bundle, scored, beats, sel_i)
            except Exception as exc:
                log.exception("beat detail failed")
                st.error(f"The beat detail could not be drawn: {type(exc).__name__}: {exc}")
        with right:
            if store is not None:
                review_panel(store, record, rkey, beats.iloc[sel_i], scored.bundle_version, nav)
    elif len(beats):
        st.info("Select a beat: click a marker, step with Previous/Next flagged, or pick one in the table below.")

    # tabs
    t_flag, t_sum, t_cmp, t_rev, t_dl = st.tabs(
        ["Flagged beats", "Summary", "Reference comparison", "Reviews", "Downloads"]
    )
    with t_flag:
        if len(beats):
            table = flagged_list(beats, shown, reviewed)
            st.session_state["ctx"]["table_samples"] = table.index.to_list()
            st.caption(f"{len(table):,} flagged beats with the current threshold and filters. Select a row to show it.")
            st.dataframe(
                table,
                width="stretch",
                height=320,
                on_select=on_table_select,
                selection_mode="single-row",
                key="flag_table",
            )
        else:
            st.info("No beats.")
    with t_sum:
        summary_tab(scored, beats, record)
    with t_cmp:
        comparison_tab(scored, reviewed, record)
    with t_rev:
        if store is not None:
            reviews_tab(store, record, rkey)
    with t_dl:
        downloads_tab(record, scored, reviewed)


main()
