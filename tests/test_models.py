"""GRU models and the bundle: shapes, learning, round trip, refusal of bad bundles, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ecg.models.bundle import BUNDLE_FORMAT, BundleError, ModelBundle, load_bundle
from ecg.models.features import RR_INPUTS, model_inputs, rr_inputs
from ecg.models.inference import predict_proba
from ecg.models.networks import BeatSequenceClassifier, GRUAutoencoder, n_parameters
from ecg.models.training import augment_waves
from ecg.processing.segmentation import rr_features

#: The architectures compared by scripts/compare_rnn.py: (cell, attention).
ARCHITECTURES = [("gru", False), ("lstm", False), ("gru", True)]


@pytest.mark.parametrize("cell, attention", ARCHITECTURES)
def test_forward_shapes(cell: str, attention: bool) -> None:
    ae = GRUAutoencoder(1, 16, 4, 70, cell)
    x = torch.randn(5, 70, 1)
    assert ae(x).shape == (5, 70, 1)
    clf = BeatSequenceClassifier(1, len(RR_INPUTS), 4, 8, 8, cell, attention=attention)
    out = clf(torch.randn(3, 12, 70, 1), torch.randn(3, 12, len(RR_INPUTS)))
    assert out.shape == (3, 12, 4)
    with pytest.raises(ValueError):
        ae(torch.randn(2, 50, 1))
    with pytest.raises(ValueError):
        GRUAutoencoder(cell="rnn")


def test_gru_is_lighter_than_lstm() -> None:
    assert n_parameters(GRUAutoencoder(cell="gru")) < n_parameters(GRUAutoencoder(cell="lstm"))


@pytest.mark.slow
def test_tiny_autoencoder_overfits_tiny_batch() -> None:
    torch.manual_seed(0)
    t = torch.linspace(0, 1, 70)
    x = torch.stack([torch.exp(-(((t - c) / 0.03) ** 2)) for c in (0.3, 0.35, 0.4, 0.45)])[:, :, None]
    ae = GRUAutoencoder(1, 32, 8, 70)
    opt = torch.optim.Adam(ae.parameters(), lr=1e-2)
    first = float(((ae(x) - x) ** 2).mean().detach())
    for _ in range(300):
        loss = ((ae(x) - x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.05 * first


@pytest.mark.slow
@pytest.mark.parametrize("cell, attention", ARCHITECTURES)
def test_tiny_classifier_overfits_tiny_batch(cell: str, attention: bool) -> None:
    torch.manual_seed(0)
    w = torch.randn(2, 10, 70, 1)
    rr = torch.randn(2, 10, len(RR_INPUTS))
    y = torch.randint(0, 4, (2, 10))
    clf = BeatSequenceClassifier(1, len(RR_INPUTS), 4, 16, 16, cell, dropout=0.0, attention=attention)
    opt = torch.optim.Adam(clf.parameters(), lr=1e-2)
    for _ in range(200):
        loss = torch.nn.functional.cross_entropy(clf(w, rr).reshape(-1, 4), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (clf(w, rr).argmax(-1) == y).float().mean() == 1.0


def test_model_inputs_normalise_per_record() -> None:
    rng = np.random.default_rng(0)
    waves = rng.normal(0, 0.01, (50, 70)).astype(np.float32)
    waves[:, 25] += 2.0  # R peak of 2 mV at the window's R position
    peaks = np.cumsum(rng.integers(250, 300, 50))
    inp = model_inputs(waves, rr_features(peaks, 360.0), pre=25)
    assert inp.waves.shape == (50, 70, 2) and inp.waves.dtype == np.float32
    assert inp.scale == pytest.approx(2.0, rel=0.05)
    assert np.abs(inp.waves[:, :, 1]).max() < 0.1  # identical beats: nothing left after the template
    assert inp.rr.shape == (50, len(RR_INPUTS))
    same_rhythm = rr_inputs(rr_features(np.arange(0, 3600, 360), 360.0))
    np.testing.assert_allclose(same_rhythm[:, :5], 0.0, atol=1e-6)


def test_augmentation_keeps_shape_and_changes_values() -> None:
    rng = np.random.default_rng(0)
    w = np.ones((2, 3, 70, 1), np.float32)
    out = augment_waves(w, rng)
    assert out.shape == w.shape and out.dtype == np.float32
    assert not np.allclose(out, w)


def test_device_augmentation_band_limits_and_tilts() -> None:
    w = np.zeros((64, 1, 70, 1), np.float32)
    w[:, :, 35] = 1.0  # a spike: every low-pass lowers it
    plain = augment_waves(w, np.random.default_rng(0), max_shift=0)
    dev = augment_waves(w, np.random.default_rng(0), max_shift=0, device=True)
    assert dev.shape == w.shape and dev.dtype == np.float32
    # spike height relative to the crop's gain: lower on average with the band limit
    assert (dev[:, 0, 35, 0] - dev[:, 0, 34, 0]).mean() < (plain[:, 0, 35, 0] - plain[:, 0, 34, 0]).mean()
    # a tilt: the two ends of a beat differ
    assert np.abs(dev[:, 0, 0, 0] - dev[:, 0, -1, 0]).mean() > 0.05
    # without device augmentation the random stream is unchanged (training stays reproducible)
    np.testing.assert_array_equal(plain, augment_waves(w, np.random.default_rng(0), max_shift=0))


def test_bundle_round_trip_identical_outputs(tiny_bundle_path: Path, tmp_path: Path) -> None:
    b1 = load_bundle(tiny_bundle_path)
    assert b1.classes == ("N", "S", "V", "F")
    assert b1.config.window.fs == 100.0 and b1.config.window.length == 70
    assert b1.metadata["train_records"] == ["119"] and b1.metadata["val_records"] == ["208"]
    assert b1.digest and len(b1.digest) == 64
    copy = b1.save(tmp_path / "copy.pt")
    b2 = load_bundle(copy)
    assert b2.digest == b1.digest and b2.version == b1.version
    rng = np.random.default_rng(1)
    inp = model_inputs(
        rng.normal(0, 0.2, (40, 70)).astype(np.float32), rr_features(np.cumsum(rng.integers(200, 400, 40)), 360.0), 25
    )
    p1 = predict_proba(b1.classifier, inp, b1.seq_len, channels=b1.clf_channels)
    p2 = predict_proba(b2.classifier, inp, b2.seq_len, channels=b2.clf_channels)
    np.testing.assert_array_equal(p1, p2)
    x = torch.from_numpy(inp.waves[:, :, :1].copy())
    with torch.inference_mode():
        np.testing.assert_array_equal(b1.autoencoder(x).numpy(), b2.autoencoder(x).numpy())
    # Deterministic inference: the same call twice gives the same numbers.
    np.testing.assert_array_equal(p1, predict_proba(b1.classifier, inp, b1.seq_len, channels=b1.clf_channels))


def test_bundle_loads_without_pickle(tiny_bundle_path: Path) -> None:
    payload = torch.load(tiny_bundle_path, weights_only=True)
    assert payload["format"] == BUNDLE_FORMAT
    meta = json.loads(payload["meta"])
    assert meta["config"]["window"]["fs"] == 100.0 and meta["classes"] == ["N", "S", "V", "F"]
    assert "log_threshold" in meta["scorer"]


def test_corrupt_bundle_is_refused(tiny_bundle_path: Path, tmp_path: Path) -> None:
    payload = torch.load(tiny_bundle_path, weights_only=True)
    key = next(iter(payload["classifier"]))
    payload["classifier"][key] = payload["classifier"][key] + 1e-3  # tampered weights, stale checksum
    bad = tmp_path / "tampered.pt"
    torch.save(payload, bad)
    with pytest.raises(BundleError, match="checksum mismatch"):
        load_bundle(bad)

    raw = bytearray(tiny_bundle_path.read_bytes())
    trunc = tmp_path / "truncated.pt"
    trunc.write_bytes(bytes(raw[: len(raw) // 2]))
    with pytest.raises(BundleError, match="truncated.pt: not a readable model bundle"):
        load_bundle(trunc)


def test_mismatched_bundle_version_and_format(tiny_bundle_path: Path, tmp_path: Path) -> None:
    payload = torch.load(tiny_bundle_path, weights_only=True)
    payload["format_version"] = 99
    p = tmp_path / "future.pt"
    torch.save(payload, p)
    with pytest.raises(BundleError, match="format version 99 is not supported"):
        load_bundle(p)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(BundleError, match="not an ecg-anomaly-bundle file"):
        load_bundle(other)
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "missing.pt")
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(BundleError, match="not a readable model bundle"):
        ModelBundle.load(text)


def test_training_refuses_ds2_records(tmp_path: Path, demo_dir: Path) -> None:
    from ecg.models.train_bundle import train_bundle
    from tests.conftest import tiny_train_config

    with pytest.raises(ValueError, match="DS2"):
        train_bundle(
            demo_dir,
            tmp_path / "x.pt",
            tiny_train_config(val_records=("100",)),
            records=("100", "119"),
            progress=False,
            echo=None,
        )


def test_training_is_deterministic(tmp_path: Path, demo_dir: Path, tiny_bundle: ModelBundle) -> None:
    from ecg.models.train_bundle import train_bundle
    from tests.conftest import tiny_train_config

    again = train_bundle(
        demo_dir,
        tmp_path / "again.pt",
        tiny_train_config(),
        records=("119", "208"),
        progress=False,
        echo=None,
        cache_dir=tmp_path / "cache",
    )
    for k, v in tiny_bundle.classifier.state_dict().items():
        torch.testing.assert_close(v, again.classifier.state_dict()[k], rtol=0, atol=0)
    assert again.scorer.log_threshold == tiny_bundle.scorer.log_threshold


@pytest.mark.slow
def test_ensemble_bundle_averages_members_and_round_trips(tmp_path: Path, demo_dir: Path) -> None:
    from ecg.models.networks import ClassifierEnsemble
    from ecg.models.train_bundle import train_bundle
    from tests.conftest import tiny_train_config

    b = train_bundle(
        demo_dir,
        tmp_path / "ens.pt",
        tiny_train_config(n_classifiers=2),
        records=("119", "208"),
        progress=False,
        echo=None,
        cache_dir=tmp_path / "cache",
    )
    assert isinstance(b.classifier, ClassifierEnsemble) and b.n_classifiers == 2
    m0, m1 = b.classifier.members
    # Members start from different seeds, so they differ.
    assert any(not torch.equal(v, m1.state_dict()[k]) for k, v in m0.state_dict().items())
    rng = np.random.default_rng(2)
    inp = model_inputs(
        rng.normal(0, 0.2, (50, 70)).astype(np.float32), rr_features(np.cumsum(rng.integers(200, 400, 50)), 360.0), 25
    )
    p = predict_proba(b.classifier, inp, b.seq_len, channels=b.clf_channels)
    p0 = predict_proba(m0, inp, b.seq_len, channels=b.clf_channels)
    p1 = predict_proba(m1, inp, b.seq_len, channels=b.clf_channels)
    np.testing.assert_allclose(p, (p0 + p1) / 2, rtol=0, atol=1e-6)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    again = load_bundle(tmp_path / "ens.pt")
    assert (
        again.n_classifiers == 2
        and json.loads(torch.load(tmp_path / "ens.pt", weights_only=True)["meta"])["n_classifiers"] == 2
    )
    np.testing.assert_array_equal(p, predict_proba(again.classifier, inp, again.seq_len, channels=again.clf_channels))
    # The ensemble's forward gives the log of the same mean probabilities.
    w = torch.from_numpy(inp.waves[None, :32, :, 1:].copy())
    r = torch.from_numpy(inp.rr[None, :32].copy())
    with torch.inference_mode():
        mean = (torch.softmax(m0(w, r), -1) + torch.softmax(m1(w, r), -1)) / 2
        torch.testing.assert_close(torch.exp(b.classifier(w, r)), mean)


def test_format_1_bundle_still_loads(tiny_bundle_path: Path, tmp_path: Path) -> None:
    """Bundles written before ensembles (format 1, no ``n_classifiers``) load as one network."""
    from ecg.models.bundle import _digest

    payload = torch.load(tiny_bundle_path, weights_only=True)
    meta = json.loads(payload["meta"])
    meta.pop("n_classifiers")
    payload["meta"] = json.dumps(meta, sort_keys=True)
    payload["format_version"] = 1
    payload["sha256"] = _digest(payload["meta"], payload["autoencoder"], payload["classifier"])
    old = tmp_path / "v1.pt"
    torch.save(payload, old)
    b = load_bundle(old)
    assert b.n_classifiers == 1 and isinstance(b.classifier, BeatSequenceClassifier)


def test_ensemble_needs_members() -> None:
    from ecg.models.networks import ClassifierEnsemble

    with pytest.raises(ValueError, match="at least one member"):
        ClassifierEnsemble([])


@pytest.mark.slow
def test_refit_retrains_on_train_and_validation_for_the_chosen_epochs(tmp_path: Path, demo_dir: Path) -> None:
    from ecg.models.train_bundle import train_bundle
    from tests.conftest import tiny_train_config

    out = tmp_path / "refit.pt"
    b = train_bundle(
        demo_dir,
        out,
        tiny_train_config(clf_refit=True, clf_epochs=3),
        records=("119", "208"),
        progress=False,
        echo=None,
        cache_dir=tmp_path / "cache",
    )
    lines = [json.loads(x) for x in Path(str(out) + ".log.jsonl").read_text().splitlines()]
    validated = [ln for ln in lines if ln.get("model") == "classifier" and "val_score" in ln]
    best_epoch = max(validated, key=lambda ln: (ln["val_score"], -ln["epoch"]))["epoch"]
    refit = [ln for ln in lines if ln.get("model") == "classifier" and ln.get("refit") and "epoch" in ln]
    assert [ln["epoch"] for ln in refit] == list(range(1, best_epoch + 1))
    assert b.metadata["train_config"]["clf_refit"] is True
    # The validation patient's beats now enter the classifier's class weights.
    weights = [ln["class_weights"] for ln in lines if "class_weights" in ln]
    assert len(weights) == 2


def test_rr_inputs_by_name_and_bundle_keeps_them(tmp_path: Path, demo_dir: Path) -> None:
    from ecg.models.features import RR_INPUT_NAMES, RR_INPUTS_V1
    from ecg.models.train_bundle import train_bundle
    from tests.conftest import tiny_train_config

    rng = np.random.default_rng(3)
    rr = rr_features(np.cumsum(rng.integers(200, 400, 60)), 360.0)
    full = rr_inputs(rr, RR_INPUT_NAMES)
    assert full.shape == (60, len(RR_INPUT_NAMES))
    np.testing.assert_array_equal(rr_inputs(rr, RR_INPUTS_V1), full[:, :8])
    np.testing.assert_array_equal(rr_inputs(rr, ("rr_irregularity", "rr_prev_s")), full[:, [8, 5]])
    with pytest.raises(ValueError, match="unknown RR inputs"):
        rr_inputs(rr, ("rr_made_up",))

    names = RR_INPUTS_V1 + ("rr_irregularity",)
    out = tmp_path / "irr.pt"
    b = train_bundle(
        demo_dir,
        out,
        tiny_train_config(rr_inputs=names),
        records=("119", "208"),
        progress=False,
        echo=None,
        cache_dir=tmp_path / "cache",
    )
    again = load_bundle(out)
    assert again.rr_inputs == names and again.clf_params["n_rr"] == 9
    waves = rng.normal(0, 0.2, (60, 70)).astype(np.float32)
    assert again.inputs(waves, rr).rr.shape == (60, 9)
    np.testing.assert_array_equal(
        predict_proba(b.classifier, b.inputs(waves, rr), b.seq_len, channels=b.clf_channels),
        predict_proba(again.classifier, again.inputs(waves, rr), again.seq_len, channels=again.clf_channels),
    )

    # A bundle naming an RR input this code does not know is refused, not misread.
    from ecg.models.bundle import _digest

    payload = torch.load(out, weights_only=True)
    meta = json.loads(payload["meta"])
    meta["rr_inputs"] = list(names[:-1]) + ["rr_from_the_future"]
    payload["meta"] = json.dumps(meta, sort_keys=True)
    payload["sha256"] = _digest(payload["meta"], payload["autoencoder"], payload["classifier"])
    future = tmp_path / "future_rr.pt"
    torch.save(payload, future)
    with pytest.raises(BundleError, match="rr_from_the_future"):
        load_bundle(future)


@pytest.mark.realdata
def test_both_shipped_bundles_load_by_name(tmp_path: Path) -> None:
    from ecg.cli import main
    from ecg.datasets import DS1, DS2
    from ecg.models.bundle import BUNDLE_NAMES, DEFAULT_BUNDLE_PATH, EVALUATION_BUNDLE_PATH, bundle_path

    assert bundle_path() == DEFAULT_BUNDLE_PATH == BUNDLE_NAMES["production"]
    assert bundle_path("ds1") == EVALUATION_BUNDLE_PATH and bundle_path(str(tmp_path / "x.pt")) == tmp_path / "x.pt"
    ds1, prod = load_bundle("ds1"), load_bundle("production")
    assert ds1.purpose == "evaluation" and prod.purpose == "production"
    assert set(ds1.training_records) == set(DS1) and not set(ds1.training_records) & set(DS2)
    assert set(prod.training_records) == set(DS1) | set(DS2)
    assert ds1.digest != prod.digest and load_bundle().digest == prod.digest
    assert ds1.version.startswith("gru-ds1-") and prod.version.startswith("gru-production-")
    with pytest.raises(BundleError, match="not found"):
        load_bundle("nope")
    rc = main(["score", "data/100", "--out", str(tmp_path / "o"), "--bundle", "ds1", "--formats", "json", "--quiet"])
    assert rc == 0
    s = json.loads((tmp_path / "o" / "100" / "100_summary.json").read_text())
    assert s["recording"]["bundle_version"] == ds1.version


def test_contract_tests_cover_every_architecture_of_compare_rnn() -> None:
    import importlib.util
    import sys

    scripts = Path(__file__).resolve().parent.parent / "scripts"
    sys.path.insert(0, str(scripts))
    spec = importlib.util.spec_from_file_location("compare_rnn", scripts / "compare_rnn.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert set(mod.ARCHITECTURES.values()) == set(ARCHITECTURES)


@pytest.mark.realdata
@pytest.mark.parametrize("cell, attention", ARCHITECTURES)
def test_every_architecture_trains_saves_and_reloads(cell: str, attention: bool, tmp_path: Path) -> None:
    from ecg.models.train_bundle import train_bundle
    from tests.conftest import DEMO_DIR, tiny_train_config

    path = tmp_path / f"{cell}-{attention}.pt"
    b = train_bundle(
        DEMO_DIR,
        path,
        tiny_train_config(cell=cell, attention=attention, train_leads=("primary", "second")),
        records=("119", "208"),
        progress=False,
        echo=None,
        cache_dir=tmp_path / "cache",
    )
    again = load_bundle(path)
    assert again.clf_params["cell"] == cell and bool(again.clf_params.get("attention", False)) == attention
    assert again.metadata["train_leads"] == ["primary", "second"] and again.training_records == ("119", "208")
    rng = np.random.default_rng(1)
    waves = rng.normal(0, 0.2, (80, 70)).astype(np.float32)
    rr = rr_features(np.cumsum(rng.integers(250, 320, 80)), 360.0)
    s1, s2 = b.score_beats(waves, rr), again.score_beats(waves, rr)
    np.testing.assert_array_equal(s1.probs, s2.probs)
    np.testing.assert_array_equal(s1.score, s2.score)
    assert s1.probs.shape == (80, 4) and np.all((s1.score >= 0) & (s1.score <= 100))


def test_polarity_option_turns_a_negative_lead_upright() -> None:
    rng = np.random.default_rng(0)
    waves = rng.normal(0, 0.01, (40, 70)).astype(np.float32)
    waves[:, 25] += 1.5
    waves[:, 28] -= 0.3
    rr = rr_features(np.cumsum(rng.integers(250, 300, 40)), 360.0)
    up = model_inputs(waves, rr, pre=25, polarity=True)
    down = model_inputs(-waves, rr, pre=25, polarity=True)
    np.testing.assert_allclose(up.waves, down.waves, atol=1e-6)
    np.testing.assert_allclose(model_inputs(waves, rr, pre=25).waves, up.waves, atol=1e-6)  # upright: unchanged
    assert not np.allclose(model_inputs(-waves, rr, pre=25).waves, up.waves)  # off: kept inverted
