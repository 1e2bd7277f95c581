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

A quantised bundle (``meta["quantization"]``, see :mod:`ecg.models.quantize`) stores its int8
weights as plain int8 and scale tensors: the same file format, loaded the same way.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecg.datasets.splits import DS2
from ecg.errors import ECGError
from ecg.models import quantize
from ecg.models.backends import ModelRunner, OnnxRunner, TorchRunner, check_backend
from ecg.models.features import RR_INPUT_NAMES, RR_INPUTS_V1, ModelInputs, model_inputs
from ecg.models.inference import beat_windows, n_classes
from ecg.models.networks import BeatSequenceClassifier, ClassifierEnsemble, GRUAutoencoder
from ecg.models.onnx_export import export_networks
from ecg.processing.pipeline import BeatConfig

BUNDLE_FORMAT = "ecg-anomaly-bundle"
BUNDLE_FORMAT_VERSION = 3
#: Format versions this code reads. 1: one classifier with the first eight RR inputs;
#: 2: adds ``n_classifiers`` (an ensemble), ``rr_inputs`` (the RR input names, in order) and
#: ``irregular_rhythm_threshold`` (no longer used: AF episodes replace it); 3: adds the
#: scorer's ``normal_quantiles`` (the bounded 0-100 anomaly score).
SUPPORTED_FORMAT_VERSIONS = (1, 2, 3)
BUNDLE_DIR = Path(__file__).resolve().parent / "bundles"
#: int8 bundles are stored xz-compressed; a file starting with this is decompressed before loading.
_XZ_MAGIC = b"\xfd7zXZ\x00"
#: The shipped bundles, by short name. ``ds1``: the evaluation bundle, trained on DS1 only (it
#: gives every DS2 figure). ``production``: the same recipe trained on all 44 non-paced MIT-BIH
#: records (no DS2 figure is quoted for it: DS2 is in its training set). ``<name>-int8``: the
#: int8 version of each (:mod:`ecg.models.quantize`), made by ``ecg quantize-model --bundle <name>``.
BUNDLE_NAMES: dict[str, Path] = {
    "ds1": BUNDLE_DIR / "ecg_gru_ds1.pt",
    "production": BUNDLE_DIR / "ecg_gru_production.pt",
    "ds1-int8": BUNDLE_DIR / "ecg_gru_ds1_int8.pt",
    "production-int8": BUNDLE_DIR / "ecg_gru_production_int8.pt",
}
#: Each int8 bundle name's float source (see :func:`int8_bundle_name`).
INT8_SOURCES: dict[str, str] = {"ds1-int8": "ds1", "production-int8": "production"}
DEFAULT_BUNDLE = "production"
EVALUATION_BUNDLE = "ds1"
DEFAULT_BUNDLE_PATH = BUNDLE_NAMES[DEFAULT_BUNDLE]
EVALUATION_BUNDLE_PATH = BUNDLE_NAMES[EVALUATION_BUNDLE]


def bundle_path(bundle: str | os.PathLike | None = None) -> Path:
    """The file of a bundle given by short name (:data:`BUNDLE_NAMES`), by path, or ``None``
    for the default (``production``)."""
    if bundle is None:
        return DEFAULT_BUNDLE_PATH
    if isinstance(bundle, str) and bundle in BUNDLE_NAMES:
        return BUNDLE_NAMES[bundle]
    return Path(bundle)


def int8_bundle_name(name: str) -> str:
    """The short name of a shipped float bundle's int8 version (``ds1`` -> ``ds1-int8``)."""
    target = f"{name}-int8"
    if target not in INT8_SOURCES:
        shipped = ", ".join(INT8_SOURCES.values())
        raise ValueError(f"no int8 variant of bundle {name!r}; shipped float bundles: {shipped}")
    return target


class BundleError(ECGError, ValueError):
    """A model bundle cannot be used: missing, corrupt, wrong format or version."""


#: Probabilities at which the raw scores of held-out normal beats are stored (0.1 % steps).
QUANTILE_PROBS = np.round(np.linspace(0.001, 0.999, 999), 6)


def bundle_file(path: Path) -> Path | io.BytesIO:
    """What ``torch.load`` reads for the bundle file at ``path``: the file, or its
    decompressed bytes when it is xz-compressed (int8 bundles)."""
    with open(path, "rb") as f:
        if f.read(len(_XZ_MAGIC)) != _XZ_MAGIC:
            return path
    return io.BytesIO(lzma.decompress(path.read_bytes()))


@dataclass
class AnomalyScorer:
    """How the autoencoder's error becomes an anomaly score on a bounded 0-100 scale.

    ``raw = log(err / median_err_of_record) + rr_weight * 0.5 * (z_prev^2 + z_next^2)``, where
    ``z`` are the log previous/next-RR-to-local-mean ratios divided by their spread on
    normal training beats (``rr_sigma``).

    The score shown to users is a percentile: **the share (%) of held-out normal beats (the
    DS1 calibration patients) whose raw score was lower.** ``normal_quantiles`` holds those
    beats' raw scores at :data:`QUANTILE_PROBS` (0.1 % to 99.9 %); between them the score is
    interpolated, beyond them it approaches 0 or 100 exponentially (decay fitted to the 1-0.1 %
    and 99-99.9 % quantiles), so the ranking of beats is kept and no value leaves [0, 100].
    ``log_threshold`` is the raw score that ``target_normal_flag_rate`` of those normal beats
    exceed; on this scale it sits at ``100 * (1 - target_normal_flag_rate)`` (99 for 1 %),
    :attr:`threshold`. Bundles without quantiles (format 1 and 2) use a logistic curve through
    the same threshold.
    """

    rr_weight: float = 0.0
    rr_sigma: tuple[float, float] = (0.1, 0.1)
    log_threshold: float = 0.0
    target_normal_flag_rate: float = 0.01
    normal_quantiles: tuple[float, ...] = ()

    def raw(self, errors: np.ndarray, rr_in: np.ndarray) -> np.ndarray:
        med = float(np.median(errors)) if errors.size else 1.0
        morph = np.log(np.maximum(errors, 1e-9) / max(med, 1e-9))
        z_prev = rr_in[:, 0] / self.rr_sigma[0]
        z_next = rr_in[:, 1] / self.rr_sigma[1]
        return (morph + self.rr_weight * 0.5 * (z_prev**2 + z_next**2)).astype(np.float64)

    def percentile(self, raw: np.ndarray) -> np.ndarray:
        """Raw scores on the bounded 0-100 scale (float64; NaN stays NaN)."""
        raw = np.asarray(raw, dtype=np.float64)
        if len(self.normal_quantiles) != QUANTILE_PROBS.size:
            # logistic through (log_threshold, 100 * (1 - rate))
            offset = math.log((1.0 - self.target_normal_flag_rate) / self.target_normal_flag_rate)
            return 100.0 / (1.0 + np.exp(-np.clip(raw - self.log_threshold + offset, -700, 700)))
        q = np.maximum.accumulate(np.asarray(self.normal_quantiles, dtype=np.float64))
        p = QUANTILE_PROBS
        i10, i999 = int(np.argmin(np.abs(p - 0.99))), p.size - 1
        tau_hi = max((q[i999] - q[i10]) / math.log(10.0), 1e-6)
        tau_lo = max((q[9] - q[0]) / math.log(10.0), 1e-6)  # p = 0.01 and 0.001
        qu, last = np.unique(q[::-1], return_index=True)  # right-continuous at ties
        pu = p[::-1][last]
        mid = np.interp(raw, qu, pu)
        hi = 1.0 - (1.0 - p[-1]) * np.exp(-np.maximum(raw - q[-1], 0.0) / tau_hi)
        lo = p[0] * np.exp(np.minimum(raw - q[0], 0.0) / tau_lo)
        out = np.where(raw > q[-1], hi, np.where(raw < q[0], lo, mid))
        return 100.0 * np.clip(out, 0.0, 1.0)

    @property
    def threshold(self) -> float:
        """The calibrated threshold on the 0-100 scale."""
        return float(np.round(self.percentile(np.array([self.log_threshold]))[0], 6))

    def score(self, errors: np.ndarray, rr_in: np.ndarray) -> np.ndarray:
        """Anomaly scores, 0-100 (see the class docstring)."""
        return self.percentile(self.raw(errors, rr_in))


@dataclass(frozen=True)
class BeatScores:
    """What the models say about each beat of a record (see :meth:`ModelBundle.score_beats`)."""

    probs: np.ndarray  # float32 (n, len(classes))
    score: np.ndarray  # float64 (n,), anomaly score 0-100
    model_waves: np.ndarray  # float32 (n, window): the normalised beats


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
    #: Beats turned upright per record before the models (see ecg.models.features.normalise_waves).
    polarity: bool = False
    #: sha256 of the saved bundle content (set by save and load; "" for an unsaved bundle).
    digest: str = ""
    #: ``None`` for float32 networks; for int8 ones (:mod:`ecg.models.quantize`): the scheme and
    #: the float bundle it was made from (``{"scheme", "source_version", "source_sha256"}``).
    quantization: dict[str, Any] | None = None
    _onnx_runners: dict[int, OnnxRunner] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def training_records(self) -> tuple[str, ...]:
        """Names of the MIT-BIH records whose beats trained or calibrated this bundle."""
        md = self.metadata
        return tuple(sorted(set(md.get("train_records", ())) | set(md.get("val_records", ()))))

    @property
    def purpose(self) -> str:
        """``"evaluation"`` when no DS2 record trained the bundle (its DS2 figures are honest),
        else ``"production"``."""
        return "production" if set(self.training_records) & set(DS2) else "evaluation"

    @property
    def n_classifiers(self) -> int:
        """Ensemble members of the classifier (1 for a single network)."""
        return len(self.classifier.members) if isinstance(self.classifier, ClassifierEnsemble) else 1

    def inputs(self, waves: np.ndarray, rr: np.ndarray) -> ModelInputs:
        """Model inputs exactly as this bundle was trained with: beats (n, window) in mV at
        the bundle's rate and RR features (n, len(RR_FEATURES)) from ``segment_beats``."""
        return model_inputs(waves, rr, self.config.window.pre, self.rr_inputs, self.polarity)

    def float_networks(self) -> tuple[GRUAutoencoder, BeatSequenceClassifier | ClassifierEnsemble]:
        """The networks in float32: the bundle's own, or for an int8 bundle float twins holding
        its dequantised int8 weights (what an ONNX export of it runs)."""
        if self.quantization is None:
            return self.autoencoder, self.classifier
        return (
            quantize.dequantized_copy(self.autoencoder, GRUAutoencoder(**self.ae_params)),
            quantize.dequantized_copy(self.classifier, _classifier(self.clf_params, self.n_classifiers)),
        )

    def runner(self, backend: str = "torch") -> ModelRunner:
        """The runtime that executes the networks (:mod:`ecg.models.backends`). An ONNX runner
        is made once per bundle and thread count (``torch.get_num_threads()``: the scoring
        process's share of the cores), exporting the networks to ONNX in memory."""
        if check_backend(backend) == "torch":
            return TorchRunner(self.autoencoder, self.classifier)
        threads = torch.get_num_threads()
        if threads not in self._onnx_runners:
            networks = export_networks(*self.float_networks(), len(self.clf_channels))
            self._onnx_runners[threads] = OnnxRunner.from_networks(networks, threads)
        return self._onnx_runners[threads]

    def class_probabilities(self, inputs: ModelInputs, backend: str = "torch") -> np.ndarray:
        """Class probabilities (n, len(classes)) for one record's beats, from windows of
        :attr:`seq_len` beats overlapping by half, each beat taking the window where it is most
        central (:func:`ecg.models.inference.beat_windows`). (No S inside AF/flutter episodes is
        a rule of the scoring path, :func:`ecg.scoring.score.beat_table`.)"""
        return self.run_classifier(self.runner(backend), inputs)

    def run_classifier(self, runner: ModelRunner, inputs: ModelInputs) -> np.ndarray:
        """:meth:`class_probabilities` on a given runtime (any :class:`~ecg.models.backends.ModelRunner`)."""
        n = inputs.waves.shape[0]
        if n == 0:
            return np.zeros((0, n_classes(self.classifier)), np.float32)
        win = beat_windows(n, self.seq_len)
        waves = np.ascontiguousarray(inputs.waves[:, :, list(self.clf_channels)])
        return win.beat_values(runner.window_probabilities(waves, inputs.rr, win.index))

    def score_beats(self, waves: np.ndarray, rr: np.ndarray, backend: str = "torch") -> BeatScores:
        """Both networks on one record's beats, with this bundle's own preprocessing: ``waves``
        (n, window) in mV at the bundle's rate and ``rr`` (n, len(RR_FEATURES)) from
        ``segment_beats``; ``backend`` the runtime (:data:`ecg.models.backends.BACKENDS`).
        Returns class probabilities, anomaly scores (0-100) and the normalised waveforms the
        autoencoder saw."""
        inputs = self.inputs(waves, rr)
        run = self.runner(backend)
        errors = run.reconstruction_errors(np.ascontiguousarray(inputs.waves[:, :, :1]))
        probs = self.run_classifier(run, inputs)
        return BeatScores(probs, self.scorer.score(errors, inputs.rr), inputs.waves[:, :, 0])

    # ------------------------------------------------------------------ persistence
    def meta(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "config": self.config.as_dict(),
            "classes": list(self.classes),
            "scorer": {
                "rr_weight": self.scorer.rr_weight,
                "rr_sigma": list(self.scorer.rr_sigma),
                "log_threshold": self.scorer.log_threshold,
                "target_normal_flag_rate": self.scorer.target_normal_flag_rate,
                "normal_quantiles": list(self.scorer.normal_quantiles),
            },
            "ae_params": self.ae_params,
            "clf_params": self.clf_params,
            "n_classifiers": self.n_classifiers,
            "seq_len": self.seq_len,
            "clf_channels": list(self.clf_channels),
            "rr_inputs": list(self.rr_inputs),
            "polarity": self.polarity,
            "metadata": self.metadata,
        } | ({"quantization": self.quantization} if self.quantization is not None else {})

    def meta_json(self) -> str:
        """:meth:`meta` as the JSON text a saved bundle holds."""
        return json.dumps(self.meta(), sort_keys=True, default=_json_default)

    def state_dicts(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Both networks' weights as plain tensors, as saved (int8 form for an int8 bundle)."""

        def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
            if self.quantization is not None:
                return quantize.int8_state_dict(model)
            return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}

        return state(self.autoencoder), state(self.classifier)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the bundle atomically; returns the path."""
        from ecg.io.atomic import atomic_path

        meta_json = self.meta_json()
        ae, clf = self.state_dicts()
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
            if self.quantization is None:
                torch.save(payload, tmp)
            else:  # xz-compressed: the metadata and the archive's per-tensor overhead shrink
                buf = io.BytesIO()
                torch.save(payload, buf)
                Path(tmp).write_bytes(lzma.compress(buf.getvalue(), preset=9 | lzma.PRESET_EXTREME))
        self.digest = digest
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> ModelBundle:
        """Load and verify a bundle: a short name (``ds1``, ``production``), a path, or
        ``None`` for the default (``production``)."""
        p = bundle_path(path)
        if not p.is_file():
            int8 = {BUNDLE_NAMES[k]: v for k, v in INT8_SOURCES.items()}
            hint = (
                f" (make it with `ecg quantize-model --bundle {int8[p]}`)"
                if p in int8
                else " (train it with `ecg train" + (" --production" if p == DEFAULT_BUNDLE_PATH else "") + "`)"
                if p in BUNDLE_NAMES.values()
                else ""
            )
            raise BundleError(f"{p}: model bundle not found{hint}")
        try:
            payload = torch.load(bundle_file(p), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise BundleError(f"{p}: not a readable model bundle ({type(exc).__name__}: {exc})") from None
        if not isinstance(payload, dict) or payload.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"{p}: not an {BUNDLE_FORMAT} file")
        fv = payload.get("format_version")
        if fv not in SUPPORTED_FORMAT_VERSIONS:
            raise BundleError(
                f"{p}: bundle format version {fv!r} is not supported by this code "
                f"(reads {', '.join(map(str, SUPPORTED_FORMAT_VERSIONS))}); "
                "retrain or upgrade ecg-anomaly"
            )
        try:
            meta_json, ae_state, clf_state = payload["meta"], payload["autoencoder"], payload["classifier"]
        except KeyError as exc:
            raise BundleError(f"{p}: bundle lacks {exc.args[0]!r}") from None
        if not isinstance(meta_json, str):
            raise BundleError(f"{p}: malformed bundle metadata: 'meta' is {type(meta_json).__name__}, not JSON text")
        for key, state in (("autoencoder", ae_state), ("classifier", clf_state)):
            if not isinstance(state, dict):
                raise BundleError(f"{p}: malformed bundle: {key!r} is {type(state).__name__}, not a state dict")
        try:
            digest = _digest(meta_json, ae_state, clf_state)
        except (BundleError, TypeError, AttributeError) as exc:  # entries that are not named tensors
            raise BundleError(f"{p}: malformed bundle: {exc}") from None
        if digest != payload.get("sha256"):
            raise BundleError(f"{p}: checksum mismatch: the bundle is corrupt or was modified")
        try:
            return cls._from_meta(_parse_meta(meta_json), ae_state, clf_state, digest)
        except BundleError as exc:
            raise BundleError(f"{p}: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as exc:
            raise BundleError(f"{p}: malformed bundle metadata: {_what(exc)}") from None

    @classmethod
    def _from_meta(
        cls, meta: dict[str, Any], ae_state: dict[str, torch.Tensor], clf_state: dict[str, torch.Tensor], digest: str
    ) -> ModelBundle:
        """The bundle described by a parsed ``meta`` with these weights. Raises BundleError
        (without the path) for a meta this code cannot use, and KeyError / TypeError /
        ValueError... for a malformed one."""
        rr_names = tuple(meta.get("rr_inputs", RR_INPUTS_V1))
        unknown = [n for n in rr_names if n not in RR_INPUT_NAMES]
        if unknown:
            raise BundleError(
                f"the bundle uses RR inputs {unknown} that this code does not compute; upgrade ecg-anomaly"
            )
        ae_params, clf_params = _params(meta, "ae_params"), _params(meta, "clf_params")
        ae = GRUAutoencoder(**ae_params)
        n_clf = int(meta.get("n_classifiers", 1))
        if n_clf < 1:
            raise BundleError(f"malformed bundle metadata: n_classifiers must be >= 1, got {n_clf}")
        clf = _classifier(clf_params, n_clf)
        quantization = meta.get("quantization")
        if quantization is not None and (
            not isinstance(quantization, dict) or quantization.get("scheme") != quantize.SCHEME
        ):
            raise BundleError(f"unknown quantization {quantization!r}; this code reads {quantize.SCHEME!r}")
        try:
            if quantization is None:
                ae.load_state_dict(ae_state)
                clf.load_state_dict(clf_state)
            else:
                ae = quantize.load_int8_state(ae, ae_state)
                clf = quantize.load_int8_state(clf, clf_state)
        except RuntimeError as exc:
            raise BundleError(
                "malformed bundle metadata: the weights do not match the architecture it describes "
                f"({_first_problem(exc)})"
            ) from None
        ae.eval()
        clf.eval()
        s = meta["scorer"]
        bundle = cls(
            config=BeatConfig.from_dict(meta["config"]),
            classes=tuple(str(c) for c in _sequence(meta, "classes")),
            autoencoder=ae,
            classifier=clf,
            scorer=AnomalyScorer(
                float(s["rr_weight"]),
                (float(s["rr_sigma"][0]), float(s["rr_sigma"][1])),
                float(s["log_threshold"]),
                float(s["target_normal_flag_rate"]),
                tuple(float(v) for v in s.get("normal_quantiles", ())),
            ),
            ae_params=ae_params,
            clf_params=clf_params,
            seq_len=int(meta["seq_len"]),
            metadata=_mapping(meta, "metadata"),
            version=str(meta["version"]),
            clf_channels=tuple(int(c) for c in meta.get("clf_channels", (1,))),
            rr_inputs=rr_names,
            polarity=bool(meta.get("polarity", False)),
            digest=digest,
            quantization=quantization,
        )
        n_out = int(clf_params.get("n_classes", len(bundle.classes)))
        if len(bundle.classes) != n_out:
            raise ValueError(
                f"'classes' names {len(bundle.classes)} classes {list(bundle.classes)} but the "
                f"classifier has {n_out} outputs"
            )
        return bundle


def _classifier(clf_params: dict[str, Any], n_classifiers: int) -> BeatSequenceClassifier | ClassifierEnsemble:
    """A float classifier (an ensemble for ``n_classifiers`` > 1) of the given architecture."""
    if n_classifiers == 1:
        return BeatSequenceClassifier(**clf_params)
    return ClassifierEnsemble([BeatSequenceClassifier(**clf_params) for _ in range(n_classifiers)])


def quantize_bundle(bundle: ModelBundle) -> ModelBundle:
    """The int8 version of a float bundle (:mod:`ecg.models.quantize`): both networks
    dynamically quantised, everything else (preprocessing, classes, scorer, metadata) the
    same; its version gains ``-int8`` and its ``quantization`` names the float source."""
    if bundle.quantization is not None:
        raise BundleError(f"bundle {bundle.version} is already quantised ({bundle.quantization['scheme']})")
    return replace(
        bundle,
        autoencoder=quantize.quantize_model(bundle.autoencoder),
        classifier=quantize.quantize_model(bundle.classifier),
        metadata=dict(bundle.metadata),
        version=f"{bundle.version}-int8",
        digest="",
        quantization={"scheme": quantize.SCHEME, "source_version": bundle.version, "source_sha256": bundle.digest},
    )


def _parse_meta(meta_json: str) -> dict[str, Any]:
    try:
        meta = json.loads(meta_json)
    except ValueError as exc:
        raise ValueError(f"'meta' is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise TypeError(f"'meta' is a JSON {type(meta).__name__}, not an object")
    return meta


def _mapping(meta: dict[str, Any], key: str) -> dict[str, Any]:
    value = meta[key]
    if not isinstance(value, dict):
        raise TypeError(f"{key!r} is {type(value).__name__}, not an object")
    return value


def _params(meta: dict[str, Any], key: str) -> dict[str, Any]:
    value = _mapping(meta, key)
    if not all(isinstance(k, str) for k in value):
        raise TypeError(f"{key!r} has non-text keys")
    return value


def _sequence(meta: dict[str, Any], key: str) -> list[Any]:
    value = meta[key]
    if not isinstance(value, list):
        raise TypeError(f"{key!r} is {type(value).__name__}, not a list")
    return value


def _first_problem(exc: RuntimeError) -> str:
    """The first of the problems torch's ``load_state_dict`` lists, and how many more there are."""
    lines = [ln.strip() for ln in str(exc).splitlines()[1:] if ln.strip()] or [str(exc).strip()]
    return lines[0].rstrip(".") + (f"; and {len(lines) - 1} more" if len(lines) > 1 else "")


def _what(exc: Exception) -> str:
    """What is wrong with a bundle's metadata, from the error parsing it raised."""
    if isinstance(exc, KeyError):
        return f"missing key {exc.args[0]!r}"
    return f"{exc}" if isinstance(exc, (TypeError, ValueError)) and str(exc) else f"{type(exc).__name__}: {exc}"


def merge_class(
    probs: np.ndarray, classes: tuple[str, ...], mask: np.ndarray, source: str = "S", target: str = "N"
) -> np.ndarray:
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
    """Load a model bundle by short name (``ds1``: the evaluation bundle, trained on DS1;
    ``production``: trained on all 44 non-paced records; the default) or by path."""
    return ModelBundle.load(path)
