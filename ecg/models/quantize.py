"""int8 versions of the networks: PyTorch dynamic quantisation of every ``GRU`` and ``Linear``.

Weights are stored as int8 with one scale per tensor (symmetric, zero point 0: PyTorch's
default dynamic-quantisation weight observer, ``w = scale * int8``); biases stay float32. At run time activations
are quantised per batch on the fly (fbgemm int8 kernels), so no calibration data is needed.
The choice over ONNX Runtime's ``quantize_dynamic`` is measured in
``scripts/compare_quantized.py``: ONNX Runtime has no integer GRU kernel, so it quantises only
the small Linear layers and leaves the GRUs (most of the weights and of the compute) in float32.

A quantised bundle (:meth:`ecg.models.bundle.ModelBundle.save`) stores each quantised weight
as two plain tensors, ``<name>.int8`` (int8) and ``<name>.scale`` (float64, 0-d), where
``<name>`` is the float state-dict key; every other entry
is the float tensor under its own key. So the file loads with ``torch.load(weights_only=True)``
and :func:`dequantize_state` gives back a float state dict for the float architecture.
"""

from __future__ import annotations

import copy
import logging
import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn
from torch.ao.nn.quantized import dynamic as nnqd
from torch.ao.quantization import quantize_dynamic

#: The quantisation scheme's name in a bundle's metadata.
SCHEME = "torch-dynamic-int8"
QUANTISED_TYPES = {nn.GRU, nn.Linear}
_SUFFIXES = (".int8", ".scale")


def quantize_model(model: nn.Module) -> nn.Module:
    """An int8 copy of ``model`` (every GRU and Linear dynamically quantised); ``model`` is
    unchanged."""
    model = copy.deepcopy(model).eval()
    with warnings.catch_warnings():  # torch 2.13 announces the deprecation of torch.ao.quantization
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return quantize_dynamic(model, QUANTISED_TYPES, dtype=torch.qint8).eval()


def _quantised_weights(model: nn.Module) -> dict[str, tuple[nn.Module, dict[str, torch.Tensor]]]:
    """Per quantised submodule (by name): the module and its weights/biases under their float
    parameter names (int8 weights as quantised tensors)."""
    out = {}
    for name, mod in model.named_modules():
        if isinstance(mod, nnqd.Linear):
            out[name] = (mod, {"weight": mod.weight(), "bias": mod.bias()})
        elif isinstance(mod, nnqd.GRU):
            wb = mod._weight_bias()
            out[name] = (mod, {**wb["weight"], **wb["bias"]})
    return out


def int8_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """A quantised model's weights as plain tensors (see the module docstring)."""
    quantised = _quantised_weights(model)
    state: dict[str, torch.Tensor] = {}
    for name, (_, params) in quantised.items():
        for key, t in params.items():
            full = f"{name}.{key}" if name else key
            if t is None:
                continue
            if t.is_quantized:
                if t.q_zero_point() != 0:
                    raise ValueError(f"{full}: only symmetric int8 weights (zero point 0) can be stored")
                state[full + ".int8"] = t.int_repr().contiguous()
                state[full + ".scale"] = torch.tensor(t.q_scale(), dtype=torch.float64)
            else:
                state[full] = t.detach().float().contiguous()
    prefixes = tuple(f"{n}." for n in quantised if n)
    for key, t in model.state_dict().items():
        if isinstance(t, torch.Tensor) and not t.is_quantized and not key.startswith(prefixes):
            state[key] = t.detach().contiguous()
    return state


def is_int8_state(state: dict[str, torch.Tensor]) -> bool:
    """Whether a state dict is in :func:`int8_state_dict`'s form."""
    return any(k.endswith(".int8") for k in state)


def dequantize_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The float32 state dict of an :func:`int8_state_dict` (``int8 * scale``)."""
    out: dict[str, torch.Tensor] = {}
    for key, t in state.items():
        if key.endswith(".int8"):
            base = key[: -len(".int8")]
            out[base] = (t.to(torch.float64) * state[base + ".scale"]).to(torch.float32)
        elif not key.endswith(_SUFFIXES):
            out[key] = t
    return out


def load_int8_state(float_model: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    """The int8 model with exactly the int8 weights of ``state`` (an :func:`int8_state_dict`),
    built on ``float_model``'s architecture (which is loaded with the dequantised weights, so a
    state that does not fit the architecture raises ``RuntimeError`` as ``load_state_dict`` does)."""
    float_model.load_state_dict(dequantize_state(state))
    model = quantize_model(float_model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _set_int8_weights(model, state)
    return model.eval()


def _set_int8_weights(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    for name, (mod, params) in _quantised_weights(model).items():
        stored = {}
        for key, t in params.items():
            full = f"{name}.{key}" if name else key
            if full + ".int8" in state:
                scale = float(state[full + ".scale"])
                stored[key] = torch._make_per_tensor_quantized_tensor(state[full + ".int8"], scale, 0)
            else:
                stored[key] = t
        if isinstance(mod, nnqd.Linear):
            mod.set_weight_bias(stored["weight"], stored["bias"])
        else:
            mod.set_weight_bias(stored)


def dequantized_copy(model: nn.Module, float_model: nn.Module) -> nn.Module:
    """``float_model`` (a float module of the same architecture) loaded with ``model``'s
    weights: int8 ones dequantised. The float twin an ONNX export of an int8 bundle uses."""
    float_model.load_state_dict(dequantize_state(int8_state_dict(model)))
    return float_model.eval()


def ort_quantize_dynamic(onnx_model: bytes) -> bytes:
    """ONNX Runtime's dynamic int8 quantisation of a serialised ONNX model (the alternative
    :mod:`ecg.models.quantize` is compared with; see the module docstring)."""
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as ort_quantize

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it logs a pre-processing hint at WARNING on the root logger
    try:
        with tempfile.TemporaryDirectory() as d:
            src, dst = Path(d) / "float.onnx", Path(d) / "int8.onnx"
            src.write_bytes(onnx_model)
            ort_quantize(os.fspath(src), os.fspath(dst), weight_type=QuantType.QInt8)
            return dst.read_bytes()
    finally:
        root.setLevel(level)


__all__ = [
    "QUANTISED_TYPES",
    "SCHEME",
    "dequantize_state",
    "dequantized_copy",
    "int8_state_dict",
    "is_int8_state",
    "load_int8_state",
    "ort_quantize_dynamic",
    "quantize_model",
]
