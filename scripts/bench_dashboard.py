"""Dashboard speed and payload, measured on a 30-minute record with a warm model.

* time from choosing a record to its figures being built, as the dashboard does it: read the
  record, ``score_record``, ``reflag`` at the threshold, build the overview (downsampled),
  the strip at the first flagged beat, the beat detail (with the autoencoder reconstruction)
  and the summary (HR trend and tables), then serialise every figure to JSON (what Streamlit
  sends to the browser). Target: under 2 s. The model is warm: the bundle is loaded and one
  scoring has run before the timed repeats.
* payload bytes of each figure (``len(fig.to_json())``), and as the peer a naive
  full-resolution overview: every sample of every lead in one Plotly line trace each
  (1.3 M points for a two-lead 30-minute MIT-BIH record at 360 Hz).

    python scripts/bench_dashboard.py [--record 208] [--data-dir data] [--bundle PATH]
                                      [--repeats 5] [--threads 1] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import REPO, command_line, write_json  # noqa: E402

TARGET_S = 2.0
STAGES = ("load", "score", "reflag", "overview", "strip", "beat_detail", "summary", "to_json")


def _points(fig) -> int:
    import numpy as np

    n = 0
    for tr in fig.data:
        y = getattr(tr, "y", None)
        if y is not None:
            n += int(np.asarray(y).size)
    return n


def build_figures(record_ref: str, data_dir: str | None, bundle, threshold: float) -> tuple[dict, dict, dict]:
    """One pass as the dashboard does it; returns (stage seconds, figures, extra numbers)."""
    import numpy as np

    from ecg.io.records import load_record
    from ecg.review.views import summary_tables
    from ecg.scoring.score import reconstruct, reflag, score_record
    from ecg.viz import beat_detail_figure, hr_trend_figure
    from ecg.viz.interactive import review_overview_figure, review_strip_figure
    from ecg.viz.navigation import FILTERABLE_FLAG_REASONS, filter_mask, local_mean_rr, strip_start_for, view_table

    t = {}
    t0 = time.perf_counter()
    record = load_record(record_ref, data_dir)
    t["load"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    scored = score_record(record, bundle)
    t["score"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    beats = reflag(scored.beats, threshold)
    shown = filter_mask(beats, ("N", "S", "V", "F", "Q"), FILTERABLE_FLAG_REASONS)
    view = view_table(beats, shown)
    nav = beats["sample"].to_numpy(np.int64)[shown]
    t["reflag"] = time.perf_counter() - t0

    first = int(nav[0]) if nav.size else None
    strip_t0 = strip_start_for(first / record.fs, 10.0, record.duration_s) if first is not None else 0.0
    t0 = time.perf_counter()
    overview = review_overview_figure(record, view, scored.leads[0], threshold, strip_t0, 10.0)
    t["overview"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    strip = review_strip_figure(record, view, strip_t0, 10.0, list(record.lead_names), True, first)
    t["strip"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    figs = {"overview": overview, "strip": strip}
    if first is not None:
        i = int(np.flatnonzero(beats["sample"].to_numpy() == first)[0])
        w = bundle.config.window
        row = beats.iloc[i]
        figs["beat_detail"] = beat_detail_figure(
            scored.model_waves[i],
            reconstruct(bundle, scored.model_waves[i]),
            w.fs,
            w.pre_s,
            {c: float(row[f"prob_{c}"]) for c in bundle.classes},
            {"rr_prev_s": row["rr_prev_s"], "rr_next_s": row["rr_next_s"], "rr_local_s": local_mean_rr(beats, i)},
        )
    t["beat_detail"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    figs["hr_trend"] = hr_trend_figure(beats, bin_s=60.0)
    summary_tables(scored.summary, beats)
    t["summary"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    payload = {k: len(f.to_json()) for k, f in figs.items()}
    t["to_json"] = time.perf_counter() - t0
    extra = {
        "payload": payload,
        "points": {k: _points(f) for k, f in figs.items()},
        "beats": int(len(beats)),
        "flagged": int(beats["flagged"].sum()),
        "duration_s": record.duration_s,
        "n_leads": record.n_leads,
        "n_samples": record.n_samples,
        "fs": record.fs,
    }
    return t, figs, extra


def naive_overview_bytes(record) -> tuple[int, int, float]:
    """Payload of the naive overview: every sample of every lead, one line trace per lead."""
    import numpy as np
    import plotly.graph_objects as go

    t0 = time.perf_counter()
    fig = go.Figure()
    x = np.arange(record.n_samples) / record.fs
    for j, name in enumerate(record.lead_names):
        fig.add_trace(go.Scatter(x=x, y=record.signal[:, j], mode="lines", name=name))
    n = len(fig.to_json())
    return n, int(record.n_samples * record.n_leads), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--record", default="208", help="record name or path (default: demo record 208, 30 min)")
    ap.add_argument("--data-dir", default=str(REPO / "data"), help="where bare record names are looked up")
    ap.add_argument("--bundle", default=None, help="model bundle (default: $ECG_BUNDLE, else the shipped one)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("ECG_TORCH_THREADS", "1") or 1),
        help="PyTorch threads (the dashboard's default is 1)",
    )
    ap.add_argument("--threshold", type=float, default=99.0, help="anomaly threshold, 0-100 (99 = calibrated)")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(max(1, args.threads))
    from ecg.io.records import load_record
    from ecg.models.bundle import load_bundle

    bundle_path = args.bundle or os.environ.get("ECG_BUNDLE") or None
    t0 = time.perf_counter()
    bundle = load_bundle(bundle_path)
    t_bundle = time.perf_counter() - t0
    # warm-up: first-call costs of torch, numpy, plotly (the dashboard has them paid once)
    build_figures(args.record, args.data_dir, bundle, args.threshold)

    runs = []
    for _ in range(max(1, args.repeats)):
        t, _figs, extra = build_figures(args.record, args.data_dir, bundle, args.threshold)
        runs.append(t)
    totals = [sum(r.values()) for r in runs]
    stage_median = {k: statistics.median(r[k] for r in runs) for k in STAGES}
    record = load_record(args.record, args.data_dir)
    naive_bytes, naive_points, naive_s = naive_overview_bytes(record)
    ours = extra["payload"]["overview"]

    res = {
        "command": command_line(),
        "record": args.record,
        "duration_s": round(extra["duration_s"], 1),
        "fs": extra["fs"],
        "n_leads": extra["n_leads"],
        "beats": extra["beats"],
        "flagged": extra["flagged"],
        "bundle": str(bundle_path or "shipped"),
        "bundle_version": bundle.version,
        "bundle_load_s": t_bundle,
        "torch_threads": torch.get_num_threads(),
        "repeats": len(runs),
        "choose_to_figures_s": {"median": statistics.median(totals), "min": min(totals), "max": max(totals)},
        "stages_median_s": stage_median,
        "target_s": TARGET_S,
        "meets_target": statistics.median(totals) < TARGET_S,
        "payload_bytes": extra["payload"],
        "points": extra["points"],
        "peer_naive_overview": {
            "points": naive_points,
            "bytes": naive_bytes,
            "build_and_json_s": naive_s,
            "ratio_naive_over_ours": naive_bytes / max(1, ours),
        },
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }

    print(
        f"Dashboard benchmark: record {args.record} ({res['duration_s'] / 60:.1f} min, {extra['n_leads']} leads, "
        f"{extra['fs']:g} Hz), bundle {bundle.version}, torch threads {res['torch_threads']}, "
        f"{len(runs)} repeats after a warm-up"
    )
    print(
        f"  choose record -> figures built: median {res['choose_to_figures_s']['median']:.2f} s "
        f"(min {min(totals):.2f}, max {max(totals):.2f}); target < {TARGET_S:g} s: "
        f"{'met' if res['meets_target'] else 'NOT met'}"
    )
    print("  stages (median s): " + ", ".join(f"{k} {v:.3f}" for k, v in stage_median.items()))
    print("  payload per figure (bytes of fig.to_json()):")
    for k, v in extra["payload"].items():
        print(f"    {k:12s} {v:>10,d} bytes  {extra['points'][k]:>8,d} points")
    print(
        f"  peer: naive full-resolution overview, {naive_points:,} points: {naive_bytes:,} bytes "
        f"= {res['peer_naive_overview']['ratio_naive_over_ours']:.1f} x our overview ({ours:,} bytes)"
    )
    print(f"  reproduce: {res['command']}")
    if args.json:
        write_json(args.json, res)
        print(f"  wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
