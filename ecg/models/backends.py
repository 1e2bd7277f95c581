"""Runtimes that execute the two networks: PyTorch (``"torch"``) and ONNX Runtime (``"onnx"``).

Both satisfy :class:`ModelRunner`, the two calls :meth:`ecg.models.bundle.ModelBundle.score_beats`
makes; everything around them (filters, detection, segmentation, normalisation, the beat
windows, the anomaly scorer, the summary) is the same code for every runtime. A bundle makes
its runners (:meth:`~ecg.models.bundle.ModelBundle.runner`); the ONNX graphs are exported from
the bundle's own networks when the first ONNX runner is made (:mod:`ecg.models.onnx_export`).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

import numpy as np
from torch import nn

from ecg.errors import ECGError
from ecg.models.inference import ae_errors, window_probabilities
from ecg.models.onnx_export import OnnxNetworks

#: Runtimes ``score_record(..., backend=...)`` and ``ecg score --backend`` accept.
BACKENDS = ("torch", "onnx")
EDGE_INSTALL_HINT = 'pip install -e ".[edge]"'


class BackendError(ECGError, ValueError):
    """A runtime is unknown or not installed."""


class ModelRunner(Protocol):
    """What a runtime does with one record's model inputs (arrays from
    :meth:`~ecg.models.bundle.ModelBundle.inputs`)."""

    backend: str

    def reconstruction_errors(self, waves: np.ndarray) -> np.ndarray:
        """Autoencoder: normalised beats float32 (n, window, 1) -> mean squared error float32 (n,)."""
        ...

    def window_probabilities(self, waves: np.ndarray, rr: np.ndarray, windows: np.ndarray) -> np.ndarray:
        """Classifier: beats float32 (n, window, channels), RR inputs float32 (n, n_rr), windows
        int64 (W, L) of beat indices -> class probabilities float32 (W, L, n_classes)."""
        ...


def check_backend(backend: str) -> str:
    """``backend`` if it is one of :data:`BACKENDS`, else a :class:`BackendError`."""
    if backend not in BACKENDS:
        raise BackendError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return backend


def import_onnxruntime() -> ModuleType:
    """The ``onnxruntime`` module, or a :class:`BackendError` saying how to install it."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendError(
            f"the ONNX backend needs onnxruntime, which is not installed ({exc}); install the edge extra: "
            f"{EDGE_INSTALL_HINT}"
        ) from None
    return onnxruntime


@dataclass
class TorchRunner:
    """The networks run by PyTorch (float32, or int8 for a quantised bundle's modules)."""

    autoencoder: nn.Module
    classifier: nn.Module
    backend: str = "torch"

    def reconstruction_errors(self, waves: np.ndarray) -> np.ndarray:
        return ae_errors(self.autoencoder, waves)

    def window_probabilities(self, waves: np.ndarray, rr: np.ndarray, windows: np.ndarray) -> np.ndarray:
        return window_probabilities(self.classifier, waves, rr, windows)


@dataclass
class OnnxRunner:
    """The networks run by ONNX Runtime's CPU provider (see :mod:`ecg.models.onnx_export` for
    the graphs' inputs and outputs)."""

    autoencoder: Any  # onnxruntime.InferenceSession
    classifier: Any
    threads: int = 1
    backend: str = "onnx"

    @classmethod
    def from_networks(cls, networks: OnnxNetworks, threads: int = 1) -> OnnxRunner:
        """Sessions for serialised ONNX models, each with ``threads`` intra-op threads (like
        PyTorch's per scoring process, :func:`ecg.scoring.batch.torch_threads`) and no inter-op
        parallelism."""
        ort = import_onnxruntime()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3

        def session(model: bytes) -> Any:
            return ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])

        return cls(session(networks.autoencoder), session(networks.classifier), max(1, int(threads)))

    def reconstruction_errors(self, waves: np.ndarray) -> np.ndarray:
        if waves.shape[0] == 0:
            return np.zeros(0, np.float32)
        x = np.ascontiguousarray(waves, dtype=np.float32)
        return self.autoencoder.run(["errors"], {"waves": x})[0]

    def window_probabilities(self, waves: np.ndarray, rr: np.ndarray, windows: np.ndarray) -> np.ndarray:
        feeds = {
            "waves": np.ascontiguousarray(waves, dtype=np.float32),
            "rr": np.ascontiguousarray(rr, dtype=np.float32),
            "windows": np.ascontiguousarray(windows, dtype=np.int64),
        }
        return self.classifier.run(["probs"], feeds)[0]


__all__ = [
    "BACKENDS",
    "BackendError",
    "EDGE_INSTALL_HINT",
    "ModelRunner",
    "OnnxRunner",
    "TorchRunner",
    "check_backend",
    "import_onnxruntime",
]
