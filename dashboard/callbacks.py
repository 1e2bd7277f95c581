"""Widget callbacks that move the selection and the strip (they run before the page's next
run, so they only change the session state)."""

from __future__ import annotations

import streamlit as st

from dashboard.state import STRIP_S, UIState
from ecg.viz import format_hms
from ecg.viz.navigation import nearest, neighbour, parse_time, point_sample, selection_point, strip_start_for


def select_beat(state: UIState, sample: int | None, centre: bool = True) -> None:
    """Select a beat and (unless it is on the strip already) centre the strip on it."""
    ctx = state.ctx
    state.sel = sample
    if sample is None or ctx.duration <= 0:
        return
    t = sample / ctx.fs
    t0 = state.strip_t0
    if centre or not (t0 + 1.0 <= t <= t0 + STRIP_S - 1.0):
        state.strip_t0 = strip_start_for(t, STRIP_S, ctx.duration)


def on_step(direction: int) -> None:
    state = UIState()
    ctx = state.ctx
    cur = state.sel
    if cur is None:  # start from the strip's position
        cur = int(state.strip_t0 * ctx.fs)
    nxt = neighbour(ctx.nav, cur, direction)
    if nxt is None:
        what = "beat of this family" if state.open_family is not None else "flagged beat (with the current filters)"
        state.flash("info", f"No further {what} in that direction.")
    else:
        select_beat(state, nxt, centre=False)


def select_near_time(state: UIState, t: float, flagged_first: bool) -> None:
    ctx = state.ctx
    target = t * ctx.fs
    if flagged_first:
        j = nearest(ctx.nav, target)
        if j is not None and abs(ctx.nav[j] - target) <= STRIP_S / 2 * ctx.fs:
            select_beat(state, int(ctx.nav[j]), centre=False)
            state.strip_t0 = strip_start_for(t, STRIP_S, ctx.duration)
            return
    j = nearest(ctx.samples, target)
    state.strip_t0 = strip_start_for(t, STRIP_S, ctx.duration)
    if j is not None and abs(ctx.samples[j] - target) <= 1.5 * ctx.fs:
        select_beat(state, int(ctx.samples[j]), centre=False)


def on_overview_select() -> None:
    state = UIState()
    point = selection_point(state.get("overview"))
    if point is None:
        return
    sample = point_sample(point)
    if sample is not None:
        select_beat(state, sample)
    elif point.get("x") is not None:
        select_near_time(state, float(point["x"]), flagged_first=True)


def on_strip_select() -> None:
    state = UIState()
    point = selection_point(state.get("strip"))
    if point is None:
        return
    sample = point_sample(point)
    if sample is not None:
        select_beat(state, sample, centre=False)
    elif point.get("x") is not None:
        select_near_time(state, float(point["x"]), flagged_first=False)
        state.strip_t0 = state.ctx.t0  # keep the strip where it is: the click was on it


def on_jump() -> None:
    state = UIState()
    text = str(state.get("jump", "")).strip()
    if not text:
        return
    try:
        t = parse_time(text)
    except ValueError as exc:
        state.flash("error", str(exc))
        return
    ctx = state.ctx
    if t > ctx.duration:
        state.flash("warning", f"{text} is after the end of the record ({format_hms(ctx.duration, 0)}).")
    select_near_time(state, min(t, ctx.duration), flagged_first=False)
    state.strip_t0 = strip_start_for(t, STRIP_S, ctx.duration)


def on_table_select() -> None:
    state = UIState()
    ev = state.get("flag_table")
    try:
        rows = ev["selection"]["rows"]
    except (KeyError, TypeError):
        rows = []
    order = state.ctx.table_samples
    if rows and rows[0] < len(order):
        select_beat(state, int(order[rows[0]]))


def on_open_family(family: int | None, first_sample: int | None) -> None:
    """Step through ``family``'s beats with Previous/Next (None: back to the flagged beats),
    selecting its first beat."""
    state = UIState()
    state.open_family = family
    if first_sample is not None:
        state.set_pending_sel(first_sample)


def show_flash(state: UIState) -> None:
    for kind, text in state.pop_flash():
        getattr(st, kind)(text)
