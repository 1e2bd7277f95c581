"""The review page: sidebar (record, flags, reviewer, leads), header and metrics, overview,
strip with its controls, the selected beat with its review form, and the tabs (flagged beats,
families, summary, reference comparison, reviews, downloads).

Environment: ``ECG_BUNDLE`` (model bundle file; default the shipped bundle),
``ECG_REVIEW_DB`` (review database; default ``data/reviews.db``), ``ECG_DATA_DIR`` (default
data directory), ``ECG_TORCH_THREADS`` (PyTorch threads used for scoring; default 1),
``ECG_UPLOAD_MAX_AGE_H`` (hours after which left-over upload folders are deleted).
"""

from __future__ import annotations

import logging
import os
import sqlite3

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import sources
from dashboard.callbacks import select_beat, show_flash
from dashboard.identity import Reviewer, reviewer_sidebar
from dashboard.panels import beat as beat_panel
from dashboard.panels import families as families_panel
from dashboard.panels import overview as overview_panel
from dashboard.panels import tables
from dashboard.state import STRIP_S, UIState, ViewContext
from ecg.errors import DownloadError, ECGError, RecordError
from ecg.io.records import Record
from ecg.labels import AAMI_CLASSES
from ecg.models.bundle import ModelBundle
from ecg.review.reviewed import review_source
from ecg.review.store import ReviewStore, default_db_path
from ecg.review.views import reviewed_table
from ecg.scoring.schema import empty_beat_table
from ecg.scoring.score import ScoredRecord, reflag
from ecg.viz.figures import DEFAULT_THRESHOLD
from ecg.viz.grid import format_clock, format_hms
from ecg.viz.navigation import FILTERABLE_FLAG_REASONS, filter_mask, view_table

log = logging.getLogger("ecg.dashboard")

#: The tabs under the strip (``st.session_state["main_tab"]`` holds the open one).
TABS = ("Flagged beats", "Families", "Summary", "Reference comparison", "Reviews", "Downloads")

#: Scrolls the page to its top (run once after a record change).
_SCROLL_TOP_JS = """<script>
(() => { const d = window.parent ? window.parent.document : document;
  const sel = ['[data-testid="stMain"]', '[data-testid="stAppViewContainer"]', 'section.main'];
  const top = () => { for (const s of sel) {
      const el = d.querySelector(s); if (el) { el.scrollTop = 0; } }
    (window.parent || window).scrollTo(0, 0); };
  top(); setTimeout(top, 300); setTimeout(top, 1500); })();
</script><!-- %s -->"""


def sidebar_settings() -> tuple[float, list[str], list[str]]:
    """The flag settings: threshold, classes and flag reasons shown."""
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
    return thr, classes, reasons


def load_bundle_for(source: sources.Source) -> tuple[ModelBundle | None, str]:
    """The chosen model bundle (None when missing or unusable: the page says why) and its key."""
    bpath = sources.chosen_bundle_path()
    if not bpath.is_file():
        st.error(
            f"No model bundle at {bpath}: the record is shown without scoring. Train one with "
            "`ecg train` or set ECG_BUNDLE to a bundle file."
        )
        return None, ""
    try:
        bundle = sources.get_bundle(str(bpath), bpath.stat().st_mtime)
    except (ECGError, OSError) as exc:
        st.error(f"The model bundle cannot be used: {exc}. The record is shown without scoring.")
        return None, ""
    if source.kind == "demo" and source.label in bundle.training_records:
        st.sidebar.caption(
            f"Record {source.label} is a training patient of this bundle ({bundle.version}): its results "
            "flatter the model. DS2 records (100, 232) are unseen by the ds1 bundle."
        )
    return bundle, f"{bpath}:{bpath.stat().st_mtime_ns}:{bundle.version}"


def load_and_score(
    state: UIState, source: sources.Source, bundle: ModelBundle | None, bundle_key: str, lead: str | None
) -> tuple[Record | None, ScoredRecord | None, str | None]:
    """The record and its scoring (None when it could not be scored: the message says why)."""
    kind, ref, label = source
    token = source.token
    scored = record = score_error = None
    with st.spinner(f"Loading and scoring {label}..."):
        if bundle is not None:
            try:
                scored = sources.get_scored(kind, ref, token, lead, bundle_key, bundle)
                record = scored.record
            except DownloadError as exc:
                sources.download_failed(state, kind, exc)
                return None, None, None
            except RecordError as exc:
                score_error = str(exc)
            except Exception as exc:  # a record the library could not handle: message, no traceback
                log.exception("scoring failed")
                score_error = f"{type(exc).__name__}: {exc}"
        if record is None:
            try:
                record = sources.get_record(kind, ref, token)
            except DownloadError as exc:
                sources.download_failed(state, kind, exc)
                return None, None, None
            except RecordError as exc:
                st.error(f"Cannot read the record: {exc}")
                return None, None, None
            except Exception as exc:
                log.exception("loading failed")
                st.error(f"Cannot read the record {label}: {type(exc).__name__}: {exc}")
                return None, None, None
    return record, scored, score_error


def open_store(rkey: str) -> tuple[ReviewStore | None, pd.DataFrame]:
    """The review store and the record's effective decisions; an error (not a traceback) and
    reviews disabled when the database cannot be opened (damaged, unreadable, too new)."""
    try:
        store = sources.get_store(str(default_db_path().resolve()))
        return store, store.latest_decisions(rkey)
    except (ECGError, sqlite3.Error, OSError, RuntimeError, ValueError) as exc:
        st.error(f"The review database {default_db_path()} cannot be used: {exc} Reviews are disabled.")
        return None, pd.DataFrame(columns=["beat_sample"])


def leads_sidebar(state: UIState, record: Record, label: str, lead_choice: str | None) -> list[str]:
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
            state.set_lead_choice(label, None if chosen == "all" else chosen)
            st.rerun()
        return st.multiselect(
            "Leads on the strip", list(record.lead_names), default=list(record.lead_names), key=f"strip_leads::{label}"
        ) or list(record.lead_names)


def main() -> None:
    st.set_page_config(page_title="ECG review", page_icon=":anatomical_heart:", layout="wide")
    sources.set_torch_threads(int(os.environ.get("ECG_TORCH_THREADS", "1") or 1))
    sources.sweep_uploads_once(sources.upload_max_age_h())
    state = UIState()
    state.raw.setdefault("strip_t0", 0.0)
    state.raw.setdefault("sel", None)

    source = sources.choose_source(state)
    thr, classes, reasons = sidebar_settings()
    st.sidebar.header("Review")
    reviewer: Reviewer = reviewer_sidebar(state)
    st.sidebar.toggle("After saving, go to the next flagged beat", value=True, key="auto_advance")

    show_flash(state)
    if source is None:
        st.title("ECG review")
        st.info(
            "Choose a record in the sidebar: a demo record, a record from a data directory, an upload of WFDB "
            "files (.hea + .dat, optionally .atr) or a PhysioNet record such as mitdb/100."
        )
        return

    bundle, bundle_key = load_bundle_for(source)
    lead_choice = state.lead_choice(source.label)
    record, scored, score_error = load_and_score(state, source, bundle, bundle_key, lead_choice)
    if record is None:
        return
    if score_error:
        st.warning(f"The record could not be scored: {score_error}. The signal is shown without beats.")
    strip_leads = leads_sidebar(state, record, source.label, lead_choice)

    base_beats = scored.beats if scored is not None else empty_beat_table()
    beats = reflag(base_beats, thr) if len(base_beats) else base_beats
    shown = filter_mask(beats, classes, reasons)
    view = view_table(beats, shown) if len(beats) else beats
    samples = beats["sample"].to_numpy(np.int64) if len(beats) else np.zeros(0, np.int64)
    lead_name = scored.leads[0] if scored is not None else record.lead_names[0]
    duration, fs = record.duration_s, float(record.fs)

    # new record (or lead): back to the flagged beats, at the first one, page scrolled up
    active = f"{source.kind}|{source.ref}|{source.token}|{lead_name}"
    if state.active != active:
        state.active = active
        state.sel = None
        state.strip_t0 = 0.0
        state.open_family = None
        state.scroll_to_top = True
        state.ctx = ViewContext(fs=fs, duration=duration)
        first = samples[shown] if len(beats) else samples
        if first.size:
            select_beat(state, int(first[0]))
    family = state.open_family
    if family is not None and "family" in beats.columns:
        nav = samples[beats["family"].to_numpy(np.int64) == family]
    else:
        family, nav = None, samples[shown] if len(beats) else samples
    pending = state.pop_pending_sel()
    if pending is not None:
        state.ctx = ViewContext(fs=fs, duration=duration, nav=nav, samples=samples, t0=state.strip_t0)
        select_beat(state, pending)
    max_t0 = max(0.0, round(duration - STRIP_S, 1))
    if not 0.0 <= state.strip_t0 <= max_t0:
        state.strip_t0 = min(max(0.0, state.strip_t0), max_t0)
    state.ctx = ViewContext(fs=fs, duration=duration, nav=nav, samples=samples, t0=state.strip_t0)

    rkey = sources.get_review_key(source.kind, source.ref, source.token)
    store, latest = open_store(rkey)
    reviewed = reviewed_table(beats, latest)

    overview_panel.header(record, scored, beats, lead_name, source.label, source.kind)
    overview_panel.metrics_row(beats, scored, int(shown.sum()))
    view_key = f"{active}|{bundle_key}|{thr}|{','.join(classes)}|{','.join(reasons)}"
    overview_panel.overview(record, view, lead_name, thr, state.strip_t0, view_key)
    if family is not None:
        st.info(
            f"Previous / Next step through the {nav.size:,} beats of family {family} "
            "(Families tab: 'Back to flagged beats' to leave)."
        )
    overview_panel.strip_controls(nav, max_t0, family)

    sel = state.sel
    sel_i = None
    if sel is not None and len(beats):
        hits = np.flatnonzero(samples == sel)
        sel_i = int(hits[0]) if hits.size else None
    overview_panel.strip(state, record, view, strip_leads, sel if sel_i is not None else None, int(shown.sum()))

    if sel_i is not None and scored is not None:
        t_sel = float(beats["time_s"].iloc[sel_i])
        st.subheader(f"Beat at {format_clock(t_sel, record.start_time) if record.start_time else format_hms(t_sel, 2)}")
        left, right = st.columns([3, 2])
        with left:
            try:
                beat_panel.beat_detail(bundle, scored, beats, sel_i, record, thr)
            except Exception as exc:
                log.exception("beat detail failed")
                st.error(f"The beat detail could not be drawn: {type(exc).__name__}: {exc}")
        with right:
            if store is not None:
                beat_panel.review_panel(
                    state, store, reviewer, record, rkey, beats.iloc[sel_i], scored.bundle_version, nav
                )
    elif len(beats):
        st.info("Select a beat: click a marker, step with Previous/Next flagged, or pick one in the table below.")

    # only the open tab is drawn (a tab change reruns the page): a run costs one tab, not six
    t_flag, t_fam, t_sum, t_cmp, t_rev, t_dl = st.tabs(list(TABS), key="main_tab", on_change="rerun")
    if t_flag.open:
        with t_flag:
            tables.flagged_tab(state, beats, shown, reviewed)
    if t_fam.open:
        with t_fam:
            if scored is None:
                st.info("No families: the record could not be scored.")
            else:
                families_panel.families_panel(state, scored, f"{active}|{bundle_key}", bundle, store, reviewer, rkey)
    if t_sum.open:
        with t_sum:
            tables.summary_tab(scored, beats, record)
    if t_cmp.open:
        with t_cmp:
            tables.comparison_tab(scored, reviewed, record)
    if t_rev.open and store is not None:
        with t_rev:
            tables.reviews_tab(store, record, rkey)
    if t_dl.open:
        with t_dl:
            source_text = review_source(store, rkey) if store is not None else "no review database"
            tables.downloads_tab(record, scored, beats, latest, thr, source_text)

    if state.scroll_to_top:
        state.scroll_to_top = False
        # a new container key per record change: the script is mounted (so run) afresh
        n = int(state.get("scroll_count", 0)) + 1
        state["scroll_count"] = n
        with st.container(key=f"scroll_top_{n}", height=1, border=False):
            st.html(_SCROLL_TOP_JS % active, unsafe_allow_javascript=True)
