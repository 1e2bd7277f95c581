"""ecg.viz.families: family tiles (bounded samples, class counts, means) and their figures."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from ecg.viz.families import FamilyTile, family_grid_figure, family_tile_figure, family_tiles

W = 70


def toy(n_per=(50, 12, 3), seed=0):
    """Three families of distinct constant waves (values 1, 2, 3) plus noise-free unassigned beats
    (-1), interleaved in time."""
    rng = np.random.default_rng(seed)
    fam = np.concatenate([np.full(n, k) for k, n in enumerate(n_per)] + [np.full(4, -1)])
    rng.shuffle(fam)
    waves = np.where(fam[:, None] >= 0, fam[:, None] + 1.0, 99.0) * np.ones((1, W))
    waves = waves + 0.01 * rng.standard_normal(waves.shape)
    pred = np.where(fam == 1, "V", "N").astype(object)
    pred[np.flatnonzero(fam == 1)[:2]] = "N"  # family 1: 10 V, 2 N
    samples = np.arange(fam.size) * 300 + 7
    return fam, pred, waves.astype(np.float32), samples


def test_tiles_count_classes_and_order() -> None:
    fam, pred, waves, samples = toy()
    tiles = family_tiles(fam, pred, waves, samples, reviewed={1: "S"})
    assert [t.family for t in tiles] == [0, 1, 2]
    assert [t.count for t in tiles] == [50, 12, 3]
    assert tiles[1].class_counts == {"N": 2, "V": 10}
    assert tiles[1].dominant_class == "V" and tiles[0].dominant_class == "N"
    assert tiles[1].reviewed == "S" and tiles[0].reviewed == ""
    assert tiles[1].title == "#1 · 12 beats · V → S"


def test_tile_members_are_a_bounded_time_ordered_sample_and_the_mean_is_the_family_shape() -> None:
    fam, pred, waves, samples = toy()
    tiles = family_tiles(fam, pred, waves, samples, max_members=30)
    big = tiles[0]
    assert big.members.shape == (30, W) and big.member_samples.size == 30
    assert np.all(np.diff(big.member_samples) > 0)
    members_of_0 = samples[fam == 0]
    assert set(big.member_samples.tolist()) <= set(members_of_0.tolist())
    assert big.member_samples[0] == members_of_0[0] and big.member_samples[-1] == members_of_0[-1]
    for t in tiles:  # each family's mean is its own wave (1, 2, 3), never the unassigned beats' 99
        assert np.allclose(t.mean, t.family + 1.0, atol=0.02)
    small = tiles[2]
    assert small.members.shape == (3, W)  # fewer members than the bound: all of them


def test_mean_uses_at_most_max_mean_members() -> None:
    fam = np.zeros(10, np.int64)
    waves = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 4), np.float32)
    t = family_tiles(fam, np.array(["N"] * 10), waves, np.arange(10), max_mean_members=2)[0]
    assert np.allclose(t.mean, (0 + 9) / 2)  # the first and last member only
    t = family_tiles(fam, np.array(["N"] * 10), waves, np.arange(10))[0]
    assert np.allclose(t.mean, 4.5)


def test_no_families_and_bad_input() -> None:
    assert family_tiles(np.full(5, -1), np.array(["N"] * 5), np.zeros((5, W)), np.arange(5)) == []
    with pytest.raises(ValueError, match="same beats"):
        family_tiles(np.zeros(5, int), np.array(["N"] * 4), np.zeros((5, W)), np.arange(5))
    with pytest.raises(ValueError, match="max_members"):
        family_tiles(np.zeros(5, int), np.array(["N"] * 5), np.zeros((5, W)), np.arange(5), max_members=0)


def test_grid_figure_has_one_tile_per_family_with_members_and_mean() -> None:
    fam, pred, waves, samples = toy()
    tiles = family_tiles(fam, pred, waves, samples, reviewed={1: "S"})
    fig = family_grid_figure(tiles, fs=100.0, pre_s=0.25, columns=2, selected=1)
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 2 * len(tiles)  # one members polyline and one mean per tile
    members, mean = fig.data[2], fig.data[3]  # family 1
    assert members.xaxis == mean.xaxis == "x2"
    # the members polyline holds each drawn member, separated by gaps
    y = np.asarray(members.y, dtype=float)
    assert np.isnan(y).sum() == tiles[1].members.shape[0]
    x = np.asarray(mean.x, dtype=float)
    assert x[0] == pytest.approx(-250.0) and x[1] - x[0] == pytest.approx(10.0)  # ms from the R peak
    titles = [a.text for a in fig.layout.annotations]
    assert titles[1].startswith("▶ #1 · 12 beats · V → S")
    assert len(fig.layout.shapes) == 1  # the selected tile is shaded
    # two columns: tiles 0 and 1 side by side, tile 2 below
    assert fig.layout.xaxis.domain[1] < fig.layout.xaxis2.domain[0]
    assert fig.layout.yaxis3.domain[1] < fig.layout.yaxis.domain[0]
    assert mean.line.color == "#1f77b4"  # reviewed S: the S colour


def test_grid_figure_without_families_says_so() -> None:
    fig = family_grid_figure([], fs=100.0, pre_s=0.25)
    assert "No beat families" in fig.layout.annotations[0].text


def test_tile_figure() -> None:
    fam, pred, waves, samples = toy()
    tile: FamilyTile = family_tiles(fam, pred, waves, samples)[2]
    fig = family_tile_figure(tile, fs=100.0, pre_s=0.25)
    assert len(fig.data) == 2 and fig.layout.title.text == tile.title
    assert np.allclose(np.asarray(fig.data[1].y, dtype=float), tile.mean)
