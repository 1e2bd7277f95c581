"""The two networks as ONNX graphs, and a bundle written as ONNX files with a JSON sidecar.

Graphs (opset :data:`OPSET`, PyTorch's TorchScript-based exporter, which maps ``nn.GRU`` to
the ONNX ``GRU`` operator):

* ``autoencoder.onnx``: input ``waves`` float32 (n, window, 1), the normalised beats; outputs
  ``errors`` float32 (n,), the mean squared reconstruction error per beat, and
  ``reconstruction`` float32 (n, window, 1).
* ``classifier.onnx``: inputs ``waves`` float32 (n, window, channels), ``rr`` float32 (n, n_rr)
  and ``windows`` int64 (W, L), the beat indices of each window of consecutive beats
  (:func:`ecg.models.inference.beat_windows`); output ``probs`` float32 (W, L, n_classes), the
  softmax (an ensemble's mean) for every beat of every window.

The sidecar (``bundle.json``) carries the bundle's contract with the weights: preprocessing,
classes, anomaly scorer and threshold, the bundle's checksum and each ONNX file's sha256, so
an ONNX-only consumer can reproduce :meth:`ecg.models.bundle.ModelBundle.score_beats`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ecg.models.networks import BeatSequenceClassifier, ClassifierEnsemble, GRUAutoencoder

if TYPE_CHECKING:  # annotations only: bundle.py imports this module through backends.py
    from ecg.models.bundle import ModelBundle

OPSET = 17
SIDECAR_FORMAT = "ecg-anomaly-onnx"
SIDECAR_FORMAT_VERSION = 1
AUTOENCODER_FILE = "autoencoder.onnx"
CLASSIFIER_FILE = "classifier.onnx"
SIDECAR_FILE = "bundle.json"


class _AutoencoderGraph(nn.Module):
    def __init__(self, model: GRUAutoencoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, waves: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rec = self.model(waves)
        return ((rec - waves) ** 2).mean(dim=(1, 2)), rec


class _ClassifierGraph(nn.Module):
    def __init__(self, model: BeatSequenceClassifier | ClassifierEnsemble) -> None:
        super().__init__()
        self.members = nn.ModuleList(model.members if isinstance(model, ClassifierEnsemble) else [model])

    def forward(self, waves: torch.Tensor, rr: torch.Tensor, windows: torch.Tensor) -> torch.Tensor:
        probs = []
        for m in self.members:
            emb = torch.cat([m.wave_embedding(waves), m.rr_proj(rr)], dim=-1)
            probs.append(torch.softmax(m.forward_embedded(emb[windows]), dim=-1))
        return probs[0] if len(probs) == 1 else torch.stack(probs).mean(0)


def _export(
    module: nn.Module, args: tuple[torch.Tensor, ...], names: dict[str, dict[int, str]], outputs: list[str]
) -> bytes:
    module.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        # the tracer warns about the networks' shape checks, and torch about the exporter's future
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            buf,
            input_names=list(names)[: len(args)],
            output_names=outputs,
            dynamic_axes=names,
            opset_version=OPSET,
            dynamo=False,
        )
    return buf.getvalue()


def autoencoder_onnx(model: GRUAutoencoder) -> bytes:
    """The autoencoder as a serialised ONNX model (see the module docstring)."""
    x = torch.zeros(3, model.seq_len, model.n_channels)
    return _export(
        _AutoencoderGraph(model),
        (x,),
        {"waves": {0: "beats"}, "errors": {0: "beats"}, "reconstruction": {0: "beats"}},
        ["errors", "reconstruction"],
    )


def classifier_onnx(model: BeatSequenceClassifier | ClassifierEnsemble, window: int, n_channels: int) -> bytes:
    """The classifier (or ensemble) as a serialised ONNX model for beats of ``window`` samples
    with ``n_channels`` wave channels (see the module docstring)."""
    first = model.members[0] if isinstance(model, ClassifierEnsemble) else model
    n_rr = first.rr_proj[0].in_features
    waves, rr = torch.zeros(6, window, n_channels), torch.zeros(6, n_rr)
    windows = torch.tensor([[0, 1, 2, 3], [2, 3, 4, 5]], dtype=torch.int64)
    return _export(
        _ClassifierGraph(model),
        (waves, rr, windows),
        {
            "waves": {0: "beats"},
            "rr": {0: "beats"},
            "windows": {0: "windows", 1: "length"},
            "probs": {0: "windows", 1: "length"},
        },
        ["probs"],
    )


@dataclass(frozen=True)
class OnnxNetworks:
    """Both networks as serialised ONNX models."""

    autoencoder: bytes
    classifier: bytes


def export_networks(
    autoencoder: GRUAutoencoder, classifier: BeatSequenceClassifier | ClassifierEnsemble, n_channels: int
) -> OnnxNetworks:
    """Both float networks as ONNX (``n_channels``: the classifier's wave channels)."""
    return OnnxNetworks(autoencoder_onnx(autoencoder), classifier_onnx(classifier, autoencoder.seq_len, n_channels))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def onnx_sidecar(bundle: ModelBundle, networks: OnnxNetworks, name: str | None = None) -> dict[str, Any]:
    """The JSON sidecar of a bundle's ONNX export (see the module docstring)."""
    meta = bundle.meta()
    return {
        "format": SIDECAR_FORMAT,
        "format_version": SIDECAR_FORMAT_VERSION,
        "bundle": {
            "name": name,
            "version": bundle.version,
            "sha256": bundle.digest,
            "purpose": bundle.purpose,
            "quantization": bundle.quantization,
        },
        "preprocessing": {
            "config": meta["config"],
            "rr_inputs": meta["rr_inputs"],
            "polarity": meta["polarity"],
            "classifier_channels": meta["clf_channels"],
            "seq_len": meta["seq_len"],
            "window_hop": "seq_len // 2; each beat takes the window whose centre is nearest",
        },
        "classes": meta["classes"],
        "thresholds": {"anomaly_score": bundle.scorer.threshold, "scorer": meta["scorer"]},
        "networks": {
            "autoencoder": meta["ae_params"],
            "classifier": meta["clf_params"],
            "n_classifiers": meta["n_classifiers"],
            "opset": OPSET,
            # an int8 bundle is exported with its int8 weights dequantised (ONNX Runtime has no int8 GRU)
            "weights": "float32" if bundle.quantization is None else "float32, dequantised from the int8 bundle",
        },
        "files": {
            AUTOENCODER_FILE: {
                "sha256": sha256_bytes(networks.autoencoder),
                "inputs": {"waves": "float32 (beats, window, 1)"},
                "outputs": {"errors": "float32 (beats,)", "reconstruction": "float32 (beats, window, 1)"},
            },
            CLASSIFIER_FILE: {
                "sha256": sha256_bytes(networks.classifier),
                "inputs": {
                    "waves": "float32 (beats, window, channels)",
                    "rr": "float32 (beats, n_rr)",
                    "windows": "int64 (windows, length)",
                },
                "outputs": {"probs": "float32 (windows, length, classes)"},
            },
        },
    }


def write_onnx_bundle(bundle: ModelBundle, out_dir: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Write ``autoencoder.onnx``, ``classifier.onnx`` and ``bundle.json`` (the sidecar) into
    ``out_dir`` (created if needed), each atomically. Returns the paths written."""
    from ecg.io.atomic import atomic_write_bytes, atomic_write_text

    ae, clf = bundle.float_networks()
    networks = export_networks(ae, clf, len(bundle.clf_channels))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sidecar = json.dumps(onnx_sidecar(bundle, networks, name), indent=2, sort_keys=True) + "\n"
    return [
        atomic_write_bytes(out / AUTOENCODER_FILE, networks.autoencoder),
        atomic_write_bytes(out / CLASSIFIER_FILE, networks.classifier),
        atomic_write_text(out / SIDECAR_FILE, sidecar),
    ]


__all__ = [
    "AUTOENCODER_FILE",
    "CLASSIFIER_FILE",
    "OPSET",
    "OnnxNetworks",
    "SIDECAR_FILE",
    "autoencoder_onnx",
    "classifier_onnx",
    "export_networks",
    "onnx_sidecar",
    "sha256_bytes",
    "write_onnx_bundle",
]
