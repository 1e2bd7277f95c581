"""Beat tables as CSV / Parquet, and the summary as JSON; every file is written atomically.

The CSV form: one header line with the column names, no index, booleans as ``true`` /
``false``, missing numbers (e.g. ``rr_prev_s`` of the first beat) as empty fields, and the
empty string for "no reference" / "not flagged" text. Floats are written with the shortest
representation that round-trips exactly. :func:`read_beat_table` reads either format back to
the canonical dtypes of :mod:`ecg.scoring.schema` (strings in pandas' default string dtype).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecg.io.atomic import atomic_write_text, atomic_write_with
from ecg.scoring.summary_types import HolterSummary

#: pandas' default dtype for a column of Python strings (``object`` before pandas 3, ``str`` after).
STR_DTYPE = pd.Series(["a"]).dtype

INT_COLUMNS: tuple[str, ...] = ("sample", "family")
FLOAT_COLUMNS: tuple[str, ...] = ("time_s", "rr_prev_s", "rr_next_s", "anomaly_score")
STR_COLUMNS: tuple[str, ...] = ("lead", "pred_class", "flag_reason", "ref_symbol", "ref_class", "quality")
BOOL_COLUMNS: tuple[str, ...] = ("flagged", "af", "nn")

FORMATS: tuple[str, ...] = ("csv", "parquet")

_TRUE = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def _is_float_column(name: str) -> bool:
    return name in FLOAT_COLUMNS or name.startswith("prob_")


def normalise_beat_table(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with a fresh RangeIndex and the schema's dtypes: ``sample`` and ``family`` int64,
    times / RR / probabilities / scores float64, ``flagged`` / ``af`` / ``nn`` bool, text columns in
    :data:`STR_DTYPE` with missing text as ``""``. Other columns are left as they are."""
    out = df.reset_index(drop=True).copy()
    for c in out.columns:
        if c in INT_COLUMNS:
            out[c] = out[c].astype(np.int64)
        elif _is_float_column(c):
            out[c] = out[c].astype(np.float64)
        elif c in BOOL_COLUMNS:
            out[c] = out[c].astype(bool)
        elif c in STR_COLUMNS:
            col = out[c].astype(object)
            col = col.where(col.notna(), "")
            out[c] = col.map(str).astype(STR_DTYPE)
    return out


def _csv_text(df: pd.DataFrame) -> str:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == bool:
            out[c] = np.where(out[c].to_numpy(), "true", "false")
    return out.to_csv(index=False, na_rep="", lineterminator="\n")


def write_beat_table(
    df: pd.DataFrame, out_dir: str | os.PathLike, record_name: str, formats: Sequence[str] = FORMATS
) -> list[Path]:
    """Write ``out_dir/<record_name>_beats.csv`` and / or ``.parquet`` atomically.

    The frame is normalised first (:func:`normalise_beat_table`); its index is not written.
    Returns the paths written, in the order of ``formats``.
    """
    if isinstance(formats, str):
        formats = (formats,)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown beat-table formats {unknown}; expected some of {list(FORMATS)}")
    table = normalise_beat_table(df)
    out = Path(out_dir)
    paths = []
    for fmt in formats:
        path = out / f"{record_name}_beats.{fmt}"
        if fmt == "csv":
            atomic_write_text(path, _csv_text(table))
        else:
            atomic_write_with(path, lambda tmp: table.to_parquet(tmp, index=False, engine="pyarrow"))
        paths.append(path)
    return paths


def _parse_bool(col: pd.Series, name: str, path: Path) -> pd.Series:
    keys = col.astype(str).str.strip().str.lower()
    bad = ~keys.isin(list(_TRUE))
    if bad.any():
        raise ValueError(f"{path}: column {name!r} holds non-boolean values, e.g. {col[bad].iloc[0]!r}")
    return keys.map(_TRUE).astype(bool)


def read_beat_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a beat table written by :func:`write_beat_table` (``.csv`` or ``.parquet``) with
    the schema's dtypes (see :func:`normalise_beat_table`)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return normalise_beat_table(pd.read_parquet(p, engine="pyarrow"))
    if suffix != ".csv":
        raise ValueError(f"{p}: unknown beat-table format (expected .csv or .parquet)")
    header = pd.read_csv(p, nrows=0).columns
    dtype: dict[str, Any] = {}
    na_values: dict[str, list[str]] = {}
    for c in header:
        if c in INT_COLUMNS:
            dtype[c] = np.int64
        elif _is_float_column(c):
            dtype[c] = np.float64
            na_values[c] = ["", "nan", "NaN", "NA"]
        elif c in STR_COLUMNS or c in BOOL_COLUMNS:
            dtype[c] = str
    # pandas 3 parses floats exactly by default (and deprecates ``float_precision``)
    precise = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    df = pd.read_csv(p, dtype=dtype, keep_default_na=False, na_values=na_values, **precise)
    for c in header:
        if c in BOOL_COLUMNS:
            df[c] = _parse_bool(df[c], c, p)
    return normalise_beat_table(df)


def _jsonable(x: Any) -> Any:
    """Builtins only: NumPy scalars / arrays to Python, NaN / inf to None, dates to ISO."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_jsonable(v) for v in x.tolist()]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, (datetime, date, time)):
        return x.isoformat()
    if isinstance(x, os.PathLike):
        return os.fspath(x)
    if x is None or isinstance(x, str):
        return x
    raise TypeError(f"cannot write a {type(x).__name__} to JSON")


def write_summary_json(summary: HolterSummary | dict, path: str | os.PathLike) -> Path:
    """Write ``summary`` (a :class:`~ecg.scoring.summary_types.HolterSummary` or a dict) as
    indented UTF-8 JSON atomically (NaN / inf written as null)."""
    if isinstance(summary, HolterSummary):
        summary = summary.to_dict()
    text = json.dumps(_jsonable(summary), indent=2, ensure_ascii=False, allow_nan=False)
    return atomic_write_text(path, text + "\n")


__all__ = ["FORMATS", "STR_DTYPE", "normalise_beat_table", "read_beat_table", "write_beat_table", "write_summary_json"]
