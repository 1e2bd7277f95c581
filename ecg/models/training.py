"""Training both models on DS1, with validation on DS1 patients held out from training.

Nothing here reads DS2. Seeded and deterministic on CPU.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ecg.datasets.beats import BeatDataset
from ecg.evaluate.metrics import confusion_matrix, ec57_statistics, roc_auc
from ecg.labels import AAMI_CLASSES
from ecg.models.bundle import QUANTILE_PROBS, AnomalyScorer
from ecg.models.features import RR_INPUTS, ModelInputs, model_inputs
from ecg.models.inference import ae_errors, predict_proba
from ecg.models.networks import BeatSequenceClassifier, ClassifierEnsemble, GRUAutoencoder

#: Classes the classifier predicts. Q (8 beats in DS1) is too rare to learn: Q beats are left
#: out of the loss, and the classifier never predicts Q.
MODEL_CLASSES: tuple[str, ...] = ("N", "S", "V", "F")

#: DS1 patients held out from training for early stopping, model selection and threshold
#: calibration. Chosen to hold S, V and F beats: 118 and 201 (S), 201/215 (V), 124 (S, V, F).
DEFAULT_VAL_RECORDS: tuple[str, ...] = ("101", "118", "124", "201", "215")


@dataclass
class TrainConfig:
    """Hyper-parameters (chosen on DS1 validation patients only)."""

    seed: int = 0
    val_records: tuple[str, ...] = DEFAULT_VAL_RECORDS
    cell: str = "gru"
    attention: bool = False  # a self-attention layer over the classifier's beat-sequence states
    frame: int = 5  # samples per recurrent step, both models (5 = 50 ms at 100 Hz)
    # autoencoder
    ae_hidden: int = 48
    ae_latent: int = 12
    ae_epochs: int = 12
    ae_batch: int = 256
    ae_lr: float = 2e-3
    ae_max_train_beats: int = 20000
    # classifier
    beat_hidden: int = 32
    seq_hidden: int = 32
    clf_epochs: int = 20
    clf_seq_len: int = 32
    clf_batch: int = 16
    clf_lr: float = 2e-3
    class_weight_power: float = 0.5
    clf_channels: tuple[int, ...] = (1,)
    n_classifiers: int = 1  # ensemble members, seeds seed, seed+1000, ...; probabilities averaged
    clf_refit: bool = False  # retrain on train + validation patients for the early-stopped epoch count
    rr_inputs: tuple[str, ...] = RR_INPUTS  # names from ecg.models.features.RR_INPUT_NAMES
    polarity: bool = True  # beats turned upright per record and lead (features.normalise_waves); DS1 CV, issue 10
    train_leads: tuple[str, ...] = (
        "primary",
        "second",
    )  # "primary" (MLII), "second" (V1/V2/V4/V5), "projected"; DS1 CV
    augment: bool = True
    augment_device: bool = False  # also imitate other recorders: band limits and baseline wander (augment_waves)
    patience: int = 6
    # calibration
    target_normal_flag_rate: float = 0.01
    rr_weight: float = 1.0
    threads: int = 2

    def as_dict(self) -> dict:
        d = asdict(self)
        d["val_records"] = list(self.val_records)
        d["clf_channels"] = list(self.clf_channels)
        d["rr_inputs"] = list(self.rr_inputs)
        d["train_leads"] = list(self.train_leads)
        return d


@dataclass
class PreparedRecord:
    name: str
    inputs: ModelInputs
    target: np.ndarray  # int64 index into MODEL_CLASSES, -100 for Q / unlabelled
    label: np.ndarray  # AAMI letters
    rhythm: np.ndarray | None = None  # reference rhythm label per beat ("(AFIB", ...)


@dataclass
class TrainLog:
    lines: list[dict] = field(default_factory=list)
    echo: Callable[[str], None] | None = print

    def add(self, **row) -> None:
        self.lines.append(row)
        if self.echo:
            self.echo(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))

    def write(self, path: Path) -> None:
        from ecg.io.atomic import atomic_write_text

        atomic_write_text(path, "\n".join(json.dumps(r) for r in self.lines) + "\n")


def seed_everything(seed: int, threads: int = 2) -> None:
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def prepare(
    ds: BeatDataset, rr_names: tuple[str, ...] = RR_INPUTS, polarity: bool = False
) -> dict[str, PreparedRecord]:
    """Per-record model inputs (normalised per record, RR inputs ``rr_names``) and targets."""
    out = {}
    lookup = {c: i for i, c in enumerate(MODEL_CLASSES)}
    pre = ds.config.window.pre
    for name in dict.fromkeys(ds.record.tolist()):
        m = ds.record == name
        inp = model_inputs(ds.waves[m], ds.rr[m], pre, rr_names, polarity)
        lab = ds.label[m]
        target = np.array([lookup.get(c, -100) for c in lab], dtype=np.int64)
        out[name] = PreparedRecord(name, inp, target, lab, None if ds.rhythm is None else ds.rhythm[m])
    return out


# --------------------------------------------------------------------------------- autoencoder


def train_autoencoder(
    train: dict[str, PreparedRecord],
    val: dict[str, PreparedRecord],
    cfg: TrainConfig,
    log: TrainLog,
    progress: bool = True,
) -> GRUAutoencoder:
    """Fit on normal beats of the training patients; keep the epoch with the lowest
    validation error on the held-out patients' normal beats."""
    rng = np.random.default_rng(cfg.seed)
    x_tr = np.concatenate([r.inputs.waves[r.label == "N", :, :1] for r in train.values()])
    if x_tr.shape[0] > cfg.ae_max_train_beats:
        x_tr = x_tr[rng.choice(x_tr.shape[0], cfg.ae_max_train_beats, replace=False)]
    x_va = np.concatenate([r.inputs.waves[r.label == "N", :, :1] for r in val.values()])
    model = GRUAutoencoder(1, cfg.ae_hidden, cfg.ae_latent, x_tr.shape[1], cfg.cell, frame=cfg.frame)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.ae_lr)
    best, best_state = math.inf, None
    bar = _bar(cfg.ae_epochs, "autoencoder", progress)
    for epoch in range(cfg.ae_epochs):
        t0 = time.perf_counter()
        model.train()
        perm = rng.permutation(x_tr.shape[0])
        total = 0.0
        for i in range(0, perm.size, cfg.ae_batch):
            x = torch.from_numpy(x_tr[perm[i : i + cfg.ae_batch]])
            loss = ((model(x) - x) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += float(loss.detach()) * x.shape[0]
        val_err = float(np.mean(ae_errors(model, x_va)))
        log.add(
            model="autoencoder",
            epoch=epoch + 1,
            train_mse=total / perm.size,
            val_mse=val_err,
            seconds=time.perf_counter() - t0,
        )
        if val_err < best:
            best, best_state = val_err, {k: v.clone() for k, v in model.state_dict().items()}
        bar.update(1)
        bar.set_postfix(val_mse=f"{val_err:.4f}")
    bar.close()
    model.load_state_dict(best_state)
    model.eval()
    return model


# --------------------------------------------------------------------------------- classifier


def _crops(records: list[PreparedRecord], seq_len: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Random-offset tiling of every record into runs of ``seq_len`` beats."""
    out = []
    for ri, r in enumerate(records):
        n = r.target.size
        if n < seq_len:
            continue
        start = int(rng.integers(0, seq_len))
        for s in range(start, n - seq_len + 1, seq_len):
            out.append((ri, s))
        out.append((ri, 0))
    return out


def augment_waves(w: np.ndarray, rng: np.random.Generator, max_shift: int = 2, device: bool = False) -> np.ndarray:
    """Training augmentation for (crops, beats, time, channels) waves: a random gain per crop
    (0.7-1.3), Gaussian noise (sd 0.03 of the QRS amplitude) and a random time shift of up to
    ``max_shift`` samples per beat (R-peak jitter between annotation and detection).

    ``device=True`` adds what another recorder does to a beat, per crop: a band limit (a
    3-tap low-pass of random strength, as a 125-250 Hz recorder with a 40 Hz anti-alias
    filter leaves after resampling to the model's 100 Hz) and baseline wander (a random
    linear tilt across each beat, up to 0.15 of the QRS amplitude)."""
    b, n, t, c = w.shape
    if device:
        a = rng.uniform(0.0, 0.3, size=(b, 1, 1, 1)).astype(np.float32)
        padded = np.concatenate([w[:, :, :1], w, w[:, :, -1:]], axis=2)
        w = (1 - 2 * a) * w + a * (padded[:, :, :-2] + padded[:, :, 2:])
        tilt = rng.uniform(-0.15, 0.15, size=(b, n, 1, 1)).astype(np.float32)
        w = w + tilt * np.linspace(-1.0, 1.0, t, dtype=np.float32)[None, None, :, None]
    out = w * rng.uniform(0.7, 1.3, size=(b, 1, 1, 1)).astype(np.float32)
    out = out + rng.normal(0, 0.03, size=out.shape).astype(np.float32)
    shift = rng.integers(-max_shift, max_shift + 1, size=(b, n))
    idx = np.clip(np.arange(t)[None, None, :] - shift[:, :, None], 0, t - 1)
    out = np.take_along_axis(out, idx[..., None], axis=2)
    return out.astype(np.float32)


def class_weights(train: dict[str, PreparedRecord], power: float) -> np.ndarray:
    counts = np.array(
        [sum(int(np.sum(r.target == k)) for r in train.values()) for k in range(len(MODEL_CLASSES))], dtype=np.float64
    )
    w = (counts.sum() / np.maximum(counts, 1)) ** power
    return (w / w[0]).astype(np.float32)


def train_classifier(
    train: dict[str, PreparedRecord],
    val: dict[str, PreparedRecord],
    cfg: TrainConfig,
    log: TrainLog,
    progress: bool = True,
) -> BeatSequenceClassifier | ClassifierEnsemble:
    """The classifier: one network, or with ``cfg.n_classifiers > 1`` an ensemble of networks
    trained alike from seeds ``seed + 1000 k`` (see :func:`train_classifier_member`)."""
    if cfg.n_classifiers < 1:
        raise ValueError(f"n_classifiers must be >= 1, got {cfg.n_classifiers}")
    members = [train_classifier_member(train, val, cfg, log, progress, member=k) for k in range(cfg.n_classifiers)]
    return members[0] if len(members) == 1 else ClassifierEnsemble(members).eval()


def train_classifier_member(
    train: dict[str, PreparedRecord],
    val: dict[str, PreparedRecord],
    cfg: TrainConfig,
    log: TrainLog,
    progress: bool = True,
    member: int = 0,
) -> BeatSequenceClassifier:
    """Weighted cross-entropy (weights = inverse class frequency ** class_weight_power) on
    runs of consecutive beats, with amplitude, noise and time-shift augmentation; early
    stopping on the held-out patients' mean of EC57 VEB F1 and SVEB F1.

    With ``cfg.clf_refit`` the network is then trained afresh on the training *and*
    validation patients for the number of epochs early stopping chose (the validation
    patients' beats are not used for anything else after that)."""

    seed = cfg.seed + 1000 * member
    name = "classifier" if cfg.n_classifiers == 1 else f"classifier {member + 1}/{cfg.n_classifiers}"

    def validate(model: BeatSequenceClassifier) -> tuple[float, dict, np.ndarray]:
        y_true, y_pred = [], []
        for r in val.values():
            keep = r.target >= 0
            y_true.append(r.label[keep])
            y_pred.append(
                np.asarray(MODEL_CLASSES)[predict_proba(model, r.inputs, channels=cfg.clf_channels).argmax(1)][keep]
            )
        cm = confusion_matrix(np.concatenate(y_true), np.concatenate(y_pred))
        st = ec57_statistics(cm)
        return float(np.nan_to_num(0.5 * (st["veb"]["f1"] + st["sveb"]["f1"]))), st, cm

    torch.manual_seed(seed)
    model, best_epoch = _fit_classifier(train, cfg, log, progress, member, seed + 1, cfg.clf_epochs, validate, name)
    if cfg.clf_refit:
        torch.manual_seed(seed + 500)
        both = {**train, **val}
        model, _ = _fit_classifier(both, cfg, log, progress, member, seed + 2, best_epoch, None, f"{name} refit")
    return model


def _fit_classifier(
    recs_by_name: dict[str, PreparedRecord],
    cfg: TrainConfig,
    log: TrainLog,
    progress: bool,
    member: int,
    rng_seed: int,
    epochs: int,
    validate: Callable[[BeatSequenceClassifier], tuple[float, dict, np.ndarray]] | None,
    desc: str,
) -> tuple[BeatSequenceClassifier, int]:
    """Train one network for up to ``epochs`` epochs. With ``validate``, keep the best epoch and
    stop after ``cfg.patience`` epochs without improvement; returns the model and the 1-based
    epoch it comes from."""
    rng = np.random.default_rng(rng_seed)
    ch = list(cfg.clf_channels)
    recs = list(recs_by_name.values())
    waves_tr = [np.ascontiguousarray(r.inputs.waves[:, :, ch]) for r in recs]
    first = recs[0].inputs
    model = BeatSequenceClassifier(
        len(ch),
        first.rr.shape[1],
        len(MODEL_CLASSES),
        cfg.beat_hidden,
        cfg.seq_hidden,
        cfg.cell,
        frame=cfg.frame,
        attention=cfg.attention,
    )
    weights = torch.from_numpy(class_weights(recs_by_name, cfg.class_weight_power))
    log.add(
        model="classifier", member=member, refit=validate is None, class_weights=[round(float(w), 3) for w in weights]
    )
    loss_fn = nn.CrossEntropyLoss(weight=weights, ignore_index=-100)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.clf_lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.clf_epochs)
    best, best_state, best_epoch, since_best = -1.0, None, epochs, 0
    bar = _bar(epochs, desc, progress)
    L = cfg.clf_seq_len
    for epoch in range(epochs):
        t0 = time.perf_counter()
        model.train()
        crops = _crops(recs, L, rng)
        order = rng.permutation(len(crops))
        total, count = 0.0, 0
        for i in range(0, order.size, cfg.clf_batch):
            batch = [crops[j] for j in order[i : i + cfg.clf_batch]]
            w_np = np.stack([waves_tr[ri][s : s + L] for ri, s in batch])
            if cfg.augment:
                w_np = augment_waves(w_np, rng, device=cfg.augment_device)
            w = torch.from_numpy(w_np)
            r = torch.from_numpy(np.stack([recs[ri].inputs.rr[s : s + L] for ri, s in batch]))
            y = torch.from_numpy(np.stack([recs[ri].target[s : s + L] for ri, s in batch]))
            logits = model(w, r)
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += float(loss.detach()) * len(batch)
            count += len(batch)
        sched.step()
        bar.update(1)
        if validate is None:
            log.add(
                model="classifier",
                member=member,
                refit=True,
                epoch=epoch + 1,
                train_loss=total / max(count, 1),
                seconds=time.perf_counter() - t0,
            )
            continue
        score, st, cm = validate(model)
        log.add(
            model="classifier",
            member=member,
            epoch=epoch + 1,
            train_loss=total / max(count, 1),
            val_score=score,
            val_veb_f1=st["veb"]["f1"],
            val_sveb_f1=st["sveb"]["f1"],
            val_macro_f1=st["macro_f1"],
            val_confusion=cm[:4, :4].tolist(),
            seconds=time.perf_counter() - t0,
        )
        if score > best:
            best, best_state, best_epoch, since_best = (
                score,
                {k: v.clone() for k, v in model.state_dict().items()},
                epoch + 1,
                0,
            )
        else:
            since_best += 1
        bar.set_postfix(val_score=f"{score:.3f}")
        if since_best >= cfg.patience:
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, best_epoch


def _bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="epoch", disable=not enabled, leave=True)


__all__ = [
    "AAMI_CLASSES",
    "DEFAULT_VAL_RECORDS",
    "MODEL_CLASSES",
    "PreparedRecord",
    "TrainConfig",
    "TrainLog",
    "prepare",
    "seed_everything",
    "train_autoencoder",
    "train_classifier",
    "train_classifier_member",
]


# --------------------------------------------------------------------------------- calibration

RR_WEIGHT_GRID: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)


def calibrate_scorer(
    ae: GRUAutoencoder,
    train: dict[str, PreparedRecord],
    val: dict[str, PreparedRecord],
    cfg: TrainConfig,
    log: TrainLog,
) -> AnomalyScorer:
    """Fit the RR spread on normal training beats, choose the RR weight by ROC-AUC (normal vs
    S/V/F) on the held-out DS1 patients, and set the threshold so that
    ``target_normal_flag_rate`` of their normal beats score above it."""

    rr_n = np.concatenate([r.inputs.rr[r.label == "N", :2] for r in train.values()])
    sigma = tuple(float(max(0.02, 1.4826 * np.median(np.abs(rr_n[:, k] - np.median(rr_n[:, k]))))) for k in range(2))
    errs = {name: ae_errors(ae, r.inputs.waves) for name, r in val.items()}
    labels = np.concatenate([r.label for r in val.values()])
    abnormal = np.isin(labels, ["S", "V", "F"])
    normal = labels == "N"
    keep = abnormal | normal
    best_w, best_auc = 0.0, -1.0
    for w in RR_WEIGHT_GRID:
        sc = AnomalyScorer(w, sigma)
        raw = np.concatenate([sc.raw(errs[k], val[k].inputs.rr) for k in val])
        auc = roc_auc(abnormal[keep], raw[keep])
        log.add(model="calibration", rr_weight=w, val_roc_auc=auc)
        if auc > best_auc + 1e-4:
            best_w, best_auc = w, auc
    sc = AnomalyScorer(best_w, sigma)
    raw = np.concatenate([sc.raw(errs[k], val[k].inputs.rr) for k in val])
    log_thr = float(np.quantile(raw[normal], 1.0 - cfg.target_normal_flag_rate))
    quantiles = tuple(float(v) for v in np.quantile(raw[normal], QUANTILE_PROBS))
    scorer = AnomalyScorer(best_w, sigma, log_thr, cfg.target_normal_flag_rate, quantiles)
    flagged = raw >= log_thr
    log.add(
        model="calibration",
        chosen_rr_weight=best_w,
        val_roc_auc=best_auc,
        log_threshold=log_thr,
        val_normal_flag_rate=float(flagged[normal].mean()),
        val_abnormal_caught=float(flagged[abnormal].mean()),
    )
    return scorer
