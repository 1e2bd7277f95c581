"""Latency and throughput of streaming scoring, with batch scoring of the same signal as the peer.

On one core (``torch.set_num_threads(1)``) and the same signal, measured in one run:

* batch: :func:`ecg.score_record` on the record (its first ``--seconds``), end to end;
* stream, real time: :class:`ecg.stream.StreamScorer` fed the same samples in ``--block-s``
  blocks (default 0.1 s, shorter than a processing step: one step per ``hop_s``, as live) and
  flushed;
* stream, replay: the same in ``--replay-block-s`` blocks (default 10 s): the grid steps a block
  leaves pending run together on one window (catch-up), as when a file is replayed or a backlog
  arrives after a pause.

The replayed beats are compared with the real-time ones and both with batch's
(:func:`ecg.stream.agreement.compare_beats`, beats of the first and last ``--warmup-s`` left out).

Throughput is seconds of signal per second of processing ("x real time"), from wall-clock and
from the process's CPU time (less sensitive to other jobs on the machine); the peer ratio is
stream throughput / batch throughput. Latency of a beat is stream time when it was scored minus
its R peak's time (samples fed so far minus the peak's sample, in s), median and 99th
percentile, beats of the first ``--warmup-s`` seconds left out (detector start-up). Targets:
latency <= 1.5 s, stream >= 500x real time (judged on the replay: in live use the signal
arrives at 1x). Latency is in stream time, so the same whatever the processing speed.

``--sweep`` repeats the stream on the first ``--sweep-seconds`` for other ``hop_s`` values:
the processing step trades latency for throughput.

    python scripts/bench_stream.py [--records 100] [--seconds 600] [--block-s 0.1] [--replay-block-s 10]
                                   [--sweep 0.5 1 2 5 10] [--json reports/bench_stream.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LATENCY_TARGET_S = 1.5
THROUGHPUT_TARGET = 500.0


def _stream(bundle, rec, n: int, block_s: float, hop_s: float, warmup_s: float) -> tuple[dict, object]:
    """One streamed run: its numbers, and its beats (a DataFrame)."""
    import pandas as pd

    from ecg.stream import StreamConfig, StreamScorer

    config = StreamConfig(hop_s=hop_s, window_s=max(StreamConfig.window_s, hop_s + 8.0))
    scorer = StreamScorer(bundle, rec.fs, rec.lead_names, config=config)
    block = max(1, int(round(block_s * rec.fs)))
    w0, c0 = time.perf_counter(), time.process_time()
    parts = [scorer.push(rec.signal[i : min(n, i + block)]) for i in range(0, n, block)]
    parts.append(scorer.flush())
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    beats = pd.concat([p for p in parts if len(p)], ignore_index=True)
    live = beats[beats["time_s"] >= warmup_s]
    lat = (live["emitted_s"] - live["time_s"]).to_numpy(float)
    dur = n / rec.fs
    return {
        "block_s": block_s,
        "hop_s": hop_s,
        "window_s": config.window_s,
        "signal_s": dur,
        "beats": int(len(beats)),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "x_real_time_wall": round(dur / wall, 1),
        "x_real_time_cpu": round(dur / cpu, 1),
        "ms_per_signal_s_cpu": round(1000 * cpu / dur, 3),
        "latency_s": {
            "median": round(float(np.median(lat)), 3),
            "p99": round(float(np.percentile(lat, 99)), 3),
            "max": round(float(lat.max()), 3),
        }
        if lat.size
        else {},
        "buffer_bytes": scorer.buffer_bytes(),
    }, beats


def _agreement(ref, test, fs: float, start_s: float, end_s: float) -> dict:
    from ecg.stream.agreement import compare_beats

    a = compare_beats(ref, test, fs, start_s, end_s)
    keys = ("n_batch", "n_stream", "agreeing", "missed", "extra", "agreement", "agreement_union", "class_changes")
    out = {k: getattr(a, k) for k in keys}
    return out | {"score_abs_diff": {k: round(v, 3) for k, v in a.score_abs_diff.items()}}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("ECG_TORCH_THREADS", "1")
    import torch

    from ecg.io.records import load_record
    from ecg.models.bundle import load_bundle
    from ecg.scoring.score import score_record
    from ecg.stream import StreamConfig

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", nargs="+", default=["100"])
    p.add_argument("--data-dir", type=Path, default=REPO / "data")
    p.add_argument("--seconds", type=float, default=None, help="only the first SECONDS of each record (default: all)")
    p.add_argument("--block-s", type=float, default=0.1, help="real-time block (s)")
    p.add_argument("--replay-block-s", type=float, default=10.0, help="replay block (s)")
    p.add_argument("--warmup-s", type=float, default=10.0)
    p.add_argument("--sweep", nargs="*", type=float, default=[1.0, 2.0, 5.0, 10.0], help="other hop_s values")
    p.add_argument("--sweep-seconds", type=float, default=300.0)
    p.add_argument("--bundle", default=None)
    p.add_argument("--json", type=Path, default=REPO / "reports" / "bench_stream.json")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    bundle = load_bundle(args.bundle)

    rows = {}
    for name in args.records:
        rec = load_record(name, args.data_dir)
        if args.seconds is not None:
            rec = load_record(name, args.data_dir, sampto=min(rec.n_samples, int(round(args.seconds * rec.fs))))
        n = rec.n_samples
        dur = n / rec.fs
        w0, c0 = time.perf_counter(), time.process_time()
        batch_beats = score_record(rec, bundle).beats
        b_wall, b_cpu = time.perf_counter() - w0, time.process_time() - c0
        live, live_beats = _stream(bundle, rec, n, args.block_s, StreamConfig.hop_s, args.warmup_s)
        replay, replay_beats = _stream(bundle, rec, n, args.replay_block_s, StreamConfig.hop_s, args.warmup_s)
        batch = {
            "wall_s": round(b_wall, 3),
            "cpu_s": round(b_cpu, 3),
            "x_real_time_wall": round(dur / b_wall, 1),
            "x_real_time_cpu": round(dur / b_cpu, 1),
        }
        span = (args.warmup_s, dur - args.warmup_s)
        agreement = {
            "replay_vs_real_time": _agreement(live_beats, replay_beats, rec.fs, *span),
            "real_time_vs_batch": _agreement(batch_beats, live_beats, rec.fs, *span),
            "replay_vs_batch": _agreement(batch_beats, replay_beats, rec.fs, *span),
        }
        print(f"record {name}: {dur:.0f} s of signal, {live['beats']} beats")
        print(f"  batch  score_record: {b_wall:.2f} s wall, {b_cpu:.2f} s CPU = {dur / b_cpu:.0f}x real time (CPU)")
        for label, run in (("real time", live), ("replay", replay)):
            lat = run["latency_s"]
            print(
                f"  stream {label} ({run['block_s']:g} s blocks): {run['wall_s']:.2f} s wall, {run['cpu_s']:.2f} s CPU "
                f"= {run['x_real_time_cpu']:.0f}x real time (CPU), {run['ms_per_signal_s_cpu']:.2f} ms CPU per signal "
                f"second; {run['x_real_time_cpu'] / batch['x_real_time_cpu']:.3f} x batch throughput; latency "
                f"median {lat['median']:.2f} s, p99 {lat['p99']:.2f} s, max {lat['max']:.2f} s",
                flush=True,
            )
        for k, v in agreement.items():
            print(f"  agreement {k}: {v['agreement']:.4f} (union {v['agreement_union']:.4f}) {v['class_changes']}")
        m = min(n, int(round(args.sweep_seconds * rec.fs)))
        sweep = [_stream(bundle, rec, m, args.block_s, hop, args.warmup_s)[0] for hop in args.sweep]
        rows[name] = {
            "batch": batch,
            "stream": live,
            "stream_replay": replay,
            "stream_over_batch_throughput_cpu": round(live["x_real_time_cpu"] / batch["x_real_time_cpu"], 4),
            "replay_over_batch_throughput_cpu": round(replay["x_real_time_cpu"] / batch["x_real_time_cpu"], 4),
            "agreement": agreement,
            "sweep": sweep,
        }
        for s in sweep:
            print(
                f"  sweep hop {s['hop_s']:>4} s ({s['signal_s']:.0f} s): {s['x_real_time_cpu']:.0f}x real time (CPU), "
                f"latency median {s['latency_s']['median']:.2f} s, p99 {s['latency_s']['p99']:.2f} s",
                flush=True,
            )
    first = rows[args.records[0]]
    write_json(
        args.json,
        {
            "command": command_line(),
            "bundle": bundle.version,
            "threads": 1,
            "machine": "shared 2-core machine with other jobs running: wall times are loaded; CPU times less so",
            "targets": {"latency_s": LATENCY_TARGET_S, "x_real_time": THROUGHPUT_TARGET},
            "met": {
                "latency_median": first["stream"]["latency_s"]["median"] <= LATENCY_TARGET_S,
                "latency_p99": first["stream"]["latency_s"]["p99"] <= LATENCY_TARGET_S,
                "throughput_replay": first["stream_replay"]["x_real_time_cpu"] >= THROUGHPUT_TARGET,
                "throughput_real_time_blocks": first["stream"]["x_real_time_cpu"] >= THROUGHPUT_TARGET,
            },
            "records": rows,
        },
    )
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
