"""Durable, append-only store of clinician review decisions (SQLite, standard library only).

A reviewer looks at a beat the models flagged and either

* ``confirm`` -- the model's class is right: the effective label is ``model_label``;
* ``dismiss`` -- the flag was wrong, the beat is normal: the effective label is ``"N"``;
* ``relabel`` -- the beat is of another class: the effective label is ``new_label``
  (required, one of N, S, V, F, Q).

``new_label`` is stored only for ``relabel`` (NULL otherwise). Every decision is a new row,
committed before :meth:`ReviewStore.record_decision` returns; nothing is updated or deleted,
so re-reviewing a beat keeps its history and the *latest* decision (highest ``id``) wins.

Durability and concurrency: WAL journal, ``synchronous=FULL`` (each commit is fsynced, so a
returned decision survives a power cut as well as a crash; reviews are low-volume, so the
cost does not matter), a 30 s busy timeout and ``BEGIN IMMEDIATE`` write transactions, so
concurrent writers (threads, Streamlit sessions, processes) wait for each other instead of
failing. One connection per store object, guarded by a lock and reopened after ``fork``.
"""

from __future__ import annotations

import operator
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

import pandas as pd

from ecg.labels import AAMI_CLASSES

#: Environment variable naming the default database file.
ENV_DB: Final[str] = "ECG_REVIEW_DB"
#: Default database file when ``ECG_REVIEW_DB`` is unset (relative to the working directory).
DEFAULT_DB: Final[str] = os.path.join("data", "reviews.db")
#: Allowed review decisions.
DECISIONS: Final[tuple[str, ...]] = ("confirm", "dismiss", "relabel")
#: Effective label of a dismissed beat.
DISMISS_LABEL: Final[str] = "N"
#: Seconds a connection waits for another writer's lock before raising.
BUSY_TIMEOUT_S: Final[float] = 30.0

_LABELS_SQL = ", ".join(f"'{c}'" for c in AAMI_CLASSES)


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


#: ``MIGRATIONS[v]`` upgrades a database from ``user_version`` v-1 to v. Append new entries
#: (never edit old ones) and the store upgrades older files on open.
MIGRATIONS: Final[dict[int, Callable[[sqlite3.Connection], None]]] = {1: _migrate_to_1}
#: Schema version this code writes (``PRAGMA user_version``).
SCHEMA_VERSION: Final[int] = max(MIGRATIONS)

# Connections inherited through fork() must never be used or closed in the child (SQLite's
# in-process lock bookkeeping would be wrong); they are parked here so that GC never closes them.
_ORPHANED_CONNECTIONS: list[sqlite3.Connection] = []


@dataclass(frozen=True)
class Decision:
    """One stored review decision (one row of ``decisions``)."""

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
    "effective_label": "object",
}


def effective_label(decision: str, model_label: str, new_label: str | None) -> str:
    """Label after review: confirm -> ``model_label``, dismiss -> ``"N"``, relabel -> ``new_label``."""
    if decision == "confirm":
        return model_label
    if decision == "dismiss":
        return DISMISS_LABEL
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


class ReviewStore:
    """Append-only SQLite store of review decisions. Safe to share between threads; several
    processes may open the same file. Use as a context manager or call :meth:`close`."""

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
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"{self.path}: could not enable WAL (journal_mode={mode})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

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
        """Validate and append one decision, committed (and fsynced) before returning.

        Raises ValueError for an empty record or reviewer, a negative or non-integer
        ``beat_sample``, an unknown ``decision``, a ``model_label``/``new_label`` outside
        N, S, V, F, Q, a relabel without ``new_label`` or a ``new_label`` on confirm/dismiss.
        """
        if not isinstance(record, str) or not record.strip():
            raise ValueError(f"record must be a non-empty string; got {record!r}")
        if isinstance(beat_sample, bool):
            raise ValueError(f"beat_sample must be an integer; got {beat_sample!r}")
        try:
            sample = operator.index(beat_sample)
        except TypeError:
            raise ValueError(f"beat_sample must be an integer; got {beat_sample!r}") from None
        if sample < 0:
            raise ValueError(f"beat_sample must be >= 0; got {sample}")
        if not isinstance(reviewer, str) or not reviewer.strip():
            raise ValueError(f"reviewer must be a non-empty string; got {reviewer!r}")
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}; got {decision!r}")
        _check_label("model_label", model_label)
        if decision == "relabel":
            if new_label is None or new_label == "":
                raise ValueError(f"decision 'relabel' requires new_label (one of {', '.join(AAMI_CLASSES)})")
            _check_label("new_label", new_label)
        elif new_label not in (None, ""):
            raise ValueError(
                f"new_label is only allowed with decision 'relabel'; got "
                f"new_label={new_label!r} with decision {decision!r}"
            )
        else:
            new_label = None
        for name, value in (("comment", comment), ("bundle_version", bundle_version)):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} must be a string; got {type(value).__name__}")

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
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = conn.execute(
                    "INSERT INTO decisions (record, beat_sample, reviewer, decided_at, model_label,"
                    " decision, new_label, comment, bundle_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        rowid = cur.lastrowid
        assert rowid is not None
        return Decision(rowid, *row)

    # -- reading -----------------------------------------------------------------------------

    def _frame(self, rows: list[tuple[Any, ...]]) -> pd.DataFrame:
        df = pd.DataFrame.from_records(rows, columns=list(_COLUMNS))
        df["effective_label"] = [
            effective_label(d, m, n) for d, m, n in zip(df["decision"], df["model_label"], df["new_label"])
        ]
        return df.astype(_FRAME_DTYPES)

    def history(self, record: str, beat_sample: int) -> list[Decision]:
        """All decisions on one beat, oldest first."""
        rows = self._query(
            f"SELECT {', '.join(_COLUMNS)} FROM decisions WHERE record = ? AND beat_sample = ? ORDER BY id",
            (record, operator.index(beat_sample)),
        )
        return [Decision(*r) for r in rows]

    def all_decisions(self, record: str | None = None) -> pd.DataFrame:
        """Every decision (of ``record``, or of all records), in insertion (``id``) order, with
        the :class:`Decision` columns plus ``effective_label``."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM decisions"
        params: tuple[Any, ...] = ()
        if record is not None:
            sql += " WHERE record = ?"
            params = (record,)
        return self._frame(self._query(sql + " ORDER BY id", params))

    def latest_decisions(self, record: str) -> pd.DataFrame:
        """The latest decision (highest ``id``) per reviewed beat of ``record``, one row per
        ``beat_sample``, sorted by ``beat_sample``; same columns as :meth:`all_decisions`."""
        cols = ", ".join(f"d.{c}" for c in _COLUMNS)
        rows = self._query(
            f"SELECT {cols} FROM decisions d JOIN ("
            "  SELECT MAX(id) AS id FROM decisions WHERE record = ? GROUP BY beat_sample"
            ") m ON d.id = m.id ORDER BY d.beat_sample",
            (record,),
        )
        return self._frame(rows).reset_index(drop=True)

    def effective_labels(self, record: str, beats_df: pd.DataFrame) -> pd.Series:
        """Label of each beat after review, indexed by ``beats_df["sample"]`` (same order).

        Unreviewed beats keep the model's ``pred_class``; reviewed beats take the effective
        label of their latest decision. Decisions on samples not in ``beats_df`` are ignored.
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

    def count(self, record: str | None = None) -> int:
        """Number of stored decisions (of ``record``, or of all records)."""
        if record is None:
            return int(self._query("SELECT COUNT(*) FROM decisions")[0][0])
        return int(self._query("SELECT COUNT(*) FROM decisions WHERE record = ?", (record,))[0][0])


__all__ = [
    "DECISIONS",
    "DISMISS_LABEL",
    "Decision",
    "MIGRATIONS",
    "ReviewStore",
    "SCHEMA_VERSION",
    "default_db_path",
    "effective_label",
]


def record_review_key(base: str | os.PathLike, name: str | None = None) -> str:
    """The key reviews of a local record are stored under: ``<name>@<12 hex digits>``, the
    digits being a SHA-256 of the header and signal files. Two different recordings that
    share a name (an uploaded "100" and MIT-BIH's "100") then never share reviews, while the
    same files, wherever they are loaded from, find their earlier reviews again."""
    import hashlib

    p = Path(base)
    h = hashlib.sha256()
    for ext in (".hea", ".dat"):
        f = Path(str(p) + ext)
        if f.is_file():
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return f"{name or p.name}@{h.hexdigest()[:12]}"
