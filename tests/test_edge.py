"""GRUs at the edge: the ONNX Runtime backend, ONNX export with its sidecar, int8 bundles."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ecg.cli import main
from ecg.io.records import load_record
from ecg.models.backends import BACKENDS, BackendError, OnnxRunner, TorchRunner
from ecg.models.bundle import BUNDLE_NAMES, INT8_SOURCES, ModelBundle, bundle_file, load_bundle, quantize_bundle
from ecg.models.inference import beat_windows
from ecg.models.onnx_export import AUTOENCODER_FILE, CLASSIFIER_FILE, SIDECAR_FILE, OnnxNetworks
from ecg.models.quantize import SCHEME, dequantize_state, int8_state_dict
from ecg.processing.pipeline import beats_from_signal
from ecg.scoring.score import score_record

PROB_COLUMNS = ["prob_N", "prob_S", "prob_V", "prob_F"]


def _beats(bundle: ModelBundle, demo_dir: Path, name: str = "119") -> tuple[np.ndarray, np.ndarray]:
    rec = load_record(name, demo_dir)
    b = beats_from_signal(rec.lead(0), rec.fs, rec.annotations.beats().sample, bundle.config)
    return b.waves, b.rr


@pytest.mark.parametrize(("n", "seq_len"), [(1, 64), (5, 64), (64, 64), (100, 64), (1000, 16)])
def test_beat_windows_cover_every_beat_from_a_window_holding_it(n: int, seq_len: int) -> None:
    win = beat_windows(n, seq_len)
    idx = win.index
    assert idx.shape == (win.starts.size, min(n, seq_len))
    assert idx.min() == 0 and idx.max() == n - 1
    beats = np.arange(n)
    start = win.starts[win.best]
    assert ((beats >= start) & (beats < start + win.length)).all()
    # per-window values are picked for the right beat
    per_window = idx[:, :, None].astype(np.float32)
    np.testing.assert_array_equal(win.beat_values(per_window)[:, 0], beats)


def test_backends_agree_on_tiny_bundle(tiny_bundle_path: Path, demo_dir: Path) -> None:
    bundle = load_bundle(tiny_bundle_path)
    waves, rr = _beats(bundle, demo_dir)
    assert isinstance(bundle.runner("torch"), TorchRunner)
    assert isinstance(bundle.runner("onnx"), OnnxRunner)
    assert bundle.runner("onnx") is bundle.runner("onnx")  # exported once per bundle and thread count
    for sl in (slice(0, 0), slice(0, 5), slice(None)):  # no beat, fewer beats than a window, a record
        t = bundle.score_beats(waves[sl], rr[sl], "torch")
        o = bundle.score_beats(waves[sl], rr[sl], "onnx")
        assert o.probs.shape == t.probs.shape == (waves[sl].shape[0], len(bundle.classes))
        np.testing.assert_allclose(o.probs, t.probs, atol=1e-5)
        np.testing.assert_allclose(o.score, t.score, atol=0.05)  # 0-100 scale
    with pytest.raises(BackendError, match="backend must be one of"):
        bundle.score_beats(waves, rr, "tflite")
    assert BACKENDS == ("torch", "onnx")


@pytest.mark.slow
def test_onnx_and_torch_backends_agree_on_demo_record(demo_dir: Path) -> None:
    bundle = load_bundle("ds1")
    t = score_record("100", bundle, data_dir=demo_dir, summary=False)
    o = score_record("100", bundle, data_dir=demo_dir, summary=False, backend="onnx")
    assert len(t.beats) == len(o.beats) > 2000
    np.testing.assert_array_equal(o.beats["sample"], t.beats["sample"])
    np.testing.assert_array_equal(o.beats["pred_class"], t.beats["pred_class"])
    np.testing.assert_allclose(o.beats[PROB_COLUMNS].to_numpy(), t.beats[PROB_COLUMNS].to_numpy(), atol=1e-4)
    np.testing.assert_allclose(o.beats["anomaly_score"], t.beats["anomaly_score"], atol=0.05)


def test_missing_onnxruntime_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tiny_bundle_path: Path, demo_dir: Path, tmp_path: Path, capsys
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now raises ImportError
    bundle = load_bundle(tiny_bundle_path)  # a fresh bundle: no ONNX runner made yet
    waves, rr = _beats(bundle, demo_dir)
    with pytest.raises(BackendError, match=r'pip install -e "\.\[edge\]"'):
        bundle.score_beats(waves, rr, "onnx")
    assert main(["export-model", "--bundle", str(tiny_bundle_path), "--out", str(tmp_path / "x")]) == 2
    assert 'pip install -e ".[edge]"' in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    bundle.score_beats(waves, rr, "torch")  # the torch backend does not need it


def test_export_model_writes_networks_and_sidecar(tiny_bundle_path: Path, demo_dir: Path, tmp_path: Path) -> None:
    import onnx

    out = tmp_path / "onnx"
    assert main(["export-model", "--bundle", str(tiny_bundle_path), "--format", "onnx", "--out", str(out)]) == 0
    bundle = load_bundle(tiny_bundle_path)
    side = json.loads((out / SIDECAR_FILE).read_text())
    assert side["format"] == "ecg-anomaly-onnx"
    assert side["bundle"]["sha256"] == bundle.digest and side["bundle"]["version"] == bundle.version
    assert side["classes"] == list(bundle.classes)
    assert side["thresholds"]["anomaly_score"] == pytest.approx(bundle.scorer.threshold)
    assert side["preprocessing"]["config"] == bundle.config.as_dict()
    assert side["preprocessing"]["rr_inputs"] == list(bundle.rr_inputs)
    for name in (AUTOENCODER_FILE, CLASSIFIER_FILE):
        data = (out / name).read_bytes()
        assert side["files"][name]["sha256"] == hashlib.sha256(data).hexdigest()
        onnx.checker.check_model(onnx.load_from_string(data))
        assert any(node.op_type == "GRU" for node in onnx.load_from_string(data).graph.node)
    # the written files, run by ONNX Runtime, give the bundle's own probabilities
    waves, rr = _beats(bundle, demo_dir)
    files = OnnxNetworks((out / AUTOENCODER_FILE).read_bytes(), (out / CLASSIFIER_FILE).read_bytes())
    runner = OnnxRunner.from_networks(files, threads=1)
    inputs = bundle.inputs(waves, rr)
    np.testing.assert_allclose(
        bundle.run_classifier(runner, inputs), bundle.class_probabilities(inputs, "torch"), atol=1e-5
    )


def test_int8_bundle_round_trip(tiny_bundle_path: Path, demo_dir: Path, tmp_path: Path) -> None:
    bundle = load_bundle(tiny_bundle_path)
    int8 = quantize_bundle(bundle)
    assert int8.quantization == {"scheme": SCHEME, "source_version": bundle.version, "source_sha256": bundle.digest}
    assert int8.version == bundle.version + "-int8" and int8.purpose == bundle.purpose
    path = int8.save(tmp_path / "int8.pt")
    assert path.read_bytes()[:6] == b"\xfd7zXZ\x00"  # stored xz-compressed
    payload = torch.load(bundle_file(path), weights_only=True)  # plain tensors only
    weights = [k for k in payload["autoencoder"] if k.endswith(".int8")]
    assert "encoder.weight_hh_l0.int8" in weights and "out.weight.int8" in weights
    assert all(payload["autoencoder"][k].dtype == torch.int8 for k in weights)
    again = load_bundle(path)
    assert again.digest == int8.digest and again.quantization == int8.quantization
    # exactly the stored int8 weights
    for a, b in ((again.autoencoder, int8.autoencoder), (again.classifier, int8.classifier)):
        sa, sb = int8_state_dict(a), int8_state_dict(b)
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    waves, rr = _beats(bundle, demo_dir)
    s_mem, s_file = int8.score_beats(waves, rr), again.score_beats(waves, rr)
    np.testing.assert_array_equal(s_mem.probs, s_file.probs)
    # int8 weights are the float ones to within half a quantisation step
    fl = bundle.autoencoder.state_dict()
    deq = dequantize_state(payload["autoencoder"])
    w = "encoder.weight_hh_l0"
    step = float(payload["autoencoder"][w + ".scale"])
    assert float((deq[w] - fl[w]).abs().max()) <= step / 2 + 1e-7
    # on ONNX an int8 bundle runs its dequantised weights
    o = again.score_beats(waves, rr, "onnx")
    assert o.probs.shape == s_file.probs.shape
    with pytest.raises(Exception, match="already quantised"):
        quantize_bundle(again)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(INT8_SOURCES))
def test_shipped_int8_bundles_are_reproducible_and_small(name: str, tmp_path: Path) -> None:
    shipped = load_bundle(name)
    source = load_bundle(INT8_SOURCES[name])
    assert shipped.quantization["source_sha256"] == source.digest, f"requantise: ecg quantize-model --bundle {name}"
    again = quantize_bundle(source)
    again.save(tmp_path / "int8.pt")
    assert again.digest == shipped.digest
    assert BUNDLE_NAMES[name].stat().st_size < 0.45 * BUNDLE_NAMES[INT8_SOURCES[name]].stat().st_size


@pytest.mark.slow
def test_int8_bundle_is_selected_by_name_and_scores(demo_dir: Path) -> None:
    int8, fp32 = load_bundle("ds1-int8"), load_bundle("ds1")
    assert int8.purpose == "evaluation" and int8.quantization["scheme"] == SCHEME
    q = score_record("100", int8, data_dir=demo_dir, summary=False)
    f = score_record("100", fp32, data_dir=demo_dir, summary=False)
    assert q.bundle_version.endswith("-int8")
    np.testing.assert_array_equal(q.beats["sample"], f.beats["sample"])
    assert (q.beats["pred_class"] == f.beats["pred_class"]).mean() > 0.99
    assert np.abs(q.beats[PROB_COLUMNS].to_numpy() - f.beats[PROB_COLUMNS].to_numpy()).max() < 0.1


def test_quantize_model_command(tiny_bundle_path: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "q.pt"
    assert main(["quantize-model", "--bundle", str(tiny_bundle_path), "--out", str(out)]) == 0
    assert "x the float file" in capsys.readouterr().out
    assert load_bundle(out).quantization["scheme"] == SCHEME
    assert main(["quantize-model", "--bundle", str(tiny_bundle_path)]) == 2  # a path needs --out
