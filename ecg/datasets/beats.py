"""Labelled beat datasets built from WFDB records, cached on disk.

The cache key is a hash of the build parameters, the code's dataset version and the
content of every input file (.hea, .dat, .atr), so a change in any of them rebuilds.
Arrays are stored in ``.npz`` without pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from ecg.io.atomic import atomic_path
from ecg.io.records import load_record, resolve_data_dir
from ecg.labels import AAMI_CLASSES, BEAT_SYMBOLS, SYMBOL_TO_AAMI, rhythm_at
from ecg.processing.pipeline import BeatConfig, beats_from_signal, choose_lead, clean_lead
from ecg.processing.segmentation import RR_FEATURES, reference_labels

#: Bump when the way beats are built changes, so old caches are not reused.
DATASET_VERSION = 5

PeakSource = Literal["reference", "detected"]


@dataclass
class BeatDataset:
    """Beats of several records. Row i of every array is one beat.

    ``waves`` float32 (n, window) in mV; ``rr`` float32 (n, len(RR_FEATURES));
    ``label`` AAMI class ("" for a detection with no reference beat); ``symbol`` the MIT-BIH
    symbol; ``record`` record name; ``sample`` R-peak sample in the record (at its own fs);
    ``rhythm`` the reference rhythm label in force at the beat (e.g. ``"(AFIB"``, "" if none).
    ``dropped`` counts, per record, beats not cut and why ("edge", "gap"); with detected
    peaks also "missed" reference beats (no detection within 150 ms).
    """

    waves: np.ndarray
    rr: np.ndarray
    label: np.ndarray
    symbol: np.ndarray
    record: np.ndarray
    sample: np.ndarray
    config: BeatConfig
    peaks: str
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)
    rr_names: tuple[str, ...] = RR_FEATURES
    rhythm: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.sample.size)

    def subset(self, mask: np.ndarray) -> BeatDataset:
        """Rows where ``mask`` is True (or the given indices)."""
        return BeatDataset(
            self.waves[mask],
            self.rr[mask],
            self.label[mask],
            self.symbol[mask],
            self.record[mask],
            self.sample[mask],
            self.config,
            self.peaks,
            self.dropped,
            self.rr_names,
            None if self.rhythm is None else self.rhythm[mask],
        )

    def records_mask(self, records: Iterable[str]) -> np.ndarray:
        return np.isin(self.record, list(records))

    def class_counts(self) -> dict[str, int]:
        return {c: int(np.sum(self.label == c)) for c in AAMI_CLASSES}


def _file_digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        if p.is_file():
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        else:
            h.update(b"<missing>")
    return h.hexdigest()


def cache_key(records: list[str], data_dir: Path, lead: int | str | None, config: BeatConfig, peaks: str) -> str:
    params = {"version": DATASET_VERSION, "records": records, "lead": lead, "config": config.as_dict(), "peaks": peaks}
    h = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for r in records:
        base = data_dir / r
        h.update(_file_digest([base.with_suffix(".hea"), base.with_suffix(".dat"), base.with_suffix(".atr")]).encode())
    return h.hexdigest()[:20]


def record_dataset(
    name: str, data_dir: Path, lead: int | str | None, config: BeatConfig, peaks: PeakSource
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Beats of one record as arrays, plus the drop counts."""
    rec = load_record(name, data_dir, require_annotations=True)
    j = choose_lead(rec.lead_names, lead)
    sig = rec.lead(j)
    beats_ann = rec.annotations.beats()
    cleaned = clean_lead(sig, rec.fs, config)
    extra: dict[str, int] = {}
    if peaks == "reference":
        pk = beats_ann.sample
        sym = beats_ann.symbol
    elif peaks == "detected":
        from ecg.processing.peaks import detect_r_peaks

        pk = detect_r_peaks(sig, rec.fs)
        sym = reference_labels(beats_ann.sample, beats_ann.symbol, pk, rec.fs)
        extra["missed"] = int(beats_ann.sample.size - np.count_nonzero(sym != ""))
    else:
        raise ValueError(f"peaks must be 'reference' or 'detected', got {peaks!r}")
    # Reference annotations can share a sample in rare cases; keep the first.
    uniq = np.concatenate(([True], np.diff(pk) > 0)) if pk.size else np.zeros(0, bool)
    extra["duplicate"] = int((~uniq).sum())
    pk, sym = pk[uniq], np.asarray(sym, dtype=object)[uniq]
    b = beats_from_signal(sig, rec.fs, pk, config, cleaned=cleaned)
    sym_kept = sym[b.kept].astype(str)
    label = np.array([SYMBOL_TO_AAMI.get(s, "") for s in sym_kept], dtype="<U1")
    arrays = {
        "waves": b.waves.astype(np.float32),
        "rr": b.rr.astype(np.float32),
        "label": label,
        "symbol": sym_kept.astype("<U2"),
        "record": np.full(len(b), name, dtype="<U16"),
        "sample": b.sample.astype(np.int64),
        "rhythm": rhythm_at(rec.annotations.sample, rec.annotations.symbol, rec.annotations.aux, b.sample).astype(
            "<U16"
        ),
    }
    return arrays, {**b.dropped, **extra}


def build_beat_dataset(
    records: Iterable[str],
    data_dir: str | os.PathLike | None = None,
    *,
    lead: int | str | None = None,
    config: BeatConfig = BeatConfig(),
    peaks: PeakSource = "reference",
    cache_dir: str | os.PathLike | None = "data/cache",
    verbose: bool = False,
) -> BeatDataset:
    """Beats, RR features, AAMI labels, record ids and sample positions of ``records``.

    ``peaks="reference"`` cuts beats at the annotated beat positions (training, literature
    comparison); ``"detected"`` runs :func:`ecg.detect_r_peaks` and labels each detection
    with the reference beat within 150 ms ("" if none). ``lead=None`` picks MLII when
    present, else the first lead. Results are cached under ``cache_dir`` (``None``: no cache).
    """
    records = [str(r) for r in records]
    ddir = resolve_data_dir(data_dir)
    path = None
    if cache_dir is not None:
        key = cache_key(records, ddir, lead, config, peaks)
        path = Path(cache_dir) / f"beats-{peaks}-{key}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                return BeatDataset(
                    z["waves"],
                    z["rr"],
                    z["label"],
                    z["symbol"],
                    z["record"],
                    z["sample"],
                    config,
                    peaks,
                    meta["dropped"],
                    rhythm=z["rhythm"],
                )
    t0 = time.perf_counter()
    parts, dropped = [], {}
    for r in records:
        arrays, drops = record_dataset(r, ddir, lead, config, peaks)
        parts.append(arrays)
        dropped[r] = drops
        if verbose:
            print(f"  {r}: {arrays['sample'].size} beats, dropped {drops}", flush=True)
    cat = {
        k: np.concatenate([p[k] for p in parts]) if parts else np.empty(0)
        for k in ("waves", "rr", "label", "symbol", "record", "sample", "rhythm")
    }
    ds = BeatDataset(
        cat["waves"],
        cat["rr"],
        cat["label"],
        cat["symbol"],
        cat["record"],
        cat["sample"],
        config,
        peaks,
        dropped,
        rhythm=cat["rhythm"],
    )
    if path is not None:
        meta = json.dumps({"dropped": dropped, "records": records, "seconds": time.perf_counter() - t0})
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, meta=np.array(meta), **cat)
    return ds


__all__ = ["BEAT_SYMBOLS", "BeatDataset", "DATASET_VERSION", "build_beat_dataset", "cache_key", "record_dataset"]
