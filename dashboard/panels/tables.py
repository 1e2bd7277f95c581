"""The tab panels under the strip: flagged beats, Holter summary, reference comparison,
stored reviews and downloads."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.callbacks import on_table_select
from dashboard.panels import PLOT_CONFIG
from dashboard.state import UIState
from ecg.evaluate.agreement import compare_reference
from ecg.io.records import Record
from ecg.review.reviewed import apply_review
from ecg.review.store import ReviewStore
from ecg.review.views import (
    annotation_bytes,
    csv_bytes,
    download_name,
    flagged_list,
    pdf_bytes,
    safe_file_stem,
    summary_tables,
)
from ecg.scoring.score import ScoredRecord
from ecg.viz import confusion_matrix_figure, format_hms, hr_trend_figure
from ecg.viz.grid import format_clock
from ecg.viz.timeaxis import apply_time_axis


def flagged_tab(state: UIState, beats: pd.DataFrame, shown: np.ndarray, reviewed: pd.DataFrame) -> None:
    if not len(beats):
        st.info("No beats.")
        return
    table = flagged_list(beats, shown, reviewed)
    ctx = state.ctx
    ctx.table_samples = table.index.to_list()
    state.ctx = ctx
    st.caption(f"{len(table):,} flagged beats with the current threshold and filters. Select a row to show it.")
    st.dataframe(
        table, width="stretch", height=320, on_select=on_table_select, selection_mode="single-row", key="flag_table"
    )


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
    fig = hr_trend_figure(beats, bin_s=bin_s)
    apply_time_axis(fig, 0.0, record.duration_s, record.start_time)
    st.plotly_chart(fig, width="stretch", config=PLOT_CONFIG, key="hr_trend")
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
    c1.markdown(
        "**Reference (rows) vs " + ("model" if which == "model" else "reviewed") + " labels (columns)**; "
        "missed: reference beats not detected, extra: detections without a reference beat"
    )
    c1.plotly_chart(confusion_matrix_figure(m, rows, cols), width="stretch", config=PLOT_CONFIG, key="confusion")
    c2.markdown("**Agreement** (EC57 conventions)")
    c2.dataframe(cmp.table(), width="stretch")


def reviews_tab(store: ReviewStore, record: Record, rkey: str) -> None:
    allr = store.all_decisions(rkey)
    st.markdown(
        f"**{len(allr):,}** decisions stored for record {record.name} (review key `{rkey}`) in `{store.path}`, "
        f"on {allr['beat_sample'].nunique() if len(allr) else 0:,} beats (family actions included)."
    )
    if len(allr):
        rev = allr.iloc[::-1]
        t = rev["beat_sample"].to_numpy(np.int64) / record.fs
        df = rev.assign(time=[format_clock(v, record.start_time) if record.start_time else format_hms(v, 2) for v in t])
        cols = [
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
        cols += [c for c in ("bulk_id", "undone_at") if c in df.columns]
        st.dataframe(df[cols], hide_index=True, width="stretch")


def downloads_tab(
    record: Record,
    scored: ScoredRecord | None,
    beats: pd.DataFrame,
    latest: pd.DataFrame,
    threshold: float,
    review_source: str,
) -> None:
    """The reviewed record's files, made when clicked by :mod:`ecg.review.reviewed` exactly as
    ``ecg report`` makes them, with the flags at the current ``threshold``."""
    if scored is None:
        st.info("Nothing to download: the record could not be scored.")
        return
    stem = safe_file_stem(record.name)
    n_rev = len(latest)

    @functools.cache
    def reviewed() -> ScoredRecord:
        return apply_review(dataclasses.replace(scored, beats=beats, threshold=threshold), latest, source=review_source)

    st.markdown(
        f"{len(beats):,} beats, {n_rev:,} reviewed. The files use the current threshold ({threshold:g}) for the "
        "flags, the reviewers' labels where a beat was reviewed and a summary recomputed with them; they are the "
        "files `ecg report` writes."
    )
    c1, c2, c3 = st.columns(3)
    c1.download_button(
        "Beat table (CSV, reviewed)",
        data=lambda: csv_bytes(reviewed(), stem),
        file_name=download_name(stem, "csv"),
        mime="text/csv",
        on_click="ignore",
        key="dl_csv",
    )
    c1.caption("Schema columns plus effective_label, review_decision, reviewer, reviewed_at, review_comment.")
    c2.download_button(
        "WFDB annotations (.ecg, reviewed labels)",
        data=lambda: annotation_bytes(reviewed(), stem),
        file_name=download_name(stem, "wfdb"),
        mime="application/octet-stream",
        on_click="ignore",
        key="dl_ann",
    )
    c2.caption(f"Read it with wfdb.rdann('{download_name(stem, 'wfdb').rsplit('.', 1)[0]}', 'ecg').")
    c3.download_button(
        "PDF report (reviewed)",
        data=lambda: pdf_bytes(reviewed(), stem),
        file_name=download_name(stem, "pdf"),
        mime="application/pdf",
        on_click="ignore",
        key="dl_pdf",
    )
    c3.caption("Reviewed summary and strips of the flagged beats with the reviewed labels (takes a few seconds).")
