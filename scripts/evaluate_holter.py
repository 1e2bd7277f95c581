#!/usr/bin/env python
"""The Holter figures a clinician reads first, measured through the one scoring path
(``ecg.score_record`` with the shipped bundle, default options, as ``ecg score`` runs it), on
all 48 MIT-BIH records:

* **pauses**: a reported pause (the summary's pauses, all of them: RR > 2 s over readable signal) is
  *false* when it overlaps no reference pause; a reference pause is an RR > 2 s between
  consecutive annotated beats (symbols of ``ecg.labels.BEAT_SYMBOLS``); it is *covered* when a
  reported pause overlaps it. Intervals overlapping ventricular flutter (record 207, ``[`` to
  ``]``) are left out on both sides, as ``scripts/evaluate_qrs.py`` does;
* **beats lost to unreadable signal**: reference beats with no scored beat within 150 ms that
  lie in signal the scoring did not analyse (unreadable), per record; records without any
  reference noise annotation (``~``) are the "clean" ones;
* **pure noise**: 30 min of white, brown and EMG-band noise (0.5 mV, two leads): beats called
  S, V or F (target 0).

Example::

    python scripts/evaluate_holter.py --json reports/holter_evaluation.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, default_mitdb_dir, write_json  # noqa: E402

import ecg  # noqa: E402
from ecg.datasets.synthetic import NOISE_KINDS, noise_record  # noqa: E402
from ecg.evaluate.matching import flutter_intervals  # noqa: E402
from ecg.labels import BEAT_SYMBOLS  # noqa: E402
from ecg.processing.quality import gap_mask  # noqa: E402
from ecg.scoring.score import score_record  # noqa: E402
from ecg.scoring.summary import holter_summary  # noqa: E402


def _overlaps(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """For each interval a: does it overlap any interval b (closed)?"""
    if not b0.size:
        return np.zeros(a0.size, bool)
    return ((a0[:, None] <= b1[None, :]) & (a1[:, None] >= b0[None, :])).any(axis=1)


def record_figures(name: str, data_dir: Path) -> dict:
    rec = ecg.load_record(name, data_dir)
    sr = score_record(rec)
    fs = rec.fs
    # the summary's own definitions, every pause listed (the JSON lists the first 50)
    summary = holter_summary(
        sr.beats,
        fs,
        rec.duration_s,
        quality=sr.quality,
        gap_mask=np.all([gap_mask(rec.signal[:, rec.lead_index(name)], fs) for name in sr.leads], axis=0),
        max_listed=10**9,
    )
    ann = rec.annotations
    is_beat = np.fromiter((s in BEAT_SYMBOLS for s in ann.symbol), bool, len(ann.symbol))
    rs = ann.sample[is_beat]
    flut = flutter_intervals(ann.sample, ann.symbol, rec.n_samples)
    r0, r1 = rs[:-1], rs[1:]
    ref_p = (r1 - r0) / fs > 2.0
    r0, r1 = r0[ref_p], r1[ref_p]
    listed = summary.pauses.listed
    p0 = np.array([round(p.time_s * fs) for p in listed], np.int64)
    p1 = p0 + np.array([round(p.duration_s * fs) for p in listed], np.int64)
    if len(flut):
        f0, f1 = np.asarray(flut)[:, 0], np.asarray(flut)[:, 1]
        keep_ref, keep_det = ~_overlaps(r0, r1, f0, f1), ~_overlaps(p0, p1, f0, f1)
        r0, r1, p0, p1 = r0[keep_ref], r1[keep_ref], p0[keep_det], p1[keep_det]
    false = ~_overlaps(p0, p1, r0, r1)
    covered = _overlaps(r0, r1, p0, p1)
    missed = sr.missed_reference["sample"].to_numpy(np.int64)
    readable = sr.quality.readable_mask()
    lost = int((~readable[np.clip(missed, 0, readable.size - 1)]).sum()) if missed.size else 0
    return {
        "record": name,
        "reference_pauses": int(r0.size),
        "reported_pauses": int(p0.size),
        "false_pauses": int(false.sum()),
        "false_pause_times_s": [round(float(a) / fs, 1) for a in p0[false]],
        "covered_pauses": int(covered.sum()),
        "reference_beats": int(rs.size),
        "lost_to_unreadable": lost,
        "has_noise_annotations": bool(np.any(ann.symbol == "~")),
        "analysable_pct": sr.summary.signal_quality.analysable_pct,
        "af_burden_pct": sr.summary.af.burden_pct,
    }


def pure_noise(kind: str) -> dict:
    sr = score_record(noise_record(kind))
    counts = sr.beats["pred_class"].value_counts()
    return {
        "noise": kind,
        "beats": int(len(sr.beats)),
        "S_V_F": int(sum(counts.get(c, 0) for c in "SVF")),
        "analysable_pct": sr.summary.signal_quality.analysable_pct,
        "warnings": sr.summary.warnings,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--records", nargs="*", default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    data_dir = args.data_dir or default_mitdb_dir()
    names = args.records or ecg.list_records(data_dir)
    rows = [record_figures(n, data_dir) for n in names]
    ref = sum(r["reference_pauses"] for r in rows)
    tot = {
        "records": len(rows),
        "reference_pauses": ref,
        "reported_pauses": sum(r["reported_pauses"] for r in rows),
        "false_pauses": sum(r["false_pauses"] for r in rows),
        "covered_pauses": sum(r["covered_pauses"] for r in rows),
        "pause_coverage_pct": round(100.0 * sum(r["covered_pauses"] for r in rows) / ref, 2) if ref else None,
    }
    for label, sel in (("clean", [r for r in rows if not r["has_noise_annotations"]]), ("all", rows)):
        beats = sum(r["reference_beats"] for r in sel)
        lost = sum(r["lost_to_unreadable"] for r in sel)
        tot[f"beats_lost_{label}"] = {
            "records": len(sel),
            "beats": beats,
            "lost": lost,
            "pct": round(100.0 * lost / beats, 4) if beats else None,
        }
    noise = [pure_noise(k) for k in NOISE_KINDS]
    cmd = command_line()
    print(cmd)
    print(
        f"pauses: reference {ref}, reported {tot['reported_pauses']}, false {tot['false_pauses']}, "
        f"coverage {tot['pause_coverage_pct']} %"
    )
    for r in rows:
        if r["false_pauses"]:
            print(f"  false pauses in {r['record']} at {r['false_pause_times_s']} s")
    for label in ("clean", "all"):
        b = tot[f"beats_lost_{label}"]
        print(
            f"beats lost to unreadable signal ({label}, {b['records']} records): {b['lost']} of {b['beats']} "
            f"({b['pct']} %)"
        )
    for n in noise:
        print(
            f"pure {n['noise']} noise: {n['beats']} beats, {n['S_V_F']} called S/V/F, "
            f"analysable {n['analysable_pct']} %"
        )
    if args.json:
        write_json(args.json, {"command": cmd, "totals": tot, "records": rows, "pure_noise": noise})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
