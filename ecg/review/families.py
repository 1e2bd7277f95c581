"""Beat morphology families: a record's beats grouped by the shape of their waveform.

A technician reviews a Holter recording family by family: the dominant sinus morphology
forms one to three large families, each ectopic morphology (a PVC focus, an aberrant beat)
and artefact its own, however rare. Relabelling a family fixes every beat of that shape at
once, including those the classifier got wrong, so families are built without the
classifier: the predicted class only names a family (``dominant_class``), it never splits
one; a family holding beats predicted N and V is the classifier disagreeing with itself
over one shape. Optionally (``rr_ratio``; on in :func:`beat_table_families`) a premature beat
and an on-time beat of one shape fall in separate families: the timing tells a
supraventricular ectopic beat from a sinus beat of the same shape.

The method is a greedy template match (leader clustering), vectorised with matrix
products so a 24-hour recording (about 100,000 beats) takes seconds:

0. Each beat is realigned on the record's median beat by a fraction of a sample (up to
   ``max_shift`` samples; R-peak positions jitter by a sample or two, which at 100 Hz
   decorrelates a sharp QRS from itself) and compared after a light Gaussian smoothing
   (``smooth``).
1. Beats are taken in order, in batches. A beat joins the best-matching family template
   when the Pearson correlation of the two waveforms is at least ``threshold`` **and** their
   amplitudes (RMS about the mean, in the waveform's units) differ by at most a factor
   ``max_amplitude_ratio``, and (when given) their QRS widths by at most
   ``max_width_diff_s`` and their prematurity agrees. A beat that matches no template starts
   a new family. Templates are the running means of their members.
2. Families whose templates match each other under the same rules are merged (the most
   similar pair first); ``refine`` passes then reassign every beat to its best-matching
   template and merge again (as k-means does), which removes most of the order dependence
   of step 1.
3. Families are ordered by size (family 0 = the largest; ties by the first beat's index);
   only the ``max_families`` largest with at least ``min_count`` beats are kept. The beats of
   the others join the best-matching kept family when the correlation is at least
   ``merge_threshold`` (other rules as above), else they are left *unassigned*: label
   ``-1`` (isolated odd beats, mostly noise).

The result depends only on the input arrays and the settings (no randomness), so the ids are
stable for a given record and bundle. The settings were chosen on MIT-BIH DS1; see
``scripts/evaluate_families.py`` and ``reports/families_evaluation.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import fft as sfft
from scipy import ndimage, sparse

#: Label of a beat that belongs to no family.
UNASSIGNED = -1
#: Correlation a beat needs with a family template to join it (greedy pass and refinement).
THRESHOLD = 0.95
#: Correlation with which a beat of a dropped (small) family joins a kept one.
MERGE_THRESHOLD = 0.8
#: Largest allowed amplitude ratio between a beat and its family template.
MAX_AMPLITUDE_RATIO = 1.5
#: Largest allowed QRS width difference between a beat and its family template, s.
MAX_WIDTH_DIFF_S = 0.04
#: A beat whose RR interval is shorter than this share of the local mean RR is premature.
PREMATURE_BELOW = 0.85
#: Beats on each side whose RR intervals make the local mean RR of :func:`rr_ratio`.
RR_CONTEXT = 8
#: Families kept per record at most (the largest ones).
MAX_FAMILIES = 25
#: Fewest beats a kept family has.
MIN_COUNT = 2
#: Reassignment passes after the greedy pass.
REFINE = 2
#: Gaussian smoothing of the waveforms before they are compared, in samples (SD): at 100 Hz a
#: sharp R wave's sampled height depends on where the samples fall, which splits one
#: morphology in two without it.
SMOOTH = 1.0
#: Beats are realigned on the record's median beat by up to this many samples either way
#: before they are compared: R-peak detection jitters by a sample or two, and a sharp QRS
#: shifted by one sample at 100 Hz correlates poorly with itself.
MAX_SHIFT = 3
#: Templates the greedy pass creates at most; later beats that match none wait for the
#: refinement (bounds the cost on pure noise).
_MAX_TEMPLATES = 400
_BATCH = 2048
_CHUNK = 8192
#: Beats (evenly spaced) whose median is the alignment reference.
_MEDIAN_BEATS = 5000


@dataclass(frozen=True)
class Families:
    """Morphology families of one record's beats.

    ``labels``: int64 (n_beats,), the family of each beat, 0 = the largest family, ``-1``
    (:data:`UNASSIGNED`) for a beat in no family. Per family ``f`` (arrays of length
    ``n_families``, in id order): ``count`` (beats), ``dominant_class`` (the most common
    predicted class among its beats, "" when no classes were given), ``template`` (float32
    (n_families, window): the mean of the members' realigned waveforms, in the input's
    units), ``spread`` (RMS distance of the members to the template, in the input's units,
    averaged over the members) and ``coherence`` (mean Pearson correlation of the members'
    smoothed waveforms with the smoothed template, -1 to 1).
    """

    labels: np.ndarray
    count: np.ndarray
    dominant_class: np.ndarray
    template: np.ndarray
    spread: np.ndarray
    coherence: np.ndarray

    @property
    def n_families(self) -> int:
        return int(self.count.size)

    @property
    def n_unassigned(self) -> int:
        return int((self.labels == UNASSIGNED).sum())

    def table(self) -> pd.DataFrame:
        """One row per family: ``family``, ``count``, ``share`` (of all beats),
        ``dominant_class``, ``spread``, ``coherence``."""
        n = max(1, self.labels.size)
        return pd.DataFrame(
            {
                "family": np.arange(self.n_families, dtype=np.int64),
                "count": self.count,
                "share": self.count / n,
                "dominant_class": self.dominant_class,
                "spread": self.spread,
                "coherence": self.coherence,
            }
        )


def _check(name: str, a: np.ndarray | None, n: int) -> None:
    if a is not None and a.shape[0] != n:
        raise ValueError(f"{name} has {a.shape[0]} rows for {n} beats")


def _unit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows centred and scaled to unit norm (for correlations), and their RMS about the mean."""
    c = x - x.mean(axis=1, keepdims=True)
    norm = np.sqrt(np.einsum("ij,ij->i", c, c))
    rms = norm / np.sqrt(max(1, x.shape[1]))
    c /= np.maximum(norm, 1e-12).astype(c.dtype)[:, None]
    return c, rms


def _smooth(x: np.ndarray, sd: float) -> np.ndarray:
    """Rows convolved with a Gaussian of ``sd`` samples (edges reflected); ``sd`` 0: unchanged."""
    if sd <= 0 or x.shape[1] < 2:
        return x
    return ndimage.gaussian_filter1d(x, sd, axis=1, mode="reflect", truncate=3.0)


#: Rows per block when shifting beats (bounds the temporary spectra to a few MB).
_BLOCK_ROWS = 8192


def _alignment(xs: np.ndarray, max_shift: int) -> np.ndarray:
    """Per beat, the shift in samples (fractional, within +-``max_shift``) that best lines it
    up with the beats' sample-wise median beat: the peak of their cross-correlation over the
    integer lags, refined by a parabola through the peak and its neighbours."""
    n, w = xs.shape
    s = min(max_shift, (w - 3) // 2)
    if s <= 0 or n == 0:
        return np.zeros(n)
    c = xs - xs.mean(axis=1, keepdims=True)
    ref = np.median(c[:: max(1, n // _MEDIAN_BEATS)], axis=0)[s : w - s]
    lags = np.arange(-s, s + 1)
    bank = np.zeros((w, lags.size), xs.dtype)
    for i, d in enumerate(lags):  # a loop over lags, not beats
        bank[s + d : w - s + d, i] = ref
    cc = c @ bank
    i = cc.argmax(axis=1)
    inner = (i > 0) & (i < lags.size - 1)
    rows = np.flatnonzero(inner)
    frac = np.zeros(n)
    if rows.size:
        y0, y1, y2 = (cc[rows, i[rows] + o].astype(np.float64) for o in (-1, 0, 1))
        den = y0 - 2 * y1 + y2
        frac[rows] = np.clip(np.where(den < 0, 0.5 * (y0 - y2) / np.where(den < 0, den, -1.0), 0.0), -0.5, 0.5)
    return lags[i] + frac


def _shifted(x: np.ndarray, shift: np.ndarray, max_shift: int) -> np.ndarray:
    """Rows moved left by ``shift`` samples (fractional; right when negative), band-limited
    (each row edge-padded by ``max_shift`` samples so nothing wraps around)."""
    if not np.any(shift):
        return x
    w = x.shape[1]
    m = w + 2 * max_shift
    f = sfft.rfftfreq(m).astype(np.float32)
    out = np.empty_like(x)
    for b in range(0, x.shape[0], _BLOCK_ROWS):  # blocks bound the spectra's memory on a multi-day record
        rows = slice(b, b + _BLOCK_ROWS)
        spec = sfft.rfft(np.pad(x[rows], ((0, 0), (max_shift, max_shift)), mode="edge"), axis=1)
        spec *= np.exp(2j * np.pi * f[None, :] * shift[rows, None].astype(np.float32))
        out[rows] = sfft.irfft(spec, n=m, axis=1)[:, max_shift : max_shift + w]
    return out


def _group_sums(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """(k, ...) sums of the rows of ``x`` per label 0..k-1 (label -1 left out)."""
    m = labels >= 0
    one_hot = sparse.csr_matrix((np.ones(int(m.sum()), x.dtype), (labels[m], np.flatnonzero(m))), shape=(k, x.shape[0]))
    out = one_hot @ x.reshape(x.shape[0], -1)
    return np.asarray(out).reshape((k,) + x.shape[1:])


class _Matcher:
    """The match rule between beats and templates: correlation, amplitude and width."""

    def __init__(
        self, unit: np.ndarray, rms: np.ndarray, width: np.ndarray | None, log_ratio: float, max_width: np.ndarray
    ) -> None:
        # ``width``: (n, m) further features (QRS width, prematurity) a beat and a template must
        # agree on within ``max_width`` (m,)
        self.unit, self.log_rms, self.width = unit, np.log(np.maximum(rms, 1e-9)), width
        self.log_ratio, self.max_width = log_ratio, max_width

    def best(
        self, idx: np.ndarray, t_unit: np.ndarray, t_log_rms: np.ndarray, t_width: np.ndarray | None, threshold: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best admissible template per beat of ``idx`` (-1 when none reaches ``threshold``),
        and its correlation."""
        j = np.full(idx.size, -1, np.int64)
        c = np.full(idx.size, -np.inf)
        if not t_unit.shape[0]:
            return j, c
        tu = t_unit.astype(self.unit.dtype).T
        for a in range(0, idx.size, _CHUNK):
            part = idx[a : a + _CHUNK]
            corr = self.unit[part] @ tu
            bad = np.abs(self.log_rms[part, None] - t_log_rms[None, :]) > self.log_ratio
            if self.width is not None and t_width is not None:
                bad |= (np.abs(self.width[part, None, :] - t_width[None, :, :]) > self.max_width).any(axis=2)
            corr[bad] = -np.inf
            jj = corr.argmax(axis=1)
            j[a : a + _CHUNK] = jj
            c[a : a + _CHUNK] = corr[np.arange(part.size), jj]
        return np.where(c >= threshold, j, -1), c


def _templates(
    x: np.ndarray, width: np.ndarray | None, labels: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Mean waveform, mean further features (or None) and size of each of ``k`` families (an
    empty family's means are zeros)."""
    m = labels >= 0
    cnt = np.bincount(labels[m], minlength=k).astype(np.float64)
    t = _group_sums(x, labels, k).astype(np.float64) / np.maximum(cnt, 1)[:, None]
    tw = None
    if width is not None:
        tw = _group_sums(width, labels, k) / np.maximum(cnt, 1)[:, None]
    return t, tw, cnt


def _greedy(x: np.ndarray, match: _Matcher, threshold: float) -> np.ndarray:
    """Step 1: leader clustering in beat order, batch by batch."""
    n, w = x.shape
    labels = np.full(n, -1, np.int64)
    sums = np.zeros((_MAX_TEMPLATES, w))
    wsum = np.zeros((_MAX_TEMPLATES, 0 if match.width is None else match.width.shape[1]))
    cnt = np.zeros(_MAX_TEMPLATES)
    k = 0
    width = match.width

    def state(upto: int):
        t = sums[:upto] / np.maximum(cnt[:upto], 1)[:, None]
        tu, trms = _unit(t)
        tw = wsum[:upto] / np.maximum(cnt[:upto], 1)[:, None] if width is not None else None
        return tu, np.log(np.maximum(trms, 1e-9)), tw

    for b0 in range(0, n, _BATCH):
        idx = np.arange(b0, min(n, b0 + _BATCH))
        j, _ = match.best(idx, *state(k), threshold)
        labels[idx] = j
        left = idx[j < 0]
        while left.size and k < _MAX_TEMPLATES:
            # a new family led by the first unmatched beat, joined by the batch's beats like it
            lead = left[:1]
            tu, trms = _unit(x[lead])
            tw = width[lead] if width is not None else None
            jj, _ = match.best(left, tu, np.log(np.maximum(trms, 1e-9)), tw, threshold)
            joined = left[jj == 0]
            joined = joined if joined.size else lead
            labels[joined] = k
            sums[k] += x[joined].sum(axis=0)
            cnt[k] += joined.size
            if width is not None:
                wsum[k] += width[joined].sum(axis=0)
            k += 1
            left = left[labels[left] < 0]
        old = idx[j >= 0]
        if old.size:
            sums[:k] += _group_sums(x[old], labels[old], k)
            cnt[:k] += np.bincount(labels[old], minlength=k)
            if width is not None:
                wsum[:k] += _group_sums(width[old], labels[old], k)
    return labels


def _merge_similar(
    xs: np.ndarray, width: np.ndarray | None, labels: np.ndarray, match: _Matcher, threshold: float
) -> np.ndarray:
    """Merge families whose templates match each other (the beat rule applied to two
    templates), the most similar pair first; returns labels renumbered 0..k-1."""
    k = int(labels.max()) + 1 if labels.size else 0
    if k < 2:
        return labels
    t, tw, cnt = _templates(xs, width, labels, k)
    sums, wsum = t * cnt[:, None], None if tw is None else tw * cnt[:, None]
    root = np.arange(k)

    def sim_row(i: int) -> np.ndarray:
        u, rms = _unit(sums / np.maximum(cnt, 1)[:, None])
        c = u @ u[i]
        lr = np.log(np.maximum(rms, 1e-9))
        ok = (np.abs(lr - lr[i]) <= match.log_ratio) & (cnt > 0)
        if wsum is not None:
            w = wsum / np.maximum(cnt, 1)[:, None]
            ok &= (np.abs(w - w[i]) <= match.max_width).all(axis=1)
        c = np.where(ok, c, -np.inf)
        c[i] = -np.inf
        return c

    u, rms = _unit(t)
    sim = u @ u.T
    lr = np.log(np.maximum(rms, 1e-9))
    ok = (np.abs(lr[:, None] - lr[None, :]) <= match.log_ratio) & (cnt[:, None] > 0) & (cnt[None, :] > 0)
    if tw is not None:
        ok &= (np.abs(tw[:, None, :] - tw[None, :, :]) <= match.max_width).all(axis=2)
    sim = np.where(ok, sim, -np.inf)
    np.fill_diagonal(sim, -np.inf)
    while True:
        flat = int(sim.argmax())
        i, j = divmod(flat, k)
        if sim[i, j] < threshold:
            break
        i, j = min(i, j), max(i, j)
        sums[i] += sums[j]
        cnt[i] += cnt[j]
        if wsum is not None:
            wsum[i] += wsum[j]
        sums[j], cnt[j] = 0.0, 0.0
        root[root == j] = i
        sim[j, :] = sim[:, j] = -np.inf
        sim[i, :] = sim[:, i] = sim_row(i)
    new = root[np.maximum(labels, 0)]
    ids = np.unique(new[labels >= 0])
    remap = np.full(k, -1, np.int64)
    remap[ids] = np.arange(ids.size)
    return np.where(labels >= 0, remap[new], -1)


def _majority(values: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """The most common value of ``values`` per family (ties: the alphabetically first)."""
    out = np.full(k, "", dtype=object)
    if not values.size or not k:
        return out
    m = labels >= 0
    df = pd.DataFrame({"f": labels[m], "v": values[m].astype(str)})
    counts = (
        df.groupby(["f", "v"]).size().reset_index(name="n").sort_values(["f", "n", "v"], ascending=[True, False, True])
    )
    first = counts.drop_duplicates("f")
    out[first["f"].to_numpy()] = first["v"].to_numpy()
    return out


def beat_families(
    waves: np.ndarray,
    *,
    pred_class: np.ndarray | None = None,
    qrs_width_s: np.ndarray | None = None,
    rr_ratio: np.ndarray | None = None,
    threshold: float = THRESHOLD,
    merge_threshold: float = MERGE_THRESHOLD,
    max_amplitude_ratio: float = MAX_AMPLITUDE_RATIO,
    max_width_diff_s: float = MAX_WIDTH_DIFF_S,
    premature_below: float = PREMATURE_BELOW,
    max_families: int = MAX_FAMILIES,
    min_count: int = MIN_COUNT,
    refine: int = REFINE,
    smooth: float = SMOOTH,
    max_shift: int = MAX_SHIFT,
) -> Families:
    """Group beats into morphology families (see the module docstring for the method).

    ``waves``: (n_beats, window) beat waveforms, all the same length and sampling rate, in
    any amplitude unit shared by the record's beats (the scoring's ``model_waves``: each
    beat's normalised waveform, 100 Hz, 250 ms before to 450 ms after the R peak). Rows must
    be finite. ``pred_class``: (n_beats,) predicted class labels, used only to name each
    family's ``dominant_class``. ``qrs_width_s``: (n_beats,) QRS widths in seconds; when
    given, a beat and a template must also agree within ``max_width_diff_s``. ``rr_ratio``:
    (n_beats,) each beat's RR interval before it over the local mean RR (dimensionless,
    :func:`rr_ratio`); when given, beats with ``rr_ratio < premature_below`` (premature) and
    the others form separate families even when their waveforms match, NaN counts as not
    premature.
    ``threshold``, ``merge_threshold``: Pearson correlations (0-1). ``max_amplitude_ratio``:
    > 1. Beats are taken in the order given (the record's order); the result is
    deterministic.
    """
    x = np.asarray(waves, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"waves must be 2-D (beats x samples), got shape {x.shape}")
    n = x.shape[0]
    pc = None if pred_class is None else np.asarray(pred_class)
    _check("pred_class", pc, n)
    aux, tol = [], []
    if qrs_width_s is not None:
        qw = np.asarray(qrs_width_s, dtype=np.float64)
        _check("qrs_width_s", qw, n)
        if not np.isfinite(qw).all():
            raise ValueError("qrs_width_s must be finite")
        aux.append(qw)
        tol.append(max_width_diff_s)
    if rr_ratio is not None:
        rr = np.asarray(rr_ratio, dtype=np.float64)
        _check("rr_ratio", rr, n)
        aux.append((rr < premature_below).astype(np.float64))  # NaN < x is False
        tol.append(0.5)
    width = np.stack(aux, axis=1) if aux else None
    if not np.isfinite(x).all():
        raise ValueError("waves must be finite")
    if not 0 < merge_threshold <= threshold <= 1:
        raise ValueError(f"need 0 < merge_threshold <= threshold <= 1, got {merge_threshold}, {threshold}")
    if max_amplitude_ratio < 1 or max_families < 1 or min_count < 1 or refine < 0:
        raise ValueError("max_amplitude_ratio must be >= 1, max_families and min_count >= 1, refine >= 0")
    if n == 0:
        return Families(
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, object),
            np.zeros((0, x.shape[1]), np.float32),
            np.zeros(0),
            np.zeros(0),
        )
    shift = _alignment(_smooth(x, smooth), max_shift)
    x = _shifted(x, shift, max_shift)
    xs = _smooth(x, smooth)  # compared; templates are means of the unsmoothed waves
    unit, rms = _unit(xs)
    match = _Matcher(unit, rms, width, float(np.log(max_amplitude_ratio)), np.asarray(tol))
    everyone = np.arange(n)

    def assign(t: np.ndarray, tw: np.ndarray | None, thr: float) -> tuple[np.ndarray, np.ndarray]:
        tu, trms = _unit(t)
        return match.best(everyone, tu, np.log(np.maximum(trms, 1e-9)), tw, thr)

    labels = _merge_similar(xs, width, _greedy(xs, match, threshold), match, threshold)
    for _ in range(refine):
        k = int(labels.max()) + 1
        t, tw, cnt = _templates(xs, width, labels, k)
        keep = cnt > 0
        labels, _ = assign(t[keep], None if tw is None else tw[keep], threshold)
        labels = _merge_similar(xs, width, labels, match, threshold)
    labels = _by_size(labels)
    k = int(labels.max()) + 1
    cnt = np.bincount(labels[labels >= 0], minlength=k)
    order = np.flatnonzero(cnt >= min_count)[:max_families]
    if order.size:
        t, tw, _ = _templates(xs, width, labels, k)
        t, tw = t[order], None if tw is None else tw[order]
        remap = np.full(k + 1, -1, np.int64)
        remap[order] = np.arange(order.size)
        kept = remap[labels]
        lost = np.flatnonzero(kept < 0)
        if lost.size:
            tu, trms = _unit(t)
            j, _ = match.best(lost, tu, np.log(np.maximum(trms, 1e-9)), tw, merge_threshold)
            kept[lost] = j
        labels = _by_size(kept)
    else:
        labels = np.full(n, -1, np.int64)
    return _summarise(x, xs, labels, pc, unit)


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered by family size, largest first (ties: the family whose first beat
    comes first); -1 stays -1."""
    m = labels >= 0
    if not m.any():
        return labels
    k = int(labels.max()) + 1
    cnt = np.bincount(labels[m], minlength=k)
    first = np.full(k, labels.size, np.int64)
    np.minimum.at(first, labels[m], np.flatnonzero(m))
    order = np.lexsort((first, -cnt))
    order = order[cnt[order] > 0]
    remap = np.full(k + 1, -1, np.int64)
    remap[order] = np.arange(order.size)
    return remap[labels]


def _summarise(x: np.ndarray, xs: np.ndarray, labels: np.ndarray, pc: np.ndarray | None, unit: np.ndarray) -> Families:
    k = int(labels.max()) + 1 if labels.size else 0
    m = labels >= 0
    t, _, cnt = _templates(x, None, labels, k)
    tu, _ = _unit(_templates(xs, None, labels, k)[0])
    corr = np.zeros(labels.size)
    dist = np.zeros(labels.size)
    rows = np.flatnonzero(m)
    for b in range(0, rows.size, _BLOCK_ROWS):  # blocks bound the temporaries on a multi-day record
        r = rows[b : b + _BLOCK_ROWS]
        corr[r] = np.einsum("ij,ij->i", unit[r], tu[labels[r]])
        dist[r] = np.sqrt(((x[r] - t[labels[r]]) ** 2).mean(axis=1))
    c = np.maximum(cnt, 1)
    return Families(
        labels=labels.astype(np.int64),
        count=cnt.astype(np.int64),
        dominant_class=_majority(pc, labels, k) if pc is not None else np.full(k, "", dtype=object),
        template=t.astype(np.float32),
        spread=np.bincount(labels[m], weights=dist[m], minlength=k) / c,
        coherence=np.bincount(labels[m], weights=corr[m], minlength=k) / c,
    )


def purity(labels: np.ndarray, reference: np.ndarray) -> float:
    """The share of beats in their family's majority reference class, over the beats with a
    reference class (``reference`` not ""); unassigned beats (-1) count as one more family.
    NaN when no beat has a reference class."""
    labels = np.asarray(labels)
    ref = np.asarray(reference).astype(str)
    m = ref != ""
    if not m.any():
        return float("nan")
    df = pd.DataFrame({"f": labels[m], "r": ref[m]})
    return float(df.groupby(["f", "r"]).size().groupby(level=0).max().sum() / m.sum())


def beat_table_families(beats: pd.DataFrame, waves: np.ndarray, *, timing: bool = True, **settings) -> Families:
    """The families of a scored record: :func:`beat_families` on the beat table's beats (the
    columns of :mod:`ecg.scoring.schema`) and their ``waves`` (the scoring's ``model_waves``,
    one row per table row).

    Beats in unreadable signal (``quality`` "unreadable") are left out (label -1). The
    predicted class names the families. With ``timing`` (default), premature beats
    (:func:`rr_ratio` of ``rr_prev_s``) and on-time beats of one shape form separate families,
    except inside atrial fibrillation / flutter (``af``), where an early beat is the rhythm,
    not ectopy. ``settings`` go to :func:`beat_families`.
    """
    missing = [c for c in ("pred_class", "rr_prev_s") if c not in beats.columns]
    if missing:
        raise ValueError(f"beat table lacks columns {missing}")
    w = np.asarray(waves)
    if w.ndim != 2 or w.shape[0] != len(beats):
        raise ValueError(f"waves have shape {w.shape} for {len(beats)} beats")
    n = len(beats)
    analysed = np.ones(n, bool)
    if "quality" in beats.columns:
        analysed = beats["quality"].to_numpy() != "unreadable"
    rr = None
    if timing:
        rr = rr_ratio(beats["rr_prev_s"].to_numpy(dtype=np.float64))
        if "af" in beats.columns:
            rr[beats["af"].to_numpy(dtype=bool)] = np.nan
        rr = rr[analysed]
    f = beat_families(
        w if analysed.all() else w[analysed],  # no copy of a multi-day record's waves when all are readable
        pred_class=beats["pred_class"].to_numpy()[analysed],
        rr_ratio=rr,
        **settings,
    )
    labels = np.full(n, UNASSIGNED, np.int64)
    labels[analysed] = f.labels
    return replace(f, labels=labels)


def rr_ratio(rr_prev_s: np.ndarray, context: int = RR_CONTEXT) -> np.ndarray:
    """Each beat's RR interval before it (s) over the mean of the ``context`` RR intervals on
    each side of it (the beat's own left out; NaN intervals ignored): < 1 for a premature
    beat. Dimensionless; NaN where the beat's RR or every neighbour's is NaN."""
    rr = np.asarray(rr_prev_s, dtype=np.float64)
    n = rr.size
    if n == 0:
        return np.zeros(0)
    ok = np.isfinite(rr) & (rr > 0)
    v = np.where(ok, rr, 0.0)
    cs = np.concatenate(([0.0], np.cumsum(v)))
    cn = np.concatenate(([0], np.cumsum(ok)))
    i = np.arange(n)
    lo, hi = np.clip(i - context, 0, n), np.clip(i + context + 1, 0, n)
    total = cs[hi] - cs[lo] - v
    count = cn[hi] - cn[lo] - ok
    with np.errstate(invalid="ignore", divide="ignore"):
        local = total / count
        out = rr / local
    return np.where(ok & (count > 0), out, np.nan)
