"""Batch integrity: record folders swapped in whole, one run per output folder, killed runs,
workers that die with their parent, unwritable output, malformed bundles, the summary's leads,
and the threads each scoring process uses."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest
import torch
import wfdb

import ecg.scoring.batch as batch
from ecg.cli import main
from ecg.errors import ECGError
from ecg.export.tables import read_beat_table
from ecg.io.atomic import make_staging_dir, swap_dir
from ecg.models.bundle import EVALUATION_BUNDLE_PATH, BundleError, _digest, load_bundle
from ecg.scoring.batch import (
    RecordOutcome,
    clean_output_dir,
    exit_when_orphaned,
    is_standard_lead,
    lock_output_dir,
    output_paths,
    score_batch,
    summary_table,
    torch_threads,
    worker_pool,
)
from tests.conftest import DEMO_DIR, REPO

FORMATS = ("csv", "json")
#: ``--lead`` option -> the lead the short records (119, 208) are then analysed on.
LEAD_OF_OPTION = {0: "MLII", 1: "V1"}


@pytest.fixture(scope="module")
def short_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two-minute excerpts of demo records 119 and 208 (leads MLII, V1), and of 232 with its
    leads renamed ``lead0``/``lead1`` (``nolead``): quick to score."""
    d = tmp_path_factory.mktemp("short")
    for src, name, names in (("119", "119", None), ("208", "208", None), ("232", "nolead", ["lead0", "lead1"])):
        r = wfdb.rdrecord(str(DEMO_DIR / src), sampto=120 * 360, physical=False)
        wfdb.wrsamp(
            name,
            fs=r.fs,
            units=r.units,
            sig_name=names or r.sig_name,
            d_signal=r.d_signal,
            fmt=r.fmt,
            adc_gain=r.adc_gain,
            baseline=r.baseline,
            write_dir=str(d),
        )
    return d


def _cli(*args: object) -> list[str]:
    return [sys.executable, "-m", "ecg.cli", *map(str, args)]


def assert_one_run(folder: Path) -> dict:
    """Every file of a record folder comes from the run its manifest describes: the lead the
    manifest's options asked for is the beat table's and the summary's, and the counts agree."""
    name = folder.name
    files = sorted(p.name for p in folder.iterdir())
    assert files == sorted([f"{name}_beats.csv", f"{name}_summary.json", f"{name}_manifest.json"]), files
    manifest = json.loads((folder / f"{name}_manifest.json").read_text())
    want = LEAD_OF_OPTION[manifest["options"]["lead"]]
    beats = read_beat_table(folder / f"{name}_beats.csv")
    summary = json.loads((folder / f"{name}_summary.json").read_text())
    assert set(beats["lead"]) - {""} == {want}, (name, manifest["options"])
    assert summary["recording"]["analysed_leads"] == [want]
    assert manifest["row"]["lead"] == want
    assert manifest["row"]["beats"] == len(beats) == summary["beats"]["total"]
    return manifest


def leftovers(out: Path) -> list[str]:
    """Hidden staging / trash folders and temporary files left in ``out``."""
    found = [p for p in out.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".wrann-")]
    found += [out / d for d in (".staging", ".trash") if (out / d).exists()]
    return [str(p) for p in found]


# ----------------------------------------------------------------------------- folder swaps


def _folder(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def test_swap_dir_replaces_a_folder_as_a_whole(tmp_path: Path) -> None:
    target = _folder(tmp_path / "101", {"a.csv": "old", "b.pdf": "old"})
    staged = make_staging_dir(tmp_path / ".staging", "101")
    assert staged.parent == tmp_path / ".staging" and staged.name.startswith(f"101.{os.getpid()}.")
    _folder(staged, {"a.csv": "new"})
    swap_dir(staged, target, tmp_path / ".trash")
    assert sorted(p.name for p in target.iterdir()) == ["a.csv"] and (target / "a.csv").read_text() == "new"
    assert not staged.exists() and list((tmp_path / ".trash").iterdir()) == []
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask
    # No old folder: the staged one is simply renamed into place.
    fresh = _folder(make_staging_dir(tmp_path / ".staging", "102"), {"x": "1"})
    swap_dir(fresh, tmp_path / "102", tmp_path / ".trash")
    assert (tmp_path / "102" / "x").read_text() == "1"


def test_swap_dir_keeps_the_old_folder_when_the_new_cannot_be_renamed_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _folder(tmp_path / "101", {"a.csv": "old"})
    staged = _folder(make_staging_dir(tmp_path / ".staging", "101"), {"a.csv": "new"})
    real_rename = os.rename

    def rename(src, dst):
        if Path(src) == staged:
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(src))
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="Input/output error"):
        swap_dir(staged, target, tmp_path / ".trash")
    assert (target / "a.csv").read_text() == "old" and list((tmp_path / ".trash").iterdir()) == []


def test_clean_output_dir_after_a_kill(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # Killed between the two renames of 101's swap: 101 is only in the trash.
    _folder(out / ".trash" / "101.4242.abcd_123", {"101_manifest.json": "{}", "101_beats.csv": "old"})
    # Killed while deleting a swapped-out copy of 102: never restored, even with 102 gone.
    _folder(out / ".trash" / "102.4242.zzzz_999.deleting", {"102_beats.csv": "half"})
    # A swapped-out copy of 103 whose new folder is in place: deleted, 103 untouched.
    _folder(out / "103", {"103_beats.csv": "new"})
    _folder(out / ".trash" / "103.4242.qqqq_000", {"103_beats.csv": "old"})
    # An unfinished staging folder, and stale temporary files of atomic writes.
    _folder(out / ".staging" / "104.4242.abcdefgh", {"104_beats.csv": "partial"})
    (out / ".index.csv.k2j4h5g6.tmp").write_text("x")
    (out / "103" / ".103_beats.csv.a1b2c3d4.tmp").write_text("x")
    (out / "103" / "notes.tmp").write_text("not ours")  # not atomic_path's naming: kept

    done = clean_output_dir(out)
    assert done["restored"] == ["101"]
    assert (out / "101" / "101_beats.csv").read_text() == "old"
    assert not (out / "102").exists()
    assert sorted(p.name for p in (out / "103").iterdir()) == ["103_beats.csv", "notes.tmp"]
    assert (out / "103" / "103_beats.csv").read_text() == "new"
    assert not (out / ".trash").exists() and not (out / ".staging").exists()
    assert not (out / ".index.csv.k2j4h5g6.tmp").exists()


# ----------------------------------------------------------------------------- killed runs


def _wait_for_staging(out: Path, proc: subprocess.Popen, timeout_s: float = 180.0) -> bool:
    """True once a record is being written (a staging folder other than the writability probe)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and proc.poll() is None:
        try:
            if any(not n.startswith("probe.") for n in os.listdir(out / ".staging")):
                return True
        except FileNotFoundError:
            pass
        time.sleep(0.005)
    return False


@pytest.mark.slow
def test_killed_runs_leave_every_record_folder_from_one_run(
    short_dir: Path, tmp_path: Path, tiny_bundle_path: Path
) -> None:
    out = tmp_path / "out"
    inputs = [short_dir / "119", short_dir / "208"]
    rng = random.Random(11)
    kills = 0
    for attempt, lead in enumerate((0, 1, 0, 1)):
        proc = subprocess.Popen(
            _cli(
                "score",
                *inputs,
                "--out",
                out,
                "--bundle",
                tiny_bundle_path,
                "--formats",
                ",".join(FORMATS),
                "--quiet",
                "--force",
                "--lead",
                lead,
            ),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            if _wait_for_staging(out, proc):
                time.sleep(rng.uniform(0.0, 0.4) if attempt else 0.0)
                proc.send_signal(signal.SIGKILL)
                kills += 1
        finally:
            proc.kill()
            proc.wait(timeout=60)
        # Right after the kill, every record folder there is is one run's, whole.
        for folder in batch.record_folders(out):
            assert_one_run(folder)
    assert kills >= 3  # the runs were killed while writing, not after they ended

    res = main(
        [
            "score",
            *map(str, inputs),
            "--out",
            str(out),
            "--bundle",
            str(tiny_bundle_path),
            "--formats",
            ",".join(FORMATS),
            "--quiet",
            "--lead",
            "0",
        ]
    )
    assert res == 0
    assert [f.name for f in batch.record_folders(out)] == ["119", "208"]
    for folder in batch.record_folders(out):
        assert assert_one_run(folder)["options"]["lead"] == 0
    assert leftovers(out) == []


def test_a_kill_between_the_two_renames_is_repaired_by_the_next_run(
    short_dir: Path, tmp_path: Path, tiny_bundle_path: Path
) -> None:
    out = tmp_path / "out"
    kw = dict(bundle_path=tiny_bundle_path, formats=FORMATS, progress=False, lead=0)
    assert [o.status for o in score_batch([str(short_dir / "119")], out, **kw)] == ["scored"]
    (out / ".trash").mkdir()
    os.rename(out / "119", out / ".trash" / "119.99999.abcdefgh")  # the old folder moved aside, then killed
    _folder(out / ".staging" / "119.99999.ijklmnop", {"119_beats.csv": "half written"})
    res = score_batch([str(short_dir / "119")], out, **kw)
    assert [o.status for o in res] == ["skipped"]  # put back whole, so still complete
    assert_one_run(out / "119")
    assert leftovers(out) == []


# ----------------------------------------------------------------------------- one run per OUT


def test_a_second_run_on_the_same_out_is_refused(
    short_dir: Path, tmp_path: Path, tiny_bundle_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom ecg.scoring.batch import lock_output_dir\n"
            "with lock_output_dir(sys.argv[1]):\n    print('locked', flush=True)\n"
            "    time.sleep(300)\n",
            str(out),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        info = json.loads((out / ".lock").read_text())
        assert info["pid"] == holder.pid and info["started"]
        rc = main(
            [
                "score",
                str(short_dir / "119"),
                "--out",
                str(out),
                "--bundle",
                str(tiny_bundle_path),
                "--formats",
                "csv",
                "--quiet",
            ]
        )
        err = capsys.readouterr().err
        assert rc == 2
        assert err.startswith(
            f"ecg: error: {out}: another `ecg score` run is writing into this folder (pid {holder.pid} on "
        )
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert batch.record_folders(out) == []
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    # The lock died with its holder: the next run goes ahead.
    rc = main(
        [
            "score",
            str(short_dir / "119"),
            "--out",
            str(out),
            "--bundle",
            str(tiny_bundle_path),
            "--formats",
            "csv",
            "--quiet",
        ]
    )
    assert rc == 0 and output_paths(out, "119")["csv"].is_file()


def test_lock_waits_when_asked(tmp_path: Path) -> None:
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock_output_dir(tmp_path):
            held.set()
            release.wait(30)

    t = threading.Thread(target=hold)
    t.start()
    assert held.wait(30)
    with pytest.raises(ECGError, match=f"pid {os.getpid()} on "):
        with lock_output_dir(tmp_path):
            pass
    messages: list[str] = []
    threading.Timer(0.3, release.set).start()
    t0 = time.monotonic()
    with lock_output_dir(tmp_path, wait=True, on_wait=messages.append):
        waited = time.monotonic() - t0
    t.join(30)
    assert waited >= 0.25
    assert len(messages) == 1 and f"waiting for the run writing into {tmp_path}" in messages[0]


# ----------------------------------------------------------------------------- worker processes


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry))
    return kids


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting to be reaped by whoever adopted it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _scoring_worker(pid: int) -> bool:
    """A spawned pool worker that has run its initializer (it has loaded torch)."""
    try:
        return (
            "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()
            and "libtorch" in Path(f"/proc/{pid}/maps").read_text()
        )
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_when_the_parent_is_killed(tmp_path: Path, tiny_bundle_path: Path) -> None:
    out = tmp_path / "out"
    # Full-length records: each keeps a worker busy for seconds, so live workers are killed mid-work.
    inputs = [DEMO_DIR / n for n in ("100", "119", "208", "232")]
    parent = subprocess.Popen(
        _cli(
            "score", *inputs, "--out", out, "--bundle", tiny_bundle_path, "--formats", "csv", "--quiet", "--jobs", "2"
        ),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        end = time.monotonic() + 180
        while time.monotonic() < end and parent.poll() is None:
            workers = [k for k in _children(parent.pid) if _scoring_worker(k)]
            if len(workers) == 2:
                break
            time.sleep(0.05)
        assert len(workers) == 2 and parent.poll() is None, "the two workers never started scoring"
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        end = time.monotonic() + 5
        while time.monotonic() < end and any(_alive(w) for w in workers):
            time.sleep(0.05)
        assert not any(_alive(w) for w in workers), "workers outlived their parent"
    finally:
        parent.kill()
        parent.wait(timeout=30)
        for w in workers:  # only when the test failed: do not leave them running
            if _alive(w) and "spawn_main" in Path(f"/proc/{w}/cmdline").read_text():
                os.kill(w, signal.SIGKILL)


def test_exit_when_orphaned_polls_the_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    parents = iter([100, 100, 1])
    exits: list[int] = []
    monkeypatch.setattr(batch.os, "getppid", lambda: next(parents))
    monkeypatch.setattr(batch.os, "_exit", exits.append)
    exit_when_orphaned(100, poll_s=0.001)
    assert exits == [1]


def _parent_death_signal() -> int:
    """PR_GET_PDEATHSIG of the calling process (run in a pool worker)."""
    sig = ctypes.c_int(0)
    ctypes.CDLL(None, use_errno=True).prctl(2, ctypes.byref(sig), 0, 0, 0)
    return sig.value


# ----------------------------------------------------------------------------- threads


def test_torch_threads_share_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECG_TORCH_THREADS", raising=False)
    assert [torch_threads(j, cores=8) for j in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    assert torch_threads(1) == len(os.sched_getaffinity(0))
    monkeypatch.setenv("ECG_TORCH_THREADS", "3")
    assert [torch_threads(j, cores=8) for j in (1, 2, 4)] == [3, 3, 2]
    monkeypatch.setenv("ECG_TORCH_THREADS", "32")
    assert torch_threads(1, cores=8) == 8  # never more threads than cores
    monkeypatch.setenv("ECG_TORCH_THREADS", "zero")
    assert torch_threads(2, cores=8) == 4


@pytest.mark.parametrize("env", [None, "1"])
def test_a_sequential_run_uses_every_core_unless_capped(
    env: str | None, short_dir: Path, tmp_path: Path, tiny_bundle_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env is None:
        monkeypatch.delenv("ECG_TORCH_THREADS", raising=False)
    else:
        monkeypatch.setenv("ECG_TORCH_THREADS", env)
    seen: list[int] = []

    def fake_score_one(rec, out_dir, bundle_path, options, formats):
        seen.append(torch.get_num_threads())
        return RecordOutcome(rec.name, "scored", row={"lead": "MLII"})

    monkeypatch.setattr(batch, "score_one", fake_score_one)
    before = torch.get_num_threads()
    score_batch(
        [str(short_dir / "119"), str(short_dir / "208")],
        tmp_path / "out",
        bundle_path=tiny_bundle_path,
        formats=FORMATS,
        progress=False,
    )
    assert seen == [len(os.sched_getaffinity(0)) if env is None else 1] * 2
    assert torch.get_num_threads() == before


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_pool_workers_use_their_share_of_threads_and_die_with_the_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECG_TORCH_THREADS", raising=False)
    with worker_pool(2) as pool:
        threads = [pool.submit(torch.get_num_threads).result(timeout=300) for _ in range(2)]
        death = pool.submit(_parent_death_signal).result(timeout=300)
    assert threads == [torch_threads(2)] * 2
    assert death == signal.SIGKILL


# ----------------------------------------------------------------------------- unwritable output


def _deny_writes(monkeypatch: pytest.MonkeyPatch, root: Path, code: int) -> None:
    """Make creating or writing anything under ``root`` fail with ``code``, as on a read-only,
    forbidden or full filesystem (tests run as root, whom chmod does not stop)."""
    real_open, real_mkdir = os.open, os.mkdir

    def under(path: object) -> bool:
        try:
            return Path(os.fspath(path)).absolute().is_relative_to(root)
        except TypeError:
            return False

    def fake_open(path, flags, mode=0o777, *, dir_fd=None):
        if under(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(code, os.strerror(code), os.fspath(path))
        return real_open(path, flags, mode, dir_fd=dir_fd)

    def fake_mkdir(path, mode=0o777, *, dir_fd=None):
        if under(path):
            raise OSError(code, os.strerror(code), os.fspath(path))
        return real_mkdir(path, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)


@pytest.mark.parametrize(
    ("code", "reason", "exists"),
    [
        (errno.EROFS, "Read-only file system", True),
        (errno.EACCES, "Permission denied", True),
        (errno.ENOSPC, "No space left on device", True),
        (errno.EROFS, "Read-only file system", False),
    ],
)
def test_an_unwritable_out_is_one_clear_error_before_scoring(
    code: int,
    reason: str,
    exists: bool,
    short_dir: Path,
    tmp_path: Path,
    tiny_bundle_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    out = ro / "out"
    if exists:
        out.mkdir()
    calls: list[str] = []
    monkeypatch.setattr(batch, "score_one", lambda rec, *a: calls.append(rec.name))
    _deny_writes(monkeypatch, ro, code)
    rc = main(["score", str(short_dir / "119"), "--out", str(out), "--bundle", str(tiny_bundle_path), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and calls == []
    assert err == f"ecg: error: {out}: cannot write the output folder ({reason})\n"


def test_a_record_that_cannot_be_written_fails_alone(
    short_dir: Path, tmp_path: Path, tiny_bundle_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ecg.export.tables as tables

    out = tmp_path / "out"
    inputs = [str(short_dir / "119"), str(short_dir / "208")]
    kw = dict(bundle_path=tiny_bundle_path, formats=FORMATS, progress=False)
    assert [o.status for o in score_batch(inputs, out, lead=0, **kw)] == ["scored", "scored"]
    real = tables.write_summary_json

    def disk_full_for_119(summary, path):
        if Path(path).name.startswith("119"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(summary, path)

    monkeypatch.setattr(tables, "write_summary_json", disk_full_for_119)
    res = score_batch(inputs, out, lead=1, **kw)
    assert [(o.name, o.status) for o in res] == [("119", "failed"), ("208", "scored")]
    assert res[0].error == f"{out.absolute() / '119'}: cannot write the record's outputs (No space left on device)"
    assert assert_one_run(out / "119")["options"]["lead"] == 0  # the earlier run's folder, whole
    assert assert_one_run(out / "208")["options"]["lead"] == 1
    assert leftovers(out) == []


def test_an_index_that_cannot_be_written_is_one_clear_error(
    short_dir: Path,
    tmp_path: Path,
    tiny_bundle_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"

    def full(path, text, encoding="utf-8"):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(batch, "atomic_write_text", full)
    rc = main(
        [
            "score",
            str(short_dir / "119"),
            "--out",
            str(out),
            "--bundle",
            str(tiny_bundle_path),
            "--formats",
            "csv,json",
            "--quiet",
            "--lead",
            "0",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith(f"ecg: error: {out / 'index.csv'}: cannot write the index (No space left on device)")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert_one_run(out / "119")


# ----------------------------------------------------------------------------- malformed bundles


def _rewrite_bundle(dst: Path, edit, *, fix_checksum: bool = True) -> Path:
    """The shipped evaluation bundle with its meta JSON replaced by ``edit(meta)`` (a dict, or
    text used as is), its checksum recomputed unless ``fix_checksum`` is False."""
    payload = torch.load(EVALUATION_BUNDLE_PATH, map_location="cpu", weights_only=True)
    meta = edit(json.loads(payload["meta"]))
    payload["meta"] = meta if isinstance(meta, str) else json.dumps(meta)
    if fix_checksum:
        payload["sha256"] = _digest(payload["meta"], payload["autoencoder"], payload["classifier"])
    torch.save(payload, dst)
    return dst


@pytest.mark.parametrize(
    ("edit", "what"),
    [
        (lambda m: {k: v for k, v in m.items() if k != "scorer"}, "missing key 'scorer'"),
        (lambda m: {**m, "ae_params": [48, 12]}, "'ae_params' is list, not an object"),
        (lambda m: '{"version": ', "'meta' is not valid JSON"),
        (lambda m: ["not", "an", "object"], "'meta' is a JSON list, not an object"),
        (lambda m: {**m, "seq_len": "long"}, "invalid literal for int()"),
        (
            lambda m: {**m, "ae_params": {**m["ae_params"], "hidden": 16}},
            "the weights do not match the architecture it describes (size mismatch for ",
        ),
        (
            lambda m: {**m, "classes": ["N", "S"]},
            "'classes' names 2 classes ['N', 'S'] but the classifier has 4 outputs",
        ),
        (lambda m: {**m, "clf_params": {**m["clf_params"], "dropout_typo": 0.1}}, "unexpected keyword argument"),
    ],
)
def test_malformed_bundle_metadata_is_a_bundle_error(edit, what: str, tmp_path: Path) -> None:
    path = _rewrite_bundle(tmp_path / "bad.pt", edit)
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    assert str(info.value).startswith(f"{path}: malformed bundle metadata: ")
    assert what in str(info.value)


def test_edited_bundle_metadata_with_a_stale_checksum_is_refused(tmp_path: Path) -> None:
    path = _rewrite_bundle(tmp_path / "edited.pt", lambda m: {**m, "seq_len": 32}, fix_checksum=False)
    with pytest.raises(BundleError, match="checksum mismatch"):
        load_bundle(path)
    assert load_bundle(_rewrite_bundle(tmp_path / "same.pt", lambda m: m)).classes == ("N", "S", "V", "F")


def test_cli_with_a_malformed_bundle_says_so(
    short_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _rewrite_bundle(tmp_path / "bad.pt", lambda m: {k: v for k, v in m.items() if k != "config"})
    rc = main(["score", str(short_dir / "119"), "--out", str(tmp_path / "out"), "--bundle", str(path), "--quiet"])
    assert rc == 2
    assert capsys.readouterr().err == f"ecg: error: {path}: malformed bundle metadata: missing key 'config'\n"


# ----------------------------------------------------------------------------- the summary's leads


def test_summary_table_shows_the_leads_and_notes_unnamed_ones() -> None:
    rows = {"100": "MLII+V5", "x": "lead0+lead1", "h": "ECG", "m": "ML II", "v": "v2", "f": ""}
    outcomes = [
        RecordOutcome(name, "scored", row={"lead": lead, "beats": 10, "n_N": 10}) for name, lead in rows.items()
    ]
    outcomes.append(RecordOutcome("bad", "failed", error="bad.hea: not found"))
    text = summary_table(outcomes)
    lines = text.splitlines()
    header = next(ln for ln in lines if ln.split()[:2] == ["record", "leads"])
    assert header.split()[2] == "beats"
    assert any(ln.split()[:3] == ["100", "MLII+V5", "10"] for ln in lines)
    assert any(ln.split()[:3] == ["f", "-", "10"] for ln in lines)
    notes = [ln for ln in lines if ln.startswith("NOTE")]
    assert notes == [
        "NOTE x: no lead named MLII/II/V1..V6; analysed lead0+lead1",
        "NOTE h: no lead named MLII/II/V1..V6; analysed ECG",
    ]
    assert "FAILED bad: bad.hea: not found" in lines


def test_standard_lead_names() -> None:
    for name in ("MLII", "ml ii", "II", "i", "aVR", "AVF", "V1", "v6", "MV1", "ML2", "lead II", "Lead_V3", "D2"):
        assert is_standard_lead(name), name
    for name in ("ECG", "ECG1", "lead0", "V7", "Pleth", "ABP", "", "lead"):
        assert not is_standard_lead(name), name


def test_cli_names_the_lead_of_a_record_without_standard_lead_names(
    short_dir: Path, tmp_path: Path, tiny_bundle_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(
        [
            "score",
            str(short_dir / "nolead"),
            str(short_dir / "119"),
            "--out",
            str(tmp_path / "out"),
            "--bundle",
            str(tiny_bundle_path),
            "--formats",
            "csv",
            "--quiet",
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0
    assert any(ln.split()[:2] == ["119", "MLII+V1"] for ln in text.splitlines())
    assert "NOTE nolead: no lead named MLII/II/V1..V6; analysed lead0+lead1" in text
    assert "NOTE 119" not in text


# ----------------------------------------------------------------------------- on a cluster


def test_scheduler_runs_through_the_cluster_module_with_the_lock_held(
    short_dir: Path, tmp_path: Path, tiny_bundle_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``score_batch(scheduler=...)`` hands picklable work with absolute paths to
    ``ecg.scoring.distributed.run_on_cluster`` while this process holds the output folder's lock
    (a stand-in module runs the tasks here; tests/test_distributed.py runs a real cluster)."""
    out = tmp_path / "out"
    calls: list[dict] = []

    def run_on_cluster(fn, records, args, scheduler, on_result, workers=None, echo=None):
        calls.append({"scheduler": scheduler, "workers": workers, "args": args})
        pickle.dumps((fn, list(records), args))
        with pytest.raises(ECGError, match="another `ecg score` run"):
            with lock_output_dir(out):
                pass
        for rec in pickle.loads(pickle.dumps(list(records))):
            on_result(fn(rec, *args))

    monkeypatch.setitem(sys.modules, "ecg.scoring.distributed", types.SimpleNamespace(run_on_cluster=run_on_cluster))
    monkeypatch.chdir(tmp_path)
    rel_bundle = os.path.relpath(tiny_bundle_path, tmp_path)
    res = score_batch(
        [str(short_dir / "119"), str(short_dir / "208")],
        "out",
        bundle_path=rel_bundle,
        lead=0,
        formats=FORMATS,
        progress=False,
        scheduler="tcp://scheduler:8786",
        workers=None,
    )
    assert [o.status for o in res] == ["scored", "scored"]
    (call,) = calls
    assert call["scheduler"] == "tcp://scheduler:8786"
    where, bundle, options, formats = call["args"]
    assert where == out and where.is_absolute() and Path(bundle) == tiny_bundle_path and Path(bundle).is_absolute()
    assert options == {"threshold": None, "lead": 0, "backend": "torch", "full_disclosure": False}
    assert formats == FORMATS
    for name in ("119", "208"):
        assert_one_run(out / name)
    again = score_batch(
        [str(short_dir / "119")],
        out,
        bundle_path=rel_bundle,
        lead=0,
        formats=FORMATS,
        progress=False,
        scheduler="tcp://scheduler:8786",
    )
    assert [o.status for o in again] == ["skipped"] and len(calls) == 1  # nothing to do: no cluster


def test_cluster_options_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["score", str(DEMO_DIR / "119"), "--out", str(tmp_path / "out"), "--quiet"]
    assert main([*base, "--workers", "2"]) == 2
    assert "--workers applies to --scheduler only" in capsys.readouterr().err
    assert main([*base, "--scheduler", "local", "--jobs", "2"]) == 2
    assert "--jobs does not apply with --scheduler" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
