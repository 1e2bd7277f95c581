#!/usr/bin/env python
"""Validate the per-lead signal-quality labels (``ecg.processing.quality.assess_quality``).

Measures, on the MIT-BIH Arrhythmia Database (all 48 records, DS1 and DS2 separately):

1. per-window Se/Sp of ``unreadable`` against the reference noise annotations (``~``), per lead
   and overall, and how often reference-noisy windows are labelled noisy (or worse);
2. per-window Se/Sp of ``unreadable`` on clean excerpts with injected noise (white, EMG-band,
   baseline wander, electrode-motion-like bursts) at known SNRs, and flat / clipped / NaN stretches;
3. the share of reference beats whose best-lead label is unreadable (clean records and all);
4. false pauses (RR > 2 s from ``detect_r_peaks`` on lead 0, unreadable samples masked with NaN,
   interval ``readable_between``) and the coverage of reference pauses; quality on both leads
   vs lead 0 only;
5. pure noise (30 min of white / pink / brown / EMG-band noise, 0.05-2 mV);
6. timing per record.

Reference noise annotations
---------------------------
In the MIT-BIH ``atr`` files a ``~`` annotation changes the signal-quality state until the next
``~``; its quality code is in the annotation's ``subtyp`` field (the loader's ``aux`` is empty for
them, so this script reads ``subtyp`` with ``wfdb.rdann``): bit ``k`` (k = 0..3) set = signal k
noisy, bit ``4 + k`` set = signal k unreadable, ``-1`` (all bits) = all signals unreadable
(WFDB Programmer's Guide, annotation codes, ``NOISE``). In the 48 records only the values
0 (both clean), 1, 2, 3 (signal 0 / 1 / both noisy) and -1 (both unreadable, "U": 8 segments,
12 s in all) occur. A window is reference-unreadable (-noisy) on a lead when any of its samples
lies in a U (noisy-or-U) state on that lead.

Tuning rule (thresholds in ``ecg.processing.quality._PARAMS``; DS2 never looked at while tuning)
-----------------------------------------------------------------------------------------------
* ``k_unread`` = 4.5 (kSQI of a 10 s context below which it is unreadable): above the largest
  10 s kurtosis of synthetic pure noise (3.94 over white / pink / brown / EMG-band, 0.05-2 mV,
  30 min each, seed 0) and below the lowest lead-0 kSQI of DS1 outside ventricular flutter (5.5).
* ``b_unread`` = 0.5 with the gate ``k_gate`` = 8: on DS1 records without U annotations, bSQI
  alone (no gate) lost 14-45 beats of 114 (lead 0) and 57-312 of 106/115 (lead 1) for
  thresholds 0.3-0.5; with the kSQI < 8 gate no beat is lost for any threshold up to 0.5
  (grid 0.2, 0.3, 0.4, 0.5), so the top of the grid was taken.
* ``lf_block`` = 1.0 mV / ``p_block`` = 0.05 (blocked amplifier): from the DS1 false pauses of
  116 (1354 s, 1390 s) and 208 (1384 s), whose windows have a 0-1 Hz swing of 1.6-2.3 mV and a
  5-40 Hz power of 0.1-0.2 % of the lead's median; the rule loses 11 of 51,021 DS1 beats on lead 0.
* ``k_local`` = 3.6 / ``p_local`` = 4 (local artefact), ``bad_frac`` = 0.5 and ``min_good_s`` = 2:
  set a priori, not tuned.
* "noisy": each threshold is the 5th percentile of that SQI over the DS1 windows annotated
  clean, both leads pooled (kSQI 7.8, bSQI 0.82, basSQI 0.30, pSQI 0.40; the upper pSQI bound
  was dropped as filtered band powers exceed 1 on clean windows).
Then one run on all 48 records gives the figures reported, split into DS1 and DS2.

Example::

    python scripts/evaluate_quality.py --json reports/quality_evaluation.json --md reports/quality_evaluation.md
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import signal as sps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, default_mitdb_dir, write_json  # noqa: E402

from ecg.datasets.splits import DS1, DS2  # noqa: E402
from ecg.evaluate.matching import flutter_intervals  # noqa: E402
from ecg.io.records import list_records, load_record  # noqa: E402
from ecg.labels import BEAT_SYMBOLS  # noqa: E402
from ecg.processing.peaks import detect_r_peaks  # noqa: E402
from ecg.processing.quality import NOISY, UNREADABLE, assess_quality  # noqa: E402

PAUSE_S = 2.0
SNRS_DB = (-12, -6, 0, 6, 12)
NOISE_TYPES = ("white", "emg", "baseline", "motion")


# --------------------------------------------------------------------------------------
# reference
# --------------------------------------------------------------------------------------


def reference_quality(path: Path, n: int, n_leads: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample reference states from the ``~`` annotations: (noisy, unreadable), each (n, leads) bool."""
    import wfdb

    ann = wfdb.rdann(str(path), "atr")
    sym = np.asarray(ann.symbol)
    m = sym == "~"
    smp = np.asarray(ann.sample)[m]
    sub = np.asarray(ann.subtype)[m].astype(np.int64)
    noisy = np.zeros((n, n_leads), bool)
    unread = np.zeros((n, n_leads), bool)
    ends = np.append(smp[1:], n)
    for s, e, code in zip(smp, ends, sub):
        for k in range(n_leads):
            u = code == -1 or bool((code >> (4 + k)) & 1)
            z = code != -1 and bool((code >> k) & 1)
            unread[s:e, k] |= u
            noisy[s:e, k] |= z or u
    return noisy, unread


def window_any(mask: np.ndarray, window: int, nw: int) -> np.ndarray:
    """(nw, leads) bool: any sample of the window set."""
    n = mask.shape[0]
    pad = nw * window - n
    m = np.concatenate([mask, np.zeros((pad, mask.shape[1]), bool)]) if pad else mask
    return m.reshape(nw, window, -1).any(axis=1)


def se_sp(pred: np.ndarray, truth: np.ndarray) -> dict:
    pred, truth = np.asarray(pred, bool).ravel(), np.asarray(truth, bool).ravel()
    tp = int((pred & truth).sum())
    fn = int((~pred & truth).sum())
    fp = int((pred & ~truth).sum())
    tn = int((~pred & ~truth).sum())
    return {
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "tn": tn,
        "se": tp / (tp + fn) if tp + fn else None,
        "sp": tn / (tn + fp) if tn + fp else None,
    }


def add_counts(a: dict, b: dict) -> dict:
    out = {k: a.get(k, 0) + b[k] for k in ("tp", "fn", "fp", "tn")}
    out["se"] = out["tp"] / (out["tp"] + out["fn"]) if out["tp"] + out["fn"] else None
    out["sp"] = out["tn"] / (out["tn"] + out["fp"]) if out["tn"] + out["fp"] else None
    return out


def pauses(peaks: np.ndarray, fs: float) -> np.ndarray:
    """(k, 2) sample intervals of consecutive peaks more than PAUSE_S apart."""
    peaks = np.asarray(peaks, np.int64)
    if peaks.size < 2:
        return np.zeros((0, 2), np.int64)
    rr = np.diff(peaks)
    i = np.flatnonzero(rr > PAUSE_S * fs)
    return np.stack([peaks[i], peaks[i + 1]], axis=1)


def overlaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bool per interval of ``a``: overlaps any interval of ``b``."""
    if a.size == 0:
        return np.zeros(0, bool)
    if b.size == 0:
        return np.zeros(a.shape[0], bool)
    return ((a[:, None, 0] <= b[None, :, 1]) & (a[:, None, 1] >= b[None, :, 0])).any(axis=1)


def pause_eval(x0: np.ndarray, fs: float, q, ref_pauses: np.ndarray, excl: np.ndarray, lead: int | None = None) -> dict:
    """Pauses from detect_r_peaks on lead 0 with its unreadable samples masked, kept when readable_between."""
    lead0_bad = np.repeat(q.labels[:, 0] == UNREADABLE, q.window)[: x0.size]
    xm = np.where(lead0_bad, np.nan, x0)
    if np.isnan(xm).all():
        pk = np.zeros(0, np.int64)
    else:
        pk = detect_r_peaks(xm, fs)
    det = pauses(pk, fs)
    if det.size:
        det = det[q.readable_between(det[:, 0], det[:, 1], lead=lead)]
    if excl.size and det.size:
        det = det[~overlaps(det, excl)]
    false = det[~overlaps(det, ref_pauses)] if det.size else det
    covered = overlaps(ref_pauses, det)
    return {
        "n_detected": int(det.shape[0]),
        "n_false": int(false.shape[0]),
        "false_at_s": [[round(float(s) / fs, 2), round(float(e - s) / fs, 2)] for s, e in false],
        "n_ref": int(ref_pauses.shape[0]),
        "n_ref_covered": int(covered.sum()),
        "missed_ref_at_s": [[round(float(s) / fs, 2), round(float(e - s) / fs, 2)] for s, e in ref_pauses[~covered]],
    }


# --------------------------------------------------------------------------------------
# noise synthesis
# --------------------------------------------------------------------------------------


def _band_noise(rng, n, fs, lo, hi, order=4):
    hi = min(hi, 0.45 * fs)
    w = rng.standard_normal(n)
    if lo <= 0:
        sos = sps.butter(order, hi, btype="lowpass", fs=fs, output="sos")
    else:
        sos = sps.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")
    return sps.sosfiltfilt(sos, w)


def make_noise(kind: str, n: int, fs: float, rng) -> np.ndarray:
    """Unit-variance noise of one kind."""
    if kind == "white":
        v = rng.standard_normal(n)
    elif kind == "emg":
        v = _band_noise(rng, n, fs, 20.0, 150.0)
    elif kind == "baseline":
        v = _band_noise(rng, n, fs, 0.0, 1.0, order=2)
    elif kind == "motion":
        # electrode-motion-like: 1-10 Hz noise plus random biphasic transients (50-200 ms), 3 per s
        v = 0.5 * _band_noise(rng, n, fs, 1.0, 10.0, order=2)
        k = rng.poisson(3.0 * n / fs)
        pos = rng.integers(0, n, k)
        width = rng.uniform(0.05, 0.2, k) * fs
        amp = rng.normal(0, 1, k)
        t = np.arange(-int(0.6 * fs), int(0.6 * fs) + 1)
        spikes = np.zeros(n + t.size)
        for p, wd, a in zip(pos, width, amp):  # a few hundred transients: a small loop, synthesis only
            spikes[p : p + t.size] += a * (-t / wd) * np.exp(-0.5 * (t / wd) ** 2)
        v = v + spikes[t.size // 2 : t.size // 2 + n]
    elif kind == "pink" or kind == "brown":
        alpha = 1.0 if kind == "pink" else 2.0
        w = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / fs)
        f[0] = f[1]
        v = np.fft.irfft(w / f ** (alpha / 2), n)
    else:
        raise ValueError(kind)
    v = v - v.mean()
    return v / v.std()


def qrs_signal_power(x: np.ndarray, fs: float, peaks: np.ndarray) -> float:
    """NSTDB-style signal power: (median QRS peak-to-peak amplitude)^2 / 8 (Moody et al. 1984)."""
    h = int(0.05 * fs)
    pk = peaks[(peaks > h) & (peaks < x.size - h)]
    idx = pk[:, None] + np.arange(-h, h + 1)[None, :]
    p2p = np.ptp(x[idx], axis=1)
    return float(np.median(p2p) ** 2 / 8.0)


def injection_eval(recs: list, rng, per_record: int = 3, excerpt_s: float = 60.0, burst_s: float = 20.0) -> dict:
    """Noise bursts injected into clean 60 s excerpts of lead 0 (no reference noise annotation there)."""
    results: dict[str, dict] = {}
    for rec, noisy_ref in recs:
        fs = rec.fs
        n_ex = int(excerpt_s * fs)
        x = rec.lead(0).astype(np.float64)
        beats = rec.annotations.beats().sample
        clean = ~noisy_ref.any(axis=1)
        starts = np.arange(0, x.size - n_ex, n_ex)
        ok = [s for s in starts if clean[s : s + n_ex].all() and not np.isnan(x[s : s + n_ex]).any()]
        if not ok:
            continue
        chosen = rng.choice(ok, size=min(per_record, len(ok)), replace=False)
        for s0 in chosen:
            seg = x[s0 : s0 + n_ex]
            pk = beats[(beats >= s0) & (beats < s0 + n_ex)] - s0
            if pk.size < 10:
                continue
            s_pow = qrs_signal_power(seg - np.median(seg), fs, pk)
            b0 = int((excerpt_s - burst_s) / 2 * fs)
            b1 = b0 + int(burst_s * fs)
            conds = [(k, snr) for k in NOISE_TYPES for snr in SNRS_DB] + [("flat", None), ("clip", None), ("nan", None)]
            for kind, snr in conds:
                y = seg.copy()
                if kind == "flat":
                    y[b0:b1] = y[b0]
                elif kind == "clip":
                    # a baseline excursion that drives the amplifier into saturation at the lead's rails
                    rail = np.max(seg) + 0.5
                    y = np.minimum(y + np.where((np.arange(n_ex) >= b0) & (np.arange(n_ex) < b1), 10.0, 0.0), rail)
                elif kind == "nan":
                    y[b0:b1] = np.nan
                else:
                    v = make_noise(kind, b1 - b0, fs, rng)
                    y[b0:b1] += v * np.sqrt(s_pow / 10 ** (snr / 10))
                q = assess_quality(y.astype(np.float32), fs)
                lab = q.labels[:, 0]
                w = q.window
                k = np.arange(q.n_windows)
                inside = (k * w >= b0) & ((k + 1) * w <= b1)
                outside = ((k + 1) * w <= b0 - int(6 * fs)) | (k * w >= b1 + int(6 * fs))
                key = kind if snr is None else f"{kind} {snr:+d} dB"
                r = results.setdefault(
                    key,
                    {
                        "kind": kind,
                        "snr_db": snr,
                        "inside": {"n": 0, "unreadable": 0, "noisy_or_worse": 0},
                        "outside": {"n": 0, "unreadable": 0},
                    },
                )
                r["inside"]["n"] += int(inside.sum())
                r["inside"]["unreadable"] += int((lab[inside] == UNREADABLE).sum())
                r["inside"]["noisy_or_worse"] += int((lab[inside] >= NOISY).sum())
                r["outside"]["n"] += int(outside.sum())
                r["outside"]["unreadable"] += int((lab[outside] == UNREADABLE).sum())
    for r in results.values():
        r["inside"]["unreadable_rate"] = r["inside"]["unreadable"] / max(r["inside"]["n"], 1)
        r["inside"]["noisy_or_worse_rate"] = r["inside"]["noisy_or_worse"] / max(r["inside"]["n"], 1)
        r["outside"]["unreadable_rate"] = r["outside"]["unreadable"] / max(r["outside"]["n"], 1)
        kind, snr = r["kind"], r["snr_db"]
        if kind in ("flat", "clip", "nan"):
            r["truth"] = "unreadable"
        elif kind == "baseline":
            r["truth"] = "readable (baseline wander is removed by filtering)"
        elif snr <= -6:
            r["truth"] = "unreadable"
        elif snr >= 6:
            r["truth"] = "readable"
        else:
            r["truth"] = "either (0 dB: no ground truth)"
        if r["truth"] == "unreadable":
            r["se_unreadable"] = r["inside"]["unreadable_rate"]
        elif r["truth"].startswith("readable"):
            r["sp_unreadable"] = 1.0 - r["inside"]["unreadable_rate"]
        r["sp_outside"] = 1.0 - r["outside"]["unreadable_rate"]
    return results


def pure_noise_eval(fs: float = 360.0, minutes: float = 30.0, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * fs)
    out = {}
    for kind in ("white", "pink", "brown", "emg"):
        for amp in (0.05, 0.5, 2.0):
            x = (make_noise(kind, n, fs, rng) * amp).astype(np.float32)
            q = assess_quality(np.stack([x, (make_noise(kind, n, fs, rng) * amp).astype(np.float32)], axis=1), fs)
            best = q.best()
            readable = best != UNREADABLE
            longest = 0
            if readable.any():
                d = np.diff(np.concatenate(([0], readable.astype(np.int8), [0])))
                longest = int((np.flatnonzero(d == -1) - np.flatnonzero(d == 1)).max())
            xm = np.where(np.repeat(q.labels[:, 0] == UNREADABLE, q.window)[:n], np.nan, x)
            n_beats = 0 if np.isnan(xm).all() else int(detect_r_peaks(xm, fs).size)
            out[f"{kind} {amp:g} mV"] = {
                "readable_windows": int(readable.sum()),
                "n_windows": int(best.size),
                "longest_readable_s": longest * q.window / fs,
                "beats_detected_lead0_masked": n_beats,
            }
    return out


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=default_mitdb_dir())
    ap.add_argument("--records", nargs="+", default=None, help="default: all records in the directory")
    ap.add_argument("--method", default="default")
    ap.add_argument("--seed", type=int, default=0, help="noise injection / pure noise seed")
    ap.add_argument("--skip-injection", action="store_true")
    ap.add_argument("--skip-pure-noise", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--md", type=Path, default=None)
    return ap.parse_args(argv)


def _pct(v):
    return "n/a" if v is None else f"{100 * v:.2f}"


def main(argv=None) -> int:
    args = parse_args(argv)
    cmd = command_line()
    print("command: " + cmd)
    records = args.records or list_records(args.data_dir)
    rng = np.random.default_rng(args.seed)
    # warm-up (filter design caches, imports)
    warm = load_record(records[0], args.data_dir)
    assess_quality(warm.signal[: int(60 * warm.fs)], warm.fs, method=args.method)

    rows = []
    inj_recs = []
    for name in records:
        rec = load_record(name, args.data_dir)
        fs, n = rec.fs, rec.n_samples
        t0 = time.perf_counter()
        q = assess_quality(rec.signal, fs, leads=rec.lead_names, method=args.method)
        t_both = time.perf_counter() - t0
        t0 = time.perf_counter()
        q0 = assess_quality(rec.signal[:, 0], fs, leads=rec.lead_names[:1], method=args.method)
        t_one = time.perf_counter() - t0
        noisy_ref, unread_ref = reference_quality(Path(args.data_dir) / name, n, rec.n_leads)
        nw = q.n_windows
        ref_u_w = window_any(unread_ref, q.window, nw)
        ref_n_w = window_any(noisy_ref, q.window, nw)
        per_lead = {}
        for j, lead in enumerate(rec.lead_names):
            pred = q.labels[:, j] == UNREADABLE
            per_lead[lead if lead not in per_lead else f"{lead}_{j}"] = {
                "index": j,
                **se_sp(pred, ref_u_w[:, j]),
                "ref_noisy_windows": int((ref_n_w[:, j] & ~ref_u_w[:, j]).sum()),
                "ref_noisy_labelled_noisy": int((q.labels[ref_n_w[:, j] & ~ref_u_w[:, j], j] == NOISY).sum()),
                "ref_noisy_labelled_unreadable": int((q.labels[ref_n_w[:, j] & ~ref_u_w[:, j], j] == UNREADABLE).sum()),
                "ref_clean_labelled_noisy": int((q.labels[~ref_n_w[:, j], j] == NOISY).sum()),
                "ref_clean_windows": int((~ref_n_w[:, j]).sum()),
            }
        overall = se_sp(q.best() == UNREADABLE, ref_u_w.all(axis=1))
        ann = rec.annotations
        is_beat = np.fromiter((s in BEAT_SYMBOLS for s in ann.symbol), bool, len(ann.symbol))
        beats = ann.sample[is_beat]
        lab = q.at(beats)
        lab0 = q0.at(beats)
        excl = flutter_intervals(ann.sample, ann.symbol, n)
        ref_p = pauses(beats, fs)
        if excl.size and ref_p.size:
            ref_p = ref_p[~overlaps(ref_p, excl)]  # RR across ventricular flutter (207) is not a pause
        x0 = rec.lead(0).astype(np.float64)
        p_both = pause_eval(x0, fs, q, ref_p, excl)
        p_one = pause_eval(x0, fs, q0, ref_p, excl)
        p_l0 = pause_eval(x0, fs, q, ref_p, excl, lead=0)
        # the baseline: today's scoring masks only NaN / flat (gap_mask), no quality labels
        from ecg.processing.quality import gap_mask

        pk = detect_r_peaks(x0, fs)
        det = pauses(pk, fs)
        if det.size:
            gm = np.concatenate(([0], np.cumsum(gap_mask(x0, fs))))
            det = det[(gm[det[:, 1] + 1] - gm[det[:, 0]]) == 0]
        if excl.size and det.size:
            det = det[~overlaps(det, excl)]
        base_false = int((~overlaps(det, ref_p)).sum()) if det.size else 0
        base_cov = int(overlaps(ref_p, det).sum())
        row = {
            "record": name,
            "split": "DS1" if name in DS1 else "DS2" if name in DS2 else "other",
            "has_U": bool(ref_u_w.any()),
            "n_windows": nw,
            "seconds_both_leads": t_both,
            "seconds_lead0": t_one,
            "labels_both": {
                lead: np.bincount(q.labels[:, j], minlength=3).tolist() for j, lead in enumerate(rec.lead_names)
            },
            "unreadable_best_windows": int((q.best() == UNREADABLE).sum()),
            "per_lead": per_lead,
            "overall": overall,
            "beats": int(beats.size),
            "beats_unreadable": int((lab == UNREADABLE).sum()),
            "beats_unreadable_lead0_only": int((lab0 == UNREADABLE).sum()),
            "pauses_both": p_both,
            "pauses_lead0": p_one,
            "pauses_both_readable_on_lead0": p_l0,
            "pauses_baseline_false": base_false,
            "pauses_baseline_covered": base_cov,
            "analysable_s": q.analysable_s(),
        }
        rows.append(row)
        print(
            f"{name}: {t_both:.3f}s  unreadable windows {row['unreadable_best_windows']}/{nw}  "
            f"beats lost {row['beats_unreadable']}/{row['beats']}  false pauses {p_both['n_false']} "
            f"(lead0-only {p_one['n_false']}, baseline {base_false})  ref pauses {p_both['n_ref_covered']}/{p_both['n_ref']}"
        )
        if not args.skip_injection:
            inj_recs.append((rec, noisy_ref))

    def summarise(sel):
        rs = [r for r in rows if sel(r)]
        if not rs:
            return None
        ov = {}
        for r in rs:
            ov = add_counts(ov, r["overall"])
        pl = {}
        for r in rs:
            for _lead, d in r["per_lead"].items():
                key = f"lead{d['index']}"
                extra = {k: v for k, v in pl.get(key, {}).items() if k.startswith("ref_")}
                pl[key] = {**add_counts(pl.get(key, {}), d), **extra}
                for k in (
                    "ref_noisy_windows",
                    "ref_noisy_labelled_noisy",
                    "ref_noisy_labelled_unreadable",
                    "ref_clean_labelled_noisy",
                    "ref_clean_windows",
                ):
                    pl[key][k] = pl[key].get(k, 0) + d[k]
        for d in pl.values():
            d["ref_noisy_labelled_noisy_rate"] = d["ref_noisy_labelled_noisy"] / max(d["ref_noisy_windows"], 1)
            d["ref_noisy_labelled_noisy_or_unreadable_rate"] = (
                d["ref_noisy_labelled_noisy"] + d["ref_noisy_labelled_unreadable"]
            ) / max(d["ref_noisy_windows"], 1)
            d["ref_clean_labelled_noisy_rate"] = d["ref_clean_labelled_noisy"] / max(d["ref_clean_windows"], 1)
        clean = [r for r in rs if not r["has_U"]]

        def loss(lst, key="beats_unreadable"):
            b = sum(r["beats"] for r in lst)
            return {"beats": b, "unreadable": sum(r[key] for r in lst), "share": sum(r[key] for r in lst) / max(b, 1)}

        def pz(key):
            return {
                "n_detected": sum(r[key]["n_detected"] for r in rs),
                "n_false": sum(r[key]["n_false"] for r in rs),
                "n_ref": sum(r[key]["n_ref"] for r in rs),
                "n_ref_covered": sum(r[key]["n_ref_covered"] for r in rs),
                "coverage": sum(r[key]["n_ref_covered"] for r in rs) / max(sum(r[key]["n_ref"] for r in rs), 1),
                "false": {r["record"]: r[key]["false_at_s"] for r in rs if r[key]["n_false"]},
                "missed": {r["record"]: r[key]["missed_ref_at_s"] for r in rs if r[key]["missed_ref_at_s"]},
            }

        secs = np.array([r["seconds_both_leads"] for r in rs])
        return {
            "records": len(rs),
            "target1_unreadable_vs_U": {"overall_best_lead": ov, "per_lead": pl},
            "target3_beat_loss": {
                "clean_records": loss(clean),
                "all_records": loss(rs),
                "clean_records_lead0_only": loss(clean, "beats_unreadable_lead0_only"),
                "all_records_lead0_only": loss(rs, "beats_unreadable_lead0_only"),
                "worst": sorted(
                    ([r["record"], r["beats_unreadable"], r["beats"]] for r in rs), key=lambda v: -v[1] / max(v[2], 1)
                )[:5],
            },
            "target4_pauses": {
                "quality_both_leads": pz("pauses_both"),
                "quality_lead0_only": pz("pauses_lead0"),
                "quality_both_leads_readable_on_lead0": pz("pauses_both_readable_on_lead0"),
                "baseline_gap_mask_only_false": sum(r["pauses_baseline_false"] for r in rs),
                "baseline_gap_mask_only_covered": sum(r["pauses_baseline_covered"] for r in rs),
            },
            "timing_s": {
                "per_record_mean_both_leads": float(secs.mean()),
                "per_record_max_both_leads": float(secs.max()),
                "per_lead_mean": float(secs.mean() / 2),
                "per_record_mean_lead0_only": float(np.mean([r["seconds_lead0"] for r in rs])),
            },
        }

    out = {
        "command": cmd,
        "data_dir": str(args.data_dir),
        "method": args.method,
        "seed": args.seed,
        "flutter": "Detected and reference pauses overlapping ventricular flutter episodes ([ .. ]) are left out (as scripts/evaluate_qrs.py)",
        "all": summarise(lambda r: True),
        "DS1": summarise(lambda r: r["split"] == "DS1"),
        "DS2": summarise(lambda r: r["split"] == "DS2"),
        "records": rows,
    }
    if not args.skip_injection:
        t0 = time.perf_counter()
        out["target2_injection"] = {
            "setup": "lead 0, up to 3 clean 60 s excerpts per record (no ~ annotation), a 20 s burst in the middle; "
            "SNR = 10 log10(S/N), S = (median QRS peak-to-peak)^2/8 (NSTDB, Moody et al. 1984), N = noise variance; "
            "inside = windows wholly in the burst, outside = windows at least 6 s from it",
            "all": injection_eval(inj_recs, rng),
        }
        print(f"injection: {time.perf_counter() - t0:.1f}s")
    if not args.skip_pure_noise:
        out["target5_pure_noise"] = pure_noise_eval(seed=args.seed)

    for split in ("all", "DS1", "DS2"):
        s = out[split]
        if s is None:
            continue
        t1 = s["target1_unreadable_vs_U"]
        t3 = s["target3_beat_loss"]
        t4 = s["target4_pauses"]
        print(f"\n== {split} ({s['records']} records) ==")
        ov = t1["overall_best_lead"]
        print(
            f"1. unreadable vs U (best lead): Se {_pct(ov['se'])}%  Sp {_pct(ov['sp'])}%  (TP {ov['tp']} FN {ov['fn']} FP {ov['fp']})"
        )
        for k, d in t1["per_lead"].items():
            print(
                f"   {k}: Se {_pct(d['se'])}% Sp {_pct(d['sp'])}%  ref-noisy labelled noisy {_pct(d['ref_noisy_labelled_noisy_rate'])}% "
                f"(noisy or unreadable {_pct(d['ref_noisy_labelled_noisy_or_unreadable_rate'])}%), ref-clean labelled noisy {_pct(d['ref_clean_labelled_noisy_rate'])}%"
            )
        print(
            f"3. beats lost to unreadable: clean records {_pct(t3['clean_records']['share'])}% "
            f"({t3['clean_records']['unreadable']}/{t3['clean_records']['beats']}), all {_pct(t3['all_records']['share'])}%; worst {t3['worst']}"
        )
        for k in ("quality_both_leads", "quality_lead0_only", "quality_both_leads_readable_on_lead0"):
            d = t4[k]
            print(
                f"4. pauses ({k}): false {d['n_false']} {d['false']}  coverage {d['n_ref_covered']}/{d['n_ref']} = {_pct(d['coverage'])}%  missed {d['missed']}"
            )
        print(
            f"   baseline (gap_mask only): false {t4['baseline_gap_mask_only_false']}, covered {t4['baseline_gap_mask_only_covered']}"
        )
        tm = s["timing_s"]
        print(
            f"5. time per record (both leads): mean {tm['per_record_mean_both_leads']:.3f}s max {tm['per_record_max_both_leads']:.3f}s"
        )
    if "target2_injection" in out:
        print("\n2. injected noise (lead 0):")
        for k, r in out["target2_injection"]["all"].items():
            print(
                f"   {k:>18}: inside unreadable {_pct(r['inside']['unreadable_rate'])}% noisy+ {_pct(r['inside']['noisy_or_worse_rate'])}% "
                f"(n={r['inside']['n']}), outside unreadable {_pct(r['outside']['unreadable_rate'])}%  truth: {r['truth']}"
            )
    if "target5_pure_noise" in out:
        print("\n6. pure noise (2 leads, 30 min):")
        for k, r in out["target5_pure_noise"].items():
            print(
                f"   {k:>14}: readable windows {r['readable_windows']}/{r['n_windows']}, longest {r['longest_readable_s']:.0f}s, "
                f"beats on masked lead 0 {r['beats_detected_lead0_masked']}"
            )
    if args.json:
        write_json(args.json, out)
        print(f"wrote {args.json}")
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(render_md(out))
        print(f"wrote {args.md}")
    return 0


def render_md(out: dict) -> str:
    L = [
        "# Signal-quality labels: validation",
        "",
        f"Command: `{out['command']}`",
        "",
        f"Method `{out['method']}`, data `{out['data_dir']}`. Thresholds tuned on DS1 only (rule in the script docstring). "
        f"{out['flutter']}. Pause lists: record -> [start s, RR s].",
        "",
    ]
    L += [
        "| split | U Se / Sp (best lead) | lead0 U Se / Sp | lead1 U Se / Sp | ref-noisy labelled noisy+ (l0 / l1) | beats lost, clean records | beats lost, all | false pauses (both / lead 0) | ref pauses covered | s per record |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for split in ("all", "DS1", "DS2"):
        s = out[split]
        if s is None:
            continue
        t1, t3, t4 = s["target1_unreadable_vs_U"], s["target3_beat_loss"], s["target4_pauses"]
        ov, pl = t1["overall_best_lead"], t1["per_lead"]
        l0, l1 = pl.get("lead0", {}), pl.get("lead1", {})
        L.append(
            f"| {split} ({s['records']}) | {_pct(ov['se'])} / {_pct(ov['sp'])} | {_pct(l0.get('se'))} / {_pct(l0.get('sp'))} | "
            f"{_pct(l1.get('se'))} / {_pct(l1.get('sp'))} | {_pct(l0.get('ref_noisy_labelled_noisy_or_unreadable_rate'))} / "
            f"{_pct(l1.get('ref_noisy_labelled_noisy_or_unreadable_rate'))} | "
            f"{_pct(t3['clean_records']['share'])} % ({t3['clean_records']['unreadable']}/{t3['clean_records']['beats']}) | "
            f"{_pct(t3['all_records']['share'])} % | {t4['quality_both_leads']['n_false']} / {t4['quality_lead0_only']['n_false']} "
            f"(gap_mask only {t4['baseline_gap_mask_only_false']}) | {t4['quality_both_leads']['n_ref_covered']}/{t4['quality_both_leads']['n_ref']} "
            f"(gap_mask only {t4['baseline_gap_mask_only_covered']}) | "
            f"{s['timing_s']['per_record_mean_both_leads']:.3f} |"
        )
    a = out["all"]["target4_pauses"]
    L += [
        "",
        "Pauses: detect_r_peaks on lead 0 with its unreadable windows set to NaN; a pause is an RR > 2 s whose interval is "
        "readable_between. 'both' = quality of both leads (readable on either), 'lead 0' = quality of lead 0 only (identical to "
        "both-lead quality with readable_between(..., lead=0), as labels are per lead).",
        "",
        f"False pauses (both leads): {a['quality_both_leads']['false']}.",
        "",
        f"False pauses (lead 0): {a['quality_lead0_only']['false']}; missed reference pauses: {a['quality_lead0_only']['missed']}.",
        "",
    ]
    if "target2_injection" in out:
        inj = out["target2_injection"]
        L += [
            "## Injected noise",
            "",
            inj["setup"] + ".",
            "",
            "| condition | ground truth | windows | unreadable inside % | noisy or worse inside % | unreadable outside % |",
            "|---|---|---|---|---|---|",
        ]
        for k, r in inj["all"].items():
            L.append(
                f"| {k} | {r['truth']} | {r['inside']['n']} | {_pct(r['inside']['unreadable_rate'])} | "
                f"{_pct(r['inside']['noisy_or_worse_rate'])} | {_pct(r['outside']['unreadable_rate'])} |"
            )
    if "target5_pure_noise" in out:
        L += [
            "",
            "## Pure noise (30 min, 2 leads)",
            "",
            "| noise | readable windows | longest readable s | beats detected on masked lead 0 |",
            "|---|---|---|---|",
        ]
        for k, r in out["target5_pure_noise"].items():
            L.append(
                f"| {k} | {r['readable_windows']}/{r['n_windows']} | {r['longest_readable_s']:.0f} | {r['beats_detected_lead0_masked']} |"
            )
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    sys.exit(main())
