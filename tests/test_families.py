"""Beat morphology families (ecg.review.families) on synthetic beats of known shapes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecg.review.families import UNASSIGNED, Families, beat_families, beat_table_families, purity, rr_ratio

W, R = 70, 25  # window (samples at 100 Hz) and R-peak index, as the scoring's model_waves


def _gauss(t: np.ndarray, centre: np.ndarray, sd: float) -> np.ndarray:
    return np.exp(-0.5 * ((t[None, :] - centre[:, None]) / sd) ** 2)


def _beats(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` beats of one morphology with amplitude jitter (+-10 %), a sub-sample R-peak
    jitter (+-0.7 sample) and white noise."""
    t = np.arange(W, dtype=np.float64)
    c = R + rng.uniform(-0.7, 0.7, n)
    amp = rng.uniform(0.9, 1.1, n)[:, None]
    if kind == "N":  # P wave, narrow QRS, upright T
        x = (
            0.12 * _gauss(t, c - 16, 2.5)
            + _gauss(t, c, 1.2)
            - 0.15 * _gauss(t, c + 3, 1.0)
            + 0.25 * _gauss(t, c + 28, 5)
        )
    elif kind == "V":  # no P wave, wide inverted QRS, discordant T
        x = -0.9 * _gauss(t, c + 2, 4.0) + 0.35 * _gauss(t, c + 26, 6)
    elif kind == "Q":  # artefact: a slow swing with a spike before it, much noise
        x = 0.8 * np.sin(2 * np.pi * (t[None, :] - c[:, None]) / 45) + 0.6 * _gauss(t, c - 8, 0.8)
        x = x + rng.normal(0, 0.15, x.shape)
    else:
        raise ValueError(kind)
    return (amp * x + rng.normal(0, 0.02, x.shape)).astype(np.float32)


def _mixture(counts: dict[str, int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    waves = np.concatenate([_beats(k, n, rng) for k, n in counts.items()])
    truth = np.concatenate([[k] * n for k, n in counts.items()])
    order = rng.permutation(truth.size)
    return waves[order], truth[order]


def _family_of(f: Families, truth: np.ndarray, kind: str) -> int:
    """The family holding most beats of ``kind``."""
    lab = f.labels[truth == kind]
    return int(np.bincount(lab[lab >= 0]).argmax())


def test_recovers_three_morphologies() -> None:
    waves, truth = _mixture({"N": 1200, "V": 80, "Q": 40})
    pred = truth.copy()
    pred[np.flatnonzero(truth == "V")[:10]] = "N"  # the classifier misses some V beats
    f = beat_families(waves, pred_class=pred)
    assert purity(f.labels, truth) >= 0.99
    # the dominant morphology is family 0, one family, and holds only normal beats
    assert _family_of(f, truth, "N") == 0
    assert np.mean(f.labels[truth == "N"] == 0) >= 0.98
    assert set(truth[f.labels == 0]) == {"N"}
    # the V beats form one family of their own, named V though 10 were predicted N
    fv = _family_of(f, truth, "V")
    assert fv != 0 and np.mean(f.labels[truth == "V"] == fv) >= 0.95
    assert f.dominant_class[fv] == "V"
    assert set(truth[f.labels == fv]) == {"V"}
    # artefacts join neither
    fq = f.labels[truth == "Q"]
    assert not np.isin(fq, [0, fv]).any()
    assert f.n_families <= 10
    # per-family fields are consistent
    assert f.count.sum() + f.n_unassigned == truth.size
    assert np.array_equal(f.count, np.bincount(f.labels[f.labels >= 0], minlength=f.n_families))
    assert f.template.shape == (f.n_families, W) and f.template.dtype == np.float32
    assert f.coherence[0] > 0.95 and f.coherence[fv] > 0.95
    assert np.all(f.spread >= 0) and f.spread[0] < 0.1


def test_template_is_the_mean_shape() -> None:
    waves, truth = _mixture({"N": 500, "V": 100}, seed=3)
    f = beat_families(waves)
    clean = np.mean(_beats("N", 2000, np.random.default_rng(9)), axis=0)
    assert np.corrcoef(f.template[0], clean)[0, 1] > 0.98
    assert abs(f.template[0].max() - clean.max()) < 0.15  # aligned beats: the R wave is not smeared


def test_rare_ectopic_morphology_keeps_its_own_family() -> None:
    waves, truth = _mixture({"N": 3000, "V": 4}, seed=1)
    f = beat_families(waves)
    v = f.labels[truth == "V"]
    assert np.all(v == v[0]) and v[0] not in (0, UNASSIGNED)
    assert f.count[v[0]] == 4


def test_one_morphology_predicted_two_ways_stays_one_family() -> None:
    rng = np.random.default_rng(2)
    waves = _beats("N", 400, rng)
    pred = np.where(rng.random(400) < 0.3, "V", "N")
    f = beat_families(waves, pred_class=pred)
    assert f.n_families == 1 and np.all(f.labels == 0)
    assert f.dominant_class.tolist() == ["N"]


def test_premature_beats_of_one_morphology_split_only_when_asked() -> None:
    rng = np.random.default_rng(4)
    waves = _beats("N", 600, rng)
    rr = np.full(600, 0.8)
    early = np.arange(10, 600, 12)
    rr[early] = 0.5
    ratio = rr_ratio(rr)
    assert np.all(ratio[early] < 0.7) and np.all(np.abs(ratio[np.setdiff1d(np.arange(600), early)] - 1) < 0.1)
    assert beat_families(waves).n_families == 1
    f = beat_families(waves, rr_ratio=ratio)
    assert f.n_families == 2
    assert np.all(f.labels[early] == 1) and np.sum(f.labels == 0) == 600 - early.size


def test_beat_table_families() -> None:
    """From a scored beat table: unreadable beats get -1, early beats split off outside AF only."""
    rng = np.random.default_rng(12)
    n = 600
    waves = _beats("N", n, rng)
    rr = np.full(n, 0.8)
    early = np.arange(10, n, 12)
    rr[early] = 0.5
    af = np.zeros(n, bool)
    af[300:] = True
    quality = np.full(n, "good", dtype=object)
    quality[[5, 6]] = "unreadable"
    beats = pd.DataFrame({"pred_class": ["N"] * n, "rr_prev_s": rr, "quality": quality, "af": af})
    f = beat_table_families(beats, waves)
    assert f.labels.shape == (n,) and np.all(f.labels[[5, 6]] == UNASSIGNED)
    assert f.n_families == 2 and f.count.sum() == n - 2
    early_out = early[early < 300]
    assert np.all(f.labels[early_out] == 1)
    assert np.all(f.labels[early[early >= 300]] == 0)  # inside AF an early beat is the rhythm
    assert beat_table_families(beats, waves, timing=False).n_families == 1
    with pytest.raises(ValueError, match="lacks columns"):
        beat_table_families(beats.drop(columns="rr_prev_s"), waves)
    with pytest.raises(ValueError, match="for 600 beats"):
        beat_table_families(beats, waves[:10])


def test_qrs_width_separates_when_given() -> None:
    rng = np.random.default_rng(5)
    waves = _beats("N", 300, rng)
    width = np.where(np.arange(300) % 2 == 0, 0.08, 0.16)
    assert beat_families(waves).n_families == 1
    f = beat_families(waves, qrs_width_s=width)
    assert f.n_families == 2
    assert len(set(f.labels[width == 0.08])) == 1 and len(set(f.labels[width == 0.16])) == 1


def test_deterministic_and_ordered_by_size() -> None:
    waves, truth = _mixture({"N": 800, "V": 150, "Q": 30}, seed=6)
    a = beat_families(waves, pred_class=truth)
    b = beat_families(waves.copy(), pred_class=truth.copy())
    assert np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.template, b.template)
    assert np.all(np.diff(a.count) <= 0)
    assert a.labels.dtype == np.int64 and a.labels.min() >= UNASSIGNED


def test_max_families_and_min_count() -> None:
    waves, truth = _mixture({"N": 500, "V": 3}, seed=7)
    f = beat_families(waves, min_count=5)
    assert np.all(f.count >= 5)
    assert not np.isin(f.labels[truth == "V"], [0]).any()  # too few to keep, too unlike N to join it
    g = beat_families(waves, max_families=1)
    assert g.n_families == 1


def test_empty_and_single_beat() -> None:
    f = beat_families(np.zeros((0, W), np.float32))
    assert f.n_families == 0 and f.labels.shape == (0,) and f.template.shape == (0, W)
    assert f.table().empty
    one = _beats("N", 1, np.random.default_rng(8))
    g = beat_families(one, pred_class=np.array(["N"]))
    assert g.labels.tolist() == [UNASSIGNED]  # one beat is no family with the default min_count 2
    h = beat_families(one, pred_class=np.array(["N"]), min_count=1)
    assert h.labels.tolist() == [0] and h.count.tolist() == [1] and h.dominant_class.tolist() == ["N"]
    assert np.allclose(h.template[0], one[0], atol=0.01)  # the beat, realigned by a fraction of a sample at most


def test_table() -> None:
    waves, truth = _mixture({"N": 300, "V": 50}, seed=10)
    t = beat_families(waves, pred_class=truth).table()
    assert list(t.columns) == ["family", "count", "share", "dominant_class", "spread", "coherence"]
    assert t["family"].tolist() == list(range(len(t)))
    assert t.loc[0, "dominant_class"] == "N" and t.loc[1, "dominant_class"] == "V"
    assert t["share"].sum() <= 1.0 + 1e-9


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="2-D"):
        beat_families(np.zeros(10, np.float32))
    with pytest.raises(ValueError, match="pred_class has 3 rows for 4 beats"):
        beat_families(np.zeros((4, W), np.float32), pred_class=np.array(["N"] * 3))
    bad = np.zeros((4, W), np.float32)
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        beat_families(bad)
    with pytest.raises(ValueError, match="merge_threshold"):
        beat_families(np.zeros((4, W), np.float32), threshold=0.8, merge_threshold=0.9)


def test_purity_and_rr_ratio_edge_cases() -> None:
    labels = np.array([0, 0, 0, 1, 1, -1, -1])
    ref = np.array(["N", "N", "V", "V", "V", "S", ""])
    assert purity(labels, ref) == pytest.approx(5 / 6)
    assert np.isnan(purity(labels, np.full(7, "")))
    assert rr_ratio(np.zeros(0)).shape == (0,)
    r = rr_ratio(np.array([np.nan, 1.0, 1.0, 0.5, 1.0]))
    assert np.isnan(r[0]) and r[3] == pytest.approx(0.5)


@pytest.mark.slow
def test_a_day_of_beats() -> None:
    """About 24 h of beats (100,000) with 4 morphologies run through (correctness only; the
    timing is in scripts/evaluate_families.py)."""
    waves, truth = _mixture({"N": 95000, "V": 4000, "Q": 1000}, seed=11)
    f = beat_families(waves, pred_class=truth)
    assert f.labels.shape == (100000,)
    assert f.count.sum() + f.n_unassigned == 100000
    assert purity(f.labels, truth) >= 0.99
    assert _family_of(f, truth, "N") == 0 and f.dominant_class[_family_of(f, truth, "V")] == "V"
