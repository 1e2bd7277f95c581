"""Scoring on a Dask cluster: same outputs as a local run, per-record failures (a task that
raises, a worker that dies), an unreachable scheduler, and ``score_batch(scheduler=...)``."""

from __future__ import annotations

import inspect
import json
import os
import time
from pathlib import Path

import dask
import pandas as pd
import pytest
import torch

from ecg.errors import ECGError
from ecg.scoring.batch import RecordInput, RecordOutcome, output_paths, score_batch, score_one
from ecg.scoring.distributed import run_on_cluster, start_local_cluster

pytestmark = pytest.mark.slow

OPTIONS = {"threshold": None, "lead": None}
FORMATS = ("csv", "json")


def _demo(demo_dir: Path, *names: str) -> list[RecordInput]:
    return [RecordInput(name=n, path=str(demo_dir / n)) for n in names]


@pytest.fixture()
def one_torch_thread(monkeypatch: pytest.MonkeyPatch):
    """PyTorch on one thread here, as on the workers (also for ``score_batch``, through
    ``ECG_TORCH_THREADS``): the anomaly scores' last digits depend on how many threads share a
    matrix product, so only equal thread counts give byte-equal files."""
    monkeypatch.setenv("ECG_TORCH_THREADS", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_local_cluster_scores_like_a_local_run(tmp_path: Path, demo_dir: Path, one_torch_thread: None) -> None:
    records = [*_demo(demo_dir, "119", "208"), RecordInput(name="gone", path=str(tmp_path / "gone"))]
    out, ref = tmp_path / "cluster", tmp_path / "local"
    outcomes: list[RecordOutcome] = []
    run_on_cluster(score_one, records, (out, None, OPTIONS, FORMATS), "local", outcomes.append, workers=2)

    by_name = {o.name: o for o in outcomes}
    assert len(outcomes) == 3 and set(by_name) == {"119", "208", "gone"}
    assert by_name["gone"].status == "failed"
    assert "gone.hea" in by_name["gone"].error and "not found" in by_name["gone"].error
    assert not (out / "gone" / "gone_manifest.json").exists()
    for name in ("119", "208"):
        assert by_name[name].status == "scored", by_name[name].error
        local = score_one(RecordInput(name=name, path=str(demo_dir / name)), ref, None, OPTIONS, FORMATS)
        assert local.status == "scored"
        got, want = output_paths(out, name), output_paths(ref, name)
        for key in ("csv", "json", "manifest"):
            assert got[key].is_file(), (name, key)
        assert got["csv"].read_text() == want["csv"].read_text()  # every column, byte for byte
        assert json.loads(got["json"].read_text()) == json.loads(want["json"].read_text())
        # The index row equals the local one but for the wall-clock "seconds".
        drop = lambda row: {k: v for k, v in row.items() if k != "seconds"}  # noqa: E731
        assert drop(by_name[name].row) == drop(local.row)
        assert by_name[name].row["beats"] == len(pd.read_csv(got["csv"])) > 1000


# Task functions run on the workers (pickled by reference: this module is importable there,
# since a local cluster's worker processes start with this process's sys.path).


def _threads_or_raise(rec: RecordInput) -> RecordOutcome:
    if rec.name == "bad":
        raise ZeroDivisionError("division by zero in a worker")
    return RecordOutcome(rec.name, "scored", row={"torch_threads": torch.get_num_threads(), "pid": os.getpid()})


def _die_or_return(rec: RecordInput) -> RecordOutcome:
    if rec.name == "dies":
        os._exit(3)
    return RecordOutcome(rec.name, "scored")


@pytest.fixture(scope="module")
def cluster_address():
    """A running two-worker cluster, reached through its address like a remote one; a task is
    allowed to kill a worker once (not Dask's default of 3 retries) so that test is quick, and each
    worker is sent one task at a time so a dying worker takes no queued task down with it."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 0, "distributed.scheduler.worker-saturation": 1.0}):
        cluster = start_local_cluster(2)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_a_task_that_raises_fails_alone(cluster_address: str) -> None:
    recs = [RecordInput(name=n, path=f"/nowhere/{n}") for n in ("a", "bad", "b", "c")]
    outcomes: list[RecordOutcome] = []
    lines: list[str] = []
    run_on_cluster(_threads_or_raise, recs, (), cluster_address, outcomes.append, echo=lines.append)
    by_name = {o.name: o for o in outcomes}
    assert sorted(by_name) == ["a", "b", "bad", "c"]
    bad = by_name["bad"]
    assert bad.status == "failed"
    assert bad.error.startswith("/nowhere/bad: ZeroDivisionError on the cluster: division by zero in a worker")
    assert "test_distributed.py" in bad.error  # where it was raised
    for n in ("a", "b", "c"):
        assert by_name[n].status == "scored"
        assert by_name[n].row["torch_threads"] == 1  # one PyTorch thread per Dask thread
        assert by_name[n].row["pid"] != os.getpid()  # ran in a worker process
    assert len(lines) == 1 and "2 workers, 2 threads" in lines[0] and cluster_address in lines[0]


def test_a_worker_that_dies_fails_its_record_only(cluster_address: str) -> None:
    recs = [RecordInput(name=n, path=f"/nowhere/{n}") for n in ("x", "dies", "y")]
    outcomes: list[RecordOutcome] = []
    run_on_cluster(_die_or_return, recs, (), cluster_address, outcomes.append)
    by_name = {o.name: o for o in outcomes}
    assert by_name["x"].status == by_name["y"].status == "scored"
    assert by_name["dies"].status == "failed"
    assert "its worker died on the cluster" in by_name["dies"].error


def test_unreachable_scheduler_is_a_clear_error() -> None:
    rec = [RecordInput(name="119", path="data/119")]
    t0 = time.perf_counter()
    with pytest.raises(ECGError, match=r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:1' within 2 s"):
        run_on_cluster(score_one, rec, (), "tcp://127.0.0.1:1", print, connect_timeout_s=2)
    assert time.perf_counter() - t0 < 8
    with pytest.raises(ECGError, match="cannot reach the Dask scheduler at 'nosuch://x:1'"):
        run_on_cluster(score_one, rec, (), "nosuch://x:1", print, connect_timeout_s=2)
    with pytest.raises(ECGError, match="--workers applies to --scheduler local only"):
        run_on_cluster(score_one, rec, (), "tcp://127.0.0.1:1", print, workers=2)
    with pytest.raises(ECGError, match="--workers must be at least 1"):
        run_on_cluster(score_one, rec, (), "local", print, workers=0)


def test_nothing_to_do_starts_no_cluster() -> None:
    seen: list[RecordOutcome] = []
    run_on_cluster(score_one, [], (), "tcp://127.0.0.1:1", seen.append)  # would raise if it connected
    assert seen == []


@pytest.mark.skipif(
    "scheduler" not in inspect.signature(score_batch).parameters, reason="score_batch has no scheduler keyword yet"
)
def test_score_batch_on_a_cluster_matches_a_local_run_and_resumes(
    tmp_path: Path, demo_dir: Path, one_torch_thread: None
) -> None:
    inputs = [str(demo_dir / "119"), str(demo_dir / "208")]
    ref = score_batch(inputs, tmp_path / "local", formats=FORMATS, progress=False)
    out = tmp_path / "cluster"
    res = score_batch(inputs, out, formats=FORMATS, progress=False, scheduler="local", workers=2)
    assert [(o.name, o.status) for o in res] == [("119", "scored"), ("208", "scored")]
    for name in ("119", "208"):
        got, want = output_paths(out, name), output_paths(tmp_path / "local", name)
        assert got["csv"].read_text() == want["csv"].read_text()
        assert got["json"].read_text() == want["json"].read_text()
        assert got["manifest"].is_file()
    index, ref_index = (pd.read_csv(d / "index.csv").drop(columns="seconds") for d in (out, tmp_path / "local"))
    pd.testing.assert_frame_equal(index, ref_index)
    assert [o.row["beats"] for o in res] == [o.row["beats"] for o in ref]

    again = score_batch(inputs, out, formats=FORMATS, progress=False, scheduler="local", workers=2)
    assert [o.status for o in again] == ["skipped", "skipped"]
    assert [o.row["beats"] for o in again] == [o.row["beats"] for o in ref]
