"""Durable, append-only store of clinician review decisions (SQLite, standard library only).

A reviewer looks at a beat the models flagged (or at a whole morphology family of beats,
:mod:`ecg.review.families`) and either

* ``confirm`` -- the model's class is right: the effective label is ``model_label``;
* ``dismiss`` -- the flag was wrong, the beat is normal: the effective label is ``"N"``;
* ``relabel`` -- the beat is of another class: the effective label is ``new_label``
  (required, one of N, S, V, F, Q);
* ``artefact`` -- the detection is not a heartbeat at all (noise, a T wave, a pacing or
  movement artefact): the effective label is ``"Q"`` in tables, and a *reviewed* summary
  (:mod:`ecg.review.reviewed`) leaves the detection out altogether, as not a beat: it is
  not counted in the beat totals, the heart rate, the RR intervals, HRV or ectopy, and the
  RR interval across it joins the beats either side. (Relabelling a beat ``Q`` instead keeps
  it as an unclassifiable *beat*: counted, part of the rhythm.) The summary's ``review``
  section counts the artefacts removed.

``new_label`` is stored only for ``relabel`` (NULL otherwise). Every decision is a new row,
committed before the writing method returns; nothing is deleted, so re-reviewing a beat keeps
its history.

*Bulk decisions.* :meth:`ReviewStore.record_bulk_decision` applies one decision to many beats
(typically every beat of a family) in one transaction: one ``bulk_actions`` row (who, when,
which family, how many beats) and one ``decisions`` row per beat carrying its ``bulk_id``.
:meth:`ReviewStore.undo_bulk` marks a bulk action undone (``undone_at``, ``undone_by``; the
only update the store ever makes, and it never touches a decision row): its decisions stay in
the history but stop counting.

*Precedence* (the effective decision of a beat, :meth:`ReviewStore.latest_decisions`): the
latest single-beat decision (``bulk_id`` NULL; highest ``id``) wins over every bulk decision,
whatever their times, since a reviewer who looked at that one beat knows better than a
family-wide action; without one, the latest bulk decision whose action is not undone; without
either, the model's label.

Durability and concurrency: WAL journal, ``synchronous=FULL`` (each commit is fsynced, so a
returned decision survives a power cut as well as a crash), a 30 s busy timeout and
``BEGIN IMMEDIATE`` write transactions, so concurrent writers (threads, Streamlit sessions,
processes) wait for each other instead of failing. One connection per store object, guarded by
a lock and reopened after ``fork``. On opening, ``PRAGMA quick_check`` must pass: a damaged
file is refused with :class:`ReviewDatabaseError` naming it, never read or written.

Schema versions (``PRAGMA user_version``, upgraded on open by :data:`MIGRATIONS`): 1 =
``decisions``; 2 = ``bulk_actions``, ``decisions.bulk_id`` and the ``artefact`` decision.
"""

from __future__ import annotations

import hashlib
import operator
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from ecg.errors import ECGError
from ecg.labels import AAMI_CLASSES

#: Environment variable naming the default database file.
ENV_DB: Final[str] = "ECG_REVIEW_DB"
#: Default database file when ``ECG_REVIEW_DB`` is unset (relative to the working directory).
DEFAULT_DB: Final[str] = os.path.join("data", "reviews.db")
#: Allowed review decisions.
DECISIONS: Final[tuple[str, ...]] = ("confirm", "dismiss", "relabel", "artefact")
#: Effective label of a dismissed beat.
DISMISS_LABEL: Final[str] = "N"
#: Effective label of a detection marked as an artefact (not a beat) in beat tables.
ARTEFACT_LABEL: Final[str] = "Q"
#: Seconds a connection waits for another writer's lock before raising.
BUSY_TIMEOUT_S: Final[float] = 30.0
#: Problems of ``PRAGMA quick_check`` quoted in a refusal.
_MAX_CHECK_LINES: Final[int] = 3

_LABELS_SQL = ", ".join(f"'{c}'" for c in AAMI_CLASSES)


class ReviewDatabaseError(ECGError, RuntimeError):
    """The review database cannot be used (damaged, or not an SQLite database); the message
    names the file and the problem."""


def _migrate_to_1(conn: sqlite3.Connection) -> None:
    """Version 1: the ``decisions`` table and its lookup index."""
    conn.execute(f"""
        CREATE TABLE IF NOT EXISTS decisions (
            id             INTEGER PRIMARY KEY,
            record         TEXT    NOT NULL CHECK (length(record) > 0),
            beat_sample    INTEGER NOT NULL CHECK (beat_sample >= 0),
            reviewer       TEXT    NOT NULL CHECK (length(trim(reviewer)) > 0),
            decided_at     TEXT    NOT NULL,
            model_label    TEXT    NOT NULL CHECK (model_label IN ({_LABELS_SQL})),
            decision       TEXT    NOT NULL CHECK (decision IN ('confirm', 'dismiss', 'relabel')),
            new_label      TEXT    CHECK (
                               (decision = 'relabel' AND new_label IS NOT NULL
                                AND new_label IN ({_LABELS_SQL}))
                               OR (decision <> 'relabel' AND new_label IS NULL)),
            comment        TEXT    NOT NULL DEFAULT '',
            bundle_version TEXT    NOT NULL DEFAULT ''
        )""")
    conn.execute("CREATE INDEX IF NOT EXISTS decisions_record_beat_id ON decisions (record, beat_sample, id)")


#: Columns shared by ``bulk_actions`` and ``decisions`` from version 2 on (the decision, its
#: new label, comment and bundle version, with their CHECKs).
_DECISION_COLUMNS_V2: Final[str] = (
    ("decision       TEXT    NOT NULL CHECK (decision IN ('confirm', 'dismiss', 'relabel', 'artefact')),")
    + f"""
            new_label      TEXT    CHECK (
                               (decision = 'relabel' AND new_label IS NOT NULL
                                AND new_label IN ({_LABELS_SQL}))
                               OR (decision <> 'relabel' AND new_label IS NULL)),
            comment        TEXT    NOT NULL DEFAULT '',
            bundle_version TEXT    NOT NULL DEFAULT '',"""
)


def _migrate_to_2(conn: sqlite3.Connection) -> None:
    """Version 2: ``bulk_actions``; ``decisions`` gains ``bulk_id`` and the ``artefact``
    decision. SQLite cannot alter a CHECK constraint, so ``decisions`` is rebuilt (SQLite's
    documented procedure: new table, copy every row with its ``id``, drop, rename)."""
    conn.execute(f"""
        CREATE TABLE bulk_actions (
            id             INTEGER PRIMARY KEY,
            record         TEXT    NOT NULL CHECK (length(record) > 0),
            family         INTEGER,
            reviewer       TEXT    NOT NULL CHECK (length(trim(reviewer)) > 0),
            decided_at     TEXT    NOT NULL,
            {_DECISION_COLUMNS_V2}
            n_beats        INTEGER NOT NULL CHECK (n_beats > 0),
            undone_at      TEXT,
            undone_by      TEXT,
            CHECK ((undone_at IS NULL) = (undone_by IS NULL))
        )""")
    conn.execute("CREATE INDEX bulk_actions_record ON bulk_actions (record, id)")
    conn.execute(f"""
        CREATE TABLE decisions_v2 (
            id             INTEGER PRIMARY KEY,
            record         TEXT    NOT NULL CHECK (length(record) > 0),
            beat_sample    INTEGER NOT NULL CHECK (beat_sample >= 0),
            reviewer       TEXT    NOT NULL CHECK (length(trim(reviewer)) > 0),
            decided_at     TEXT    NOT NULL,
            model_label    TEXT    NOT NULL CHECK (model_label IN ({_LABELS_SQL})),
            {_DECISION_COLUMNS_V2}
            bulk_id        INTEGER REFERENCES bulk_actions (id)
        )""")
    cols = "id, record, beat_sample, reviewer, decided_at, model_label, decision, new_label, comment, bundle_version"
    conn.execute(f"INSERT INTO decisions_v2 ({cols}) SELECT {cols} FROM decisions ORDER BY id")
    conn.execute("DROP TABLE decisions")
    conn.execute("ALTER TABLE decisions_v2 RENAME TO decisions")
    conn.execute("CREATE INDEX decisions_record_beat_id ON decisions (record, beat_sample, id)")
    conn.execute("CREATE INDEX decisions_bulk_id ON decisions (bulk_id) WHERE bulk_id IS NOT NULL")


#: ``MIGRATIONS[v]`` upgrades a database from ``user_version`` v-1 to v. Append new entries
#: (never edit old ones) and the store upgrades older files on open.
MIGRATIONS: Final[dict[int, Callable[[sqlite3.Connection], None]]] = {1: _migrate_to_1, 2: _migrate_to_2}
#: Schema version this code writes (``PRAGMA user_version``).
SCHEMA_VERSION: Final[int] = max(MIGRATIONS)

# Connections inherited through fork() must never be used or closed in the child (SQLite's
# in-process lock bookkeeping would be wrong); they are parked here so that GC never closes them.
_ORPHANED_CONNECTIONS: list[sqlite3.Connection] = []


@dataclass(frozen=True)
class Decision:
    """One stored review decision (one row of ``decisions``). ``bulk_id`` is the bulk action it
    belongs to (None: a single-beat decision) and ``undone_at`` the time that action was
    undone (None: it was not; an undone decision no longer counts)."""

    id: int
    record: str
    beat_sample: int
    reviewer: str
    decided_at: str
    model_label: str
    decision: str
    new_label: str | None
    comment: str
    bundle_version: str
    bulk_id: int | None = None
    undone_at: str | None = None

    @property
    def effective_label(self) -> str:
        """The beat's class after this decision (see the module docstring)."""
        return effective_label(self.decision, self.model_label, self.new_label)


_COLUMNS: Final[tuple[str, ...]] = tuple(f.name for f in fields(Decision))
_FRAME_DTYPES: Final[dict[str, str]] = {
    "id": "int64",
    "record": "object",
    "beat_sample": "int64",
    "reviewer": "object",
    "decided_at": "object",
    "model_label": "object",
    "decision": "object",
    "new_label": "object",
    "comment": "object",
    "bundle_version": "object",
    "bulk_id": "Int64",
    "undone_at": "object",
    "effective_label": "object",
}
#: Columns of :meth:`ReviewStore.bulk_actions`, in order.
BULK_COLUMNS: Final[tuple[str, ...]] = (
    "id",
    "record",
    "family",
    "reviewer",
    "decided_at",
    "decision",
    "new_label",
    "comment",
    "bundle_version",
    "n_beats",
    "undone_at",
    "undone_by",
)
_BULK_DTYPES: Final[dict[str, str]] = {
    **{c: "object" for c in BULK_COLUMNS},
    "id": "int64",
    "family": "Int64",
    "n_beats": "int64",
}
# The decision columns read with the undo time of their bulk action.
_SELECT: Final[str] = (
    "SELECT "
    + ", ".join(f"d.{c}" for c in _COLUMNS if c != "undone_at")
    + ", b.undone_at FROM decisions d LEFT JOIN bulk_actions b ON b.id = d.bulk_id"
)


def effective_label(decision: str, model_label: str, new_label: str | None) -> str:
    """Label after review: confirm -> ``model_label``, dismiss -> ``"N"``, relabel ->
    ``new_label``, artefact -> ``"Q"`` (see the module docstring)."""
    if decision == "confirm":
        return model_label
    if decision == "dismiss":
        return DISMISS_LABEL
    if decision == "artefact":
        return ARTEFACT_LABEL
    if decision == "relabel" and new_label is not None:
        return new_label
    raise ValueError(f"cannot derive a label from decision={decision!r}, new_label={new_label!r}")


def default_db_path() -> Path:
    """``$ECG_REVIEW_DB`` when set and non-empty, else ``data/reviews.db``."""
    return Path(os.environ.get(ENV_DB) or DEFAULT_DB)


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _check_label(name: str, value: object) -> str:
    if not isinstance(value, str) or value not in AAMI_CLASSES:
        raise ValueError(f"{name} must be one of {', '.join(AAMI_CLASSES)}; got {value!r}")
    return value


def _check_text(name: str, value: object) -> str:
    """A non-empty string, stripped (record, reviewer)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string; got {value!r}")
    return value


def _check_decision(decision: object, new_label: object, comment: object, bundle_version: object) -> str | None:
    """Validate a decision and its options; returns the ``new_label`` to store (None unless relabel)."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}; got {decision!r}")
    for name, value in (("comment", comment), ("bundle_version", bundle_version)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{name} must be a string; got {type(value).__name__}")
    if decision == "relabel":
        if new_label is None or new_label == "":
            raise ValueError(f"decision 'relabel' requires new_label (one of {', '.join(AAMI_CLASSES)})")
        return _check_label("new_label", new_label)
    if new_label not in (None, ""):
        raise ValueError(
            f"new_label is only allowed with decision 'relabel'; got new_label={new_label!r} with decision {decision!r}"
        )
    return None


def _check_samples(beat_samples: Sequence[int] | np.ndarray) -> np.ndarray:
    """Beat samples as int64: integers (not bool), >= 0, no duplicates, at least one."""
    arr = np.asarray(beat_samples)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"beat_samples must be a non-empty 1-D sequence of integers; got shape {arr.shape}")
    if arr.dtype == object:
        try:
            arr = np.array([operator.index(x) for x in arr], dtype=np.int64)
        except TypeError:
            raise ValueError("beat_samples must be integers") from None
    if arr.dtype.kind not in "iu":
        raise ValueError(f"beat_samples must be integers; got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if (arr < 0).any():
        raise ValueError(f"beat_samples must be >= 0; got {int(arr.min())}")
    if np.unique(arr).size != arr.size:
        raise ValueError("beat_samples holds the same beat twice")
    return arr


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """The error says the file is damaged or not a database (SQLITE_CORRUPT, SQLITE_NOTADB;
    Python < 3.11 gives no error code: any DatabaseError that is not an OperationalError)."""
    name = getattr(exc, "sqlite_errorname", None)
    if name:
        return str(name).startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
    return not isinstance(exc, sqlite3.OperationalError)


class ReviewStore:
    """Append-only SQLite store of review decisions. Safe to share between threads; several
    processes may open the same file. Use as a context manager or call :meth:`close`.

    Raises :class:`ReviewDatabaseError` when the file is damaged or not an SQLite database."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path: Path = Path(path) if path is not None else default_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._closed = False
        self._conn: sqlite3.Connection | None = self._open()

    # -- connection management -------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._check_integrity(conn)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"{self.path}: could not enable WAL (journal_mode={mode})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if not _is_damage(exc):  # locked, read-only, I/O, a constraint...: not a damaged file
                raise
            raise ReviewDatabaseError(
                f"{self.path}: the review database is damaged or is not an SQLite database ({exc}); "
                "it was not opened. Restore it from a backup or move it aside to start a new one."
            ) from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_integrity(self, conn: sqlite3.Connection) -> None:
        """``PRAGMA quick_check`` (every page and index structure; O(file size)) must say "ok"."""
        problems = [" ".join(str(r[0]).split()) for r in conn.execute(f"PRAGMA quick_check({_MAX_CHECK_LINES})")]
        if problems != ["ok"]:
            raise ReviewDatabaseError(
                f"{self.path}: the review database is damaged (SQLite quick_check: {'; '.join(problems)}); "
                "it was not opened. Restore it from a backup or move it aside to start a new one."
            )

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Bring the schema to :data:`SCHEMA_VERSION`, in one write transaction (so two
        processes opening a fresh file do not both migrate)."""
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path}: schema version {version} is newer than this "
                    f"code supports ({SCHEMA_VERSION}); upgrade the package"
                )
            for v in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[v](conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _connection(self) -> sqlite3.Connection:
        """The open connection (call with ``self._lock`` held); reopened in a forked child."""
        if self._closed:
            raise RuntimeError(f"review store {self.path} is closed")
        if os.getpid() != self._pid:
            if self._conn is not None:
                _ORPHANED_CONNECTIONS.append(self._conn)
            self._pid = os.getpid()
            self._conn = None
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection().execute(sql, params).fetchall()

    def _write(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``work(conn)`` in one ``BEGIN IMMEDIATE`` transaction, committed (and fsynced)
        before returning, rolled back on any error."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return result

    @property
    def schema_version(self) -> int:
        """``PRAGMA user_version`` of the open database."""
        return int(self._query("PRAGMA user_version")[0][0])

    def close(self) -> None:
        """Close the connection; further use raises RuntimeError. Idempotent."""
        with self._lock:
            if self._conn is not None and os.getpid() == self._pid:
                self._conn.close()
            self._conn = None
            self._closed = True

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ReviewStore({str(self.path)!r})"

    # -- writing -----------------------------------------------------------------------------

    def record_decision(
        self,
        record: str,
        beat_sample: int,
        reviewer: str,
        model_label: str,
        decision: str,
        new_label: str | None = None,
        comment: str | None = "",
        bundle_version: str | None = "",
    ) -> Decision:
        """Validate and append one single-beat decision, committed (and fsynced) before returning.

        Raises ValueError for an empty record or reviewer, a negative or non-integer
        ``beat_sample``, an unknown ``decision``, a ``model_label``/``new_label`` outside
        N, S, V, F, Q, a relabel without ``new_label`` or a ``new_label`` on another decision.
        """
        _check_text("record", record)
        if isinstance(beat_sample, bool):
            raise ValueError(f"beat_sample must be an integer; got {beat_sample!r}")
        try:
            sample = operator.index(beat_sample)
        except TypeError:
            raise ValueError(f"beat_sample must be an integer; got {beat_sample!r}") from None
        if sample < 0:
            raise ValueError(f"beat_sample must be >= 0; got {sample}")
        _check_text("reviewer", reviewer)
        _check_label("model_label", model_label)
        new_label = _check_decision(decision, new_label, comment, bundle_version)
        row = (
            record,
            sample,
            reviewer.strip(),
            _utc_now(),
            model_label,
            decision,
            new_label,
            comment or "",
            bundle_version or "",
        )
        cur = self._write(
            lambda conn: conn.execute(
                "INSERT INTO decisions (record, beat_sample, reviewer, decided_at, model_label,"
                " decision, new_label, comment, bundle_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )
        rowid = cur.lastrowid
        assert rowid is not None
        return Decision(rowid, *row)

    def record_bulk_decision(
        self,
        record: str,
        beat_samples: Sequence[int] | np.ndarray,
        model_labels: Sequence[str] | np.ndarray,
        reviewer: str,
        decision: str,
        new_label: str | None = None,
        *,
        family: int | None = None,
        comment: str = "",
        bundle_version: str = "",
    ) -> int:
        """Apply one decision to many beats of ``record`` (e.g. every beat of morphology
        ``family``) in one transaction; returns the id of the new bulk action.

        ``beat_samples`` (distinct, >= 0) and ``model_labels`` (each one of N, S, V, F, Q) are
        aligned. One ``bulk_actions`` row and one ``decisions`` row per beat (with its
        ``bulk_id``) are committed together, or nothing is. Raises ValueError as
        :meth:`record_decision` does, for no beats, duplicated beats, misaligned labels or a
        family that is not an integer."""
        _check_text("record", record)
        _check_text("reviewer", reviewer)
        new_label = _check_decision(decision, new_label, comment, bundle_version)
        samples = _check_samples(beat_samples)
        labels = np.asarray(model_labels, dtype=object)
        if labels.shape != samples.shape:
            raise ValueError(f"model_labels has {labels.size} labels for {samples.size} beat_samples")
        bad = ~pd.Series(labels).isin(AAMI_CLASSES).to_numpy()
        if bad.any():
            raise ValueError(f"model_labels must be one of {', '.join(AAMI_CLASSES)}; got {labels[bad][0]!r}")
        if family is not None:
            if isinstance(family, bool):
                raise ValueError(f"family must be an integer or None; got {family!r}")
            try:
                family = operator.index(family)
            except TypeError:
                raise ValueError(f"family must be an integer or None; got {family!r}") from None
        who, when, note, version = reviewer.strip(), _utc_now(), comment or "", bundle_version or ""

        def work(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO bulk_actions (record, family, reviewer, decided_at, decision, new_label, comment,"
                " bundle_version, n_beats) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record, family, who, when, decision, new_label, note, version, int(samples.size)),
            )
            bulk_id = cur.lastrowid
            conn.executemany(
                "INSERT INTO decisions (record, beat_sample, reviewer, decided_at, model_label, decision,"
                " new_label, comment, bundle_version, bulk_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (record, s, who, when, m, decision, new_label, note, version, bulk_id)
                    for s, m in zip(samples.tolist(), labels.tolist())
                ),
            )
            return int(bulk_id)

        return int(self._write(work))

    def undo_bulk(self, bulk_id: int, reviewer: str) -> None:
        """Mark bulk action ``bulk_id`` undone by ``reviewer`` (now): its decisions stay in the
        history but no longer count. Raises ValueError for an unknown id or an action already
        undone."""
        _check_text("reviewer", reviewer)
        if isinstance(bulk_id, bool):
            raise ValueError(f"bulk_id must be an integer; got {bulk_id!r}")
        try:
            bid = operator.index(bulk_id)
        except TypeError:
            raise ValueError(f"bulk_id must be an integer; got {bulk_id!r}") from None

        def work(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT undone_at, undone_by FROM bulk_actions WHERE id = ?", (bid,)).fetchone()
            if row is None:
                raise ValueError(f"{self.path}: no bulk action with id {bid}")
            if row[0] is not None:
                raise ValueError(f"{self.path}: bulk action {bid} was already undone by {row[1]} at {row[0]}")
            conn.execute(
                "UPDATE bulk_actions SET undone_at = ?, undone_by = ? WHERE id = ? AND undone_at IS NULL",
                (_utc_now(), reviewer.strip(), bid),
            )

        self._write(work)

    # -- reading -----------------------------------------------------------------------------

    def _frame(self, rows: list[tuple[Any, ...]]) -> pd.DataFrame:
        df = pd.DataFrame.from_records(rows, columns=list(_COLUMNS))
        df["effective_label"] = [
            effective_label(d, m, n) for d, m, n in zip(df["decision"], df["model_label"], df["new_label"])
        ]
        return df.astype(_FRAME_DTYPES)

    def history(self, record: str, beat_sample: int) -> list[Decision]:
        """All decisions on one beat (single and bulk, undone ones included), oldest first."""
        rows = self._query(
            f"{_SELECT} WHERE d.record = ? AND d.beat_sample = ? ORDER BY d.id",
            (record, operator.index(beat_sample)),
        )
        return [Decision(*r) for r in rows]

    def effective_decision(self, record: str, beat_sample: int) -> Decision | None:
        """The decision that sets the beat's label (see *Precedence* in the module docstring),
        None when no decision counts."""
        history = self.history(record, beat_sample)
        single = [d for d in history if d.bulk_id is None]
        if single:
            return single[-1]
        bulk = [d for d in history if d.undone_at is None]
        return bulk[-1] if bulk else None

    def all_decisions(self, record: str | None = None) -> pd.DataFrame:
        """Every decision (of ``record``, or of all records; undone bulk decisions included),
        in insertion (``id``) order, with the :class:`Decision` columns plus ``effective_label``."""
        sql, params = _SELECT, ()
        if record is not None:
            sql, params = sql + " WHERE d.record = ?", (record,)
        return self._frame(self._query(sql + " ORDER BY d.id", params))

    def latest_decisions(self, record: str) -> pd.DataFrame:
        """The effective decision of each reviewed beat of ``record`` (see *Precedence* in the
        module docstring: the latest single-beat decision, else the latest not-undone bulk
        decision), one row per ``beat_sample``, sorted by ``beat_sample``; same columns as
        :meth:`all_decisions`. Beats whose only decisions were undone are absent."""
        rows = self._query(
            f"""WITH single AS (
                    SELECT beat_sample, MAX(id) AS id FROM decisions
                    WHERE record = ? AND bulk_id IS NULL GROUP BY beat_sample),
                bulk AS (
                    SELECT d.beat_sample, MAX(d.id) AS id FROM decisions d
                    JOIN bulk_actions b ON b.id = d.bulk_id
                    WHERE d.record = ? AND b.undone_at IS NULL GROUP BY d.beat_sample)
            {_SELECT} WHERE d.id IN (
                SELECT id FROM single
                UNION ALL
                SELECT id FROM bulk WHERE beat_sample NOT IN (SELECT beat_sample FROM single))
            ORDER BY d.beat_sample""",
            (record, record),
        )
        return self._frame(rows).reset_index(drop=True)

    def effective_labels(self, record: str, beats_df: pd.DataFrame) -> pd.Series:
        """Label of each beat after review, indexed by ``beats_df["sample"]`` (same order).

        Unreviewed beats keep the model's ``pred_class``; reviewed beats take the effective
        label of their effective decision (:meth:`latest_decisions`). Decisions on samples not
        in ``beats_df`` are ignored.
        """
        missing = [c for c in ("sample", "pred_class") if c not in beats_df.columns]
        if missing:
            raise ValueError(f"beats_df lacks columns {missing}")
        samples = beats_df["sample"].to_numpy()
        labels = pd.Series(
            beats_df["pred_class"].to_numpy(dtype=object),
            index=pd.Index(samples, name="sample"),
            name="effective_label",
            dtype="object",
        )
        latest = self.latest_decisions(record)
        if len(latest):
            reviewed = pd.Series(latest["effective_label"].to_numpy(), index=latest["beat_sample"].to_numpy())
            hit = labels.index.isin(reviewed.index)
            labels[hit] = reviewed.reindex(labels.index[hit]).to_numpy()
        return labels

    def bulk_actions(self, record: str | None = None) -> pd.DataFrame:
        """One row per bulk action (of ``record``, or of all records), oldest first, with the
        columns :data:`BULK_COLUMNS` (``family`` and the undo columns may be missing values)."""
        sql, params = f"SELECT {', '.join(BULK_COLUMNS)} FROM bulk_actions", ()
        if record is not None:
            sql, params = sql + " WHERE record = ?", (record,)
        rows = self._query(sql + " ORDER BY id", params)
        return pd.DataFrame.from_records(rows, columns=list(BULK_COLUMNS)).astype(_BULK_DTYPES)

    def records(self) -> list[str]:
        """The review keys (``record`` values) holding at least one decision, sorted."""
        return [str(r[0]) for r in self._query("SELECT DISTINCT record FROM decisions ORDER BY record")]

    def count(self, record: str | None = None) -> int:
        """Number of stored decisions (of ``record``, or of all records; undone ones included)."""
        if record is None:
            return int(self._query("SELECT COUNT(*) FROM decisions")[0][0])
        return int(self._query("SELECT COUNT(*) FROM decisions WHERE record = ?", (record,))[0][0])


def record_review_key(base: str | os.PathLike, name: str | None = None) -> str:
    """The key reviews of a local record are stored under: ``<name>@<12 hex digits>``, the
    digits being a SHA-256 of the recording's files: the WFDB header and signal files of a
    base path, or the file itself when ``base`` is one file (EDF, BDF, ISHNE). Two different
    recordings that share a name (an uploaded "100" and MIT-BIH's "100") then never share
    reviews, while the same files, wherever they are loaded from, find their earlier reviews
    again. ``name`` defaults to the base path's last part."""
    p = Path(base)
    files = [p] if p.is_file() else [Path(str(p) + ext) for ext in (".hea", ".dat")]
    h = hashlib.sha256()
    for f in files:
        if f.is_file():
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return f"{name or p.name}@{h.hexdigest()[:12]}"


__all__ = [
    "ARTEFACT_LABEL",
    "BULK_COLUMNS",
    "DECISIONS",
    "DISMISS_LABEL",
    "Decision",
    "MIGRATIONS",
    "ReviewDatabaseError",
    "ReviewStore",
    "SCHEMA_VERSION",
    "default_db_path",
    "effective_label",
    "record_review_key",
]
