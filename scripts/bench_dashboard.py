"""Dashboard speed and payload: figures of a 30-minute record with a warm model, the real
page in Chromium from a cold server start, and the families panel of a 24-hour record.

* time from choosing a record to its figures being built, as the dashboard does it: read the
  record, ``score_record``, ``reflag`` at the threshold, build the overview (downsampled),
  the strip at the first flagged beat, the beat detail (with the autoencoder reconstruction)
  and the summary (HR trend and tables), then serialise every figure to JSON (what Streamlit
  sends to the browser). Target: under 2 s. The model is warm: the bundle is loaded and one
  scoring has run before the timed repeats.
* payload bytes of each figure (``len(fig.to_json())``), and as the peer a naive
  full-resolution overview: every sample of every lead in one Plotly line trace each
  (1.3 M points for a two-lead 30-minute MIT-BIH record at 360 Hz).

* the page in a real browser (``--server``, on by default; needs Playwright and Chromium at
  /usr/bin/chromium): ``python -m streamlit run dashboard/app.py`` is started headless in a
  fresh process (cold: nothing cached, the bundle not loaded), then timed with Playwright:
  the empty page's first render (the peer: Streamlit's own cost), choosing the record until
  its title and overview and strip are drawn (target <= 3 s, cold), and switching between
  two already-scored records (warm, target <= 1 s).
* the families panel of a 24-hour record (``--families-24h``, on by default): MIT-BIH records
  joined into one 24-hour two-lead record (as ``scripts/bench_scoring.py`` builds it), scored
  once, then the panel's tiles and figure built and serialised (uncached: the dashboard
  caches them per record), target <= 2 s; the peer is the same figure drawing every member
  of every family instead of a bounded sample.

    python scripts/bench_dashboard.py [--record 208] [--switch-to 119] [--data-dir data] [--bundle PATH]
                                      [--repeats 5] [--threads 1] [--no-server] [--no-families-24h]
                                      [--mitdb DIR] [--json PATH]
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

from _common import REPO, command_line, default_mitdb_dir, write_json  # noqa: E402

TARGET_S = 2.0
TARGET_FIRST_RENDER_S = 3.0
TARGET_SWITCH_S = 1.0
TARGET_FAMILIES_S = 2.0
CHROMIUM = Path("/usr/bin/chromium")
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


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_server(record: str, switch_to: str, bundle_path: str | None, repeats: int) -> dict:
    """The page in Chromium from a cold ``streamlit run``: seconds to the empty page's first
    render, to the first record drawn (cold), and per warm switch between two records."""
    import subprocess
    import tempfile
    import urllib.request

    from playwright.sync_api import sync_playwright

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    tmp = tempfile.mkdtemp(prefix="bench-dashboard-")
    env = dict(
        os.environ,
        ECG_REVIEW_DB=str(Path(tmp) / "reviews.db"),
        ECG_TORCH_THREADS=os.environ.get("ECG_TORCH_THREADS", "1"),
        TMPDIR=tmp,
    )
    if bundle_path:
        env["ECG_BUNDLE"] = str(bundle_path)
    cmd = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.headless", "true"]
    cmd += ["--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    cmd += ["--server.fileWatcherType", "none"]
    t_start = time.perf_counter()
    log = open(Path(tmp) / "streamlit.log", "wb")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    out: dict = {}
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: {(Path(tmp) / 'streamlit.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        out["server_start_s"] = time.perf_counter() - t_start
        drawn = (
            "(name) => document.querySelector('h1') && document.querySelector('h1').innerText.includes('Record ' + name)"
            " && document.querySelectorAll('.js-plotly-plot').length >= 2"
            " && Array.from(document.querySelectorAll('.js-plotly-plot')).slice(0, 2).every(g => g._fullData)"
            " && !document.querySelector('[data-testid=stStatusWidget]')"
        )
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"], timeout=60_000
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.set_default_timeout(300_000)
            t0 = time.perf_counter()
            page.goto(url, wait_until="domcontentloaded")
            page.wait_for_selector("text=Choose a record in the sidebar")
            out["empty_page_s"] = time.perf_counter() - t0  # the peer: Streamlit's own first render

            def choose(name: str) -> float:
                t = time.perf_counter()
                page.locator("[data-testid=stSelectbox] input").first.click()
                page.locator("[role=option]", has_text=f"{name}:").first.click()
                page.wait_for_function(drawn, arg=name)
                return time.perf_counter() - t

            out["first_record_cold_s"] = choose(record)
            out["second_record_cold_s"] = choose(switch_to)
            switches = []
            for k in range(max(1, repeats)):
                switches.append(choose(record if k % 2 == 0 else switch_to))
            out["switch_warm_s"] = switches
            browser.close()
    finally:
        import signal

        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    out["server_plus_first_record_s"] = out["server_start_s"] + out["empty_page_s"] + out["first_record_cold_s"]
    return out


def bench_families_24h(mitdb: Path, bundle, repeats: int) -> dict:
    """Tiles and figure of the families panel for a 24-hour record (uncached), and the peer
    drawing every member."""
    import tempfile

    import numpy as np
    from bench_scoring import build_24h

    from ecg.scoring.score import score_record
    from ecg.viz.families import family_grid_figure, family_tiles

    with tempfile.TemporaryDirectory(prefix="bench-24h-") as td:
        t0 = time.perf_counter()
        base = build_24h(mitdb, Path(td))
        t_build = time.perf_counter() - t0
        t0 = time.perf_counter()
        scored = score_record(str(base), bundle)
        t_score = time.perf_counter() - t0
    b = scored.beats
    fam = b["family"].to_numpy(np.int64)
    pc = b["pred_class"].astype(str).to_numpy()
    smp = b["sample"].to_numpy(np.int64)
    w = bundle.config.window

    def panel(max_members: int, max_mean: int) -> tuple[float, int]:
        t = time.perf_counter()
        tiles = family_tiles(fam, pc, scored.model_waves, smp, max_members=max_members, max_mean_members=max_mean)
        n = len(family_grid_figure(tiles, w.fs, w.pre_s).to_json())
        return time.perf_counter() - t, n

    panel(30, 1000)  # first-call costs (imports)
    ours = [panel(30, 1000) for _ in range(max(1, repeats))]
    every = int(np.bincount(fam[fam >= 0]).max()) if (fam >= 0).any() else 1
    peer = panel(every, every)
    return {
        "beats": int(len(b)),
        "families": int(fam.max() + 1) if (fam >= 0).any() else 0,
        "build_record_s": t_build,
        "score_s": t_score,
        "panel_s": [t for t, _ in ours],
        "panel_bytes": ours[0][1],
        "peer_every_member_s": peer[0],
        "peer_every_member_bytes": peer[1],
    }


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
    ap.add_argument("--switch-to", default="119", help="second demo record for the warm switches (default 119)")
    ap.add_argument("--no-server", action="store_true", help="skip the browser timings of a cold streamlit server")
    ap.add_argument("--no-families-24h", action="store_true", help="skip the 24-hour families panel")
    ap.add_argument(
        "--mitdb", default=None, help="MIT-BIH directory for the 24-hour record (default: as bench_scoring)"
    )
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
    if not args.no_server:
        srv = bench_server(args.record, args.switch_to, bundle_path, args.repeats)
        med_switch = statistics.median(srv["switch_warm_s"])
        res["browser"] = dict(
            srv,
            switch_warm_median_s=med_switch,
            targets={"first_record_cold_s": TARGET_FIRST_RENDER_S, "switch_warm_s": TARGET_SWITCH_S},
            ratio_first_record_over_empty_page=srv["first_record_cold_s"] / srv["empty_page_s"],
            ratio_switch_over_empty_page=med_switch / srv["empty_page_s"],
        )
        print(
            f"  browser (cold server, Chromium): server up {srv['server_start_s']:.2f} s; empty page (peer) "
            f"{srv['empty_page_s']:.2f} s; first record {args.record} drawn {srv['first_record_cold_s']:.2f} s "
            f"(target <= {TARGET_FIRST_RENDER_S:g} s: {'met' if srv['first_record_cold_s'] <= TARGET_FIRST_RENDER_S else 'NOT met'}; "
            f"{res['browser']['ratio_first_record_over_empty_page']:.1f} x the empty page); "
            f"server start to record drawn {srv['server_plus_first_record_s']:.2f} s"
        )
        print(
            f"  record switch (warm, {len(srv['switch_warm_s'])} switches {args.record} <-> {args.switch_to}): median "
            f"{med_switch:.2f} s (min {min(srv['switch_warm_s']):.2f}, max {max(srv['switch_warm_s']):.2f}); "
            f"target <= {TARGET_SWITCH_S:g} s: {'met' if med_switch <= TARGET_SWITCH_S else 'NOT met'}; "
            f"{res['browser']['ratio_switch_over_empty_page']:.1f} x the empty page"
        )
    if not args.no_families_24h:
        fam = bench_families_24h(Path(args.mitdb) if args.mitdb else default_mitdb_dir(), bundle, args.repeats)
        med = statistics.median(fam["panel_s"])
        res["families_24h"] = dict(
            fam, panel_median_s=med, target_s=TARGET_FAMILIES_S, ratio_peer_over_ours=fam["peer_every_member_s"] / med
        )
        print(
            f"  families panel, 24 h record ({fam['beats']:,} beats, {fam['families']} families; built in "
            f"{fam['build_record_s']:.0f} s, scored in {fam['score_s']:.0f} s): tiles + figure + JSON median {med:.3f} s "
            f"(max {max(fam['panel_s']):.3f}), {fam['panel_bytes']:,} bytes; target <= {TARGET_FAMILIES_S:g} s: "
            f"{'met' if med <= TARGET_FAMILIES_S else 'NOT met'}"
        )
        print(
            f"  peer: every member of every family drawn: {fam['peer_every_member_s']:.3f} s, "
            f"{fam['peer_every_member_bytes']:,} bytes = {res['families_24h']['ratio_peer_over_ours']:.1f} x our time"
        )
    print(f"  reproduce: {res['command']}")
    if args.json:
        write_json(args.json, res)
        print(f"  wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
