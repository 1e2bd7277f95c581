"""A model bundle: both networks' weights plus everything needed to use them correctly.

One file (``*.pt``) holds a plain dictionary of tensors and strings, saved with
``torch.save`` and loaded with ``torch.load(weights_only=True)`` (no pickle of code):

* ``format`` / ``format_version``: what this file is;
* ``meta``: JSON text with the preprocessing (:class:`~ecg.processing.pipeline.BeatConfig`:
  filter band, beat window, model rate), the class names, the thresholds, the network
  hyper-parameters, the training records, the code version and the metrics;
* ``autoencoder`` / ``classifier``: the state dicts (the classifier's is an ensemble's when
  ``meta["n_classifiers"]`` > 1; format version 2 also names the RR inputs in ``meta``);
* ``sha256``: a digest of ``meta`` and every tensor, checked on load, so a corrupt or
  edited file is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecg.errors import ECGError
from ecg.processing.pipeline import BeatConfig
from ecg.models.features import RR_INPUT_NAMES, RR_INPUTS_V1, ModelInputs, model_inputs
from ecg.models.networks import BeatSequenceClassifier, ClassifierEnsemble, GRUAutoencoder

BUNDLE_FORMAT = "ecg-anomaly-bundle"
BUNDLE_FORMAT_VERSION = 2
#: Format versions this code reads. 1: one classifier with the first eight RR inputs;
#: 2: adds ``n_classifiers`` (an ensemble), ``rr_inputs`` (the RR input names, in order) and
#: ``irregular_rhythm_threshold``.
SUPPORTED_FORMAT_VERSIONS = (1, 2)
DEFAULT_BUNDLE_PATH = Path(__file__).resolve().parent / "bundles" / "ecg_gru_ds1.pt"


class BundleError(ECGError, ValueError):
    """A model bundle cannot be used: missing, corrupt, wrong format or version."""


@dataclass
class AnomalyScorer:
    """How the autoencoder's error becomes an anomaly score.

    ``raw = log(err / median_err_of_record) + rr_weight * 0.5 * (z_prev^2 + z_next^2)``, where
    ``z`` are the log previous/next-RR-to-local-mean ratios divided by their spread on
    normal training beats (``rr_sigma``). The score shown to users is
    ``exp(raw - log_threshold)``: 1.0 at the calibrated threshold.
    """

    rr_weight: float = 0.0
    rr_sigma: tuple[float, float] = (0.1, 0.1)
    log_threshold: float = 0.0
    target_normal_flag_rate: float = 0.01

    def raw(self, errors: np.ndarray, rr_in: np.ndarray) -> np.ndarray:
        med = float(np.median(errors)) if errors.size else 1.0
        morph = np.log(np.maximum(errors, 1e-9) / max(med, 1e-9))
        z_prev = rr_in[:, 0] / self.rr_sigma[0]
        z_next = rr_in[:, 1] / self.rr_sigma[1]
        return (morph + self.rr_weight * 0.5 * (z_prev ** 2 + z_next ** 2)).astype(np.float64)

    def score(self, errors: np.ndarray, rr_in: np.ndarray) -> np.ndarray:
        return np.exp(np.clip(self.raw(errors, rr_in) - self.log_threshold, -50, 50))


@dataclass
class ModelBundle:
    """Both models with their preprocessing, classes, thresholds and provenance."""

    config: BeatConfig
    classes: tuple[str, ...]
    autoencoder: GRUAutoencoder
    classifier: BeatSequenceClassifier | ClassifierEnsemble
    scorer: AnomalyScorer
    ae_params: dict[str, Any]
    clf_params: dict[str, Any]
    seq_len: int = 64
    metadata: dict[str, Any] = field(default_factory=dict)
    version: str = "unversioned"
    clf_channels: tuple[int, ...] = (1,)
    #: The classifier's RR inputs, in order (names from ``ecg.models.features.RR_INPUT_NAMES``).
    rr_inputs: tuple[str, ...] = RR_INPUTS_V1
    #: ``rr_irregularity`` at or above which the rhythm counts as AF-like and no beat is called
    #: S (None: no such rule). See :meth:`class_probabilities`.
    irregular_rhythm_threshold: float | None = None
    #: sha256 of the saved bundle content (set by save and load; "" for an unsaved bundle).
    digest: str = ""

    @property
    def n_classifiers(self) -> int:
        """Ensemble members of the classifier (1 for a single network)."""
        return len(self.classifier.members) if isinstance(self.classifier, ClassifierEnsemble) else 1

    def inputs(self, waves: np.ndarray, rr: np.ndarray) -> ModelInputs:
        """Model inputs exactly as this bundle was trained with: beats (n, window) in mV at
        the bundle's rate and RR features (n, len(RR_FEATURES)) from ``segment_beats``."""
        return model_inputs(waves, rr, self.config.window.pre, self.rr_inputs)

    def irregular_rhythm(self, irregularity: np.ndarray) -> np.ndarray:
        """Whether each beat sits in AF-like irregular rhythm (bool), from the
        ``rr_irregularity`` RR feature; all False when the bundle has no threshold."""
        irr = np.asarray(irregularity, dtype=np.float64)
        if self.irregular_rhythm_threshold is None:
            return np.zeros(irr.shape, bool)
        return irr >= self.irregular_rhythm_threshold

    def class_probabilities(self, inputs: ModelInputs, irregularity: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities (n, len(classes)) for one record's beats.

        In AF-like irregular rhythm (:meth:`irregular_rhythm`) the S probability is added to
        N: atrial fibrillation and flutter have no discrete P waves, so a beat of
        supraventricular origin there is labelled normal (MIT-BIH, AAMI EC57), however short
        its RR. V and F probabilities are unchanged."""
        from ecg.models.training import predict_proba

        probs = predict_proba(self.classifier, inputs, self.seq_len, channels=self.clf_channels)
        if irregularity is None:
            return probs
        return merge_class(probs, self.classes, self.irregular_rhythm(irregularity), "S", "N")

    # ------------------------------------------------------------------ persistence
    def meta(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "config": self.config.as_dict(),
            "classes": list(self.classes),
            "scorer": {"rr_weight": self.scorer.rr_weight, "rr_sigma": list(self.scorer.rr_sigma),
                       "log_threshold": self.scorer.log_threshold,
                       "target_normal_flag_rate": self.scorer.target_normal_flag_rate},
            "ae_params": self.ae_params,
            "clf_params": self.clf_params,
            "n_classifiers": self.n_classifiers,
            "seq_len": self.seq_len,
            "clf_channels": list(self.clf_channels),
            "rr_inputs": list(self.rr_inputs),
            "irregular_rhythm_threshold": self.irregular_rhythm_threshold,
            "metadata": self.metadata,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the bundle atomically; returns the path."""
        from ecg.io.atomic import atomic_path

        meta_json = json.dumps(self.meta(), sort_keys=True, default=_json_default)
        ae = {k: v.detach().cpu().contiguous() for k, v in self.autoencoder.state_dict().items()}
        clf = {k: v.detach().cpu().contiguous() for k, v in self.classifier.state_dict().items()}
        digest = _digest(meta_json, ae, clf)
        payload = {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_FORMAT_VERSION,
            "meta": meta_json,
            "autoencoder": ae,
            "classifier": clf,
            "sha256": digest,
        }
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
        self.digest = digest
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "ModelBundle":
        """Load and verify a bundle (default: the shipped DS1 bundle)."""
        p = Path(path) if path is not None else DEFAULT_BUNDLE_PATH
        if not p.is_file():
            hint = " (train one with `ecg train`)" if path is None else ""
            raise BundleError(f"{p}: model bundle not found{hint}")
        try:
            payload = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise BundleError(f"{p}: not a readable model bundle ({type(exc).__name__}: {exc})") from None
        if not isinstance(payload, dict) or payload.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"{p}: not an {BUNDLE_FORMAT} file")
        fv = payload.get("format_version")
        if fv not in SUPPORTED_FORMAT_VERSIONS:
            raise BundleError(f"{p}: bundle format version {fv!r} is not supported by this code "
                              f"(reads {', '.join(map(str, SUPPORTED_FORMAT_VERSIONS))}); "
                              "retrain or upgrade ecg-anomaly")
        try:
            meta_json, ae_state, clf_state = payload["meta"], payload["autoencoder"], payload["classifier"]
        except KeyError as exc:
            raise BundleError(f"{p}: bundle lacks {exc.args[0]!r}") from None
        if _digest(meta_json, ae_state, clf_state) != payload.get("sha256"):
            raise BundleError(f"{p}: checksum mismatch: the bundle is corrupt or was modified")
        meta = json.loads(meta_json)
        rr_names = tuple(meta.get("rr_inputs", RR_INPUTS_V1))
        unknown = [n for n in rr_names if n not in RR_INPUT_NAMES]
        if unknown:
            raise BundleError(f"{p}: the bundle uses RR inputs {unknown} that this code does not compute; "
                              "upgrade ecg-anomaly")
        ae = GRUAutoencoder(**meta["ae_params"])
        n_clf = int(meta.get("n_classifiers", 1))
        if n_clf < 1:
            raise BundleError(f"{p}: n_classifiers must be >= 1, got {n_clf}")
        clf = BeatSequenceClassifier(**meta["clf_params"]) if n_clf == 1 else \
            ClassifierEnsemble([BeatSequenceClassifier(**meta["clf_params"]) for _ in range(n_clf)])
        try:
            ae.load_state_dict(ae_state)
            clf.load_state_dict(clf_state)
        except RuntimeError as exc:
            raise BundleError(f"{p}: weights do not match the architecture in the bundle: {exc}") from None
        ae.eval()
        clf.eval()
        s = meta["scorer"]
        return cls(
            config=BeatConfig.from_dict(meta["config"]),
            classes=tuple(meta["classes"]),
            autoencoder=ae,
            classifier=clf,
            scorer=AnomalyScorer(float(s["rr_weight"]), tuple(s["rr_sigma"]), float(s["log_threshold"]),
                                 float(s["target_normal_flag_rate"])),
            ae_params=meta["ae_params"],
            clf_params=meta["clf_params"],
            seq_len=int(meta["seq_len"]),
            metadata=meta["metadata"],
            version=meta["version"],
            clf_channels=tuple(meta.get("clf_channels", (1,))),
            rr_inputs=rr_names,
            irregular_rhythm_threshold=None if meta.get("irregular_rhythm_threshold") is None
            else float(meta["irregular_rhythm_threshold"]),
            digest=payload["sha256"],
        )


def merge_class(probs: np.ndarray, classes: tuple[str, ...], mask: np.ndarray, source: str = "S",
                target: str = "N") -> np.ndarray:
    """Probabilities (n, len(classes)) with, on the rows in ``mask``, the ``source`` class's
    probability added to ``target`` and set to 0. Other rows and classes are unchanged.
    Returns a new array."""
    out = np.array(probs, dtype=np.float32, copy=True)
    if source not in classes or target not in classes:
        return out
    k, t = classes.index(source), classes.index(target)
    rows = np.flatnonzero(np.asarray(mask, bool))
    out[rows, t] += out[rows, k]
    out[rows, k] = 0.0
    return out


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (tuple, set)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _digest(meta_json: str, *states: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256(meta_json.encode())
    for state in states:
        for k in sorted(state):
            t = state[k]
            if not isinstance(t, torch.Tensor):
                raise BundleError(f"bundle entry {k!r} is not a tensor")
            h.update(k.encode())
            h.update(str(t.dtype).encode())
            h.update(str(tuple(t.shape)).encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def load_bundle(path: str | os.PathLike | None = None) -> ModelBundle:
    """Load a model bundle (default: the shipped one trained on DS1)."""
    return ModelBundle.load(path)
