"""Scoring speed and memory against peers, measured in one run on the same records.

* ours: ``ecg.score_record`` end to end (load, filter, detect, segment, both models, summary);
* NeuroKit2's ``ecg_process`` (clean + peaks + delineation + rate + quality) as the peer;
* wfdb's XQRS detector alone.

Each measurement runs in a fresh process so its peak resident memory (VmHWM) is its own.
Then long recordings (``--long``, default 24h), built by joining MIT-BIH records into one
WFDB record on disk, are scored end to end from their path (read from disk a chunk at a
time): ``1h`` and ``24h`` two leads at 360 Hz (format 212), ``7d`` one lead (MLII)
resampled to 250 Hz (format 16). For each: seconds, peak RSS and seconds per hour of
recording (time linear in duration means a constant figure).

    python scripts/bench_scoring.py [--records 100 119 208 232] [--long 1h 24h 7d] [--only-long]
                                    [--no-24h] [--json PATH]
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
    elif kind == "ours_long":
        from ecg.scoring.score import default_bundle, score_record

        default_bundle()
        t0 = time.perf_counter()
        sr = score_record(records[0])  # a path: read from disk a chunk at a time
        times.append(time.perf_counter() - t0)
        beats.append(len(sr.beats))
        q.put({"duration_h": sr.record.duration_s / 3600})
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


def _joined_parts(data_dir: Path, need: int, lead: int | None = None, fs_out: int = 360):
    """MIT-BIH records (all leads, or one) as int16 digital blocks (200 adu/mV) at ``fs_out``
    Hz, cycling through the database until ``need`` samples have been given."""
    from scipy.signal import resample_poly

    from ecg.io.records import list_records, load_record

    names = list(list_records(data_dir))
    cache: dict[str, np.ndarray] = {}
    total, i = 0, 0
    while total < need:
        name = names[i % len(names)]
        if name not in cache:
            x = load_record(name, data_dir, annotator=None).signal
            x = x if lead is None else x[:, lead : lead + 1]
            if fs_out != 360:
                g = np.gcd(fs_out, 360)
                x = resample_poly(np.nan_to_num(x), fs_out // g, 360 // g, axis=0)
            cache[name] = np.round(np.clip(x * 200, -30000, 30000)).astype(np.int16)
        part = cache[name][: need - total]
        total += part.shape[0]
        i += 1
        yield part


def build_24h(data_dir: Path, dest: Path, hours: float = 24.0, name: str = "holter24") -> Path:
    """Join MIT-BIH records (two leads, 360 Hz) into one WFDB record of ``hours`` hours."""
    import wfdb

    need = int(hours * 3600 * 360)
    d = np.concatenate(list(_joined_parts(data_dir, need))) + 1024
    wfdb.wrsamp(
        name,
        fs=360,
        units=["mV", "mV"],
        sig_name=["MLII", "V1"],
        d_signal=d.astype(np.int64),
        fmt=["212", "212"],
        adc_gain=[200.0, 200.0],
        baseline=[1024, 1024],
        write_dir=str(dest),
    )
    return dest / name


def build_single_lead(data_dir: Path, dest: Path, hours: float, fs: int = 250, name: str = "holter7d") -> Path:
    """Join MIT-BIH records' MLII resampled to ``fs`` Hz into one single-lead WFDB record
    (format 16) of ``hours`` hours, written block by block (a week does not fit wfdb.wrsamp's
    int64 copy comfortably)."""
    need = int(hours * 3600 * fs)
    total, first, checksum = 0, None, 0
    with open(dest / f"{name}.dat", "wb") as f:
        for part in _joined_parts(data_dir, need, lead=0, fs_out=fs):
            first = int(part[0, 0]) if first is None else first
            checksum = (checksum + int(part.sum(dtype=np.int64))) & 0xFFFF
            part.astype("<i2").tofile(f)
            total += part.shape[0]
    signed = checksum - 0x10000 if checksum >= 0x8000 else checksum
    (dest / f"{name}.hea").write_text(f"{name} 1 {fs} {total}\n{name}.dat 16 200(0)/mV 16 0 {first} {signed} 0 MLII\n")
    return dest / name


LONG = {"1h": (1.0, "two"), "24h": (24.0, "two"), "7d": (168.0, "one")}


def build_long(which: str, data_dir: Path, dest: Path) -> Path:
    hours, leads = LONG[which]
    if leads == "two":
        return build_24h(data_dir, dest, hours, name=f"holter{which}")
    return build_single_lead(data_dir, dest, hours, name=f"holter{which}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--records", nargs="*", default=["100", "119", "208", "232"])
    ap.add_argument("--repeats", type=int, default=3, help="runs per record for ours (the best is kept)")
    ap.add_argument(
        "--long",
        nargs="*",
        default=["24h"],
        choices=sorted(LONG),
        help="long recordings to build and score from disk (default: 24h)",
    )
    ap.add_argument("--only-long", action="store_true", help="skip the per-record comparison with the peers")
    ap.add_argument("--no-24h", action="store_true", help="no long recordings (same as --long with nothing)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    data_dir = args.data_dir or default_mitdb_dir()
    print(f"# {command_line()}\n# data: {data_dir}; records: {' '.join(args.records)}; cores: {os.cpu_count()}")

    results: dict = {}
    for kind in () if args.only_long else ("ours", "neurokit2", "xqrs"):
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
    if "ours" in results:
        ours = results["ours"]["median_s_per_record"]
        for peer in ("neurokit2", "xqrs"):
            ratio = results[peer]["median_s_per_record"] / ours
            results[peer]["ours_speedup"] = ratio
            print(f"ours is {ratio:.1f}x faster than {peer} (median per record)")
        print(f"target <= 1.0 s per 30-min two-lead record: {'met' if ours <= 1.0 else 'NOT met'} ({ours:.3f} s)")

    targets = {"24h": (10.0, 700.0), "7d": (90.0, 700.0)}  # seconds, peak MB
    for which in [] if args.no_24h else args.long:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            base = build_long(which, Path(data_dir), Path(tmp))
            print(f"built the {which} record in {time.perf_counter() - t0:.1f} s (not timed below)", flush=True)
            r = measure("ours_long", [str(base)], str(data_dir))
        secs, hours = r["times"][0], r.get("duration_h") or LONG[which][0]
        res = {
            "seconds": secs,
            "beats": r["beats"][0],
            "peak_rss_mb": r["maxrss_mb"],
            "duration_h": hours,
            "leads": 2 if LONG[which][1] == "two" else 1,
            "s_per_hour": secs / hours,
        }
        line = (
            f"{which:>4} record ({res['leads']} lead{'s' if res['leads'] > 1 else ''}): {secs:.1f} s end to end "
            f"(read + score + summary), {secs / hours:.2f} s per hour of recording, {r['beats'][0]:,} beats, "
            f"peak RSS {r['maxrss_mb']:.0f} MB"
        )
        if "ours" in results and res["leads"] == 2:
            res["vs_30min_records"] = res["s_per_hour"] / (2 * results["ours"]["median_s_per_record"])
            line += f"; {res['vs_30min_records']:.2f}x the per-hour time of the 30-min records"
        if which in targets:
            t_max, mb_max = targets[which]
            ok = secs <= t_max and r["maxrss_mb"] <= mb_max
            line += f"; target <= {t_max:g} s and <= {mb_max:g} MB: {'met' if ok else 'NOT met'}"
        print(line, flush=True)
        results[f"ours_{which}"] = res
    if args.json:
        write_json(args.json, {"command": command_line(), "records": args.records, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
