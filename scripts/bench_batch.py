"""Batch scoring throughput: ``--jobs 1``, ``--jobs 2`` and a local Dask cluster of 1 and 2
workers, measured in one run on the same records.

Every mode scores the same records with ``score_batch`` into a fresh temporary output folder
(``force``), writing the default output formats (``--formats`` to change). This process first
scores one record itself, so the first mode does not pay the imports and first-call costs
alone. The ``--jobs`` modes start their worker processes inside the timed call, as in real
use. A Dask cluster is started and warmed up (each worker scores one record) outside the timed
call, then ``score_batch`` is pointed at its address: its start-up is reported separately, and
the ratios are given on scoring time with the warm cluster and also with the start-up added.
Target: 2 workers score at least 1.7x as many records per second as 1 worker.

    python scripts/bench_batch.py [--data-dir DIR] [--records 100 103 ...] [--formats csv,json,pdf] [--json PATH]
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, default_mitdb_dir, write_json  # noqa: E402

#: Eight DS2 records (the evaluation half of MIT-BIH), 30 minutes and two leads each.
DEFAULT_RECORDS = ("100", "103", "105", "111", "113", "117", "121", "123")
TARGET_2_WORKERS = 1.7


def warm_up(record_path: str, scratch: str, bundle: str | None, formats: tuple[str, ...]) -> int:
    """Score one record into ``scratch/<pid>`` (imports, bundle, first-call costs); returns the pid.
    Run here and on every Dask worker."""
    from ecg.scoring.batch import RecordInput, score_one

    out = Path(scratch) / str(os.getpid())
    res = score_one(
        RecordInput(name=Path(record_path).name, path=record_path),
        out,
        bundle,
        {"threshold": None, "lead": None},
        formats,
    )
    if res.status != "scored":
        raise RuntimeError(f"warm-up failed: {res.error}")
    return os.getpid()


def run_mode(inputs: list[str], formats: tuple[str, ...], bundle: str | None, **kw) -> tuple[float, list]:
    """Seconds for one ``score_batch`` call into a fresh folder, and its outcomes."""
    from ecg.scoring.batch import score_batch

    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        t0 = time.perf_counter()
        outcomes = score_batch(
            inputs, Path(tmp) / "out", bundle_path=bundle, formats=formats, force=True, progress=False, **kw
        )
        return time.perf_counter() - t0, outcomes


def run_cluster_mode(
    inputs: list[str], formats: tuple[str, ...], bundle: str | None, address: str
) -> tuple[float, list]:
    """As :func:`run_mode` on the cluster at ``address``: through ``score_batch(scheduler=...)``
    when it has that keyword, else :func:`~ecg.scoring.distributed.run_on_cluster` directly."""
    from ecg.scoring.batch import resolve_inputs, score_batch, score_one
    from ecg.scoring.distributed import run_on_cluster

    if "scheduler" in inspect.signature(score_batch).parameters:
        return run_mode(inputs, formats, bundle, scheduler=address)
    outcomes: list = []
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        t0 = time.perf_counter()
        run_on_cluster(
            score_one,
            resolve_inputs(inputs),
            (Path(tmp) / "out", bundle, {"threshold": None, "lead": None}, formats),
            address,
            outcomes.append,
        )
        return time.perf_counter() - t0, outcomes


def start_warm_cluster(workers: int, warm_record: str, bundle: str | None, formats: tuple[str, ...]):
    """A local cluster of ``workers`` one-thread workers, each of which has scored one record."""
    from dask.distributed import Client

    from ecg.scoring.distributed import start_local_cluster

    cluster = start_local_cluster(workers)
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as scratch, Client(cluster) as client:
        client.run(warm_up, warm_record, scratch, bundle, formats)
    return cluster


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--records", nargs="*", default=list(DEFAULT_RECORDS))
    ap.add_argument("--formats", default=None, help="comma-separated output formats (default: those of ecg score, all)")
    ap.add_argument("--bundle", default=None, help="model bundle (default: the production bundle)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    from ecg.scoring.batch import DEFAULT_FORMATS, available_cores

    data_dir = (args.data_dir or default_mitdb_dir()).absolute()
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip()) if args.formats else DEFAULT_FORMATS
    inputs = [str(data_dir / r) for r in args.records]
    print(
        f"# {command_line()}\n# data: {data_dir}; records: {' '.join(args.records)}; formats: {','.join(formats)}; "
        f"cores: {available_cores()}",
        flush=True,
    )

    with tempfile.TemporaryDirectory(prefix="bench-warm-") as scratch:
        t0 = time.perf_counter()
        warm_up(inputs[0], scratch, args.bundle, formats)
        print(f"warm-up in this process (imports, bundle, one record): {time.perf_counter() - t0:.1f} s", flush=True)

    rows: list[dict] = []
    beats: dict[str, dict[str, int]] = {}

    def record(mode: str, workers: int, startup: float | None, seconds: float, outcomes: list) -> None:
        failed = [o for o in outcomes if o.status != "scored"]
        for o in failed:
            print(f"  {mode}: {o.name} {o.status}: {o.error}", flush=True)
        beats[mode] = {o.name: o.row.get("beats") for o in outcomes}
        rows.append(
            {
                "mode": mode,
                "workers": workers,
                "startup_s": startup,
                "scoring_s": seconds,
                "records": len(outcomes),
                "failed": len(failed),
                "records_per_s": len(outcomes) / seconds,
            }
        )
        extra = f" (+ {startup:.1f} s cluster start-up and warm-up)" if startup is not None else ""
        print(f"{mode}: {seconds:.1f} s{extra}", flush=True)

    for jobs in (1, 2):
        seconds, outcomes = run_mode(inputs, formats, args.bundle, jobs=jobs)
        record(f"jobs {jobs}", jobs, None, seconds, outcomes)
    for workers in (1, 2):
        t0 = time.perf_counter()
        cluster = start_warm_cluster(workers, inputs[0], args.bundle, formats)
        startup = time.perf_counter() - t0
        try:
            seconds, outcomes = run_cluster_mode(inputs, formats, args.bundle, cluster.scheduler_address)
        finally:
            cluster.close()
        record(f"dask {workers} worker{'s' if workers > 1 else ''}", workers, startup, seconds, outcomes)

    base = rows[0]["scoring_s"]
    one = next(r for r in rows if r["mode"] == "dask 1 worker")
    for r in rows:
        total = r["scoring_s"] + (r["startup_s"] or 0.0)
        r["vs_jobs_1"] = base / r["scoring_s"]
        r["vs_jobs_1_with_startup"] = base / total
        if r["mode"] == "dask 2 workers":
            r["vs_1_worker"] = one["scoring_s"] / r["scoring_s"]
            r["vs_1_worker_with_startup"] = (one["scoring_s"] + one["startup_s"]) / total

    def ratio(r: dict, key: str) -> str:
        return f"{r[key]:.2f}x" if key in r else "-"

    print(
        f"\n{'mode':<16} {'start-up s':>10} {'scoring s':>9} {'records/s':>9} {'vs jobs 1':>9} "
        f"{'(+start-up)':>11} {'vs 1 worker':>11} {'(+start-up)':>11}"
    )
    for r in rows:
        startup = "-" if r["startup_s"] is None else f"{r['startup_s']:.1f}"
        print(
            f"{r['mode']:<16} {startup:>10} {r['scoring_s']:>9.1f} {r['records_per_s']:>9.2f} "
            f"{ratio(r, 'vs_jobs_1'):>9} {ratio(r, 'vs_jobs_1_with_startup'):>11} {ratio(r, 'vs_1_worker'):>11} "
            f"{ratio(r, 'vs_1_worker_with_startup'):>11}"
        )
    print(
        "(jobs 2 starts its worker processes inside its scoring time; the Dask start-up includes each worker "
        "scoring one record)"
    )
    speedup = rows[-1]["vs_1_worker"]
    met = speedup >= TARGET_2_WORKERS
    print(
        f"target: 2 Dask workers >= {TARGET_2_WORKERS}x one worker (warm): {'met' if met else 'NOT met'} "
        f"({speedup:.2f}x)"
    )
    same = all(b == beats["jobs 1"] for b in beats.values())
    print(f"beat counts per record identical across modes: {'yes' if same else 'NO'}")
    if args.json:
        write_json(
            args.json,
            {
                "command": command_line(),
                "data_dir": str(data_dir),
                "records": args.records,
                "formats": list(formats),
                "cores": available_cores(),
                "results": rows,
                "target_2_workers_vs_1": TARGET_2_WORKERS,
                "target_met": met,
                "beats_identical_across_modes": same,
            },
        )
    return 0 if same and not any(r["failed"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
