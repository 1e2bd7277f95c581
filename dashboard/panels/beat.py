"""The selected beat: its waveform against the autoencoder's reconstruction with the class
probabilities, its facts, and the review form (confirm / dismiss / relabel / artefact)."""

from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.identity import Reviewer
from dashboard.panels import PLOT_CONFIG
from dashboard.state import UIState
from ecg.io.records import Record
from ecg.labels import AAMI_CLASSES
from ecg.models.bundle import ModelBundle
from ecg.review.store import ReviewStore
from ecg.review.views import decision_text, history_frame
from ecg.scoring.score import ScoredRecord, reconstruct
from ecg.viz import beat_detail_figure, format_hms
from ecg.viz.figures import DEFAULT_THRESHOLD
from ecg.viz.grid import format_clock
from ecg.viz.navigation import LOCAL_RR_BEATS, local_mean_rr, neighbour

DECISION_LABELS = {
    "confirm": "Confirm the model's class",
    "dismiss": "Dismiss (normal beat, N)",
    "relabel": "Relabel as...",
    "artefact": "Artefact (not a heartbeat)",
}


def describe_decision(decision: str, model_label: str, new_label: str | None) -> str:
    """A short description of a review decision, ``artefact`` included."""
    if decision == "artefact":
        return f"marked artefact ({model_label} -> not a beat)"
    return decision_text(decision, model_label, new_label)


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


def prematurity_text(rr_prev_s: Any, local_s: float | None) -> str:
    """The RR interval before the beat as a share of the local mean RR, said in words
    (a premature beat comes early: well under 100 %)."""
    prev = _finite(rr_prev_s)
    if prev is None or not local_s:
        return ""
    return (
        f"RR before the beat is {100.0 * prev / local_s:.0f} % of the local mean RR (mean of the last "
        f"{LOCAL_RR_BEATS} RR intervals, this one included; under about 85 % means premature)"
    )


def beat_detail(
    bundle: ModelBundle | None, scored: ScoredRecord, beats: pd.DataFrame, i: int, record: Record, threshold: float
) -> None:
    row = beats.iloc[i]
    probs = {c: float(row[f"prob_{c}"]) for c in (bundle.classes if bundle else ()) if f"prob_{c}" in row}
    local = local_mean_rr(beats, i)
    if bundle is not None and scored.model_waves.shape[0] == len(beats):
        wave = scored.model_waves[i]
        recon = reconstruct(bundle, wave)
        w = bundle.config.window
        # the RR context, prematurity included, is in the caption below, said in words
        rr = {"rr_prev_s": row["rr_prev_s"], "rr_next_s": row["rr_next_s"]}
        fig = beat_detail_figure(wave, recon, w.fs, w.pre_s, probs, rr, y_label="normalised amplitude")
        fig.update_layout(
            title=dict(font=dict(size=13)),
            margin=dict(t=80, b=80),
            legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0),
        )
        st.plotly_chart(fig, width="stretch", config=PLOT_CONFIG, key="beat_detail")
    t = float(row["time_s"])
    when = (
        f"{format_clock(t, record.start_time)} ({format_hms(t, 2)} from the start"
        if record.start_time is not None
        else f"{format_hms(t, 2)} ("
    )
    prem = prematurity_text(row["rr_prev_s"], local)
    st.caption(
        f"Beat at {when}{', ' if record.start_time is not None else ''}sample {int(row['sample'])}): model class "
        f"**{row['pred_class']}**, anomaly score **{_score(row['anomaly_score'])}** of 100 "
        f"(threshold {threshold:g})"
        + (f", flag: {row['flag_reason']}" if row["flag_reason"] else ", not flagged")
        + (f", reference **{row['ref_symbol']}**" if row["ref_symbol"] else "")
        + f". RR before {_ms(row['rr_prev_s'])}, after {_ms(row['rr_next_s'])}, local mean {_ms(local)}"
        + (f"; {prem}" if prem else "")
        + f". Signal quality: {row.get('quality', '-')}"
        + (f". Family {int(row['family'])}" if "family" in row and int(row["family"]) >= 0 else "")
        + (". Inside an AF/flutter episode: the model does not call S here." if row.get("af", False) else "")
        + (". Unreadable signal: the beat is not classified." if row.get("quality") == "unreadable" else "")
    )


def review_panel(
    state: UIState,
    store: ReviewStore,
    reviewer: Reviewer,
    record: Record,
    rkey: str,
    beat: pd.Series,
    bundle_version: str,
    nav: np.ndarray,
) -> None:
    sample = int(beat["sample"])
    model_label = str(beat["pred_class"])
    history = store.history(rkey, sample)
    if state.saved_note:  # the confirmation of the last save, beside the form
        st.success(state.saved_note)
        state.saved_note = None
    effective = store.effective_decision(rkey, sample) if history else None
    if effective is not None:
        how = "family decision" if effective.bulk_id is not None else "review"
        st.markdown(
            f"**Current {how}:** {describe_decision(effective.decision, effective.model_label, effective.new_label)} "
            f"by {effective.reviewer} ({effective.decided_at[:16].replace('T', ' ')} UTC)"
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
        if not reviewer.can_save:
            st.error(
                "Sign in (sidebar) before saving a decision."
                if reviewer.auth
                else "Enter your name as reviewer (sidebar) before saving a decision."
            )
            return
        if decision is None:
            st.error("Choose a decision (confirm, dismiss, relabel or artefact) before saving.")
            return
        try:
            d = store.record_decision(
                rkey,
                sample,
                reviewer.name,
                model_label if model_label in AAMI_CLASSES else "Q",
                decision,
                new_label if decision == "relabel" else None,
                comment or "",
                bundle_version,
            )
        except (ValueError, sqlite3.Error, RuntimeError) as exc:
            st.error(f"The decision was not saved: {exc}")
            return
        state.saved_note = (
            f"Saved: beat at {format_hms(sample / record.fs, 2)} "
            f"{describe_decision(d.decision, d.model_label, d.new_label)} ({d.reviewer})."
        )
        if state.auto_advance:
            nxt = neighbour(nav, sample, +1)
            if nxt is not None:
                state.set_pending_sel(nxt)  # applied before the widgets of the next run
        st.rerun()
    if history:
        with st.expander(f"History of this beat ({len(history)})"):
            st.dataframe(history_frame(history), hide_index=True, width="stretch")


def threshold_or_default(state: UIState) -> float:
    return state.threshold if state.threshold is not None else DEFAULT_THRESHOLD
