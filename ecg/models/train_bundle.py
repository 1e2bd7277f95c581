"""Train both models on DS1 and write a bundle (``ecg train``)."""

from __future__ import annotations

import dataclasses
import os
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from ecg.datasets import DS1, DS2, build_beat_dataset
from ecg.datasets.beats import BeatDataset
from ecg.models.bundle import ModelBundle
from ecg.models.features import qrs_amplitude
from ecg.models.training import (
    MODEL_CLASSES,
    PreparedRecord,
    TrainConfig,
    TrainLog,
    calibrate_scorer,
    prepare,
    seed_everything,
    train_autoencoder,
    train_classifier,
)
from ecg.processing.pipeline import SECOND_LEAD, BeatConfig

#: The production bundle's training records: every non-paced MIT-BIH record.
PRODUCTION_RECORDS: tuple[str, ...] = tuple(sorted(DS1 + DS2))


def code_version() -> str:
    """Package version plus the git commit when run from a checkout."""
    from ecg import __version__

    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, cwd=here
        ).stdout.strip()
        # Uncommitted changes to the code (the bundles themselves excluded) mark the version dirty.
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", str(here.parent), f":!{here / 'bundles'}"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=here,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", ""
    if not sha:
        return __version__
    return f"{__version__}+{sha}" + (".dirty" if dirty else "")


#: Suffix of a training sequence cut from a record's second lead (``"101/2"``).
SECOND_LEAD_SUFFIX = "/2"


def patient_of(sequence: str) -> str:
    """The record (patient) a training sequence comes from."""
    return sequence.split("/", 1)[0]


#: Suffix of a training sequence on a projected lead mixed from both leads (``"101/p"``).
PROJECTED_LEAD_SUFFIX = "/p"
TRAIN_LEADS: tuple[str, ...] = ("primary", "second", "projected")


def projected_lead_dataset(primary: BeatDataset, second: BeatDataset, seed: int) -> BeatDataset:
    """Beats on a lead the recorder never had: per record, ``cos(a) * MLII + sin(a) * second``
    with both leads first scaled to their record's QRS amplitude and one angle ``a`` drawn
    uniformly per record (seeded). A surface lead is, to first order, a projection of the
    heart's electrical vector (Einthoven; Dower 1968), so mixing two leads gives plausible
    morphologies of leads that are neither. Only beats present on both leads are kept."""
    rng = np.random.default_rng(seed)
    pre = primary.config.window.pre
    keep_p = np.zeros(len(primary), bool)
    waves = np.zeros_like(primary.waves)
    for name in dict.fromkeys(primary.record.tolist()):
        ip = np.flatnonzero(primary.record == name)
        is_ = np.flatnonzero(second.record == name)
        angle = rng.uniform(0.0, 2.0 * np.pi)
        common, jp, js = np.intersect1d(primary.sample[ip], second.sample[is_], return_indices=True)
        if common.size == 0:
            continue
        wp, ws = primary.waves[ip[jp]], second.waves[is_[js]]
        wp = (wp - np.median(wp, axis=1, keepdims=True)) / qrs_amplitude(wp, pre)
        ws = (ws - np.median(ws, axis=1, keepdims=True)) / qrs_amplitude(ws, pre)
        waves[ip[jp]] = (np.cos(angle) * wp + np.sin(angle) * ws).astype(np.float32)
        keep_p[ip[jp]] = True
    mixed = primary.subset(keep_p)
    return dataclasses.replace(mixed, waves=waves[keep_p])


def training_sequences(
    records: Sequence[str],
    data_dir: str | os.PathLike,
    cfg: TrainConfig,
    beat_config: BeatConfig,
    cache_dir: str | os.PathLike | None,
) -> dict[str, PreparedRecord]:
    """Prepared beat sequences per record and per trained lead (:attr:`TrainConfig.train_leads`):
    the primary lead under the record's name, the second lead under ``name + "/2"``, a
    projected lead (:func:`projected_lead_dataset`) under ``name + "/p"``."""
    unknown = sorted(set(cfg.train_leads) - set(TRAIN_LEADS))
    if unknown or not cfg.train_leads:
        raise ValueError(f"train_leads must name some of {list(TRAIN_LEADS)}, got {list(cfg.train_leads)}")
    datasets: dict[str, BeatDataset] = {}

    def dataset(which: str) -> BeatDataset:
        if which not in datasets:
            if which == "projected":
                datasets[which] = projected_lead_dataset(dataset("primary"), dataset("second"), cfg.seed)
            else:
                datasets[which] = build_beat_dataset(
                    records,
                    data_dir,
                    lead=None if which == "primary" else SECOND_LEAD,
                    config=beat_config,
                    cache_dir=cache_dir,
                )
        return datasets[which]

    suffixes = {"primary": "", "second": SECOND_LEAD_SUFFIX, "projected": PROJECTED_LEAD_SUFFIX}
    out: dict[str, PreparedRecord] = {}
    for which in cfg.train_leads:
        suffix = suffixes[which]
        out.update(
            {
                k + suffix: dataclasses.replace(v, name=k + suffix)
                for k, v in prepare(dataset(which), tuple(cfg.rr_inputs), cfg.polarity).items()
            }
        )
    return out


def train_bundle(
    data_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    cfg: TrainConfig | None = None,
    *,
    records: Sequence[str] = DS1,
    beat_config: BeatConfig = BeatConfig(),
    progress: bool = True,
    echo: Callable[[str], None] | None = print,
    cache_dir: str | os.PathLike | None = "data/cache",
    production: bool = False,
) -> ModelBundle:
    """Train the classifier and the autoencoder on ``records`` (DS1) minus the validation
    patients, calibrate the anomaly threshold on the validation patients, and save the bundle
    with a ``.log.jsonl`` training log beside it.

    ``production=True`` builds the production bundle: the same recipe on ``records`` that may
    include DS2 (by default all 44 non-paced records, :data:`PRODUCTION_RECORDS`); no DS2
    figure can be quoted for it. Otherwise DS2 records are refused.
    """
    cfg = TrainConfig() if cfg is None else cfg
    kind = "production" if production else "ds1"
    if production and records is DS1:
        records = PRODUCTION_RECORDS
    leaked = sorted(set(records) & set(DS2))
    if leaked and not production:
        raise ValueError(f"training records include DS2 records {leaked}; train on DS1 only")
    missing_val = sorted(set(cfg.val_records) - set(records))
    if missing_val:
        raise ValueError(f"validation records {missing_val} are not among the training records")
    t0 = time.perf_counter()
    seed_everything(cfg.seed, cfg.threads)
    log = TrainLog(echo=echo if not progress else None)
    recs = training_sequences(records, data_dir, cfg, beat_config, cache_dir)
    val = {k: v for k, v in recs.items() if patient_of(k) in cfg.val_records}
    train = {k: v for k, v in recs.items() if patient_of(k) not in cfg.val_records}
    log.add(
        stage="data",
        train_records=sorted(train),
        val_records=sorted(val),
        train_beats=int(sum(r.target.size for r in train.values())),
        val_beats=int(sum(r.target.size for r in val.values())),
    )

    t_clf = time.perf_counter()
    clf = train_classifier(train, val, cfg, log, progress)
    t_clf = time.perf_counter() - t_clf
    t_ae = time.perf_counter()
    ae = train_autoencoder(train, val, cfg, log, progress)
    t_ae = time.perf_counter() - t_ae
    scorer = calibrate_scorer(ae, train, val, cfg, log)
    seconds = time.perf_counter() - t0

    n_rr = next(iter(recs.values())).inputs.rr.shape[1]
    bundle = ModelBundle(
        config=beat_config,
        classes=MODEL_CLASSES,
        autoencoder=ae,
        classifier=clf,
        scorer=scorer,
        ae_params={
            "n_channels": 1,
            "hidden": cfg.ae_hidden,
            "latent": cfg.ae_latent,
            "seq_len": beat_config.window.length,
            "cell": cfg.cell,
            "frame": cfg.frame,
        },
        clf_params={
            "n_channels": len(cfg.clf_channels),
            "n_rr": n_rr,
            "n_classes": len(MODEL_CLASSES),
            "beat_hidden": cfg.beat_hidden,
            "seq_hidden": cfg.seq_hidden,
            "cell": cfg.cell,
            "frame": cfg.frame,
            **({"attention": True} if cfg.attention else {}),
        },
        seq_len=64,
        clf_channels=tuple(cfg.clf_channels),
        rr_inputs=tuple(cfg.rr_inputs),
        polarity=cfg.polarity,
        version=f"{cfg.cell}-{kind}-{datetime.now(timezone.utc):%Y%m%d}-seed{cfg.seed}",
        metadata={
            "trained_on": "MIT-BIH Arrhythmia Database, all 44 non-paced records (DS1 + DS2); no DS2 figure applies"
            if production
            else "MIT-BIH Arrhythmia Database, DS1 (de Chazal 2004 inter-patient split)",
            "train_records": sorted({patient_of(k) for k in train}),
            "val_records": sorted({patient_of(k) for k in val}),
            "train_leads": list(cfg.train_leads),
            "lead": "MLII (first lead when MLII is absent)"
            if tuple(cfg.train_leads) == ("primary",)
            else "MLII and the second lead (V1, V2, V4 or V5)"
            + (", and projected leads mixed from both" if "projected" in cfg.train_leads else ""),
            "train_config": cfg.as_dict(),
            "code_version": code_version(),
            "torch_version": torch.__version__,
            "platform": f"{platform.system()} {platform.machine()}, {torch.get_num_threads()} threads",
            "train_seconds": {"classifier": t_clf, "autoencoder": t_ae, "total": seconds},
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "validation": [row for row in log.lines if row.get("model") == "calibration"][-1],
            "model_fs_hz": beat_config.window.fs,
            "classifier_note": "Q (8 beats in DS1) is not learned: Q beats are left out of the loss; "
            "the classifier never predicts Q (prob_Q is 0).",
        },
    )
    out = bundle.save(out_path)
    log.write(Path(str(out) + ".log.jsonl"))
    return bundle


__all__ = [
    "PRODUCTION_RECORDS",
    "PROJECTED_LEAD_SUFFIX",
    "SECOND_LEAD_SUFFIX",
    "TRAIN_LEADS",
    "projected_lead_dataset",
    "code_version",
    "patient_of",
    "train_bundle",
    "training_sequences",
]
