"""Downloading PhysioNet databases (needs the network; everything else works offline)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import wfdb

from ecg.errors import DownloadError


def download_database(
    database: str = "mitdb",
    dest: str | os.PathLike = "data/mitdb",
    records: Sequence[str] | str = "all",
    annotators: Sequence[str] | str | None = "all",
    overwrite: bool = False,
) -> Path:
    """Download a PhysioNet database (e.g. ``"mitdb"``) into ``dest`` with ``wfdb.dl_database``.

    Returns the destination directory. Raises :class:`DownloadError` with a clear message
    when PhysioNet cannot be reached or the database does not exist.
    """
    dest_path = Path(dest)
    try:
        dest_path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"{dest_path}: cannot create the download directory ({exc.strerror})") from None
    rec_arg = records if isinstance(records, str) else list(records)
    ann_arg = annotators if (annotators is None or isinstance(annotators, str)) else list(annotators)
    try:
        wfdb.dl_database(database, str(dest_path), records=rec_arg, annotators=ann_arg, overwrite=overwrite)
    except Exception as exc:  # requests' ConnectionError, HTTPError, ValueError for unknown dbs
        raise DownloadError(
            f"cannot download PhysioNet database {database!r} into {dest_path}: {type(exc).__name__}: {exc}. "
            "Check that you are online and that the database name is right (e.g. 'mitdb'); "
            "or copy the files into the folder by hand."
        ) from None
    if not any(dest_path.glob("*.hea")):
        raise DownloadError(f"download of {database!r} into {dest_path} finished but no record headers arrived")
    return dest_path
