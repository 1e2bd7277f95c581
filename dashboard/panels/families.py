"""The families panel: every morphology family of the record as a tile (a sample of its beats
superimposed, their mean over them, the count, the dominant class and the reviewed class once
decided); open a family to page through its beats on the strip; confirm, relabel, dismiss or
mark a whole family as artefact in one action; the record's family actions with Undo.

Tiles come from :func:`ecg.viz.families.family_tiles` on a bounded sample per family, cached
per record, so a 24-hour record's panel costs about what a 30-minute one's does.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.callbacks import on_open_family
from dashboard.identity import Reviewer
from dashboard.panels import PLOT_CONFIG
from dashboard.panels.beat import describe_decision
from dashboard.state import UIState
from ecg.labels import AAMI_CLASSES
from ecg.models.bundle import ModelBundle
from ecg.review.store import ReviewStore
from ecg.scoring.score import ScoredRecord
from ecg.viz.families import FamilyTile, family_grid_figure, family_tiles

#: Bulk decisions offered for a family, with their button text.
FAMILY_DECISIONS = {
    "relabel": "Relabel every beat as...",
    "dismiss": "Dismiss (every beat normal, N)",
    "artefact": "Artefact (no beat is a heartbeat)",
    "confirm": "Confirm the model's classes",
}


@st.cache_data(max_entries=8, show_spinner=False)
def cached_tiles(scored_key: str, _scored: ScoredRecord) -> list[FamilyTile]:
    """The record's family tiles (without review state), cached per scored record
    (``scored_key`` identifies it)."""
    b = _scored.beats
    if "family" not in b.columns or _scored.model_waves.shape[0] != len(b):
        return []
    return family_tiles(
        b["family"].to_numpy(np.int64),
        b["pred_class"].astype(str).to_numpy(),
        _scored.model_waves,
        b["sample"].to_numpy(np.int64),
    )


def family_verdicts(bulk: pd.DataFrame) -> dict[int, str]:
    """Family id -> its reviewed class from the record's bulk actions (the latest not undone
    action per family): the new label, ``N`` when dismissed, ``artefact``, or ``confirmed``."""
    out: dict[int, str] = {}
    if not len(bulk):
        return out
    live = bulk[bulk["undone_at"].isna() & bulk["family"].notna()]
    for _, a in live.sort_values("id").iterrows():  # a loop over a handful of actions
        d = str(a["decision"])
        out[int(a["family"])] = {"relabel": str(a["new_label"]), "dismiss": "N", "artefact": "artefact"}.get(
            d, "confirmed"
        )
    return out


def with_verdicts(tiles: list[FamilyTile], verdicts: dict[int, str]) -> list[FamilyTile]:
    return [replace(t, reviewed=verdicts.get(t.family, "")) for t in tiles]


def families_panel(
    state: UIState,
    scored: ScoredRecord,
    scored_key: str,
    bundle: ModelBundle | None,
    store: ReviewStore | None,
    reviewer: Reviewer,
    rkey: str,
) -> None:
    beats = scored.beats
    tiles = cached_tiles(scored_key, scored)
    if not tiles:
        st.info("No beat families: the record has no scored beats with waveforms.")
        return
    bulk = store.bulk_actions(rkey) if store is not None else pd.DataFrame()
    tiles = with_verdicts(tiles, family_verdicts(bulk))
    fam = beats["family"].to_numpy(np.int64)
    n_in = int((fam >= 0).sum())
    st.caption(
        f"{len(tiles)} families hold {n_in:,} of {len(beats):,} beats ({len(beats) - n_in:,} in none: unreadable "
        "signal or isolated odd beats). Each tile: up to 30 beats of the family superimposed (grey), their mean "
        "(bold; colour of the class), the number of beats, the dominant predicted class and, after a family "
        "decision, the reviewed class. Beats reviewed one by one keep their own decision."
    )
    ids = [t.family for t in tiles]
    open_f = state.open_family
    w = bundle.config.window if bundle is not None else None
    fs, pre_s = (w.fs, w.pre_s) if w is not None else (100.0, 0.25)
    st.plotly_chart(
        family_grid_figure(tiles, fs, pre_s, selected=open_f if open_f in ids else None),
        width="stretch",
        config=PLOT_CONFIG,
        key="family_grid",
    )
    by_id = {t.family: t for t in tiles}
    c1, c2 = st.columns([2, 3])
    with c1:
        chosen = st.selectbox(
            "Family",
            ids,
            index=ids.index(open_f) if open_f in ids else 0,
            key="family_pick",
            format_func=lambda f: by_id[f].title + "  (" + _classes(by_id[f]) + ")",
        )
        members = beats["sample"].to_numpy(np.int64)[fam == chosen]
        b1, b2 = st.columns(2)
        b1.button(
            f"Open family {chosen} on the strip",
            key="family_open",
            on_click=on_open_family,
            args=(int(chosen), int(members[0]) if members.size else None),
            help="Previous/Next then step through this family's beats, on the strip above.",
            width="stretch",
        )
        b2.button(
            "Back to flagged beats",
            key="family_close",
            on_click=on_open_family,
            args=(None, None),
            disabled=open_f is None,
            width="stretch",
        )
    with c2:
        if store is None:
            st.info("Reviews are disabled (the review database could not be opened).")
        else:
            _family_form(state, store, reviewer, rkey, scored, beats, int(chosen), by_id[chosen])
    if store is not None:
        _bulk_table(store, reviewer, rkey, bulk)


def _classes(t: FamilyTile) -> str:
    return ", ".join(f"{c} {n:,}" for c, n in t.class_counts.items())


def _family_form(
    state: UIState,
    store: ReviewStore,
    reviewer: Reviewer,
    rkey: str,
    scored: ScoredRecord,
    beats: pd.DataFrame,
    family: int,
    tile: FamilyTile,
) -> None:
    with st.form(f"family_form_{family}", border=True):
        st.markdown(f"**Decide family {family}** ({tile.count:,} beats: {_classes(tile)})")
        decision = st.radio(
            "Decision for every beat of the family",
            list(FAMILY_DECISIONS),
            index=None,
            key=f"family_decision_{family}",
            format_func=FAMILY_DECISIONS.get,
            horizontal=False,
        )
        new_label = st.selectbox(
            "New class (for relabel)",
            AAMI_CLASSES,
            key=f"family_label_{family}",
            index=AAMI_CLASSES.index(tile.dominant_class) if tile.dominant_class in AAMI_CLASSES else 0,
        )
        comment = st.text_input("Comment (optional)", key=f"family_comment_{family}")
        submitted = st.form_submit_button(f"Apply to all {tile.count:,} beats", type="primary", key="family_apply")
    if not submitted:
        if state.get("family_note"):
            st.success(state.raw.pop("family_note"))
        return
    if not reviewer.can_save:
        st.error("Sign in (sidebar) first." if reviewer.auth else "Enter your name as reviewer (sidebar) first.")
        return
    if decision is None:
        st.error("Choose a decision for the family first.")
        return
    m = beats["family"].to_numpy(np.int64) == family
    labels = beats["pred_class"].astype(str).to_numpy()[m]
    labels = np.where(np.isin(labels, AAMI_CLASSES), labels, "Q")
    try:
        bid = store.record_bulk_decision(
            rkey,
            beats["sample"].to_numpy(np.int64)[m],
            labels,
            reviewer.name,
            decision,
            new_label if decision == "relabel" else None,
            family=family,
            comment=comment or "",
            bundle_version=scored.bundle_version,
        )
    except (ValueError, sqlite3.Error, RuntimeError) as exc:
        st.error(f"The family decision was not saved: {exc}")
        return
    what = describe_decision(decision, tile.dominant_class, new_label if decision == "relabel" else None)
    state["family_note"] = f"Saved family action {bid}: {int(m.sum()):,} beats of family {family} {what}."
    st.rerun()


def _bulk_table(store: ReviewStore, reviewer: Reviewer, rkey: str, bulk: pd.DataFrame) -> None:
    st.markdown("**Family actions on this record** (newest first)")
    if not len(bulk):
        st.caption("None yet.")
        return
    show = bulk.iloc[::-1]
    for _, a in show.iterrows():  # one row per bulk action (a handful)
        c = st.columns([6, 1.2], vertical_alignment="center")
        fam = "-" if pd.isna(a["family"]) else int(a["family"])
        what = {"relabel": f"relabelled → {a['new_label']}", "dismiss": "dismissed → N", "artefact": "artefact"}.get(
            str(a["decision"]), "confirmed"
        )
        undone = not pd.isna(a["undone_at"])
        text = (
            f"#{int(a['id'])} · family {fam} · {int(a['n_beats']):,} beats {what} by {a['reviewer']} "
            f"({str(a['decided_at'])[:16].replace('T', ' ')} UTC)"
            + (
                f" · **undone** by {a['undone_by']} ({str(a['undone_at'])[:16].replace('T', ' ')} UTC)"
                if undone
                else ""
            )
            + (f" · {a['comment']}" if a["comment"] else "")
        )
        c[0].markdown(("~~" + text + "~~") if undone else text)
        if c[1].button("Undo", key=f"undo_bulk_{int(a['id'])}", disabled=undone, width="stretch"):
            if not reviewer.can_save:
                st.error(
                    "Sign in (sidebar) first." if reviewer.auth else "Enter your name as reviewer (sidebar) first."
                )
                return
            try:
                store.undo_bulk(int(a["id"]), reviewer.name)
            except (ValueError, sqlite3.Error, RuntimeError) as exc:
                st.error(f"Not undone: {exc}")
                return
            st.rerun()
