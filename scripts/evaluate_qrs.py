#!/usr/bin/env python
"""Evaluate R-peak detection on MIT-BIH style records, beat by beat (bxb rules).

Compares ``ecg.processing.peaks.detect_r_peaks`` with wfdb's XQRS and NeuroKit2's default
(``nk.ecg_clean`` + ``nk.ecg_peaks``) on the same lead, against the reference beat
annotations, with the EC57 150 ms match window. Ventricular flutter episodes (``[`` .. ``]``)
are left out by default, as bxb does.

Example::

    python scripts/evaluate_qrs.py --records 100 208 --json out/qrs.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ecg.evaluate.matching import MATCH_WINDOW_S, DetectionStats, detection_stats, flutter_intervals
from ecg.io.records import list_records, load_record
from ecg.processing.peaks import METHODS, detect_r_peaks

REPO = Path(__file__).resolve().parents[1]


def default_data_dir() -> Path:
    env = os.environ.get("ECG_DATA_DIR")
    if env:
        return Path(env)
    shared = REPO.parent / "shared" / "data" / "mitdb"
    return shared if shared.is_dir() else REPO / "data"


def _xqrs(sig: np.ndarray, fs: float) -> np.ndarray:
    import wfdb.processing

    return np.asarray(wfdb.processing.xqrs_detect(sig, fs=fs, verbose=False), np.int64)


def _neurokit(sig: np.ndarray, fs: float) -> np.ndarray:
    import neurokit2 as nk

    cleaned = nk.ecg_clean(sig, sampling_rate=fs)
    _, info = nk.ecg_peaks(cleaned, sampling_rate=fs)
    return np.asarray(info["ECG_R_Peaks"], np.int64)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help="directory of WFDB records ($ECG_DATA_DIR, else ../shared/data/mitdb, else data/)",
    )
    ap.add_argument("--records", nargs="+", default=None, help="record names (default: all in the directory)")
    ap.add_argument("--lead", default="0", help="lead index or name")
    ap.add_argument("--method", default="default", choices=sorted(METHODS), help="our detector's method")
    ap.add_argument("--no-peers", action="store_true", help="skip XQRS and NeuroKit2")
    fl = ap.add_mutually_exclusive_group()
    fl.add_argument(
        "--exclude-flutter",
        dest="exclude_flutter",
        action="store_true",
        default=True,
        help="leave ventricular flutter episodes out, as bxb does",
    )
    fl.add_argument(
        "--include-flutter", dest="exclude_flutter", action="store_false", help="score ventricular flutter episodes too"
    )
    ap.add_argument("--json", type=Path, default=None, help="write headline figures and per-record rows here")
    return ap.parse_args(argv)


def _fmt_row(name: str, n_ref: int, s: DetectionStats, sec: float) -> str:
    return f"{name:>8} {n_ref:7d} {s.tp:7d} {s.fn:6d} {s.fp:6d} {100 * s.se:8.3f} {100 * s.ppv:8.3f} {sec:8.3f}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("command: " + " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    lead: int | str = int(args.lead) if args.lead.lstrip("-").isdigit() else args.lead
    records = args.records or list_records(args.data_dir)

    detectors = {f"ours ({args.method})": lambda s, f: detect_r_peaks(s, f, args.method)}
    if not args.no_peers:
        detectors["wfdb XQRS"] = _xqrs
        detectors["NeuroKit2"] = _neurokit

    print(
        f"data: {args.data_dir}  records: {len(records)}  lead: {args.lead}  "
        f"match window: {MATCH_WINDOW_S * 1000:.0f} ms  "
        f"ventricular flutter episodes: {'EXCLUDED (as bxb)' if args.exclude_flutter else 'INCLUDED'}"
    )

    # Warm-up (imports, filter design caches) so the timings below are of the detection only.
    warm = np.sin(np.linspace(0, 20 * np.pi, 3600)).astype(np.float64)
    for fn in detectors.values():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fn(warm, 360.0)
            except Exception:  # a peer failing on a toy signal is not our concern here
                pass

    rows: dict[str, list[dict]] = {k: [] for k in detectors}
    totals = {k: DetectionStats(0, 0, 0) for k in detectors}
    seconds = {k: 0.0 for k in detectors}
    for name in records:
        rec = load_record(name, args.data_dir)
        if rec.annotations is None:
            print(f"{name}: no reference annotations, skipped")
            continue
        sig = rec.lead(lead).astype(np.float64)
        beats = rec.annotations.beats()
        excl = (
            flutter_intervals(rec.annotations.sample, rec.annotations.symbol, rec.n_samples)
            if args.exclude_flutter
            else None
        )
        n_ref = int(beats.sample.size)
        for det, fn in detectors.items():
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                peaks = fn(sig, rec.fs)
            dt = time.perf_counter() - t0
            st = detection_stats(beats.sample, peaks, rec.fs, exclude=excl)
            totals[det] = totals[det] + st
            seconds[det] += dt
            rows[det].append({"record": name, "n_ref": n_ref, **st.as_dict(), "seconds": dt})

    header = f"{'record':>8} {'n_ref':>7} {'TP':>7} {'FN':>6} {'FP':>6} {'Se%':>8} {'+P%':>8} {'seconds':>8}"
    for det in detectors:
        print(f"\n== {det} ==")
        print(header)
        for r in rows[det]:
            print(_fmt_row(r["record"], r["n_ref"], DetectionStats(r["tp"], r["fn"], r["fp"]), r["seconds"]))
        print(_fmt_row("GROSS", sum(r["n_ref"] for r in rows[det]), totals[det], seconds[det]))

    print("\n== summary (gross) ==")
    ours = next(iter(detectors))
    for det in detectors:
        t = totals[det]
        line = (
            f"{det:>18}: TP={t.tp} FN={t.fn} FP={t.fp} Se={100 * t.se:.3f}% +P={100 * t.ppv:.3f}% "
            f"time={seconds[det]:.2f}s"
        )
        if det != ours and seconds[ours] > 0:
            line += f"  (ours is {seconds[det] / seconds[ours]:.1f}x faster)"
        print(line)
    worst = sorted(rows[ours], key=lambda r: -(r["fn"] + r["fp"]))[:5]
    print("worst records (ours, FN+FP): " + ", ".join(f"{r['record']} ({r['fn']}+{r['fp']})" for r in worst))

    if args.json:
        out = {
            "command": [sys.executable, *sys.argv],
            "data_dir": str(args.data_dir),
            "lead": args.lead,
            "method": args.method,
            "exclude_flutter": args.exclude_flutter,
            "match_window_s": MATCH_WINDOW_S,
            "detectors": {
                det: {**totals[det].as_dict(), "seconds": seconds[det], "records": rows[det]} for det in detectors
            },
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
