"""Streamed vs batch scoring: do :class:`ecg.stream.StreamScorer`'s beats agree with
:func:`ecg.score_record`'s, per record and pooled?

For each record the batch scorer scores the whole record; the streaming scorer is fed the
first ``--seconds`` of it (default: all) in blocks of ``--block-s`` and flushed. Beats inside
``[--edge-s, streamed span - --edge-s]`` are compared (:func:`ecg.stream.agreement.compare_beats`):
a batch beat agrees when a streamed beat lies within 150 ms of it with the same class. The
latency of each streamed beat (stream time when scored minus its R peak) is summarised too.

This compares two of our own scorers on DS2 (no model or parameter is chosen from it), but it
does read the DS2 records.

    python scripts/evaluate_stream.py [--records 100 103 ...] [--seconds 600] [--block-s 1]
                                      [--bundle production] [--json reports/stream_agreement.json]
    python scripts/evaluate_stream.py --merge part1.json part2.json --json reports/stream_agreement.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, default_mitdb_dir, write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _latency(lat: np.ndarray) -> dict:
    if not lat.size:
        return {}
    return {"median": float(np.median(lat)), "p99": float(np.percentile(lat, 99)), "max": float(lat.max())}


def _latency_counts(lat: np.ndarray) -> list[int]:
    """Latencies as counts in 10-ms bins (bin i: [10 i, 10 i + 10) ms), so runs can be pooled."""
    return np.bincount(np.floor(np.maximum(lat, 0.0) * 100).astype(np.int64)).tolist() if lat.size else []


def _pooled_latency(counts: list[list[int]]) -> dict:
    """Median, 99th percentile and maximum (upper bin edges, s) of pooled 10-ms latency counts."""
    size = max((len(c) for c in counts), default=0)
    total = np.zeros(size, np.int64)
    for c in counts:
        total[: len(c)] += np.asarray(c, np.int64)
    if not total.sum():
        return {}
    cum = np.cumsum(total) / total.sum()
    edge = lambda q: float((np.searchsorted(cum, q) + 1) / 100)  # noqa: E731
    return {"median": edge(0.5), "p99": edge(0.99), "max": float(np.flatnonzero(total)[-1] + 1) / 100}


def _write(path: Path, bundle_version: str, settings: dict, per_record: dict[str, dict]) -> None:
    """Pool the per-record rows and write the report (atomically)."""
    keys = ("n_batch", "n_stream", "agreeing", "missed", "extra", "matched")
    pooled = {k: int(sum(r[k] for r in per_record.values())) for k in keys}
    changes: dict[str, int] = {}
    for r in per_record.values():
        for k, v in r["class_changes"].items():
            changes[k] = changes.get(k, 0) + v
    total = {
        **pooled,
        "records": len(per_record),
        "agreement": pooled["agreeing"] / pooled["n_batch"] if pooled["n_batch"] else float("nan"),
        "agreement_union": pooled["agreeing"] / (pooled["n_batch"] + pooled["extra"])
        if pooled["n_batch"] + pooled["extra"]
        else float("nan"),
        "class_changes": dict(sorted(changes.items())),
        "latency_s": _pooled_latency([r["latency_counts_10ms"] for r in per_record.values()]),
        "records_below_99pct": sorted(k for k, v in per_record.items() if v["agreement"] < 0.99),
    }
    write_json(
        path,
        {
            "command": command_line(),
            "what": "streamed (ecg.stream.StreamScorer) vs batch (ecg.score_record) beats: a batch beat agrees "
            "when a streamed beat lies within 150 ms with the same pred_class; beats within edge_s of the "
            "streamed span's ends are left out. Reads DS2; compares two of our scorers, chooses nothing.",
            "bundle": bundle_version,
            "config": settings,
            "target": "agreement >= 0.99",
            "pooled": total,
            "records": per_record,
            "timings_loaded": "taken on a shared 2-core machine with other jobs running",
        },
    )


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("ECG_TORCH_THREADS", "1")
    import pandas as pd
    import torch

    from ecg.datasets.splits import DS2
    from ecg.io.records import load_record
    from ecg.models.bundle import load_bundle
    from ecg.scoring.score import score_record
    from ecg.stream import StreamConfig, StreamScorer
    from ecg.stream.agreement import compare_beats

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", nargs="+", default=list(DS2))
    p.add_argument("--data-dir", type=Path, default=default_mitdb_dir())
    p.add_argument("--seconds", type=float, default=None, help="stream only the first SECONDS of each record")
    p.add_argument("--block-s", type=float, default=1.0, help="block size fed to the stream, s")
    p.add_argument("--edge-s", type=float, default=10.0, help="seconds left out at each end of the streamed span")
    p.add_argument("--hop-s", type=float, default=StreamConfig.hop_s)
    p.add_argument("--bundle", default=None, help="model bundle (default: the shipped production bundle)")
    p.add_argument("--json", type=Path, default=REPO / "reports" / "stream_agreement.json")
    p.add_argument("--merge", nargs="+", type=Path, default=None, help="pool the records of earlier runs' JSON files")
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    config = StreamConfig(hop_s=args.hop_s)
    settings = {**config.__dict__, "block_s": args.block_s, "edge_s": args.edge_s, "seconds": args.seconds}
    if args.merge:
        parts = [json.loads(Path(f).read_text()) for f in args.merge]
        per_record = {k: v for part in parts for k, v in part["records"].items()}
        _write(args.json, parts[0]["bundle"], parts[0]["config"], per_record)
        print(f"wrote {args.json}")
        return 0
    bundle = load_bundle(args.bundle)
    per_record: dict[str, dict] = {}
    for name in args.records:
        rec = load_record(name, args.data_dir)
        n = rec.n_samples if args.seconds is None else min(rec.n_samples, int(round(args.seconds * rec.fs)))
        t0 = time.perf_counter()
        batch = score_record(rec, bundle, summary=False).beats
        t_batch = time.perf_counter() - t0
        scorer = StreamScorer(bundle, rec.fs, rec.lead_names, config=config)
        block = max(1, int(round(args.block_s * rec.fs)))
        t0 = time.perf_counter()
        parts = [scorer.push(rec.signal[i : min(n, i + block)]) for i in range(0, n, block)]
        parts.append(scorer.flush())
        t_stream = time.perf_counter() - t0
        stream = pd.concat([q for q in parts if len(q)], ignore_index=True)
        end_s = n / rec.fs - args.edge_s
        a = compare_beats(batch, stream, rec.fs, args.edge_s, end_s)
        inner = stream[(stream["time_s"] >= args.edge_s) & (stream["time_s"] <= end_s)]
        lat = (inner["emitted_s"] - inner["time_s"]).to_numpy(float)
        row = a.to_dict()
        row.update(
            streamed_s=n / rec.fs,
            batch_seconds=round(t_batch, 3),
            stream_seconds=round(t_stream, 3),
            latency_s=_latency(lat),
            latency_counts_10ms=_latency_counts(lat),
            buffer_bytes=scorer.buffer_bytes(),
        )
        per_record[name] = row
        print(
            f"{name}: agreement {a.agreement:.4f} (union {a.agreement_union:.4f}) batch {a.n_batch} stream {a.n_stream} "
            f"missed {a.missed} extra {a.extra} class {a.matched - a.agreeing} {a.class_changes} af {a.af_agreement:.3f} "
            f"latency median {row['latency_s'].get('median', float('nan')):.2f}s stream {t_stream:.0f}s",
            flush=True,
        )
        _write(args.json, bundle.version, settings, per_record)  # after each record: a partial run leaves its rows
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
