"""Beat counts per AAMI class for DS1 and DS2, against de Chazal et al. 2004, Table I.

python scripts/dataset_stats.py [--data-dir DIR] [--json PATH] [--no-cache]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, default_mitdb_dir, write_json  # noqa: E402

from ecg.datasets import DE_CHAZAL_COUNTS, DS1, DS2, build_beat_dataset  # noqa: E402
from ecg.labels import AAMI_CLASSES  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=None, help="MIT-BIH directory (default: see _common.py)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    ap.add_argument("--no-cache", action="store_true", help="rebuild instead of using data/cache")
    args = ap.parse_args(argv)
    data_dir = args.data_dir or default_mitdb_dir()
    print(f"# {command_line()}")
    print(f"# data: {data_dir}")

    t0 = time.perf_counter()
    ds = build_beat_dataset(DS1 + DS2, data_dir, cache_dir=None if args.no_cache else "data/cache")
    seconds = time.perf_counter() - t0
    print(
        f"# built {len(ds)} beats from {len(DS1) + len(DS2)} records in {seconds:.1f} s"
        f" ({'no cache' if args.no_cache else 'cache allowed'})\n"
    )

    out: dict = {"command": command_line(), "seconds": seconds, "splits": {}}
    header = f"{'split':5} {'class':5} {'ours':>8} {'deChazal':>9} {'diff':>6} {'diff %':>7}"
    print(header)
    print("-" * len(header))
    for split, recs in (("DS1", DS1), ("DS2", DS2)):
        counts = ds.subset(ds.records_mask(recs)).class_counts()
        dropped = {k: sum(ds.dropped[r].get(k, 0) for r in recs) for k in ("edge", "gap", "duplicate")}
        rows = {}
        for c in AAMI_CLASSES:
            ref = DE_CHAZAL_COUNTS[split][c]
            diff = counts[c] - ref
            pct = 100.0 * diff / ref if ref else 0.0
            rows[c] = {"ours": counts[c], "de_chazal": ref, "diff": diff, "diff_pct": pct}
            flag = "  <-- over 1%" if abs(pct) > 1.0 else ""
            print(f"{split:5} {c:5} {counts[c]:8d} {ref:9d} {diff:+6d} {pct:+6.2f}%{flag}")
        print(f"{split:5} dropped beats: {dropped}")
        out["splits"][split] = {"classes": rows, "dropped": dropped, "total": int(sum(counts.values()))}
    print(
        "\nBeats are dropped when their 700 ms window runs past the record's start or end ('edge'),\n"
        "or touches a NaN/flat gap ('gap'); this explains the small N deficits."
    )
    if args.json:
        write_json(args.json, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
