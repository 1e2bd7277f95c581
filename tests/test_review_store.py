"""Tests of the clinician review store (ecg.review.store)."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ecg.review.store as store_mod
from ecg.errors import ECGError
from ecg.review import Decision, ReviewDatabaseError, ReviewStore
from ecg.review.store import BULK_COLUMNS, MIGRATIONS, SCHEMA_VERSION

N_PER_PROCESS = 1000


def _write_many(db: str, proc: int, n: int, barrier: mp.synchronize.Barrier) -> None:
    """Worker: open its own store and append ``n`` decisions tagged ``proc:i``."""
    with ReviewStore(db) as store:
        barrier.wait(timeout=60)
        for i in range(n):
            store.record_decision("rec", proc * 100_000 + i, f"reviewer{proc}", "V", "confirm", comment=f"{proc}:{i}")


def test_decisions_survive_reopen(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "reviews.db"
    with ReviewStore(db) as store:
        d = store.record_decision(
            "100", 1234, "dr_a", "V", "relabel", new_label="S", comment="looks atrial", bundle_version="b1"
        )
    assert isinstance(d, Decision) and d.id > 0
    assert db.exists()
    store2 = ReviewStore(db)
    try:
        assert store2.history("100", 1234) == [d]
        got = store2.history("100", 1234)[0]
        assert (
            got.reviewer,
            got.model_label,
            got.decision,
            got.new_label,
            got.comment,
            got.bundle_version,
            got.effective_label,
        ) == ("dr_a", "V", "relabel", "S", "looks atrial", "b1", "S")
        ts = datetime.fromisoformat(got.decided_at)
        assert ts.utcoffset() == timezone.utc.utcoffset(None)
        assert "." in got.decided_at and len(got.decided_at.split(".")[1].split("+")[0]) == 6
    finally:
        store2.close()


def test_decision_is_frozen(tmp_path: Path) -> None:
    with ReviewStore(tmp_path / "r.db") as store:
        d = store.record_decision("100", 1, "dr_a", "N", "confirm")
    with pytest.raises(AttributeError):
        d.decision = "dismiss"  # type: ignore[misc]


def test_rereview_keeps_history_and_latest_wins(tmp_path: Path) -> None:
    with ReviewStore(tmp_path / "r.db") as store:
        a = store.record_decision("100", 500, "dr_a", "V", "confirm")
        b = store.record_decision("100", 500, "dr_b", "V", "relabel", new_label="F")
        c = store.record_decision("100", 500, "dr_a", "V", "dismiss", comment="artefact")
        other = store.record_decision("100", 900, "dr_a", "S", "confirm")
        store.record_decision("101", 500, "dr_a", "Q", "confirm")  # another record

        assert store.history("100", 500) == [a, b, c]
        assert [d.effective_label for d in store.history("100", 500)] == ["V", "F", "N"]

        latest = store.latest_decisions("100")
        assert list(latest["beat_sample"]) == [500, 900]
        assert list(latest["id"]) == [c.id, other.id]
        assert list(latest["decision"]) == ["dismiss", "confirm"]
        assert list(latest["effective_label"]) == ["N", "S"]
        assert latest["beat_sample"].dtype == "int64"

        assert len(store.all_decisions("100")) == 4
        assert len(store.all_decisions()) == 5
        assert store.count() == 5 and store.count("101") == 1
        assert list(store.all_decisions("100")["id"]) == [a.id, b.id, c.id, other.id]

        empty = store.latest_decisions("nope")
        assert len(empty) == 0 and "effective_label" in empty.columns


def test_effective_labels(tmp_path: Path) -> None:
    beats = pd.DataFrame({"sample": [10, 20, 30, 40, 50], "pred_class": ["N", "V", "S", "V", "Q"]})
    with ReviewStore(tmp_path / "r.db") as store:
        assert list(store.effective_labels("100", beats)) == ["N", "V", "S", "V", "Q"]
        store.record_decision("100", 20, "dr_a", "V", "confirm")
        store.record_decision("100", 30, "dr_a", "S", "dismiss")
        store.record_decision("100", 40, "dr_a", "V", "relabel", new_label="F")
        store.record_decision("100", 50, "dr_a", "Q", "relabel", new_label="V")
        store.record_decision("100", 50, "dr_b", "Q", "confirm")  # latest wins
        store.record_decision("100", 99, "dr_a", "V", "dismiss")  # not in beats_df: ignored
        store.record_decision("101", 10, "dr_a", "N", "relabel", new_label="V")  # other record
        labels = store.effective_labels("100", beats)
    assert list(labels.index) == [10, 20, 30, 40, 50]
    assert list(labels) == ["N", "V", "N", "F", "Q"]
    with pytest.raises(ValueError, match="pred_class"):
        store2 = ReviewStore(tmp_path / "r.db")
        try:
            store2.effective_labels("100", beats[["sample"]])
        finally:
            store2.close()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(reviewer=""), "reviewer"),
        (dict(reviewer="   "), "reviewer"),
        (dict(decision="approve"), "decision must be one of"),
        (dict(decision="relabel"), "requires new_label"),
        (dict(decision="relabel", new_label="X"), "new_label must be one of"),
        (dict(decision="relabel", new_label="n"), "new_label must be one of"),
        (dict(decision="confirm", new_label="S"), "only allowed with decision 'relabel'"),
        (dict(model_label="Z"), "model_label must be one of"),
        (dict(record=""), "record"),
        (dict(beat_sample=-1), "beat_sample"),
        (dict(beat_sample=1.5), "beat_sample"),
        (dict(beat_sample=True), "beat_sample"),
    ],
)
def test_validation_errors(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = dict(record="100", beat_sample=10, reviewer="dr_a", model_label="V", decision="confirm")
    args.update(kwargs)
    with ReviewStore(tmp_path / "r.db") as store:
        with pytest.raises(ValueError, match=message):
            store.record_decision(**args)
        assert store.count() == 0  # nothing written on a rejected decision


def test_schema_checks_reject_bad_rows_written_directly(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    ReviewStore(db).close()
    conn = sqlite3.connect(db)
    try:
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO decisions (record, beat_sample, reviewer, decided_at, model_label,"
                " decision, new_label) VALUES ('1', 1, 'a', 't', 'V', 'relabel', NULL)"
            )
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO decisions (record, beat_sample, reviewer, decided_at, model_label,"
                " decision, new_label) VALUES ('1', 1, 'a', 't', 'V', 'dismiss', 'S')"
            )
    finally:
        conn.close()


def test_wal_mode_and_pragmas(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with ReviewStore(db) as store:
        store.record_decision("100", 1, "dr_a", "N", "confirm")
        assert store.schema_version == SCHEMA_VERSION
        with store._lock:
            conn = store._connection()
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
            assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
    # journal_mode=WAL is persistent: a fresh, independent connection sees it.
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        idx = {r[1] for r in conn.execute("PRAGMA index_list(decisions)")}
        cols = [r[2] for r in conn.execute("PRAGMA index_info(decisions_record_beat_id)")]
        assert "decisions_record_beat_id" in idx and cols == ["record", "beat_sample", "id"]
    finally:
        conn.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    ReviewStore(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        ReviewStore(db)


def test_default_path_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "env" / "dir" / "reviews.db"
    monkeypatch.setenv("ECG_REVIEW_DB", str(db))
    with ReviewStore() as store:
        assert store.path == db
        store.record_decision("100", 1, "dr_a", "N", "confirm")
    assert db.exists()
    monkeypatch.delenv("ECG_REVIEW_DB")
    monkeypatch.chdir(tmp_path)
    with ReviewStore() as store:
        assert store.path == Path("data") / "reviews.db"
    assert (tmp_path / "data" / "reviews.db").exists()


def test_closed_store_raises(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "r.db")
    store.close()
    store.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        store.record_decision("100", 1, "dr_a", "N", "confirm")


def test_threads_sharing_one_store_lose_nothing(tmp_path: Path) -> None:
    n_threads, n_each = 8, 100
    errors: list[BaseException] = []
    with ReviewStore(tmp_path / "r.db") as store:
        start = threading.Barrier(n_threads)

        def work(t: int) -> None:
            try:
                start.wait()
                for i in range(n_each):
                    store.record_decision("rec", t * 1000 + i, f"t{t}", "V", "dismiss")
                    if i % 10 == 0:
                        store.latest_decisions("rec")  # interleave reads with writes
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == []
        df = store.all_decisions()
    assert len(df) == n_threads * n_each
    assert set(df["beat_sample"]) == {t * 1000 + i for t in range(n_threads) for i in range(n_each)}


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_processes_lose_no_decision(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    ReviewStore(db).close()  # create the schema up front
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_write_many, args=(db, p, N_PER_PROCESS, barrier)) for p in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=100)
    assert [p.exitcode for p in procs] == [0, 0]

    with ReviewStore(db) as store:
        df = store.all_decisions()
    assert len(df) == 2 * N_PER_PROCESS
    assert df["id"].is_unique
    got = set(df["comment"])
    want = {f"{p}:{i}" for p in (1, 2) for i in range(N_PER_PROCESS)}
    assert got == want
    assert set(zip(df["reviewer"], df["beat_sample"])) == {
        (f"reviewer{p}", p * 100_000 + i) for p in (1, 2) for i in range(N_PER_PROCESS)
    }


def _fork_child_writes(store: ReviewStore, n: int) -> None:
    for i in range(n):
        store.record_decision("forked", i, "child", "N", "confirm")


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="no fork on this platform")
def test_store_inherited_through_fork_reopens(tmp_path: Path) -> None:
    with ReviewStore(tmp_path / "r.db") as store:
        store.record_decision("parent", 0, "parent", "N", "confirm")
        proc = mp.get_context("fork").Process(target=_fork_child_writes, args=(store, 50))
        proc.start()
        proc.join(timeout=60)
        assert proc.exitcode == 0
        store.record_decision("parent", 1, "parent", "N", "confirm")  # parent's connection still fine
        assert store.count("forked") == 50 and store.count("parent") == 2


def test_record_review_key_follows_content_not_name(tmp_path: Path) -> None:
    from ecg.review.store import record_review_key

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for d, payload in ((a, b"\x01\x02"), (b, b"\x01\x03")):
        (d / "100.hea").write_text("100 1 360 1\n100.dat 16 200 11 0 0 0 0 II\n")
        (d / "100.dat").write_bytes(payload)
    ka, kb = record_review_key(a / "100"), record_review_key(b / "100")
    assert ka.startswith("100@") and kb.startswith("100@")
    assert ka != kb  # same name, different recording: separate reviews
    (b / "100.dat").write_bytes(b"\x01\x02")
    assert record_review_key(b / "100") == ka  # same files elsewhere: the same reviews


# --- bulk (family) decisions, artefacts, precedence ---------------------------------------------


def test_bulk_relabel_is_stored_with_its_action(tmp_path: Path) -> None:
    samples, models = [100, 200, 300], ["V", "N", "V"]
    with ReviewStore(tmp_path / "r.db") as store:
        bid = store.record_bulk_decision(
            "100", samples, models, " dr_a ", "relabel", "S", family=3, comment="aberrant", bundle_version="b1"
        )
        actions = store.bulk_actions("100")
        assert list(actions.columns) == list(BULK_COLUMNS)
        assert len(actions) == 1
        a = actions.iloc[0]
        assert (a["id"], a["record"], a["family"], a["reviewer"], a["decision"], a["new_label"], a["n_beats"]) == (
            bid,
            "100",
            3,
            "dr_a",
            "relabel",
            "S",
            3,
        )
        assert (a["comment"], a["bundle_version"]) == ("aberrant", "b1")
        assert pd.isna(a["undone_at"]) and pd.isna(a["undone_by"])
        latest = store.latest_decisions("100")
        assert latest["beat_sample"].tolist() == samples
        assert latest["model_label"].tolist() == models
        assert latest["effective_label"].tolist() == ["S", "S", "S"]
        assert latest["bulk_id"].tolist() == [bid] * 3
        assert store.history("100", 200)[0].bulk_id == bid
        assert store.bulk_actions("other").empty and len(store.bulk_actions()) == 1


def test_single_decision_beats_bulk_whatever_the_order(tmp_path: Path) -> None:
    beats = pd.DataFrame({"sample": [100, 200, 300, 400], "pred_class": ["V", "V", "V", "N"]})
    with ReviewStore(tmp_path / "r.db") as store:
        store.record_bulk_decision("100", [100, 200], ["V", "V"], "dr_a", "relabel", "F")
        single = store.record_decision("100", 200, "dr_b", "V", "confirm")  # after the bulk
        store.record_decision("100", 300, "dr_b", "V", "dismiss")  # before the next bulk
        later = store.record_bulk_decision("100", [100, 200, 300], ["V", "V", "V"], "dr_c", "relabel", "S")
        assert list(store.effective_labels("100", beats)) == ["S", "V", "N", "N"]
        latest = store.latest_decisions("100").set_index("beat_sample")
        assert latest.loc[100, "bulk_id"] == later
        assert latest.loc[200, "id"] == single.id and pd.isna(latest.loc[200, "bulk_id"])
        assert latest.loc[300, "decision"] == "dismiss"
        assert store.effective_decision("100", 200) == single
        assert store.effective_decision("100", 100).bulk_id == later
        assert store.effective_decision("100", 400) is None
        assert len(store.history("100", 200)) == 3  # every decision kept


def test_undo_bulk_restores_the_earlier_state(tmp_path: Path) -> None:
    beats = pd.DataFrame({"sample": [10, 20, 30], "pred_class": ["V", "V", "N"]})
    with ReviewStore(tmp_path / "r.db") as store:
        first = store.record_bulk_decision("100", [10, 20], ["V", "V"], "dr_a", "relabel", "S", family=1)
        second = store.record_bulk_decision("100", [10, 20, 30], ["V", "V", "N"], "dr_a", "artefact", family=1)
        assert list(store.effective_labels("100", beats)) == ["Q", "Q", "Q"]
        store.undo_bulk(second, "dr_b")
        assert list(store.effective_labels("100", beats)) == ["S", "S", "N"]  # back to the first action
        assert store.latest_decisions("100")["beat_sample"].tolist() == [10, 20]
        store.undo_bulk(first, "dr_b")
        assert list(store.effective_labels("100", beats)) == ["V", "V", "N"]  # back to the model
        assert store.latest_decisions("100").empty
        actions = store.bulk_actions("100").set_index("id")
        assert actions.loc[second, "undone_by"] == "dr_b" and str(actions.loc[second, "undone_at"]).startswith("20")
        assert store.count("100") == 5  # append-only: the undone decisions stay
        undone = store.all_decisions("100")
        assert undone["undone_at"].notna().all() and undone["bulk_id"].notna().all()
        assert store.history("100", 30)[0].undone_at is not None
        with pytest.raises(ValueError, match="already undone by dr_b"):
            store.undo_bulk(second, "dr_c")
        with pytest.raises(ValueError, match="no bulk action with id 999"):
            store.undo_bulk(999, "dr_c")
        with pytest.raises(ValueError, match="reviewer"):
            store.undo_bulk(first, " ")


def test_artefact_decision(tmp_path: Path) -> None:
    with ReviewStore(tmp_path / "r.db") as store:
        d = store.record_decision("100", 5, "dr_a", "V", "artefact", comment="electrode motion")
        assert d.effective_label == "Q" and d.new_label is None
        with pytest.raises(ValueError, match="only allowed with decision 'relabel'"):
            store.record_decision("100", 5, "dr_a", "V", "artefact", new_label="Q")
        assert store.latest_decisions("100")["decision"].tolist() == ["artefact"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(beat_samples=[]), "non-empty"),
        (dict(beat_samples=[1, 1], model_labels=["V", "V"]), "same beat twice"),
        (dict(beat_samples=[1, -2], model_labels=["V", "V"]), ">= 0"),
        (dict(beat_samples=[1.5, 2.0], model_labels=["V", "V"]), "integers"),
        (dict(model_labels=["V"]), "1 labels for 2"),
        (dict(model_labels=["V", "X"]), "model_labels must be one of"),
        (dict(decision="relabel"), "requires new_label"),
        (dict(decision="relabel", new_label="n"), "new_label must be one of"),
        (dict(decision="maybe"), "decision must be one of"),
        (dict(reviewer=""), "reviewer"),
        (dict(record=" "), "record"),
        (dict(family="3"), "family"),
        (dict(family=True), "family"),
    ],
)
def test_bulk_validation_writes_nothing(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = dict(record="100", beat_samples=[1, 2], model_labels=["V", "N"], reviewer="dr_a", decision="confirm")
    args.update(kwargs)
    with ReviewStore(tmp_path / "r.db") as store:
        with pytest.raises(ValueError, match=message):
            store.record_bulk_decision(**args)
        assert store.count() == 0 and store.bulk_actions().empty


def test_bulk_is_one_transaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while writing the beats leaves neither the action nor any beat behind."""
    with ReviewStore(tmp_path / "r.db") as store:
        store.record_decision("100", 1, "dr_a", "N", "confirm")
        samples = np.arange(1000, 2000)
        labels = np.array(["N"] * 1000, dtype=object)
        labels[500] = "V"
        boom = store_mod._check_samples(samples)
        # a row the database itself rejects (a negative sample slipping past validation)
        boom[700] = -1
        monkeypatch.setattr(store_mod, "_check_samples", lambda s: boom)
        with pytest.raises(sqlite3.IntegrityError):
            store.record_bulk_decision("100", samples, labels, "dr_a", "dismiss")
        assert store.count() == 1 and store.bulk_actions().empty


# --- schema migration and damaged files ---------------------------------------------------------


def _version_1_file(db: Path) -> None:
    """A database as version-1 code left it, with two decisions."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = WAL")
    MIGRATIONS[1](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO decisions (id, record, beat_sample, reviewer, decided_at, model_label, decision, new_label,"
        " comment, bundle_version) VALUES (7, '100', 50, 'dr_a', '2025-01-01T00:00:00+00:00', 'V', 'relabel', 'S',"
        " 'old', 'b0'), (9, '100', 60, 'dr_a', '2025-01-01T00:00:01+00:00', 'N', 'dismiss', NULL, '', '')"
    )
    conn.commit()
    conn.close()


def test_version_1_file_is_upgraded_keeping_every_decision(tmp_path: Path) -> None:
    db = tmp_path / "v1.db"
    _version_1_file(db)
    with ReviewStore(db) as store:
        assert store.schema_version == SCHEMA_VERSION == 2
        old = store.all_decisions("100")
        assert old["id"].tolist() == [7, 9]  # ids kept
        assert old["effective_label"].tolist() == ["S", "N"]
        assert old["comment"].tolist() == ["old", ""] and old["bulk_id"].isna().all()
        d = store.record_decision("100", 50, "dr_b", "V", "artefact")  # the new kind is accepted
        assert d.id == 10
        bid = store.record_bulk_decision("100", [50, 60, 70], ["V", "N", "N"], "dr_b", "relabel", "F")
        # the migrated single-beat decisions keep their precedence over the later bulk action
        assert store.latest_decisions("100")["effective_label"].tolist() == ["Q", "N", "F"]
        assert store.bulk_actions("100")["id"].tolist() == [bid]
    conn = sqlite3.connect(db)
    try:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(decisions)")]
        assert cols[-1] == "bulk_id"
        fks = conn.execute("PRAGMA foreign_key_list(decisions)").fetchall()
        assert [(r[2], r[3], r[4]) for r in fks] == [("bulk_actions", "bulk_id", "id")]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        with pytest.raises(sqlite3.IntegrityError):  # CHECKs still hold after the rebuild
            conn.execute(
                "INSERT INTO decisions (record, beat_sample, reviewer, decided_at, model_label, decision, new_label)"
                " VALUES ('1', 1, 'a', 't', 'V', 'artefact', 'S')"
            )
    finally:
        conn.close()


@pytest.mark.parametrize(
    "offset, garbage, says",
    [
        (0, b"\xa5" * 8192, "damaged"),  # two whole pages overwritten
        (100, b"\x00" * 16, "quick_check"),  # a few cell pointers of one page: only the check finds it
    ],
)
def test_damaged_database_is_refused(tmp_path: Path, offset: int, garbage: bytes, says: str) -> None:
    db = tmp_path / "r.db"
    with ReviewStore(db) as store:
        store.record_bulk_decision("100", np.arange(5000), ["N"] * 5000, "dr_a", "confirm", comment="x" * 40, family=0)
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    assert pages > 10 and not Path(str(db) + "-wal").exists()  # everything checkpointed into the file
    raw = bytearray(db.read_bytes())
    at = (pages // 2) * page_size + offset
    raw[at : at + len(garbage)] = garbage
    db.write_bytes(bytes(raw))
    with pytest.raises(ReviewDatabaseError, match="damaged") as err:
        ReviewStore(db)
    assert str(db) in str(err.value) and says in str(err.value)
    assert isinstance(err.value, ECGError)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "notes.db"
    db.write_bytes(b"these are not the reviews you are looking for\n" * 200)
    with pytest.raises(ReviewDatabaseError, match="not an SQLite database") as err:
        ReviewStore(db)
    assert str(db) in str(err.value)
    assert db.read_bytes().startswith(b"these are not")  # left untouched


def test_record_review_key_of_a_single_file_hashes_the_file(tmp_path: Path) -> None:
    from ecg.review.store import record_review_key

    a, b = tmp_path / "a.edf", tmp_path / "b" / "a.edf"
    b.parent.mkdir()
    a.write_bytes(b"0       header one")
    b.write_bytes(b"0       header two")
    assert record_review_key(a).startswith("a.edf@")
    assert record_review_key(a) != record_review_key(b)
    b.write_bytes(a.read_bytes())
    assert record_review_key(a) == record_review_key(b)
