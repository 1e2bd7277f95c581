"""Beat families as tiles: for each morphology family (the beat table's ``family`` column,
:mod:`ecg.review.families`) a sample of its members superimposed, their mean drawn over them,
the family's size, its dominant predicted class and, once a reviewer decided the family, the
reviewed class. Pure functions: arrays in, dataclasses or ``go.Figure`` out; no Streamlit.

Waveforms are the scoring's ``model_waves``: each beat's normalised waveform (dimensionless),
sampled at ``fs`` Hz with the R peak ``pre_s`` s after the first sample; x in the figures is
milliseconds from the R peak. The cost is bounded per family (at most ``max_members`` drawn
and ``max_mean_members`` averaged, evenly spaced in time), so tiles of a 24-hour record
(about 100,000 beats) cost about what a 30-minute record's do, apart from one sort.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from ecg.viz.grid import class_color

#: Members drawn per tile at most.
MAX_MEMBERS: int = 30
#: Members averaged per tile at most (evenly spaced over the recording).
MAX_MEAN_MEMBERS: int = 1000
#: Tiles per row of :func:`family_grid_figure`.
GRID_COLUMNS: int = 5
#: Colour of the superimposed members.
MEMBER_COLOR: str = "rgba(90, 90, 90, 0.25)"
#: Class order of :attr:`FamilyTile.class_counts`.
CLASS_ORDER: tuple[str, ...] = ("N", "S", "V", "F", "Q")


@dataclass(frozen=True)
class FamilyTile:
    """One family's tile. ``family``: its id (0 = the largest); ``count``: its beats;
    ``class_counts``: beats per predicted class (classes with none left out); ``dominant_class``:
    the most common predicted class; ``reviewed``: the reviewed class (e.g. ``"V"``, or
    ``"artefact"``) when a reviewer decided the family, else ""; ``member_samples``: int64
    (k,) the drawn members' R-peak samples (k <= ``max_members``, in time order);
    ``members``: float32 (k, window) their waveforms; ``mean``: float32 (window,) the mean
    waveform of up to ``max_mean_members`` members."""

    family: int
    count: int
    class_counts: dict[str, int]
    dominant_class: str
    reviewed: str
    member_samples: np.ndarray
    members: np.ndarray
    mean: np.ndarray

    @property
    def title(self) -> str:
        """``#id · n beats · class`` (plus ``→ reviewed`` once decided)."""
        t = f"#{self.family} · {self.count:,} beats · {self.dominant_class or '-'}"
        return t + (f" → {self.reviewed}" if self.reviewed else "")


def _even(idx: np.ndarray, k: int) -> np.ndarray:
    """At most ``k`` elements of ``idx`` evenly spaced over it (first and last included)."""
    if idx.size <= k:
        return idx
    return idx[np.unique(np.linspace(0, idx.size - 1, k).round().astype(np.int64))]


def family_tiles(
    family: np.ndarray,
    pred_class: np.ndarray,
    waves: np.ndarray,
    samples: np.ndarray,
    *,
    reviewed: Mapping[int, str] | None = None,
    max_members: int = MAX_MEMBERS,
    max_mean_members: int = MAX_MEAN_MEMBERS,
) -> list[FamilyTile]:
    """The tiles of a record's families, largest family first.

    ``family``: int (n_beats,) family per beat, -1 for none (left out); ``pred_class``: str
    (n_beats,) predicted classes; ``waves``: (n_beats, window) beat waveforms; ``samples``:
    int (n_beats,) R-peak samples; ``reviewed``: family id -> reviewed class, for the decided
    families. Raises ValueError when the lengths differ."""
    fam = np.asarray(family, dtype=np.int64)
    pc = np.asarray(pred_class).astype(str)
    w = np.asarray(waves)
    smp = np.asarray(samples, dtype=np.int64)
    n = fam.size
    if w.ndim != 2 or w.shape[0] != n or pc.size != n or smp.size != n:
        raise ValueError(
            f"family ({n}), pred_class ({pc.size}), waves {w.shape} and samples ({smp.size}) "
            "must describe the same beats"
        )
    if max_members < 1 or max_mean_members < 1:
        raise ValueError("max_members and max_mean_members must be >= 1")
    reviewed = reviewed or {}
    ok = np.flatnonzero(fam >= 0)
    if ok.size == 0:
        return []
    order = ok[np.argsort(fam[ok], kind="stable")]  # by family, in time order within each
    ids, starts, counts = np.unique(fam[order], return_index=True, return_counts=True)
    classes = list(CLASS_ORDER) + sorted(set(np.unique(pc[ok]).tolist()) - set(CLASS_ORDER))
    cls_arr = np.asarray(classes)
    sorter = np.argsort(cls_arr)
    cls_idx = sorter[np.searchsorted(cls_arr, pc[order], sorter=sorter)]
    # beats per (family, class) with one bincount over the pairs
    pos = np.repeat(np.arange(ids.size), counts)
    table = np.bincount(pos * len(classes) + cls_idx, minlength=ids.size * len(classes)).reshape(ids.size, -1)
    tiles = []
    for k, f in enumerate(ids):  # a loop over families (at most a few dozen), not beats
        members = order[starts[k] : starts[k] + counts[k]]
        drawn = _even(members, max_members)
        averaged = _even(members, max_mean_members)
        row = table[k]
        cc = {classes[i]: int(row[i]) for i in range(len(classes)) if row[i]}
        dominant = classes[int(row.argmax())] if row.sum() else ""
        tiles.append(
            FamilyTile(
                family=int(f),
                count=int(counts[k]),
                class_counts=cc,
                dominant_class=dominant,
                reviewed=str(reviewed.get(int(f), "")),
                member_samples=smp[drawn],
                members=w[drawn].astype(np.float32, copy=False),
                mean=w[averaged].astype(np.float32).mean(axis=0),
            )
        )
    tiles.sort(key=lambda t: (-t.count, t.family))
    return tiles


def _time_ms(width: int, fs: float, pre_s: float) -> np.ndarray:
    return (np.arange(width) / float(fs) - float(pre_s)) * 1000.0


def _members_trace(tile: FamilyTile, t_ms: np.ndarray) -> dict:
    """All drawn members as one polyline (NaN between members): one trace, not thirty. Traces
    are plain dicts: a figure of 50 traces builds ten times faster without per-trace validation
    objects, and Plotly validates the figure once."""
    k, _ = tile.members.shape
    x = np.tile(np.append(t_ms, np.nan).astype(np.float32), k)
    y = np.hstack([tile.members, np.full((k, 1), np.nan, np.float32)]).ravel()
    return dict(
        type="scatter",
        x=x,
        y=y,
        mode="lines",
        line=dict(color=MEMBER_COLOR, width=1),
        hoverinfo="skip",
        showlegend=False,
        name=f"family {tile.family} members",
        connectgaps=False,
    )


def _mean_trace(tile: FamilyTile, t_ms: np.ndarray) -> dict:
    cls = tile.reviewed if tile.reviewed in CLASS_ORDER else tile.dominant_class
    return dict(
        type="scatter",
        x=t_ms.astype(np.float32),
        y=tile.mean,
        mode="lines",
        line=dict(color=class_color(cls) if cls != "N" else "#111111", width=2.5),
        showlegend=False,
        name=f"family {tile.family} mean",
        customdata=np.full(t_ms.size, tile.family),
        hovertemplate=f"family {tile.family}: %{{x:.0f}} ms<extra></extra>",
    )


def family_tile_figure(tile: FamilyTile, fs: float, pre_s: float, height: int = 260) -> go.Figure:
    """One family's tile as its own figure: members superimposed, their mean drawn over them,
    the title :attr:`FamilyTile.title`. x: ms from the R peak; y: normalised amplitude."""
    t_ms = _time_ms(tile.mean.size, fs, pre_s)
    fig = go.Figure([_members_trace(tile, t_ms), _mean_trace(tile, t_ms)])
    fig.add_vline(x=0.0, line=dict(color="#bbbbbb", width=1, dash="dot"))
    fig.update_layout(
        title=dict(text=tile.title, x=0.01, font=dict(size=13)),
        height=height,
        margin=dict(l=40, r=10, t=40, b=35),
        plot_bgcolor="white",
    )
    fig.update_xaxes(title_text="ms from R peak", showgrid=True, gridcolor="#eeeeee")
    fig.update_yaxes(showgrid=True, gridcolor="#eeeeee")
    return fig


def family_grid_figure(
    tiles: Sequence[FamilyTile],
    fs: float,
    pre_s: float,
    columns: int = GRID_COLUMNS,
    selected: int | None = None,
    tile_height: int = 170,
) -> go.Figure:
    """Every family's tile in one figure, ``columns`` tiles per row, in the order given
    (largest first): members superimposed in grey, the mean in the colour of the reviewed
    class (else the dominant class; black for N), titled :attr:`FamilyTile.title`. The
    ``selected`` family's title is marked with ▶ and its tile shaded. x: ms from the R peak."""
    if not tiles:
        fig = go.Figure()
        fig.update_layout(
            height=120,
            annotations=[dict(text="No beat families", x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False)],
            xaxis=dict(visible=False),
            yaxis=dict(visible=False),
            plot_bgcolor="white",
        )
        return fig
    cols = max(1, min(int(columns), len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    height = rows * tile_height + 50
    # axes laid out by hand (make_subplots costs ~25 ms per subplot); domains in paper units
    gap_x, title_px, gap_px = 0.012, 22, 28
    cell_h = 1.0 / rows
    layout: dict = {}
    grid = dict(showgrid=True, gridcolor="#eeeeee", zeroline=False)
    traces, annotations, shapes = [], [], []
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        n = "" if k == 0 else str(k + 1)
        x0, x1 = c / cols + gap_x, (c + 1) / cols - gap_x
        top = 1.0 - r * cell_h - title_px / height
        bottom = 1.0 - (r + 1) * cell_h + gap_px / height
        layout[f"xaxis{n}"] = dict(domain=[x0, x1], anchor=f"y{n}", tickfont=dict(size=9), nticks=4, **grid)
        layout[f"yaxis{n}"] = dict(
            domain=[max(0.0, bottom), max(top, bottom + 0.01)], anchor=f"x{n}", showticklabels=False, **grid
        )
        t_ms = _time_ms(tile.mean.size, fs, pre_s)
        for tr in (_members_trace(tile, t_ms), _mean_trace(tile, t_ms)):
            traces.append(dict(tr, xaxis=f"x{n}", yaxis=f"y{n}"))
        chosen = tile.family == selected
        annotations.append(
            dict(
                text=("▶ " if chosen else "") + tile.title,
                x=(x0 + x1) / 2,
                y=top,
                xref="paper",
                yref="paper",
                xanchor="center",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=11, color="#b26a00" if chosen else "#222222"),
            )
        )
        if chosen:
            shapes.append(
                dict(
                    type="rect",
                    xref=f"x{n} domain",
                    yref=f"y{n} domain",
                    x0=0,
                    x1=1,
                    y0=0,
                    y1=1,
                    fillcolor="#ffd54f",
                    opacity=0.25,
                    line=dict(color="#ff8f00", width=2),
                    layer="below",
                )
            )
    layout.update(
        annotations=annotations,
        shapes=shapes,
        height=height,
        margin=dict(l=10, r=10, t=20, b=20),
        plot_bgcolor="white",
        showlegend=False,
        hovermode="closest",
    )
    return go.Figure(dict(data=traces, layout=layout))


__all__ = [
    "FamilyTile",
    "GRID_COLUMNS",
    "MAX_MEAN_MEMBERS",
    "MAX_MEMBERS",
    "family_grid_figure",
    "family_tile_figure",
    "family_tiles",
]
