"""The record's header and metrics, the whole-record overview, the strip controls and the
10-second strip on ECG paper."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.callbacks import on_jump, on_overview_select, on_step, on_strip_select
from dashboard.panels import PLOT_CONFIG
from dashboard.state import STRIP_S, UIState
from ecg.io.records import Record
from ecg.scoring.score import ScoredRecord
from ecg.viz import format_hms
from ecg.viz.interactive import WINDOW_COLOR, review_overview_figure, review_strip_figure
from ecg.viz.timeaxis import apply_time_axis, label_strip_seconds

log = logging.getLogger("ecg.dashboard")


def header(record: Record, scored: ScoredRecord | None, beats: pd.DataFrame, lead_name: str, label: str, kind: str):
    """Title, record facts and warnings about the signal."""
    st.title(f"Record {record.name}")
    duration = record.duration_s
    info = [
        format_hms(duration, 0) + " recorded",
        f"{float(record.fs):g} Hz",
        "leads " + ", ".join(record.lead_names),
        f"analysed lead {lead_name}",
    ]
    if record.start_time is not None:
        info.insert(1, f"started {record.start_time:%Y-%m-%d %H:%M:%S}")
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


def metrics_row(beats: pd.DataFrame, scored: ScoredRecord | None, n_shown: int) -> None:
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


@st.cache_data(max_entries=16, show_spinner=False)
def overview_dict(view_key: str, lead_name: str, threshold: float, _record: Record, _view: pd.DataFrame) -> dict:
    """The overview figure (as a dict) of the view identified by ``view_key`` (record, lead,
    threshold and filters), its strip window at the start: built once per view, then only
    the window moves (:func:`move_window`)."""
    fig = review_overview_figure(_record, _view, lead_name, threshold, 0.0, STRIP_S)
    apply_time_axis(fig, 0.0, _record.duration_s, _record.start_time)
    return fig.to_dict()


def move_window(fig: dict, t0: float, t1: float) -> dict:
    """The overview ``fig`` (dict, changed in place) with its shaded strip window at ``[t0, t1]`` s."""
    for shape in fig.get("layout", {}).get("shapes", []):
        if shape.get("fillcolor") == WINDOW_COLOR:
            shape["x0"], shape["x1"] = t0, t1
    return fig


def overview(record: Record, view: pd.DataFrame, lead_name: str, threshold: float, t0: float, view_key: str) -> None:
    try:
        fig = move_window(overview_dict(view_key, lead_name, threshold, record, view), t0, t0 + STRIP_S)
        st.plotly_chart(
            fig,
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


def strip_controls(nav: np.ndarray, max_t0: float, family: int | None) -> None:
    what = f"beat of family {family}" if family is not None else "flagged beat (with the current filters)"
    c = st.columns([1.3, 1.3, 1.8, 4.6], vertical_alignment="center")
    c[0].button(
        "◀ Previous",
        on_click=on_step,
        args=(-1,),
        key="prev_flag",
        width="stretch",
        disabled=nav.size == 0,
        help=f"Previous {what}",
    )
    c[1].button(
        "Next ▶",
        on_click=on_step,
        args=(+1,),
        key="next_flag",
        width="stretch",
        disabled=nav.size == 0,
        help=f"Next {what}",
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
        help="Start of the strip, seconds from the record start",
    )


def strip(
    state: UIState, record: Record, view: pd.DataFrame, leads: list[str], selected: int | None, n_shown: int
) -> None:
    t0 = state.strip_t0
    try:
        fig = review_strip_figure(record, view, t0, STRIP_S, leads, state.show_ref, selected)
        label_strip_seconds(fig, t0, t0 + STRIP_S, record.start_time)
        st.plotly_chart(
            fig,
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
        f"{n_shown:,} flagged beats shown (markers: predicted class; hover for probability and "
        "score). Reference symbols above the trace. Click a marker or the trace to select a beat."
    )
    cc[1].toggle("Reference annotations", value=True, key="show_ref", disabled=record.annotations is None)
