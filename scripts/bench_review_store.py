"""Review store write speed: one bulk (family) decision on N beats against the peer, N single
decisions (one transaction and fsync each, as the dashboard saves a reviewed beat), both into
a fresh database in the same folder, in the same run. Target: a 5,000-beat bulk decision
saved in well under 1 s. Also times reading the effective decisions back
(``latest_decisions``) and undoing the bulk action.

    python scripts/bench_review_store.py [--beats 5000] [--repeats 3] [--dir DIR] [--json PATH]

``--dir`` chooses the filesystem (default: a temporary folder); fsync cost depends on it.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import command_line, write_json  # noqa: E402

TARGET_S = 1.0


def measure(folder: Path, n: int, repeat: int) -> dict[str, float]:
    """Seconds of each operation on fresh databases in ``folder``."""
    import numpy as np

    from ecg.review.store import ReviewStore

    samples = np.arange(n, dtype=np.int64) * 300 + 150
    labels = np.where(np.arange(n) % 7 == 0, "V", "N").astype(object)
    out: dict[str, float] = {}
    with ReviewStore(folder / f"bulk{repeat}.db") as store:
        t0 = time.perf_counter()
        bid = store.record_bulk_decision("rec", samples, labels, "bench", "relabel", "S", family=2, comment="bench")
        out["bulk_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        latest = store.latest_decisions("rec")
        out["latest_s"] = time.perf_counter() - t0
        assert len(latest) == n
        t0 = time.perf_counter()
        store.undo_bulk(bid, "bench")
        out["undo_s"] = time.perf_counter() - t0
    with ReviewStore(folder / f"single{repeat}.db") as store:
        t0 = time.perf_counter()
        for s, m in zip(samples.tolist(), labels.tolist()):
            store.record_decision("rec", s, "bench", m, "relabel", new_label="S", comment="bench")
        out["single_s"] = time.perf_counter() - t0
        assert store.count("rec") == n
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beats", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="folder for the databases (default: a temporary one)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-review-", dir=args.dir) as td:
        runs = [measure(Path(td), args.beats, r) for r in range(args.repeats)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    ratio = med["single_s"] / med["bulk_s"]
    print(f"{args.beats:,} beats, median of {args.repeats} runs ({platform.node()}, {platform.python_version()}):")
    print(f"  bulk decision (one transaction):    {med['bulk_s'] * 1000:9.1f} ms  (target < {TARGET_S:g} s)")
    print(f"  single decisions (peer, one each):  {med['single_s'] * 1000:9.1f} ms")
    print(f"  ratio single / bulk:                {ratio:9.1f} x")
    print(f"  latest_decisions read-back:         {med['latest_s'] * 1000:9.1f} ms")
    print(f"  undo_bulk:                          {med['undo_s'] * 1000:9.1f} ms")
    met = med["bulk_s"] < TARGET_S
    print(f"  target met: {'yes' if met else 'NO'}")
    if args.json:
        write_json(
            args.json,
            {"command": command_line(), "beats": args.beats, "runs": runs, "median": med, "ratio": ratio, "met": met},
        )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
