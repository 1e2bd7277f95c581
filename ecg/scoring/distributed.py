"""Scoring records on a Dask distributed cluster (``ecg score --scheduler``).

:func:`run_on_cluster` submits one task per record to a Dask cluster (a local one started
for the run, or an existing one at a scheduler address) and hands each record's outcome to
a callback in the calling process as it completes. Dask does the scheduling, load balancing
and worker-failure handling; this module only maps records to tasks and task failures to
failed :class:`~ecg.scoring.batch.RecordOutcome` values.

The tasks write their outputs on the workers, so on a multi-machine cluster the inputs, the
output folder and the model bundle file must be visible at the same paths on every worker
(a shared filesystem), and every worker must have the same version of this package
installed. A local cluster (``scheduler="local"``) shares this machine's filesystem.

Each worker runs PyTorch with one intra-op thread, so a worker with ``n`` Dask threads runs at
most ``n`` inference threads; start workers with ``--nthreads 1`` and as many worker
processes as cores.

``dask.distributed`` is imported here at module level; :mod:`ecg.scoring.batch` imports this
module only when a scheduler is asked for, so plain ``ecg score`` does not pay for Dask.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

import torch
from dask.distributed import Client, Future, KilledWorker, LocalCluster, as_completed

from ecg.errors import ECGError
from ecg.scoring.outcomes import RecordInput, RecordOutcome, available_cores

#: The ``scheduler`` value that starts a cluster of worker processes on this machine.
LOCAL = "local"
#: Seconds to wait for an existing scheduler to answer before giving up.
CONNECT_TIMEOUT_S = 10.0


def start_local_cluster(workers: int | None = None) -> LocalCluster:
    """A Dask cluster on this machine: ``workers`` worker processes (default: one per available
    core), one thread each, Dask's INFO logging silenced and the dashboard on a free port."""
    n = available_cores() if workers is None else int(workers)
    if n < 1:
        raise ECGError(f"--workers must be at least 1, got {n}")
    try:
        return LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, silence_logs=logging.ERROR, dashboard_address=":0"
        )
    except Exception as exc:  # ports, memory, a worker that cannot start: say so, without Dask's traceback
        raise ECGError(f"cannot start a local Dask cluster of {n} workers: {type(exc).__name__}: {exc}") from exc


def connect(
    scheduler: str, workers: int | None = None, *, timeout_s: float = CONNECT_TIMEOUT_S
) -> tuple[Client, LocalCluster | None]:
    """A client for ``scheduler``: ``"local"`` starts a local cluster (returned too, for the caller
    to close); a path ending in ``.json`` is a Dask scheduler file; anything else is a scheduler
    address such as ``tcp://host:8786``. Raises :class:`ECGError` when the scheduler does not
    answer within ``timeout_s`` seconds or the address is malformed."""
    if scheduler == LOCAL:
        cluster = start_local_cluster(workers)
        try:
            return Client(cluster, timeout=timeout_s), cluster
        except Exception as exc:
            cluster.close()
            raise ECGError(f"cannot connect to the local Dask cluster: {type(exc).__name__}: {exc}") from exc
    if workers is not None:
        raise ECGError(
            f"--workers applies to --scheduler local only; the cluster at {scheduler} has the workers "
            "it was started with"
        )
    target = {"scheduler_file": scheduler} if scheduler.endswith(".json") else {"address": scheduler}
    try:
        return Client(**target, timeout=timeout_s), None
    except Exception as exc:  # OSError / TimeoutError when unreachable, ValueError for a bad address
        raise ECGError(
            f"cannot reach the Dask scheduler at {scheduler!r} within {timeout_s:g} s: {type(exc).__name__}: {exc}"
        ) from exc


def describe(client: Client) -> str:
    """One line about the cluster: scheduler, workers, threads and the dashboard link."""
    nthreads = client.nthreads()
    line = f"Dask cluster at {client.scheduler.address}: {len(nthreads)} workers, {sum(nthreads.values())} threads"
    try:
        link = client.dashboard_link
    except Exception:  # no dashboard (bokeh not installed, or disabled)
        link = None
    if link:
        line += f"; dashboard {link}"
    if not nthreads:
        line += "; no workers yet: records wait until workers join"
    return line


def _run_record(fn: Callable[..., RecordOutcome], rec: RecordInput, args: tuple) -> RecordOutcome:
    """The task run on a worker: cap PyTorch at one thread per Dask thread, then ``fn(rec, *args)``."""
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    return fn(rec, *args)


def _failure(rec: RecordInput, exc: BaseException) -> RecordOutcome:
    """The failed outcome of a task that raised, was cancelled or whose workers died."""
    if isinstance(exc, KilledWorker):
        what = f"its worker died on the cluster: {exc}"
    elif isinstance(exc, CancelledError):  # Dask's FutureCancelledError, e.g. the scheduler went away
        what = f"cancelled on the cluster: {exc}"
    else:
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
        what = f"{type(exc).__name__} on the cluster: {exc}{where}"
    return RecordOutcome(rec.name, "failed", error=f"{rec.label}: {what}")


def run_on_cluster(
    fn: Callable[..., RecordOutcome],
    records: Sequence[RecordInput],
    args: tuple,
    scheduler: str,
    on_result: Callable[[RecordOutcome], None],
    workers: int | None = None,
    *,
    echo: Callable[[str], Any] | None = None,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
) -> None:
    """Run ``fn(rec, *args)`` for every record on a Dask cluster and call ``on_result(outcome)`` here,
    in the calling process, as each record completes (in completion order).

    ``scheduler``: ``"local"`` starts a cluster of ``workers`` processes (default: one per available
    core; one thread each) on this machine for this call and closes it at the end; otherwise a
    scheduler address (``tcp://host:8786``) or scheduler file (``*.json``) of a running cluster,
    which is left running. ``fn`` (e.g. :func:`~ecg.scoring.batch.score_one`) writes its outputs
    on the workers, so the inputs, the output folder and the bundle file named in ``args`` must be
    at the same paths on every worker (a shared filesystem).

    A record whose task raises, is cancelled, or whose workers keep dying (``KilledWorker``) gets a
    ``"failed"`` outcome saying so, and the other records go on. Raises :class:`ECGError` only
    when the cluster cannot be started or reached (within ``connect_timeout_s`` seconds).
    ``echo``, if given, receives one line describing the cluster (with its dashboard link).
    """
    if not records:
        return
    client, cluster = connect(scheduler, workers, timeout_s=connect_timeout_s)
    pending: dict[Future, RecordInput] = {}
    try:
        if echo is not None:
            echo(describe(client))
        run = uuid.uuid4().hex[:12]
        for rec in records:
            # A unique key per record and run: never shared with (or cached from) another run's task.
            fut = client.submit(_run_record, fn, rec, args, key=f"score-{rec.name}-{run}", pure=False)
            pending[fut] = rec
        for fut in as_completed(list(pending)):
            rec = pending.pop(fut)
            try:
                outcome = fut.result()
            except Exception as exc:
                outcome = _failure(rec, exc)
            fut.release()
            on_result(outcome)
    finally:
        for fut in pending:  # interrupted (e.g. Ctrl-C in on_result): drop what is still queued
            fut.cancel()
        client.close()
        if cluster is not None:
            cluster.close()
